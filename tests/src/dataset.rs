//! The persistence interop dataset: every type in both encodings (small and
//! large), strings of every encoding, empty and binary members, integer and score
//! edge values, large values and far-future TTLs, spread over databases 0, 1, 7
//! and 15; and a client's view of a whole dataset, to compare servers with.
//! Used by `tests/persist_types.rs` and `tests/debug.rs`.

// Test code: a failed step should just fail the test.
#![allow(clippy::unwrap_used)]

use ferrokv_resp::Frame;

use crate::{show, Conn};

/// The databases the dataset is spread over (first, a middle one, the last).
pub const DBS: [u32; 4] = [0, 1, 7, 15];

/// 2100-01-01 in ms: far enough that no key expires during a test, so expire
/// times compare exactly.
pub const FAR: u64 = 4_102_444_800_000;

pub type Cmd = Vec<Vec<u8>>;

/// Deterministic bytes that LZF cannot compress.
pub fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    seed |= 1;
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

pub fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

/// Commands building the dataset of database `db`. Values carry the db number so
/// that keys landing in the wrong database are noticed; db 15 gets a smaller set.
pub fn dataset(db: u32) -> Vec<Cmd> {
    let mut cmds: Vec<Cmd> = Vec::new();
    let tag = format!("db{db}");
    let bin: Vec<u8> = (0..=255u8).collect();
    // Short enough for a listpack (hash/zset-max-listpack-value is 64).
    let sbin: Vec<u8> = vec![0, 0xff, b'\r', b'\n', 0x80, b' ', b'"'];

    // Strings: int (8, 16, 32 bit RDB encodings and beyond), embstr, raw,
    // compressible (LZF in the RDB), binary, empty, large.
    for (k, v) in [
        ("str:int", b("12345")),
        ("str:int-small", b("-7")),
        ("str:int-32", b("2147483647")),
        ("str:int-64", b("-9223372036854775808")),
        ("str:not-int", b("007")),
        ("str:plus-one", b("+1")),
        ("str:minus-zero", b("-0")),
        ("str:past-i64", b("9223372036854775808")),
        ("str:spaces", b(" 1")),
        ("str:embstr", format!("hello {tag}").into_bytes()),
        ("str:raw", format!("{tag} {}", "r".repeat(60)).into_bytes()),
        (
            "str:compressible",
            format!("{tag}{}", "abcabcabc".repeat(2000)).into_bytes(),
        ),
        ("str:binary", bin.clone()),
        ("str:empty", Vec::new()),
        ("str:large", noise(300_000, u64::from(db) + 1)),
        // Keys that look like integers are saved integer-encoded.
        ("12345", b("int key")),
        ("-1", b("negative int key")),
        ("0", b("zero key")),
        ("2147483648", b("past 32 bits")),
        ("007", b("not an int")),
        // Compressible with matches of every length and distance (LZF's window
        // is 8 KB): random text over a four-letter alphabet.
        (
            "str:text",
            noise(60_000, u64::from(db) + 99)
                .iter()
                .map(|x| b"acgt"[usize::from(x % 4)])
                .collect(),
        ),
    ] {
        cmds.push(vec![b("SET"), b(k), v]);
    }
    if db == 15 {
        cmds.push(vec![b("SET"), bin.clone(), b("binary key")]);
        cmds.push(vec![
            b("PEXPIREAT"),
            bin,
            (FAR + 15).to_string().into_bytes(),
        ]);
        cmds.push(vec![
            b("PEXPIREAT"),
            b("str:int"),
            (FAR + 1).to_string().into_bytes(),
        ]);
        return cmds;
    }

    // Lists (quicklist in 7.0): small with empty and binary elements, many
    // elements, one element larger than a listpack node.
    cmds.push(vec![
        b("RPUSH"),
        b("list:small"),
        b("a"),
        b("1"),
        b("-5"),
        b("127"),
        b("-4096"),
        b("32767"),
        b("-8388608"),
        b("2147483648"),
        b("9223372036854775807"),
        b("-9223372036854775808"),
        b("18446744073709551616"),
        b("-0"),
        b("01"),
        Vec::new(),
        sbin.clone(),
        bin.clone(),
        tag.clone().into_bytes(),
    ]);
    let mut big = vec![b("RPUSH"), b("list:big")];
    big.extend((0..3000).map(|i| format!("element-{i}-{}", "x".repeat(i % 70)).into_bytes()));
    cmds.push(big);
    cmds.push(vec![
        b("RPUSH"),
        b("list:huge-item"),
        noise(20_000, 7),
        b("z"),
    ]);

    // Hashes: listpack (with empty field and value), hashtable by count and by
    // value length.
    cmds.push(vec![
        b("HSET"),
        b("hash:small"),
        b("f1"),
        tag.clone().into_bytes(),
        b("f2"),
        b("12"),
        Vec::new(),
        b("empty field"),
        b("empty value"),
        Vec::new(),
        b("bin"),
        sbin.clone(),
        b("9223372036854775807"),
        b("-9223372036854775808"),
        b("18446744073709551615"),
        b("-0"),
        b("0012"),
        b("4095"),
    ]);
    let mut bigh = vec![b("HSET"), b("hash:many")];
    for i in 0..600 {
        bigh.push(format!("field{i}").into_bytes());
        bigh.push(format!("{i}").into_bytes());
    }
    // Integer fields in a hashtable are saved integer-encoded too.
    for i in [-1i64, 0, 200, 40000, 3_000_000_000, i64::MAX] {
        bigh.push(i.to_string().into_bytes());
        bigh.push(format!("int field {i}").into_bytes());
    }
    bigh.push(Vec::new());
    bigh.push(Vec::new());
    cmds.push(bigh);
    cmds.push(vec![
        b("HSET"),
        b("hash:long"),
        b("f"),
        "v".repeat(100).into_bytes(),
        bin.clone(),
        Vec::new(),
    ]);

    // Sets: intset (16, 64 bit), hashtable by count and by non-integer members.
    cmds.push(vec![b("SADD"), b("set:int16"), b("1"), b("2"), b("-3")]);
    cmds.push(vec![
        b("SADD"),
        b("set:int64"),
        b("1"),
        b("9223372036854775807"),
        b("-9223372036854775808"),
    ]);
    let mut bigs = vec![b("SADD"), b("set:many-ints")];
    bigs.extend((0..700).map(|i| (i * 7).to_string().into_bytes()));
    cmds.push(bigs);
    cmds.push(vec![
        b("SADD"),
        b("set:strings"),
        b("a"),
        b("b"),
        Vec::new(),
        sbin.clone(),
        bin.clone(),
        tag.clone().into_bytes(),
    ]);

    // Sorted sets: listpack, skiplist by count and by member length.
    cmds.push(vec![
        b("ZADD"),
        b("zset:small"),
        b("1"),
        b("a"),
        b("2.5"),
        b("b"),
        b("-inf"),
        b("c"),
        b("inf"),
        Vec::new(),
        b("0.1"),
        sbin.clone(),
        b("-3e-7"),
        tag.into_bytes(),
        b("-0"),
        b("minus zero"),
        b("1.7976931348623157e308"),
        b("max"),
        b("5e-324"),
        b("tiny"),
        b("123456789012"),
        b("integer score"),
    ]);
    let mut bigz = vec![b("ZADD"), b("zset:many")];
    for i in 0..300 {
        bigz.push(format!("{}", i as f64 / 3.0).into_bytes());
        bigz.push(format!("member{i}").into_bytes());
    }
    cmds.push(bigz);
    cmds.push(vec![
        b("ZADD"),
        b("zset:long"),
        b("1e20"),
        "m".repeat(100).into_bytes(),
        b("-1.5"),
        bin.clone(),
        // No -0 here: Redis's rewrite re-adds a skiplist's members in its hash
        // table's (randomly seeded) order, and -0 keeps its sign only when the
        // first ZADD creates a skiplist, so even Redis reloads it either way.
        b("5e-324"),
        b("tiny"),
        b("-1.7976931348623157e308"),
        b("min"),
    ]);
    // A geo set is a zset too.
    cmds.push(vec![
        b("GEOADD"),
        b("geo"),
        b("13.361389"),
        b("38.115556"),
        b("Palermo"),
        b("15.087269"),
        b("37.502669"),
        b("Catania"),
    ]);

    // TTLs on keys of every type and encoding (distinct times, so a TTL moved to
    // the wrong key shows).
    let with_ttl = [
        "str:int",
        "str:embstr",
        "str:raw",
        "str:compressible",
        "str:large",
        "list:small",
        "list:big",
        "hash:small",
        "hash:many",
        "set:int16",
        "set:many-ints",
        "set:strings",
        "zset:small",
        "zset:many",
    ];
    for (i, k) in with_ttl.iter().enumerate() {
        let at = FAR + u64::from(db) * 1000 + i as u64;
        cmds.push(vec![b("PEXPIREAT"), b(k), at.to_string().into_bytes()]);
    }
    cmds
}

