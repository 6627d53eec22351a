//! Shared by the RDB tests: a dataset covering every type and encoding, loading it
//! into Redis with commands, and reading a key back from Redis as an `RdbValue`.
#![allow(dead_code)]

use ferrokv_persist::{KeyMeta, RdbEntry, RdbValue};
use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn};

/// Small thresholds so that a modest dataset hits both encodings of every type.
pub const SMALL_THRESHOLDS: &[(&str, &str)] = &[
    ("hash-max-listpack-entries", "4"),
    ("hash-max-listpack-value", "16"),
    ("zset-max-listpack-entries", "4"),
    ("zset-max-listpack-value", "16"),
    ("set-max-intset-entries", "4"),
    ("list-max-listpack-size", "3"),
];

pub fn options_for_small() -> ferrokv_persist::WriteOptions {
    ferrokv_persist::WriteOptions {
        hash_max_listpack_entries: 4,
        hash_max_listpack_value: 16,
        zset_max_listpack_entries: 4,
        zset_max_listpack_value: 16,
        set_max_intset_entries: 4,
        list_max_listpack_size: 3,
        ..Default::default()
    }
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

fn entry(db: u64, key: &str, value: RdbValue) -> RdbEntry {
    RdbEntry {
        db,
        key: b(key),
        value,
        meta: KeyMeta::default(),
    }
}

/// Pseudo-random but deterministic bytes (no compressible runs).
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Every type in its compact and large encodings (under [`SMALL_THRESHOLDS`]),
/// integers of every width, LZF-compressible and incompressible strings, expires,
/// binary keys, two databases.
pub fn dataset() -> Vec<RdbEntry> {
    let mut v = vec![
        entry(0, "s:empty", RdbValue::String(vec![])),
        entry(0, "s:small", RdbValue::String(b("hello"))),
        entry(0, "s:i8", RdbValue::String(b("-12"))),
        entry(0, "s:i16", RdbValue::String(b("30000"))),
        entry(0, "s:i32", RdbValue::String(b("-2000000000"))),
        entry(0, "s:i64", RdbValue::String(b("9223372036854775807"))),
        entry(0, "s:notint", RdbValue::String(b("007"))),
        entry(0, "s:lzf", RdbValue::String(b(&"abcabcabc-".repeat(300)))),
        entry(0, "s:noise", RdbValue::String(noise(3000, 1))),
        entry(0, "s:20", RdbValue::String(vec![b'z'; 20])),
        entry(0, "s:21", RdbValue::String(vec![b'z'; 21])),
        entry(0, "s:big", RdbValue::String(vec![b'q'; 70000])),
        entry(0, "12345", RdbValue::String(b("integer key"))),
        entry(0, "l:small", RdbValue::List(vec![b("a"), b("1"), b("-7")])),
        entry(
            0,
            "l:nodes",
            RdbValue::List((0..50).map(|i| b(&format!("item{i}"))).collect()),
        ),
        entry(
            0,
            "l:ints",
            RdbValue::List(
                [
                    "0",
                    "127",
                    "-4096",
                    "32767",
                    "-8388608",
                    "2147483647",
                    "-9223372036854775808",
                ]
                .iter()
                .map(|s| b(s))
                .collect(),
            ),
        ),
        entry(
            0,
            "l:large-elem",
            RdbValue::List(vec![b("x"), noise(10000, 2), b(&"y".repeat(5000))]),
        ),
        entry(
            0,
            "set:intset",
            RdbValue::Set(vec![b("1"), b("-3"), b("70000")]),
        ),
        entry(
            0,
            "set:bigint",
            RdbValue::Set(vec![
                b("1"),
                b("9223372036854775807"),
                b("-9223372036854775808"),
            ]),
        ),
        entry(
            0,
            "set:manyints",
            RdbValue::Set((0..20).map(|i| b(&i.to_string())).collect()),
        ),
        entry(0, "set:strs", RdbValue::Set(vec![b("a"), b("b"), b("010")])),
        entry(
            0,
            "z:small",
            RdbValue::ZSet(vec![
                (b("a"), 1.0),
                (b("b"), 1.5),
                (b("c"), -3.25),
                (b("d"), f64::INFINITY),
            ]),
        ),
        entry(
            0,
            "z:weird",
            RdbValue::ZSet(vec![
                (b("n"), f64::NEG_INFINITY),
                (b("tiny"), 1e-300),
                (b("huge"), 1.7976931348623157e308),
                (b("third"), 1.0 / 3.0),
            ]),
        ),
        entry(
            0,
            "z:large",
            RdbValue::ZSet(
                (0..30)
                    .map(|i| (b(&format!("m{i}")), f64::from(i) * 0.5 - 3.0))
                    .collect(),
            ),
        ),
        entry(
            0,
            "z:longmember",
            RdbValue::ZSet(vec![(b(&"m".repeat(40)), 2.0), (b("x"), 1.0)]),
        ),
        entry(
            0,
            "h:small",
            RdbValue::Hash(vec![
                (b("f1"), b("v1")),
                (b("f2"), b("22")),
                (b("n"), b("-1")),
            ]),
        ),
        entry(
            0,
            "h:large",
            RdbValue::Hash(
                (0..40)
                    .map(|i| (b(&format!("field{i}")), b(&format!("{i}"))))
                    .collect(),
            ),
        ),
        entry(
            0,
            "h:longval",
            RdbValue::Hash(vec![(b("f"), b(&"v".repeat(100)))]),
        ),
        entry(3, "db3:s", RdbValue::String(b("in db 3"))),
        entry(3, "db3:l", RdbValue::List(vec![b("x")])),
    ];
    let far = 4_102_444_800_000i64; // 2100-01-01
    for e in v.iter_mut() {
        if e.key == b"s:small" || e.key == b"h:large" || e.key == b"db3:s" {
            e.meta.expire_ms = Some(far + 123);
        }
    }
    v.push(RdbEntry {
        db: 0,
        key: vec![0, 255, b'\n', b' '],
        value: RdbValue::String(vec![0, 1, 2]),
        meta: KeyMeta::default(),
    });
    v
}

/// Sorts the parts of a value whose order Redis does not define.
pub fn normalized(v: &RdbValue) -> RdbValue {
    let mut v = v.clone();
    match &mut v {
        RdbValue::Set(m) => m.sort(),
        RdbValue::Hash(p) | RdbValue::HashListpack(p) => p.sort(),
        RdbValue::ZSet(p) | RdbValue::ZSetListpack(p) => {
            p.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)))
        }
        RdbValue::String(_) | RdbValue::List(_) | RdbValue::Stream(_) => {}
    }
    v
}

