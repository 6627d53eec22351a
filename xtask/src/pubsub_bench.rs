//! `cargo xtask bench pubsub`: Pub/Sub throughput of ferrokv against redis-server,
//! side by side in one run, and GET/SET with many idle subscribers.
//!
//! Each server runs pinned to one core (`taskset -c 0`) and this tool's load on
//! another (`taskset -c 1`): a 2-core machine compares one core against one core.
//! Rounds alternate between the servers (A B A B ...) and the median is reported.
//!
//! Scenarios (messages per second delivered, summed over subscribers):
//! - `fanout-1`: one subscriber of the channel;
//! - `fanout-100`: 100 subscribers of the channel;
//! - `patterns-100`: 100 subscribers, each of a different pattern matching it;
//! - `publish-only` (redis-benchmark `PUBLISH`, nobody subscribed, pipeline 1/16);
//! - `get/set with 1000 idle subscribers` (redis-benchmark GET/SET, pipeline 16,
//!   with and without 1000 connections subscribed to their own channels).
//!
//! Publishers pipeline `PIPELINE` PUBLISHes at a time from several connections;
//! messages have a fixed size, so subscribers count bytes instead of parsing.
//! `--threads-scaling` also runs ferrokv unpinned with `--threads 1` and
//! `--threads N` (N = cores) on the fan-out scenarios.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::util::{cargo, run, target_dir, Result};

const CHANNEL: &str = "bench";
const PAYLOAD: &str = "0123456789abcdef";
const PUBLISHERS: usize = 4;
const PIPELINE: usize = 32;

struct Options {
    seconds: f64,
    rounds: usize,
    scaling: bool,
    out: Option<String>,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        seconds: 2.0,
        rounds: 3,
        scaling: false,
        out: None,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds N")?,
            "--rounds" => o.rounds = value()?.parse().map_err(|_| "--rounds N")?,
            "--threads-scaling" => o.scaling = true,
            "--out" => o.out = Some(value()?),
            "--only" => o.only = value()?.split(',').map(String::from).collect(),
            other => return Err(format!("bench pubsub: unknown option {other}")),
        }
    }
    Ok(o)
}

