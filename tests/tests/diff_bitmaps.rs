//! Differential tests: bitmap commands (SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP,
//! BITFIELD, BITFIELD_RO) against a real redis-server 7.0, replies and the bytes
//! left behind compared exactly.

use std::cell::RefCell;

use ferrokv_tests::{malformed, show, Diff};
use proptest::prelude::*;

#[test]
fn setbit_getbit_and_errors() {
    let mut d = Diff::new();
    d.script(
        "
        SETBIT b 7 1
        GET b
        SETBIT b 7 1
        SETBIT b 100 1
        GET b
        STRLEN b
        OBJECT ENCODING b
        GETBIT b 100
        GETBIT b 99999999
        GETBIT nokey 3
        SETBIT b -1 1
        SETBIT b 4294967296 1
        GETBIT b 4294967296
        GETBIT b -1
        SETBIT b 4294967295 2
        SETBIT b 1 -1
        SETBIT b abc 1
        SETBIT b 1 abc
        SETBIT b 1.5 1
        SETBIT b 01 1
        SET n 12345
        OBJECT ENCODING n
        GETBIT n 2
        SETBIT n 2 1
        GET n
        OBJECT ENCODING n
        SET e hello
        SETBIT e 0 0
        OBJECT ENCODING e
        LPUSH l a
        SETBIT l 0 1
        GETBIT l 0
        SETBIT e 0
        ",
    );
}

#[test]
fn offsets_are_limited_by_proto_max_bulk_len() {
    let mut d = Diff::new();
    d.script(
        "
        CONFIG SET proto-max-bulk-len 1048576
        SETBIT big 8388608 1
        SETBIT big 8388607 1
        STRLEN big
        GETBIT big 8388607
        BITCOUNT big
        BITPOS big 1
        BITPOS big 0
        BITPOS big 1 -1
        BITFIELD big GET u8 #1048575 SET u8 #1048576 1
        BITFIELD big SET u8 8388600 7
        BITFIELD big SET u1 8388607 0 SET u2 8388607 0
        BITFIELD big SET i64 #131071 -1
        BITFIELD big GET i64 8388544 GET u63 8388545
        BITFIELD big SET i64 #131072 -1
        BITCOUNT big
        SETRANGE big 1048575 x
        CONFIG SET proto-max-bulk-len 536870912
        SETBIT big 8388608 1
        STRLEN big
        BITFIELD big2 SET u8 #9223372036854775807 1
        BITFIELD big2 SET i64 #144115188075855872 1
        BITFIELD big2 GET i2 #4611686018427387904
        EXISTS big2
        ",
    );
}

#[test]
fn bitcount_ranges_and_units() {
    let mut d = Diff::new();
    d.script(
        "
        SET s foobar
        BITCOUNT s
        BITCOUNT s 0 -1
        BITCOUNT s 0 -1 BIT
        BITCOUNT s 0 -1 byte
        BITCOUNT s 1 1
        BITCOUNT s 5 30 BIT
        BITCOUNT s 5 30 bit
        BITCOUNT s -3 -1 BIT
        BITCOUNT s -1 -1
        BITCOUNT s -100 100
        BITCOUNT s 100 200
        BITCOUNT s -1 -5
        BITCOUNT s -1 -5 foo
        BITCOUNT s 0 -1 foo
        BITCOUNT s 1
        BITCOUNT nokey 1
        BITCOUNT nokey a b c d
        BITCOUNT s 1 2 3 4
        BITCOUNT s a 1
        BITCOUNT s 1 b
        BITCOUNT s 0 9223372036854775807
        BITCOUNT s -9223372036854775808 -1
        BITCOUNT s 0 9223372036854775807 BIT
        BITCOUNT s 7 7 BIT
        BITCOUNT s 8 15 BIT
        BITCOUNT s 9 9 BIT
        SET z \"\"
        BITCOUNT z
        BITCOUNT z 0 -1 BIT
        SET i 1234567
        BITCOUNT i
        BITCOUNT i 1 2 BIT
        LPUSH l a
        BITCOUNT l
        BITCOUNT l 1
        ",
    );
}

