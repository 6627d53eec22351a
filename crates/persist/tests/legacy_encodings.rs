//! Encodings Redis 7.0 loads but no longer writes (ziplist, zipmap, quicklist v1,
//! linked lists, string-double zsets, second-resolution expires) and quicklist
//! PLAIN nodes: hand-built files are read by us and by redis-server 7.0.15, and the
//! results compared.

mod common;

use common::{fetch, normalized};
use ferrokv_persist::rdb::crc64;
use ferrokv_persist::{read_rdb, RdbValue};
use ferrokv_resp::Frame;
use ferrokv_tests::{show, Server};

enum Z<'a> {
    S(&'a [u8]),
    I(i64),
}

fn zl_entry(prev: usize, e: &Z<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    if prev < 254 {
        out.push(prev as u8);
    } else {
        out.push(254);
        out.extend_from_slice(&(prev as u32).to_le_bytes());
    }
    match e {
        Z::S(s) if s.len() < 64 => {
            out.push(s.len() as u8);
            out.extend_from_slice(s);
        }
        Z::S(s) => {
            out.push(0x40 | (s.len() >> 8) as u8);
            out.push((s.len() & 0xFF) as u8);
            out.extend_from_slice(s);
        }
        Z::I(v @ 0..=12) => out.push(0xF1 + *v as u8),
        Z::I(v) if i8::try_from(*v).is_ok() => out.extend_from_slice(&[0xFE, *v as u8]),
        Z::I(v) if i16::try_from(*v).is_ok() => {
            out.push(0xC0);
            out.extend_from_slice(&(*v as i16).to_le_bytes());
        }
        Z::I(v) if (-8388608..=8388607).contains(v) => {
            out.push(0xF0);
            out.extend_from_slice(&v.to_le_bytes()[..3]);
        }
        Z::I(v) if i32::try_from(*v).is_ok() => {
            out.push(0xD0);
            out.extend_from_slice(&(*v as i32).to_le_bytes());
        }
        Z::I(v) => {
            out.push(0xE0);
            out.extend_from_slice(&v.to_le_bytes());
        }
    }
    out
}

