//! The log: loglevel changed at run time (CONFIG SET) seen in the log file,
//! logfile and syslog-* immutable as in Redis 7.0, syslog datagrams on a local
//! socket.

use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{Conn, Server};

fn lua_log(c: &mut Conn, level: &str, text: &str) {
    let script = format!("redis.log(redis.{level}, '{text}')");
    assert_eq!(c.cmd(&["EVAL", &script, "0"]), Frame::NullBulk);
}

/// Waits until the log file has a line ending with `text`; returns that line.
fn wait_line(path: &std::path::Path, text: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let log = std::fs::read_to_string(path).unwrap_or_default();
        if let Some(l) = log.lines().find(|l| l.ends_with(text)) {
            return l.to_string();
        }
        assert!(Instant::now() < deadline, "no line {text:?} in:\n{log}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn loglevel_changes_at_run_time() {
    let logs = tempfile::tempdir().expect("temp dir");
    let path = logs.path().join("ferrokv.log");
    let file = path.to_string_lossy().into_owned();
    let s = Server::ferrokv(&["--logfile", &file, "--loglevel", "notice"]);
    let mut c = s.conn();
    wait_line(&path, "Ready to accept connections");

    lua_log(&mut c, "LOG_VERBOSE", "hidden-verbose-1");
    lua_log(&mut c, "LOG_NOTICE", "shown-notice-1");
    let line = wait_line(&path, "shown-notice-1");
    // pid:M dd Mon yyyy hh:mm:ss.mmm * message
    let parts: Vec<&str> = line.splitn(7, ' ').collect();
    assert!(parts[0].ends_with(":M"), "{line}");
    assert_eq!(parts[5], "*", "{line}");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "loglevel", "verbose"]),
        Frame::Simple("OK".into())
    );
    lua_log(&mut c, "LOG_DEBUG", "hidden-debug-2");
    lua_log(&mut c, "LOG_VERBOSE", "shown-verbose-2");
    let line = wait_line(&path, "shown-verbose-2");
    assert!(line.contains(" - shown-verbose-2"), "{line}");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "loglevel", "debug"]),
        Frame::Simple("OK".into())
    );
    lua_log(&mut c, "LOG_DEBUG", "shown-debug-3");
    let line = wait_line(&path, "shown-debug-3");
    assert!(line.contains(" . shown-debug-3"), "{line}");

    assert_eq!(
        c.cmd(&["CONFIG", "SET", "loglevel", "warning"]),
        Frame::Simple("OK".into())
    );
    lua_log(&mut c, "LOG_NOTICE", "hidden-notice-4");
    lua_log(&mut c, "LOG_WARNING", "shown-warning-4");
    let line = wait_line(&path, "shown-warning-4");
    assert!(line.contains(" # shown-warning-4"), "{line}");

    let log = std::fs::read_to_string(&path).expect("log file");
    for hidden in ["hidden-verbose-1", "hidden-debug-2", "hidden-notice-4"] {
        assert!(!log.contains(hidden), "{hidden} was logged:\n{log}");
    }
    // A rotated-away file is created again at the next line (opened per line).
    std::fs::remove_file(&path).expect("remove log");
    lua_log(&mut c, "LOG_WARNING", "after-rotation");
    wait_line(&path, "after-rotation");
}

#[test]
fn log_targets_are_immutable_as_in_redis() {
    let s = Server::ferrokv(&[]);
    let mut c = s.conn();
    for (name, value) in [
        ("logfile", "/tmp/elsewhere.log"),
        ("syslog-enabled", "yes"),
        ("syslog-ident", "x"),
        ("syslog-facility", "local1"),
    ] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", name, value]),
            Frame::Error(
                format!(
                    "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set immutable config"
                )
                .into()
            )
        );
    }
    // logfile "" is stdout: the harness reads the server's stdout.
    assert!(s.log().contains("Ready to accept connections"));
    let bad = ferrokv_tests::show(&c.cmd(&["CONFIG", "SET", "loglevel", "loud"]));
    assert!(bad.contains("argument 'loglevel'"), "{bad}");
}

#[test]
fn syslog_datagrams() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).expect("bind a datagram socket");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    // Inherited by the server started below (only syslog-enabled servers read it).
    std::env::set_var("FERROKV_SYSLOG_SOCKET", &sock_path);
    let s = Server::ferrokv(&[
        "--syslog-enabled",
        "yes",
        "--syslog-ident",
        "ferrotest",
        "--syslog-facility",
        "local3",
    ]);
    let mut c = s.conn();
    lua_log(&mut c, "LOG_WARNING", "syslog-warning-line");
    let mut got = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut buf = [0u8; 4096];
    while !got
        .iter()
        .any(|l: &String| l.ends_with("syslog-warning-line"))
    {
        assert!(Instant::now() < deadline, "datagrams so far: {got:?}");
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    let pid = s.pid();
    // local3 is facility 19: notice 19*8+5, warning 19*8+4.
    let ready = got
        .iter()
        .find(|l| l.ends_with("Ready to accept connections"))
        .unwrap_or_else(|| panic!("no Ready line in {got:?}"));
    assert!(ready.starts_with("<157>"), "{ready}");
    assert!(
        ready.contains(&format!(" ferrotest[{pid}]: Ready to accept connections")),
        "{ready}"
    );
    let warn = got
        .iter()
        .find(|l| l.ends_with("syslog-warning-line"))
        .expect("the warning");
    assert!(warn.starts_with("<156>"), "{warn}");
    // <PRI>Mmm dd hh:mm:ss ident[pid]: message
    let stamp = &warn[5..20];
    assert_eq!(stamp.as_bytes()[3], b' ', "{warn}");
    assert_eq!(&stamp[9..10], ":", "{warn}");
    // The log file (stdout here) still gets every line.
    assert!(s.log().contains("syslog-warning-line"));
}
