//! DEBUG and the server log, against a real redis-server 7.0:
//!
//! - DEBUG DIGEST / DIGEST-VALUE of the persistence interop dataset (every type
//!   and encoding, TTLs, several dbs) equal redis-server's, whatever encodings
//!   ferrokv picked;
//! - DEBUG RELOAD keeps every key, value, TTL and encoding (and shows what
//!   redis-server shows after its own DEBUG RELOAD);
//! - the log lines Redis's test harness and scripts wait for (banner with the
//!   PID, Ready to accept connections, saves, loads, AOF rewrites) are Redis's,
//!   in Redis's line format.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::dataset::{bytes, keys, load, same, select, snapshot, DBS};
use ferrokv_tests::{show, Conn, Diff, Kind, Server};

const DEBUG_ON: [&str; 2] = ["--enable-debug-command", "yes"];

fn simple(f: Frame) -> String {
    match f {
        Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
        other => panic!("expected a status reply, got {}", show(&other)),
    }
}

fn digest(c: &mut Conn) -> String {
    simple(c.cmd(&["DEBUG", "DIGEST"]))
}

/// DIGEST-VALUE of every key of every db of the dataset, as `(db, key, digest)`.
fn value_digests(c: &mut Conn) -> Vec<String> {
    let mut out = Vec::new();
    for db in DBS {
        select(c, db);
        let ks = keys(c);
        let mut args: Vec<Vec<u8>> = vec![b"DEBUG".to_vec(), b"DIGEST-VALUE".to_vec()];
        args.extend(ks.iter().cloned());
        let Frame::Array(ds) = c.cmd(&args) else {
            panic!("DIGEST-VALUE did not reply an array");
        };
        for (k, d) in ks.iter().zip(ds) {
            out.push(format!("db{db} {} {}", bytes(k), simple(d)));
        }
    }
    select(c, 0);
    out
}

#[test]
fn digest_equals_redis_for_every_type_and_encoding() {
    // Redis's own thresholds, and every compact encoding off. (The digest of a
    // value is not quite encoding-independent in Redis: a listpack stores a -0
    // score as 0, a skiplist keeps -0; so each server runs the same settings.)
    let compact_off = [
        "--hash-max-listpack-entries",
        "0",
        "--zset-max-listpack-entries",
        "0",
        "--set-max-intset-entries",
        "0",
        "--list-max-listpack-size",
        "1",
    ];
    let empty = "0".repeat(40);
    for extra in [&[][..], &compact_off[..]] {
        let mut args = DEBUG_ON.to_vec();
        args.extend_from_slice(extra);
        let redis = Server::redis(&args);
        let ferrokv = Server::ferrokv(&args);
        let (mut r, mut f) = (redis.conn(), ferrokv.conn());
        assert_eq!(digest(&mut r), empty);
        assert_eq!(digest(&mut f), empty);
        load(&mut r);
        load(&mut f);
        let want = digest(&mut r);
        assert_ne!(want, empty);
        same(
            &value_digests(&mut f),
            &value_digests(&mut r),
            "DIGEST-VALUE",
        );
        assert_eq!(digest(&mut f), want, "dataset digest, options {extra:?}");
        // A key that is not there digests to zeros; a TTL changes a value's digest.
        for line in [
            "DEBUG DIGEST-VALUE nosuchkey",
            "SET k v",
            "DEBUG DIGEST-VALUE k",
            "EXPIRE k 1000",
            "DEBUG DIGEST-VALUE k",
            "DEBUG DIGEST",
            "DEBUG DIGEST-VALUE",
            "DEL k",
        ] {
            assert_eq!(show(&f.run(line)), show(&r.run(line)), "{line}");
        }
    }
}

