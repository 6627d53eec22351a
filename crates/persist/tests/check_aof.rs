//! ferrokv-check-aof against the real redis-check-aof 7.0.15: the same inputs
//! (files written by redis-server, then cut or corrupted), each tool on its own
//! copy; stdout (paths replaced), exit status and the resulting files compared.
#![allow(clippy::unwrap_used)] // helpers of a test: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{Conn, Server};

const REDIS_CHECK_AOF: &str = "/usr/bin/redis-check-aof";

/// What one tool did.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    code: Option<i32>,
    stdout: String,
    files: Vec<(String, Vec<u8>)>,
}

/// Copies every file of `src` into a fresh folder.
fn copy_dir(src: &Path) -> tempfile::TempDir {
    let dst = tempfile::tempdir().unwrap();
    for e in std::fs::read_dir(src).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_file() {
            std::fs::copy(e.path(), dst.path().join(e.file_name())).unwrap();
        }
    }
    dst
}

fn run_tool(tool: &Path, src: &Path, args: &[&str], target: &str, stdin: &[u8]) -> Run {
    let copy = copy_dir(src);
    let dir = copy.path().to_string_lossy().into_owned();
    let mut child = Command::new(tool)
        .args(args)
        .arg(copy.path().join(target))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut input = child.stdin.take().unwrap();
        let _ = input.write_all(stdin);
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout)
        .replace(&dir, "DIR")
        .lines()
        .map(mask_log_prefix)
        .collect::<Vec<_>>()
        .join("\n");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(copy.path())
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    files.sort();
    Run {
        code: out.status.code(),
        stdout,
        files,
    }
}

/// `pid:C 25 Nov 2026 11:00:53.439 # msg` -> `LOG # msg`: pids and clocks differ.
fn mask_log_prefix(line: &str) -> String {
    match line.split_once(" # ") {
        Some((head, msg))
            if head.contains(":C ") && head.starts_with(|c: char| c.is_ascii_digit()) =>
        {
            format!("LOG # {msg}")
        }
        _ => line.to_string(),
    }
}

/// Runs both tools on copies of `src` and asserts they behave the same;
/// returns what they did.
fn same(src: &Path, args: &[&str], target: &str, stdin: &[u8]) -> Run {
    let ours = Path::new(env!("CARGO_BIN_EXE_ferrokv-check-aof"));
    let redis = run_tool(Path::new(REDIS_CHECK_AOF), src, args, target, stdin);
    let mine = run_tool(ours, src, args, target, stdin);
    assert_eq!(
        mine, redis,
        "ferrokv-check-aof (left) and redis-check-aof (right) differ on {args:?} {target}:\n--- ours\n{}\n--- redis\n{}",
        mine.stdout, redis.stdout
    );
    redis
}

fn file_of<'a>(run: &'a Run, name: &str) -> &'a [u8] {
    &run.files.iter().find(|(n, _)| n == name).unwrap().1
}

/// The AOF folder a redis-server leaves: a base written by BGREWRITEAOF (RDB
/// preamble or commands), then an incr file with plain commands, a MULTI/EXEC
/// block, and (with timestamps) annotations from two different seconds.
struct RedisAof {
    dir: tempfile::TempDir,
    incr: String,
    base: String,
}