/// The keys `dataset(db)` gives a TTL, with their expire times.
pub fn expected_ttls(db: u32) -> Vec<(Vec<u8>, u64)> {
    dataset(db)
        .into_iter()
        .filter(|c| c[0] == b"PEXPIREAT")
        .map(|c| {
            let at = String::from_utf8(c[2].clone()).unwrap().parse().unwrap();
            (c[1].clone(), at)
        })
        .collect()
}

pub fn select(c: &mut Conn, db: u32) {
    assert_eq!(
        c.cmd(&["SELECT", &db.to_string()]),
        Frame::Simple("OK".into())
    );
}

pub fn load(c: &mut Conn) {
    for db in DBS {
        select(c, db);
        for cmd in dataset(db) {
            let r = c.cmd(&cmd);
            assert!(!matches!(r, Frame::Error(_)), "{cmd:?}: {r:?}");
        }
    }
    select(c, 0);
}

/// A bulk string rendered byte-exactly; long ones by length and a hash.
pub fn bytes(v: &[u8]) -> String {
    if v.len() <= 300 {
        return format!("\"{}\"", v.escape_ascii());
    }
    let h = v.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &x| {
        (h ^ u64::from(x)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("<{} bytes, fnv {h:016x}>", v.len())
}

pub fn render(f: &Frame) -> String {
    match f {
        Frame::Bulk(v) => bytes(v),
        Frame::Array(items) | Frame::Set(items) => {
            format!(
                "[{}]",
                items.iter().map(render).collect::<Vec<_>>().join(", ")
            )
        }
        other => show(other),
    }
}

pub fn items(f: Frame) -> Vec<Frame> {
    match f {
        Frame::Array(items) | Frame::Set(items) => items,
        other => panic!("expected an array, got {}", show(&other)),
    }
}

pub fn sorted_rendered(f: Frame) -> Vec<String> {
    let mut v: Vec<String> = items(f).iter().map(render).collect();
    v.sort();
    v
}

pub fn keys(c: &mut Conn) -> Vec<Vec<u8>> {
    let mut keys: Vec<Vec<u8>> = items(c.cmd(&["KEYS", "*"]))
        .into_iter()
        .map(|k| match k {
            Frame::Bulk(k) => k.to_vec(),
            other => panic!("KEYS item {}", show(&other)),
        })
        .collect();
    keys.sort();
    keys
}

/// The `dbN:keys=..,expires=..` lines of INFO keyspace; avg_ttl is an estimate
/// sampled by a timer, so it is left out.
pub fn keyspace_lines(c: &mut Conn) -> Vec<String> {
    let text = match c.cmd(&["INFO", "keyspace"]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {}", show(&other)),
    };
    text.lines()
        .filter(|l| l.starts_with("db"))
        .map(|l| l.split(",avg_ttl").next().unwrap_or(l).to_string())
        .collect()
}

/// Everything a client can see of the databases, in a comparable form.
pub fn snapshot(c: &mut Conn) -> Vec<String> {
    let mut out = keyspace_lines(c);
    for db in 0..16 {
        select(c, db);
        out.push(format!("db{db} dbsize {}", show(&c.cmd(&["DBSIZE"]))));
        for k in keys(c) {
            let key = &k[..];
            let ty = show(&c.cmd(&[&b"TYPE"[..], key]));
            let body = match ty.as_str() {
                "+string" => render(&c.cmd(&[&b"GET"[..], key])),
                "+list" => render(&c.cmd(&[&b"LRANGE"[..], key, b"0", b"-1"])),
                "+hash" => {
                    let mut pairs: Vec<String> = items(c.cmd(&[&b"HGETALL"[..], key]))
                        .chunks(2)
                        .map(|p| format!("{}={}", render(&p[0]), render(&p[1])))
                        .collect();
                    pairs.sort();
                    pairs.join(",")
                }
                "+set" => sorted_rendered(c.cmd(&[&b"SMEMBERS"[..], key])).join(","),
                "+zset" => render(&c.cmd(&[&b"ZRANGE"[..], key, b"0", b"-1", b"WITHSCORES"])),
                other => format!("unexpected type {other}"),
            };
            let enc = show(&c.cmd(&[&b"OBJECT"[..], b"ENCODING", key]));
            let at = show(&c.cmd(&[&b"PEXPIRETIME"[..], key]));
            out.push(format!("db{db} {} {ty} {enc} at={at} {body}", bytes(key)));
        }
    }
    select(c, 0);
    out
}

/// Compares two snapshots line by line; a failure lists the differing lines
/// (shortened) instead of printing megabytes.
pub fn same(got: &[String], want: &[String], what: &str) {
    // The key, then 200 characters from a little before the first difference.
    let short = |l: &str, from: usize| {
        let key: String = l.chars().take(40).collect();
        let rest: String = l.chars().skip(from).take(200).collect();
        format!("{key} ..{from}.. {rest}")
    };
    let diffs: Vec<String> = got
        .iter()
        .zip(want)
        .filter(|(g, w)| g != w)
        .map(|(g, w)| {
            let at = g.chars().zip(w.chars()).take_while(|(a, b)| a == b).count();
            let from = at.saturating_sub(60);
            format!("  got  {}\n  want {}", short(g, from), short(w, from))
        })
        .collect();
    assert!(
        diffs.is_empty() && got.len() == want.len(),
        "{what}: {} lines differ ({} vs {} lines):\n{}",
        diffs.len(),
        got.len(),
        want.len(),
        diffs.join("\n")
    );
}
