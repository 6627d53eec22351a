//! Replication with real processes on loopback, both ways with a real
//! redis-server 7.0: a full sync of the persistence dataset (every type in both
//! encodings, TTLs, several dbs), then writes, then both datasets compared
//! exactly; a killed link comes back with a partial resync (sync_partial_ok,
//! not sync_full); WAIT counts replicas' acks; ROLE and INFO replication.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::dataset::*;
use ferrokv_tests::{show, Conn, Kind, Server};

fn info(c: &mut Conn, section: &str) -> String {
    match c.cmd(&["INFO", section]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {}", show(&other)),
    }
}

fn field(text: &str, name: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .map(|v| v.trim().to_string())
}

/// Waits until the replica's link is up and it has applied everything the
/// master has sent.
fn wait_synced(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.conn(), replica.conn());
    wait_for("the replica to catch up", || {
        let rep = info(&mut r, "replication");
        let mo = field(&info(&mut m, "replication"), "master_repl_offset");
        field(&rep, "master_link_status").as_deref() == Some("up")
            && field(&rep, "slave_repl_offset") == mo
    });
}

fn stat(s: &Server, name: &str) -> i64 {
    field(&info(&mut s.conn(), "stats"), name)
        .and_then(|v| v.parse().ok())
        .unwrap()
}

fn start_replica(kind: Kind, master: &Server) -> Server {
    let to = format!("127.0.0.1 {}", master.port);
    match kind {
        Kind::Redis => Server::redis(&["--replicaof", &to, "--repl-diskless-sync-delay", "0"]),
        Kind::Ferrokv => Server::ferrokv(&["--replicaof", &to]),
    }
}

fn start_master(kind: Kind) -> Server {
    Server::start(kind, &["--repl-diskless-sync-delay", "0"])
}

/// More writes of every kind, after the full sync (the stream, not the RDB,
/// carries them): relative TTLs, random pops, transactions, other dbs.
fn writes(c: &mut Conn) {
    for line in [
        "SET after:1 v",
        "SET after:ttl v EX 5000",
        "EXPIRE str:int 9000",
        "INCRBYFLOAT after:f 1.5",
        "RPUSH after:l a b c d",
        "LPOP after:l",
        "SADD after:s 1 2 3 4 5",
        "SPOP after:s",
        "HSET after:h a 1 b 2",
        "ZADD after:z 1 a 2 b",
        "ZPOPMIN after:z",
        "MULTI",
        "INCR after:n",
        "INCR after:n",
        "EXEC",
        "SELECT 7",
        "SET after:db7 x",
        "DEL after:db7",
        "SET after:db7b y",
        "SELECT 0",
        "FLUSHDB ASYNC",
        "SET after:flushed 1",
    ] {
        let r = c.run(line);
        assert!(!matches!(r, Frame::Error(_)), "{line}: {}", show(&r));
    }
}

fn sync_then_follow(master_kind: Kind, replica_kind: Kind) {
    let master = start_master(master_kind);
    let mut m = master.conn();
    load(&mut m);
    let replica = start_replica(replica_kind, &master);
    wait_synced(&master, &replica);
    same(
        &snapshot(&mut replica.conn()),
        &snapshot(&mut m),
        "after the full sync",
    );
    writes(&mut m);
    wait_synced(&master, &replica);
    same(
        &snapshot(&mut replica.conn()),
        &snapshot(&mut m),
        "after the writes",
    );
    assert_eq!(stat(&master, "sync_full"), 1);

    // A killed link: the replica comes back with a partial resync, and the
    // stream goes on in the db it had selected (no SELECT is resent).
    m.run("SELECT 7");
    m.run("SET before:kill 1");
    wait_synced(&master, &replica);
    let r = m.run("CLIENT KILL TYPE replica");
    assert_eq!(show(&r), ":1");
    m.run("SET after:kill 1");
    m.run("SELECT 0");
    wait_for("the partial resync", || {
        stat(&master, "sync_partial_ok") == 1
    });
    wait_synced(&master, &replica);
    assert_eq!(stat(&master, "sync_full"), 1);
    assert_eq!(stat(&master, "sync_partial_err"), 0);
    let mut r = replica.conn();
    r.run("SELECT 7");
    assert_eq!(show(&r.run("GET after:kill")), "\"1\"");
    r.run("SELECT 0");
    same(
        &snapshot(&mut r),
        &snapshot(&mut m),
        "after the partial resync",
    );
    // Replicas are read-only.
    let e = show(&r.run("SET x 1"));
    assert!(e.contains("READONLY"), "{e}");
}