fn redis_aof(preamble: bool, timestamps: bool) -> RedisAof {
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    // appendfsync always: with everysec, Redis postpones writing the AOF while a
    // background fsync is slow (a loaded machine) and still replies, so a copy
    // taken right after the last reply could miss it.
    let s = Server::redis(&[
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-use-rdb-preamble",
        yes_no(preamble),
        "--aof-timestamp-enabled",
        yes_no(timestamps),
    ]);
    let mut c = s.conn();
    for i in 0..5 {
        c.cmd(&["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    c.cmd(&["RPUSH", "list", "a", "b", "c"]);
    c.cmd(&["BGREWRITEAOF"]);
    wait_rewrite(&mut c);
    c.cmd(&["SET", "after", "rewrite"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["INCR", "counter"]);
    c.cmd(&["SADD", "set", "x", "y"]);
    c.cmd(&["EXEC"]);
    if timestamps {
        // A second annotation needs another second.
        std::thread::sleep(Duration::from_millis(1100));
    }
    c.cmd(&["SET", "last", "one"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "in3", "x"]);
    let aof_dir = s.dir.path().join("appendonlydir");
    let dir = copy_dir(&aof_dir);
    drop(s);
    let manifest = std::fs::read_to_string(dir.path().join("appendonly.aof.manifest")).unwrap();
    let name_of = |kind: &str| {
        manifest
            .lines()
            .find(|l| l.ends_with(&format!("type {kind}")))
            .and_then(|l| l.split(' ').nth(1))
            .unwrap()
            .to_string()
    };
    RedisAof {
        incr: name_of("i"),
        base: name_of("b"),
        dir,
    }
}

fn wait_rewrite(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let Frame::Bulk(info) = c.cmd(&["INFO", "persistence"]) else {
            panic!("INFO")
        };
        let info = String::from_utf8_lossy(&info).into_owned();
        if info.contains("aof_rewrite_in_progress:0") && !info.contains("aof_rewrite_scheduled:1") {
            return;
        }
        assert!(Instant::now() < deadline, "rewrite did not finish");
        std::thread::sleep(Duration::from_millis(20));
    }
}

const MANIFEST: &str = "appendonly.aof.manifest";

impl RedisAof {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
    fn incr_bytes(&self) -> Vec<u8> {
        std::fs::read(self.path(&self.incr)).unwrap()
    }
    /// Rewrites the incr file.
    fn set_incr(&self, data: &[u8]) {
        std::fs::write(self.path(&self.incr), data).unwrap();
    }
}

fn find(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).position(|w| w == needle).unwrap()
}

#[test]
fn valid_manifest_with_rdb_preamble_base() {
    let aof = redis_aof(true, false);
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert_eq!(run.code, Some(0));
    assert!(run.stdout.contains("Start to check BASE AOF (RDB format)."));
    assert!(run.stdout.contains("RDB preamble is OK"));
    assert!(run.stdout.ends_with("All AOF files and manifest are valid"));
    // The files alone: an incr as a plain AOF, the base as an RDB-preamble AOF,
    // and both together as a Redis 6 style single file.
    same(aof.dir.path(), &[], &aof.incr, b"");
    same(aof.dir.path(), &[], &aof.base, b"");
    let mut single = std::fs::read(aof.path(&aof.base)).unwrap();
    single.extend_from_slice(&aof.incr_bytes());
    std::fs::write(aof.path("single.aof"), &single).unwrap();
    let run = same(aof.dir.path(), &[], "single.aof", b"");
    assert_eq!(run.code, Some(0));
}

#[test]
fn truncated_last_incr_fix_no_then_yes_and_both_servers_load_it() {
    let aof = redis_aof(false, false);
    let whole = aof.incr_bytes();
    aof.set_incr(&whole[..whole.len() - 7]);
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("is not valid. Use the --fix option"));
    assert!(run
        .stdout
        .contains("Start to check BASE AOF (RESP format)."));
    let run = same(aof.dir.path(), &["--fix"], MANIFEST, b"n\n");
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.ends_with("Continue? [y/N]: Aborting..."));
    let run = same(aof.dir.path(), &["--fix"], MANIFEST, b"y\n");
    assert_eq!(run.code, Some(0));
    let fixed = file_of(&run, &aof.incr).to_vec();
    assert!(fixed.len() < whole.len() - 7 && whole.starts_with(&fixed));
    // The fixed folder loads in both servers, to the same data.
    let mut sizes = Vec::new();
    for kind in [ferrokv_tests::Kind::Redis, ferrokv_tests::Kind::Ferrokv] {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("appendonlydir");
        std::fs::create_dir(&target).unwrap();
        for (name, data) in &run.files {
            std::fs::write(target.join(name), data).unwrap();
        }
        let dir = home.path().to_string_lossy().into_owned();
        let s = Server::start(kind, &["--appendonly", "yes", "--dir", &dir]);
        let mut c = s.conn();
        sizes.push((
            c.cmd(&["DBSIZE"]),
            c.cmd(&["GET", "after"]),
            c.cmd(&["GET", "k4"]),
        ));
    }
    assert_eq!(sizes[0], sizes[1]);
    assert_eq!(sizes[0].1, Frame::Bulk(b"rewrite"[..].into()));
}

