//! Differential tests: set commands against a real redis-server 7.0.

use std::collections::HashSet;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Diff};

fn both(d: &mut Diff, line: &str) {
    d.ours.run(line);
    d.theirs.run(line);
}

#[test]
fn sadd_srem_and_queries() {
    let mut d = Diff::new();
    d.script(
        "
        SADD s 3 1 2 2 3
        SADD s 1
        SMEMBERS s
        SCARD s
        SCARD nokey
        SISMEMBER s 1
        SISMEMBER s 4
        SISMEMBER s 01
        SISMEMBER nokey 1
        SMISMEMBER s 1 4 2 x
        SMISMEMBER nokey 1 2
        OBJECT ENCODING s
        SADD s -5 40000 -40000
        SMEMBERS s
        SADD s 9223372036854775807 -9223372036854775808
        SMEMBERS s
        OBJECT ENCODING s
        SREM s 1 1 4 x
        SREM nokey 1
        SMEMBERS s
        SREM s 2 3 -5 40000 -40000 9223372036854775807 -9223372036854775808
        EXISTS s
        SADD t a b c
        OBJECT ENCODING t
        SMEMBERS nokey
        SADD u 1 a
        OBJECT ENCODING u
        SADD v 007
        OBJECT ENCODING v
        SADD v2 -0
        OBJECT ENCODING v2
        SADD v3 +1
        OBJECT ENCODING v3
        SADD v4 9223372036854775808
        OBJECT ENCODING v4
        SADD v5 1.0
        OBJECT ENCODING v5
        ",
    );
    d.check(&["SADD", "e", ""]);
    d.check(&["SISMEMBER", "e", ""]);
    d.check(&["SMEMBERS", "e"]);
    d.check(&["SADD", "e2", " 1"]);
    d.check(&["OBJECT", "ENCODING", "e2"]);
    d.check_sorted(&["SMEMBERS", "t"]);
}

#[test]
fn wrongtype_and_arity() {
    let mut d = Diff::new();
    d.script(
        "
        SET str v
        SADD s 1
        SADD str 1
        SREM str 1
        SMEMBERS str
        SISMEMBER str 1
        SMISMEMBER str 1
        SCARD str
        SPOP str
        SPOP str 2
        SRANDMEMBER str
        SRANDMEMBER str 2
        SMOVE str s 1
        SMOVE s str 1
        SMOVE nokey str 1
        SMOVE s str 2
        SINTER s str
        SINTER nokey str
        SINTER str nokey
        SINTERCARD 2 s str
        SINTERCARD 2 nokey str
        SINTERSTORE d s str
        SUNION s str
        SUNION nokey str
        SUNIONSTORE d s str
        SDIFF s str
        SDIFF nokey str
        SDIFF str nokey
        SDIFFSTORE d s str
        SDIFFSTORE d nokey str
        SSCAN str 0
        EXISTS d
        SADD
        SADD s
        SREM s
        SISMEMBER s
        SMISMEMBER s
        SCARD
        SPOP
        SPOP s 1 2
        SRANDMEMBER
        SRANDMEMBER s 1 2
        SMOVE s d
        SINTER
        SINTERSTORE d
        SUNION
        SDIFFSTORE d
        SINTERCARD
        SINTERCARD 1
        SSCAN s
        ",
    );
}

#[test]
fn spop_and_srandmember_deterministic_cases() {
    let mut d = Diff::new();
    d.script(
        "
        SPOP nokey
        SPOP nokey 3
        SPOP nokey 0
        SPOP nokey -1
        SPOP nokey x
        SRANDMEMBER nokey
        SRANDMEMBER nokey 3
        SRANDMEMBER nokey -3
        SRANDMEMBER nokey 0
        SRANDMEMBER nokey x
        SADD s 5
        SRANDMEMBER s
        SRANDMEMBER s 1
        SRANDMEMBER s -3
        SRANDMEMBER s 0
        SRANDMEMBER s 10
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER s 9223372036854775807
        SRANDMEMBER s x
        SPOP s 0
        SPOP s -1
        SPOP s x
        SPOP s
        EXISTS s
        SADD s 3 1 2
        SRANDMEMBER s 3
        SRANDMEMBER s 10
        SPOP s 10
        EXISTS s
        SADD s 3 1 2
        SPOP s 3
        EXISTS s
        SADD s 7
        SPOP s 1
        EXISTS s
        ",
    );
    both(&mut d, "HELLO 3");
    d.script(
        "
        SADD r 3 1 2
        SMEMBERS r
        SRANDMEMBER r 3
        SRANDMEMBER r 5
        SRANDMEMBER r 0
        SRANDMEMBER nokey 2
        SRANDMEMBER nokey
        SPOP nokey
        SPOP nokey 2
        SPOP r 0
        SMEMBERS nokey
        SINTER r r
        SINTER r nokey
        SUNION r nokey
        SDIFF r nokey
        SDIFF nokey r
        SMISMEMBER r 1 9
        SSCAN r 0
        SSCAN nokey 0
        SINTERCARD 1 r
        SINTERSTORE dst r
        SPOP r 10
        SADD r 9
        SPOP r 1
        ",
    );
}

