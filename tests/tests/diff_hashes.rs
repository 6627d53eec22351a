//! Differential tests: hash commands against a real redis-server 7.0.

use std::collections::{BTreeMap, HashSet};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff};

/// Sends `line` to both servers without comparing (HELLO replies differ).
fn both(d: &mut Diff, line: &str) {
    d.ours.run(line);
    d.theirs.run(line);
}

#[test]
fn hset_hget_and_friends() {
    let mut d = Diff::new();
    d.script(
        "
        HSET h a 1 b 2 c 3
        HSET h a 10 d 4
        HGET h a
        HGET h nope
        HGET nokey a
        HMSET h e 5 f 6
        HMSET h e
        HSET h a
        HSET h a 1 b
        HSET h
        HMGET h a b nope e
        HMGET nokey a b
        HGETALL h
        HGETALL nokey
        HKEYS h
        HKEYS nokey
        HVALS h
        HVALS nokey
        HLEN h
        HLEN nokey
        HSTRLEN h a
        HSTRLEN h nope
        HSTRLEN nokey a
        HEXISTS h a
        HEXISTS h nope
        HEXISTS nokey a
        HSETNX h a 100
        HSETNX h z 26
        HSETNX h2 x y
        HGET h z
        HGETALL h2
        OBJECT ENCODING h
        HDEL h a b nope
        HDEL h a
        HDEL nokey a
        HDEL h c d e f z
        EXISTS h
        HDEL h2 x x
        EXISTS h2
        ",
    );
    d.check(&["HSET", "h", "", ""]);
    d.check(&["HGET", "h", ""]);
    d.check(&["HSTRLEN", "h", ""]);
    d.check(&["HEXISTS", "h", ""]);
    d.check(&["HGETALL", "h"]);
    d.check(&["HDEL", "h", ""]);
    d.check(&["EXISTS", "h"]);
}

#[test]
fn wrongtype_and_arity() {
    let mut d = Diff::new();
    d.script(
        "
        SET s v
        HSET s a 1
        HMSET s a 1
        HSETNX s a 1
        HGET s a
        HMGET s a
        HGETALL s
        HKEYS s
        HVALS s
        HDEL s a
        HLEN s
        HSTRLEN s a
        HEXISTS s a
        HINCRBY s a 1
        HINCRBYFLOAT s a 1
        HRANDFIELD s
        HRANDFIELD s 2
        HSCAN s 0
        HSET h a 1
        GET h
        HGET
        HGET h
        HMGET h
        HDEL h
        HLEN
        HSTRLEN h
        HEXISTS h
        HINCRBY h a
        HINCRBYFLOAT h a
        HRANDFIELD
        HSCAN h
        HGETALL h x
        HKEYS h x
        HSETNX h a
        ",
    );
}

#[test]
fn hincrby_and_hincrbyfloat() {
    let mut d = Diff::new();
    d.script(
        "
        HINCRBY h n 5
        HINCRBY h n -7
        HINCRBY h n abc
        HINCRBY h n 1.5
        HINCRBY h n 9223372036854775807
        HSET h big 9223372036854775807 small -9223372036854775808 s hello f 1.5 lz 007
        HINCRBY h big 1
        HINCRBY h small -1
        HINCRBY h big 0
        HINCRBY h s 1
        HINCRBY h f 1
        HINCRBY h lz 1
        HINCRBY h new 9223372036854775807
        HINCRBY h new 1
        HINCRBY nokey f 1
        HGETALL nokey
        HINCRBYFLOAT h n 1.5
        HINCRBYFLOAT h n -0.5
        HINCRBYFLOAT h f 0.1
        HINCRBYFLOAT h fl 10.5e3
        HINCRBYFLOAT h fl 1e-5
        HINCRBYFLOAT h s 1
        HINCRBYFLOAT h lz 1
        HINCRBYFLOAT h n abc
        HINCRBYFLOAT h n inf
        HINCRBYFLOAT h n -inf
        HINCRBYFLOAT h n nan
        HINCRBYFLOAT nokey2 f inf
        EXISTS nokey2
        HINCRBYFLOAT h huge 1e4930
        HINCRBYFLOAT h huge 1e4930
        HINCRBYFLOAT h neg -3
        HINCRBYFLOAT h neg 3
        HINCRBYFLOAT h x 0x10
        HINCRBYFLOAT hx a 0x123456789abcdef0123456789
        HINCRBYFLOAT hx b 0x.8
        HINCRBYFLOAT hx c 0x1p-16400
        HINCRBYFLOAT hx d 0x1p16383
        HINCRBYFLOAT hx e 0x1p16384
        HINCRBYFLOAT hx f 0x1.8P+1
        HINCRBYFLOAT hx g 0x
        HINCRBYFLOAT hx f -0x1p1
        HINCRBYFLOAT h y 5.0e3
        HINCRBYFLOAT h z 3.0000000000000000001
        HINCRBYFLOAT h w 1.1
        HINCRBYFLOAT h w 2.2
        OBJECT ENCODING h
        ",
    );
    for (f, v) in [("sp", " 1"), ("sp2", "1 "), ("e", "")] {
        d.check(&["HSET", "h", f, v]);
        d.check(&["HINCRBY", "h", f, "1"]);
        d.check(&["HINCRBYFLOAT", "h", f, "1"]);
        d.check(&["HINCRBYFLOAT", "h", "y", v]);
        d.check(&["HINCRBY", "h", "y", v]);
    }
    // The long-double results must be the exact same text.
    d.check_pairs(&["HGETALL", "h"]);
}

