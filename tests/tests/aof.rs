//! The append-only file: restarts recover everything, `appendfsync always`
//! survives `kill -9`, torn tails and corruption are handled, BGREWRITEAOF and
//! CONFIG SET appendonly keep every write, and AOF folders move between ferrokv
//! and redis-server 7.0 in both directions.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{ferrokv_binary, free_port, redis_binary, show, sorted, Conn, Kind};

/// A server process on a directory that outlives it (restarts reuse it).
struct Proc {
    child: Child,
    port: u16,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join("server.log")
}

fn log(dir: &Path) -> String {
    std::fs::read_to_string(log_path(dir)).unwrap_or_default()
}

/// Starts `kind` in `dir`. `Err` carries the exit code when it refuses to start.
fn start(kind: Kind, dir: &Path, extra: &[&str]) -> Result<Proc, Option<i32>> {
    let port = free_port();
    let bin = match kind {
        Kind::Ferrokv => ferrokv_binary(),
        Kind::Redis => redis_binary(),
    };
    let mut cmd = Command::new(bin);
    cmd.args([
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
    ]);
    cmd.args(["--dir", &dir.to_string_lossy()]);
    if kind == Kind::Ferrokv {
        cmd.args(["--threads", "2"]);
    }
    cmd.args(extra);
    let logf = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(dir))
        .expect("log file");
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(logf.try_clone().expect("log"))
        .stderr(logf);
    let child = cmd.spawn().expect("spawn server");
    let mut p = Proc { child, port };
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = p.child.try_wait() {
            return Err(status.code());
        }
        if let Ok(mut c) = Conn::connect(port) {
            // A server that refuses its data closes the connection as it exits
            // (it answered -LOADING meanwhile): the exit code is read next.
            if let (Ok(()), Some(Frame::Simple(s))) = (c.try_send(&["PING"]), c.read()) {
                if &s[..] == b"PONG" {
                    return Ok(p);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{kind:?} did not start; log:\n{}", log(dir));
}

fn ferrokv(dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec!["--appendonly", "yes"];
    args.extend_from_slice(extra);
    start(Kind::Ferrokv, dir, &args)
        .unwrap_or_else(|code| panic!("ferrokv exited with {code:?}; log:\n{}", log(dir)))
}

/// [`ferrokv`] or [`redis`], by `kind`.
fn appendonly(kind: Kind, dir: &Path, extra: &[&str]) -> Proc {
    match kind {
        Kind::Ferrokv => ferrokv(dir, extra),
        Kind::Redis => redis(dir, extra),
    }
}

fn redis(dir: &Path, extra: &[&str]) -> Proc {
    let mut args = vec!["--appendonly", "yes"];
    args.extend_from_slice(extra);
    start(Kind::Redis, dir, &args)
        .unwrap_or_else(|code| panic!("redis exited with {code:?}; log:\n{}", log(dir)))
}

impl Proc {
    fn conn(&self) -> Conn {
        Conn::connect(self.port).expect("connect")
    }

    /// `kill -9`.
    fn crash(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SHUTDOWN NOSAVE and wait for the exit.
    fn stop(mut self) {
        let mut c = self.conn();
        c.send(&["SHUTDOWN", "NOSAVE"]);
        let _ = c.read();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("server did not stop");
    }
}

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(i) => *i,
        other => panic!("expected an integer, got {}", show(other)),
    }
}

fn info_field(c: &mut Conn, field: &str) -> String {
    let text = match c.cmd(&["INFO", "persistence"]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {}", show(&other)),
    };
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")).map(str::to_string))
        .unwrap_or_else(|| panic!("no {field} in {text}"))
}

fn wait_rewrite_done(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if info_field(c, "aof_rewrite_in_progress") == "0"
            && info_field(c, "aof_rewrite_scheduled") == "0"
        {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("rewrite did not finish");
}

/// Every key of dbs 0..4 with its type, value (order-free where the type is)
/// and absolute expire time.
fn snapshot(c: &mut Conn) -> BTreeMap<(usize, Vec<u8>), String> {
    let mut all = BTreeMap::new();
    for db in 0..4 {
        c.cmd(&["SELECT", &db.to_string()]);
        let keys = match c.cmd(&["KEYS", "*"]) {
            Frame::Array(k) => k,
            other => panic!("KEYS: {}", show(&other)),
        };
        for k in keys {
            let Frame::Bulk(key) = k else { continue };
            let key = key.to_vec();
            let ty = match c.cmd(&[&b"TYPE"[..], &key]) {
                Frame::Simple(s) => String::from_utf8_lossy(&s).into_owned(),
                other => show(&other),
            };
            let value = match ty.as_str() {
                "string" => show(&c.cmd(&[&b"GET"[..], &key])),
                "list" => show(&c.cmd(&[&b"LRANGE"[..], &key, b"0", b"-1"])),
                "set" => show(&sorted(c.cmd(&[&b"SMEMBERS"[..], &key]))),
                "hash" => {
                    let Frame::Array(items) = c.cmd(&[&b"HGETALL"[..], &key]) else {
                        panic!("HGETALL")
                    };
                    let mut pairs: Vec<String> = items
                        .chunks(2)
                        .map(|p| format!("{}={}", show(&p[0]), show(&p[1])))
                        .collect();
                    pairs.sort();
                    pairs.join(",")
                }
                "zset" => show(&c.cmd(&[&b"ZRANGE"[..], &key, b"0", b"-1", b"WITHSCORES"])),
                other => other.to_string(),
            };
            let at = show(&c.cmd(&[&b"PEXPIRETIME"[..], &key]));
            all.insert((db, key), format!("{ty} {value} ttl={at}"));
        }
    }
    c.cmd(&["SELECT", "0"]);
    all
}

/// A workload touching every rewrite rule and several dbs.
const WORKLOAD: &str = "
    SET s1 hello
    SET s2 world EX 1000
    SETEX s3 1000 v
    PSETEX s4 1000000 v
    SET s5 v PXAT 99999999999999
    SET counter 10
    INCR counter
    INCRBY counter 5
    INCRBYFLOAT fl 1.25
    INCRBYFLOAT fl 0.5
    APPEND s1 !
    SET gone x
    GETDEL gone
    SET tmp x
    EXPIRE tmp 100 NX
    PEXPIRE tmp 200000 GT
    EXPIREAT s1 99999999999
    SET ex x
    GETEX ex PX 500000
    SET per x EX 100
    GETEX per PERSIST
    SET past x
    EXPIRE past -5
    RPUSH list a b c d
    LPUSH list z
    LPOP list
    HSET h f1 v1 f2 v2
    HDEL h f1
    SADD set m1 m2 m3
    SREM set m2
    MSET m1 1 m2 2
    ZADD z 1 a 2.5 b -3 c 0.1 d
    ZINCRBY z 0.2 a
    ZPOPMAX z
    ZADD inf +inf x -inf y 1e300 w
    BZPOPMIN inf 1
    SELECT 2
    SET db2 yes
    RPUSH db2list x
    SELECT 3
    SET db3 yes EX 5000
    SELECT 0
    RENAME m1 m1renamed
    SELECT 1
    SET flushed x
    FLUSHDB
    SET kept-in-1 y
    SELECT 0
    SWAPDB 2 3
";

fn run_script(c: &mut Conn, script: &str) {
    for line in script.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Frame::Error(e) = c.run(line) {
            panic!("{line}: {}", String::from_utf8_lossy(&e));
        }
    }
}

#[test]
fn restart_recovers_everything() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(dir.path(), &[]);
    let mut c = s.conn();
    run_script(&mut c, WORKLOAD);
    let before = snapshot(&mut c);
    assert!(before.len() > 15, "{before:?}");
    s.crash();
    let s = ferrokv(dir.path(), &[]);
    assert_eq!(snapshot(&mut s.conn()), before, "after kill -9");
    s.stop();
    let s = ferrokv(dir.path(), &[]);
    assert_eq!(snapshot(&mut s.conn()), before, "after SHUTDOWN");
    // Nothing was rewritten: the manifest still names the first files.
    let manifest =
        std::fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest")).unwrap();
    assert_eq!(
        manifest,
        "file appendonly.aof.1.base.rdb seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
    );
}

