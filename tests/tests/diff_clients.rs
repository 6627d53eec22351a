//! CLIENT KILL filters and their errors, CLIENT NO-EVICT and the
//! maxmemory-clients setting, against redis-server 7.0.

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff};

#[test]
fn client_kill_filter_errors_match_redis() {
    let mut d = Diff::new();
    d.script(
        "
        CLIENT KILL
        CLIENT KILL 1.2.3.4:5
        CLIENT KILL id
        CLIENT KILL id 0
        CLIENT KILL id -3
        CLIENT KILL id abc
        CLIENT KILL id 999999 skipme
        CLIENT KILL type bogus
        CLIENT KILL type NORMAL skipme maybe
        CLIENT KILL user nosuchuser
        CLIENT KILL maxage 10
        CLIENT KILL nosuchfilter 1
        CLIENT KILL id 999999
        CLIENT KILL addr 1.2.3.4:5
        CLIENT KILL laddr 1.2.3.4:5
        CLIENT KILL user default id 999999
        CLIENT KILL type master
        CLIENT KILL type replica
        CLIENT KILL type slave
        CLIENT KILL type pubsub
        CLIENT KILL skipme yes type normal
        ",
    );
}

#[test]
fn client_kill_filters_kill_what_they_match() {
    let mut d = Diff::new();
    let mut other = d.other();
    other.line("CLIENT SETNAME victim");
    let mut sub = d.other();
    sub.line("SUBSCRIBE ch");
    // The pubsub client goes; the normal ones stay (SKIPME yes by default).
    d.line("CLIENT KILL TYPE pubsub");
    d.line("CLIENT KILL TYPE normal SKIPME yes USER default");
    assert_eq!(show(&d.ours.cmd(&["PING"])), "+PONG");
    // The other normal client was killed: its connection is closed.
    assert!(other.ours.read().is_none(), "killed client is disconnected");
}

#[test]
fn client_kill_by_own_id_closes_after_the_reply() {
    let mut d = Diff::new();
    let id = |c: &mut ferrokv_tests::Conn| match c.cmd(&["CLIENT", "ID"]) {
        Frame::Integer(i) => i.to_string(),
        f => panic!("CLIENT ID: {}", show(&f)),
    };
    let (ours, theirs) = (id(&mut d.ours), id(&mut d.theirs));
    let a = d.ours.cmd(&["CLIENT", "KILL", "ID", &ours, "SKIPME", "no"]);
    let b = d
        .theirs
        .cmd(&["CLIENT", "KILL", "ID", &theirs, "SKIPME", "no"]);
    assert_eq!(show(&a), show(&b));
    assert!(d.ours.read().is_none() && d.theirs.read().is_none());
}

#[test]
fn client_no_evict_and_maxmemory_clients_match_redis() {
    let mut d = Diff::new();
    d.script(
        "
        CLIENT NO-EVICT on
        CLIENT NO-EVICT OFF
        CLIENT NO-EVICT maybe
        CLIENT NO-EVICT
        CLIENT NO-EVICT on off
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 10mb
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 5%
        CONFIG GET maxmemory-clients
        CONFIG SET maxmemory-clients 101%
        CONFIG SET maxmemory-clients -1
        CONFIG SET maxmemory-clients lots
        CONFIG SET maxmemory-clients 0
        CONFIG GET maxmemory-clients
        ",
    );
}

/// The `flags=` of the caller's CLIENT INFO.
fn flags(c: &mut ferrokv_tests::Conn) -> String {
    let info = match c.cmd(&["CLIENT", "INFO"]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        f => show(&f),
    };
    info.split_whitespace()
        .find_map(|f| f.strip_prefix("flags="))
        .unwrap_or_default()
        .to_string()
}

#[test]
fn no_evict_shows_in_the_flags() {
    let mut d = Diff::new();
    d.line("CLIENT NO-EVICT on");
    assert_eq!(flags(&mut d.ours), flags(&mut d.theirs));
    assert_eq!(flags(&mut d.ours), "e");
    d.line("CLIENT NO-EVICT off");
    assert_eq!(flags(&mut d.ours), "N");
}
