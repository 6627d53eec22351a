//! Clients are served while the dataset loads at start-up, as Redis's loading
//! processes events: commands flagged `loading` (INFO, CONFIG) run, the others
//! get -LOADING, CONFIG SET of `dir` is refused, INFO persistence reports the
//! progress, and SIGTERM exits at once without saving the half-loaded dataset.
//! The same steps run against redis-server and ferrokv-server, replies compared.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{ferrokv_binary, free_port, redis_binary, show, Conn, Kind, Server};

/// An RDB of 20,000 keys of 1,000 bytes written by a `kind` server in `dir`.
fn make_rdb(kind: Kind) -> (tempfile::TempDir, Vec<u8>) {
    let s = Server::start(
        kind,
        &["--rdbcompression", "no", "--enable-debug-command", "yes"],
    );
    let mut c = s.conn();
    assert_eq!(show(&c.run("DEBUG POPULATE 20000 key 1000")), "+OK");
    assert_eq!(show(&c.run("SAVE")), "+OK");
    let dir = tempfile::tempdir().expect("temp dir");
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    std::fs::write(dir.path().join("dump.rdb"), &bytes).expect("copy dump.rdb");
    (dir, bytes)
}

/// What a client sees of a server still loading: the replies to fixed commands.
fn while_loading(kind: Kind) -> Vec<String> {
    let (dir, before) = make_rdb(kind);
    let port = free_port();
    let bin = match kind {
        Kind::Ferrokv => ferrokv_binary(),
        Kind::Redis => redis_binary(),
    };
    let mut child = Command::new(bin)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--dir", &dir.path().to_string_lossy(), "--save", "900 1"])
        // 20,000 keys x 500 us: ten seconds of loading, far more than needed.
        .args(["--key-load-delay", "500"])
        .args(["--loading-process-events-interval-bytes", "1024"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut c = loop {
        if let Ok(c) = Conn::connect(port) {
            break c;
        }
        assert!(Instant::now() < deadline, "{kind:?}: never accepted");
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut seen = Vec::new();
    for line in [
        "PING",
        "GET key:1",
        "CONFIG SET loglevel debug",
        "CONFIG GET loglevel",
        "CONFIG SET dir /tmp",
        "CONFIG SET enable-protected-configs yes",
        "CONFIG SET appendonly yes",
        "CONFIG SET maxmemory 10mb appendonly yes",
        "CONFIG SET appendonly yes nosuchparam 1",
        "CONFIG SET nosuchparam 1 appendonly yes",
    ] {
        seen.push(format!("{line} -> {}", show(&c.run(line))));
    }
    let info = match c.run("INFO persistence") {
        Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
        f => panic!("{kind:?}: INFO {}", show(&f)),
    };
    for field in [
        "loading",
        "loading_start_time",
        "loading_total_bytes",
        "loading_loaded_bytes",
        "loading_loaded_perc",
        "loading_eta_seconds",
    ] {
        let value = info
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .unwrap_or_else(|| panic!("{kind:?}: no {field} in {info}"));
        if field == "loading" {
            seen.push(format!("loading:{value}"));
        }
    }
    let total: u64 = info
        .lines()
        .find_map(|l| l.strip_prefix("loading_total_bytes:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0);
    assert_eq!(total, before.len() as u64, "{kind:?}: loading_total_bytes");
    // SIGTERM during the load: a prompt clean exit, and the file is untouched
    // (a save now would replace it with the part loaded so far).
    let ok = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill");
    let deadline = Instant::now() + Duration::from_secs(5);
    let code = loop {
        if let Ok(Some(status)) = child.try_wait() {
            break status.code();
        }
        assert!(Instant::now() < deadline, "{kind:?}: no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(10));
    };
    seen.push(format!("exit {code:?}"));
    let after = std::fs::read(dir.path().join("dump.rdb")).expect("dump.rdb after");
    assert!(after == before, "{kind:?}: dump.rdb changed by the SIGTERM");
    seen
}

#[test]
fn clients_during_the_startup_load_see_what_redis_clients_see() {
    let redis = while_loading(Kind::Redis);
    let ours = while_loading(Kind::Ferrokv);
    assert_eq!(ours, redis);
    assert!(
        ours[0].contains("LOADING Redis is loading the dataset in memory"),
        "{ours:?}"
    );
}
