//! proptest-generated stream command sequences run against ferrokv and
//! redis-server; every reply must be identical. IDs are explicit (no `*`, whose
//! value is the clock), nodes are kept small so trimming crosses node
//! boundaries, and group operations (reads, acks, claims, deletions under
//! pending entries) are mixed in. Replies that carry idle times are left out.

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{malformed, show, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["s1", "s1", "s1", "s2", "nokey"]).prop_map(String::from)
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..30, 0u64..3).prop_map(|(m, s)| format!("{m}-{s}")),
        (0u64..30).prop_map(|m| m.to_string()),
        prop::sample::select(vec!["-", "+", "0-0", "(5-0", "(12"]).prop_map(String::from),
    ]
}

fn add_id() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => (0u64..40, 0u64..3).prop_map(|(m, s)| format!("{m}-{s}")),
        1 => (0u64..40).prop_map(|m| format!("{m}-*")),
    ]
}

fn group() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["g1", "g1", "g2", "nog"]).prop_map(String::from)
}

fn consumer() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["alice", "bob", "carol"]).prop_map(String::from)
}

fn fields() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["f", "g", "name", "123"]),
            prop::sample::select(vec!["v", "1", "-7", "a-longer-value-for-bytes", ""]),
        ),
        1..3,
    )
    .prop_map(|v| {
        v.into_iter()
            .flat_map(|(a, b)| [a.to_string(), b.to_string()])
            .collect()
    })
}

