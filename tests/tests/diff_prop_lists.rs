//! proptest-generated command sequences over lists, run against ferrokv and
//! redis-server with a random node fill; every reply must be identical. Failures
//! shrink to a minimal script, which proptest prints (keep it as a regression case
//! in diff_lists.rs). Blocking commands always come right after a push to one of
//! their keys, so they are served at once (parking is covered by the server tests).

use std::cell::RefCell;

use ferrokv_tests::{malformed, show, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "s"]).prop_map(String::from)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-3i64..60).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "",
            "x",
            "y",
            "hello",
            "007",
            "-0",
            "9223372036854775807",
            "-9223372036854775808",
            "9223372036854775808",
            "1000000",
        ])
        .prop_map(String::from),
        "[xyz]{0,3}",
        "[a-z]{60,120}",
    ]
}

fn index() -> impl Strategy<Value = String> {
    prop_oneof![
        (-12i64..12).prop_map(|i| i.to_string()),
        Just("-9223372036854775808".to_string()),
        Just("9223372036854775807".to_string()),
    ]
}

fn side() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["LEFT", "RIGHT"]).prop_map(String::from)
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let k = key;
    let v = value;
    prop_oneof![
        (
            prop::sample::select(vec!["LPUSH", "RPUSH", "LPUSHX", "RPUSHX"]),
            k(),
            prop::collection::vec(v(), 1..6)
        )
            .prop_map(|(c, k, vs)| {
                let mut out = vec![c.to_string(), k];
                out.extend(vs);
                out
            }),
        (
            prop::sample::select(vec!["LPOP", "RPOP"]),
            k(),
            prop::option::of(0i64..6)
        )
            .prop_map(|(c, k, n)| {
                let mut out = vec![c.to_string(), k];
                if let Some(n) = n {
                    out.push(n.to_string());
                }
                out
            }),
        k().prop_map(|k| vec!["LLEN".into(), k]),
        (k(), index(), index()).prop_map(|(k, a, b)| vec!["LRANGE".into(), k, a, b]),
        (k(), index()).prop_map(|(k, i)| vec!["LINDEX".into(), k, i]),
        (k(), index(), v()).prop_map(|(k, i, v)| vec!["LSET".into(), k, i, v]),
        (k(), prop::sample::select(vec!["BEFORE", "AFTER"]), v(), v())
            .prop_map(|(k, w, p, v)| vec!["LINSERT".into(), k, w.into(), p, v]),
        (k(), -3i64..4, v()).prop_map(|(k, n, v)| vec!["LREM".into(), k, n.to_string(), v]),
        (k(), index(), index()).prop_map(|(k, a, b)| vec!["LTRIM".into(), k, a, b]),
        (
            k(),
            v(),
            prop::option::of(prop::sample::select(vec![-3i64, -2, -1, 1, 2, 3])),
            prop::option::of(0i64..4),
            prop::option::of(0i64..6)
        )
            .prop_map(|(k, v, rank, count, maxlen)| {
                let mut out = vec!["LPOS".into(), k, v];
                if let Some(r) = rank {
                    out.extend(["RANK".into(), r.to_string()]);
                }
                if let Some(c) = count {
                    out.extend(["COUNT".into(), c.to_string()]);
                }
                if let Some(m) = maxlen {
                    out.extend(["MAXLEN".into(), m.to_string()]);
                }
                out
            }),
        (k(), k(), side(), side()).prop_map(|(a, b, x, y)| vec!["LMOVE".into(), a, b, x, y]),
        (k(), k()).prop_map(|(a, b)| vec!["RPOPLPUSH".into(), a, b]),
        (k(), k(), side(), prop::option::of(1i64..5)).prop_map(|(a, b, s, n)| {
            let mut out = vec!["LMPOP".into(), "2".into(), a, b, s];
            if let Some(n) = n {
                out.extend(["COUNT".into(), n.to_string()]);
            }
            out
        }),
        (k(), v()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        k().prop_map(|k| vec!["DEL".into(), k]),
        k().prop_map(|k| vec!["EXISTS".into(), k]),
        k().prop_map(|k| vec!["TYPE".into(), k]),
        k().prop_map(|k| vec!["OBJECT".into(), "ENCODING".into(), k]),
        (k(), k()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
    ]
}

/// A blocking command preceded by a push that guarantees it has data to serve.
fn blocking_group() -> impl Strategy<Value = Vec<Vec<String>>> {
    let k = key;
    prop_oneof![
        (k(), k(), prop::bool::ANY).prop_map(|(a, b, left)| vec![
            if left { "BLPOP" } else { "BRPOP" }.into(),
            a,
            b,
            "0".into()
        ]),
        (k(), k(), side(), side()).prop_map(|(a, b, x, y)| vec![
            "BLMOVE".into(),
            a,
            b,
            x,
            y,
            "0".into()
        ]),
        (k(), k()).prop_map(|(a, b)| vec!["BRPOPLPUSH".into(), a, b, "0".into()]),
        (k(), k(), side(), 1i64..4).prop_map(|(a, b, s, n)| vec![
            "BLMPOP".into(),
            "0".into(),
            "2".into(),
            a,
            b,
            s,
            "COUNT".into(),
            n.to_string()
        ]),
    ]
    .prop_flat_map(|cmd| {
        // Push onto the key every form waits on (the first key of BLMOVE /
        // BRPOPLPUSH, any of BLPOP / BRPOP / BLMPOP).
        let waits_on = match cmd[0].as_str() {
            "BLMPOP" => cmd[3].clone(),
            _ => cmd[1].clone(),
        };
        value().prop_map(move |v| vec![vec!["LPUSH".into(), waits_on.clone(), v], cmd.clone()])
    })
}

fn group() -> impl Strategy<Value = Vec<Vec<String>>> {
    prop_oneof![
        8 => command().prop_map(|c| vec![c]),
        // A broken command: which error is reported first.
        2 => malformed(command()).prop_map(|c| vec![c]),
        1 => blocking_group(),
    ]
}

#[test]
fn random_list_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(256);
    let fill = prop::sample::select(vec!["-2", "-1", "0", "1", "2", "3", "5"]);
    let script = (fill, prop::collection::vec(group(), 1..60));
    let result = runner.run(&script, |(fill, groups)| {
        let cmds: Vec<Vec<String>> = groups.into_iter().flatten().collect();
        let mut guard = diff.borrow_mut();
        let d = &mut *guard;
        for conn in [&mut d.ours, &mut d.theirs] {
            conn.run("FLUSHALL");
            conn.run(&format!("CONFIG SET list-max-listpack-size {fill}"));
        }
        for cmd in &cmds {
            let a = d.ours.cmd(cmd);
            let b = d.theirs.cmd(cmd);
            prop_assert_eq!(
                show(&a),
                show(&b),
                "command {:?} in script {:?} (fill {})",
                cmd,
                cmds,
                fill
            );
        }
        // The whole content must match too, not only the replies seen.
        for k in ["a", "b", "c", "s"] {
            let q = ["LRANGE", k, "0", "-1"];
            prop_assert_eq!(show(&d.ours.cmd(&q)), show(&d.theirs.cmd(&q)));
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
