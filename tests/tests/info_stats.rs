//! INFO commandstats and latencystats against redis-server 7.0: the same commands
//! give the same calls / rejected_calls / failed_calls per command (times differ by
//! nature and are only checked for shape).

use std::collections::BTreeMap;

use ferrokv_resp::Frame;
use ferrokv_tests::{Conn, Server};

/// `cmd -> "calls=..,rejected_calls=..,failed_calls=.."` from INFO commandstats.
fn counts(c: &mut Conn) -> BTreeMap<String, String> {
    let Frame::Bulk(text) = c.run("INFO commandstats") else {
        panic!("INFO did not reply a bulk string");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .filter_map(|l| l.strip_prefix("cmdstat_"))
        .filter_map(|l| l.split_once(':'))
        .filter(|(name, _)| *name != "info" && *name != "config|resetstat")
        .map(|(name, fields)| {
            let kept: Vec<&str> = fields
                .split(',')
                .filter(|f| !f.starts_with("usec"))
                .collect();
            (name.to_string(), kept.join(","))
        })
        .collect()
}

/// Polls INFO until a client is blocked.
fn wait_blocked(c: &mut Conn) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !ferrokv_tests::show(&c.run("INFO clients")).contains("blocked_clients:1") {
        assert!(
            std::time::Instant::now() < deadline,
            "the client never blocked"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn scenario(port: u16) -> (BTreeMap<String, String>, String) {
    let mut c = Conn::connect(port).expect("connect");
    let mut other = Conn::connect(port).expect("connect");
    c.run("CONFIG RESETSTAT");
    for line in [
        "SET foo bar",
        "GET foo",
        "GET foo",
        "LPUSH foo x",
        "GET",
        "NOSUCHCOMMAND",
        "CLIENT NOSUCH",
        "EXPIRE foo 0",
        "GEOADD g 1 1 m",
        "GEOADD g 1 1000 m",
        "LPUSH list a",
        "BRPOP list 0",
        "BLPOP list 0.01",
        "MULTI",
        "SET a 1",
        "INCR foo",
        "LPUSH a x",
        "EXEC",
        "MULTI",
        "GET",
        "EXEC",
    ] {
        c.run(line);
    }
    // Blocked, then served by another client.
    c.send(&["BLPOP", "later", "0"]);
    wait_blocked(&mut other);
    other.run("RPUSH later v");
    c.read();
    let Frame::Bulk(lat) = c.run("INFO latencystats") else {
        panic!("INFO latencystats");
    };
    (counts(&mut c), String::from_utf8_lossy(&lat).into_owned())
}

#[test]
fn commandstats_count_calls_rejections_and_failures_like_redis() {
    let redis = Server::redis(&[]);
    let ferrokv = Server::ferrokv(&[]);
    let (want, _) = scenario(redis.port);
    let (got, latency) = scenario(ferrokv.port);
    assert_eq!(
        got, want,
        "ferrokv (left) differs from redis-server (right)"
    );
    assert_eq!(
        want.get("geoadd").map(String::as_str),
        Some("calls=2,rejected_calls=0,failed_calls=1")
    );
    assert_eq!(
        want.get("get").map(String::as_str),
        Some("calls=2,rejected_calls=2,failed_calls=0")
    );
    assert!(!want.contains_key("zadd") && !want.contains_key("del"));
    // p50/p99/p99.9 for every command that ran, e.g. SET.
    let set = latency
        .lines()
        .find(|l| l.starts_with("latency_percentiles_usec_set:"))
        .expect("SET has latency percentiles");
    let fields: Vec<&str> = set.split(':').nth(1).unwrap_or("").split(',').collect();
    assert_eq!(fields.len(), 3, "{set}");
    for (f, p) in fields.iter().zip(["p50=", "p99=", "p99.9="]) {
        assert!(f.starts_with(p), "{set}");
        assert!(f[p.len()..].parse::<f64>().is_ok(), "{set}");
    }
}