fn score_arg(s: f64) -> Vec<u8> {
    let mut out = Vec::new();
    ferrokv_resp::format_double(s, &mut out);
    out
}

fn expect_ok(f: Frame, what: &str) {
    assert!(!matches!(f, Frame::Error(_)), "{what}: {}", show(&f));
}

/// Creates the entries in Redis with ordinary commands.
pub fn load_with_commands(c: &mut Conn, entries: &[RdbEntry]) {
    for e in entries {
        expect_ok(
            c.cmd(&[b"SELECT".to_vec(), e.db.to_string().into_bytes()]),
            "select",
        );
        let k = e.key.clone();
        let mut args: Vec<Vec<u8>>;
        match &e.value {
            RdbValue::String(s) => args = vec![b("SET"), k.clone(), s.clone()],
            RdbValue::List(items) => {
                args = vec![b("RPUSH"), k.clone()];
                args.extend(items.iter().cloned());
            }
            RdbValue::Set(m) => {
                args = vec![b("SADD"), k.clone()];
                args.extend(m.iter().cloned());
            }
            RdbValue::ZSet(p) | RdbValue::ZSetListpack(p) => {
                args = vec![b("ZADD"), k.clone()];
                for (m, s) in p {
                    args.push(score_arg(*s));
                    args.push(m.clone());
                }
            }
            RdbValue::Hash(p) | RdbValue::HashListpack(p) => {
                args = vec![b("HSET"), k.clone()];
                for (f, v) in p {
                    args.push(f.clone());
                    args.push(v.clone());
                }
            }
            RdbValue::Stream(_) => {
                // The shared datasets hold no stream; streams have their own tests.
                continue;
            }
        }
        expect_ok(c.cmd(&args), "create");
        if let Some(ms) = e.meta.expire_ms {
            expect_ok(
                c.cmd(&[b("PEXPIREAT"), k, ms.to_string().into_bytes()]),
                "pexpireat",
            );
        }
    }
    expect_ok(c.cmd(&["SELECT", "0"]), "select");
}

