//! Server behaviour: protocol handling, pipelining, COMMAND metadata, auth, config,
//! client commands, INFO, shutdown; compared with redis-server where it matters.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::{Diff, Server};

/// Sends raw bytes and returns everything the server writes until it closes the
/// connection or goes quiet.
fn raw_exchange(port: u16, input: &[u8]) -> Vec<u8> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    s.write_all(input).expect("write");
    let mut out = Vec::new();
    let mut buf = [0u8; 65536];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break,
        }
    }
    out
}

#[test]
fn protocol_errors_match_redis_byte_for_byte() {
    let ours = Server::ferrokv(&[]);
    let theirs = Server::redis(&[]);
    let cases: &[&[u8]] = &[
        b"*1\r\n$x\r\n",
        b"*x\r\n",
        b"*1\r\n+PING\r\n",
        b"*1\r\n$-5\r\n",
        b"*1\r\n$4611686018427387904\r\n",
        b"*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n*1\r\n:1\r\n",
        b"SET \"a b\r\n",
        b"PING\r\nECHO \"hi there\"\r\nSET k 'v\\'x'\r\nGET k\r\n",
        b"\r\n\r\nPING\r\n",
        b"*0\r\n*-1\r\nPING\r\n",
        b"*2\r\n$4\r\nECHO\r\n$3\r\nabcXY*1\r\n$4\r\nPING\r\n",
        b"FOO bar baz\r\n",
        b"get\r\n",
    ];
    for case in cases {
        let a = raw_exchange(ours.port, case);
        let b = raw_exchange(theirs.port, case);
        assert_eq!(
            String::from_utf8_lossy(&a),
            String::from_utf8_lossy(&b),
            "for input {:?}",
            String::from_utf8_lossy(case)
        );
    }
    let long_inline = vec![b'a'; 70 * 1024];
    assert_eq!(
        raw_exchange(ours.port, &long_inline),
        raw_exchange(theirs.port, &long_inline)
    );
}

#[test]
fn huge_bulk_header_gets_an_error_not_an_allocation() {
    let ours = Server::ferrokv(&[]);
    // Within proto-max-bulk-len: the server must wait for the data without
    // reserving it all up front; its RSS must stay small.
    let mut c = ours.conn();
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$536870000\r\nabc");
    std::thread::sleep(Duration::from_millis(200));
    let status =
        std::fs::read_to_string(format!("/proc/{}/status", ours.pid())).expect("proc status");
    let rss_kb: u64 = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmRSS");
    assert!(
        rss_kb < 200 * 1024,
        "RSS grew to {rss_kb} kB for a declared 512 MB bulk"
    );
    let reply = raw_exchange(ours.port, b"*2\r\n$3\r\nGET\r\n$99999999999999\r\n");
    assert_eq!(reply, b"-ERR Protocol error: invalid bulk length\r\n");
}

#[test]
fn pipelining_replies_in_order() {
    let ours = Server::ferrokv(&["--threads", "1"]);
    let mut c = ours.conn();
    let mut batch = Vec::new();
    for i in 0..5000 {
        batch.extend_from_slice(
            &Frame::array_of_bulks(["SET", &format!("k{i}"), &i.to_string()]).to_bytes(),
        );
        batch.extend_from_slice(&Frame::array_of_bulks(["GET", &format!("k{i}")]).to_bytes());
    }
    c.send_raw(&batch);
    for i in 0..5000 {
        assert_eq!(c.read(), Some(Frame::simple("OK")));
        assert_eq!(c.read(), Some(Frame::bulk(i.to_string())));
    }
}