#[test]
fn ferrokv_master_to_redis_replica() {
    sync_then_follow(Kind::Ferrokv, Kind::Redis);
}

#[test]
fn redis_master_to_ferrokv_replica() {
    sync_then_follow(Kind::Redis, Kind::Ferrokv);
}

#[test]
fn ferrokv_master_to_ferrokv_replica() {
    sync_then_follow(Kind::Ferrokv, Kind::Ferrokv);
}

#[test]
fn wait_counts_acks_and_role_describes_both_sides() {
    let master = start_master(Kind::Ferrokv);
    let mut m = master.conn();
    // No replica: WAIT times out with 0.
    assert_eq!(show(&m.run("WAIT 1 100")), ":0");
    let replica = start_replica(Kind::Ferrokv, &master);
    wait_synced(&master, &replica);
    for i in 0..100 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    let got = show(&m.run("WAIT 1 10000"));
    assert_eq!(got, ":1", "{}", info(&mut m, "replication"));
    assert_eq!(show(&m.run("WAIT 0 0")), ":1");
    // ROLE on the master: its offset and the replica with its acked offset.
    let role = show(&m.run("ROLE"));
    assert!(role.starts_with("[\"master\""), "{role}");
    let mut r = replica.conn();
    let role = show(&r.run("ROLE"));
    assert!(
        role.contains("\"slave\"") && role.contains("\"connected\""),
        "{role}"
    );
    let e = show(&r.run("WAIT 1 0"));
    assert!(
        e.contains("WAIT cannot be used with replica instances"),
        "{e}"
    );
    let rep = info(&mut m, "replication");
    assert_eq!(field(&rep, "connected_slaves").as_deref(), Some("1"));
    assert!(field(&rep, "slave0").unwrap().contains("state=online"));
    assert_eq!(field(&rep, "repl_backlog_active").as_deref(), Some("1"));

    // REPLICAOF NO ONE keeps the old id as replid2 (PSYNC2).
    let old = field(&info(&mut r, "replication"), "master_replid").unwrap();
    assert_eq!(show(&r.run("REPLICAOF NO ONE")), "+OK");
    let rep = info(&mut r, "replication");
    assert_eq!(field(&rep, "role").as_deref(), Some("master"));
    assert_eq!(field(&rep, "master_replid2"), Some(old));
    assert_eq!(show(&r.run("SET now-writable 1")), "+OK");

    // The former master follows the promoted replica: a partial resync on the
    // old id (PSYNC2), and the new master's writes reach it.
    let to = replica.port.to_string();
    assert_eq!(show(&m.cmd(&["REPLICAOF", "127.0.0.1", &to])), "+OK");
    wait_synced(&replica, &master);
    assert_eq!(stat(&replica, "sync_partial_ok"), 1);
    assert_eq!(stat(&replica, "sync_full"), 0);
    r.run("RPUSH after-promotion a b c");
    wait_synced(&replica, &master);
    assert_eq!(
        show(&m.run("LRANGE after-promotion 0 -1")),
        "[\"a\", \"b\", \"c\"]"
    );
}

