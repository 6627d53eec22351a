//! Operations commands against redis-server 7.0: SLOWLOG (entries with times,
//! durations, ids and client ports masked), their errors and help texts.

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff};

/// SLOWLOG GET's entries with what differs between two servers masked: the id
/// relative to the newest, no time or duration, the address's host only.
fn masked_slowlog(f: Frame) -> Vec<String> {
    let Frame::Array(entries) = f else {
        panic!("SLOWLOG GET: {}", show(&f));
    };
    let first_id = match entries.first() {
        Some(Frame::Array(e)) => match e[0] {
            Frame::Integer(i) => i,
            _ => 0,
        },
        _ => 0,
    };
    entries
        .iter()
        .map(|e| {
            let Frame::Array(e) = e else {
                panic!("entry {}", show(e));
            };
            assert_eq!(e.len(), 6, "entry {}", show(&Frame::Array(e.clone())));
            let id = match e[0] {
                Frame::Integer(i) => first_id - i,
                _ => -1,
            };
            assert!(matches!(e[1], Frame::Integer(t) if t > 1_600_000_000));
            assert!(matches!(e[2], Frame::Integer(d) if d >= 0));
            let peer = show(&e[4]);
            let host = peer.rsplit_once(':').map_or(peer.as_str(), |(h, _)| h);
            format!("{id} {} {host} {}", show(&e[3]), show(&e[5]))
        })
        .collect()
}

#[test]
fn slowlog_entries_match_redis() {
    let mut d = Diff::new();
    d.line("CONFIG SET slowlog-log-slower-than 0");
    d.line("SLOWLOG RESET");
    d.line("CLIENT SETNAME logger");
    d.line("SET k v");
    let many: Vec<String> = std::iter::once("SADD".to_string())
        .chain(std::iter::once("s".to_string()))
        .chain((0..40).map(|i| i.to_string()))
        .collect();
    d.check(&many);
    let long = "x".repeat(300);
    d.check(&["SET", "big", long.as_str()]);
    d.check(&["SET", "edge", "y".repeat(128).as_str()]);
    d.line("CONFIG SET masterauth secret");
    d.line("CONFIG SET requirepass \"\"");
    d.line("MULTI");
    d.line("INCR n");
    d.line("GET k");
    d.line("EXEC");
    d.line("CLIENT SETNAME other");
    d.line("GETSET k w");
    d.line("CONFIG SET slowlog-log-slower-than -1");
    d.line("SLOWLOG LEN");
    let ours = masked_slowlog(d.ours.run("SLOWLOG GET -1"));
    let theirs = masked_slowlog(d.theirs.run("SLOWLOG GET -1"));
    assert_eq!(ours, theirs);
    assert!(ours.len() > 10, "{ours:?}");
    assert_eq!(
        masked_slowlog(d.ours.run("SLOWLOG GET 2")),
        masked_slowlog(d.theirs.run("SLOWLOG GET 2"))
    );
    d.line("SLOWLOG GET 0");
    d.line("SLOWLOG RESET");
    d.line("SLOWLOG LEN");
    d.line("SLOWLOG GET");
}

#[test]
fn slowlog_max_len_and_threshold() {
    let mut d = Diff::new();
    d.line("CONFIG SET slowlog-log-slower-than 0");
    d.line("CONFIG SET slowlog-max-len 3");
    for i in 0..10 {
        d.check(&["SET", "k", &i.to_string()]);
    }
    d.line("SLOWLOG LEN");
    d.line("CONFIG SET slowlog-max-len 0");
    d.line("PING");
    d.line("SLOWLOG LEN");
    d.line("CONFIG SET slowlog-max-len 128");
    d.line("CONFIG SET slowlog-log-slower-than 100000000");
    d.line("SLOWLOG RESET");
    d.line("PING");
    d.line("SLOWLOG LEN");
    d.check_pairs(&["CONFIG", "GET", "slowlog-*"]);
}

#[test]
fn slowlog_errors_and_help() {
    let mut d = Diff::new();
    d.script(
        "
        SLOWLOG HELP
        SLOWLOG
        SLOWLOG foo
        SLOWLOG GET -2
        SLOWLOG GET x
        SLOWLOG GET 1 2
        SLOWLOG LEN 2
        SLOWLOG RESET 1
        SLOWLOG HELP 1
        CONFIG SET slowlog-log-slower-than -2
        CONFIG SET slowlog-max-len -1
        ",
    );
}