fn bulk(f: &Frame) -> Vec<u8> {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => b.to_vec(),
        other => panic!("expected a bulk, got {}", show(other)),
    }
}

fn bulks(f: Frame) -> Vec<Vec<u8>> {
    match f {
        Frame::Array(items) => items.iter().map(bulk).collect(),
        other => panic!("expected an array, got {}", show(&other)),
    }
}

fn pairs(f: Frame) -> Vec<(Vec<u8>, Vec<u8>)> {
    let flat = bulks(f);
    flat.chunks(2)
        .map(|c| (c[0].clone(), c[1].clone()))
        .collect()
}

/// Reads `key` (in the selected db) back from Redis; `None` when it does not exist.
pub fn fetch(c: &mut Conn, key: &[u8]) -> Option<RdbValue> {
    let t = bulk(&c.cmd(&[b"TYPE".as_slice(), key]));
    let v = match &t[..] {
        b"none" => return None,
        b"string" => RdbValue::String(bulk(&c.cmd(&[b"GET".as_slice(), key]))),
        b"list" => RdbValue::List(bulks(c.cmd(&[b"LRANGE".as_slice(), key, b"0", b"-1"]))),
        b"set" => RdbValue::Set(bulks(c.cmd(&[b"SMEMBERS".as_slice(), key]))),
        b"hash" => RdbValue::Hash(pairs(c.cmd(&[b"HGETALL".as_slice(), key]))),
        b"zset" => RdbValue::ZSet(
            pairs(c.cmd(&[b"ZRANGE".as_slice(), key, b"0", b"-1", b"WITHSCORES"]))
                .into_iter()
                .map(|(m, s)| {
                    let text = String::from_utf8_lossy(&s).into_owned();
                    let score = text
                        .parse::<f64>()
                        .unwrap_or_else(|_| panic!("score {text}"));
                    (m, score)
                })
                .collect(),
        ),
        other => panic!("unexpected type {}", String::from_utf8_lossy(other)),
    };
    Some(normalized(&v))
}

/// PEXPIRETIME of `key`: `None` without an expire.
pub fn expire_of(c: &mut Conn, key: &[u8]) -> Option<i64> {
    match c.cmd(&[b"PEXPIRETIME".as_slice(), key]) {
        Frame::Integer(-1) => None,
        Frame::Integer(ms) => Some(ms),
        other => panic!("PEXPIRETIME: {}", show(&other)),
    }
}

/// OBJECT ENCODING of `key`.
pub fn encoding_of(c: &mut Conn, key: &[u8]) -> String {
    String::from_utf8_lossy(&bulk(&c.cmd(&[b"OBJECT".as_slice(), b"ENCODING", key]))).into_owned()
}

/// Applies CONFIG SET for each pair.
pub fn config_set(c: &mut Conn, pairs: &[(&str, &str)]) {
    for (k, v) in pairs {
        expect_ok(c.cmd(&["CONFIG", "SET", k, v]), "config set");
    }
}

/// Asserts every entry is in Redis with the same value and expire.
pub fn assert_redis_has(c: &mut Conn, entries: &[RdbEntry]) {
    for e in entries {
        expect_ok(
            c.cmd(&[b"SELECT".to_vec(), e.db.to_string().into_bytes()]),
            "select",
        );
        let got = fetch(c, &e.key);
        assert_eq!(
            got,
            Some(normalized(&e.value)),
            "key {:?}",
            String::from_utf8_lossy(&e.key)
        );
        assert_eq!(
            expire_of(c, &e.key),
            e.meta.expire_ms,
            "expire of {:?}",
            e.key
        );
    }
    expect_ok(c.cmd(&["SELECT", "0"]), "select");
}
