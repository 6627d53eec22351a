//! proptest-generated sorted set command sequences run against ferrokv and
//! redis-server; every reply must be identical. Scores are awkward on purpose (ties,
//! infinities, tiny and huge values, negative zero), and each case picks its own
//! listpack thresholds so both encodings and the conversions between them are hit.
//! Lex commands only touch `lx`, whose members all have score 0 (Redis leaves lex
//! ranges over mixed scores unspecified).

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{malformed, show, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["z1", "z2", "{t}z3"]).prop_map(String::from)
}

fn any_key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["z1", "z2", "{t}z3", "lx", "nokey"]).prop_map(String::from)
}

fn member() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "c",
        "d",
        "aa",
        "ab",
        "B",
        "",
        "long-member-name",
        "a-member-name-longer-than-twenty-two-bytes",
        "x y",
    ])
    .prop_map(String::from)
}

fn score() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..4).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "0",
            "-0",
            "1.5",
            "2",
            "2",
            "inf",
            "-inf",
            "+inf",
            "1e308",
            "-1.7976931348623157e308",
            "5e-324",
            "0.1",
            "0.30000000000000004",
            "1e20",
            "-2.5",
            "abc",
        ])
        .prop_map(String::from),
    ]
}

fn bound() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..4).prop_map(|i| i.to_string()),
        (-3i64..4).prop_map(|i| format!("({i}")),
        prop::sample::select(vec![
            "-inf", "+inf", "(-inf", "(inf", "0", "-0", "(0", "1.5", "(1.5", "1e20", "5e-324",
        ])
        .prop_map(String::from),
    ]
}

fn lex_bound() -> impl Strategy<Value = String> {
    prop_oneof![
        member().prop_map(|m| format!("[{m}")),
        member().prop_map(|m| format!("({m}")),
        prop::sample::select(vec!["-", "+"]).prop_map(String::from),
    ]
}

