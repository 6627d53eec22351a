//! Statistical tests: SRANDMEMBER, SPOP, HRANDFIELD, ZRANDMEMBER and RANDOMKEY pick
//! every element with the same chance, on every encoding (Redis's set.tcl
//! "histogram distribution" tests, with a chi-square bound that a fair pick passes
//! but for a one-in-a-million run).

use std::collections::HashMap;

use crate::client::Client;
use crate::engine::Engine;
use crate::testkit::{run, setup};

/// The bulk strings of a RESP2 reply (an array of bulks, or one bulk).
fn bulks(reply: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut lines = reply.split("\r\n");
    while let Some(l) = lines.next() {
        if l.starts_with('$') && l != "$-1" {
            out.extend(lines.next().map(String::from));
        }
    }
    out
}

/// Pearson's chi-square of the pick counts against a uniform pick over `members`
/// (a member never picked counts too).
fn chi_square(picks: &[String], members: &[String]) -> f64 {
    let mut counts: HashMap<&str, u64> = members.iter().map(|m| (m.as_str(), 0)).collect();
    for p in picks {
        match counts.get_mut(p.as_str()) {
            Some(c) => *c += 1,
            None => panic!("picked {p:?}, not a member"),
        }
    }
    let expected = picks.len() as f64 / members.len() as f64;
    counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum()
}

/// The chi-square a fair pick stays under with probability 1 - 1e-6 for `cells`
/// outcomes (Wilson-Hilferty approximation of the quantile). For 10 cells it is
/// about 46; Redis's own test uses 40.
fn bound(cells: usize) -> f64 {
    let df = (cells - 1) as f64;
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + 4.75 * a.sqrt()).powi(3)
}

fn assert_fair(what: &str, picks: &[String], members: &[String]) {
    let chi = chi_square(picks, members);
    let limit = bound(members.len());
    assert!(chi < limit, "{what}: chi-square {chi:.1} >= {limit:.1}");
}

fn encoding(e: &Engine, c: &mut Client, key: &str) -> String {
    bulks(&run(e, c, &format!("OBJECT ENCODING {key}")))
        .pop()
        .unwrap_or_default()
}

/// `n` members: integers, or strings (which need a hash table in a set).
fn members(n: usize, ints: bool) -> Vec<String> {
    (0..n)
        .map(|i| if ints { i.to_string() } else { format!("m{i}") })
        .collect()
}

#[test]
fn srandmember_and_spop_are_fair_on_both_encodings() {
    for (ints, enc) in [(true, "intset"), (false, "hashtable")] {
        let (e, mut c) = setup();
        let ms = members(10, ints);
        let sadd = format!("SADD s {}", ms.join(" "));
        run(&e, &mut c, &sadd);
        assert_eq!(encoding(&e, &mut c, "s"), enc);
        // Negative count: independent picks (Redis's PATH 1).
        let picks = bulks(&run(&e, &mut c, "SRANDMEMBER s -5000"));
        assert_fair(&format!("SRANDMEMBER -5000 {enc}"), &picks, &ms);
        // Distinct picks, both strategies (shuffle; pick until distinct).
        for size in [8, 2] {
            let mut picks = Vec::new();
            for _ in 0..5000 / size {
                picks.extend(bulks(&run(&e, &mut c, &format!("SRANDMEMBER s {size}"))));
            }
            assert_fair(&format!("SRANDMEMBER {size} {enc}"), &picks, &ms);
        }
        // SPOP: the member the first pop of the same set takes, and SPOP with count.
        let mut first = Vec::new();
        let mut counted = Vec::new();
        for _ in 0..3000 {
            run(&e, &mut c, "DEL s");
            run(&e, &mut c, &sadd);
            first.extend(bulks(&run(&e, &mut c, "SPOP s")));
            counted.extend(bulks(&run(&e, &mut c, "SPOP s 3")));
        }
        assert_fair(&format!("SPOP {enc}"), &first, &ms);
        assert_fair(&format!("SPOP 3 {enc}"), &counted, &ms);
    }
}

