//! Test support shared by the integration and differential tests: start
//! `ferrokv-server` and a real `redis-server` on free loopback ports in temp dirs,
//! talk RESP to them, compare their replies.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrokv_resp::{Frame, FrameDecoder};

pub mod dataset;

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Path of the `ferrokv-server` binary, building it once if needed.
pub fn ferrokv_binary() -> PathBuf {
    if let Ok(p) = std::env::var("FERROKV_SERVER") {
        return PathBuf::from(p);
    }
    workspace_binary("ferrokv-server")
}

/// Path of one of the workspace's debug binaries, built first. The build is the
/// one `cargo xtask test` runs before the tests (`--workspace --bins`), so under
/// it this is a no-op: building one package alone unifies features differently
/// and recompiled dependencies (about a minute of CPU) while other tests ran.
pub fn workspace_binary(name: &str) -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    let root = workspace_root();
    BUILT.get_or_init(|| {
        let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
            .args(["build", "--quiet", "--workspace", "--bins"])
            .current_dir(&root)
            .status()
            .expect("run cargo build for the workspace's binaries");
        assert!(status.success(), "building the workspace's binaries failed");
    });
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| root.join("target"))
        .join("debug")
        .join(name)
}

/// Path of `redis-server` (Redis 7.0). Panics with instructions when missing: the
/// differential tests must never be skipped silently.
pub fn redis_binary() -> PathBuf {
    let candidates = [
        std::env::var("REDIS_SERVER").ok(),
        Some("/usr/bin/redis-server".into()),
    ];
    for c in candidates.into_iter().flatten() {
        if Path::new(&c).exists() {
            return PathBuf::from(c);
        }
    }
    panic!("redis-server not found: run `cargo xtask test` (it installs it) or apt-get install redis-server");
}

/// A port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

/// Which implementation a [`Server`] runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// ferrokv-server.
    Ferrokv,
    /// The reference redis-server.
    Redis,
}

/// A server process on a loopback port, stopped when dropped.
pub struct Server {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Its working directory.
    pub dir: tempfile::TempDir,
    /// What it is.
    pub kind: Kind,
}

impl Server {
    /// Starts ferrokv-server with extra `--name value` arguments.
    pub fn ferrokv(extra: &[&str]) -> Server {
        Self::start(Kind::Ferrokv, extra)
    }

    /// Starts redis-server (no persistence unless `extra` asks for it).
    pub fn redis(extra: &[&str]) -> Server {
        Self::start(Kind::Redis, extra)
    }