#[test]
fn debug_is_refused_unless_enabled_and_replies_as_redis() {
    let mut d = Diff::new();
    // Diff's servers start without enable-debug-command: refused with Redis's text.
    d.line("DEBUG DIGEST");
    d.line("DEBUG");
    let redis = Server::redis(&DEBUG_ON);
    let ferrokv = Server::ferrokv(&DEBUG_ON);
    let (mut r, mut f) = (redis.conn(), ferrokv.conn());
    let both = |f: &mut Conn, r: &mut Conn, line: &str| {
        let (a, b) = (f.run(line), r.run(line));
        assert_eq!(show(&a), show(&b), "{line}");
    };
    for line in [
        "DEBUG HELP",
        "DEBUG nosuch",
        "DEBUG LOG hello",
        "DEBUG LOG",
        "DEBUG ERROR boom",
        "DEBUG RELOAD NOPE",
        "SET str value",
        "RPUSH list a b c",
        "HSET hash f v",
        "DEBUG LISTPACK hash",
        "DEBUG LISTPACK list",
        "DEBUG QUICKLIST list",
        "DEBUG QUICKLIST hash",
        "DEBUG LISTPACK missing",
        "DEBUG OBJECT missing",
        "DEBUG POPULATE 5",
        "DEBUG POPULATE 3 p 20",
        "DEBUG POPULATE -1",
        "DEBUG POPULATE x",
        "GET key:4",
        "GET p:2",
        "OBJECT ENCODING key:4",
        "DBSIZE",
        "DEBUG SET-ACTIVE-EXPIRE 0",
        "DEBUG SET-ACTIVE-EXPIRE 1",
        "DEBUG QUICKLIST-PACKED-THRESHOLD 1b",
        "DEBUG QUICKLIST-PACKED-THRESHOLD 0",
        "DEBUG QUICKLIST-PACKED-THRESHOLD 5gb",
        "DEBUG SLEEP 0",
        "DEBUG SLEEP 0.01",
        "DEBUG PAUSE-CRON 0",
        "DEBUG REPLYBUFFER PEAK-RESET-TIME NEVER",
        "DEBUG REPLYBUFFER PEAK-RESET-TIME RESET",
        "DEBUG REPLYBUFFER RESIZING 1",
        "DEBUG REPLYBUFFER NOPE 1",
        "DEBUG SET-SKIP-CHECKSUM-VALIDATION 0",
        "DEBUG SET-DISABLE-DENY-SCRIPTS 0",
        "DEBUG STRINGMATCH-TEST",
        "DEBUG CHANGE-REPL-ID",
    ] {
        both(&mut f, &mut r, line);
    }
    for proto in ["2", "3"] {
        // (Client ids differ.)
        f.run(&format!("HELLO {proto}"));
        r.run(&format!("HELLO {proto}"));
        for ty in [
            "string", "integer", "double", "bignum", "null", "array", "set", "map", "attrib",
            "push", "verbatim", "true", "false", "nope",
        ] {
            both(&mut f, &mut r, &format!("DEBUG PROTOCOL {ty}"));
            if ty == "push" && proto == "3" {
                // The push comes before the reply it precedes.
                let (a, b) = (f.read().unwrap(), r.read().unwrap());
                assert_eq!(show(&a), show(&b), "{ty} reply after the push");
            }
        }
    }
    // DEBUG OBJECT: the same fields, pointer, LRU clock and idle time aside (a
    // second may pass between the servers).
    let fields = |s: String| -> Vec<String> {
        s.split(' ')
            .filter(|f| !f.starts_with("at:") && !f.starts_with("lru"))
            .map(str::to_string)
            .collect()
    };
    for key in ["str", "list", "hash"] {
        let a = fields(simple(f.cmd(&["DEBUG", "OBJECT", key])));
        let b = fields(simple(r.cmd(&["DEBUG", "OBJECT", key])));
        assert_eq!(a, b, "DEBUG OBJECT {key}");
    }
}

/// Redis's DEBUG RELOAD variants on the dataset, on a server of `kind` with its
/// data in `dir`: the view after each, and the digests.
fn reloads(kind: Kind, dir: &Path) -> (Vec<String>, Vec<Vec<String>>, Vec<String>) {
    let d = dir.to_string_lossy().into_owned();
    let mut args = DEBUG_ON.to_vec();
    args.extend_from_slice(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let s = Server::start(kind, &args);
    let mut c = s.conn();
    load(&mut c);
    let before = snapshot(&mut c);
    let mut views = Vec::new();
    let mut digests = vec![digest(&mut c)];
    for opts in [
        &["DEBUG", "RELOAD"][..],
        &["DEBUG", "RELOAD", "NOSAVE"][..],
        &["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH", "MERGE"][..],
    ] {
        assert_eq!(c.cmd(opts), Frame::Simple("OK".into()), "{kind:?} {opts:?}");
        views.push(snapshot(&mut c));
        // Loading is not a change a save would miss.
        digests.push(format!("{} {}", digest(&mut c), changes_since_save(&mut c)));
    }
    (before, views, digests)
}

#[test]
fn debug_reload_keeps_every_key_ttl_and_encoding() {
    let fdir = tempfile::tempdir().unwrap();
    let rdir = tempfile::tempdir().unwrap();
    let (before, views, digests) = reloads(Kind::Ferrokv, fdir.path());
    for (i, v) in views.iter().enumerate() {
        same(v, &before, &format!("ferrokv after reload {i}"));
    }
    let plain: Vec<&str> = digests.iter().map(|d| &d[..40]).collect();
    assert!(plain.iter().all(|d| *d == plain[0]), "{digests:?}");
    let (rbefore, rviews, rdigests) = reloads(Kind::Redis, rdir.path());
    same(&before, &rbefore, "ferrokv vs redis before reload");
    for (i, (v, rv)) in views.iter().zip(&rviews).enumerate() {
        same(v, rv, &format!("ferrokv vs redis after reload {i}"));
    }
    assert_eq!(digests, rdigests);

    // NOFLUSH without MERGE: the file's keys are already there.
    let d = fdir.path().to_string_lossy().into_owned();
    let mut args = DEBUG_ON.to_vec();
    args.extend_from_slice(&["--dir", &d, "--dbfilename", "dump.rdb"]);
    let s = Server::ferrokv(&args);
    let mut c = s.conn();
    assert_eq!(digest(&mut c), plain[0], "loaded at start-up");
    assert_eq!(
        show(&c.cmd(&["DEBUG", "RELOAD", "NOSAVE", "NOFLUSH"])),
        "-ERR Error trying to load the RDB dump"
    );
    assert_eq!(digest(&mut c), plain[0]);
}

/// INFO persistence's rdb_changes_since_last_save.
fn changes_since_save(c: &mut Conn) -> String {
    let Frame::Bulk(info) = c.cmd(&["INFO", "persistence"]) else {
        panic!("INFO did not reply a bulk string");
    };
    String::from_utf8_lossy(&info)
        .lines()
        .find(|l| l.starts_with("rdb_changes_since_last_save:"))
        .unwrap_or("rdb_changes_since_last_save missing")
        .to_string()
}

/// A log line's message and marker, checking the prefix is Redis's
/// `pid:role dd Mon yyyy hh:mm:ss.mmm`.
fn parse_line(line: &str, pid: u32) -> Option<(char, String)> {
    let (p, rest) = line.split_once(':')?;
    if p != pid.to_string() {
        return None;
    }
    let mut parts = rest.splitn(7, ' ');
    let role = parts.next()?;
    let (day, mon, year, time) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    let marker = parts.next()?;
    let msg = parts.next()?;
    // Only the server's own lines: Redis's forked children log with their pid,
    // ferrokv logs what they would with role C.
    let ok = role == "M"
        && day.len() == 2
        && day.bytes().all(|b| b.is_ascii_digit())
        && mon.len() == 3
        && year.len() == 4
        && time.len() == 12
        && time.as_bytes()[8] == b'.'
        && marker.len() == 1;
    ok.then(|| (marker.chars().next().unwrap_or(' '), msg.to_string()))
}

/// The lines of `log` whose message starts with `prefix`, as `marker message`.
fn find(log: &str, pid: u32, prefix: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| parse_line(l, pid))
        .filter(|(_, m)| m.starts_with(prefix))
        .map(|(c, m)| format!("{c} {m}"))
        .collect()
}

