//! Client eviction (maxmemory-clients): a client whose query or output buffer
//! grows past the limit is disconnected and counted in `evicted_clients`; a
//! CLIENT NO-EVICT client is not. CLIENT LIST shows the memory it holds.

use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Server};

/// A bulk or simple string reply as text.
fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        other => show(other),
    }
}

/// A field of the client named `name` in CLIENT LIST (None: no such client).
fn field(admin: &mut Conn, name: &str, f: &str) -> Option<u64> {
    let list = text(&admin.cmd(&["CLIENT", "LIST"]));
    let line = list
        .lines()
        .find(|l| l.contains(&format!(" name={name} ")))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{f}=")))
        .and_then(|v| v.parse().ok())
}

fn info_field(admin: &mut Conn, f: &str) -> u64 {
    let info = text(&admin.cmd(&["INFO", "stats"]));
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{f}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

fn named(server: &Server, name: &str) -> Conn {
    let mut c = server.conn();
    assert_eq!(text(&c.cmd(&["CLIENT", "SETNAME", name])), "OK");
    c
}

/// Sends a request whose last argument never completes: it stays in the query
/// buffer. The server may evict the client before all of it is written (a broken
/// pipe here): what the caller checks next tells whether that was right.
fn fill_query_buffer(c: &mut Conn, bytes: usize) {
    let mut req = format!("*2\r\n$3\r\nSET\r\n${bytes}\r\n").into_bytes();
    req.extend(std::iter::repeat_n(b'v', bytes));
    let _ = c.try_send_raw(&req);
}

#[test]
fn a_big_query_buffer_gets_its_client_evicted() {
    let server = Server::ferrokv(&[]);
    let mut admin = named(&server, "admin");
    admin.cmd(&["CLIENT", "NO-EVICT", "on"]);
    admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]);
    let mut small = named(&server, "small");
    fill_query_buffer(&mut small, 100_000);
    assert!(ferrokv_tests::eventually(Duration::from_secs(10), || {
        field(&mut admin, "small", "qbuf").is_some_and(|q| q >= 100_000)
    }));
    assert!(field(&mut admin, "small", "tot-mem").is_some_and(|m| m >= 100_000));
    let mut big = named(&server, "big");
    fill_query_buffer(&mut big, 2_000_000);
    assert!(
        ferrokv_tests::eventually(Duration::from_secs(10), || field(&mut admin, "big", "qbuf")
            .is_none()),
        "the big client is evicted"
    );
    assert!(big.read().is_none(), "its connection is closed");
    assert!(
        field(&mut admin, "small", "qbuf").is_some(),
        "the small one stays"
    );
    assert_eq!(info_field(&mut admin, "evicted_clients"), 1);
    admin.cmd(&["CONFIG", "RESETSTAT"]);
    assert_eq!(info_field(&mut admin, "evicted_clients"), 0);
}

#[test]
fn a_no_evict_client_stays_over_the_limit() {
    let server = Server::ferrokv(&[]);
    let mut admin = named(&server, "admin");
    admin.cmd(&["CLIENT", "NO-EVICT", "on"]);
    admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "1mb"]);
    let mut keeper = named(&server, "keeper");
    keeper.cmd(&["CLIENT", "NO-EVICT", "on"]);
    fill_query_buffer(&mut keeper, 2_000_000);
    assert!(ferrokv_tests::eventually(Duration::from_secs(10), || {
        field(&mut admin, "keeper", "qbuf").is_some_and(|q| q >= 2_000_000)
    }));
    assert!(field(&mut admin, "keeper", "tot-mem").is_some_and(|m| m > 1 << 20));
    assert_eq!(info_field(&mut admin, "evicted_clients"), 0);
    // Lowering the limit finds nothing to evict: both clients are NO-EVICT.
    admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "200kb"]);
    assert!(field(&mut admin, "keeper", "qbuf").is_some());
}

#[test]
fn an_output_buffer_that_is_not_read_gets_its_client_evicted() {
    let server = Server::ferrokv(&[]);
    let mut admin = named(&server, "admin");
    admin.cmd(&["CLIENT", "NO-EVICT", "on"]);
    admin.cmd(&["SETRANGE", "k", "200000", "v"]);
    admin.cmd(&["CONFIG", "SET", "maxmemory-clients", "3mb"]);
    let mut reader = named(&server, "lazy");
    // GETs are sent and their replies never read: the server keeps running
    // them while its socket is full, and the replies pile up.
    let mut sent = 0;
    let evicted = ferrokv_tests::eventually(Duration::from_secs(10), || {
        if field(&mut admin, "lazy", "tot-mem").is_none() {
            return true;
        }
        for _ in 0..10 {
            if reader.try_send(&["GET", "k"]).is_err() {
                return field(&mut admin, "lazy", "tot-mem").is_none();
            }
            sent += 1;
        }
        false
    });
    assert!(evicted, "evicted after {sent} GETs");
    assert!(info_field(&mut admin, "evicted_clients") >= 1);
}

#[test]
fn client_list_shows_the_buffers() {
    let server = Server::ferrokv(&[]);
    let mut admin = named(&server, "admin");
    let mut m = named(&server, "multi");
    m.cmd(&["MULTI"]);
    m.cmd(&["SET", "k", &"x".repeat(1000)]);
    let multi_mem = field(&mut admin, "multi", "multi-mem").unwrap_or(0);
    assert!(multi_mem >= 1000, "multi-mem={multi_mem}");
    let mut part = named(&server, "part");
    fill_query_buffer(&mut part, 50_000);
    assert!(ferrokv_tests::eventually(Duration::from_secs(10), || {
        field(&mut admin, "part", "qbuf").is_some_and(|q| q == 50_000)
    }));
    // SET has been received: it counts as argv-mem.
    assert_eq!(field(&mut admin, "part", "argv-mem"), Some(3));
}