#[test]
fn command_metadata_matches_redis() {
    let mut d = Diff::new();
    let Frame::Array(names) = d.ours.run("COMMAND LIST") else {
        panic!("COMMAND LIST")
    };
    assert!(names.len() > 60);
    for name in &names {
        let n = name.as_bytes().expect("name");
        if n.contains(&b'|') {
            continue;
        }
        // Subcommand lists differ where ferrokv implements only some subcommands.
        let strip = |f: Frame| match f {
            Frame::Array(mut outer) => {
                if let Some(Frame::Array(items)) = outer.get_mut(0) {
                    if items.len() >= 10 {
                        items[9] = Frame::Null;
                    }
                }
                Frame::Array(outer)
            }
            other => other,
        };
        let ours = strip(d.ours.cmd(&[b"COMMAND".as_ref(), b"INFO", n]));
        let theirs = strip(d.theirs.cmd(&[b"COMMAND".as_ref(), b"INFO", n]));
        assert_eq!(ours, theirs, "COMMAND INFO {}", String::from_utf8_lossy(n));
    }
    d.script(
        "
        COMMAND INFO get set nosuchcommand
        COMMAND GETKEYS SET a b
        COMMAND GETKEYS MSET a 1 b 2
        COMMAND GETKEYS GET
        COMMAND GETKEYS PING
        COMMAND GETKEYS NOSUCH a
        COMMAND GETKEYSANDFLAGS SET a b
        COMMAND GETKEYSANDFLAGS SET a b GET
        COMMAND GETKEYSANDFLAGS LMOVE a b LEFT RIGHT
        COMMAND GETKEYSANDFLAGS ZUNIONSTORE d 2 a b
        COMMAND GETKEYSANDFLAGS SORT a STORE d
        COMMAND GETKEYSANDFLAGS SORT a STORE d LIMIT 0 1 STORE e
        COMMAND GETKEYSANDFLAGS SORT a BY store GET store LIMIT store store STORE
        COMMAND GETKEYS SORT a STORE d STORE e
        COMMAND GETKEYSANDFLAGS SORT_RO a
        COMMAND GETKEYSANDFLAGS SET a b EX 10 get
        COMMAND GETKEYSANDFLAGS GEORADIUS a 0 0 1 km STORE d STOREDIST e
        COMMAND GETKEYSANDFLAGS RENAME a b
        COMMAND GETKEYSANDFLAGS COPY a b
        COMMAND GETKEYSANDFLAGS SMOVE a b m
        COMMAND GETKEYSANDFLAGS MSET a 1 b 2
        COMMAND DOCS get
        COMMAND HELP
        COMMAND FOO
        ",
    );
}

#[test]
fn auth_and_requirepass() {
    let ours = Server::ferrokv(&["--requirepass", "secret"]);
    let theirs = Server::redis(&["--requirepass", "secret"]);
    let mut a = ours.conn();
    let mut b = theirs.conn();
    for line in [
        "GET a",
        "AUTH wrong",
        "AUTH default wrong",
        "AUTH a b c",
        "HELLO 2 AUTH default wrong",
        "AUTH secret",
        "SET a 1",
        "GET a",
        "AUTH default secret",
        "RESET",
        "GET a",
        "HELLO 2 AUTH default secret SETNAME x",
        "CLIENT GETNAME",
        "GET a",
    ] {
        let (x, y) = (a.run(line), b.run(line));
        if line.starts_with("HELLO") && !x.is_error() {
            assert!(!y.is_error(), "{line}");
            continue;
        }
        assert_eq!(x, y, "{line}");
    }
    let mut d = Diff::new();
    d.script(
        "
        AUTH x
        AUTH default anything
        HELLO 4
        HELLO x
        HELLO 3 FOO
        HELLO 2 SETNAME
        ",
    );
}

#[test]
fn config_get_set() {
    let mut d = Diff::new();
    d.script(
        "
        CONFIG GET hz
        CONFIG SET hz 100
        CONFIG GET hz
        CONFIG SET maxmemory 1gb
        CONFIG GET maxmemory
        CONFIG SET maxmemory 100mb
        CONFIG GET maxmemory
        CONFIG SET maxmemory-policy allkeys-lru
        CONFIG GET maxmemory-policy
        CONFIG SET maxmemory-policy nope
        CONFIG SET hz x
        CONFIG SET protected-mode maybe
        CONFIG SET loglevel loud
        CONFIG SET databases 4
        CONFIG SET nosuch 1
        CONFIG SET hz
        CONFIG GET hash-max-ziplist-entries
        CONFIG GET proto-max-bulk-len
        CONFIG SET hz 20 maxmemory 5mb
        CONFIG GET hz
        CONFIG SET hz 30 hz 40
        CONFIG SET hz 30 maxmemory
        CONFIG SET SET hz 30
        CONFIG SET nosuch 1 databases 4
        CONFIG SET databases 4 nosuch 1
        CONFIG SET hz 30 databases 4 hz 40
        CONFIG SET hash-max-listpack-value 1kb
        CONFIG GET hash-max-listpack-value
        CONFIG SET zset-max-listpack-value -1
        CONFIG SET zset-max-listpack-value 64x
        CONFIG SET maxmemory -1
        CONFIG SET maxmemory kb
        CONFIG GET maxmemory
        CONFIG SET hash-max-listpack-value 99999999999999999999
        CONFIG SET hash-max-listpack-value 18446744073709551615kb
        CONFIG SET proto-max-bulk-len 99999999999999999999
        CONFIG SET hash-max-listpack-value 64
        CONFIG GET nosuchthing
        CONFIG RESETSTAT
        CONFIG HELP
        ",
    );
    d.check(&["CONFIG", "SET", "zset-max-listpack-value", ""]);
    d.check(&["CONFIG", "GET", "zset-max-listpack-value"]);
    d.check(&["CONFIG", "SET", "zset-max-listpack-value", "64"]);
    d.check_pairs(&["CONFIG", "GET", "zset-max-*"]);
    d.check_pairs(&["CONFIG", "GET", "*max-*-entries*"]);
}

