//! proptest-generated command sequences over sets, run against ferrokv and
//! redis-server with a small set-max-intset-entries so that both encodings and the
//! conversions between them are exercised; every reply must be identical (after
//! ordering normalisation where Redis's own order depends on its hash table).

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{comparable_cursor, malformed, show, sorted, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["s1", "s2", "s3", "{t}s", "str"]).prop_map(String::from)
}

fn member() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => (-6i64..6).prop_map(|i| i.to_string()),
        1 => prop::sample::select(vec![
            "a",
            "b",
            "",
            "007",
            "-0",
            "+1",
            "40000",
            "-5000000000",
            "9223372036854775807",
            "9223372036854775808",
            "long-member-name-beyond-inline-size",
        ])
        .prop_map(String::from),
    ]
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let (k, m) = (key, member);
    let keys = || prop::collection::vec(key(), 1..4);
    prop_oneof![
        (k(), prop::collection::vec(member(), 1..5)).prop_map(|(k, ms)| {
            let mut c = vec!["SADD".into(), k];
            c.extend(ms);
            c
        }),
        (k(), prop::collection::vec(member(), 1..4)).prop_map(|(k, ms)| {
            let mut c = vec!["SREM".into(), k];
            c.extend(ms);
            c
        }),
        k().prop_map(|k| vec!["SMEMBERS".into(), k]),
        (k(), m()).prop_map(|(k, m)| vec!["SISMEMBER".into(), k, m]),
        (k(), m(), m()).prop_map(|(k, m, n)| vec!["SMISMEMBER".into(), k, m, n]),
        k().prop_map(|k| vec!["SCARD".into(), k]),
        (k(), k(), m()).prop_map(|(a, b, m)| vec!["SMOVE".into(), a, b, m]),
        keys().prop_map(|ks| {
            let mut c = vec!["SINTER".to_string()];
            c.extend(ks);
            c
        }),
        (keys(), 0i64..3).prop_map(|(ks, l)| {
            let mut c = vec!["SINTERCARD".to_string(), ks.len().to_string()];
            c.extend(ks);
            if l > 0 {
                c.push("LIMIT".into());
                c.push(l.to_string());
            }
            c
        }),
        keys().prop_map(|ks| {
            let mut c = vec!["SUNION".to_string()];
            c.extend(ks);
            c
        }),
        keys().prop_map(|ks| {
            let mut c = vec!["SDIFF".to_string()];
            c.extend(ks);
            c
        }),
        (
            prop::sample::select(vec!["SINTERSTORE", "SUNIONSTORE", "SDIFFSTORE"]),
            k(),
            keys()
        )
            .prop_map(|(cmd, d, ks)| {
                let mut c = vec![cmd.to_string(), d];
                c.extend(ks);
                c
            }),
        k().prop_map(|k| vec!["SPOP".into(), k, "100".into()]),
        k().prop_map(|k| vec!["SPOP".into(), k, "0".into()]),
        k().prop_map(|k| vec!["SRANDMEMBER".into(), k, "100".into()]),
        k().prop_map(|k| vec!["SSCAN".into(), k, "0".into(), "COUNT".into(), "1000".into()]),
        (k(), prop::sample::select(vec!["1*", "*", "-?", "[ab]"])).prop_map(|(k, p)| vec![
            "SSCAN".into(),
            k,
            "0".into(),
            "MATCH".into(),
            p.into(),
            "COUNT".into(),
            "1000".into()
        ]),
        k().prop_map(|k| vec!["OBJECT".into(), "ENCODING".into(), k]),
        k().prop_map(|k| vec!["EXISTS".into(), k]),
        k().prop_map(|k| vec!["TYPE".into(), k]),
        (k(), m()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        k().prop_map(|k| vec!["DEL".into(), k]),
        prop::sample::select(vec!["0", "1", "4", "512"]).prop_map(|v| vec![
            "CONFIG".into(),
            "SET".into(),
            "set-max-intset-entries".into(),
            v.into()
        ]),
    ]
}

/// Whether a broken command still has one possible reply and effect: SPOP or
/// SRANDMEMBER that lost its count, or got -1, pick at random.
fn deterministic(cmd: &[String]) -> bool {
    match cmd[0].as_str() {
        "SPOP" | "SRANDMEMBER" => cmd.len() != 2 && cmd.get(2).is_none_or(|c| c != "-1"),
        _ => true,
    }
}

/// Well-formed commands, and one in five broken by [`malformed`] so that the
/// error a command reports first is compared too.
fn any_command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        4 => command(),
        1 => malformed(command()).prop_filter("a random pick", |c| deterministic(c)),
    ]
}

/// Replies whose order follows the hash table layout are compared order-free.
fn normalize(cmd: &[String], f: Frame) -> Frame {
    match (cmd[0].as_str(), f) {
        ("SSCAN", Frame::Array(_)) if !cmd.get(2).is_none_or(|c| comparable_cursor(c)) => {
            Frame::Null
        }
        ("SMEMBERS" | "SINTER" | "SUNION" | "SDIFF" | "SPOP" | "SRANDMEMBER", other) => {
            sorted(other)
        }
        ("SSCAN", Frame::Array(mut parts)) if parts.len() == 2 => {
            let items = parts.remove(1);
            parts.push(sorted(items));
            Frame::Array(parts)
        }
        (_, other) => other,
    }
}

#[test]
fn random_set_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    diff.borrow_mut()
        .line("CONFIG SET set-max-intset-entries 4");
    let mut runner = ferrokv_tests::prop_runner(256);
    let result = runner.run(&prop::collection::vec(any_command(), 1..40), |cmds| {
        let mut d = diff.borrow_mut();
        for setup in ["FLUSHALL", "CONFIG SET set-max-intset-entries 4"] {
            d.ours.run(setup);
            d.theirs.run(setup);
        }
        for cmd in &cmds {
            let a = normalize(cmd, d.ours.cmd(cmd));
            let b = normalize(cmd, d.theirs.cmd(cmd));
            prop_assert_eq!(show(&a), show(&b), "command {:?} in script {:?}", cmd, cmds);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
