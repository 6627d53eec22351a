//! A dataset of every type in both encodings (small and large), strings of every
//! encoding, empty and binary members, integer and score edge values, large
//! values and far-future TTLs, spread over databases 0, 1, 7 and 15, moved
//! between ferrokv and a real redis-server 7.0 in both directions:
//!
//! - RDB files: compressed or not, with or without a checksum, with LRU or LFU
//!   fields, with expired keys Redis still wrote, with plain quicklist nodes,
//!   and written under other encoding thresholds than the reader's;
//! - AOF folders: with and without an RDB preamble, with and without
//!   BGREWRITEAOF, with `#TS:` annotations, plus writes the AOF must log in
//!   another form than they were sent (relative TTLs, random pops, ...);
//! - DUMP/RESTORE of every key of every database.
//!
//! What the reader shows (TYPE, OBJECT ENCODING, contents, PEXPIRETIME, DBSIZE,
//! INFO keyspace) must be what redis-server shows: for the dataset written
//! directly, or for redis-server reading the same file.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::dataset::*;
use ferrokv_tests::{show, Conn, Kind, Server};

/// What redis-server shows for the dataset written directly, checked against
/// the dataset's own expectations (every TTL where it was set, every encoding
/// present).
fn expected() -> Vec<String> {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    load(&mut c);
    let snap = snapshot(&mut c);
    for db in DBS {
        select(&mut c, db);
        for (k, at) in expected_ttls(db) {
            assert_eq!(
                c.cmd(&[&b"PEXPIRETIME"[..], &k]),
                Frame::Integer(at as i64),
                "db{db} {}",
                bytes(&k)
            );
        }
    }
    // Every type in each of its encodings (Redis 7.0's names).
    for (key, enc) in [
        ("str:int", "int"),
        ("str:embstr", "embstr"),
        ("str:raw", "raw"),
        ("list:small", "quicklist"),
        ("hash:small", "listpack"),
        ("hash:many", "hashtable"),
        ("hash:long", "hashtable"),
        ("set:int64", "intset"),
        ("set:many-ints", "hashtable"),
        ("set:strings", "hashtable"),
        ("zset:small", "listpack"),
        ("zset:many", "skiplist"),
        ("zset:long", "skiplist"),
    ] {
        let prefix = format!("db7 \"{key}\" ");
        let line = snap.iter().find(|l| l.starts_with(&prefix)).unwrap();
        assert!(line.contains(&format!(" \"{enc}\" ")), "{line}");
    }
    assert_eq!(keyspace_lines(&mut c).len(), DBS.len());
    snap
}

fn start_on(kind: Kind, dir: &Path, extra: &[&str]) -> Server {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["--dir", &d, "--dbfilename", "dump.rdb"];
    args.extend_from_slice(extra);
    Server::start(kind, &args)
}

/// SHUTDOWN (with its default save behaviour) and wait for the exit.
fn shutdown(mut s: Server) {
    let mut c = s.conn();
    c.send(&["SHUTDOWN"]);
    let _ = c.read();
    assert!(
        s.wait_exit(Duration::from_secs(30)).is_some(),
        "{:?} did not stop: {}",
        s.kind,
        s.log()
    );
}

/// redis-check-rdb must find the file valid.
fn check_rdb(file: &Path, what: &str) {
    let check = std::process::Command::new("/usr/bin/redis-check-rdb")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "redis-check-rdb on {what}: {}",
        String::from_utf8_lossy(&check.stdout)
    );
}

/// Makes Redis store list elements over 1000 bytes in quicklist nodes of their
/// own ("plain" nodes, container 1 in the RDB), as it does for elements over
/// 1 GB by default.
fn plain_list_nodes(c: &mut Conn) {
    let r = c.cmd(&["DEBUG", "QUICKLIST-PACKED-THRESHOLD", "1000"]);
    assert_eq!(r, Frame::Simple("OK".into()));
}

/// Leaves keys that have expired but were never deleted (active expiry off,
/// never accessed), so redis-server writes them into the RDB; a server loading
/// it as a master drops them.
fn save_expired_keys(c: &mut Conn) {
    assert_eq!(
        c.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        Frame::Simple("OK".into())
    );
    select(c, 1);
    c.cmd(&["SET", "gone:1", "x", "PX", "50"]);
    select(c, 7);
    c.cmd(&["HSET", "gone:2", "f", "v"]);
    c.cmd(&["PEXPIRE", "gone:2", "50"]);
    select(c, 0);
    std::thread::sleep(Duration::from_millis(150));
}

