//! The special modes, compared with redis-cli where the output is deterministic and
//! checked for shape where it holds live figures.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{run, with_port, RedisServer, FERROKV_CLI};

fn seed(server: &RedisServer) {
    for cmd in [
        &["rpush", "list", "a", "b", "c"][..],
        &["set", "s1", "hello"],
        &["set", "s\"2", "hi"],
        &["hset", "hash", "a", "1", "b", "2"],
        &["sadd", "set", "x", "y"],
        &["zadd", "zset", "1", "a"],
        &["xadd", "stream", "*", "a", "1"],
    ] {
        server.cli(cmd);
    }
}

/// The bigkeys/memkeys report with the per-type blocks sorted: redis-cli lists the
/// types in its hash table's order, which is an accident of hashing.
fn normalized(out: &[u8]) -> (String, Vec<String>) {
    let text = String::from_utf8_lossy(out).into_owned();
    let (head, summary) = text
        .split_once("-------- summary -------")
        .unwrap_or((&text, ""));
    let mut lines: Vec<String> = summary.lines().map(str::to_string).collect();
    lines.sort();
    (head.to_string(), lines)
}

#[test]
fn bigkeys_and_memkeys_match_redis_cli() {
    let server = RedisServer::start();
    for mode in ["--bigkeys", "--memkeys"] {
        let empty_want = run("redis-cli", &with_port(&server, &[mode]), b"", &[]);
        let empty_got = run(FERROKV_CLI, &with_port(&server, &[mode]), b"", &[]);
        assert_eq!(
            normalized(&empty_got.stdout),
            normalized(&empty_want.stdout)
        );
    }
    seed(&server);
    for mode in [
        &["--bigkeys"][..],
        &["--memkeys"],
        &["--memkeys-samples", "2"],
    ] {
        let want = run("redis-cli", &with_port(&server, mode), b"", &[]);
        let got = run(FERROKV_CLI, &with_port(&server, mode), b"", &[]);
        let (want_head, want_summary) = normalized(&want.stdout);
        let (got_head, got_summary) = normalized(&got.stdout);
        // Both scan in the server's order, so the "found so far" lines agree too.
        assert_eq!(got_head, want_head, "{mode:?}");
        assert_eq!(got_summary, want_summary, "{mode:?}");
        assert_eq!(got.status.code(), want.status.code());
    }
}

#[test]
fn latency_one_shot_line_when_not_a_tty() {
    let server = RedisServer::start();
    for extra in [&[][..], &["--raw"], &["--csv"]] {
        let mut args = vec!["--latency", "-i", "0.2"];
        args.extend_from_slice(extra);
        let got = run(FERROKV_CLI, &with_port(&server, &args), b"", &[]);
        assert!(got.status.success());
        let line = String::from_utf8_lossy(&got.stdout).trim_end().to_string();
        let sep = if extra == ["--csv"] { ',' } else { ' ' };
        let fields: Vec<&str> = line.split(sep).collect();
        assert_eq!(fields.len(), 4, "{line:?}");
        assert!(fields[2].contains('.'), "avg has two decimals: {line:?}");
        assert!(fields[3].parse::<u64>().is_ok_and(|n| n > 0), "{line:?}");
    }
}

/// Reads lines from a running client until `want` lines arrived or the deadline.
fn read_lines(reader: &mut impl BufRead, want: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    while lines.len() < want {
        line.clear();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => lines.push(line.trim_end_matches('\n').to_string()),
        }
    }
    lines
}

/// The first `n` lines a long-running client prints with `args`.
fn first_lines(program: &str, server: &RedisServer, args: &[&str], n: usize) -> Vec<String> {
    let mut child = Command::new(program)
        .args(with_port(server, args))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let lines = read_lines(&mut out, n);
    let _ = child.kill();
    let _ = child.wait();
    lines
}