    /// Starts a server of `kind`.
    pub fn start(kind: Kind, extra: &[&str]) -> Server {
        let mut last_err = String::new();
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().expect("temp dir");
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
                "--appendonly",
                "no",
            ]);
            cmd.args(["--dir", &dir.path().to_string_lossy()]);
            if kind == Kind::Ferrokv {
                cmd.args(["--threads", "2"]);
            }
            cmd.args(extra);
            cmd.current_dir(dir.path()).stdin(Stdio::null());
            let log = std::fs::File::create(dir.path().join("server.log")).expect("log file");
            cmd.stdout(log.try_clone().expect("log file")).stderr(log);
            let child = cmd.spawn().expect("spawn server");
            let mut s = Server {
                child,
                port,
                dir,
                kind,
            };
            match s.wait_ready(Duration::from_secs(20)) {
                Ok(()) => return s,
                Err(e) => last_err = format!("{e}; log: {}", s.log()),
            }
        }
        panic!("could not start {kind:?}: {last_err}");
    }

    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("exited with {status}"));
            }
            // A server still starting may accept and then close the connection
            // (or another test's server may briefly hold the port): try again.
            if let Ok(mut c) = Conn::connect(self.port) {
                if c.try_send(&["PING"]).is_ok() {
                    match c.read() {
                        Some(Frame::Simple(s)) if &s[..] == b"PONG" => return Ok(()),
                        Some(Frame::Error(e)) if e.starts_with(b"NOAUTH") => return Ok(()),
                        _ => {}
                    }
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Err("not ready in time".into())
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// A new connection.
    pub fn conn(&self) -> Conn {
        Conn::connect(self.port).expect("connect to server")
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits up to `timeout` for the process to exit; returns its exit code.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking RESP connection.
pub struct Conn {
    stream: TcpStream,
    buf: BytesMut,
    dec: FrameDecoder,
}

impl Conn {
    /// Connects to 127.0.0.1:`port`.
    pub fn connect(port: u16) -> std::io::Result<Conn> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        Ok(Conn {
            stream,
            buf: BytesMut::new(),
            dec: FrameDecoder::default(),
        })
    }

    /// Sends raw bytes.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to server");
    }

    /// Sends raw bytes; an error when the server closed the connection meanwhile
    /// (a client it evicts while the request is still arriving).
    pub fn try_send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.stream.write_all(bytes)
    }

    /// Sends one command without reading the reply.
    pub fn send<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        let f = Frame::array_of_bulks(args.iter().map(|a| a.as_ref()));
        self.send_raw(&f.to_bytes());
    }

    /// Sends one command; an error when the server has closed the connection
    /// (for clients that outlive the server).
    pub fn try_send<A: AsRef<[u8]>>(&mut self, args: &[A]) -> std::io::Result<()> {
        let f = Frame::array_of_bulks(args.iter().map(|a| a.as_ref()));
        self.stream.write_all(&f.to_bytes())
    }

    /// Reads one reply; `None` when the connection closed.
    pub fn read(&mut self) -> Option<Frame> {
        loop {
            match self.dec.decode(&mut self.buf) {
                Ok(Some(f)) => return Some(f),
                Ok(None) => {}
                Err(e) => panic!("bad reply from server: {e}"),
            }
            let mut chunk = [0u8; 16384];
            match self.stream.read(&mut chunk) {
                Ok(0) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("timed out waiting for a reply")
                }
                Err(_) => return None,
            }
        }
    }

    /// Sends a command and reads its reply.
    pub fn cmd<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        self.send(args);
        self.read().expect("connection closed before the reply")
    }

    /// Sends a whitespace-separated command and reads its reply.
    pub fn run(&mut self, line: &str) -> Frame {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.cmd(&args)
    }
}

/// Renders a frame compactly for assertion messages.
pub fn show(f: &Frame) -> String {
    match f {
        Frame::Simple(s) => format!("+{}", String::from_utf8_lossy(s)),
        Frame::Error(s) => format!("-{}", String::from_utf8_lossy(s)),
        Frame::Integer(i) => format!(":{i}"),
        Frame::Bulk(b) => format!("{:?}", String::from_utf8_lossy(b)),
        Frame::Array(items) => format!(
            "[{}]",
            items.iter().map(show).collect::<Vec<_>>().join(", ")
        ),
        other => format!("{other:?}"),
    }
}

/// Replies that legitimately differ between two servers (times, ids, addresses)
/// are compared after this normalisation.
pub fn sorted(f: Frame) -> Frame {
    match f {
        Frame::Array(mut items) => {
            items.sort_by_key(show);
            Frame::Array(items)
        }
        Frame::Set(mut items) => {
            items.sort_by_key(show);
            Frame::Set(items)
        }
        other => other,
    }
}

/// Commands whose reply lists a set's members in no promised order.
fn unordered_reply(name: &[u8]) -> bool {
    [&b"smembers"[..], b"sinter", b"sunion", b"sdiff", b"spop"]
        .iter()
        .any(|c| name.eq_ignore_ascii_case(c))
}