fn strs(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let k = key;
    prop_oneof![
        4 => (
            k(),
            prop::sample::select(vec!["", "NX", "XX", "GT", "LT", "CH", "XX GT CH", "LT CH", "NX CH"]),
            prop::collection::vec((score(), member()), 1..4)
        )
            .prop_map(|(k, o, pairs)| {
                let mut c = vec!["ZADD".into(), k];
                c.extend(o.split_whitespace().map(String::from));
                for (s, m) in pairs {
                    c.push(s);
                    c.push(m);
                }
                c
            }),
        1 => (k(), prop::sample::select(vec!["INCR", "INCR NX", "INCR XX", "INCR GT", "INCR LT"]), score(), member())
            .prop_map(|(k, o, s, m)| {
                let mut c = vec!["ZADD".into(), k];
                c.extend(o.split_whitespace().map(String::from));
                c.push(s);
                c.push(m);
                c
            }),
        1 => (k(), score(), member()).prop_map(|(k, s, m)| vec!["ZINCRBY".into(), k, s, m]),
        1 => (k(), member(), member()).prop_map(|(k, a, b)| vec!["ZREM".into(), k, a, b]),
        1 => any_key().prop_map(|k| vec!["ZCARD".into(), k]),
        1 => (any_key(), member()).prop_map(|(k, m)| vec!["ZSCORE".into(), k, m]),
        1 => (any_key(), member(), member()).prop_map(|(k, a, b)| vec!["ZMSCORE".into(), k, a, b]),
        1 => (any_key(), member(), prop::bool::ANY).prop_map(|(k, m, r)| vec![
            if r { "ZREVRANK" } else { "ZRANK" }.into(),
            k,
            m
        ]),
        1 => (any_key(), bound(), bound()).prop_map(|(k, a, b)| vec!["ZCOUNT".into(), k, a, b]),
        2 => (any_key(), -5i64..6, -5i64..6, prop::sample::select(vec!["", "WITHSCORES", "REV", "REV WITHSCORES"]))
            .prop_map(|(k, a, b, o)| {
                let mut c = vec!["ZRANGE".into(), k, a.to_string(), b.to_string()];
                c.extend(o.split_whitespace().map(String::from));
                c
            }),
        2 => (
            any_key(),
            bound(),
            bound(),
            prop::bool::ANY,
            prop::bool::ANY,
            prop::option::of((-1i64..4, -1i64..4))
        )
            .prop_map(|(k, a, b, rev, ws, limit)| {
                let mut c = vec!["ZRANGE".into(), k, a, b, "BYSCORE".into()];
                if rev {
                    c.push("REV".into());
                }
                if ws {
                    c.push("WITHSCORES".into());
                }
                if let Some((o, n)) = limit {
                    c.extend(["LIMIT".into(), o.to_string(), n.to_string()]);
                }
                c
            }),
        1 => (k(), bound(), bound()).prop_map(|(k, a, b)| vec!["ZREVRANGEBYSCORE".into(), k, a, b, "WITHSCORES".into()]),
        // The lex key: members only ever get score 0.
        1 => (prop::collection::vec(member(), 1..4)).prop_map(|ms| {
            let mut c = strs(&["ZADD", "lx"]);
            for m in ms {
                c.push("0".into());
                c.push(m);
            }
            c
        }),
        2 => (lex_bound(), lex_bound(), prop::bool::ANY, prop::option::of((-1i64..4, -1i64..4)))
            .prop_map(|(a, b, rev, limit)| {
                let mut c = vec![if rev { "ZREVRANGEBYLEX" } else { "ZRANGEBYLEX" }.into(), "lx".into(), a, b];
                if let Some((o, n)) = limit {
                    c.extend(["LIMIT".into(), o.to_string(), n.to_string()]);
                }
                c
            }),
        1 => (lex_bound(), lex_bound()).prop_map(|(a, b)| vec!["ZLEXCOUNT".into(), "lx".into(), a, b]),
        1 => (lex_bound(), lex_bound()).prop_map(|(a, b)| vec!["ZREMRANGEBYLEX".into(), "lx".into(), a, b]),
        1 => (k(), -4i64..5, -4i64..5).prop_map(|(k, a, b)| vec!["ZREMRANGEBYRANK".into(), k, a.to_string(), b.to_string()]),
        1 => (k(), bound(), bound()).prop_map(|(k, a, b)| vec!["ZREMRANGEBYSCORE".into(), k, a, b]),
        1 => (any_key(), prop::bool::ANY, prop::option::of(0i64..4)).prop_map(|(k, max, n)| {
            let mut c = vec![if max { "ZPOPMAX" } else { "ZPOPMIN" }.into(), k];
            if let Some(n) = n {
                c.push(n.to_string());
            }
            c
        }),
        1 => (any_key(), any_key(), prop::bool::ANY, 1i64..4).prop_map(|(a, b, max, n)| vec![
            "ZMPOP".into(),
            "2".into(),
            a,
            b,
            if max { "MAX" } else { "MIN" }.into(),
            "COUNT".into(),
            n.to_string()
        ]),
        2 => (
            prop::sample::select(vec!["ZUNIONSTORE", "ZINTERSTORE", "ZDIFFSTORE"]),
            k(),
            prop::collection::vec((any_key(), score()), 1..4),
            prop::bool::ANY,
            prop::sample::select(vec!["", "SUM", "MIN", "MAX"])
        )
            .prop_map(|(op, d, srcs, weights, agg)| {
                let mut c = vec![op.into(), d, srcs.len().to_string()];
                c.extend(srcs.iter().map(|(k, _)| k.clone()));
                if op != "ZDIFFSTORE" {
                    if weights {
                        c.push("WEIGHTS".into());
                        c.extend(srcs.iter().map(|(_, w)| w.clone()));
                    }
                    if !agg.is_empty() {
                        c.extend(["AGGREGATE".into(), agg.into()]);
                    }
                }
                c
            }),
        1 => (
            k(),
            any_key(),
            bound(),
            bound(),
            prop::bool::ANY,
            prop::option::of((-1i64..4, -1i64..4))
        )
            .prop_map(|(d, src, a, b, rev, limit)| {
                let mut c = vec!["ZRANGESTORE".into(), d, src, a, b, "BYSCORE".into()];
                if rev {
                    c.push("REV".into());
                }
                if let Some((o, n)) = limit {
                    c.extend(["LIMIT".into(), o.to_string(), n.to_string()]);
                }
                c
            }),
        1 => (k(), lex_bound(), lex_bound()).prop_map(|(d, a, b)| vec![
            "ZRANGESTORE".into(),
            d,
            "lx".into(),
            a,
            b,
            "BYLEX".into()
        ]),
        1 => (any_key(), -4i64..5, -4i64..5).prop_map(|(k, a, b)| vec![
            "ZREVRANGE".into(),
            k,
            a.to_string(),
            b.to_string(),
            "WITHSCORES".into()
        ]),
        1 => (
            prop::sample::select(vec!["ZUNION", "ZINTER", "ZDIFF"]),
            any_key(),
            any_key(),
            prop::sample::select(vec!["SUM", "MIN", "MAX"])
        )
            .prop_map(|(op, a, b, agg)| {
                let mut c = vec![op.into(), "2".into(), a, b];
                if op != "ZDIFF" {
                    c.extend(["AGGREGATE".into(), agg.into()]);
                }
                c.push("WITHSCORES".into());
                c
            }),
        1 => (any_key(), any_key(), 0i64..3).prop_map(|(a, b, l)| vec![
            "ZINTERCARD".into(),
            "2".into(),
            a,
            b,
            "LIMIT".into(),
            l.to_string()
        ]),
        1 => (k(), any_key(), -3i64..4, -3i64..4).prop_map(|(d, s, a, b)| vec![
            "ZRANGESTORE".into(),
            d,
            s,
            a.to_string(),
            b.to_string()
        ]),
        1 => any_key().prop_map(|k| vec!["OBJECT".into(), "ENCODING".into(), k]),
        1 => k().prop_map(|k| vec!["DEL".into(), k]),
        1 => Just(strs(&["SET", "z2", "str"])),
    ]
}