#[test]
fn latency_dist_draws_redis_cli_spectrum() {
    let server = RedisServer::start();
    // redis-cli buffers its stdout when it is a pipe; the legend is compared with
    // the text redis-cli 7.0 prints (seen on a terminal), the rows by shape.
    let lines = first_lines(FERROKV_CLI, &server, &["--latency-dist", "-i", "0.1"], 10);
    assert_eq!(lines[0], "-".repeat(45));
    assert_eq!(lines[1], ". - * #          .01 .125 .25 .5 milliseconds");
    assert_eq!(lines[5], "K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds");
    assert!(lines[6].starts_with("From 0 to 100%: \x1b[48;5;0m \x1b[48;5;233m "));
    assert_eq!(lines[7], "-".repeat(45));
    for row in &lines[8..10] {
        assert!(row.starts_with("\x1b[38;5;0m\x1b[48;5;"), "{row:?}");
        assert!(row.ends_with("m?\x1b[0m"), "{row:?}");
        assert_eq!(row.matches("\x1b[48;5;").count(), 31, "{row:?}");
    }
}

#[test]
fn latency_history_off_a_terminal_prints_every_sample() {
    let server = RedisServer::start();
    let lines = first_lines(
        FERROKV_CLI,
        &server,
        &["--latency-history", "-i", "0.1"],
        12,
    );
    assert_eq!(lines.len(), 12);
    assert_eq!(lines[0].split(' ').nth(3), Some("1"), "{:?}", lines[0]);
    assert_eq!(lines[1].split(' ').nth(3), Some("2"), "{:?}", lines[1]);
    assert!(
        lines
            .iter()
            .any(|l| l.contains(" -- 0.1") && l.ends_with(" seconds range")),
        "{lines:?}"
    );
}

#[test]
fn stat_prints_header_and_rows() {
    let server = RedisServer::start();
    seed(&server);
    let mut child = Command::new(FERROKV_CLI)
        .args(with_port(&server, &["--stat", "-i", "0.05"]))
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    let lines = read_lines(&mut out, 4);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(
        lines[0],
        "------- data ------ --------------------- load -------------------- - child -"
    );
    assert_eq!(
        lines[1],
        "keys       mem      clients blocked requests            connections          "
    );
    assert!(lines[2].starts_with("7          "), "{:?}", lines[2]);
    assert!(lines[3].contains("(+1)"), "{:?}", lines[3]);
}

/// Starts a streaming command in both clients, publishes, and compares what each
/// printed.
fn streaming_output(
    program: &str,
    server: &RedisServer,
    args: &[&str],
    trigger: &[&[&str]],
    lines: usize,
) -> Vec<String> {
    let mut child = Command::new(program)
        .args(with_port(server, args))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut out = BufReader::new(child.stdout.take().expect("stdout"));
    // The subscription is confirmed before anything is published.
    let mut got = read_lines(&mut out, 1);
    let deadline = Instant::now() + Duration::from_secs(10);
    let reader = std::thread::spawn(move || read_lines(&mut out, lines - 1));
    for cmd in trigger {
        server.cli(cmd);
    }
    while !reader.is_finished() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    got.extend(reader.join().unwrap_or_default());
    got
}

#[test]
fn subscribe_prints_messages_as_redis_cli() {
    let server = RedisServer::start();
    let publish: &[&[&str]] = &[&["publish", "ch", "hello"], &["publish", "ch", "world"]];
    for mode in [&[][..], &["--no-raw"], &["--csv"], &["-3"]] {
        let mut args = mode.to_vec();
        args.extend(["subscribe", "ch"]);
        // Every mode but raw starts with a "Reading messages..." line.
        let n = match mode {
            ["--csv"] => 4,
            ["--no-raw"] => 10,
            _ => 9,
        };
        let want = streaming_output("redis-cli", &server, &args, publish, n);
        let got = streaming_output(FERROKV_CLI, &server, &args, publish, n);
        assert_eq!(got, want, "{mode:?}");
    }
}