#[test]
fn bitpos_ranges_and_the_end_of_string_rule() {
    let mut d = Diff::new();
    d.script(
        "
        SET s foobar
        BITPOS s 1
        BITPOS s 0
        BITPOS s 1 2
        BITPOS s 1 2 -1 BIT
        BITPOS s 0 2 -1 BIT
        BITPOS s 0 7 15 BIT
        BITPOS s 1 7 15 BIT
        BITPOS s 0 0 -1
        BITPOS s 1 -1
        BITPOS s 1 -100 -50
        BITPOS s 0 100
        BITPOS s 2
        BITPOS s -1
        BITPOS s x
        BITPOS nokey 1 x
        BITPOS nokey 0
        BITPOS nokey 1
        BITPOS nokey 2
        BITPOS s 1 0 1 foo
        BITPOS s 1 x
        BITPOS s 1 0 x
        BITPOS s 1 0 1 BIT extra
        SETBIT ff 23 1
        SET ff \"\"
        BITPOS ff 0
        BITPOS ff 1
        BITFIELD ff SET u24 0 16777215
        BITPOS ff 0
        BITPOS ff 0 0 -1
        BITPOS ff 0 0
        BITPOS ff 0 1
        BITPOS ff 0 0 -1 BIT
        BITPOS ff 0 0 23 BIT
        BITPOS ff 1 1 2 BIT
        BITPOS ff 0 3 2 BIT
        BITPOS ff 1 5 5 BIT
        BITPOS ff 1 0 -1 BYTE
        SETBIT zeros 799 0
        BITPOS zeros 1
        BITPOS zeros 0
        BITPOS zeros 1 10 -1
        BITPOS zeros 0 10 -1
        SETBIT zeros 700 1
        BITPOS zeros 1
        BITPOS zeros 1 3 -1 BIT
        BITPOS zeros 1 701 -1 BIT
        BITPOS zeros 1 699 700 BIT
        SET i 1234567
        BITPOS i 1
        BITPOS i 0 1 2
        LPUSH l a
        BITPOS l 1
        BITPOS l 1 x
        ",
    );
}

#[test]
fn bitop_lengths_types_and_destinations() {
    let mut d = Diff::new();
    d.script(
        "
        SET a foobar
        SET b abc
        SET c \"\"
        BITOP AND dest a b
        GET dest
        OBJECT ENCODING dest
        BITOP OR dest a b nokey
        GET dest
        BITOP XOR dest a b
        GET dest
        BITOP NOT dest a
        GET dest
        BITOP not dest b
        GET dest
        BITOP NOT dest a b
        BITOP NOT dest
        BITOP nand dest a
        BITOP AND dest nokey nokey2
        EXISTS dest
        SET dest x
        EXPIRE dest 100
        BITOP OR dest a
        TTL dest
        BITOP AND dest c c
        EXISTS dest
        BITOP AND dest a dest
        GET dest
        SET n 1234
        BITOP XOR dest n a
        GET dest
        OBJECT ENCODING dest
        LPUSH l a
        BITOP AND dest a l
        BITOP AND l a
        GET l
        BITOP OR dest nokey l
        ",
    );
    // Long strings take the word-at-a-time path, with sources of uneven lengths.
    let long_a = "ab".repeat(600);
    let long_b = "\u{7f}xyz".repeat(170);
    d.check(&["SET", "la", &long_a]);
    d.check(&["SET", "lb", &long_b]);
    for op in ["AND", "OR", "XOR"] {
        d.check(&["BITOP", op, "r", "la", "lb", "b", "la"]);
        d.check(&["GET", "r"]);
        d.check(&["BITOP", op, "r", "lb", "la"]);
        d.check(&["GET", "r"]);
    }
    d.check(&["BITOP", "NOT", "r", "la"]);
    d.check(&["GET", "r"]);
}