fn members(f: &Frame) -> Vec<String> {
    match f {
        Frame::Array(items) | Frame::Set(items) => items
            .iter()
            .map(|i| show(i).trim_matches('"').to_string())
            .collect(),
        other => panic!("not a collection: {}", show(other)),
    }
}

#[test]
fn spop_and_srandmember_invariants_both_encodings() {
    let mut d = Diff::new();
    for (setup, n, prefix) in [
        ("CONFIG SET set-max-intset-entries 512", 6usize, ""),
        ("CONFIG SET set-max-intset-entries 4", 50, ""),
        ("CONFIG SET set-max-intset-entries 512", 50, "m"),
    ] {
        d.line(setup);
        for proto in ["HELLO 2", "HELLO 3"] {
            d.ours.run(proto);
            d.ours.run("DEL s");
            let all: HashSet<String> = (0..n).map(|i| format!("{prefix}{i}")).collect();
            for m in &all {
                d.ours.cmd(&["SADD", "s", m]);
            }
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
                let reply = d.ours.cmd(&["SRANDMEMBER", "s", &count.to_string()]);
                let got = members(&reply);
                let want = if count < 0 {
                    count.unsigned_abs() as usize
                } else {
                    (count as usize).min(n)
                };
                assert_eq!(got.len(), want, "SRANDMEMBER {count}: {}", show(&reply));
                assert!(got.iter().all(|m| all.contains(m)));
                if count > 0 {
                    let distinct: HashSet<&String> = got.iter().collect();
                    assert_eq!(distinct.len(), got.len());
                }
            }
            let one = show(&d.ours.run("SRANDMEMBER s"));
            assert!(all.contains(one.trim_matches('"')));
            // SPOP: popped members are distinct, removed, and the rest remain.
            let mut left = all.clone();
            let popped = members(&d.ours.cmd(&["SPOP", "s", "3"]));
            assert_eq!(popped.len(), 3);
            for m in &popped {
                assert!(left.remove(m), "{m} popped twice or never there");
            }
            let single = show(&d.ours.run("SPOP s"));
            assert!(left.remove(single.trim_matches('"')));
            let rest: HashSet<String> = members(&d.ours.run("SMEMBERS s")).into_iter().collect();
            assert_eq!(rest, left);
            let last = members(&d.ours.cmd(&["SPOP", "s", "1000"]));
            assert_eq!(last.into_iter().collect::<HashSet<_>>(), left);
            assert_eq!(d.ours.run("EXISTS s"), Frame::Integer(0));
        }
        d.ours.run("HELLO 2");
    }
}

#[test]
fn smove_cases() {
    let mut d = Diff::new();
    d.script(
        "
        SADD a 1 2 x
        SADD b 3
        SMOVE a b 1
        SMEMBERS b
        SMOVE a b 1
        SMOVE a b nope
        SMOVE nokey b 1
        SMOVE a a x
        SMOVE a a nope
        SMOVE a c 2
        OBJECT ENCODING c
        SMEMBERS c
        SMOVE a c x
        OBJECT ENCODING c
        EXISTS a
        SMOVE c b 2
        SMEMBERS b
        OBJECT ENCODING b
        SET str v
        SMOVE nokey str 1
        SMOVE c str x
        SMOVE str c x
        CONFIG SET set-max-intset-entries 2
        SADD i 1 2
        SADD j 3
        SMOVE i j 1
        OBJECT ENCODING j
        SMOVE i j 2
        OBJECT ENCODING j
        EXISTS i
        ",
    );
    d.check_sorted(&["SMEMBERS", "j"]);
}