/// The RDB file written with `opts` by each server loads in both.
fn rdb_route(opts: &[&str]) -> Vec<(Kind, u64)> {
    let want = expected();
    let mut sizes = Vec::new();
    for writer in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut args = opts.to_vec();
            if writer == Kind::Redis {
                args.extend(["--enable-debug-command", "yes"]);
            }
            let s = start_on(writer, dir.path(), &args);
            let mut c = s.conn();
            if writer == Kind::Redis {
                plain_list_nodes(&mut c);
            }
            load(&mut c);
            same(
                &snapshot(&mut c),
                &want,
                &format!("{writer:?} before saving"),
            );
            if writer == Kind::Redis {
                save_expired_keys(&mut c);
            }
            assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()), "{}", s.log());
        }
        let file = dir.path().join("dump.rdb");
        check_rdb(&file, &format!("{writer:?} saving with {opts:?}"));
        let data = std::fs::read(&file).unwrap();
        let checksum = &data[data.len() - 8..];
        if opts.contains(&"no") && opts.contains(&"--rdbchecksum") {
            assert_eq!(checksum, [0; 8], "{writer:?} with rdbchecksum no");
        } else {
            assert_ne!(checksum, [0; 8], "{writer:?} with a checksum");
        }
        if writer == Kind::Redis {
            assert!(
                data.windows(6).any(|w| w == b"gone:1"),
                "no expired key saved"
            );
        }
        sizes.push((writer, data.len() as u64));
        for reader in [Kind::Redis, Kind::Ferrokv] {
            let s = start_on(reader, dir.path(), &[]);
            let mut c = s.conn();
            same(
                &snapshot(&mut c),
                &want,
                &format!(
                    "{reader:?} loading what {writer:?} saved with {opts:?}: {}",
                    s.log()
                ),
            );
        }
    }
    sizes
}

#[test]
fn rdb_files_move_both_ways() {
    let compressed = rdb_route(&[]);
    let plain = rdb_route(&["--rdbcompression", "no"]);
    // Both servers compress the same values: ferrokv's file is about Redis's size,
    // and turning compression off costs at least the compressible strings.
    for ((w, c), (_, p)) in compressed.iter().zip(&plain) {
        assert!(p > &(c + 4 * 17_000), "{w:?}: compressed {c}, plain {p}");
    }
    let (ours, theirs) = (compressed[0].1 as f64, compressed[1].1 as f64);
    assert!((ours / theirs - 1.0).abs() < 0.02, "{compressed:?}");
}

#[test]
fn rdb_files_without_checksum_move_both_ways() {
    rdb_route(&["--rdbchecksum", "no"]);
}

/// Under an LRU or LFU maxmemory-policy every key in the file is preceded by
/// its idle time or access frequency.
#[test]
fn rdb_files_with_lru_and_lfu_fields_move_both_ways() {
    rdb_route(&["--maxmemory-policy", "allkeys-lru"]);
    rdb_route(&["--maxmemory-policy", "allkeys-lfu"]);
}

/// Encoding thresholds far above the defaults, lists in small compressed
/// quicklist nodes (compressed nodes go to the RDB as LZF blobs even with
/// rdbcompression no).
const ROOMY: [&str; 14] = [
    "--hash-max-listpack-entries",
    "1000",
    "--hash-max-listpack-value",
    "300",
    "--zset-max-listpack-entries",
    "1000",
    "--zset-max-listpack-value",
    "300",
    "--set-max-intset-entries",
    "1000",
    "--list-max-listpack-size",
    "4",
    "--list-compress-depth",
    "1",
];

/// Thresholds below the dataset's small collections.
const TIGHT: [&str; 8] = [
    "--hash-max-listpack-entries",
    "2",
    "--zset-max-listpack-entries",
    "2",
    "--set-max-intset-entries",
    "2",
    "--list-max-listpack-size",
    "-1",
];

