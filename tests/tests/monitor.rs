//! MONITOR and CLIENT REPLY against redis-server 7.0: the same commands give the
//! same MONITOR lines (timestamps and client addresses aside) and the same replies
//! heard or dropped.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Server};

/// A MONITOR line without its timestamp and client address: `[db] "arg" ...`.
fn normalized(f: &Frame) -> String {
    let line = show(f);
    let line = line.trim_start_matches('+');
    match line.split_once(" [") {
        Some((_, rest)) => {
            let (who, args) = rest.split_once("] ").unwrap_or((rest, ""));
            let db = who.split(' ').next().unwrap_or("");
            format!("[{db}] {args}")
        }
        None => line.to_string(),
    }
}

fn wait_blocked(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !show(&c.run("INFO clients")).contains("blocked_clients:1") {
        assert!(Instant::now() < deadline, "the client never blocked");
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn monitor_scenario(port: u16) -> Vec<String> {
    let mut m = Conn::connect(port).expect("connect");
    let mut c = Conn::connect(port).expect("connect");
    let mut b = Conn::connect(port).expect("connect");
    let mut t = vec![show(&m.run("MONITOR"))];
    let lines = [
        "SET foo bar",
        "GET foo",
        "MULTI",
        "SET foo baz",
        "INCR n",
        "EXEC",
        "MULTI",
        "NOSUCHCOMMAND",
        "EXEC",
        "SELECT 1",
        "SET \"sp ace\" x",
        "SELECT 0",
        "CONFIG GET maxmemory",
        "AUTH not-real",
        "AUTH user not-a-password",
        "HELLO 2 AUTH user not-a-password",
        "GET",
        "PING",
    ];
    for l in lines {
        c.run(l);
    }
    // A command with binary arguments.
    c.cmd(&[&b"SET"[..], b"bin\x01\n\"", b"\xff"]);
    // Blocked, then served: shown once, when it was first called.
    b.send(&["BLPOP", "q", "0"]);
    wait_blocked(&mut c);
    c.run("RPUSH q v");
    b.read();
    c.run("PING end");
    loop {
        let f = m.read().expect("monitor line");
        let n = normalized(&f);
        let done = n.contains("\"end\"");
        // The polls that wait for the blocked client depend on timing.
        if !n.contains("\"INFO\"") {
            t.push(n);
        }
        if done {
            break;
        }
    }
    // The monitor may not touch the keyspace; PING is fine.
    t.push(show(&m.run("GET foo")));
    t.push(show(&m.run("PING")));
    t
}

#[test]
fn monitor_lines_match_redis() {
    let redis = Server::redis(&[]);
    let ferrokv = Server::ferrokv(&[]);
    let want = monitor_scenario(redis.port);
    let got = monitor_scenario(ferrokv.port);
    assert!(want.len() > 15, "{want:?}");
    assert_eq!(
        got, want,
        "ferrokv (left) differs from redis-server (right)"
    );
}

fn reply_scenario(port: u16) -> Vec<String> {
    let mut c = Conn::connect(port).expect("connect");
    let mut t = vec![];
    for l in [
        "CLIENT REPLY OFF",
        "PING a",
        "SET k v",
        "CLIENT REPLY ON",
        "PING b",
    ] {
        let args: Vec<&str> = l.split(' ').collect();
        c.send(&args);
    }
    t.push(show(&c.read().expect("reply")));
    t.push(show(&c.read().expect("reply")));
    for l in [
        "CLIENT REPLY SKIP",
        "PING c",
        "PING d",
        "CLIENT REPLY SKIP",
        "CLIENT REPLY ON",
        "PING e",
    ] {
        let args: Vec<&str> = l.split(' ').collect();
        c.send(&args);
    }
    for _ in 0..3 {
        t.push(show(&c.read().expect("reply")));
    }
    t.push(show(&c.run("CLIENT REPLY BOGUS")));
    t.push(show(&c.run("GET k")));
    t
}

#[test]
fn client_reply_drops_replies_like_redis() {
    let redis = Server::redis(&[]);
    let ferrokv = Server::ferrokv(&[]);
    let want = reply_scenario(redis.port);
    let got = reply_scenario(ferrokv.port);
    assert_eq!(
        got, want,
        "ferrokv (left) differs from redis-server (right)"
    );
}