/// One random write command of any type over a small key space (`k1`..`k3`,
/// `{t}a`, `{t}b`), with the argument shapes its type takes: for differential tests
/// of what writes do to others (keyspace events, WATCH).
pub fn random_command() -> impl proptest::strategy::Strategy<Value = Vec<Vec<u8>>> {
    use proptest::prelude::*;
    let key = prop::sample::select(vec!["k1", "k2", "k3", "{t}a", "{t}b"]);
    let val = prop::sample::select(vec!["a", "b", "1", "2", "-3", "x"]);
    let n = -3i64..4;
    (0usize..50, key.clone(), key, val.clone(), val, n.clone(), n).prop_map(
        |(which, k, k2, v, v2, i, j)| {
            let line = match which {
                0 => format!("SET {k} {v}"),
                1 => format!("DEL {k} {k2}"),
                2 => format!("APPEND {k} {v}"),
                3 => format!("INCRBY {k} {i}"),
                4 => format!("LPUSH {k} {v} {v2}"),
                5 => format!("RPOP {k}"),
                6 => format!("LMOVE {k} {k2} LEFT RIGHT"),
                7 => format!("LREM {k} {i} {v}"),
                8 => format!("LTRIM {k} {i} {j}"),
                9 => format!("HSET {k} {v} {v2}"),
                10 => format!("HDEL {k} {v} {v2}"),
                11 => format!("HINCRBY {k} {v} {i}"),
                12 => format!("SADD {k} {v} {v2}"),
                13 => format!("SREM {k} {v}"),
                14 => format!("SMOVE {k} {k2} {v}"),
                15 => format!("SINTERSTORE {k} {k2} {k}"),
                16 => format!("SUNIONSTORE {k} {k2}"),
                17 => format!("ZADD {k} {i} {v}"),
                18 => format!("ZINCRBY {k} {i} {v}"),
                19 => format!("ZREM {k} {v} {v2}"),
                20 => format!("ZREMRANGEBYRANK {k} {i} {j}"),
                21 => format!("ZPOPMIN {k} 2"),
                22 => format!("ZUNIONSTORE {k} 2 {k2} {k}"),
                23 => format!("ZRANGESTORE {k} {k2} 0 -1"),
                24 => format!("RENAME {k} {k2}"),
                25 => format!("COPY {k} {k2} REPLACE"),
                26 => format!("EXPIRE {k} 100"),
                27 => format!("PERSIST {k}"),
                28 => format!("GETDEL {k}"),
                29 => format!("SETRANGE {k} {} {v}", i.abs()),
                30 => format!("LSET {k} {i} {v}"),
                31 => format!("LINSERT {k} AFTER {v} {v2}"),
                // A count past the set's size pops every member: a single random
                // pick would leave the two servers holding different sets.
                32 => format!("SPOP {k} 10"),
                33 => format!("SORT {k} ALPHA STORE {k2}"),
                34 => format!("MSET {k} {v} {k2} {v2}"),
                35 => format!("GETEX {k} PERSIST"),
                36 => format!("HSETNX {k} {v} {v2}"),
                37 => format!("ZADD {k} GT CH {i} {v}"),
                38 => format!("LPUSHX {k} {v}"),
                39 => format!("GET {k}"),
                40 => "SWAPDB 0 1".to_string(),
                41 => "FLUSHDB".to_string(),
                42 => format!("EXPIRE {k} 0"),
                43 => format!("SMEMBERS {k}"),
                45 => format!("SETBIT {k} {} {}", i.abs() * 3, j.rem_euclid(2)),
                46 => format!("BITOP OR {k} {k2} {k}"),
                47 => format!("PFADD {k} {v} {v2}"),
                48 => format!("BITFIELD {k} OVERFLOW FAIL INCRBY u4 {} {i}", j.abs()),
                49 => format!("PFCOUNT {k}"),
                _ => format!("RPOPLPUSH {k} {k2}"),
            };
            line.split(' ').map(|w| w.as_bytes().to_vec()).collect()
        },
    )
}