#[test]
fn expired_keys_are_logged_as_del() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(dir.path(), &[]);
    let mut c = s.conn();
    // A key that expires, is recreated and counted on: replaying must not see
    // the old value alive (lazy expiry logs a DEL).
    run_script(&mut c, "SET k 5 PX 50");
    std::thread::sleep(Duration::from_millis(120));
    run_script(&mut c, "SETNX k 1\nINCR k");
    assert_eq!(show(&c.run("GET k")), "\"2\"");
    s.crash();
    let s = ferrokv(dir.path(), &[]);
    let mut c = s.conn();
    assert_eq!(show(&c.run("GET k")), "\"2\"");
    assert_eq!(int(&c.run("TTL k")), -1);
}

#[test]
fn bgrewriteaof_while_writing_keeps_every_write() {
    for preamble in ["yes", "no"] {
        let dir = tempfile::tempdir().unwrap();
        let s = ferrokv(dir.path(), &["--aof-use-rdb-preamble", preamble]);
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        for w in 0..3 {
            let (port, stop) = (s.port, stop.clone());
            writers.push(std::thread::spawn(move || {
                let mut c = Conn::connect(port).unwrap();
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    c.cmd(&["INCR", &format!("ctr{w}")]);
                    c.cmd(&["SET", &format!("k{w}:{i}"), &i.to_string()]);
                    c.cmd(&["RPUSH", &format!("list{w}"), &i.to_string()]);
                    c.cmd(&[
                        "HSET",
                        &format!("h{}", i % 7),
                        &format!("f{w}"),
                        &i.to_string(),
                    ]);
                    i += 1;
                }
                i
            }));
        }
        let mut c = s.conn();
        for _ in 0..3 {
            std::thread::sleep(Duration::from_millis(150));
            let r = show(&c.run("BGREWRITEAOF"));
            assert!(
                r.starts_with("+Background append only file rewriting"),
                "{r}"
            );
            wait_rewrite_done(&mut c);
            assert_eq!(
                info_field(&mut c, "aof_last_bgrewrite_status"),
                "ok",
                "{}",
                log(dir.path())
            );
        }
        stop.store(true, Ordering::Relaxed);
        let counts: Vec<u64> = writers.into_iter().map(|w| w.join().unwrap()).collect();
        assert!(counts.iter().all(|&n| n > 10), "{counts:?}");
        assert_eq!(info_field(&mut c, "aof_last_bgrewrite_status"), "ok");
        assert_eq!(info_field(&mut c, "aof_rewrites"), "3");
        let before = snapshot(&mut c);
        s.crash();
        let files: Vec<String> = std::fs::read_dir(dir.path().join("appendonlydir"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        let ext = if preamble == "yes" { "rdb" } else { "aof" };
        let mut expect = vec![
            format!("appendonly.aof.4.base.{ext}"),
            "appendonly.aof.4.incr.aof".to_string(),
            "appendonly.aof.manifest".to_string(),
        ];
        let mut files = files;
        files.sort();
        expect.sort();
        assert_eq!(files, expect, "old files are removed");
        let s = ferrokv(dir.path(), &[]);
        let after = snapshot(&mut s.conn());
        assert_eq!(after.len(), before.len());
        assert!(
            after == before,
            "preamble {preamble}: state differs after restart"
        );
    }
}

#[test]
fn config_set_appendonly_turns_it_on_and_off() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Kind::Ferrokv, dir.path(), &["--appendonly", "no"]).unwrap();
    let mut c = s.conn();
    run_script(&mut c, WORKLOAD);
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    assert_eq!(show(&c.run("CONFIG SET appendonly yes")), "+OK");
    wait_rewrite_done(&mut c);
    assert_eq!(info_field(&mut c, "aof_enabled"), "1");
    run_script(&mut c, "SET after-on 1\nRPUSH list more");
    let before = snapshot(&mut c);
    s.crash();
    let s = ferrokv(dir.path(), &[]);
    let mut c = s.conn();
    assert_eq!(snapshot(&mut c), before);
    assert_eq!(show(&c.run("CONFIG SET appendonly no")), "+OK");
    assert_eq!(info_field(&mut c, "aof_enabled"), "0");
    run_script(&mut c, "SET not-logged 1");
    s.crash();
    let s = ferrokv(dir.path(), &[]);
    assert_eq!(snapshot(&mut s.conn()), before);
}