/// A file written under `writer_opts` and loaded under `reader_opts`: each
/// collection gets the encoding the reader's thresholds call for. redis-server
/// loading the same file is the oracle.
fn rdb_across_configs(writer_opts: &[&str], reader_opts: &[&str]) {
    let mut written = Vec::new();
    let mut loaded = Vec::new();
    let mut restores = Vec::new();
    for writer in [Kind::Redis, Kind::Ferrokv] {
        let what = format!("{writer:?} writing with {writer_opts:?}, read with {reader_opts:?}");
        let dir = tempfile::tempdir().unwrap();
        let mut opts = vec!["--rdbcompression", "no"];
        opts.extend_from_slice(writer_opts);
        {
            let s = start_on(writer, dir.path(), &opts);
            let mut c = s.conn();
            load(&mut c);
            written.push(snapshot(&mut c));
            assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()), "{}", s.log());
            // The same values as DUMP payloads, restored under the reader's config.
            let payloads = dump_db(&mut c, 7);
            let by_redis = restored(Kind::Redis, reader_opts, 7, &payloads);
            let by_ferrokv = restored(Kind::Ferrokv, reader_opts, 7, &payloads);
            same(
                &by_ferrokv,
                &by_redis,
                &format!("{what}: restoring db 7's payloads"),
            );
            restores.push(by_redis);
        }
        check_rdb(&dir.path().join("dump.rdb"), &what);
        let mut views = Vec::new();
        for reader in [Kind::Redis, Kind::Ferrokv] {
            let s = start_on(reader, dir.path(), reader_opts);
            views.push(snapshot(&mut s.conn()));
        }
        same(
            &views[1],
            &views[0],
            &format!("{what}: ferrokv vs redis loading it"),
        );
        loaded.push(views.swap_remove(0));
    }
    same(
        &written[1],
        &written[0],
        &format!("{writer_opts:?} before saving"),
    );
    same(
        &loaded[1],
        &loaded[0],
        "redis loading ferrokv's vs its own file",
    );
    same(
        &restores[1],
        &restores[0],
        "redis restoring ferrokv's vs its own payloads",
    );
    assert_ne!(
        written[0], loaded[0],
        "the configs should change some encoding"
    );
}

#[test]
fn rdb_files_load_under_other_encoding_thresholds() {
    rdb_across_configs(&ROOMY, &[]);
    rdb_across_configs(&[], &TIGHT);
    rdb_across_configs(&TIGHT, &ROOMY);
}

/// Every key of `db` restored from `payloads` on a fresh server of `kind`
/// started with `opts`.
fn restored(kind: Kind, opts: &[&str], db: u32, payloads: &[(Vec<u8>, Vec<u8>)]) -> Vec<String> {
    let s = Server::start(kind, opts);
    let mut c = s.conn();
    select(&mut c, db);
    for (k, p) in payloads {
        let r = c.cmd(&[&b"RESTORE"[..], k, b"0", p]);
        assert_eq!(
            r,
            Frame::Simple("OK".into()),
            "{kind:?} RESTORE {}",
            bytes(k)
        );
    }
    snapshot(&mut c)
}

/// The DUMP payload of every key of `db`.
fn dump_db(c: &mut Conn, db: u32) -> Vec<(Vec<u8>, Vec<u8>)> {
    select(c, db);
    let payloads = keys(c)
        .into_iter()
        .map(|k| match c.cmd(&[&b"DUMP"[..], &k]) {
            Frame::Bulk(p) => (k, p.to_vec()),
            other => panic!("DUMP: {}", show(&other)),
        })
        .collect();
    select(c, 0);
    payloads
}

