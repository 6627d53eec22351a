//! RDB files and DUMP payloads of every collection type in both encodings, moved
//! between ferrokv and a real redis-server 7.0 in both directions: the data read
//! back (and its OBJECT ENCODING) must be what the other server shows.

use std::path::Path;

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Kind, Server};

/// Commands that build one key of each type and encoding.
fn dataset() -> Vec<Vec<String>> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let mut c = |parts: Vec<String>| cmds.push(parts);
    let s = |x: &str| x.to_string();
    c(vec![
        s("RPUSH"),
        s("list:small"),
        s("a"),
        s("1"),
        s("-5"),
        s(""),
        s("b"),
    ]);
    let mut big = vec![s("RPUSH"), s("list:big")];
    big.extend((0..3000).map(|i| format!("element-{i}-{}", "x".repeat(i % 70))));
    c(big);
    c(vec![
        s("RPUSH"),
        s("list:huge-item"),
        "y".repeat(20_000),
        s("z"),
    ]);
    c(vec![
        s("HSET"),
        s("hash:small"),
        s("f1"),
        s("v1"),
        s("f2"),
        s("12"),
    ]);
    let mut bigh = vec![s("HSET"), s("hash:many")];
    for i in 0..600 {
        bigh.push(format!("field{i}"));
        bigh.push(format!("{i}"));
    }
    c(bigh);
    c(vec![s("HSET"), s("hash:long"), s("f"), "v".repeat(100)]);
    c(vec![s("SADD"), s("set:int16"), s("1"), s("2"), s("-3")]);
    c(vec![
        s("SADD"),
        s("set:int64"),
        s("1"),
        s("9223372036854775807"),
    ]);
    let mut bigs = vec![s("SADD"), s("set:many-ints")];
    bigs.extend((0..700).map(|i| (i * 7).to_string()));
    c(bigs);
    c(vec![s("SADD"), s("set:strings"), s("a"), s("b"), s("c")]);
    c(vec![
        s("ZADD"),
        s("zset:small"),
        s("1"),
        s("a"),
        s("2.5"),
        s("b"),
        s("-inf"),
        s("c"),
    ]);
    let mut bigz = vec![s("ZADD"), s("zset:many")];
    for i in 0..300 {
        bigz.push(format!("{}", i as f64 / 3.0));
        bigz.push(format!("member{i}"));
    }
    c(bigz);
    c(vec![s("ZADD"), s("zset:long"), s("1e20"), "m".repeat(100)]);
    c(vec![s("SET"), s("string"), s("plain")]);
    c(vec![s("PEXPIREAT"), s("list:small"), s("4102444800000")]);
    c(vec![s("PEXPIREAT"), s("hash:many"), s("4102444800000")]);
    cmds
}

/// Zsets join once their type lands.
const ZSETS: bool = true;

fn load(c: &mut Conn) {
    for cmd in dataset()
        .into_iter()
        .filter(|c| ZSETS || !c[1].starts_with("zset"))
    {
        let r = c.cmd(&cmd);
        assert!(!matches!(r, Frame::Error(_)), "{cmd:?}: {r:?}");
    }
}

fn sorted_items(f: Frame) -> Vec<String> {
    let mut v: Vec<String> = match f {
        Frame::Array(items) | Frame::Set(items) => items.iter().map(show).collect(),
        other => vec![show(&other)],
    };
    v.sort();
    v
}

/// Everything a client can see of the database, in a comparable form.
fn snapshot(c: &mut Conn) -> Vec<String> {
    let mut keys = sorted_items(c.cmd(&["KEYS", "*"]));
    keys.iter_mut()
        .for_each(|k| *k = k.trim_matches('"').to_string());
    let mut out = Vec::new();
    for k in keys {
        let ty = show(&c.cmd(&["TYPE", &k]));
        let body = match ty.as_str() {
            "+string" => show(&c.cmd(&["GET", &k])),
            "+list" => show(&c.cmd(&["LRANGE", &k, "0", "-1"])),
            "+hash" => {
                let f = c.cmd(&["HGETALL", &k]);
                let mut pairs: Vec<String> = match f {
                    Frame::Array(items) => items
                        .chunks(2)
                        .map(|p| format!("{}={}", show(&p[0]), show(&p[1])))
                        .collect(),
                    other => vec![show(&other)],
                };
                pairs.sort();
                pairs.join(",")
            }
            "+set" => sorted_items(c.cmd(&["SMEMBERS", &k])).join(","),
            "+zset" => show(&c.cmd(&["ZRANGE", &k, "0", "-1", "WITHSCORES"])),
            other => format!("unexpected type {other}"),
        };
        let enc = show(&c.cmd(&["OBJECT", "ENCODING", &k]));
        let ttl = show(&c.cmd(&["PEXPIRETIME", &k]));
        out.push(format!("{k} {ty} {enc} ttl={ttl} {body}"));
    }
    out
}

fn start_on(kind: Kind, dir: &Path) -> Server {
    let d = dir.to_string_lossy().into_owned();
    Server::start(kind, &["--dir", &d, "--dbfilename", "dump.rdb"])
}

/// What redis-server shows for the dataset.
fn expected() -> Vec<String> {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    load(&mut c);
    let snap = snapshot(&mut c);
    assert!(snap.len() >= 10, "{snap:?}");
    snap
}

#[test]
fn rdb_files_move_both_ways() {
    let want = expected();
    for (writer, readers) in [
        (Kind::Ferrokv, [Kind::Redis, Kind::Ferrokv]),
        (Kind::Redis, [Kind::Ferrokv, Kind::Ferrokv]),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        {
            let s = start_on(writer, dir.path());
            let mut c = s.conn();
            load(&mut c);
            assert_eq!(snapshot(&mut c), want, "{writer:?} before saving");
            assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()), "{}", s.log());
        }
        for reader in readers {
            let s = start_on(reader, dir.path());
            let mut c = s.conn();
            assert_eq!(
                snapshot(&mut c),
                want,
                "{reader:?} loading what {writer:?} saved: {}",
                s.log()
            );
        }
    }
}

#[test]
fn dump_payloads_restore_both_ways() {
    let want = expected();
    let ours = Server::ferrokv(&[]);
    let theirs = Server::redis(&[]);
    for (from, to) in [(&ours, &theirs), (&theirs, &ours)] {
        let mut src = from.conn();
        let mut dst = to.conn();
        src.cmd(&["FLUSHALL"]);
        dst.cmd(&["FLUSHALL"]);
        load(&mut src);
        let keys = sorted_items(src.cmd(&["KEYS", "*"]));
        for k in keys {
            let k = k.trim_matches('"').to_string();
            let payload = src.cmd(&["DUMP", &k]);
            let Frame::Bulk(p) = payload else {
                panic!("DUMP {k}: {payload:?}")
            };
            let at = match src.cmd(&["PEXPIRETIME", &k]) {
                Frame::Integer(t) if t > 0 => t.to_string(),
                _ => "0".to_string(),
            };
            let mut args: Vec<&[u8]> = vec![b"RESTORE", k.as_bytes(), at.as_bytes(), &p];
            if at != "0" {
                args.push(b"ABSTTL");
            }
            let r = dst.cmd(&args);
            assert_eq!(r, Frame::Simple("OK".into()), "RESTORE {k}");
        }
        assert_eq!(snapshot(&mut dst), want);
    }
}