/// Acknowledged writes: counter key -> highest value acknowledged, and the
/// (key, value) pairs SET acknowledged.
type Acked = (BTreeMap<String, i64>, Vec<(String, String)>);

/// Runs `cycles` crash cycles with appendfsync always: writers record every
/// acknowledged INCR and SET, the server is killed with SIGKILL at a random
/// moment, restarted, and every acknowledged write must be there. Returns the
/// number of acknowledged writes lost (printed by `cargo xtask crash`).
fn crash_cycles(cycles: usize) -> usize {
    let dir = tempfile::tempdir().unwrap();
    let mut lost = 0;
    let mut seed = 0x2545_F491_4F6C_DD1Du64 ^ std::process::id() as u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for cycle in 0..cycles {
        let s = ferrokv(dir.path(), &["--appendfsync", "always"]);
        let stop = Arc::new(AtomicBool::new(false));
        // (counter key, highest acknowledged value), (set key, value)
        let acked: Arc<Mutex<Acked>> = Arc::default();
        let mut writers = Vec::new();
        for w in 0..4 {
            let (port, stop, acked) = (s.port, stop.clone(), acked.clone());
            writers.push(std::thread::spawn(move || {
                let Ok(mut c) = Conn::connect(port) else {
                    return;
                };
                let mut i = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let key = format!("ctr{w}");
                    c.send(&["INCR", &key]);
                    match c.read() {
                        Some(Frame::Integer(n)) => {
                            acked.lock().unwrap().0.insert(key, n);
                        }
                        _ => return,
                    }
                    let (k, v) = (format!("c{cycle}:w{w}:{i}"), format!("v{i}"));
                    c.send(&["SET", &k, &v]);
                    match c.read() {
                        Some(Frame::Simple(_)) => acked.lock().unwrap().1.push((k, v)),
                        _ => return,
                    }
                    i += 1;
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(50 + rand() % 250));
        s.crash();
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            let _ = w.join();
        }
        let s = ferrokv(dir.path(), &["--appendfsync", "always"]);
        let mut c = s.conn();
        let acked = acked.lock().unwrap();
        for (k, n) in &acked.0 {
            let got = match c.cmd(&["GET", k]) {
                Frame::Bulk(b) => String::from_utf8_lossy(&b).parse::<i64>().unwrap_or(0),
                _ => 0,
            };
            if got < *n {
                lost += (*n - got) as usize;
            }
        }
        for (k, v) in &acked.1 {
            if show(&c.cmd(&["GET", k])) != format!("{v:?}") {
                lost += 1;
            }
        }
        // Rewrites now and then, so crashes also hit fresh manifests.
        if cycle % 3 == 2 {
            c.run("BGREWRITEAOF");
            wait_rewrite_done(&mut c);
        }
        s.crash();
    }
    lost
}

#[test]
fn appendfsync_always_survives_kill_9() {
    let cycles = std::env::var("FERROKV_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(4);
    let lost = crash_cycles(cycles);
    println!("crash cycles: {cycles}, lost acknowledged writes: {lost}");
    assert_eq!(lost, 0);
}

/// The incr file of a fresh AOF folder in `dir`.
fn incr_path(dir: &Path) -> PathBuf {
    dir.join("appendonlydir/appendonly.aof.1.incr.aof")
}

#[test]
fn torn_tail_loads_truncated_or_refuses_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(dir.path(), &[]);
    let mut c = s.conn();
    run_script(&mut c, "SET a 1\nRPUSH l x y");
    let good = snapshot(&mut c);
    run_script(&mut c, "SET last value");
    s.stop();
    let full = std::fs::read(incr_path(dir.path())).unwrap();
    let last_len = b"*3\r\n$3\r\nSET\r\n$4\r\nlast\r\n$5\r\nvalue\r\n".len();
    let boundary = full.len() - last_len;
    assert!(full[boundary..].starts_with(b"*3\r\n$3\r\nSET"));
    for cut in boundary + 1..full.len() {
        std::fs::write(incr_path(dir.path()), &full[..cut]).unwrap();
        let s = ferrokv(dir.path(), &[]);
        let mut c = s.conn();
        assert_eq!(snapshot(&mut c), good, "cut at {cut}");
        // The torn record is gone from the file: new appends follow whole records.
        run_script(&mut c, "SET after 1");
        s.crash();
        let s = ferrokv(dir.path(), &[]);
        assert_eq!(show(&s.conn().run("GET after")), "\"1\"", "cut at {cut}");
        s.crash();
        assert!(log(dir.path()).contains("short read while loading the AOF file"));
    }
    // With aof-load-truncated no it refuses to start, naming the file.
    for cut in [boundary + 1, boundary + 10, full.len() - 1] {
        std::fs::write(incr_path(dir.path()), &full[..cut]).unwrap();
        let code = start(
            Kind::Ferrokv,
            dir.path(),
            &["--appendonly", "yes", "--aof-load-truncated", "no"],
        )
        .err();
        assert_eq!(code, Some(Some(1)), "cut at {cut}");
        let l = log(dir.path());
        assert!(
            l.contains(
                "Unexpected end of file reading the append only file appendonly.aof.1.incr.aof"
            ),
            "{l}"
        );
    }
}

#[test]
fn corruption_in_the_middle_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(dir.path(), &[]);
    run_script(&mut s.conn(), "SET a 1\nSET b 2\nSET c 3");
    s.stop();
    let mut data = std::fs::read(incr_path(dir.path())).unwrap();
    let at = data.windows(7).position(|w| w == b"*3\r\n$3\r").unwrap();
    let second = at
        + 1
        + data[at + 1..]
            .windows(4)
            .position(|w| w == b"*3\r\n")
            .unwrap();
    data[second] = b'X';
    std::fs::write(incr_path(dir.path()), &data).unwrap();
    let code = start(Kind::Ferrokv, dir.path(), &["--appendonly", "yes"]).err();
    assert_eq!(code, Some(Some(1)));
    let l = log(dir.path());
    assert!(
        l.contains(&format!("at offset {second}"))
            && l.contains("reading the append only file appendonly.aof.1.incr.aof"),
        "{l}"
    );
}

/// Writes the workload on `writer`, rewrites or not, stops it; `reader` loads
/// the folder and must show the same data.
fn interop(writer: Kind, reader: Kind, preamble: &str, rewrite: bool) {
    let dir = tempfile::tempdir().unwrap();
    let extra = ["--aof-use-rdb-preamble", preamble];
    let s = appendonly(writer, dir.path(), &extra);
    let mut c = s.conn();
    run_script(&mut c, WORKLOAD);
    if writer == Kind::Redis {
        // Redis logs a transaction as MULTI ... EXEC (ferrokv has no MULTI yet).
        run_script(&mut c, "MULTI\nSET tx1 a\nINCR tx2\nEXEC");
    }
    if rewrite {
        c.run("BGREWRITEAOF");
        wait_rewrite_done(&mut c);
        run_script(&mut c, "SET after-rewrite 1\nSADD set m9");
    }
    let before = snapshot(&mut c);
    s.stop();
    let s = appendonly(reader, dir.path(), &extra);
    let after = snapshot(&mut s.conn());
    assert_eq!(
        after, before,
        "{writer:?} -> {reader:?}, preamble {preamble}, rewrite {rewrite}"
    );
}

#[test]
fn redis_aof_loads_in_ferrokv() {
    for (preamble, rewrite) in [("yes", false), ("yes", true), ("no", true)] {
        interop(Kind::Redis, Kind::Ferrokv, preamble, rewrite);
    }
}

#[test]
fn ferrokv_aof_loads_in_redis() {
    for (preamble, rewrite) in [("yes", false), ("yes", true), ("no", true)] {
        interop(Kind::Ferrokv, Kind::Redis, preamble, rewrite);
    }
}

#[test]
fn blocked_pops_are_logged_as_plain_pops() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(dir.path(), &[]);
    let port = s.port;
    let waiter = std::thread::spawn(move || {
        let mut c = Conn::connect(port).unwrap();
        show(&c.run("BLPOP q 10"))
    });
    let mut c = s.conn();
    // Let the waiter block first.
    std::thread::sleep(Duration::from_millis(200));
    run_script(
        &mut c,
        "RPUSH q a b\nSADD s m1 m2 m3\nSPOP s\nHSET h f 1\nHINCRBYFLOAT h f 0.25",
    );
    assert_eq!(waiter.join().unwrap(), "[\"q\", \"a\"]");
    let before = snapshot(&mut c);
    s.crash();
    let text = String::from_utf8_lossy(&std::fs::read(incr_path(dir.path())).unwrap()).into_owned();
    assert!(!text.contains("BLPOP") && text.contains("LPOP"), "{text:?}");
    assert!(
        !text.contains("SPOP") && !text.contains("HINCRBYFLOAT"),
        "{text:?}"
    );
    let s = ferrokv(dir.path(), &[]);
    assert_eq!(snapshot(&mut s.conn()), before);
}