/// Listpacks whose values outgrew hash/zset-max-listpack-value by a CONFIG SET
/// stay listpacks (Redis never converts on a threshold change), and Redis saves
/// and dumps them as listpacks, which load as listpacks again.
#[test]
fn listpacks_kept_across_config_set_survive_save_and_restore() {
    let mut views: Vec<(String, Vec<String>)> = Vec::new();
    for writer in [Kind::Redis, Kind::Ferrokv] {
        let dir = tempfile::tempdir().unwrap();
        let s = start_on(writer, dir.path(), &[]);
        let mut c = s.conn();
        for (param, value) in [
            ("hash-max-listpack-value", "300"),
            ("zset-max-listpack-value", "300"),
        ] {
            assert_eq!(
                c.cmd(&["CONFIG", "SET", param, value]),
                Frame::Simple("OK".into())
            );
        }
        load(&mut c);
        for param in ["hash-max-listpack-value", "zset-max-listpack-value"] {
            assert_eq!(
                c.cmd(&["CONFIG", "SET", param, "64"]),
                Frame::Simple("OK".into())
            );
        }
        let before = snapshot(&mut c);
        for key in ["hash:long", "zset:long"] {
            let prefix = format!("db7 \"{key}\" ");
            let line = before.iter().find(|l| l.starts_with(&prefix)).unwrap();
            assert!(line.contains(" \"listpack\" "), "{writer:?}: {line}");
        }
        views.push((format!("{writer:?} in memory"), before));
        let payloads = dump_db(&mut c, 7);
        for reader in [Kind::Redis, Kind::Ferrokv] {
            views.push((
                format!("{reader:?} restoring {writer:?}'s payloads"),
                restored(reader, &[], 7, &payloads),
            ));
        }
        assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()));
        drop(s);
        check_rdb(
            &dir.path().join("dump.rdb"),
            &format!("{writer:?} after CONFIG SET"),
        );
        for reader in [Kind::Redis, Kind::Ferrokv] {
            let s = start_on(reader, dir.path(), &[]);
            views.push((
                format!("{reader:?} loading {writer:?}'s file"),
                snapshot(&mut s.conn()),
            ));
        }
    }
    // Per writer: memory, restored by Redis, by ferrokv, loaded by Redis, by
    // ferrokv. ferrokv reading Redis's output must match Redis reading it, and
    // everything made from ferrokv's output must match the same made from Redis's.
    for i in 0..5 {
        let ((what, want), (other, got)) = (&views[i], &views[i + 5]);
        same(got, want, &format!("{other} vs {what}"));
    }
    same(
        &views[2].1,
        &views[1].1,
        "ferrokv vs Redis restoring Redis's payloads",
    );
    same(
        &views[4].1,
        &views[3].1,
        "ferrokv vs Redis loading Redis's file",
    );
}

/// Writes in dbs 3 to 6 that the AOF must not log as they were sent: relative TTLs
/// (logged as absolute times, else a reload would move them), random pops
/// (logged as the members removed), float increments (logged as the result).
fn propagated_writes(c: &mut Conn) {
    select(c, 3);
    for line in [
        "SET ttl:ex v EX 100000",
        "SET ttl:px v PX 100000000",
        "SETEX ttl:setex 100000 v",
        "PSETEX ttl:psetex 100000000 v",
        "SET ttl:expire v",
        "EXPIRE ttl:expire 100000",
        "SET ttl:pexpire v",
        "PEXPIRE ttl:pexpire 100000000",
        "SET ttl:getex v",
        "GETEX ttl:getex EX 100000",
        "SET ttl:persist v EX 100000",
        "PERSIST ttl:persist",
        "SET ttl:keep v EX 100000",
        "SET ttl:keep w KEEPTTL",
        "SET ttl:float 1.5 EX 100000",
        "INCRBYFLOAT ttl:float 0.1",
        "HSET hfloat f 1.5",
        "HINCRBYFLOAT hfloat f 0.1",
        "RPUSH ttl:list a b c 1 2 3",
        "EXPIRE ttl:list 100000",
        "COPY ttl:list ttl:copy",
        "SET ttl:renamed v PX 100000000",
        "RENAME ttl:renamed ttl:renamed2",
        "SADD popped 1 2 3 4 5 6 7 8 9 10 a b c d e f g h i j",
        "SPOP popped 5",
        "SPOP popped",
        "SADD moved x",
        "SMOVE popped moved a",
        "GETDEL ttl:pexpire",
        "ZADD zpopped 1 a 2 b 3 c",
        "ZPOPMIN zpopped",
        "SET ttl:exat v EXAT 4102444800",
        "SET ttl:pxat v PXAT 4102444800123",
        "SET ttl:get v EX 1000",
        "SET ttl:get w GET EX 100000",
        "SET ttl:nx v EX 100000",
        "EXPIRE ttl:nx 200000 NX",
        "EXPIRE ttl:nx 200000 GT",
        "EXPIRE ttl:nx 50000 LT",
        "SET ttl:neg v",
        "EXPIRE ttl:neg -1",
        "SET ttl:past v",
        "PEXPIREAT ttl:past 1000",
        "SET ttl:getexpx v",
        "GETEX ttl:getexpx PX 100000000",
        "SET ttl:getexpersist v EX 1000",
        "GETEX ttl:getexpersist PERSIST",
        "SET ttl:range abc EX 100000",
        "SETRANGE ttl:range 5 xyz",
        "APPEND ttl:range !",
        "SET ttl:move v EX 100000",
        "MOVE ttl:move 4",
        "SET ttl:copydb v PX 100000000",
        "COPY ttl:copydb ttl:copydb DB 5",
        "SELECT 4",
        "SET in4 v",
        "SELECT 6",
        "SET in6 v EX 100000",
        "SWAPDB 4 6",
        "SELECT 3",
        "RENAMENX ttl:copydb ttl:copydb2",
        "SADD spop:ints 1 2 3 4 5 6 7 8 9",
        "SPOP spop:ints 2",
        "RPUSH src 1 2 3 4",
        "LMOVE src dst LEFT RIGHT",
        "RPOPLPUSH src dst",
        "ZADD zinc 1 a",
        "ZINCRBY zinc 0.1 a",
        "ZADD zinc INCR 0.2 a",
        "HSETNX h f v",
        "MSETNX m1 a m2 b",
        "SADD s1 a b c",
        "SADD s2 b c d",
        "SINTERSTORE sinter s1 s2",
        "ZUNIONSTORE zunion 2 zinc zpopped WEIGHTS 2 3",
        "GEOADD geo 13.361389 38.115556 Palermo 15.087269 37.502669 Catania",
        "GEOSEARCHSTORE geostore geo FROMLONLAT 15 37 BYRADIUS 200 km ASC STOREDIST",
        "SET gone v",
        "UNLINK gone",
        "SET tmp v EX 100000",
        "DEL tmp",
    ] {
        let r = c.run(line);
        assert!(!matches!(r, Frame::Error(_)), "{line}: {}", show(&r));
    }
    select(c, 0);
}