#[test]
fn bitfield_types_offsets_and_overflow() {
    let mut d = Diff::new();
    d.script(
        "
        BITFIELD bf SET i8 0 -100
        BITFIELD bf SET i8 0 101 GET i8 0 GET u4 4 INCRBY u2 100 1
        GET bf
        BITFIELD bf OVERFLOW SAT INCRBY u8 #0 300 OVERFLOW FAIL INCRBY i8 #1 200 OVERFLOW WRAP INCRBY i5 3 100
        BITFIELD bf GET u63 0 GET i64 1 GET i64 #3 GET u1 7 GET i1 7
        BITFIELD bf SET u64 0 1
        BITFIELD bf SET i65 0 1
        BITFIELD bf SET u0 0 1
        BITFIELD bf SET x8 0 1
        BITFIELD bf SET U8 0 1
        BITFIELD bf SET u08 0 1
        BITFIELD bf SET u8 -1 1
        BITFIELD bf SET u8 #-1 1
        BITFIELD bf SET u8 #1 abc
        BITFIELD bf SET u8 ## 1
        BITFIELD bf GET u8
        BITFIELD bf OVERFLOW foo GET u8 0
        BITFIELD bf OVERFLOW
        BITFIELD bf foo u8 0
        BITFIELD bf GET u8 0 SET u8 0 1 INCRBY u8
        BITFIELD bf get u8 0 set u8 0 1 incrby u8 0 1 overflow sat
        BITFIELD bf SET u8 4294967296 1
        BITFIELD bf SET u8 #536870912 1
        DEL bf
        BITFIELD_RO bf GET u8 0
        BITFIELD_RO bf SET u8 0 1
        BITFIELD_RO bf GET u8 0 SET u8 0 1 GET x
        BITFIELD_RO bf GET u8 0 INCRBY u8 0 x
        BITFIELD_RO bf OVERFLOW FAIL GET u8 0
        BITFIELD new OVERFLOW FAIL INCRBY u2 10 100
        EXISTS new
        GET new
        BITFIELD new2 OVERFLOW FAIL SET u2 10 100
        GET new2
        SET grow ab
        BITFIELD grow OVERFLOW FAIL INCRBY u8 100 300
        STRLEN grow
        BITFIELD n2 SET i64 0 -1 INCRBY i64 0 -9223372036854775808 GET u63 1
        BITFIELD n3 OVERFLOW SAT SET u8 0 -1 SET i8 8 -129 SET i8 16 128 GET i8 8 GET u8 0
        BITFIELD n4 OVERFLOW WRAP SET u8 0 -1 SET i8 8 -129 SET i8 16 128 GET i8 16
        BITFIELD n5 OVERFLOW FAIL SET u8 0 -1 SET i8 8 -129 SET i8 16 127
        BITFIELD n6 INCRBY i64 0 9223372036854775807 INCRBY i64 0 1 OVERFLOW SAT INCRBY i64 0 -1 INCRBY i64 0 9223372036854775807
        BITFIELD n7 OVERFLOW SAT INCRBY u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u63 0 -9223372036854775807 INCRBY u63 0 -9223372036854775807
        BITFIELD n8 OVERFLOW WRAP INCRBY u63 0 9223372036854775807 INCRBY u63 0 1 INCRBY u1 3 -5 INCRBY i1 4 -1 INCRBY i1 4 -1
        BITFIELD n8 GET i1 0 GET u1 0 GET i63 1
        BITFIELD n9 OVERFLOW SAT INCRBY i64 0 -9223372036854775808 INCRBY i64 0 -1 OVERFLOW WRAP INCRBY i64 0 -1
        BITFIELD n10 OVERFLOW FAIL INCRBY i3 0 3 INCRBY i3 0 1 INCRBY i3 0 -7 INCRBY i3 0 -8 GET i3 0
        LPUSH lst x
        BITFIELD lst GET u8 0
        BITFIELD lst SET u8 0 1
        BITFIELD_RO lst GET u8 0
        BITFIELD lst
        BITFIELD_RO nokey
        SET num 1234
        BITFIELD num GET u8 0 GET i16 #1
        BITFIELD num SET u8 0 255
        GET num
        ",
    );
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["{b}a", "{b}b", "{b}c", "{b}n"]).prop_map(String::from)
}

/// Bit offsets: small, around byte and word edges, a few far ones, and the limits.
fn offset() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => 0u64..80,
        2 => prop::sample::select(vec![63u64, 64, 127, 128, 255, 256, 511, 1023, 4095]),
        1 => 0u64..40_000,
        // Past the 512 MB limit (the largest valid offset would make both servers
        // allocate 512 MB; offsets_are_limited_by_proto_max_bulk_len covers the edge).
        1 => prop::sample::select(vec![4294967296u64, 34359738368, 9223372036854775807]),
    ]
    .prop_map(|o| o.to_string())
}

/// Range bounds for BITCOUNT / BITPOS, negative ones included.
fn bound() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => -40i64..40,
        1 => prop::sample::select(vec![-9223372036854775808i64, 9223372036854775807, -1000, 1000]),
    ]
    .prop_map(|o| o.to_string())
}

fn field_type() -> impl Strategy<Value = String> {
    prop_oneof![
        (1u32..=64).prop_map(|b| format!("i{b}")),
        (1u32..=63).prop_map(|b| format!("u{b}")),
        prop::sample::select(vec!["u64", "i65", "u0", "x8"]).prop_map(String::from),
    ]
}

/// Field values around the edges of every width.
fn field_value() -> impl Strategy<Value = String> {
    prop_oneof![
        -300i64..300,
        (0u32..64).prop_map(|b| 1i64.wrapping_shl(b)),
        (0u32..64).prop_map(|b| 1i64.wrapping_shl(b).wrapping_sub(1)),
        (0u32..64).prop_map(|b| 1i64.wrapping_shl(b).wrapping_neg()),
        prop::sample::select(vec![i64::MAX, i64::MIN, i64::MIN + 1]),
    ]
    .prop_map(|v| v.to_string())
}

fn field_offset() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..100).prop_map(|o| o.to_string()),
        1 => (0u64..12).prop_map(|o| format!("#{o}")),
    ]
}