#[test]
fn auto_rewrite_on_growth() {
    let dir = tempfile::tempdir().unwrap();
    let s = ferrokv(
        dir.path(),
        &[
            "--auto-aof-rewrite-min-size",
            "4096",
            "--auto-aof-rewrite-percentage",
            "100",
        ],
    );
    let mut c = s.conn();
    for i in 0..400 {
        c.cmd(&["SET", "k", &format!("value-{i}")]);
    }
    // A rewrite that starts while the loop still writes leaves the tail of
    // the loop in the new increment; growth past the limit then triggers
    // another one from the cron. Wait until the AOF has settled small.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let rewrites = info_field(&mut c, "aof_rewrites");
        let size: u64 = info_field(&mut c, "aof_current_size").parse().unwrap();
        let busy = info_field(&mut c, "aof_rewrite_in_progress") == "1";
        if rewrites != "0" && !busy && size < 4096 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no automatic rewrite down to a small AOF: rewrites {rewrites}, size {size}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(show(&c.run("GET k")), "\"value-399\"");
    s.crash();
    let s = ferrokv(dir.path(), &[]);
    assert_eq!(show(&s.conn().run("GET k")), "\"value-399\"");
}

#[test]
fn old_single_file_aofs_are_migrated() {
    use ferrokv_persist::{KeyMeta, RdbValue, RdbWriter, WriteOptions};
    // Commands only, and an RDB preamble followed by commands (Redis 4 to 6).
    let mut with_preamble = {
        let mut w = RdbWriter::new(Vec::new(), WriteOptions::default()).unwrap();
        w.select_db(0, 1, 0).unwrap();
        w.entry(
            b"from-rdb",
            &RdbValue::String(b"r".to_vec()),
            &KeyMeta::default(),
        )
        .unwrap();
        w.finish().unwrap()
    };
    let commands = b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$4\r\nfrom\r\n$3\r\ncmd\r\n*3\r\n$6\r\nAPPEND\r\n$8\r\nfrom-rdb\r\n$1\r\n+\r\n";
    with_preamble.extend_from_slice(commands);
    for (file, expect_rdb) in [(commands.to_vec(), "\"+\""), (with_preamble, "\"r+\"")] {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("appendonly.aof"), &file).unwrap();
        let s = ferrokv(dir.path(), &[]);
        let mut c = s.conn();
        assert_eq!(show(&c.run("GET from")), "\"cmd\"");
        assert_eq!(show(&c.run("GET from-rdb")), expect_rdb);
        run_script(&mut c, "SET later 1");
        s.crash();
        assert!(!dir.path().join("appendonly.aof").exists());
        let manifest =
            std::fs::read_to_string(dir.path().join("appendonlydir/appendonly.aof.manifest"))
                .unwrap();
        assert_eq!(
            manifest,
            "file appendonly.aof seq 1 type b\nfile appendonly.aof.1.incr.aof seq 1 type i\n"
        );
        let s = ferrokv(dir.path(), &[]);
        assert_eq!(show(&s.conn().run("GET later")), "\"1\"");
    }
}