/// RESTORE with a relative TTL is logged with the absolute time (Redis rewrites
/// it to `RESTORE key <unix ms> payload ... ABSTTL`), so a reload keeps the
/// expiry where it was.
#[test]
fn restore_with_a_relative_ttl_keeps_its_expiry_through_the_aof() {
    for writer in [Kind::Redis, Kind::Ferrokv] {
        let dir = tempfile::tempdir().unwrap();
        let s = start_on(writer, dir.path(), &["--appendonly", "yes"]);
        let mut c = s.conn();
        c.run("RPUSH list a b c");
        let Frame::Bulk(p) = c.cmd(&["DUMP", "list"]) else {
            panic!("DUMP")
        };
        let r = c.cmd(&[&b"RESTORE"[..], b"restored", b"100000000", &p]);
        assert_eq!(r, Frame::Simple("OK".into()));
        let at = c.cmd(&["PEXPIRETIME", "restored"]);
        assert!(matches!(at, Frame::Integer(t) if t > 0), "{}", show(&at));
        shutdown(s);
        // Long enough that a TTL re-applied at load time would differ.
        std::thread::sleep(Duration::from_millis(20));
        for reader in [Kind::Redis, Kind::Ferrokv] {
            let copy = copy_aof(dir.path());
            let s = start_on(reader, copy.path(), &["--appendonly", "yes"]);
            assert_eq!(
                s.conn().cmd(&["PEXPIRETIME", "restored"]),
                at,
                "{reader:?} loading {writer:?}'s AOF"
            );
        }
    }
}

/// A snapshot without the lines of databases 3 to 6 (`propagated_writes`).
fn without_db3(snap: &[String]) -> Vec<String> {
    snap.iter()
        .filter(|l| {
            !(3..=6)
                .any(|db| l.starts_with(&format!("db{db} ")) || l.starts_with(&format!("db{db}:")))
        })
        .cloned()
        .collect()
}

/// A copy of the AOF folder in `from` in a new directory.
fn copy_aof(from: &Path) -> tempfile::TempDir {
    let to = tempfile::tempdir().unwrap();
    std::fs::create_dir(to.path().join("appendonlydir")).unwrap();
    for e in std::fs::read_dir(from.join("appendonlydir")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(
            e.path(),
            to.path().join("appendonlydir").join(e.file_name()),
        )
        .unwrap();
    }
    to
}