#[test]
fn monitor_prints_commands() {
    let server = RedisServer::start();
    let got = streaming_output(
        FERROKV_CLI,
        &server,
        &["monitor"],
        &[&["set", "mk", "mv"]],
        2,
    );
    assert_eq!(got[0], "OK");
    assert!(
        got.get(1)
            .is_some_and(|l| l.contains("\"set\" \"mk\" \"mv\"")),
        "{got:?}"
    );
}

#[test]
fn rdb_transfer_writes_a_dump() {
    let server = RedisServer::start();
    seed(&server);
    let dir = tempfile::tempdir().expect("temp dir");
    let ours = dir.path().join("ours.rdb");
    let theirs = dir.path().join("theirs.rdb");
    let want = run(
        "redis-cli",
        &with_port(&server, &["--rdb", &theirs.to_string_lossy()]),
        b"",
        &[],
    );
    let got = run(
        FERROKV_CLI,
        &with_port(&server, &["--rdb", &ours.to_string_lossy()]),
        b"",
        &[],
    );
    assert_eq!(got.status.code(), want.status.code());
    let mut a = Vec::new();
    let mut b = Vec::new();
    std::fs::File::open(&ours)
        .and_then(|mut f| f.read_to_end(&mut a))
        .expect("our dump");
    std::fs::File::open(&theirs)
        .and_then(|mut f| f.read_to_end(&mut b))
        .expect("their dump");
    assert!(a.starts_with(b"REDIS"), "an RDB file");
    assert_eq!(a.len(), b.len(), "same size as redis-cli's dump");
    let msg = |o: &[u8]| {
        String::from_utf8_lossy(o)
            .replace(&*ours.to_string_lossy(), "F")
            .replace(&*theirs.to_string_lossy(), "F")
    };
    assert_eq!(msg(&got.stderr), msg(&want.stderr));
}

#[test]
fn replica_mode_logs_the_master_stream() {
    let server = RedisServer::start_with(&["--repl-diskless-sync-delay", "0"]);
    let mut child = Command::new(FERROKV_CLI)
        .args(with_port(&server, &["--replica"]))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Lines arrive on channels so that a silent client fails the test in bounded
    // time instead of hanging it.
    let lines = |r: Box<dyn Read + Send>| {
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(r).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        rx
    };
    let err = lines(Box::new(child.stderr.take().expect("stderr")));
    let out = lines(Box::new(child.stdout.take().expect("stdout")));
    let deadline = Instant::now() + Duration::from_secs(30);
    let next = |rx: &std::sync::mpsc::Receiver<String>| {
        rx.recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .ok()
    };
    let banner: Vec<String> = (0..5).filter_map(|_| next(&err)).collect();
    assert_eq!(banner.len(), 5, "{banner:?}");
    assert_eq!(banner[0], "sending REPLCONF capa eof");
    assert!(banner[3].starts_with("SYNC done after "), "{banner:?}");
    assert_eq!(banner[4], "sending REPLCONF ACK 0");
    server.cli(&["set", "rk", "v v"]);
    let mut seen = Vec::new();
    while !seen.iter().any(|l: &String| l == "\"set\",\"rk\",\"v v\"") {
        match next(&out) {
            Some(l) => seen.push(l),
            None => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        seen.iter().any(|l| l == "\"set\",\"rk\",\"v v\""),
        "{seen:?}"
    );
}

#[test]
fn hotkeys_match_redis_cli() {
    let server = RedisServer::start();
    seed(&server);
    // Without an LFU policy both fail the same way.
    common::same(&with_port(&server, &["--hotkeys"]), b"");
    server.cli(&["config", "set", "maxmemory-policy", "allkeys-lfu"]);
    for _ in 0..3 {
        server.cli(&["get", "s1"]);
    }
    common::same(&with_port(&server, &["--hotkeys"]), b"");
}
