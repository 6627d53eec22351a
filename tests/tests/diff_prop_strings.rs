//! proptest-generated command sequences over strings, keys and expiry, run against
//! ferrokv and redis-server; every reply must be identical. Failures shrink to a
//! minimal script, which proptest prints (keep it as a regression case in
//! diff_strings.rs / diff_keys.rs).

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{malformed, show, sorted, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "a",
        "b",
        "c",
        "{t}x",
        "long-key-name-beyond-inline-size",
    ])
    .prop_map(String::from)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-20i64..20).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "",
            "x",
            "hello",
            "9223372036854775807",
            "-9223372036854775808",
            "1.5",
            "007",
            " 1",
            "1e3",
            "inf"
        ])
        .prop_map(String::from),
        "[a-z]{0,30}",
        "[a-z]{40,60}",
    ]
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let k = key;
    let v = value;
    prop_oneof![
        (k(), v()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        (
            k(),
            v(),
            prop::sample::select(vec![
                "NX",
                "XX",
                "GET",
                "KEEPTTL",
                "NX GET",
                "XX GET",
                "EXAT 99999999999",
                "PXAT 99999999999999",
                "KEEPTTL GET"
            ])
        )
            .prop_map(|(k, v, o)| {
                let mut c = vec!["SET".into(), k, v];
                c.extend(o.split(' ').map(String::from));
                c
            }),
        (
            k(),
            v(),
            prop::sample::select(vec![
                "EX 100000",
                "PX 100000000",
                "EX 100000 NX",
                "XX PX 100000000 GET",
                "EX 100000 EX 200000",
                "KEEPTTL EX 100000",
                "EX 100000 KEEPTTL",
                "EX 100000 PX 100000000",
                "EXAT 99999999999 PXAT 99999999999999",
                "NX XX",
                "GET GET NX",
            ])
        )
            .prop_map(|(k, v, o)| {
                let mut c = vec!["SET".into(), k, v];
                c.extend(o.split(' ').map(String::from));
                c
            }),
        (
            k(),
            prop::sample::select(vec![
                "",
                "PERSIST",
                "EX 100000",
                "PX 100000000",
                "EXAT 99999999999",
                "PXAT 99999999999999",
                "PXAT 1",
                "PERSIST EX 100000",
                "EX 100000 EX 200000",
                "KEEPTTL",
            ])
        )
            .prop_map(|(k, o)| {
                let mut c = vec!["GETEX".into(), k];
                c.extend(o.split(' ').filter(|w| !w.is_empty()).map(String::from));
                c
            }),
        (k(), 1i64..100000, v()).prop_map(|(k, t, v)| vec![
            "SETEX".into(),
            k,
            (t + 100000).to_string(),
            v
        ]),
        (
            k(),
            prop::sample::select(vec!["0", "1", "4", "9223372036854775807"])
        )
            .prop_map(|(k, m)| vec![
                "LCS".into(),
                k,
                "b".into(),
                "IDX".into(),
                "MINMATCHLEN".into(),
                m.into(),
                "WITHMATCHLEN".into()
            ]),
        k().prop_map(|k| vec!["GET".into(), k]),
        (k(), v()).prop_map(|(k, v)| vec!["APPEND".into(), k, v]),
        k().prop_map(|k| vec!["INCR".into(), k]),
        k().prop_map(|k| vec!["DECR".into(), k]),
        (k(), -1000i64..1000).prop_map(|(k, n)| vec!["INCRBY".into(), k, n.to_string()]),
        (
            k(),
            prop::sample::select(vec!["0.1", "-1.5", "3", "1e2", "abc", "2.5e-3"])
        )
            .prop_map(|(k, n)| vec!["INCRBYFLOAT".into(), k, n.into()]),
        k().prop_map(|k| vec!["STRLEN".into(), k]),
        (k(), -10i64..10, -10i64..10).prop_map(|(k, a, b)| vec![
            "GETRANGE".into(),
            k,
            a.to_string(),
            b.to_string()
        ]),
        (k(), 0i64..40, v()).prop_map(|(k, o, v)| vec!["SETRANGE".into(), k, o.to_string(), v]),
        (k(), v(), k(), v()).prop_map(|(a, x, b, y)| vec!["MSET".into(), a, x, b, y]),
        (k(), v(), k(), v()).prop_map(|(a, x, b, y)| vec!["MSETNX".into(), a, x, b, y]),
        (k(), k(), k()).prop_map(|(a, b, c)| vec!["MGET".into(), a, b, c]),
        (k(), v()).prop_map(|(k, v)| vec!["GETSET".into(), k, v]),
        k().prop_map(|k| vec!["GETDEL".into(), k]),
        (k(), k()).prop_map(|(a, b)| vec!["DEL".into(), a, b]),
        (k(), k()).prop_map(|(a, b)| vec!["EXISTS".into(), a, b]),
        k().prop_map(|k| vec!["TYPE".into(), k]),
        (k(), k()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (k(), k()).prop_map(|(a, b)| vec!["RENAMENX".into(), a, b]),
        (k(), k(), prop::bool::ANY).prop_map(|(a, b, r)| {
            let mut c = vec!["COPY".into(), a, b];
            if r {
                c.push("REPLACE".into())
            }
            c
        }),
        (
            k(),
            99999999999i64..99999999999i64 + 1000,
            prop::sample::select(vec!["", "NX", "XX", "GT", "LT"])
        )
            .prop_map(|(k, t, f)| {
                let mut c = vec!["EXPIREAT".into(), k, t.to_string()];
                if !f.is_empty() {
                    c.push(f.into())
                }
                c
            }),
        (k(), 1i64..100).prop_map(|(k, t)| vec!["PEXPIREAT".into(), k, t.to_string()]),
        k().prop_map(|k| vec!["EXPIRETIME".into(), k]),
        k().prop_map(|k| vec!["PEXPIRETIME".into(), k]),
        k().prop_map(|k| vec!["TTL".into(), k]),
        k().prop_map(|k| vec!["PERSIST".into(), k]),
        k().prop_map(|k| vec!["OBJECT".into(), "ENCODING".into(), k]),
        (k(), prop::sample::select(vec!["LEN", "IDX", ""])).prop_map(|(k, o)| {
            let mut c = vec!["LCS".into(), k, "b".into()];
            if !o.is_empty() {
                c.push(o.into())
            }
            c
        }),
        Just(vec!["DBSIZE".into()]),
        Just(vec!["KEYS".into(), "*".into()]),
    ]
}

/// TTL results depend on the moment each server ran the command; only their sign
/// class is compared (and that of the expire times relative TTLs gave).
fn normalize(cmd: &[String], f: Frame) -> Frame {
    match (cmd[0].as_str(), f) {
        ("TTL", Frame::Integer(n)) if n > 0 => Frame::Integer(1),
        // A relative TTL (EX, PX, SETEX) is an absolute time taken from each
        // server's clock; the absolute ones generated are far beyond these.
        ("EXPIRETIME", Frame::Integer(n)) if n > 0 && n < 10_000_000_000 => Frame::Integer(1),
        ("PEXPIRETIME", Frame::Integer(n)) if n > 0 && n < 10_000_000_000_000 => Frame::Integer(1),
        ("KEYS", other) => sorted(other),
        (_, other) => other,
    }
}

/// Well-formed commands, and one in five broken by [`malformed`] so that the
/// error a command reports first is compared too.
fn any_command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![4 => command(), 1 => malformed(command())]
}