/// Writes the dataset on `writer` with appendonly yes, rewrites or not, stops it
/// with SHUTDOWN; redis-server and ferrokv each load a copy of the folder.
/// Returns their views.
fn aof_route(
    writer: Kind,
    preamble: &str,
    rewrite: bool,
    extra: &[&str],
    want: &[String],
) -> [Vec<String>; 2] {
    let what = format!("{writer:?}'s AOF, preamble {preamble}, rewrite {rewrite} {extra:?}");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = vec!["--appendonly", "yes", "--aof-use-rdb-preamble", preamble];
    opts.extend_from_slice(extra);
    let s = start_on(writer, dir.path(), &opts);
    let mut c = s.conn();
    load(&mut c);
    propagated_writes(&mut c);
    if rewrite {
        assert_eq!(
            c.cmd(&["BGREWRITEAOF"]),
            Frame::Simple("Background append only file rewriting started".into())
        );
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let Frame::Bulk(info) = c.cmd(&["INFO", "persistence"]) else {
                panic!("INFO")
            };
            let info = String::from_utf8_lossy(&info).into_owned();
            if info.contains("aof_rewrite_in_progress:0")
                && info.contains("aof_rewrite_scheduled:0")
            {
                break;
            }
            assert!(Instant::now() < deadline, "{what}: rewrite did not finish");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let before = snapshot(&mut c);
    same(
        &without_db3(&before),
        &without_db3(want),
        &format!("{what}: before stopping"),
    );
    shutdown(s);
    let ext = if preamble == "yes" { "rdb" } else { "aof" };
    let base = if rewrite { 2 } else { 1 };
    let base = dir
        .path()
        .join(format!("appendonlydir/appendonly.aof.{base}.base.{ext}"));
    assert!(base.exists(), "{what}: no {}", base.display());
    let manifest = dir.path().join("appendonlydir/appendonly.aof.manifest");
    let check = std::process::Command::new("/usr/bin/redis-check-aof")
        .arg(&manifest)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains("All AOF files and manifest are valid"),
        "{what}: redis-check-aof: {report}"
    );
    if extra.contains(&"--aof-timestamp-enabled") {
        let annotated = std::fs::read_dir(dir.path().join("appendonlydir"))
            .unwrap()
            .map(|e| std::fs::read(e.unwrap().path()).unwrap())
            .any(|data| data.windows(4).any(|w| w == b"#TS:"));
        assert!(annotated, "{what}: no #TS: annotation written");
    }
    let views = [Kind::Redis, Kind::Ferrokv].map(|reader| {
        let copy = copy_aof(dir.path());
        let s = start_on(reader, copy.path(), &["--appendonly", "yes"]);
        snapshot(&mut s.conn())
    });
    same(
        &views[1],
        &views[0],
        &format!("ferrokv vs Redis loading {what}"),
    );
    // The data and expire times as they were; only a string built by APPEND or
    // SETRANGE ("raw") may come back as "embstr", as in Redis.
    let strings = |v: &[String]| -> Vec<String> {
        v.iter()
            .map(|l| l.replace(" \"raw\" ", " \"embstr\" "))
            .collect()
    };
    same(
        &strings(&views[0]),
        &strings(&before),
        &format!("Redis loading {what} vs before"),
    );
    views
}

/// Both servers' AOF folders, loaded by both: every view must be the writer's
/// data before it stopped (checked by `aof_route`), and, apart from db 3
/// (times and random pops), what Redis shows loading its own folder.
fn aof_both_ways(preamble: &str, rewrite: bool, extra: &[&str], want: &[String]) {
    let [redis_by_redis, redis_by_ferrokv] =
        aof_route(Kind::Redis, preamble, rewrite, extra, want).map(|v| without_db3(&v));
    let [ferrokv_by_redis, ferrokv_by_ferrokv] =
        aof_route(Kind::Ferrokv, preamble, rewrite, extra, want).map(|v| without_db3(&v));
    let what = format!("preamble {preamble}, rewrite {rewrite} {extra:?}");
    same(
        &redis_by_redis,
        &without_db3(want),
        &format!("{what}: Redis loading its own folder vs the data as written"),
    );
    same(
        &redis_by_ferrokv,
        &redis_by_redis,
        &format!("{what}: ferrokv vs Redis loading Redis's folder"),
    );
    same(
        &ferrokv_by_redis,
        &redis_by_redis,
        &format!("{what}: Redis loading ferrokv's folder vs its own"),
    );
    same(
        &ferrokv_by_ferrokv,
        &redis_by_redis,
        &format!("{what}: ferrokv loading its own folder vs Redis loading its own"),
    );
}