/// A proptest runner for the differential property tests: `default_cases` cases
/// unless FERROKV_PROPTEST_CASES says otherwise, no failure files (a failure prints
/// its shrunk script, which belongs in a hand-written test).
pub fn prop_runner(default_cases: u32) -> proptest::test_runner::TestRunner {
    let cases = std::env::var("FERROKV_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default_cases);
    proptest::test_runner::TestRunner::new(proptest::test_runner::Config {
        cases,
        failure_persistence: None,
        ..proptest::test_runner::Config::default()
    })
}

/// Arguments that are wrong almost anywhere: not a number, a float where an
/// integer goes, zero and negative counts, past `i64` (and exactly at its ends),
/// empty, a range bound or a keyword out of place. No small positive numbers: a
/// malformed `SPOP k 100` must not become a random pick, nor an expiry a short TTL.
pub const BAD_ARGS: &[&str] = &[
    "abc",
    "1.5",
    "-1",
    "0",
    "",
    "99999999999999999999",
    "-9223372036854775808",
    "9223372036854775807",
    "inf",
    "(1",
    "[a",
    "NX",
    "XX",
    "GET",
    "LIMIT",
    "COUNT",
    "WITHSCORES",
];

/// Breaks a well-formed command the way clients get commands wrong: one argument
/// replaced by a [`BAD_ARGS`] one, two replaced (so that which fault is reported
/// first is compared), one dropped (a value missing after its keyword), one
/// repeated (a duplicate option), or a bad one appended. The command name stays.
pub fn malformed(
    cmd: impl proptest::strategy::Strategy<Value = Vec<String>>,
) -> impl proptest::strategy::Strategy<Value = Vec<String>> {
    use proptest::prelude::*;
    let bad = || proptest::sample::select(BAD_ARGS).prop_map(String::from);
    (
        cmd,
        0u8..5,
        any::<proptest::sample::Index>(),
        any::<proptest::sample::Index>(),
        bad(),
        bad(),
    )
        .prop_map(|(mut c, how, i, j, a, b)| {
            if c.len() < 2 {
                c.push(a);
                return c;
            }
            let (i, j) = (1 + i.index(c.len() - 1), 1 + j.index(c.len() - 1));
            match how {
                0 => c[i] = a,
                1 => {
                    c[i] = a;
                    c[j] = b;
                }
                2 => {
                    c.remove(i);
                }
                3 => {
                    let dup = c[i].clone();
                    c.insert(i, dup);
                }
                _ => c.push(a),
            }
            c
        })
}

/// Whether the reply of a SCAN-family command for `cursor` can be compared between
/// two servers: a cursor other than 0 that the server accepts names a place in its
/// own hash table, so the page it returns differs (0, an empty cursor, and the
/// cursors refused with an error compare fine).
pub fn comparable_cursor(cursor: &str) -> bool {
    let digits = cursor.strip_prefix(['+', '-']).unwrap_or(cursor);
    if cursor.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return true;
    }
    !matches!(digits.parse::<u64>(), Ok(v) if v != 0)
}

/// A differential session: the same commands to ferrokv and redis-server, replies
/// required identical.
pub struct Diff {
    /// ferrokv.
    pub ours: Conn,
    /// redis.
    pub theirs: Conn,
    _servers: Option<(Server, Server)>,
}

impl Diff {
    /// Starts both servers and connects.
    pub fn new() -> Diff {
        Self::with_args(&[])
    }

    /// Starts both servers with the same extra arguments (`--enable-debug-command
    /// yes`, ...) and connects.
    pub fn with_args(extra: &[&str]) -> Diff {
        let ours = Server::ferrokv(extra);
        let theirs = Server::redis(extra);
        Diff {
            ours: ours.conn(),
            theirs: theirs.conn(),
            _servers: Some((ours, theirs)),
        }
    }

    /// Another pair of connections to the same two servers (a second client, for
    /// WATCH or blocking tests).
    pub fn other(&self) -> Diff {
        let (ours, theirs) = self._servers.as_ref().expect("a Diff made by Diff::new");
        Diff {
            ours: ours.conn(),
            theirs: theirs.conn(),
            _servers: None,
        }
    }