#[test]
fn corruption_in_the_middle() {
    let aof = redis_aof(true, false);
    let mut data = aof.incr_bytes();
    let at = find(&data, b"INCR");
    data[at - 3] = b'X';
    aof.set_incr(&data);
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert_eq!(run.code, Some(1));
    // The incr is the last file: --fix cuts everything from the bad command on.
    let run = same(aof.dir.path(), &["--fix"], MANIFEST, b"y");
    assert_eq!(run.code, Some(0));
    // Not the last file (the manifest lists another incr): refused.
    let manifest = std::fs::read_to_string(aof.path(MANIFEST)).unwrap();
    std::fs::write(aof.path("extra.aof"), b"*1\r\n$4\r\nPING\r\n").unwrap();
    std::fs::write(
        aof.path(MANIFEST),
        format!("{manifest}file extra.aof seq 99 type i\n"),
    )
    .unwrap();
    let run = same(aof.dir.path(), &["--fix"], MANIFEST, b"y");
    assert_eq!(run.code, Some(1));
    assert!(run.stdout.contains("because it is not the last file"));
    // Garbage instead of a command, and a bad manifest.
    aof.set_incr(b"*1\r\n$4\r\nPING\r\nhello\r\n");
    same(aof.dir.path(), &[], MANIFEST, b"");
    std::fs::write(
        aof.path(MANIFEST),
        "file a seq 1 type b\nfile a/b seq 2 type i\n",
    )
    .unwrap();
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert!(run.stdout.contains("File can't be a path, just a filename"));
}

#[test]
fn open_multi_at_the_end() {
    let aof = redis_aof(true, false);
    let data = aof.incr_bytes();
    let exec = find(&data, b"*1\r\n$4\r\nEXEC");
    aof.set_incr(&data[..exec]);
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert!(run
        .stdout
        .contains("Reached EOF before reading EXEC for MULTI"));
    let run = same(aof.dir.path(), &["--fix"], MANIFEST, b"Y");
    assert_eq!(
        file_of(&run, &aof.incr),
        &data[..find(&data, b"*1\r\n$5\r\nMULTI")]
    );
}

#[test]
fn every_cut_of_a_real_incr_file() {
    let aof = redis_aof(false, true);
    let whole = aof.incr_bytes();
    for cut in (0..whole.len()).step_by(3) {
        aof.set_incr(&whole[..cut]);
        same(aof.dir.path(), &[], &aof.incr, b"");
    }
}

#[test]
fn timestamp_annotations_and_truncate_to_timestamp() {
    let aof = redis_aof(true, true);
    let data = aof.incr_bytes();
    // Where Redis put annotations depends on when the seconds turned; the test
    // wrote in two different seconds, so there is at least one.
    let annotations: Vec<(usize, i64)> = (0..data.len())
        .filter(|&at| data[at..].starts_with(b"#TS:"))
        .map(|at| {
            let line = &data[at + 4..];
            let ts = String::from_utf8_lossy(&line[..find(line, b"\r\n")]);
            (at, ts.parse().unwrap())
        })
        .collect();
    assert!(
        !annotations.is_empty(),
        "{}",
        String::from_utf8_lossy(&data)
    );
    let run = same(aof.dir.path(), &[], MANIFEST, b"");
    assert_eq!(run.code, Some(0));
    let (last_at, last_ts) = annotations[annotations.len() - 1];
    // Cut at the last annotation, or refused when nothing would be left.
    let t = (last_ts - 1).to_string();
    let run = same(
        aof.dir.path(),
        &["--truncate-to-timestamp", &t],
        MANIFEST,
        b"",
    );
    if last_at > 0 {
        assert_eq!(run.code, Some(0));
        assert_eq!(file_of(&run, &aof.incr), &data[..last_at]);
    } else {
        assert!(run.stdout.contains("has nothing before timestamp"));
    }
    // Nothing to cut; long before everything; not a number.
    let t = last_ts.to_string();
    let run = same(
        aof.dir.path(),
        &["--truncate-to-timestamp", &t],
        MANIFEST,
        b"",
    );
    assert!(run.stdout.contains("Truncate nothing in AOF"));
    same(
        aof.dir.path(),
        &["--truncate-to-timestamp", "1"],
        MANIFEST,
        b"",
    );
    same(
        aof.dir.path(),
        &["--truncate-to-timestamp", "12x"],
        MANIFEST,
        b"",
    );
    // A single-file AOF with annotations; a bad annotation.
    let t = (last_ts - 1).to_string();
    same(
        aof.dir.path(),
        &["--truncate-to-timestamp", &t],
        &aof.incr,
        b"",
    );
    let mut bad = b"*1\r\n$4\r\nPING\r\n#TS:12ab\r\n".to_vec();
    bad.extend_from_slice(&data);
    aof.set_incr(&bad);
    same(
        aof.dir.path(),
        &["--truncate-to-timestamp", "5"],
        MANIFEST,
        b"",
    );
    same(aof.dir.path(), &[], MANIFEST, b"");
}