#[test]
fn aof_folders_move_both_ways() {
    let want = expected();
    for preamble in ["yes", "no"] {
        for rewrite in [false, true] {
            aof_both_ways(preamble, rewrite, &[], &want);
        }
    }
}

/// Redis 7.0 can annotate its AOF with `#TS:<unix time>` lines.
#[test]
fn redis_aof_with_timestamp_annotations_loads_in_ferrokv() {
    let want = expected();
    let ts = ["--aof-timestamp-enabled", "yes"];
    for (preamble, rewrite) in [("no", false), ("no", true), ("yes", false)] {
        // aof_route compares both readers with what Redis had written.
        aof_route(Kind::Redis, preamble, rewrite, &ts, &want);
    }
}

#[test]
fn dump_payloads_restore_both_ways() {
    let want = expected();
    let ours = Server::ferrokv(&[]);
    let theirs = Server::redis(&["--enable-debug-command", "yes"]);
    plain_list_nodes(&mut theirs.conn());
    for (from, to) in [(&ours, &theirs), (&theirs, &ours)] {
        let mut src = from.conn();
        let mut dst = to.conn();
        src.cmd(&["FLUSHALL"]);
        dst.cmd(&["FLUSHALL"]);
        load(&mut src);
        for db in DBS {
            select(&mut src, db);
            select(&mut dst, db);
            for k in keys(&mut src) {
                let payload = src.cmd(&[&b"DUMP"[..], &k]);
                let Frame::Bulk(p) = payload else {
                    panic!("DUMP {}: {payload:?}", bytes(&k))
                };
                let at = match src.cmd(&[&b"PEXPIRETIME"[..], &k]) {
                    Frame::Integer(t) if t > 0 => t.to_string(),
                    _ => "0".to_string(),
                };
                let mut args: Vec<&[u8]> = vec![b"RESTORE", &k, at.as_bytes(), &p];
                if at != "0" {
                    args.push(b"ABSTTL");
                }
                let r = dst.cmd(&args);
                assert_eq!(r, Frame::Simple("OK".into()), "RESTORE {}", bytes(&k));
            }
        }
        same(
            &snapshot(&mut dst),
            &want,
            &format!("{:?} restoring what {:?} dumped", to.kind, from.kind),
        );
    }
}

/// Where the encoding has an order of its own (everything but hash tables),
/// ferrokv's DUMP payloads are Redis's, byte for byte: quicklist node
/// boundaries, listpack and intset layouts, LZF output.
#[test]
fn dump_payloads_are_redis_bytes_where_the_encoding_is_ordered() {
    for (compression, fill) in [
        ("yes", "-2"),
        ("no", "-2"),
        ("yes", "5"),
        ("yes", "-1"),
        ("no", "-5"),
    ] {
        dump_bytes_match(compression, fill);
    }
}

fn dump_bytes_match(compression: &str, fill: &str) {
    let opts = [
        "--rdbcompression",
        compression,
        "--list-max-listpack-size",
        fill,
    ];
    let ours = Server::ferrokv(&opts);
    let theirs = Server::redis(&opts);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    load(&mut a);
    load(&mut b);
    let mut compared = 0;
    for db in DBS {
        select(&mut a, db);
        select(&mut b, db);
        for k in keys(&mut b) {
            let enc = show(&b.cmd(&[&b"OBJECT"[..], b"ENCODING", &k]));
            if enc == "\"hashtable\"" {
                continue;
            }
            let (x, y) = (a.cmd(&[&b"DUMP"[..], &k]), b.cmd(&[&b"DUMP"[..], &k]));
            assert!(
                x == y,
                "{opts:?}: db{db} {} ({enc}): ferrokv {} vs redis {}",
                bytes(&k),
                render(&x),
                render(&y)
            );
            compared += 1;
        }
    }
    assert!(compared > 60, "{compared}");
}