    /// Sends `args` to both; panics unless the replies are identical.
    pub fn check<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        let a = self.ours.cmd(args);
        let b = self.theirs.cmd(args);
        // A millisecond TTL read right after it was set depends on whether a
        // millisecond boundary passed in between, on either server: PTTL replies
        // within 2 ms of each other count as the same.
        if args
            .first()
            .is_some_and(|c| c.as_ref().eq_ignore_ascii_case(b"pttl"))
        {
            if let (Frame::Integer(x), Frame::Integer(y)) = (&a, &b) {
                if *x >= 0 && *y >= 0 && (x - y).abs() <= 2 {
                    return a;
                }
            }
        }
        // A set's members come in its hash table's order, which is not Redis's
        // contract (nor the same between two servers): compared as sets.
        let (a, b) = if args.first().is_some_and(|c| unordered_reply(c.as_ref())) {
            (sorted(a), sorted(b))
        } else {
            (a, b)
        };
        assert_eq!(
            show(&a),
            show(&b),
            "reply differs for {:?}",
            args.iter()
                .map(|x| String::from_utf8_lossy(x.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
        assert_eq!(a, b);
        a
    }

    /// [`check`](Self::check) on a whitespace-separated line.
    pub fn line(&mut self, line: &str) -> Frame {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.check(&args)
    }

    /// Like [`check`](Self::check) but compares sorted (for KEYS, SMEMBERS, ...).
    pub fn check_sorted<A: AsRef<[u8]>>(&mut self, args: &[A]) -> Frame {
        let a = sorted(self.ours.cmd(args));
        let b = sorted(self.theirs.cmd(args));
        assert_eq!(
            show(&a),
            show(&b),
            "sorted reply differs for {:?}",
            args.iter()
                .map(|x| String::from_utf8_lossy(x.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
        a
    }

    /// Compares a map-like reply (flat RESP2 pairs or RESP3 map) ignoring pair order
    /// (CONFIG GET with a glob, HGETALL of a hash table).
    pub fn check_pairs<A: AsRef<[u8]>>(&mut self, args: &[A]) {
        fn pairs(f: Frame) -> Vec<String> {
            let mut out: Vec<String> = match f {
                Frame::Array(items) => items
                    .chunks(2)
                    .map(|c| c.iter().map(show).collect::<Vec<_>>().join("="))
                    .collect(),
                Frame::Map(items) => items
                    .iter()
                    .map(|(k, v)| format!("{}={}", show(k), show(v)))
                    .collect(),
                other => vec![show(&other)],
            };
            out.sort();
            out
        }
        let a = pairs(self.ours.cmd(args));
        let b = pairs(self.theirs.cmd(args));
        assert_eq!(
            a,
            b,
            "pairs differ for {:?}",
            args.iter()
                .map(|x| String::from_utf8_lossy(x.as_ref()).into_owned())
                .collect::<Vec<_>>()
        );
    }

    /// Runs every line of a script (blank lines and `#` comments skipped).
    pub fn script(&mut self, script: &str) {
        for line in script
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
        {
            self.line(line);
        }
    }
}

impl Default for Diff {
    fn default() -> Self {
        Self::new()
    }
}

/// Polls `cond` every 10 ms for up to `limit`: whether it came to hold.
pub fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// Polls `cond` for up to `limit`, failing the test with `what` if it never holds.
pub fn wait_until(what: &str, limit: Duration, cond: impl FnMut() -> bool) {
    assert!(eventually(limit, cond), "timed out waiting for {what}");
}

/// Whether a server on `port` answers PING (a simple string: PONG, or a replica's).
pub fn answers_ping(port: u16) -> bool {
    Conn::connect(port).is_ok_and(|mut c| {
        c.try_send(&["PING"]).is_ok() && matches!(c.read(), Some(Frame::Simple(_)))
    })
}