fn wait_for(s: &Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !s.log().contains(what) {
        assert!(Instant::now() < deadline, "{what} not logged: {}", s.log());
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Starts, saves, rewrites the AOF, restarts: the log of a server of `kind`.
fn logged(kind: Kind, dir: &Path) -> Vec<(u32, String, u16)> {
    let d = dir.to_string_lossy().into_owned();
    let args = [
        "--dir",
        &d,
        "--always-show-logo",
        "yes",
        "--loglevel",
        "notice",
    ];
    let mut logs = Vec::new();
    {
        let s = Server::start(kind, &args);
        let mut c = s.conn();
        c.run("SET a 1");
        c.run("RPUSH l x y");
        assert_eq!(c.run("SAVE"), Frame::Simple("OK".into()));
        wait_for(&s, "DB saved on disk");
        c.run("BGSAVE");
        wait_for(&s, "Background saving terminated with success");
        c.run("BGREWRITEAOF");
        wait_for(&s, "Background AOF rewrite finished successfully");
        c.run("SAVE");
        logs.push((s.pid(), s.log(), s.port));
    }
    let s = Server::start(kind, &args);
    wait_for(&s, "Ready to accept connections");
    logs.push((s.pid(), s.log(), s.port));
    logs
}

#[test]
fn log_lines_are_redis_lines() {
    let fdir = tempfile::tempdir().unwrap();
    let rdir = tempfile::tempdir().unwrap();
    let ours = logged(Kind::Ferrokv, fdir.path());
    let theirs = logged(Kind::Redis, rdir.path());
    // The lines scripts and Redis's test harness wait for: the same marker and
    // text (up to what names a child process or a duration).
    let first = [
        "Server initialized",
        "Ready to accept connections",
        "DB saved on disk",
        "Background saving started by pid",
        "Background saving terminated with success",
        "Background append only file rewriting started by pid",
        "Background AOF rewrite terminated with success",
        "Background AOF rewrite finished successfully",
    ];
    let restart = [
        "Server initialized",
        "Loading RDB produced by version 7.0.15",
        "RDB age ",
        "Done loading RDB, keys loaded: 2, keys expired: 0.",
        "DB loaded from disk: ",
        "Ready to accept connections",
    ];
    for (i, wanted) in [&first[..], &restart[..]].into_iter().enumerate() {
        let (fpid, flog, fport) = &ours[i];
        let (rpid, rlog, _) = &theirs[i];
        for prefix in wanted {
            let f = find(flog, *fpid, prefix);
            let r = find(rlog, *rpid, prefix);
            assert!(!r.is_empty(), "redis did not log {prefix:?}: {rlog}");
            let shape = |v: &[String]| -> Vec<String> {
                v.iter()
                    .map(|l| l.chars().take(2 + prefix.len()).collect())
                    .collect()
            };
            assert_eq!(shape(&f), shape(&r), "{prefix:?} in\n{flog}");
        }
        // The banner the harness waits for (" PID: <pid>"), with the port.
        assert!(flog.contains(&format!(" PID: {fpid}\n")), "{flog}");
        assert!(flog.contains(&format!("Port: {fport}")), "{flog}");
    }
}
