//! The latency monitor's AOF events: a write slowed by DEBUG AOF-FLUSH-SLEEP
//! past a 1 ms latency-monitor-threshold is recorded as `aof-write` and
//! `aof-write-alone` (Redis's flushAppendOnlyFile events).

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::Server;

/// LATENCY LATEST's event names.
fn latest_events(c: &mut ferrokv_tests::Conn) -> Vec<String> {
    let Frame::Array(rows) = c.run("LATENCY LATEST") else {
        panic!("LATENCY LATEST");
    };
    rows.iter()
        .filter_map(|r| match r {
            Frame::Array(f) => match f.first() {
                Some(Frame::Bulk(name)) => Some(String::from_utf8_lossy(name).into_owned()),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

#[test]
fn slow_aof_write_is_a_latency_event() {
    let s = Server::ferrokv(&[
        "--appendonly",
        "yes",
        "--enable-debug-command",
        "yes",
        "--latency-monitor-threshold",
        "1",
    ]);
    let mut c = s.conn();
    // Nothing slow yet: no AOF event.
    c.run("SET a 1");
    c.run("LATENCY RESET");
    assert_eq!(
        c.run("DEBUG AOF-FLUSH-SLEEP 20000"),
        Frame::Simple("OK".into())
    );
    // The reply waits for the write, which now takes at least 20 ms.
    assert_eq!(c.run("SET k v"), Frame::Simple("OK".into()));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let events = latest_events(&mut c);
        if events.iter().any(|e| e == "aof-write") && events.iter().any(|e| e == "aof-write-alone")
        {
            break;
        }
        assert!(Instant::now() < deadline, "events: {events:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
    let Frame::Array(history) = c.run("LATENCY HISTORY aof-write") else {
        panic!("LATENCY HISTORY");
    };
    assert!(!history.is_empty());
}