fn ziplist(items: &[Z<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0;
    let mut tail = 10;
    for it in items {
        let e = zl_entry(prev, it);
        tail = 10 + body.len();
        prev = e.len();
        body.extend_from_slice(&e);
    }
    let mut out = Vec::new();
    out.extend_from_slice(&((10 + body.len() + 1) as u32).to_le_bytes());
    out.extend_from_slice(&(tail as u32).to_le_bytes());
    out.extend_from_slice(&(items.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xFF);
    out
}

fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = vec![pairs.len() as u8];
    for (k, v) in pairs {
        out.push(k.len() as u8);
        out.extend_from_slice(k);
        out.push(v.len() as u8);
        out.push(2); // two free bytes after the value
        out.extend_from_slice(v);
        out.extend_from_slice(&[0, 0]);
    }
    out.push(255);
    out
}

fn raw_string(out: &mut Vec<u8>, s: &[u8]) {
    assert!(s.len() < 16384);
    if s.len() < 64 {
        out.push(s.len() as u8);
    } else {
        out.push(0x40 | (s.len() >> 8) as u8);
        out.push((s.len() & 0xFF) as u8);
    }
    out.extend_from_slice(s);
}

fn key(out: &mut Vec<u8>, t: u8, k: &str) {
    out.push(t);
    raw_string(out, k.as_bytes());
}

fn b(s: &str) -> Vec<u8> {
    s.as_bytes().to_vec()
}

#[test]
fn legacy_encodings_read_like_redis() {
    let long = "L".repeat(70);
    let mut f = b"REDIS0009".to_vec();
    f.extend_from_slice(&[0xFE, 0x00]);
    key(&mut f, 10, "zl:list");
    raw_string(
        &mut f,
        &ziplist(&[
            Z::S(b"a"),
            Z::I(5),
            Z::I(-100),
            Z::I(1000),
            Z::I(100000),
            Z::I(-100000000),
            Z::I(1 << 40),
            Z::S(long.as_bytes()),
        ]),
    );
    key(&mut f, 12, "zl:zset");
    raw_string(
        &mut f,
        &ziplist(&[Z::S(b"m1"), Z::S(b"1.5"), Z::S(b"m2"), Z::I(3)]),
    );
    key(&mut f, 13, "zl:hash");
    raw_string(
        &mut f,
        &ziplist(&[Z::S(b"f"), Z::S(b"v"), Z::S(b"n"), Z::I(7)]),
    );
    key(&mut f, 14, "ql");
    f.push(2);
    raw_string(&mut f, &ziplist(&[Z::S(b"x"), Z::I(1)]));
    raw_string(&mut f, &ziplist(&[Z::S(b"y")]));
    key(&mut f, 9, "zm");
    raw_string(&mut f, &zipmap(&[(b"k1", b"v1"), (b"k2", b"value2")]));
    // 2033-05-18 in seconds (the old opcode holds a 32-bit time).
    f.push(0xFD);
    f.extend_from_slice(&2_000_000_000i32.to_le_bytes());
    key(&mut f, 1, "old:list");
    f.push(2);
    raw_string(&mut f, b"p");
    f.extend_from_slice(&[0xC0, 0xFB]); // int8 -5
    key(&mut f, 2, "old:set");
    f.push(2);
    raw_string(&mut f, b"s1");
    raw_string(&mut f, b"s2");
    key(&mut f, 3, "old:zset");
    f.push(3);
    raw_string(&mut f, b"a");
    raw_string(&mut f, b"2.5");
    raw_string(&mut f, b"b");
    f.push(254); // +inf
    raw_string(&mut f, b"c");
    f.push(255); // -inf
    key(&mut f, 4, "old:hash");
    f.push(1);
    raw_string(&mut f, b"hf");
    raw_string(&mut f, b"hv");
    f.push(0xFF);
    let crc = crc64(&f);
    f.extend_from_slice(&crc.to_le_bytes());

    let ours = read_rdb(&f).expect("our reader");
    let expected: Vec<(&str, RdbValue)> = vec![
        (
            "zl:list",
            RdbValue::List(
                [
                    "a",
                    "5",
                    "-100",
                    "1000",
                    "100000",
                    "-100000000",
                    "1099511627776",
                    &long,
                ]
                .iter()
                .map(|s| b(s))
                .collect(),
            ),
        ),
        (
            "zl:zset",
            RdbValue::ZSet(vec![(b("m1"), 1.5), (b("m2"), 3.0)]),
        ),
        (
            "zl:hash",
            RdbValue::Hash(vec![(b("f"), b("v")), (b("n"), b("7"))]),
        ),
        ("ql", RdbValue::List(vec![b("x"), b("1"), b("y")])),
        (
            "zm",
            RdbValue::Hash(vec![(b("k1"), b("v1")), (b("k2"), b("value2"))]),
        ),
        ("old:list", RdbValue::List(vec![b("p"), b("-5")])),
        ("old:set", RdbValue::Set(vec![b("s1"), b("s2")])),
        (
            "old:zset",
            RdbValue::ZSet(vec![
                (b("c"), f64::NEG_INFINITY),
                (b("a"), 2.5),
                (b("b"), f64::INFINITY),
            ]),
        ),
        ("old:hash", RdbValue::Hash(vec![(b("hf"), b("hv"))])),
    ];
    assert_eq!(ours.entries.len(), expected.len());
    for (e, (k, v)) in ours.entries.iter().zip(&expected) {
        assert_eq!(e.key, k.as_bytes());
        assert_eq!(normalized(&e.value), normalized(v), "{k}");
    }
    let with_expire: Vec<_> = ours
        .entries
        .iter()
        .filter(|e| e.meta.expire_ms.is_some())
        .collect();
    assert_eq!(with_expire.len(), 1);
    assert_eq!(with_expire[0].meta.expire_ms, Some(2_000_000_000_000));

    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(dir.path().join("dump.rdb"), &f).expect("write");
    let d = dir.path().to_string_lossy().into_owned();
    let s = Server::redis(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let mut c = s.conn();
    for (k, v) in &expected {
        assert_eq!(
            fetch(&mut c, k.as_bytes()),
            Some(normalized(v)),
            "redis {k}"
        );
    }
    assert_eq!(
        c.cmd(&["PEXPIRETIME", "old:list"]),
        Frame::Integer(2_000_000_000_000),
        "{}",
        s.log()
    );
}

#[test]
fn quicklist_plain_nodes_both_ways() {
    let s = Server::redis(&["--enable-debug-command", "yes"]);
    let mut c = s.conn();
    let r = c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "100"]);
    assert_eq!(r, Frame::Simple("OK".into()), "{}", show(&r));
    let big = "B".repeat(300);
    c.cmd(&["RPUSH", "l", "a", &big, "b", &big]);
    assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()));
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump");
    let file = read_rdb(&bytes).expect("read");
    let want = RdbValue::List(vec![b("a"), b(&big), b("b"), b(&big)]);
    assert_eq!(file.entries[0].value, want);

    // Ours, with PLAIN nodes, loaded by Redis.
    let opts = ferrokv_persist::WriteOptions {
        list_plain_threshold: 100,
        ..Default::default()
    };
    let payload = ferrokv_persist::encode_dump(&want, &opts);
    assert_eq!(
        c.cmd(&[b"RESTORE".as_slice(), b"l2", b"0", &payload]),
        Frame::Simple("OK".into())
    );
    assert_eq!(fetch(&mut c, b"l2"), Some(want));
}
