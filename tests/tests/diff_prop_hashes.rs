//! proptest-generated command sequences over hashes, run against ferrokv and
//! redis-server with small listpack thresholds so that both encodings and the
//! conversions between them are exercised; every reply must be identical (after
//! ordering normalisation where Redis's own order depends on its hash table).

use std::cell::RefCell;

use ferrokv_resp::Frame;
use ferrokv_tests::{comparable_cursor, malformed, show, sorted, Diff};
use proptest::prelude::*;

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["h1", "h2", "{t}h", "str"]).prop_map(String::from)
}

fn field() -> impl Strategy<Value = String> {
    prop_oneof![
        prop::sample::select(vec!["a", "b", "c", "d", "e", "f", "", "long-field-name-xx"])
            .prop_map(String::from),
        (0i64..6).prop_map(|i| i.to_string()),
    ]
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-20i64..20).prop_map(|i| i.to_string()),
        prop::sample::select(vec![
            "",
            "x",
            "9223372036854775807",
            "-9223372036854775808",
            "1.5",
            "007",
            " 1",
            "1e3",
            "abcdefghij",
        ])
        .prop_map(String::from),
        "[a-z]{0,12}",
    ]
}

fn command() -> impl Strategy<Value = Vec<String>> {
    let (k, f, v) = (key, field, value);
    prop_oneof![
        (k(), f(), v()).prop_map(|(k, f, v)| vec!["HSET".into(), k, f, v]),
        (k(), f(), v(), f(), v()).prop_map(|(k, f, v, g, w)| vec!["HSET".into(), k, f, v, g, w]),
        (k(), f(), v(), f(), v()).prop_map(|(k, f, v, g, w)| vec!["HMSET".into(), k, f, v, g, w]),
        (k(), f(), v()).prop_map(|(k, f, v)| vec!["HSETNX".into(), k, f, v]),
        (k(), f()).prop_map(|(k, f)| vec!["HGET".into(), k, f]),
        (k(), f(), f()).prop_map(|(k, f, g)| vec!["HMGET".into(), k, f, g]),
        (k(), f()).prop_map(|(k, f)| vec!["HDEL".into(), k, f]),
        (k(), f(), f(), f()).prop_map(|(k, f, g, h)| vec!["HDEL".into(), k, f, g, h]),
        k().prop_map(|k| vec!["HLEN".into(), k]),
        (k(), f()).prop_map(|(k, f)| vec!["HSTRLEN".into(), k, f]),
        (k(), f()).prop_map(|(k, f)| vec!["HEXISTS".into(), k, f]),
        (k(), f(), -1000i64..1000).prop_map(|(k, f, n)| vec![
            "HINCRBY".into(),
            k,
            f,
            n.to_string()
        ]),
        (
            k(),
            f(),
            prop::sample::select(vec!["0.1", "-1.5", "3", "1e2", "abc", "2.5e-3", "inf"])
        )
            .prop_map(|(k, f, n)| vec!["HINCRBYFLOAT".into(), k, f, n.into()]),
        k().prop_map(|k| vec!["HGETALL".into(), k]),
        k().prop_map(|k| vec!["HKEYS".into(), k]),
        k().prop_map(|k| vec!["HVALS".into(), k]),
        k().prop_map(|k| vec!["HSCAN".into(), k, "0".into(), "COUNT".into(), "1000".into()]),
        (k(), prop::sample::select(vec!["a*", "*", "[0-9]", "?"])).prop_map(|(k, p)| vec![
            "HSCAN".into(),
            k,
            "0".into(),
            "MATCH".into(),
            p.into(),
            "COUNT".into(),
            "1000".into()
        ]),
        k().prop_map(|k| vec!["HRANDFIELD".into(), k, "0".into()]),
        k().prop_map(|k| vec!["HRANDFIELD".into(), k, "100".into(), "WITHVALUES".into()]),
        k().prop_map(|k| vec!["OBJECT".into(), "ENCODING".into(), k]),
        k().prop_map(|k| vec!["EXISTS".into(), k]),
        k().prop_map(|k| vec!["TYPE".into(), k]),
        (k(), v()).prop_map(|(k, v)| vec!["SET".into(), k, v]),
        k().prop_map(|k| vec!["DEL".into(), k]),
        (k(), k()).prop_map(|(a, b)| vec!["RENAME".into(), a, b]),
        (
            prop::sample::select(vec!["hash-max-listpack-entries", "hash-max-listpack-value"]),
            prop::sample::select(vec!["0", "1", "4", "8", "128"])
        )
            .prop_map(|(p, v)| vec!["CONFIG".into(), "SET".into(), p.into(), v.into()]),
    ]
}

/// Sorts a flat list of pairs (RESP2 HGETALL, HSCAN items) by pair.
fn sorted_pairs(items: Vec<Frame>) -> Vec<Frame> {
    let mut pairs: Vec<Vec<Frame>> = items.chunks(2).map(<[Frame]>::to_vec).collect();
    pairs.sort_by_key(|p| p.iter().map(show).collect::<Vec<_>>());
    pairs.into_iter().flatten().collect()
}

/// Whether a broken command still has one possible reply: HRANDFIELD that lost
/// its count, or got -1, picks at random.
fn deterministic(cmd: &[String]) -> bool {
    match cmd[0].as_str() {
        "HRANDFIELD" => cmd.len() != 2 && cmd.get(2).is_none_or(|c| c != "-1"),
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
        ("HSCAN", Frame::Array(_)) if !cmd.get(2).is_none_or(|c| comparable_cursor(c)) => {
            Frame::Null
        }
        ("HGETALL", Frame::Array(items)) => Frame::Array(sorted_pairs(items)),
        ("HRANDFIELD", Frame::Array(items)) if cmd.len() == 4 => Frame::Array(sorted_pairs(items)),
        ("HRANDFIELD", other) => sorted(other),
        ("HKEYS" | "HVALS", other) => sorted(other),
        ("HSCAN", Frame::Array(mut parts)) if parts.len() == 2 => {
            if let Frame::Array(items) = parts.remove(1) {
                parts.push(Frame::Array(sorted_pairs(items)));
            }
            Frame::Array(parts)
        }
        (_, other) => other,
    }
}

#[test]
fn random_hash_sequences_match_redis() {
    let diff = RefCell::new(Diff::new());
    {
        let mut d = diff.borrow_mut();
        d.line("CONFIG SET hash-max-listpack-entries 4");
        d.line("CONFIG SET hash-max-listpack-value 8");
    }
    let mut runner = ferrokv_tests::prop_runner(256);
    let result = runner.run(&prop::collection::vec(any_command(), 1..40), |cmds| {
        let mut d = diff.borrow_mut();
        for setup in [
            "FLUSHALL",
            "CONFIG SET hash-max-listpack-entries 4",
            "CONFIG SET hash-max-listpack-value 8",
        ] {
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