#[test]
fn inter_union_diff_and_store() {
    let mut d = Diff::new();
    d.script(
        "
        SADD a 1 2 3 4 5
        SADD b 4 5 6 7
        SADD c 5 7 9
        SADD x a b c 5
        SINTER a b
        SINTER a b c
        SINTER a nokey
        SINTER nokey a
        SINTER a
        SINTER a a
        SUNION a b
        SUNION a b c
        SUNION a nokey
        SUNION nokey
        SDIFF a b
        SDIFF a b c
        SDIFF a nokey
        SDIFF nokey a
        SDIFF a a
        SDIFF b a c
        SINTERCARD 1 a
        SINTERCARD 2 a b
        SINTERCARD 3 a b c
        SINTERCARD 2 a nokey
        SINTERCARD 2 a b LIMIT 1
        SINTERCARD 2 a b LIMIT 0
        SINTERCARD 2 a b LIMIT 100
        SINTERCARD 2 a b limit 1 LIMIT 2
        SINTERCARD 0 a
        SINTERCARD -1 a
        SINTERCARD x a
        SINTERCARD 3 a b
        SINTERCARD 2 a b LIMIT -1
        SINTERCARD 2 a b LIMIT x
        SINTERCARD 2 a b LIMIT
        SINTERCARD 2 a b FOO
        SINTERCARD 1 a b
        SINTERCARD 9223372036854775807 a
        SINTERSTORE d a b
        SMEMBERS d
        OBJECT ENCODING d
        SINTERSTORE d a nokey
        EXISTS d
        SET str v
        EXPIRE str 100
        SINTERSTORE str a b
        TYPE str
        TTL str
        SMEMBERS str
        SINTERSTORE d2 a x
        SMEMBERS d2
        OBJECT ENCODING d2
        SUNIONSTORE u a b c
        SMEMBERS u
        OBJECT ENCODING u
        SUNIONSTORE u nokey
        EXISTS u
        SET str2 v
        SUNIONSTORE str2 a
        TYPE str2
        SDIFFSTORE df a b
        SMEMBERS df
        SDIFFSTORE df a a
        EXISTS df
        SET str3 v
        SDIFFSTORE str3 nokey
        EXISTS str3
        SDIFFSTORE a a b
        SMEMBERS a
        SINTERSTORE a a a
        SMEMBERS a
        SUNIONSTORE a a c
        SMEMBERS a
        ",
    );
    d.check_sorted(&["SINTER", "x", "a"]);
    d.check_sorted(&["SUNION", "x", "a"]);
    d.check_sorted(&["SDIFF", "x", "a"]);
    d.check(&["SINTERCARD", "2", "x", "a"]);
    d.check(&["SUNIONSTORE", "ux", "x", "a"]);
    d.check(&["OBJECT", "ENCODING", "ux"]);
    d.check_sorted(&["SMEMBERS", "ux"]);
    d.check(&["SDIFFSTORE", "dx", "x", "a"]);
    d.check(&["OBJECT", "ENCODING", "dx"]);
    d.check_sorted(&["SMEMBERS", "dx"]);
}

#[test]
fn encoding_conversions() {
    let mut d = Diff::new();
    d.script(
        "
        CONFIG SET set-max-intset-entries 3
        SADD s 1 2 3
        OBJECT ENCODING s
        SADD s 3
        OBJECT ENCODING s
        SADD s 4
        OBJECT ENCODING s
        SREM s 1 2 3
        OBJECT ENCODING s
        SMEMBERS s
        SADD t 1 2 3 4
        OBJECT ENCODING t
        SADD w a
        OBJECT ENCODING w
        SREM w a
        SADD w 1
        OBJECT ENCODING w
        SADD y 1 a
        SREM y a
        OBJECT ENCODING y
        SMEMBERS y
        SUNIONSTORE z y
        OBJECT ENCODING z
        SMEMBERS z
        SUNION y
        SADD big 1 2 3 4 5 6
        SREM big 6
        OBJECT ENCODING big
        SREM big 1 2 3 4 5 6
        SADD big2 1 2 3 4 5 6
        SREM big2 1 2 3 4
        SPOP big2 10
        SADD big3 1 2 3 4 5 6
        SREM big3 1 2 3 4
        SUNION big3
        SDIFF big3 nokey
        SDIFFSTORE d3 big3 nokey
        OBJECT ENCODING d3
        SADD k 10 20 30 40 50
        SADD l 10 20 30 40 99
        SDIFFSTORE dk k l
        OBJECT ENCODING dk
        SMEMBERS dk
        SADD m1 1 2 3 4 5 6 7 8
        SADD m2 1 2 3 4 5 6 7
        SADD m3 1
        SADD m4 2
        SDIFFSTORE dm m1 m2 m3 m4
        OBJECT ENCODING dm
        SDIFFSTORE dm2 m1 m3
        OBJECT ENCODING dm2
        SINTERSTORE im m1 m2
        OBJECT ENCODING im
        SINTERSTORE im2 m1 m3
        OBJECT ENCODING im2
        SMEMBERS im2
        CONFIG SET set-max-intset-entries 0
        SADD z0 1
        OBJECT ENCODING z0
        CONFIG SET set-max-intset-entries 512
        SADD w1 40000 1
        SADD w2 5000000000 -1
        OBJECT ENCODING w1
        OBJECT ENCODING w2
        SMEMBERS w2
        ",
    );
    d.check_sorted(&["SMEMBERS", "t"]);
    d.check_sorted(&["SMEMBERS", "d3"]);
    d.check_sorted(&["SINTER", "big3", "big3"]);
}