#[test]
fn hrandfield_deterministic_cases() {
    let mut d = Diff::new();
    d.script(
        "
        HRANDFIELD nokey
        HRANDFIELD nokey 5
        HRANDFIELD nokey -5 WITHVALUES
        HRANDFIELD nokey 0
        HSET h a 1
        HRANDFIELD h
        HRANDFIELD h 1
        HRANDFIELD h -3
        HRANDFIELD h -3 WITHVALUES
        HRANDFIELD h 0
        HRANDFIELD h 0 WITHVALUES
        HRANDFIELD h 5 WITHVALUES
        HRANDFIELD h x
        HRANDFIELD h 1 WITHVALUE
        HRANDFIELD h 1 WITHVALUES x
        HRANDFIELD h -9223372036854775808
        HRANDFIELD h 9223372036854775807 WITHVALUES
        HRANDFIELD h -4611686018427387904 WITHVALUES
        HRANDFIELD h 4611686018427387903 WITHVALUES
        HRANDFIELD nokey x
        HRANDFIELD nokey 1 foo
        ",
    );
    both(&mut d, "HELLO 3");
    d.script(
        "
        HRANDFIELD h -2 WITHVALUES
        HRANDFIELD h 2 WITHVALUES
        HRANDFIELD h 2
        HRANDFIELD nokey 2 WITHVALUES
        HRANDFIELD nokey
        HGETALL h
        HGETALL nokey
        HSCAN h 0
        HSCAN nokey 0
        HKEYS h
        HVALS nokey
        HMGET h a b
        HINCRBYFLOAT h n 1.5
        ",
    );
    d.line("CONFIG SET hash-max-listpack-entries 1");
    d.check(&["HSET", "big", "a", "1", "b", "2", "c", "3"]);
    d.check_pairs(&["HGETALL", "big"]);
}

/// Field set of an HRANDFIELD reply (flat or RESP3 pairs).
fn fields(f: &Frame, withvalues: bool) -> Vec<(String, Option<String>)> {
    let Frame::Array(items) = f else {
        panic!("not an array: {}", show(f));
    };
    let mut out = Vec::new();
    if withvalues {
        if items.iter().all(|i| matches!(i, Frame::Array(_))) && !items.is_empty() {
            for i in items {
                let Frame::Array(p) = i else { unreachable!() };
                out.push((show(&p[0]), Some(show(&p[1]))));
            }
        } else {
            for c in items.chunks(2) {
                out.push((show(&c[0]), Some(show(&c[1]))));
            }
        }
    } else {
        for i in items {
            out.push((show(i), None));
        }
    }
    out
}

