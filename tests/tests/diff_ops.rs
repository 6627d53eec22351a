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

#[test]
fn latency_replies_match_redis() {
    let mut d = Diff::with_args(&["--enable-debug-command", "yes"]);
    d.script(
        "
        LATENCY HELP
        LATENCY HELP xxx
        LATENCY
        LATENCY foo
        LATENCY LATEST 1
        LATENCY HISTORY
        LATENCY HISTORY blabla
        LATENCY RESET
        LATENCY RESET blabla other
        LATENCY GRAPH blabla
        LATENCY DOCTOR 1
        CONFIG GET latency-monitor-threshold
        CONFIG SET latency-monitor-threshold -1
        CONFIG SET latency-monitor-threshold 10
        LATENCY DOCTOR
        LATENCY HISTOGRAM blabla
        ",
    );
    // One event: a command over the threshold.
    d.line("DEBUG SLEEP 0.05");
    let shape = |f: Frame| -> Vec<String> {
        let Frame::Array(events) = f else {
            panic!("LATENCY LATEST: {}", show(&f));
        };
        events
            .iter()
            .map(|e| match e {
                Frame::Array(x) => {
                    assert!(matches!(x[2], Frame::Integer(ms) if ms >= 10));
                    format!("{} {}", show(&x[0]), x.len())
                }
                other => show(other),
            })
            .collect()
    };
    assert_eq!(
        shape(d.ours.run("LATENCY LATEST")),
        shape(d.theirs.run("LATENCY LATEST"))
    );
    let history = |f: Frame| match f {
        Frame::Array(s) => s.len(),
        other => panic!("{}", show(&other)),
    };
    assert_eq!(
        history(d.ours.run("LATENCY HISTORY command")),
        history(d.theirs.run("LATENCY HISTORY command"))
    );
    let graph_head = |f: Frame| {
        let text = match f {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("{}", show(&other)),
        };
        text.lines()
            .next()
            .unwrap_or_default()
            .split(" - ")
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(
        graph_head(d.ours.run("LATENCY GRAPH command")),
        graph_head(d.theirs.run("LATENCY GRAPH command"))
    );
    let doctor_head = |f: Frame| match f {
        Frame::Bulk(b) => String::from_utf8_lossy(&b)
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        other => panic!("{}", show(&other)),
    };
    assert_eq!(
        doctor_head(d.ours.run("LATENCY DOCTOR")),
        doctor_head(d.theirs.run("LATENCY DOCTOR"))
    );
    d.line("LATENCY RESET command");
    d.line("LATENCY LATEST");
    // Histograms: names and call counts (the bucket values are times).
    d.line("CONFIG RESETSTAT");
    d.line("SET a b");
    d.line("SET c d");
    d.line("GET a");
    // Ids differ between the servers.
    d.ours.run("CLIENT ID");
    d.theirs.run("CLIENT ID");
    let calls = |f: Frame| -> Vec<String> {
        let Frame::Array(items) = f else {
            panic!("LATENCY HISTOGRAM: {}", show(&f));
        };
        let mut out: Vec<String> = items
            .chunks(2)
            .map(|c| match &c[1] {
                Frame::Array(m) => format!("{} {} {}", show(&c[0]), show(&m[0]), show(&m[1])),
                other => show(other),
            })
            .collect();
        out.sort();
        out
    };
    for q in [
        "LATENCY HISTOGRAM",
        "LATENCY HISTOGRAM set get",
        "LATENCY HISTOGRAM client",
        "LATENCY HISTOGRAM client|id blabla",
    ] {
        assert_eq!(calls(d.ours.run(q)), calls(d.theirs.run(q)), "{q}");
    }
}

/// Without cluster mode the cluster commands exist and say so, after the arity
/// and subcommand checks, as Redis with `cluster-enabled no`.
#[test]
fn cluster_commands_without_cluster_mode_match_redis() {
    let mut d = Diff::new();
    d.script(
        "
        CLUSTER INFO
        CLUSTER HELP
        CLUSTER KEYSLOT
        CLUSTER KEYSLOT a b
        CLUSTER KEYSLOT a
        CLUSTER NOSUCH
        CLUSTER
        CLUSTER SLOTS
        CLUSTER NODES
        CLUSTER SETSLOT 1
        READONLY
        READONLY x
        READWRITE
        ASKING
        COMMAND LIST FILTERBY PATTERN cluster|k*
        COMMAND GETKEYS CLUSTER INFO
        ",
    );
}
