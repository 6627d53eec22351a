//! Active defragmentation: a keyspace left half-empty by deletions is compacted
//! by `activedefrag yes` with its data unchanged, and INFO reports the work as
//! Redis does (Debian's redis-server is built without Redis's jemalloc, so it
//! refuses activedefrag: there is no oracle to compare with here).

use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, wait_until, Conn, Server};

fn info(c: &mut Conn, field: &str) -> String {
    let Frame::Bulk(text) = c.run("INFO everything") else {
        panic!("INFO did not reply a bulk string");
    };
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in INFO"))
}

fn num(c: &mut Conn, field: &str) -> f64 {
    info(c, field)
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{field} is not a number"))
}

/// Sends `n` commands made by `cmd` in batches, reading every reply.
fn pipeline(c: &mut Conn, n: usize, cmd: impl Fn(usize) -> Vec<Vec<u8>>) {
    for start in (0..n).step_by(1000) {
        let end = (start + 1000).min(n);
        for i in start..end {
            c.send(&cmd(i));
        }
        for _ in start..end {
            let reply = c.read().expect("a reply");
            assert!(!matches!(reply, Frame::Error(_)), "{}", show(&reply));
        }
    }
}

#[test]
fn active_defrag_compacts_a_half_deleted_keyspace_and_keeps_the_data() {
    let server = Server::ferrokv(&["--enable-debug-command", "yes"]);
    let mut c = server.conn();
    let value = vec![b'v'; 150];
    let keys = 200_000;
    pipeline(&mut c, keys, |i| {
        vec![
            b"SET".to_vec(),
            format!("key:{i}").into_bytes(),
            value.clone(),
        ]
    });
    // Every other key goes: each slab of entries and values is left half used.
    pipeline(&mut c, keys / 2, |i| {
        vec![b"DEL".to_vec(), format!("key:{}", i * 2).into_bytes()]
    });
    let before = num(&mut c, "allocator_frag_ratio");
    assert!(
        before > 1.3,
        "a half-deleted keyspace should be fragmented: {before}"
    );
    let digest = c.run("DEBUG DIGEST");
    assert_eq!(num(&mut c, "active_defrag_running"), 0.0);
    for line in [
        "CONFIG SET hz 100",
        "CONFIG SET active-defrag-threshold-lower 15",
        "CONFIG SET active-defrag-ignore-bytes 4mb",
        "CONFIG SET active-defrag-cycle-min 50",
        "CONFIG SET active-defrag-cycle-max 75",
        "CONFIG SET activedefrag yes",
    ] {
        assert_eq!(c.run(line), Frame::Simple("OK".into()), "{line}");
    }
    wait_until("defrag to start", Duration::from_secs(10), || {
        num(&mut c, "active_defrag_running") > 0.0 || num(&mut c, "active_defrag_hits") > 0.0
    });
    // It stops once below both thresholds (a fresh server's own slack is
    // about a megabyte: well under them).
    wait_until("defrag to finish", Duration::from_secs(60), || {
        num(&mut c, "active_defrag_running") == 0.0
    });
    let after = num(&mut c, "allocator_frag_ratio");
    assert!(after < 1.15, "fragmentation {before} -> {after}");
    assert!(num(&mut c, "active_defrag_hits") > (keys / 4) as f64);
    assert!(num(&mut c, "active_defrag_key_hits") > 0.0);
    assert!(num(&mut c, "total_active_defrag_time") >= 0.0);
    // The same data, and it keeps working.
    assert_eq!(c.run("DEBUG DIGEST"), digest);
    assert_eq!(c.run("DBSIZE"), Frame::Integer((keys / 2) as i64));
    assert_eq!(c.run("GET key:1"), Frame::Bulk(value.clone().into()));
    assert_eq!(c.run("GET key:2"), Frame::NullBulk);
    assert_eq!(c.run("APPEND key:3 x"), Frame::Integer(151));
    // CONFIG RESETSTAT clears the counters.
    c.run("CONFIG SET activedefrag no");
    c.run("CONFIG RESETSTAT");
    assert_eq!(num(&mut c, "active_defrag_hits"), 0.0);
    assert_eq!(num(&mut c, "active_defrag_key_misses"), 0.0);
}

#[test]
fn debug_mallctl_str_reads_and_writes_string_controls_only() {
    let server = Server::ferrokv(&["--enable-debug-command", "yes"]);
    let mut c = server.conn();
    // Redis's memefficiency tests flush the thread cache this way.
    assert_eq!(
        c.run("DEBUG MALLCTL-STR thread.tcache.flush VOID"),
        Frame::Simple("OK".into())
    );
    assert!(matches!(c.run("DEBUG MALLCTL-STR version"), Frame::Bulk(v) if v.starts_with(b"5.")));
    // A numeric control is not read as a string (its value is no pointer).
    assert!(matches!(
        c.run("DEBUG MALLCTL-STR stats.allocated"),
        Frame::Error(_)
    ));
    assert!(matches!(
        c.run("DEBUG MALLCTL-STR arenas.page 1"),
        Frame::Error(_)
    ));
}