/// The aof_* fields of INFO persistence, in order.
fn aof_field_names(c: &mut Conn) -> Vec<String> {
    let text = match c.cmd(&["INFO", "persistence"]) {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        other => panic!("INFO: {}", show(&other)),
    };
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(k, _)| k.to_string()))
        .filter(|k| k.starts_with("aof_") || k.starts_with("module_fork"))
        .collect()
}

#[test]
fn info_persistence_has_redis_aof_fields() {
    for on in ["yes", "no"] {
        let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        let ours = start(Kind::Ferrokv, d1.path(), &["--appendonly", on]).unwrap();
        let theirs = start(Kind::Redis, d2.path(), &["--appendonly", on]).unwrap();
        let (mut a, mut b) = (ours.conn(), theirs.conn());
        assert_eq!(
            aof_field_names(&mut a),
            aof_field_names(&mut b),
            "appendonly {on}"
        );
        assert_eq!(
            info_field(&mut a, "aof_enabled"),
            info_field(&mut b, "aof_enabled")
        );
    }
}

#[test]
fn aof_wins_over_the_rdb_like_redis() {
    let mut seen = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let s = start(kind, dir.path(), &["--appendonly", "no"]).unwrap();
        let mut c = s.conn();
        run_script(&mut c, "SET only-in-rdb 1\nSAVE");
        s.stop();
        // appendonly yes with no AOF yet: Redis 7.0 starts empty and creates one.
        let s = start(kind, dir.path(), &["--appendonly", "yes"]).unwrap();
        let mut c = s.conn();
        let first = show(&c.run("GET only-in-rdb"));
        run_script(&mut c, "SET only-in-aof 1");
        s.stop();
        let s = start(kind, dir.path(), &["--appendonly", "yes"]).unwrap();
        let mut c = s.conn();
        seen.push((first, show(&c.run("MGET only-in-rdb only-in-aof"))));
        s.stop();
    }
    assert_eq!(seen[0], seen[1], "ferrokv vs redis");
}