/// Redis's loader skips `#` annotation lines; ours must too: an AOF folder that
/// redis-server wrote with aof-timestamp-enabled (an AOF-format base starting
/// with `#TS:`, annotations in the incr file) loads to the same data in both.
#[test]
fn timestamped_aof_from_redis_loads_in_ferrokv() {
    let aof = redis_aof(false, true);
    let base = std::fs::read(aof.path(&aof.base)).unwrap();
    assert!(
        base.starts_with(b"#TS:"),
        "{}",
        String::from_utf8_lossy(&base)
    );
    let mut seen = Vec::new();
    for kind in [ferrokv_tests::Kind::Redis, ferrokv_tests::Kind::Ferrokv] {
        let home = tempfile::tempdir().unwrap();
        let target = home.path().join("appendonlydir");
        std::fs::create_dir(&target).unwrap();
        for e in std::fs::read_dir(aof.dir.path()).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), target.join(e.file_name())).unwrap();
        }
        let dir = home.path().to_string_lossy().into_owned();
        let s = Server::start(kind, &["--appendonly", "yes", "--dir", &dir]);
        let mut c = s.conn();
        let mut got = vec![
            c.cmd(&["DBSIZE"]),
            c.cmd(&["MGET", "k0", "k4", "after", "last", "counter"]),
        ];
        c.cmd(&["SELECT", "3"]);
        got.push(c.cmd(&["GET", "in3"]));
        seen.push(got);
    }
    assert_eq!(seen[0], seen[1]);
    assert_eq!(seen[1][2], Frame::Bulk(b"x"[..].into()));
}

/// Waits for the start of a second, so that a few commands sent to both
/// servers right after fall in the same second on both.
fn wait_fresh_second() {
    loop {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap();
        if now.subsec_millis() < 100 {
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// aof-timestamp-enabled: ferrokv writes `#TS:` annotations where redis-server
/// does (before the first command of a new second, before its SELECT; at the
/// head of a command-form base), so the files are the same but for the
/// timestamps' values.
#[test]
fn ferrokv_writes_timestamp_annotations_like_redis() {
    let args = [
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
        "--aof-timestamp-enabled",
        "yes",
        "--aof-use-rdb-preamble",
        "no",
    ];
    let servers = [Server::redis(&args), Server::ferrokv(&args)];
    let mut conns: Vec<Conn> = servers.iter().map(Server::conn).collect();
    let all = |conns: &mut Vec<Conn>, cmd: &[&str]| {
        for c in conns.iter_mut() {
            c.cmd(cmd);
        }
    };
    wait_fresh_second();
    all(&mut conns, &["SET", "a", "1"]);
    all(&mut conns, &["SELECT", "2"]);
    all(&mut conns, &["SET", "b", "2"]);
    std::thread::sleep(Duration::from_millis(1000));
    wait_fresh_second();
    all(&mut conns, &["SELECT", "3"]);
    all(&mut conns, &["SET", "c", "3"]);
    all(&mut conns, &["BGREWRITEAOF"]);
    for c in conns.iter_mut() {
        wait_rewrite(c);
    }
    all(&mut conns, &["SET", "d", "4"]);
    std::thread::sleep(Duration::from_millis(1000));
    wait_fresh_second();
    all(&mut conns, &["SET", "e", "5"]);
    all(&mut conns, &["SELECT", "0"]);
    all(&mut conns, &["SET", "f", "6"]);
    std::thread::sleep(Duration::from_millis(1100));
    let mask = |data: Vec<u8>| {
        let text = String::from_utf8_lossy(&data).into_owned();
        text.split("\r\n")
            .map(|l| if l.starts_with("#TS:") { "#TS:N" } else { l })
            .collect::<Vec<_>>()
            .join("\r\n")
    };
    let files: Vec<Vec<(String, String)>> = servers
        .iter()
        .map(|s| {
            let d = s.dir.path().join("appendonlydir");
            let mut f: Vec<(String, String)> = std::fs::read_dir(&d)
                .unwrap()
                .map(|e| {
                    let e = e.unwrap();
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, mask(std::fs::read(e.path()).unwrap()))
                })
                .collect();
            f.sort();
            f
        })
        .collect();
    assert_eq!(
        files[1], files[0],
        "ferrokv (left) and redis (right) AOF files"
    );
    let incr = &files[0]
        .iter()
        .find(|(n, _)| n.ends_with(".incr.aof"))
        .unwrap()
        .1;
    assert_eq!(incr.matches("#TS:N").count(), 1, "{incr}");
}