#[test]
fn redis_cli_rdb_reads_a_snapshot_through_sync() {
    let master = start_master(Kind::Ferrokv);
    let mut m = master.conn();
    m.run("SET a 1");
    let path = master.dir.path().join("fetched.rdb");
    let out = std::process::Command::new("redis-cli")
        .args(["-p", &master.port.to_string(), "--rdb"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = std::fs::read(&path).unwrap();
    assert!(
        data.starts_with(b"REDIS"),
        "{:?}",
        &data[..data.len().min(16)]
    );
}

fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill {sig} {pid}");
}

/// A master shut down while its replica lags waits for it (writes paused,
/// INFO shutdown_in_milliseconds), then exits with the replica holding every
/// write; or, aborted, the waiting SHUTDOWN gets Redis's error and writes go
/// on. The same steps on redis-server and ferrokv-server.
fn shutdown_waits_for_the_replica(kind: Kind, abort: bool) {
    let mut master = start_master(kind);
    let replica = start_replica(kind, &master);
    let mut m = master.conn();
    assert_eq!(show(&m.run("CONFIG SET shutdown-timeout 60")), "+OK");
    m.cmd(&["SET", "k", "1"]);
    wait_synced(&master, &replica);
    signal(replica.pid(), "-STOP");
    assert_eq!(show(&m.cmd(&["INCR", "k"])), ":2");
    let mut waiting = master.conn();
    waiting.send(&["SHUTDOWN"]);
    wait_for("the shutdown to wait", || {
        field(&info(&mut m, "server"), "shutdown_in_milliseconds")
            .and_then(|v| v.parse::<i64>().ok())
            .is_some_and(|ms| ms > 0)
            && field(&info(&mut m, "clients"), "blocked_clients").as_deref() == Some("1")
    });
    if abort {
        assert_eq!(show(&m.run("SHUTDOWN ABORT")), "+OK");
        assert_eq!(
            show(&waiting.read().expect("the SHUTDOWN's reply")),
            "-ERR Errors trying to SHUTDOWN. Check logs."
        );
        // Writes are no longer paused.
        assert_eq!(show(&m.cmd(&["INCR", "k"])), ":3");
        assert!(field(&info(&mut m, "server"), "shutdown_in_milliseconds").is_none());
        assert!(master.log().contains("Shutdown manually aborted."));
        signal(replica.pid(), "-CONT");
        return;
    }
    signal(replica.pid(), "-CONT");
    assert!(
        master.wait_exit(Duration::from_secs(30)).is_some(),
        "{kind:?}: the master did not exit"
    );
    assert_eq!(show(&replica.conn().cmd(&["GET", "k"])), "\"2\"");
    assert!(
        master
            .log()
            .contains("1 of 1 replicas are in sync when shutting down."),
        "{kind:?}: {}",
        master.log()
    );
}

#[test]
fn shutdown_waits_for_a_lagging_replica_like_redis() {
    for kind in [Kind::Redis, Kind::Ferrokv] {
        shutdown_waits_for_the_replica(kind, false);
        shutdown_waits_for_the_replica(kind, true);
    }
}

/// A writable replica expires the keys its own clients gave a TTL (Redis's
/// slaveKeysWithExpire), and only those: a master's expired key is hidden from
/// reads but stays until the master's DEL. The same steps on both servers.
fn writable_replica_expiry(kind: Kind) {
    let master = Server::start(
        kind,
        &[
            "--repl-diskless-sync-delay",
            "0",
            "--enable-debug-command",
            "yes",
        ],
    );
    let replica = start_replica(kind, &master);
    wait_synced(&master, &replica);
    let (mut m, mut r) = (master.conn(), replica.conn());
    assert_eq!(show(&m.run("DEBUG SET-ACTIVE-EXPIRE 0")), "+OK", "{kind:?}");
    m.cmd(&["SET", "master-key", "v", "PX", "50"]);
    wait_synced(&master, &replica);
    assert_eq!(show(&r.run("CONFIG SET replica-read-only no")), "+OK");
    r.cmd(&["SET", "own1", "v", "PX", "50"]);
    r.cmd(&["SET", "own2", "v"]);
    r.cmd(&["PEXPIRE", "own2", "50"]);
    r.cmd(&["SET", "own3", "v"]);
    assert_eq!(
        field(&info(&mut r, "stats"), "slave_expires_tracked_keys").as_deref(),
        Some("2"),
        "{kind:?}"
    );
    wait_for("the replica's own keys to expire", || {
        show(&r.cmd(&["DBSIZE"])) == ":2"
    });
    // What is left: its persistent key, and the master's (expired, hidden).
    assert_eq!(
        show(&r.cmd(&["EXISTS", "own3", "master-key"])),
        ":1",
        "{kind:?}"
    );
    assert_eq!(show(&r.cmd(&["GET", "master-key"])), "NullBulk", "{kind:?}");
    assert_eq!(
        field(&info(&mut r, "stats"), "slave_expires_tracked_keys").as_deref(),
        Some("0"),
        "{kind:?}"
    );
}

#[test]
fn a_writable_replica_expires_its_own_keys_like_redis() {
    for kind in [Kind::Redis, Kind::Ferrokv] {
        writable_replica_expiry(kind);
    }
}

/// A message published on the master reaches the replica's subscribers, alone
/// or inside MULTI (PUBLISH goes down the replication stream). Both servers.
#[test]
fn publish_on_the_master_reaches_subscribers_of_the_replica() {
    for kind in [Kind::Redis, Kind::Ferrokv] {
        let master = start_master(kind);
        let replica = start_replica(kind, &master);
        wait_synced(&master, &replica);
        let mut sub = replica.conn();
        sub.send(&["SUBSCRIBE", "news"]);
        assert!(show(&sub.read().expect("subscribed")).contains("subscribe"));
        let mut m = master.conn();
        m.cmd(&["PUBLISH", "news", "one"]);
        m.cmd(&["MULTI"]);
        m.cmd(&["PUBLISH", "news", "two"]);
        m.cmd(&["EXEC"]);
        for text in ["one", "two"] {
            let got = show(&sub.read().expect("a message"));
            assert!(
                got.contains("message") && got.contains(text),
                "{kind:?}: {got}"
            );
        }
    }
}

/// Runs `scenario` against ferrokv and against redis-server and requires the
/// same observations; returns them.
fn same_as_redis<T: PartialEq + std::fmt::Debug>(scenario: fn(Kind) -> T) -> T {
    let ours = scenario(Kind::Ferrokv);
    let theirs = scenario(Kind::Redis);
    assert_eq!(ours, theirs);
    theirs
}

fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    ferrokv_tests::wait_until(what, Duration::from_secs(30), ok);
}