#[test]
fn client_commands() {
    let mut d = Diff::new();
    d.script(
        "
        CLIENT GETNAME
        CLIENT SETNAME myname
        CLIENT GETNAME
        CLIENT SETNAME
        CLIENT NO-EVICT on
        CLIENT NO-EVICT off
        CLIENT NO-EVICT maybe
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL ID x
        CLIENT KILL ID 999999
        CLIENT KILL FOO bar
        CLIENT LIST TYPE foo
        CLIENT LIST TYPE normal TYPE normal
        CLIENT LIST TYPE
        CLIENT LIST FOO bar
        CLIENT LIST ID abc
        CLIENT LIST ID 1.5 999999
        CLIENT LIST ID -1 0 999999
        CLIENT UNBLOCK 999999 ERROR x
        CLIENT UNBLOCK abc FOO
        CLIENT UNBLOCK abc TIMEOUT
        CLIENT KILL USER nobody
        CLIENT KILL ID 999999 USER nobody
        CLIENT KILL USER nobody ID 0
        CLIENT KILL ID 0 USER nobody
        CLIENT FOO
        CLIENT HELP
        ",
    );
    d.check(&["CLIENT", "SETNAME", "a b"]);
    // CLIENT LIST: same fields in the same order as Redis.
    let fields = |f: Frame| -> Vec<String> {
        let text = String::from_utf8_lossy(f.as_bytes().expect("text")).into_owned();
        text.lines()
            .next()
            .unwrap_or("")
            .split(' ')
            .map(|kv| kv.split('=').next().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(
        fields(d.ours.run("CLIENT LIST")),
        fields(d.theirs.run("CLIENT LIST"))
    );
    assert_eq!(
        fields(d.ours.run("CLIENT INFO")),
        fields(d.theirs.run("CLIENT INFO"))
    );
    // CLIENT KILL by id closes the other connection.
    let ours = Server::ferrokv(&[]);
    let mut victim = ours.conn();
    let Frame::Integer(id) = victim.run("CLIENT ID") else {
        panic!()
    };
    let mut killer = ours.conn();
    assert_eq!(
        killer.run(&format!("CLIENT KILL ID {id}")),
        Frame::Integer(1)
    );
    victim.send(&["PING"]);
    assert_eq!(victim.read(), None);
}

#[test]
fn info_has_every_redis_field() {
    let mut d = Diff::new();
    let names = |f: Frame| -> std::collections::BTreeSet<String> {
        String::from_utf8_lossy(f.as_bytes().expect("info text"))
            .lines()
            .filter(|l| !l.is_empty())
            .map(|l| l.split(':').next().unwrap_or("").to_string())
            .filter(|n| {
                !n.starts_with("db") && !n.starts_with("errorstat_") && !n.starts_with("cmdstat_")
            })
            .collect()
    };
    d.line("SET a 1");
    let ours = names(d.ours.run("INFO"));
    let theirs = names(d.theirs.run("INFO"));
    let missing: Vec<_> = theirs.difference(&ours).collect();
    assert!(missing.is_empty(), "INFO lacks {missing:?}");
    let text =
        String::from_utf8_lossy(d.ours.run("INFO server").as_bytes().expect("text")).into_owned();
    assert!(text.contains("redis_version:7.0.15\r\n") && text.contains("ferrokv_version:"));
    let ks =
        String::from_utf8_lossy(d.ours.run("INFO keyspace").as_bytes().expect("text")).into_owned();
    assert!(ks.contains("db0:keys=1,expires=0,avg_ttl=0"), "{ks}");
}

#[test]
fn shutdown_and_sigterm_exit_cleanly() {
    let mut s = Server::ferrokv(&[]);
    let mut c = s.conn();
    c.send(&["SHUTDOWN", "NOSAVE"]);
    assert_eq!(c.read(), None);
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
    let mut s = Server::ferrokv(&[]);
    // SAFETY-free: libc is not a dependency here; use the kill command.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    assert_eq!(s.wait_exit(Duration::from_secs(10)), Some(0));
}

#[test]
fn config_file_is_read_and_unknown_directives_handled() {
    let dir = tempfile::tempdir().expect("tmp");
    let port = ferrokv_tests::free_port();
    let conf = dir.path().join("redis.conf");
    std::fs::write(
        &conf,
        format!("# a redis.conf\nport {port}\nbind 127.0.0.1\nactivedefrag no\nhz 50\nsave \"\"\n"),
    )
    .expect("write conf");
    let mut child = std::process::Command::new(ferrokv_tests::ferrokv_binary())
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut conn = loop {
        if let Ok(c) = ferrokv_tests::Conn::connect(port) {
            break c;
        }
        assert!(std::time::Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        conn.run("CONFIG GET hz"),
        Frame::Array(vec![Frame::bulk("hz"), Frame::bulk("50")])
    );
    let _ = child.kill();
    let _ = child.wait();

    std::fs::write(&conf, "port 1\nnosuchdirective yes\n").expect("write conf");
    let out = std::process::Command::new(ferrokv_tests::ferrokv_binary())
        .arg(&conf)
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("Bad directive or wrong number of arguments") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn redis_benchmark_runs_without_errors() {
    let ours = Server::ferrokv(&[]);
    let out = std::process::Command::new("redis-benchmark")
        .args([
            "-p",
            &ours.port.to_string(),
            "-n",
            "2000",
            "-c",
            "10",
            "-P",
            "4",
            "-q",
            "-t",
            "ping,set,get,incr,mset",
        ])
        .output()
        .expect("redis-benchmark is installed with redis-tools");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{text}");
    assert!(!text.to_lowercase().contains("error"), "{text}");
    for t in ["PING_INLINE", "SET", "GET", "INCR", "MSET"] {
        assert!(text.contains(t), "missing {t} in {text}");
    }
}

#[test]
fn redis_cli_works_against_ferrokv() {
    let ours = Server::ferrokv(&[]);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new("redis-cli")
            .arg("-p")
            .arg(ours.port.to_string())
            .args(args)
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(cli(&["SET", "a", "hello"]), "OK\n");
    assert_eq!(cli(&["GET", "a"]), "hello\n");
    assert_eq!(cli(&["--no-raw", "INCR", "n"]), "(integer) 1\n");
    assert_eq!(cli(&["-3", "--no-raw", "GET", "missing"]), "(nil)\n");
    assert!(cli(&["--scan"]).lines().any(|l| l == "a"));
}

#[test]
fn redis_py_client_works() {
    let script = r#"
import sys, redis
r = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), decode_responses=True)
assert r.ping()
assert r.set("k", "v", ex=100)
assert r.get("k") == "v"
assert 0 < r.ttl("k") <= 100
assert r.incrby("n", 5) == 5
assert r.mget(["k", "n", "x"]) == ["v", "5", None]
p = r.pipeline(transaction=False)
for i in range(100):
    p.set(f"p{i}", i)
assert all(p.execute())
assert r.dbsize() == 102
t = r.pipeline(transaction=True)
t.incr("n").incr("n").get("n")
assert t.execute() == [6, 7, "7"]
def bump(pipe):
    v = int(pipe.get("n"))
    pipe.multi()
    pipe.set("n", v * 2)
assert r.transaction(bump, "n") == [True]
assert r.get("n") == "14"
assert sorted(r.scan_iter(match="p1*"))[:2] == ["p1", "p10"]
assert r.info("server")["redis_version"] == "7.0.15"
r3 = redis.Redis(host="127.0.0.1", port=int(sys.argv[1]), protocol=3, decode_responses=True)
assert r3.get("k") == "v"
assert r3.incrbyfloat("f", 1.5) == 1.5
print("ok")
"#;
    let probe = std::process::Command::new("python3")
        .args(["-c", "import redis"])
        .status();
    assert!(
        probe.map(|s| s.success()).unwrap_or(false),
        "redis-py is missing: run `cargo xtask test` (it installs it) or pip install redis"
    );
    let ours = Server::ferrokv(&[]);
    let out = std::process::Command::new("python3")
        .args(["-c", script, &ours.port.to_string()])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn redis_7_2_client_subcommands() {
    let ours = Server::ferrokv(&[]);
    let mut c = ours.conn();
    assert_eq!(c.run("CLIENT NO-TOUCH on"), Frame::simple("OK"));
    assert_eq!(
        c.run("CLIENT NO-TOUCH maybe"),
        Frame::error("ERR syntax error")
    );
    assert_eq!(
        c.run("CLIENT SETINFO LIB-NAME redis-py"),
        Frame::simple("OK")
    );
    assert_eq!(c.run("CLIENT SETINFO LIB-VER 5.0"), Frame::simple("OK"));
    assert_eq!(
        c.run("CLIENT SETINFO FOO x"),
        Frame::error("ERR Unrecognized option 'FOO'")
    );
    let list = c.run("CLIENT INFO");
    let text = String::from_utf8_lossy(list.as_bytes().expect("text")).into_owned();
    assert!(text.contains("lib-name=redis-py lib-ver=5.0"), "{text}");
    // A no-touch client's reads leave the access clock alone; TOUCH still touches.
    assert_eq!(c.run("SET k v"), Frame::simple("OK"));
    assert_eq!(c.run("GET k"), Frame::bulk("v"));
    assert_eq!(c.run("TOUCH k"), Frame::Integer(1));
}

#[test]
fn active_expiry_reclaims_keys_nobody_reads() {
    let ours = Server::ferrokv(&["--hz", "100"]);
    let mut c = ours.conn();
    for i in 0..500 {
        c.send(&["SET", &format!("k{i}"), "v", "PX", "50"]);
    }
    for _ in 0..500 {
        c.read();
    }
    c.run("SET keep v");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if c.run("DBSIZE") == Frame::Integer(1) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "expired keys were not reclaimed"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let info = c.run("INFO stats");
    let text = String::from_utf8_lossy(info.as_bytes().expect("text")).into_owned();
    assert!(text.contains("expired_keys:500\r\n"), "{text}");
}

#[test]
fn errorstats_count_errors_by_code() {
    let mut d = Diff::new();
    d.script(
        "
        SET s v
        INCR s
        GET
        NOSUCH
        CONFIG RESETSTAT
        INCR s
        INCRBYFLOAT s x
        ",
    );
    d.check(&["INFO", "errorstats"]);
}

#[test]
fn config_set_port_rebinds() {
    let ours = Server::ferrokv(&[]);
    let mut c = ours.conn();
    let new_port = ferrokv_tests::free_port();
    assert_eq!(
        c.run(&format!("CONFIG SET port {new_port}")),
        Frame::simple("OK")
    );
    // The existing connection stays; new ones go to the new port only.
    assert_eq!(c.run("PING"), Frame::simple("PONG"));
    let mut moved = ferrokv_tests::Conn::connect(new_port).expect("connect to the new port");
    assert_eq!(moved.run("PING"), Frame::simple("PONG"));
    assert!(
        ferrokv_tests::Conn::connect(ours.port).is_err(),
        "old port still accepts"
    );
    assert_eq!(
        c.run(&format!("CONFIG SET port {new_port}")),
        Frame::simple("OK")
    );
    // A port that cannot be bound: error, and the old value stays.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let taken_port = taken.local_addr().expect("addr").port();
    let reply = c.run(&format!("CONFIG SET port {taken_port}"));
    assert_eq!(
        reply,
        Frame::error("ERR CONFIG SET failed (possibly related to argument 'port') - Unable to listen on this port")
    );
    assert_eq!(
        c.run("CONFIG GET port"),
        Frame::Array(vec![Frame::bulk("port"), Frame::bulk(new_port.to_string())])
    );
}

#[test]
fn config_set_dir() {
    let mut d = Diff::new();
    d.line("CONFIG SET dir /nonexistent-ferrokv-dir");
    d.line("CONFIG SET dbfilename x.rdb");
    d.line("CONFIG SET logfile x");
    // With protected configs enabled, dir really changes directory.
    let ours = Server::ferrokv(&["--enable-protected-configs", "yes"]);
    let theirs = Server::redis(&["--enable-protected-configs", "yes"]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    assert_eq!(
        a.run("CONFIG SET dir /nonexistent-ferrokv-dir"),
        b.run("CONFIG SET dir /nonexistent-ferrokv-dir")
    );
    let tmp = tempfile::tempdir().expect("tmp");
    let path = tmp.path().to_string_lossy().into_owned();
    assert_eq!(a.cmd(&["CONFIG", "SET", "dir", &path]), Frame::simple("OK"));
    let canonical = std::fs::canonicalize(&path)
        .expect("canonical")
        .to_string_lossy()
        .into_owned();
    assert_eq!(
        a.run("CONFIG GET dir"),
        Frame::Array(vec![Frame::bulk("dir"), Frame::bulk(canonical)])
    );
}