fn bitfield() -> impl Strategy<Value = Vec<String>> {
    let sub = prop_oneof![
        (field_type(), field_offset()).prop_map(|(t, o)| vec!["GET".into(), t, o]),
        (field_type(), field_offset(), field_value()).prop_map(|(t, o, v)| vec![
            "SET".into(),
            t,
            o,
            v
        ]),
        (field_type(), field_offset(), field_value()).prop_map(|(t, o, v)| vec![
            "INCRBY".into(),
            t,
            o,
            v
        ]),
        prop::sample::select(vec!["WRAP", "SAT", "FAIL"])
            .prop_map(|w| vec!["OVERFLOW".into(), w.into()]),
    ];
    (
        prop::sample::select(vec!["BITFIELD", "BITFIELD", "BITFIELD_RO"]),
        key(),
        prop::collection::vec(sub, 0..5),
    )
        .prop_map(|(cmd, k, subs)| {
            let mut c = vec![cmd.to_string(), k];
            c.extend(subs.into_iter().flatten());
            c
        })
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let unit = || prop::sample::select(vec!["", "BIT", "BYTE"]);
    prop_oneof![
        4 => (key(), offset(), prop::sample::select(vec!["0", "1"]))
            .prop_map(|(k, o, v)| vec!["SETBIT".into(), k, o, v.into()]),
        2 => (key(), offset()).prop_map(|(k, o)| vec!["GETBIT".into(), k, o]),
        2 => (key(), prop::option::of((bound(), bound(), unit()))).prop_map(|(k, r)| {
            let mut c = vec!["BITCOUNT".into(), k];
            if let Some((s, e, u)) = r {
                c.extend([s, e]);
                if !u.is_empty() {
                    c.push(u.into());
                }
            }
            c
        }),
        3 => (key(), prop::sample::select(vec!["0", "1"]), prop::option::of(bound()),
                prop::option::of(bound()), unit())
            .prop_map(|(k, b, s, e, u)| {
                let mut c = vec!["BITPOS".into(), k, b.into()];
                if let Some(s) = s {
                    c.push(s);
                    if let Some(e) = e {
                        c.push(e);
                        if !u.is_empty() {
                            c.push(u.into());
                        }
                    }
                }
                c
            }),
        2 => (prop::sample::select(vec!["AND", "OR", "XOR", "NOT"]), key(),
                prop::collection::vec(key(), 1..4))
            .prop_map(|(op, dest, srcs)| {
                let mut c = vec!["BITOP".into(), op.into(), dest];
                c.extend(srcs);
                c
            }),
        3 => bitfield(),
        1 => (key(), "[a-z\\x00\\xff]{0,40}").prop_map(|(k, v)| vec!["SET".into(), k, v]),
        1 => (key(), -5i64..100000).prop_map(|(k, v)| vec!["SET".into(), k, v.to_string()]),
        1 => key().prop_map(|k| vec!["GET".into(), k]),
        1 => key().prop_map(|k| vec!["STRLEN".into(), k]),
        1 => key().prop_map(|k| vec!["DEL".into(), k]),
        1 => key().prop_map(|k| vec!["LPUSH".into(), k, "x".into()]),
    ]
}

fn any_command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![5 => command(), 1 => malformed(command())]
}

#[test]
fn random_bitmap_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(256);
    let result = runner.run(&prop::collection::vec(any_command(), 1..30), |cmds| {
        let mut d = diff.borrow_mut();
        d.ours.run("FLUSHALL");
        d.theirs.run("FLUSHALL");
        for cmd in &cmds {
            let (a, b) = (d.ours.cmd(cmd), d.theirs.cmd(cmd));
            prop_assert_eq!(show(&a), show(&b), "command {:?} in script {:?}", cmd, cmds);
        }
        // The bytes left behind (a bitmap of several MB is compared by length and
        // count only, to keep the replies small).
        for k in ["{b}a", "{b}b", "{b}c", "{b}n"] {
            for probe in [vec!["STRLEN", k], vec!["BITCOUNT", k], vec!["TYPE", k]] {
                let (a, b) = (d.ours.cmd(&probe), d.theirs.cmd(&probe));
                prop_assert_eq!(show(&a), show(&b), "{:?} after {:?}", probe, cmds);
            }
            if let ferrokv_resp::Frame::Integer(n) = d.ours.cmd(&["STRLEN", k]) {
                if n < 100_000 {
                    let (a, b) = (d.ours.cmd(&["GET", k]), d.theirs.cmd(&["GET", k]));
                    prop_assert_eq!(show(&a), show(&b), "GET {} after {:?}", k, cmds);
                }
            }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