/// What a connection that ran SYNC or PSYNC gets for a command that produces a
/// reply: Redis disconnects it (the replication link carries no replies) and
/// logs why; a keyspace command is refused first ("Replica can't interact with
/// the keyspace", an unexpected error reply). A PSYNC whose offset is not a
/// number is refused without a sync. Both servers, same outcome.
fn replica_reply_rules(kind: Kind) {
    use std::io::{Read, Write};
    let s = Server::start(kind, &["--repl-diskless-sync", "no"]);
    for (sync, cmd, name) in [
        ("SYNC\r\n", "PING\r\n", "ping"),
        ("PSYNC replicationid -1\r\n", "GET foo\r\n", "get"),
        (
            "PSYNC replicationid -1\r\n",
            "SLOWLOG GET\r\n",
            "slowlog|get",
        ),
    ] {
        let mut c = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        c.write_all(sync.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(200));
        c.write_all(cmd.as_bytes()).unwrap();
        // The RDB (or nothing) and then the end of the connection, not a reply.
        let mut got = Vec::new();
        let _ = c.read_to_end(&mut got);
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        let line = format!("Replica generated a reply to command '{name}', disconnecting it");
        while !s.log().contains(&line) {
            assert!(
                std::time::Instant::now() < deadline,
                "{kind:?}: no {line:?}\n{}",
                s.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    assert!(
        s.log().contains("This master is sending an error to its replica: 'Replica can't interact with the keyspace' after processing the command 'get'"),
        "{kind:?}\n{}",
        s.log()
    );
    let mut c = s.conn();
    assert_eq!(stat(&s, "unexpected_error_replies"), 1);
    assert_eq!(
        show(&c.cmd(&["PSYNC", "replicationid", "offset_str"])),
        "-ERR value is not an integer or out of range"
    );
    assert!(s
        .log()
        .contains("asks for synchronization but with a wrong offset"));
    assert_eq!(show(&c.run("PING")), "+PONG");
}

#[test]
fn a_replica_that_sends_a_command_with_a_reply_is_disconnected_like_redis() {
    replica_reply_rules(Kind::Redis);
    replica_reply_rules(Kind::Ferrokv);
}

/// A master that streams its RDB at once (diskless, no delay), with DEBUG on
/// for DEBUG POPULATE.
fn diskless_master(kind: Kind) -> Server {
    Server::start(
        kind,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            "--enable-debug-command",
            "yes",
        ],
    )
}

/// A replica of `kind` with repl-diskless-load `mode` (and `extra`) that answers
/// while it loads every 100 kB (Redis's default: 2 MB).
fn diskless_replica(kind: Kind, mode: &str, extra: &[&str]) -> Server {
    let mut args = vec![
        "--repl-diskless-load",
        mode,
        "--loading-process-events-interval-bytes",
        "100000",
    ];
    args.extend_from_slice(extra);
    Server::start(kind, &args)
}

/// What a `repl-diskless-load swapdb` replica shows during and after a full
/// sync of the same history (the replication id matches): `async_loading:1`,
/// the old keys and functions still served, REPLICAOF and CONFIG SET appendonly
/// refused with -LOADING; a transfer cut short keeps the old dataset; a complete
/// one swaps in the master's keys and functions. Redis's integration/replication
/// "Diskless load swapdb (async_loading)" tests, shortened.
fn swapdb_async_loading(kind: Kind) -> Vec<String> {
    let master = diskless_master(kind);
    let replica = diskless_replica(kind, "swapdb", &["--replica-read-only", "no"]);
    let (mut m, mut r) = (master.conn(), replica.conn());
    let mut seen = Vec::new();
    let mut note = |what: &str, f: Frame| seen.push(format!("{what}: {}", show(&f)));
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    wait_synced(&master, &replica);
    // Values big enough that each key leaves the saver's buffer at once (Redis's
    // child writes the pipe 16 KiB at a time, ferrokv's saver 64 KiB), and not
    // compressed to nothing.
    assert_eq!(show(&m.run("DEBUG POPULATE 100 master 100000")), "+OK");
    m.run("CONFIG SET rdbcompression no");
    wait_synced(&master, &replica);
    r.run("SET mykey myvalue");
    let lib = |v: &str| {
        format!("#!lua name=test\nredis.register_function('test', function() return '{v}' end)")
    };
    r.cmd(&["FUNCTION", "LOAD", &lib("hello1")]);
    m.cmd(&["FUNCTION", "LOAD", &lib("hello2")]);
    wait_synced(&master, &replica);
    // The replica's own function again (the master's replaced it).
    r.cmd(&["FUNCTION", "LOAD", "REPLACE", &lib("hello1")]);
    // A full sync of the same history: the backlog no longer has the offset.
    m.run("CONFIG SET rdb-key-save-delay 50000");
    m.run("MULTI");
    m.run("CLIENT KILL TYPE replica");
    m.run("CONFIG SET repl-backlog-size 16384");
    for i in 0..10 {
        m.cmd(&["SET", &format!("filler{i}"), &"A".repeat(16384)]);
    }
    m.run("EXEC");
    let async_loading = |r: &mut Conn| field(&info(r, "persistence"), "async_loading");
    wait_for("async_loading", || {
        async_loading(&mut r).as_deref() == Some("1")
    });
    note(
        "loading",
        Frame::Bulk(
            field(&info(&mut r, "persistence"), "loading")
                .unwrap()
                .into(),
        ),
    );
    note("GET mykey", r.run("GET mykey"));
    note("FCALL", r.run("FCALL test 0"));
    note("DBSIZE", r.run("DBSIZE"));
    note("CONFIG SET appendonly", r.run("CONFIG SET appendonly no"));
    note("REPLICAOF", r.run("REPLICAOF NO ONE"));
    note(
        "async_loading",
        Frame::Bulk(async_loading(&mut r).unwrap().into()),
    );
    // Cut short: the old dataset stays.
    m.run("CONFIG SET repl-diskless-sync-delay 5");
    m.run("CLIENT KILL TYPE replica");
    wait_for("the end of async_loading", || {
        async_loading(&mut r).as_deref() == Some("0")
    });
    note("GET mykey after the cut", r.run("GET mykey"));
    note("FCALL after the cut", r.run("FCALL test 0"));
    note("DBSIZE after the cut", r.run("DBSIZE"));
    // Complete: the master's dataset and functions.
    m.run("CONFIG SET rdb-key-save-delay 0");
    m.run("CONFIG SET repl-diskless-sync-delay 0");
    wait_synced(&master, &replica);
    note("GET mykey after the swap", r.run("GET mykey"));
    note("FCALL after the swap", r.run("FCALL test 0"));
    note("DBSIZE after the swap", r.run("DBSIZE"));
    assert!(
        replica.log().contains("Loading DB in memory"),
        "{kind:?}\n{}",
        replica.log()
    );
    seen
}

#[test]
fn swapdb_diskless_load_serves_the_old_dataset_like_redis() {
    let theirs = same_as_redis(swapdb_async_loading);
    assert!(
        theirs.contains(&"GET mykey after the swap: NullBulk".to_string()),
        "{theirs:?}"
    );
}

/// `on-empty-db` on an empty replica loads the stream as it comes (`loading:1`
/// during the transfer); a transfer cut short logs Redis's short-read line and
/// leaves nothing half-loaded; the next sync completes.
fn on_empty_db_short_read(kind: Kind) -> Vec<String> {
    let master = diskless_master(kind);
    let replica = diskless_replica(kind, "on-empty-db", &[]);
    let (mut m, mut r) = (master.conn(), replica.conn());
    assert_eq!(show(&m.run("DEBUG POPULATE 100 key 100000")), "+OK");
    m.run("CONFIG SET rdbcompression no");
    m.run("CONFIG SET rdb-key-save-delay 50000");
    r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
    let loading = |r: &mut Conn| field(&info(r, "persistence"), "loading");
    wait_for("loading", || loading(&mut r).as_deref() == Some("1"));
    let mut seen = vec![format!("PING while loading: {}", show(&r.run("PING")))];
    m.run("CONFIG SET repl-diskless-sync-delay 5");
    m.run("CLIENT KILL TYPE replica");
    wait_for("the end of loading", || {
        loading(&mut r).as_deref() == Some("0")
    });
    seen.push(format!("DBSIZE after the cut: {}", show(&r.run("DBSIZE"))));
    m.run("CONFIG SET rdb-key-save-delay 0");
    m.run("CONFIG SET repl-diskless-sync-delay 0");
    wait_synced(&master, &replica);
    seen.push(format!("DBSIZE after the sync: {}", show(&r.run("DBSIZE"))));
    wait_for("the short-read line", || {
        replica
            .log()
            .contains("Internal error in RDB reading offset")
    });
    seen
}

#[test]
fn on_empty_db_diskless_load_survives_a_short_read_like_redis() {
    same_as_redis(on_empty_db_short_read);
}

fn info_int(c: &mut Conn, section: &str, name: &str) -> i64 {
    field(&info(c, section), name)
        .and_then(|v| v.parse().ok())
        .unwrap_or(-1)
}

/// Redis 7's replication buffer, seen from outside: while one replica waits for
/// its RDB (produced slowly), the stream it will need stays in the buffer, so
/// the backlog outgrows repl-backlog-size and another replica can partially
/// resync from that part; once the waiting replica is gone, the buffer goes
/// back to about the backlog's size. Redis's integration/replication-buffer,
/// shortened.
fn shared_replication_buffer(kind: Kind) -> Vec<String> {
    let master = Server::start(
        kind,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
            "--repl-backlog-size",
            "16384",
            "--save",
            "",
        ],
    );
    let mut m = master.conn();
    let attach = |r: &Server| {
        let port = master.port.to_string();
        r.conn().cmd(&["REPLICAOF", "127.0.0.1", &port]);
    };
    let fast = Server::start(kind, &[]);
    attach(&fast);
    for i in 0..10 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    wait_synced(&master, &fast);
    // Ten keys at a second each: the next RDB takes ten seconds.
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "1000000"]);
    let slow = Server::start(kind, &[]);
    attach(&slow);
    wait_for("the slow replica to wait for its RDB", || {
        info_int(&mut m, "persistence", "rdb_bgsave_in_progress") == 1
            && info_int(&mut m, "replication", "connected_slaves") == 2
    });
    let value = "x".repeat(4096);
    for i in 0..256 {
        m.cmd(&["SET", &format!("big{i}"), &value]);
    }
    let mut seen = vec![
        format!(
            "histlen past 1MB: {}",
            info_int(&mut m, "replication", "repl_backlog_histlen") > 1_000_000
        ),
        format!(
            "buffer past 1MB: {}",
            info_int(&mut m, "memory", "mem_total_replication_buffers") > 1_000_000
        ),
    ];
    // The fast replica follows another master for a while (the slow replica,
    // which cannot serve it: it keeps the history it had), the master writes
    // past repl-backlog-size, and it comes back: the part the slow replica
    // holds serves its partial resync.
    let slow_port = slow.port.to_string();
    fast.conn().cmd(&["REPLICAOF", "127.0.0.1", &slow_port]);
    for i in 0..64 {
        m.cmd(&["SET", &format!("more{i}"), &value]);
    }
    attach(&fast);
    wait_synced(&master, &fast);
    seen.push(format!(
        "full {} partial {}",
        stat(&master, "sync_full"),
        stat(&master, "sync_partial_ok")
    ));
    drop(slow);
    wait_for("the buffer to shrink once the slow replica is gone", || {
        info_int(&mut m, "replication", "connected_slaves") == 1
            && info_int(&mut m, "replication", "repl_backlog_histlen") < 100_000
    });
    seen.push("shrunk".into());
    seen
}