#[test]
fn a_large_set_is_picked_fairly() {
    // 300 members: chains of every length in the hash table.
    let (e, mut c) = setup();
    let ms = members(300, false);
    run(&e, &mut c, &format!("SADD s {}", ms.join(" ")));
    let picks = bulks(&run(&e, &mut c, "SRANDMEMBER s -60000"));
    assert_fair("SRANDMEMBER large", &picks, &ms);
}

#[test]
fn hrandfield_is_fair_on_both_encodings() {
    for enc in ["listpack", "hashtable"] {
        let (e, mut c) = setup();
        if enc == "hashtable" {
            run(&e, &mut c, "CONFIG SET hash-max-listpack-entries 0");
        }
        let fields = members(10, false);
        let pairs: Vec<String> = fields.iter().map(|f| format!("{f} v")).collect();
        run(&e, &mut c, &format!("HSET h {}", pairs.join(" ")));
        assert_eq!(encoding(&e, &mut c, "h"), enc);
        let picks = bulks(&run(&e, &mut c, "HRANDFIELD h -5000"));
        assert_fair(&format!("HRANDFIELD -5000 {enc}"), &picks, &fields);
        let mut one = Vec::new();
        for _ in 0..3000 {
            one.extend(bulks(&run(&e, &mut c, "HRANDFIELD h")));
        }
        assert_fair(&format!("HRANDFIELD {enc}"), &one, &fields);
        for size in [8, 2] {
            let mut picks = Vec::new();
            for _ in 0..5000 / size {
                picks.extend(bulks(&run(&e, &mut c, &format!("HRANDFIELD h {size}"))));
            }
            assert_fair(&format!("HRANDFIELD {size} {enc}"), &picks, &fields);
        }
    }
}

#[test]
fn zrandmember_is_fair_on_both_encodings() {
    for enc in ["listpack", "skiplist"] {
        let (e, mut c) = setup();
        if enc == "skiplist" {
            run(&e, &mut c, "CONFIG SET zset-max-listpack-entries 0");
        }
        let ms = members(10, false);
        let pairs: Vec<String> = ms.iter().map(|m| format!("1 {m}")).collect();
        run(&e, &mut c, &format!("ZADD z {}", pairs.join(" ")));
        assert_eq!(encoding(&e, &mut c, "z"), enc);
        let picks = bulks(&run(&e, &mut c, "ZRANDMEMBER z -5000"));
        assert_fair(&format!("ZRANDMEMBER -5000 {enc}"), &picks, &ms);
        let mut one = Vec::new();
        for _ in 0..3000 {
            one.extend(bulks(&run(&e, &mut c, "ZRANDMEMBER z")));
        }
        assert_fair(&format!("ZRANDMEMBER {enc}"), &one, &ms);
        for size in [8, 2] {
            let mut picks = Vec::new();
            for _ in 0..5000 / size {
                picks.extend(bulks(&run(&e, &mut c, &format!("ZRANDMEMBER z {size}"))));
            }
            assert_fair(&format!("ZRANDMEMBER {size} {enc}"), &picks, &ms);
        }
    }
}

#[test]
fn randomkey_is_fair_over_keys_not_shards() {
    // 4000 keys in 1024 shards: a few per shard, in chains of mixed lengths.
    let (e, mut c) = setup();
    let keys: Vec<String> = (0..4000).map(|i| format!("key:{i}")).collect();
    for chunk in keys.chunks(500) {
        let pairs: Vec<String> = chunk.iter().map(|k| format!("{k} v")).collect();
        run(&e, &mut c, &format!("MSET {}", pairs.join(" ")));
    }
    let mut picks = Vec::new();
    for _ in 0..keys.len() * 25 {
        picks.extend(bulks(&run(&e, &mut c, "RANDOMKEY")));
    }
    assert_fair("RANDOMKEY", &picks, &keys);
}
