//! Redis's limits on requests from clients that have not authenticated while a
//! password is set (networking.c processMultibulkBuffer: more than 10 arguments, or
//! an argument over 16384 bytes, is a protocol error with its own text), compared
//! byte for byte with redis-server.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use ferrokv_tests::{Diff, Server};

/// Everything `server` sends after `payload` until it closes the connection, or
/// until the deadline (then `closed` is false).
fn reply_then_close(port: u16, payload: &[u8]) -> (Vec<u8>, bool) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    s.write_all(payload).expect("write");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while Instant::now() < deadline {
        match s.read(&mut buf) {
            Ok(0) => return (got, true),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return (got, true),
        }
    }
    (got, false)
}

fn bulk(s: &[u8]) -> Vec<u8> {
    let mut v = format!("${}\r\n", s.len()).into_bytes();
    v.extend_from_slice(s);
    v.extend_from_slice(b"\r\n");
    v
}

fn request(args: &[&[u8]]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend(bulk(a));
    }
    v
}

#[test]
fn unauthenticated_request_limits_match_redis() {
    let ours = Server::ferrokv(&["--requirepass", "secret"]);
    let theirs = Server::redis(&["--requirepass", "secret"]);
    let big = vec![b'a'; 16385];
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("*100000", b"*100000\r\n".to_vec()),
        ("bulk of 100000", b"*1\r\n$100000\r\n".to_vec()),
        ("*11", b"*11\r\n".to_vec()),
        ("bulk of 16385", b"*1\r\n$16385\r\n".to_vec()),
        (
            "second bulk of 16385",
            b"*2\r\n$4\r\nECHO\r\n$16385\r\n".to_vec(),
        ),
        (
            "after a command",
            [request(&[b"PING"]), b"*12\r\n".to_vec()].concat(),
        ),
        ("a bad count", b"*x\r\n".to_vec()),
        ("a negative bulk", b"*1\r\n$-1\r\n".to_vec()),
        ("16385 bytes", request(&[b"ECHO", &big])),
    ];
    for (what, payload) in &cases {
        let a = reply_then_close(ours.port, payload);
        let b = reply_then_close(theirs.port, payload);
        assert_eq!(
            String::from_utf8_lossy(&a.0),
            String::from_utf8_lossy(&b.0),
            "{what}"
        );
        assert_eq!(a, b, "{what}");
    }
    // At the limits: refused with NOAUTH, and the connection stays.
    for (what, payload) in [
        ("10 arguments", request(&[&b"PING"[..]; 10])),
        ("16384 bytes", request(&[b"ECHO", &big[..16384]])),
    ] {
        let mut replies = Vec::new();
        for server in [&ours, &theirs] {
            let mut c = server.conn();
            c.send_raw(&payload);
            let first = c.read();
            let auth = c.cmd(&["AUTH", "secret"]);
            replies.push((first, auth));
        }
        assert_eq!(replies[0], replies[1], "{what}");
        assert!(
            replies[0].0.as_ref().is_some_and(|f| f.is_error()),
            "{what}"
        );
    }
    let (reply, closed) = reply_then_close(ours.port, b"*100000\r\n");
    assert_eq!(
        (reply.as_slice(), closed),
        (
            &b"-ERR Protocol error: unauthenticated multibulk length\r\n"[..],
            true
        )
    );
    let (reply, closed) = reply_then_close(ours.port, b"*1\r\n$100000\r\n");
    assert_eq!(
        (reply.as_slice(), closed),
        (
            &b"-ERR Protocol error: unauthenticated bulk length\r\n"[..],
            true
        )
    );

    // After AUTH (or HELLO ... AUTH) the same sizes are served; RESET brings the
    // limits back.
    let many: Vec<Vec<u8>> = (0..100_000).map(|i| format!("k{i}").into_bytes()).collect();
    let mut del: Vec<&[u8]> = vec![b"DEL"];
    del.extend(many.iter().take(99_999).map(|k| k.as_slice()));
    let huge = vec![b'x'; 100_000];
    for login in [
        request(&[b"AUTH", b"secret"]),
        request(&[b"HELLO", b"2", b"AUTH", b"default", b"secret"]),
    ] {
        let mut servers = [ours.conn(), theirs.conn()];
        let mut replies = Vec::new();
        for c in &mut servers {
            c.send_raw(&login);
            let hello = c.read();
            assert!(hello.is_some_and(|f| !f.is_error()));
            c.send_raw(&request(&del));
            let deleted = c.read();
            c.send_raw(&request(&[b"ECHO", &huge]));
            let echoed = c.read();
            c.send_raw(&request(&[b"RESET"]));
            let reset = c.read();
            c.send_raw(b"*11\r\n");
            let refused = c.read();
            let closed = c.read();
            replies.push((deleted, echoed, reset, refused, closed));
        }
        assert_eq!(replies[0], replies[1]);
        let (deleted, echoed, _, refused, closed) = &replies[0];
        assert_eq!(deleted, &Some(ferrokv_resp::Frame::Integer(0)));
        assert_eq!(echoed, &Some(ferrokv_resp::Frame::bulk(&huge)));
        assert_eq!(
            refused,
            &Some(ferrokv_resp::Frame::Error(
                "ERR Protocol error: unauthenticated multibulk length".into()
            ))
        );
        assert_eq!(closed, &None);
    }
}

/// Redis's authRequired() is re-evaluated per request: clearing requirepass lifts the
/// limits of a connection that never authenticated.
#[test]
fn clearing_the_password_lifts_the_limits() {
    for server in [
        Server::ferrokv(&["--requirepass", "secret"]),
        Server::redis(&["--requirepass", "secret"]),
    ] {
        let mut waiting = server.conn();
        assert!(waiting.cmd(&["PING"]).is_error());
        let mut admin = server.conn();
        admin.cmd(&["AUTH", "secret"]);
        admin.cmd(&["CONFIG", "SET", "requirepass", ""]);
        let args: Vec<String> = std::iter::once("DEL".to_string())
            .chain((0..20).map(|i| format!("k{i}")))
            .collect();
        let reply = waiting.cmd(&args);
        let text = ferrokv_tests::show(&reply);
        assert!(
            !text.contains("Protocol error"),
            "{:?}: {text}",
            server.kind
        );
        assert!(waiting.cmd(&["AUTH", "secret"]).is_error());
    }
}

#[test]
fn without_a_password_there_is_no_such_limit() {
    let mut d = Diff::new();
    let args: Vec<String> = std::iter::once("DEL".to_string())
        .chain((0..20).map(|i| format!("k{i}")))
        .collect();
    d.check(&args);
    d.check(&["ECHO".to_string(), "y".repeat(20_000)]);
}
