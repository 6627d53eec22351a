//! Moving every allocation of every type must leave the data as it was, and
//! structures that keep working afterwards.

use std::time::Duration;

use super::*;
use crate::testkit::{run, setup};

/// Every key's content through the read commands of its type.
fn contents(e: &Engine, c: &mut crate::Client, keys: &[&str]) -> Vec<String> {
    keys.iter()
        .map(|k| {
            let t = run(e, c, &format!("TYPE {k}"));
            let read = match t.trim() {
                "+string" => format!("GET {k}"),
                "+list" => format!("LRANGE {k} 0 -1"),
                "+hash" => format!("HGETALL {k}"),
                "+set" => format!("SMEMBERS {k}"),
                "+zset" => format!("ZRANGE {k} 0 -1 WITHSCORES"),
                "+stream" => format!("XRANGE {k} - +"),
                other => panic!("{k}: {other}"),
            };
            let mut reply = run(e, c, &read);
            if matches!(t.trim(), "+hash" | "+set") {
                // Their order is the table's, which a rehash step between two
                // reads may change: compare the lines as a multiset.
                let mut lines: Vec<&str> = reply.split("\r\n").collect();
                lines.sort_unstable();
                reply = lines.join("\n");
            }
            format!("{t}{reply}")
        })
        .collect()
}

fn full_pass(e: &Engine) -> u64 {
    loop {
        if let (Progress::PassDone(_, moved), _) =
            e.defrag.step(e, &MoveAll, Duration::from_millis(1))
        {
            return moved;
        }
    }
}

#[test]
fn moving_everything_keeps_every_type_as_it_was() {
    let (e, mut c) = setup();
    // Small values go with their key, bigger ones in steps.
    run(&e, &mut c, "CONFIG SET active-defrag-max-scan-fields 20");
    let long = "x".repeat(100);
    let mut keys = vec!["int", "small", "boxed", "raw"];
    run(&e, &mut c, "SET int 12345");
    run(&e, &mut c, "SET small abc");
    run(&e, &mut c, &format!("SET boxed {long}"));
    run(&e, &mut c, &format!("SETRANGE raw 90 {long}"));
    run(&e, &mut c, "HSET hsmall f1 v1 f2 v2");
    run(&e, &mut c, "SADD sint 1 2 3");
    run(&e, &mut c, "SADD sstr a b c");
    run(&e, &mut c, "ZADD zsmall 1 a 2.5 b");
    run(&e, &mut c, "RPUSH lsmall a b c");
    keys.extend(["hsmall", "sint", "sstr", "zsmall", "lsmall"]);
    for i in 0..300 {
        run(&e, &mut c, &format!("HSET hbig field{i} {long}{i}"));
        run(&e, &mut c, &format!("SADD sbig member{i}{long}"));
        run(&e, &mut c, &format!("ZADD zbig {i} member{i}{long}"));
        run(&e, &mut c, &format!("RPUSH lbig {long}{i}"));
        run(&e, &mut c, &format!("XADD xbig {}-1 f {i}", i + 1));
        run(&e, &mut c, &format!("SET key{i} {long}{i}"));
    }
    keys.extend(["hbig", "sbig", "zbig", "lbig", "xbig"]);
    let before = contents(&e, &mut c, &keys);
    let moved = full_pass(&e);
    assert!(moved > 1000, "moved {moved}");
    let after = contents(&e, &mut c, &keys);
    for ((k, b), a) in keys.iter().zip(&before).zip(&after) {
        assert!(
            a == b,
            "{k} changed: {} bytes before, {} after",
            b.len(),
            a.len()
        );
    }
    assert!(e.defrag.key_hits.load(Relaxed) >= 300);
    // The moved structures keep working: grow, shrink and read them again.
    for i in 0..50 {
        run(&e, &mut c, &format!("HDEL hbig field{i}"));
        run(&e, &mut c, &format!("ZREM zbig member{i}{long}"));
        run(&e, &mut c, "LPOP lbig");
        run(&e, &mut c, &format!("APPEND raw {i}"));
    }
    run(&e, &mut c, "HSET hsmall f3 v3");
    full_pass(&e);
    assert_eq!(run(&e, &mut c, "HLEN hbig"), ":250\r\n");
    assert_eq!(run(&e, &mut c, "ZCARD zbig"), ":250\r\n");
    assert_eq!(run(&e, &mut c, "LLEN lbig"), ":250\r\n");
    assert_eq!(run(&e, &mut c, "HGET hsmall f3"), "$2\r\nv3\r\n");
    assert_eq!(
        run(&e, &mut c, "GET key299"),
        format!("$103\r\n{long}299\r\n")
    );
}

#[test]
fn the_cpu_share_follows_the_fragmentation_like_redis() {
    let (e, mut c) = setup();
    // Defaults: 1% at 10% fragmentation, 25% at 100%.
    assert_eq!(cpu_percent(&e, 5.0), 1);
    assert_eq!(cpu_percent(&e, 55.0), 13);
    assert_eq!(cpu_percent(&e, 400.0), 25);
    run(&e, &mut c, "CONFIG SET active-defrag-threshold-lower 5");
    run(&e, &mut c, "CONFIG SET active-defrag-cycle-min 65");
    run(&e, &mut c, "CONFIG SET active-defrag-cycle-max 75");
    assert_eq!(cpu_percent(&e, 100.0), 75);
    assert!(!worth_starting(&e, 50.0, 1 << 20));
    assert!(worth_starting(&e, 50.0, 200 << 20));
}