#[test]
fn hrandfield_invariants_both_encodings() {
    let mut d = Diff::new();
    for (setup, n) in [("", 5usize), ("CONFIG SET hash-max-listpack-entries 2", 40)] {
        d.ours.run("FLUSHALL");
        d.theirs.run("FLUSHALL");
        if !setup.is_empty() {
            d.line(setup);
        }
        let mut expected = BTreeMap::new();
        for i in 0..n {
            let (f, v) = (format!("f{i}"), format!("v{i}"));
            d.check(&["HSET", "h", &f, &v]);
            expected.insert(f, v);
        }
        for proto in ["HELLO 2", "HELLO 3"] {
            d.ours.run(proto);
            for count in [
                1i64,
                2,
                3,
                n as i64 - 1,
                n as i64,
                n as i64 + 3,
                -1,
                -3,
                -100,
            ] {
                for wv in [false, true] {
                    let mut cmd = vec!["HRANDFIELD".to_string(), "h".into(), count.to_string()];
                    if wv {
                        cmd.push("WITHVALUES".into());
                    }
                    let reply = d.ours.cmd(&cmd);
                    let got = fields(&reply, wv);
                    let want = if count < 0 {
                        count.unsigned_abs() as usize
                    } else {
                        (count as usize).min(n)
                    };
                    assert_eq!(got.len(), want, "{cmd:?}: {}", show(&reply));
                    let mut distinct = HashSet::new();
                    for (f, v) in &got {
                        let f = f.trim_matches('"').to_string();
                        let want_v = expected
                            .get(&f)
                            .unwrap_or_else(|| panic!("{f} not a field"));
                        if let Some(v) = v {
                            assert_eq!(v.trim_matches('"'), want_v);
                        }
                        distinct.insert(f);
                    }
                    if count > 0 {
                        assert_eq!(distinct.len(), got.len(), "duplicates in {cmd:?}");
                    }
                }
            }
        }
        d.ours.run("HELLO 2");
        let one = d.ours.run("HRANDFIELD h");
        assert!(expected.contains_key(show(&one).trim_matches('"')));
        d.check(&["OBJECT", "ENCODING", "h"]);
    }
}

#[test]
fn encoding_conversions() {
    let mut d = Diff::new();
    d.script(
        "
        CONFIG SET hash-max-listpack-entries 3
        CONFIG SET hash-max-listpack-value 5
        HSET h a 1 b 2 c 3
        OBJECT ENCODING h
        HSET h a 11
        OBJECT ENCODING h
        HSET h d 4
        OBJECT ENCODING h
        HDEL h a b c
        OBJECT ENCODING h
        HSET v a 12345
        OBJECT ENCODING v
        HSET v a 123456
        OBJECT ENCODING v
        HSET w abcdef 1
        OBJECT ENCODING w
        HSET x a 1 b 123456
        OBJECT ENCODING x
        HSETNX y a 123456
        OBJECT ENCODING y
        HSETNX y2 abcdefg 1
        OBJECT ENCODING y2
        HINCRBY z abcdefgh 1
        OBJECT ENCODING z
        HINCRBYFLOAT z2 abcdefgh 1
        OBJECT ENCODING z2
        HINCRBYFLOAT z3 f 1.2345
        OBJECT ENCODING z3
        HINCRBY z4 f 123456
        OBJECT ENCODING z4
        HSET z5 a 1 b 2 c 3
        HINCRBY z5 d 1
        OBJECT ENCODING z5
        HMSET m a 1 b 2 c 3 d 4
        OBJECT ENCODING m
        HSET big a 1 b 2 c 3 d 4 e 5
        HGET big c
        HMGET big a e x
        HLEN big
        HSTRLEN big e
        HEXISTS big d
        HINCRBY big a 10
        HINCRBYFLOAT big b 0.5
        HDEL big a b c d
        HGETALL big
        HDEL big e
        EXISTS big
        CONFIG SET hash-max-listpack-entries 0
        HSET e a 1
        OBJECT ENCODING e
        CONFIG SET hash-max-listpack-entries 128
        CONFIG SET hash-max-listpack-value 0
        HSET e2 a 1
        OBJECT ENCODING e2
        ",
    );
    d.check_pairs(&["HGETALL", "m"]);
    d.check_sorted(&["HKEYS", "m"]);
    d.check_sorted(&["HVALS", "m"]);
}

#[test]
fn hscan_options_and_errors() {
    let mut d = Diff::new();
    d.script(
        "
        HSET h a 1 b 2 c 3 ab 4
        HSCAN h 0
        HSCAN h 0 MATCH a*
        HSCAN h 0 MATCH a* COUNT 1
        HSCAN h 0 COUNT 100
        HSCAN h 0 COUNT 0
        HSCAN h 0 COUNT -1
        HSCAN h 0 COUNT x
        HSCAN h 0 MATCH
        HSCAN h 0 FOO bar
        HSCAN h 0 TYPE string
        HSCAN h x
        HSCAN h -1
        HSCAN h 18446744073709551616
        HSCAN h 18446744073709551615
        HSCAN nokey 0
        HSCAN nokey 0 COUNT 0
        HSCAN nokey x
        SET s v
        HSCAN s 0
        HSCAN s 0 COUNT 0
        ",
    );
}