#[test]
fn random_string_and_key_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(256);
    let result = runner.run(&prop::collection::vec(any_command(), 1..40), |cmds| {
        let mut d = diff.borrow_mut();
        d.ours.run("FLUSHALL");
        d.theirs.run("FLUSHALL");
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

/// The same generated commands queued in MULTI and run by EXEC: the queueing replies,
/// each command's reply inside EXEC's array (or the EXECABORT) and the data after
/// must match.
#[test]
fn random_sequences_inside_multi_exec_match_redis() {
    let diff = RefCell::new(Diff::new());
    let mut runner = ferrokv_tests::prop_runner(128);
    let result = runner.run(&prop::collection::vec(any_command(), 1..20), |cmds| {
        let mut d = diff.borrow_mut();
        d.ours.run("FLUSHALL");
        d.theirs.run("FLUSHALL");
        d.line("MULTI");
        let mut queued = Vec::new();
        for cmd in &cmds {
            let a = d.ours.cmd(cmd);
            let b = d.theirs.cmd(cmd);
            prop_assert_eq!(show(&a), show(&b), "queueing {:?} in {:?}", cmd, cmds);
            if matches!(&a, Frame::Simple(s) if s.as_ref() == b"QUEUED") {
                queued.push(cmd);
            }
        }
        match (d.ours.run("EXEC"), d.theirs.run("EXEC")) {
            (Frame::Array(xs), Frame::Array(ys)) => {
                prop_assert_eq!(xs.len(), queued.len());
                prop_assert_eq!(ys.len(), queued.len());
                for ((x, y), cmd) in xs.into_iter().zip(ys).zip(&queued) {
                    let (x, y) = (normalize(cmd, x), normalize(cmd, y));
                    prop_assert_eq!(show(&x), show(&y), "{:?} inside EXEC of {:?}", cmd, cmds);
                }
            }
            (a, b) => prop_assert_eq!(show(&a), show(&b), "EXEC of {:?}", cmds),
        }
        let a = sorted(d.ours.run("KEYS *"));
        let b = sorted(d.theirs.run("KEYS *"));
        prop_assert_eq!(show(&a), show(&b), "keys after {:?}", cmds);
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