fn setup() -> impl Strategy<Value = (i64, i64, bool)> {
    (
        prop::sample::select(vec![0i64, 1, 2, 3, 128]),
        prop::sample::select(vec![1i64, 3, 64]),
        prop::bool::ANY,
    )
}

#[test]
fn random_zset_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(256);
    // One command in five broken by `malformed`: which error is reported first.
    // The lex key keeps score 0 for all members: lex ranges over mixed scores are
    // unspecified (and depend on the skiplist's random levels in Redis).
    let any_command = prop_oneof![
        4 => command(),
        1 => malformed(command()).prop_filter("lex key scores", |c| !(c[0] == "ZADD" && c[1] == "lx")),
    ];
    let strategy = (setup(), prop::collection::vec(any_command, 1..40));
    let result = runner.run(&strategy, |((entries, value, resp3), cmds)| {
        let mut d = diff.borrow_mut();
        let proto = if resp3 { "3" } else { "2" };
        let prelude = [
            strs(&["HELLO", proto]),
            strs(&["FLUSHALL"]),
            vec![
                "CONFIG".into(),
                "SET".into(),
                "zset-max-listpack-entries".into(),
                entries.to_string(),
            ],
            vec![
                "CONFIG".into(),
                "SET".into(),
                "zset-max-listpack-value".into(),
                value.to_string(),
            ],
        ];
        for c in &prelude {
            d.ours.cmd(c);
            d.theirs.cmd(c);
        }
        for cmd in &cmds {
            let a: Frame = d.ours.cmd(cmd);
            let b: Frame = d.theirs.cmd(cmd);
            prop_assert_eq!(
                show(&a),
                show(&b),
                "command {:?} in script {:?} (entries {}, value {}, resp{})",
                cmd,
                cmds,
                entries,
                value,
                proto
            );
            prop_assert_eq!(a, b);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