/// The commands of an AOF incr file, each as its words, with 13-digit numbers
/// (absolute times in ms) replaced by `<ms>`.
fn logged_commands(path: &Path) -> Vec<Vec<String>> {
    use ferrokv_resp::{RequestLimits, RequestParser};
    let data = std::fs::read(path).unwrap();
    let mut parser = RequestParser::new(RequestLimits::default());
    let mut at = 0;
    let mut out = Vec::new();
    while at < data.len() {
        let n = parser
            .parse(&data[at..])
            .expect("valid log")
            .expect("complete record");
        let words = parser
            .args(&data[at..])
            .map(|a| {
                let w = String::from_utf8_lossy(a).into_owned();
                if w.len() == 13 && w.bytes().all(|b| b.is_ascii_digit()) {
                    "<ms>".to_string()
                } else {
                    w
                }
            })
            .collect();
        out.push(words);
        at += n;
    }
    out
}

#[test]
fn restore_ttls_are_logged_as_absolute_times_like_redis() {
    let mut logs = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let s = appendonly(kind, dir.path(), &["--appendfsync", "always"]);
        let mut c = s.conn();
        run_script(&mut c, "SET src hello");
        let Frame::Bulk(payload) = c.cmd(&["DUMP", "src"]) else {
            panic!("DUMP")
        };
        let p = payload.to_vec();
        for (key, ttl, extra) in [
            ("a", "100000", &[][..]),
            ("b", "0", &[][..]),
            ("c", "4102444800000", &["ABSTTL"][..]),
            ("src", "1", &["REPLACE", "ABSTTL"][..]),
            ("d", "1", &["ABSTTL"][..]),
            ("e", "50000", &["REPLACE", "IDLETIME", "5"][..]),
        ] {
            let mut argv: Vec<&[u8]> = vec![b"RESTORE", key.as_bytes(), ttl.as_bytes(), &p];
            argv.extend(extra.iter().map(|w| w.as_bytes()));
            let reply = c.cmd(&argv);
            assert_eq!(show(&reply), "+OK", "{kind:?} RESTORE {key}");
        }
        let pttl = int(&c.run("PTTL a"));
        assert!(pttl > 90_000 && pttl <= 100_000, "{pttl}");
        s.crash();
        let s = appendonly(kind, dir.path(), &[]);
        let mut c = s.conn();
        let pttl = int(&c.run("PTTL a"));
        assert!(
            pttl > 80_000 && pttl <= 100_000,
            "{kind:?} after replay: {pttl}"
        );
        assert_eq!(int(&c.run("EXISTS src d")), 0);
        assert_eq!(int(&c.run("EXISTS b c e")), 3);
        logs.push(logged_commands(
            &dir.path().join("appendonlydir/appendonly.aof.1.incr.aof"),
        ));
    }
    assert_eq!(logs[0], logs[1]);
    assert!(
        logs[0].iter().any(|c| c[0] == "RESTORE"
            && c[1] == "a"
            && c[2] == "<ms>"
            && c.last().unwrap() == "ABSTTL"),
        "{:?}",
        logs[0]
    );
}

#[test]
fn transactions_are_logged_as_one_multi_exec_block_like_redis() {
    let mut logs = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let s = appendonly(kind, dir.path(), &["--appendfsync", "always"]);
        let mut c = s.conn();
        run_script(
            &mut c,
            "SET before 1\nMULTI\nSET a 1\nINCR a\nGET a\nSELECT 2\nLPUSH l x\nSELECT 0\nEXEC\n\
             MULTI\nGET a\nEXISTS a\nEXEC\nMULTI\nINCR a\nSET s x\nINCR s\nEXEC\n\
             MULTI\nSET one 1\nGET one\nEXEC\nSET after 1",
        );
        s.crash();
        let s = appendonly(kind, dir.path(), &[]);
        let mut c = s.conn();
        assert_eq!(
            show(&c.run("MGET before a s after")),
            "[\"1\", \"3\", \"x\", \"1\"]",
            "{kind:?}"
        );
        run_script(&mut c, "SELECT 2");
        assert_eq!(show(&c.run("LRANGE l 0 -1")), "[\"x\"]", "{kind:?}");
        logs.push(logged_commands(
            &dir.path().join("appendonlydir/appendonly.aof.1.incr.aof"),
        ));
    }
    assert_eq!(logs[0], logs[1]);
}