/// Runs HSCAN to completion on ferrokv and returns every field seen.
fn full_hscan(d: &mut Diff, key: &str, opts: &[&str]) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let mut cmd = vec!["HSCAN", key, &cursor];
        cmd.extend_from_slice(opts);
        let reply = d.ours.cmd(&cmd);
        let Frame::Array(parts) = reply else { panic!() };
        cursor = show(&parts[0]).trim_matches('"').to_string();
        let Frame::Array(items) = &parts[1] else {
            panic!()
        };
        for c in items.chunks(2) {
            seen.insert(show(&c[0]).trim_matches('"').to_string());
        }
        if cursor == "0" {
            break;
        }
    }
    seen
}

#[test]
fn hscan_hashtable_matches_redis_as_a_set() {
    let mut d = Diff::new();
    d.line("CONFIG SET hash-max-listpack-entries 4");
    for i in 0..300 {
        d.check(&["HSET", "h", &format!("f{i}"), &i.to_string()]);
    }
    d.check(&["OBJECT", "ENCODING", "h"]);
    let ours = full_hscan(&mut d, "h", &["COUNT", "7"]);
    assert_eq!(ours.len(), 300);
    let matched = full_hscan(&mut d, "h", &["MATCH", "f1*"]);
    let want: HashSet<String> = (0..300)
        .map(|i| format!("f{i}"))
        .filter(|f| f.starts_with("f1"))
        .collect();
    assert_eq!(matched, want);
    d.check_pairs(&["HGETALL", "h"]);
}

#[test]
fn hscan_returns_stable_elements_while_the_hash_changes() {
    let mut d = Diff::new();
    d.line("CONFIG SET hash-max-listpack-entries 4");
    for i in 0..200 {
        d.ours.cmd(&["HSET", "h", &format!("stay{i}"), "v"]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let reply = d.ours.cmd(&["HSCAN", "h", &cursor, "COUNT", "5"]);
        let Frame::Array(parts) = reply else { panic!() };
        cursor = show(&parts[0]).trim_matches('"').to_string();
        let Frame::Array(items) = &parts[1] else {
            panic!()
        };
        for c in items.chunks(2) {
            seen.insert(show(&c[0]).trim_matches('"').to_string());
        }
        // Alternately grow the table a lot and shrink it back between calls.
        if round % 2 == 0 {
            for j in 0..500 {
                d.ours.cmd(&["HSET", "h", &format!("tmp{round}-{j}"), "v"]);
            }
        } else {
            for j in 0..500 {
                d.ours.cmd(&["HDEL", "h", &format!("tmp{}-{j}", round - 1)]);
            }
        }
        round += 1;
        if cursor == "0" {
            break;
        }
    }
    for i in 0..200 {
        assert!(seen.contains(&format!("stay{i}")), "stay{i} missed");
    }
}

#[test]
fn ttl_is_kept_by_writes_and_goes_with_the_key() {
    let mut d = Diff::new();
    d.script(
        "
        HSET h a 1 b 2
        EXPIRE h 1000
        HSET h c 3
        HDEL h a
        HINCRBY h b 1
        HINCRBYFLOAT h b 1.5
        HSETNX h d 4
        TTL h
        HDEL h b c d
        EXISTS h
        TTL h
        HSET h a 1
        TTL h
        PEXPIRE h 1
        ",
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    d.script(
        "
        HGET h a
        HLEN h
        EXISTS h
        ",
    );
}

/// HSCAN's empty cursor is 0 (strtoul); HRANDFIELD's count range comes before
/// the key lookup.
#[test]
fn hscan_cursor_and_hrandfield_ranges() {
    let mut d = Diff::new();
    d.line("HSET h a 1");
    d.line("SET str x");
    d.check(&["HSCAN", "h", ""]);
    d.check(&["HSCAN", "nokey", ""]);
    d.check(&["HSCAN", "str", ""]);
    d.check(&["HSCAN", "h", "+"]);
    d.script(
        "
        HRANDFIELD nokey -9223372036854775808
        HRANDFIELD str -9223372036854775808
        HRANDFIELD str 4611686018427387904 WITHVALUES
        HRANDFIELD str 1.5 WITHVALUES
        HRANDFIELD h 9223372036854775807
        ",
    );
}
