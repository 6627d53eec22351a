//! Graceful shutdown loses nothing: SIGTERM, SIGINT and SHUTDOWN stop accepting
//! and executing, flush and fsync the AOF whatever `appendfsync` says, save when
//! configured, then exit (Redis 7.0's prepareForShutdown / finishShutdown).
//!
//! The load test: writers append consecutive integers to one list each
//! (`RPUSH log:<cycle>:<writer> <seq>`) and count the replies they got; the
//! server is stopped (SIGTERM, SIGINT or SHUTDOWN, in turn) at a random moment,
//! restarted on the same folder, and every list must be exactly `0..n` with `n`
//! the acknowledged count, or one more (the write in flight may have run without
//! its reply getting out). Redis runs one cycle per policy too: it loses nothing
//! either. `cargo xtask crash` runs many cycles (FERROKV_SHUTDOWN_CYCLES).

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Diff, Kind, Server};

const WRITERS: usize = 4;

/// How the server is asked to stop.
#[derive(Debug, Clone, Copy)]
enum How {
    Sigterm,
    Sigint,
    Shutdown,
}

const HOWS: [How; 3] = [How::Sigterm, How::Sigint, How::Shutdown];

fn signal(s: &Server, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &s.pid().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

fn start(kind: Kind, dir: &Path, extra: &[&str]) -> Server {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["--dir", d.as_str()];
    args.extend_from_slice(extra);
    Server::start(kind, &args)
}

/// Polls the log until it contains `what`.
fn wait_log(s: &Server, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if s.log().contains(what) {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    panic!("{:?}: no {what:?} in the log:\n{}", s.kind, s.log());
}

/// Asks `s` to stop as `how` says and waits for the exit; returns the log.
fn stop(mut s: Server, how: How) -> String {
    match how {
        How::Sigterm => signal(&s, "-TERM"),
        How::Sigint => signal(&s, "-INT"),
        How::Shutdown => {
            let mut c = s.conn();
            c.send(&["SHUTDOWN"]);
            // No reply: the connection closes as the process exits.
            assert_eq!(c.read(), None, "{:?} SHUTDOWN replied", s.kind);
        }
    }
    let code = s.wait_exit(Duration::from_secs(60));
    let log = s.log();
    assert_eq!(
        code,
        Some(0),
        "{:?} did not exit cleanly; log:\n{log}",
        s.kind
    );
    log
}

/// One cycle: writers, a stop at a random moment, a restart, the check. Returns
/// (acknowledged, found).
fn cycle(
    kind: Kind,
    dir: &Path,
    policy: &str,
    cycle: usize,
    how: How,
    seed: u64,
) -> (usize, usize) {
    let aof = ["--appendonly", "yes", "--appendfsync", policy];
    let s = start(kind, dir, &aof);
    let acked: Vec<Arc<Mutex<usize>>> = (0..WRITERS).map(|_| Arc::default()).collect();
    let errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let stopped = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    for (w, count) in acked.iter().enumerate() {
        let (port, count, errors, stopped) =
            (s.port, count.clone(), errors.clone(), stopped.clone());
        threads.push(std::thread::spawn(move || {
            let Ok(mut c) = Conn::connect(port) else {
                return;
            };
            let key = format!("log:{cycle}:{w}");
            for seq in 0usize.. {
                if stopped.load(Ordering::Relaxed)
                    || c.try_send(&["RPUSH", &key, &seq.to_string()]).is_err()
                {
                    return;
                }
                match c.read() {
                    Some(Frame::Integer(len)) if len as usize == seq + 1 => {
                        *count.lock().unwrap() += 1
                    }
                    Some(other) => {
                        errors
                            .lock()
                            .unwrap()
                            .push(format!("RPUSH {key} {seq}: {}", show(&other)));
                        return;
                    }
                    // Closed by the shutdown: this write was not acknowledged.
                    None => return,
                }
            }
        }));
    }
    std::thread::sleep(Duration::from_millis(150 + seed % 1000));
    let log = stop(s, how);
    stopped.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().unwrap();
    }
    let errors = errors.lock().unwrap();
    assert!(errors.is_empty(), "{kind:?}: {errors:?}");
    let signal_line = match how {
        How::Sigterm => Some("Received SIGTERM scheduling shutdown..."),
        How::Sigint => Some("Received SIGINT scheduling shutdown..."),
        How::Shutdown => None,
    };
    for line in signal_line.into_iter().chain([
        "User requested shutdown...",
        "Calling fsync() on the AOF file.",
        "is now ready to exit, bye bye...",
    ]) {
        assert!(
            log.contains(line),
            "{kind:?} {how:?}: no {line:?} in the log:\n{log}"
        );
    }

    let s = start(kind, dir, &aof);
    let mut c = s.conn();
    let (mut total_acked, mut total_found) = (0, 0);
    for (w, count) in acked.iter().enumerate() {
        let acked = *count.lock().unwrap();
        let key = format!("log:{cycle}:{w}");
        let items = match c.cmd(&["LRANGE", &key, "0", "-1"]) {
            Frame::Array(items) => items,
            other => panic!(
                "{kind:?} {policy} {how:?}: LRANGE {key} -> {}\n{}",
                show(&other),
                s.log()
            ),
        };
        let found: Vec<String> = items.iter().map(show).collect();
        for (i, item) in found.iter().enumerate() {
            assert_eq!(
                item,
                &format!("\"{i}\""),
                "{kind:?} {policy} {how:?} {key}: {found:?}"
            );
        }
        assert!(
            found.len() >= acked && found.len() <= acked + 1,
            "{kind:?} appendfsync {policy}, {how:?}, cycle {cycle}: {key} has {} items, {acked} \
             were acknowledged; shutdown log:\n{log}",
            found.len(),
        );
        total_acked += acked;
        total_found += found.len();
    }
    // Earlier cycles are all still there.
    for earlier in 0..cycle {
        for w in 0..WRITERS {
            let key = format!("log:{earlier}:{w}");
            assert!(
                matches!(c.cmd(&["LLEN", &key]), Frame::Integer(n) if n > 0),
                "{key} lost"
            );
        }
    }
    (total_acked, total_found)
}

fn cycles(kind: Kind, policy: &str, n: usize) {
    let dir = tempfile::tempdir().unwrap();
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ u64::from(std::process::id());
    let mut total = 0;
    for i in 0..n {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let how = HOWS[i % HOWS.len()];
        let (acked, found) = cycle(kind, dir.path(), policy, i, how, seed);
        println!("{kind:?} appendfsync {policy} cycle {i} ({how:?}): acknowledged {acked}, found {found}");
        total += acked;
    }
    assert!(total > 0, "no write was acknowledged: nothing was tested");
}

/// Cycles per policy for ferrokv: FERROKV_SHUTDOWN_CYCLES (`cargo xtask crash`), or 3
/// (one SIGTERM, one SIGINT, one SHUTDOWN).
fn ferrokv_cycles() -> usize {
    std::env::var("FERROKV_SHUTDOWN_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

#[test]
fn shutdown_under_load_keeps_every_acknowledged_write_appendfsync_always() {
    cycles(Kind::Ferrokv, "always", ferrokv_cycles());
    cycles(Kind::Redis, "always", 1);
}

#[test]
fn shutdown_under_load_keeps_every_acknowledged_write_appendfsync_everysec() {
    cycles(Kind::Ferrokv, "everysec", ferrokv_cycles());
    cycles(Kind::Redis, "everysec", 1);
}

#[test]
fn shutdown_under_load_keeps_every_acknowledged_write_appendfsync_no() {
    cycles(Kind::Ferrokv, "no", ferrokv_cycles());
    cycles(Kind::Redis, "no", 1);
}

/// Fills db 0 with `n` keys, pipelined.
fn populate(c: &mut Conn, n: usize) {
    let mut at = 0;
    while at < n {
        let end = (at + 1000).min(n);
        let mut args = vec!["MSET".to_string()];
        for i in at..end {
            args.push(format!("key:{i}"));
            args.push(format!("value:{i}:{}", "x".repeat(40)));
        }
        assert_eq!(show(&c.cmd(&args)), "+OK");
        at = end;
    }
}

/// A command that arrives once the shutdown is under way does not run: its
/// client sees the connection close, and the saved data does not have it.
#[test]
fn commands_after_the_shutdown_began_do_not_run() {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = start(kind, dir.path(), &["--save", "3600 1"]);
        let mut c = s.conn();
        populate(&mut c, 200_000);
        let mut late = s.conn();
        c.send(&["SHUTDOWN"]);
        // Logged once commands are halted (Redis: once its event loop is busy saving).
        wait_log(&s, "Saving the final RDB snapshot before exiting.");
        if late.try_send(&["SET", "late", "1"]).is_ok() {
            assert_eq!(
                late.read(),
                None,
                "{kind:?}: a command ran during the shutdown"
            );
        }
        assert_eq!(c.read(), None);
        assert_eq!(s.wait_exit(Duration::from_secs(60)), Some(0), "{}", s.log());
        let s = start(kind, dir.path(), &[]);
        let mut c = s.conn();
        assert_eq!(show(&c.cmd(&["DBSIZE"])), ":200000", "{kind:?}");
        let late = c.cmd(&["GET", "late"]);
        assert!(
            matches!(late, Frame::Null | Frame::NullBulk),
            "{kind:?}: {}",
            show(&late)
        );
    }
}

/// The final save fails (a folder where dump.rdb goes): SHUTDOWN and SIGTERM are
/// called off and the server keeps serving, a command that came meanwhile runs;
/// NOSAVE or FORCE exit. As Redis's unit/shutdown.tcl checks.
#[test]
fn a_failing_final_save_calls_the_shutdown_off_unless_nosave_or_force() {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().unwrap();
        let mut s = start(kind, dir.path(), &["--save", "3600 1"]);
        // After the start: a folder there would stop the load.
        std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
        let mut c = s.conn();
        populate(&mut c, 100_000);
        let mut other = s.conn();
        c.send(&["SHUTDOWN"]);
        other.send(&["SET", "meanwhile", "1"]);
        assert_eq!(
            show(&c.read().unwrap()),
            "-ERR Errors trying to SHUTDOWN. Check logs.",
            "{kind:?}"
        );
        assert_eq!(show(&other.read().unwrap()), "+OK", "{kind:?}");
        assert_eq!(show(&c.cmd(&["GET", "meanwhile"])), "\"1\"");
        wait_log(&s, "Error trying to save the DB, can't exit.");
        wait_log(
            &s,
            "Errors trying to shut down the server. Check the logs for more information.",
        );
        let before = s
            .log()
            .matches("Error trying to save the DB, can't exit.")
            .count();
        signal(&s, "-TERM");
        let deadline = Instant::now() + Duration::from_secs(30);
        while s
            .log()
            .matches("Error trying to save the DB, can't exit.")
            .count()
            == before
        {
            assert!(
                Instant::now() < deadline,
                "{kind:?}: SIGTERM's save never failed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(show(&c.cmd(&["PING"])), "+PONG", "{kind:?}");
        assert!(s.is_running());
        c.send(&["SHUTDOWN", "NOSAVE"]);
        assert_eq!(c.read(), None);
        assert_eq!(s.wait_exit(Duration::from_secs(30)), Some(0), "{kind:?}");
        assert!(s.log().contains("ready to exit, bye bye"));

        std::fs::remove_dir(dir.path().join("dump.rdb")).unwrap();
        let mut s = start(kind, dir.path(), &["--save", "3600 1"]);
        std::fs::create_dir(dir.path().join("dump.rdb")).unwrap();
        let mut c = s.conn();
        c.send(&["SHUTDOWN", "FORCE"]);
        assert_eq!(c.read(), None);
        assert_eq!(s.wait_exit(Duration::from_secs(30)), Some(0), "{kind:?}");
        let log = s.log();
        assert!(
            log.contains("Error trying to save the DB. Exit anyway."),
            "{kind:?}: {log}"
        );
    }
}

/// shutdown-on-sigterm / shutdown-on-sigint choose what a signal's shutdown does.
#[test]
fn shutdown_on_signal_configs_decide_the_save() {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        // No save points, but SIGTERM is told to save.
        let dir = tempfile::tempdir().unwrap();
        let s = start(kind, dir.path(), &["--shutdown-on-sigterm", "save"]);
        s.conn().run("SET k v");
        stop(s, How::Sigterm);
        assert!(
            dir.path().join("dump.rdb").exists(),
            "{kind:?}: SIGTERM did not save"
        );
        // Save points, but SIGINT is told not to save.
        let dir = tempfile::tempdir().unwrap();
        let s = start(
            kind,
            dir.path(),
            &["--save", "3600 1", "--shutdown-on-sigint", "nosave now"],
        );
        s.conn().run("SET k v");
        let log = stop(s, How::Sigint);
        assert!(
            !dir.path().join("dump.rdb").exists(),
            "{kind:?}: SIGINT saved"
        );
        assert!(!log.contains("Saving the final RDB snapshot"), "{kind:?}");
    }
}

#[test]
fn shutdown_arguments_and_configs_like_redis() {
    let mut d = Diff::new();
    d.script(
        "
        SHUTDOWN ABORT
        SHUTDOWN abort ABORT
        SHUTDOWN ABORT NOW
        SHUTDOWN NOW ABORT
        SHUTDOWN SAVE NOSAVE
        SHUTDOWN nosave save now
        SHUTDOWN FOO
        SHUTDOWN NOW FOO
        CONFIG GET shutdown-timeout
        CONFIG SET shutdown-timeout 0
        CONFIG SET shutdown-timeout -1
        CONFIG GET shutdown-timeout
        CONFIG SET shutdown-on-sigterm nosave
        CONFIG GET shutdown-on-sigterm
        CONFIG SET shutdown-on-sigint bogus
        CONFIG GET shutdown-on-sigint
        ",
    );
    d.check_pairs(&["CONFIG", "GET", "shutdown*"]);
    for value in [
        "nosave now",
        "force now save",
        "SAVE NOW",
        "save save",
        "default force",
        "default default",
        "save nosave",
        "",
        " save",
        "save  save",
    ] {
        d.check(&["CONFIG", "SET", "shutdown-on-sigterm", value]);
        d.check(&["CONFIG", "GET", "shutdown-on-sigterm"]);
    }
}