#[test]
fn sscan_options_and_errors() {
    let mut d = Diff::new();
    d.script(
        "
        SADD s 10 2 3 11
        SSCAN s 0
        SSCAN s 0 MATCH 1*
        SSCAN s 0 COUNT 1
        SSCAN s 0 COUNT 0
        SSCAN s 0 COUNT x
        SSCAN s 0 MATCH
        SSCAN s 0 TYPE set
        SSCAN s x
        SSCAN s -1
        SSCAN nokey 0
        SSCAN nokey 0 FOO
        SADD t a b ab
        ",
    );
    for opts in [&[][..], &["MATCH", "a*"], &["COUNT", "100"]] {
        let mut cmd = vec!["SSCAN", "t", "0"];
        cmd.extend_from_slice(opts);
        let (Frame::Array(a), Frame::Array(b)) = (d.ours.cmd(&cmd), d.theirs.cmd(&cmd)) else {
            panic!()
        };
        assert_eq!(show(&a[0]), show(&b[0]));
        let mut x = members(&a[1]);
        let mut y = members(&b[1]);
        x.sort();
        y.sort();
        assert_eq!(x, y, "{cmd:?}");
    }
}

fn full_sscan(d: &mut Diff, key: &str, opts: &[&str]) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    loop {
        let mut cmd = vec!["SSCAN", key, &cursor];
        cmd.extend_from_slice(opts);
        let Frame::Array(parts) = d.ours.cmd(&cmd) else {
            panic!()
        };
        cursor = show(&parts[0]).trim_matches('"').to_string();
        seen.extend(members(&parts[1]));
        if cursor == "0" {
            break;
        }
    }
    seen
}

#[test]
fn sscan_hashtable_returns_everything() {
    let mut d = Diff::new();
    for i in 0..300 {
        d.check(&["SADD", "s", &format!("m{i}")]);
    }
    d.check(&["OBJECT", "ENCODING", "s"]);
    assert_eq!(full_sscan(&mut d, "s", &["COUNT", "7"]).len(), 300);
    let want: HashSet<String> = (0..300)
        .map(|i| format!("m{i}"))
        .filter(|m| m.starts_with("m2"))
        .collect();
    assert_eq!(full_sscan(&mut d, "s", &["MATCH", "m2*"]), want);
    d.check_sorted(&["SMEMBERS", "s"]);
}

#[test]
fn sscan_returns_stable_members_while_the_set_changes() {
    let mut d = Diff::new();
    for i in 0..200 {
        d.ours.cmd(&["SADD", "s", &format!("stay{i}")]);
    }
    let mut seen = HashSet::new();
    let mut cursor = "0".to_string();
    let mut round = 0;
    loop {
        let Frame::Array(parts) = d.ours.cmd(&["SSCAN", "s", &cursor, "COUNT", "5"]) else {
            panic!()
        };
        cursor = show(&parts[0]).trim_matches('"').to_string();
        seen.extend(members(&parts[1]));
        if round % 2 == 0 {
            for j in 0..500 {
                d.ours.cmd(&["SADD", "s", &format!("tmp{round}-{j}")]);
            }
        } else {
            for j in 0..500 {
                d.ours.cmd(&["SREM", "s", &format!("tmp{}-{j}", round - 1)]);
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
        SADD s 1 2 3
        EXPIRE s 1000
        SADD s a
        SREM s 1
        SADD d x
        EXPIRE d 500
        SMOVE s d 2
        TTL s
        TTL d
        SUNIONSTORE d s
        TTL d
        SREM s 3 a
        EXISTS s
        SADD s 1
        TTL s
        PEXPIRE s 1
        ",
    );
    std::thread::sleep(std::time::Duration::from_millis(20));
    d.script(
        "
        SMEMBERS s
        SCARD s
        SISMEMBER s 1
        ",
    );
}

/// SSCAN's empty cursor is 0 (strtoul); SRANDMEMBER's count range is checked
/// before the key (a missing key or another type still gets the range error).
#[test]
fn sscan_cursor_and_count_ranges() {
    let mut d = Diff::new();
    d.line("SADD s 1 2 3");
    d.line("SET str x");
    d.check(&["SSCAN", "s", ""]);
    d.check(&["SSCAN", "nokey", ""]);
    d.check(&["SSCAN", "str", ""]);
    d.check(&["SSCAN", "str", "-"]);
    d.script(
        "
        SRANDMEMBER s -9223372036854775808
        SRANDMEMBER nokey -9223372036854775808
        SRANDMEMBER str -9223372036854775808
        SRANDMEMBER str abc
        SRANDMEMBER s 9223372036854775807
        SRANDMEMBER s 1 2
        SPOP s -1
        SPOP str -1
        SPOP nokey abc
        SPOP s 1 2
        ",
    );
}
