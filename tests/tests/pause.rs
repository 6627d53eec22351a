//! CLIENT PAUSE / UNPAUSE: concurrent writers held and released, reads going on
//! under WRITE, everything held under ALL, the end time, a dataset kept still
//! (expiry), and the replies compared with redis-server's.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Diff, Server};

fn info_field(c: &mut Conn, section: &str, field: &str) -> String {
    let text = show(&c.run(&format!("INFO {section}")));
    text.split("\\r\\n")
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_default()
        .to_string()
}

fn wait_blocked(c: &mut Conn, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while info_field(c, "clients", "blocked_clients") != n.to_string() {
        assert!(Instant::now() < deadline, "never {n} blocked clients");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn concurrent_writers_wait_for_unpause_and_reads_go_on() {
    let server = Server::ferrokv(&[]);
    let mut admin = server.conn();
    assert_eq!(show(&admin.run("SET counter 0")), "+OK");
    assert_eq!(show(&admin.run("CLIENT PAUSE 60000 WRITE")), "+OK");
    const WRITERS: usize = 8;
    let handles: Vec<_> = (0..WRITERS)
        .map(|i| {
            let mut c = server.conn();
            std::thread::spawn(move || {
                let a = c.run("INCR counter");
                let b = c.run(&format!("SET w{i} done"));
                (a, b)
            })
        })
        .collect();
    wait_blocked(&mut admin, WRITERS);
    // Reads are not held by a WRITE pause, nor are read-only transactions.
    let mut reader = server.conn();
    assert_eq!(show(&reader.run("GET counter")), "\"0\"");
    assert_eq!(show(&reader.run("MULTI")), "+OK");
    assert_eq!(show(&reader.run("GET counter")), "+QUEUED");
    assert_eq!(show(&reader.run("EXEC")), "[\"0\"]");
    // A command with an arity error is answered at once.
    assert!(show(&reader.run("SET x")).contains("wrong number of arguments"));
    assert_eq!(show(&admin.run("CLIENT UNPAUSE")), "+OK");
    let mut seen: Vec<i64> = handles
        .into_iter()
        .map(|h| {
            let (a, b) = h.join().expect("writer");
            assert_eq!(show(&b), "+OK");
            match a {
                Frame::Integer(n) => n,
                other => panic!("INCR: {}", show(&other)),
            }
        })
        .collect();
    seen.sort();
    assert_eq!(seen, (1..=WRITERS as i64).collect::<Vec<_>>());
    assert_eq!(info_field(&mut admin, "clients", "blocked_clients"), "0");
}

#[test]
fn pause_all_holds_everything_until_its_end() {
    let server = Server::ferrokv(&[]);
    let mut admin = server.conn();
    assert_eq!(show(&admin.run("CLIENT PAUSE 400 ALL")), "+OK");
    let mut c = server.conn();
    // Held until the pause ends by itself (nobody unpauses).
    assert_eq!(show(&c.run("PING")), "+PONG");
    assert_eq!(show(&c.run("SET k v")), "+OK");
}

#[test]
fn a_write_pause_keeps_expired_keys_until_it_ends() {
    let server = Server::ferrokv(&[]);
    let mut c = server.conn();
    let before = info_field(&mut c, "stats", "expired_keys");
    assert_eq!(show(&c.run("MULTI")), "+OK");
    c.run("SET a 1 PX 10");
    c.run("SET b 2 PX 10");
    c.run("CLIENT PAUSE 60000 WRITE");
    c.run("EXEC");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !(matches!(c.run("GET a"), Frame::NullBulk) && matches!(c.run("GET b"), Frame::NullBulk))
    {
        assert!(Instant::now() < deadline, "keys never logically expired");
        std::thread::sleep(Duration::from_millis(5));
    }
    // Logically gone, still there: neither lazy nor active expiry deleted them.
    assert_eq!(info_field(&mut c, "stats", "expired_keys"), before);
    assert_eq!(show(&c.run("DBSIZE")), ":2");
    c.run("CLIENT UNPAUSE");
    c.run("GET a");
    c.run("GET b");
    let after: u64 = info_field(&mut c, "stats", "expired_keys")
        .parse()
        .expect("a number");
    assert_eq!(after, before.parse::<u64>().expect("a number") + 2);
}

#[test]
fn scripts_are_judged_by_their_flags() {
    let server = Server::ferrokv(&[]);
    let mut admin = server.conn();
    admin.run("CLIENT PAUSE 60000 WRITE");
    let mut c = server.conn();
    // Read-only scripts run, in MULTI too.
    assert_eq!(
        show(&c.cmd(&["EVAL", "#!lua flags=no-writes\nreturn 1", "0"])),
        ":1"
    );
    assert_eq!(show(&c.cmd(&["EVAL_RO", "return 2", "0"])), ":2");
    c.run("MULTI");
    c.cmd(&["EVAL", "#!lua flags=no-writes\nreturn 3", "0"]);
    assert_eq!(show(&c.run("EXEC")), "[:3]");
    // One that may write waits.
    let mut w = server.conn();
    let h = std::thread::spawn(move || show(&w.cmd(&["EVAL", "return 4", "0"])));
    wait_blocked(&mut admin, 1);
    admin.run("CLIENT UNPAUSE");
    assert_eq!(h.join().expect("script"), ":4");
}

#[test]
fn pause_replies_match_redis() {
    let mut d = Diff::new();
    d.script(
        "
        CLIENT PAUSE x
        CLIENT PAUSE -1
        CLIENT PAUSE 1.5
        CLIENT PAUSE 10 foo
        CLIENT PAUSE 10 write extra
        CLIENT PAUSE
        CLIENT UNPAUSE x
        CLIENT PAUSE 0
        CLIENT PAUSE 0 WRITE
        CLIENT UNPAUSE
        CLIENT UNPAUSE
        ",
    );
}

/// A replica under CLIENT PAUSE WRITE keeps reading its master's stream but applies
/// none of its writes until the pause ends (slave_read_repl_offset moves,
/// slave_repl_offset does not), as Redis postpones its master client.
#[test]
fn a_paused_replica_reads_its_master_but_applies_nothing() {
    let master = Server::ferrokv(&[]);
    let replica = Server::ferrokv(&["--repl-diskless-sync-delay", "0"]);
    let (mut m, mut r) = (master.conn(), replica.conn());
    r.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    let wait = |what: &str, ok: &mut dyn FnMut() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !ok() {
            assert!(Instant::now() < deadline, "never {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    wait("linked", &mut || {
        info_field(&mut r, "replication", "master_link_status") == "up"
    });
    m.run("SET foo bar");
    wait("synced", &mut || show(&r.run("GET foo")) == "\"bar\"");
    wait("caught up", &mut || {
        info_field(&mut r, "replication", "slave_repl_offset")
            == info_field(&mut m, "replication", "master_repl_offset")
    });
    let applied = info_field(&mut r, "replication", "slave_repl_offset");
    assert_eq!(show(&r.run("CLIENT PAUSE 100000 WRITE")), "+OK");
    m.run("SET foo2 bar2");
    wait("read", &mut || {
        info_field(&mut r, "replication", "slave_read_repl_offset")
            == info_field(&mut m, "replication", "master_repl_offset")
    });
    assert_eq!(
        info_field(&mut r, "replication", "slave_repl_offset"),
        applied
    );
    assert_eq!(show(&r.run("GET foo2")), "NullBulk");
    assert_eq!(show(&r.run("CLIENT UNPAUSE")), "+OK");
    wait("applied", &mut || show(&r.run("GET foo2")) == "\"bar2\"");
    assert_eq!(
        info_field(&mut r, "replication", "slave_repl_offset"),
        info_field(&mut m, "replication", "master_repl_offset")
    );
}