/// A server process, killed when dropped.
pub(crate) struct Server {
    child: Child,
    pub(crate) port: u16,
    _dir: TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct TempDir(std::path::PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub(crate) fn free_port() -> Result<u16> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// The machine's cores, read before this process pins itself to one of them
/// (after that, available_parallelism reports the one core of its affinity).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

pub(crate) fn have_taskset() -> bool {
    static HAVE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAVE.get_or_init(|| cores() >= 2 && crate::util::succeeds("taskset", &["-c", "0", "true"]))
}

/// Which server, and how it runs.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) argv: Vec<String>,
    pub(crate) pin: bool,
}

pub(crate) fn start(t: &Target) -> Result<Server> {
    let port = free_port()?;
    let dir = std::env::temp_dir().join(format!("ferrokv-psbench-{}-{port}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let mut argv: Vec<String> = t
        .argv
        .iter()
        .map(|a| a.replace("{port}", &port.to_string()))
        .collect();
    if have_taskset() {
        // Pinned to core 0, or every core: a child inherits this process's
        // affinity, which is core 1 only once main has pinned it.
        let cpus = if t.pin {
            "0".to_string()
        } else {
            format!("0-{}", cores() - 1)
        };
        argv.splice(0..0, ["taskset".into(), "-c".into(), cpus]);
    }
    let child = Command::new(&argv[0])
        .args(&argv[1..])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start {}: {e}", argv[0]))?;
    let s = Server {
        child,
        port,
        _dir: TempDir(dir),
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if let Ok(mut c) = TcpStream::connect(("127.0.0.1", port)) {
            let mut buf = [0u8; 16];
            // +PONG, not -LOADING: a server answers while it loads its dataset.
            if c.write_all(b"PING\r\n").is_ok()
                && c.read(&mut buf)
                    .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
            {
                return Ok(s);
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Err(format!("{} did not start", t.name))
}

pub(crate) fn connect(port: u16) -> Result<TcpStream> {
    let c = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    c.set_nodelay(true).map_err(|e| e.to_string())?;
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .map_err(|e| e.to_string())?;
    Ok(c)
}

pub(crate) fn resp(args: &[&str]) -> Vec<u8> {
    let mut v = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        v.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
    }
    v
}

/// Reads exactly `n` bytes (a confirmation of known size).
fn read_n(c: &mut TcpStream, n: usize) -> Result {
    let mut buf = vec![0u8; n];
    c.read_exact(&mut buf).map_err(|e| format!("read: {e}"))
}

/// `n` distinct glob patterns that all match [`CHANNEL`]: every letter as itself,
/// `?` or a one-letter class, then `*`-suffixed variants.
fn patterns(n: usize) -> Vec<String> {
    let mut out = Vec::new();
    let letters: Vec<char> = CHANNEL.chars().collect();
    let mut i = 0usize;
    while out.len() < n {
        let mut p = String::new();
        let mut k = i;
        for c in &letters {
            match k % 3 {
                0 => p.push(*c),
                1 => p.push('?'),
                _ => p.push_str(&format!("[{c}]")),
            }
            k /= 3;
        }
        if k % 2 == 1 {
            p.push('*');
        }
        i += 1;
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// The size of one delivered message as the subscriber reads it.
fn message_size(pattern: Option<&str>) -> usize {
    match pattern {
        None => resp(&["message", CHANNEL, PAYLOAD]).len(),
        Some(p) => resp(&["pmessage", p, CHANNEL, PAYLOAD]).len(),
    }
}

/// One fan-out measurement: subscribers (of the channel, or each of its own
/// pattern), publishers pipelining for `seconds`, then the time until every
/// message is delivered. Returns messages delivered per second.
fn fanout(port: u16, subscribers: usize, with_patterns: bool, seconds: f64) -> Result<f64> {
    let pats = patterns(subscribers);
    let received = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for pat in pats.iter().take(subscribers) {
        let mut c = connect(port)?;
        let (cmd, confirm) = if with_patterns {
            let p = pat.as_str();
            (resp(&["PSUBSCRIBE", p]), resp(&["psubscribe", p]).len() + 4)
        } else {
            (
                resp(&["SUBSCRIBE", CHANNEL]),
                resp(&["subscribe", CHANNEL]).len() + 4,
            )
        };
        c.write_all(&cmd).map_err(|e| e.to_string())?;
        // `*3 $9 subscribe $5 bench :1`: as long as the `*2` array of its strings
        // plus `:1\r\n`.
        read_n(&mut c, confirm)?;
        let size = message_size(with_patterns.then_some(pat.as_str())) as u64;
        let (received, stop) = (received.clone(), stop.clone());
        c.set_read_timeout(Some(Duration::from_millis(200)))
            .map_err(|e| e.to_string())?;
        readers.push(std::thread::spawn(move || {
            let mut buf = vec![0u8; 1 << 16];
            let mut bytes = 0u64;
            let mut counted = 0u64;
            while !stop.load(Relaxed) {
                match c.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        bytes += n as u64;
                        let whole = bytes / size;
                        received.fetch_add(whole - counted, Relaxed);
                        counted = whole;
                    }
                    Err(_) => continue,
                }
            }
        }));
    }
    let published = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut pubs = Vec::new();
    for _ in 0..PUBLISHERS {
        let mut c = connect(port)?;
        let published = published.clone();
        let batch: Vec<u8> = (0..PIPELINE)
            .flat_map(|_| resp(&["PUBLISH", CHANNEL, PAYLOAD]))
            .collect();
        pubs.push(std::thread::spawn(move || -> Result {
            let mut buf = vec![0u8; 4096];
            while Instant::now() < until {
                c.write_all(&batch).map_err(|e| e.to_string())?;
                // PIPELINE integer replies, each `:N\r\n`.
                let mut lines = 0;
                while lines < PIPELINE {
                    let n = c.read(&mut buf).map_err(|e| e.to_string())?;
                    if n == 0 {
                        return Err("publisher connection closed".into());
                    }
                    lines += buf[..n].iter().filter(|&&b| b == b'\n').count();
                }
                published.fetch_add(PIPELINE as u64, Relaxed);
            }
            Ok(())
        }));
    }
    for p in pubs {
        p.join().map_err(|_| "publisher panicked")??;
    }
    let expected = published.load(Relaxed) * subscribers as u64;
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.load(Relaxed) < expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Relaxed);
    for r in readers {
        let _ = r.join();
    }
    let got = received.load(Relaxed);
    if got < expected {
        return Err(format!("only {got} of {expected} messages delivered"));
    }
    Ok(got as f64 / elapsed)
}

/// redis-benchmark (pinned to the load core) for one command; requests/s.
pub(crate) fn benchmark(port: u16, seconds: f64, pipeline: usize, cmd: &[&str]) -> Result<f64> {
    let n = ((seconds * 100_000.0) as usize * pipeline.max(1)).max(10_000);
    let mut c = Command::new("taskset");
    if have_taskset() {
        c.args(["-c", "1", "redis-benchmark"]);
    } else {
        c = Command::new("redis-benchmark");
    }
    c.args(["-p", &port.to_string(), "-c", "50", "-n", &n.to_string()])
        .args(["-P", &pipeline.to_string(), "-r", "100000", "--csv", "-q"])
        .args(cmd)
        .stdin(Stdio::null())
        .stderr(Stdio::null());
    let out = c.output().map_err(|e| format!("redis-benchmark: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    // "test","rps",...: the second field of the last line.
    text.lines()
        .last()
        .and_then(|l| l.split(',').nth(1))
        .and_then(|f| f.trim_matches('"').parse::<f64>().ok())
        .ok_or_else(|| format!("redis-benchmark gave no figure: {text}"))
}

pub(crate) fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Opens `n` connections, each subscribed to its own channel, and keeps them.
fn idle_subscribers(port: u16, n: usize) -> Result<Vec<TcpStream>> {
    (0..n)
        .map(|i| {
            let mut c = connect(port)?;
            let ch = format!("idle:{i}");
            c.write_all(&resp(&["SUBSCRIBE", &ch]))
                .map_err(|e| e.to_string())?;
            read_n(&mut c, resp(&["subscribe", &ch]).len() + 4)?;
            Ok(c)
        })
        .collect()
}

type Scenario = (String, Box<dyn Fn(u16, f64) -> Result<f64>>);

fn scenarios() -> Vec<Scenario> {
    let mut v: Vec<Scenario> = vec![
        (
            "fanout-1 msgs/s".into(),
            Box::new(|p, s| fanout(p, 1, false, s)),
        ),
        (
            "fanout-100 msgs/s".into(),
            Box::new(|p, s| fanout(p, 100, false, s)),
        ),
        (
            "patterns-100 msgs/s".into(),
            Box::new(|p, s| fanout(p, 100, true, s)),
        ),
    ];
    for pipeline in [1, 16] {
        v.push((
            format!("PUBLISH (no subscriber) P{pipeline} rps"),
            Box::new(move |p, s| benchmark(p, s, pipeline, &["PUBLISH", "bench", "x"])),
        ));
    }
    for (name, cmd) in [
        ("GET", ["GET", "key:__rand_int__", ""]),
        ("SET", ["SET", "key:__rand_int__", "v"]),
    ] {
        let cmd: Vec<&'static str> = cmd.into_iter().filter(|a| !a.is_empty()).collect();
        let c2 = cmd.clone();
        v.push((
            format!("{name} P16 rps"),
            Box::new(move |p, s| benchmark(p, s, 16, &cmd)),
        ));
        v.push((
            format!("{name} P16 rps, 1000 idle subscribers"),
            Box::new(move |p, s| {
                let _idle = idle_subscribers(p, 1000)?;
                benchmark(p, s, 16, &c2)
            }),
        ));
    }
    v
}

/// Runs every scenario on `targets` in alternating rounds; returns the medians
/// (scenario x target).
fn compare(
    targets: &[Target],
    o: &Options,
    only: Option<&[&str]>,
) -> Result<Vec<(String, Vec<f64>)>> {
    let mut rows = Vec::new();
    for (name, f) in scenarios() {
        if only.is_some_and(|keep| !keep.iter().any(|k| name.starts_with(k))) {
            continue;
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
        for round in 0..o.rounds {
            for (i, t) in targets.iter().enumerate() {
                let server = start(t)?;
                let v = f(server.port, o.seconds)?;
                eprintln!("  {name} round {round} {}: {v:.0}", t.name);
                samples[i].push(v);
            }
        }
        rows.push((name, samples.into_iter().map(median).collect()));
    }
    Ok(rows)
}

pub(crate) fn table(targets: &[Target], rows: &[(String, Vec<f64>)]) -> String {
    let mut s = String::from("| scenario |");
    for t in targets {
        s.push_str(&format!(" {} |", t.name));
    }
    s.push_str(" ratio |\n|---|");
    for _ in targets {
        s.push_str("---:|");
    }
    s.push_str("---:|\n");
    for (name, v) in rows {
        s.push_str(&format!("| {name} |"));
        for x in v {
            s.push_str(&format!(" {x:.0} |"));
        }
        let ratio = match (v.first(), v.last()) {
            (Some(a), Some(b)) if *a > 0.0 => b / a,
            _ => 0.0,
        };
        s.push_str(&format!(" {ratio:.2} |\n"));
    }
    s
}

/// For every side-by-side bench: builds the release server (returning its path)
/// and moves this process (the load generator) to core 1, the servers going to
/// core 0.
pub(crate) fn build_and_pin_self() -> Result<String> {
    let _ = (cores(), have_taskset());
    run(cargo().args(["build", "--release", "-p", "ferrokv-server"]))?;
    let server = target_dir().join("release/ferrokv-server");
    if have_taskset() {
        // This process's load (and the threads it starts) on the other core.
        let _ = Command::new("taskset")
            .args(["-p", "-c", "1", &std::process::id().to_string()])
            .stdout(Stdio::null())
            .status();
    }
    Ok(server.to_string_lossy().into_owned())
}

/// redis-server without persistence, pinned to one core.
pub(crate) fn redis_target() -> Target {
    Target {
        name: "redis-server".into(),
        argv: [
            "redis-server",
            "--port",
            "{port}",
            "--save",
            "",
            "--appendonly",
            "no",
        ]
        .map(String::from)
        .to_vec(),
        pin: true,
    }
}

/// ferrokv with `threads` workers, pinned to one core or not.
pub(crate) fn ferrokv_target(server: &str, threads: usize, pin: bool) -> Target {
    Target {
        name: format!(
            "ferrokv --threads {threads}{}",
            if pin { "" } else { " (unpinned)" }
        ),
        argv: [
            server,
            "--port",
            "{port}",
            "--save",
            "",
            "--threads",
            &threads.to_string(),
        ]
        .map(String::from)
        .to_vec(),
        pin,
    }
}

pub fn main(args: &[String]) -> Result {
    let o = parse(args)?;
    let server = build_and_pin_self()?;
    let redis = redis_target();
    let ferrokv = |threads: usize, pin: bool| ferrokv_target(&server, threads, pin);
    let targets = [redis, ferrokv(1, true)];
    let only: Vec<&str> = o.only.iter().map(String::as_str).collect();
    let rows = compare(&targets, &o, (!only.is_empty()).then_some(&only[..]))?;
    let mut report = format!(
        "Pub/Sub, one core each (rounds {}, {} s per run, median; {PUBLISHERS} publishers \
         pipelining {PIPELINE} PUBLISHes of {} bytes):\n\n{}",
        o.rounds,
        o.seconds,
        PAYLOAD.len(),
        table(&targets, &rows)
    );
    if o.scaling {
        let cores = cores();
        let scaled = [ferrokv(1, false), ferrokv(cores, false)];
        let rows = compare(&scaled, &o, Some(&["fanout-100", "patterns-100"]))?;
        report.push_str(&format!(
            "\nferrokv unpinned, --threads 1 vs --threads {cores} ({cores} cores, the load \
             generator on the same machine):\n\n{}",
            table(&scaled, &rows)
        ));
    }
    println!("{report}");
    if let Some(path) = &o.out {
        std::fs::write(path, &report).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