#[test]
fn replicas_share_one_replication_buffer_like_redis() {
    let seen = same_as_redis(shared_replication_buffer);
    assert_eq!(
        seen[..2],
        ["histlen past 1MB: true", "buffer past 1MB: true"]
    );
}

/// Four replicas asking for a full sync at once with repl-diskless-sync-delay 0:
/// the first starts a snapshot and the others wait for the next one (one
/// snapshot at a time), then every replica is online. Redis's Sentinel suite
/// sets its clusters up this way; ferrokv once started a snapshot per replica,
/// one failed ("Background save already in progress") and its replica was never
/// answered.
fn replicas_asking_at_once(kind: Kind) -> i64 {
    let master = Server::start(
        kind,
        &[
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    let mut m = master.conn();
    for i in 0..200 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    // A snapshot takes a second: the replicas' requests overlap it.
    m.cmd(&["CONFIG", "SET", "rdb-key-save-delay", "5000"]);
    let replicas: Vec<Server> = (0..4).map(|_| Server::start(kind, &[])).collect();
    let port = master.port.to_string();
    let mut conns: Vec<Conn> = replicas.iter().map(|r| r.conn()).collect();
    for c in &mut conns {
        c.send(&["REPLICAOF", "127.0.0.1", &port]);
    }
    for c in &mut conns {
        c.read();
    }
    wait_for("every replica to be online", || {
        let text = info(&mut m, "replication");
        (0..4)
            .all(|i| field(&text, &format!("slave{i}")).is_some_and(|l| l.contains("state=online")))
    });
    info_int(&mut m, "replication", "connected_slaves")
}

#[test]
fn replicas_asking_at_once_all_sync_like_redis() {
    assert_eq!(replicas_asking_at_once(Kind::Ferrokv), 4);
    assert_eq!(replicas_asking_at_once(Kind::Redis), 4);
}