fn v(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

fn command() -> impl Strategy<Value = Vec<String>> {
    prop_oneof![
        6 => (key(), prop::option::of((prop::sample::select(vec!["MAXLEN", "MINID"]), prop::sample::select(vec!["", "=", "~"]), 0u64..20, prop::option::of(0u64..5))), add_id(), fields())
            .prop_map(|(k, trim, id, f)| {
                let mut c = vec!["XADD".to_string(), k];
                if let Some((how, op, n, limit)) = trim {
                    c.push(how.into());
                    if !op.is_empty() {
                        c.push(op.into());
                    }
                    c.push(if how == "MINID" { format!("{n}-0") } else { n.to_string() });
                    if let Some(l) = limit {
                        c.extend(["LIMIT".to_string(), l.to_string()]);
                    }
                }
                c.push(id);
                c.extend(f);
                c
            }),
        2 => (key(), prop::collection::vec(id(), 1..3)).prop_map(|(k, ids)| {
            let mut c = vec!["XDEL".to_string(), k];
            c.extend(ids);
            c
        }),
        2 => (key(), prop::sample::select(vec!["MAXLEN", "MINID"]), prop::sample::select(vec!["", "=", "~"]), 0u64..20, prop::option::of(0u64..5))
            .prop_map(|(k, how, op, n, limit)| {
                let mut c = vec!["XTRIM".to_string(), k, how.into()];
                if !op.is_empty() {
                    c.push(op.into());
                }
                c.push(if how == "MINID" { format!("{n}") } else { n.to_string() });
                if let Some(l) = limit {
                    c.extend(["LIMIT".to_string(), l.to_string()]);
                }
                c
            }),
        3 => (key(), id(), id(), prop::bool::ANY, prop::option::of(0i64..4)).prop_map(|(k, a, b, rev, n)| {
            let mut c = vec![if rev { "XREVRANGE" } else { "XRANGE" }.to_string(), k, a, b];
            if let Some(n) = n {
                c.extend(["COUNT".to_string(), n.to_string()]);
            }
            c
        }),
        1 => key().prop_map(|k| vec!["XLEN".into(), k]),
        1 => key().prop_map(|k| vec!["XINFO".into(), "STREAM".into(), k]),
        1 => key().prop_map(|k| vec!["XINFO".into(), "GROUPS".into(), k]),
        2 => (key(), key(), id(), id(), prop::option::of(1i64..3)).prop_map(|(a, b, x, y, n)| {
            let mut c = vec!["XREAD".to_string()];
            if let Some(n) = n {
                c.extend(["COUNT".to_string(), n.to_string()]);
            }
            c.extend(["STREAMS".to_string(), a, b, x, y]);
            c
        }),
        2 => (key(), group(), prop::sample::select(vec!["$", "0", "3-0"]), prop::bool::ANY).prop_map(|(k, g, i, mk)| {
            let mut c = vec!["XGROUP".to_string(), "CREATE".into(), k, g, i.into()];
            if mk {
                c.push("MKSTREAM".into());
            }
            c
        }),
        1 => (key(), group(), prop::sample::select(vec!["$", "0", "4-0", "+"]), prop::option::of(-1i64..6)).prop_map(|(k, g, i, er)| {
            let mut c = vec!["XGROUP".to_string(), "SETID".into(), k, g, i.into()];
            if let Some(e) = er {
                c.extend(["ENTRIESREAD".to_string(), e.to_string()]);
            }
            c
        }),
        1 => (key(), group()).prop_map(|(k, g)| vec!["XGROUP".into(), "DESTROY".into(), k, g]),
        1 => (key(), group(), consumer(), prop::bool::ANY).prop_map(|(k, g, c, create)| vec![
            "XGROUP".into(),
            if create { "CREATECONSUMER" } else { "DELCONSUMER" }.into(),
            k,
            g,
            c
        ]),
        5 => (key(), group(), consumer(), prop::option::of(1i64..4), prop::bool::ANY, prop::sample::select(vec![">", ">", "0", "5-0"]))
            .prop_map(|(k, g, c, n, noack, i)| {
                let mut cmd = vec!["XREADGROUP".to_string(), "GROUP".into(), g, c];
                if let Some(n) = n {
                    cmd.extend(["COUNT".to_string(), n.to_string()]);
                }
                if noack {
                    cmd.push("NOACK".into());
                }
                cmd.extend(["STREAMS".to_string(), k, i.into()]);
                cmd
            }),
        3 => (key(), group(), prop::collection::vec(id(), 1..3)).prop_map(|(k, g, ids)| {
            let mut c = vec!["XACK".to_string(), k, g];
            c.extend(ids);
            c
        }),
        2 => (key(), group()).prop_map(|(k, g)| vec!["XPENDING".into(), k, g]),
        2 => (key(), group(), consumer(), prop::collection::vec(id(), 1..3), prop::sample::select(vec!["JUSTID", "JUSTID FORCE", "JUSTID RETRYCOUNT 5", "JUSTID LASTID 25-0", "FORCE JUSTID LASTID 3"]))
            .prop_map(|(k, g, c, ids, opts)| {
                let mut cmd = vec!["XCLAIM".to_string(), k, g, c, "0".into()];
                cmd.extend(ids);
                cmd.extend(opts.split_whitespace().map(String::from));
                cmd
            }),
        2 => (key(), group(), consumer(), id(), prop::option::of(1i64..4))
            .prop_map(|(k, g, c, start, n)| {
                let mut cmd = vec!["XAUTOCLAIM".to_string(), k, g, c, "0".into(), start];
                if let Some(n) = n {
                    cmd.extend(["COUNT".to_string(), n.to_string()]);
                }
                cmd.push("JUSTID".into());
                cmd
            }),
        1 => (key(), prop::sample::select(vec!["40-0", "1-0", "18446744073709551615-18446744073709551615"]), prop::option::of(0i64..30))
            .prop_map(|(k, i, added)| {
                let mut c = vec!["XSETID".to_string(), k, i.into()];
                if let Some(a) = added {
                    c.extend(["ENTRIESADDED".to_string(), a.to_string()]);
                }
                c
            }),
        1 => Just(v(&["DEL", "s1"])),
        1 => Just(v(&["SET", "s2", "x"])),
    ]
}

#[test]
fn random_stream_sequences_match_redis() {
    let diff = RefCell::new(Diff::with_args(&["--enable-debug-command", "yes"]));
    let mut runner = ferrokv_tests::prop_runner(200);
    let any_command = prop_oneof![4 => command(), 1 => malformed(command())];
    let setup = (
        prop::sample::select(vec![2i64, 3, 100]),
        prop::sample::select(vec![0i64, 60, 4096]),
        prop::bool::ANY,
    );
    let strategy = (setup, prop::collection::vec(any_command, 1..50));
    let result = runner.run(&strategy, |((entries, bytes, resp3), cmds)| {
        let mut d = diff.borrow_mut();
        let prelude = [
            v(&["HELLO", if resp3 { "3" } else { "2" }]),
            v(&["FLUSHALL"]),
            vec![
                "CONFIG".into(),
                "SET".into(),
                "stream-node-max-entries".into(),
                entries.to_string(),
            ],
            vec![
                "CONFIG".into(),
                "SET".into(),
                "stream-node-max-bytes".into(),
                bytes.to_string(),
            ],
        ];
        for c in &prelude {
            d.ours.cmd(c);
            d.theirs.cmd(c);
        }
        for cmd in cmds.iter().chain(std::iter::once(&v(&["DEBUG", "DIGEST"]))) {
            let a: Frame = d.ours.cmd(cmd);
            let b: Frame = d.theirs.cmd(cmd);
            prop_assert_eq!(
                show(&a),
                show(&b),
                "command {:?} in script {:?} (node entries {}, bytes {}, resp3 {})",
                cmd,
                cmds,
                entries,
                bytes,
                resp3
            );
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
