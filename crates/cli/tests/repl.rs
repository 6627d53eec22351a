//! The REPL, driven through a pseudo-terminal (tmux): ferrokv-cli and redis-cli get
//! the same keystrokes and must leave the same screen.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{RedisServer, FERROKV_CLI};

/// A tmux session on a private server socket, killed on drop.
struct Tmux {
    socket: String,
}

fn have_tmux() -> bool {
    Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success())
}

impl Tmux {
    fn start(command: &str, home: &std::path::Path, env: &[(&str, &str)]) -> Tmux {
        let socket = format!(
            "ferrokv-cli-test-{}-{}",
            std::process::id(),
            common::free_port()
        );
        let mut shell = format!("cd {} && HOME={} ", home.display(), home.display());
        for (k, v) in env {
            shell.push_str(&format!("{k}={v} "));
        }
        shell.push_str(command);
        shell.push_str("; echo EXIT=$?; sleep 60");
        let ok = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "-f",
                "/dev/null",
                "new-session",
                "-d",
                "-x",
                "160",
                "-y",
                "80",
                &shell,
            ])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux new-session failed");
        Tmux { socket }
    }

    fn capture(&self) -> String {
        let out = Command::new("tmux")
            .args(["-L", &self.socket, "capture-pane", "-p", "-S", "-500"])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).trim_end().to_string()
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["-L", &self.socket, "send-keys"];
        args.extend_from_slice(keys);
        let _ = Command::new("tmux").args(&args).status();
    }

    /// Waits until the screen satisfies `done`.
    fn wait_for(&self, what: &str, done: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let screen = self.capture();
            if done(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

fn prompts(screen: &str) -> usize {
    screen
        .lines()
        .filter(|l| l.starts_with("127.0.0.1:") || l.starts_with("not connected>"))
        .count()
}

/// Types each line, waiting for the next prompt, then Ctrl-D; returns the screen.
fn session(cli: &str, port: u16, lines: &[&str], home: &std::path::Path) -> String {
    let t = Tmux::start(&format!("{cli} -p {port}"), home, &[]);
    t.wait_for("the first prompt", |s| prompts(s) >= 1);
    for (n, line) in lines.iter().enumerate() {
        t.keys(&["-l", line]);
        t.keys(&["Enter"]);
        t.wait_for(line, |s| prompts(s) >= n + 2);
    }
    t.keys(&["C-d"]);
    t.wait_for("exit", |s| s.contains("EXIT="))
}

#[test]
fn repl_matches_redis_cli() {
    if !have_tmux() {
        eprintln!("tmux is not installed; skipping");
        return;
    }
    let server = RedisServer::start();
    server.cli(&["rpush", "list", "a", "b"]);
    server.cli(&["hset", "hash", "f", "v"]);
    let lines = [
        "ping",
        "get nokey",
        "set k \"a b\\x41\"",
        "get k",
        "set q 'it\\'s'",
        "get q",
        "set bad \"unbalanced",
        "lrange list 0 -1",
        "lrange nokey 0 -1",
        "3 incr n",
        "foo",
        "select 2",
        "multi",
        "ping",
        "exec",
        "select 0",
        "debug protocol map",
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let want = session("redis-cli", server.port, &lines, dir.path());
    server.cli(&["flushall"]);
    server.cli(&["rpush", "list", "a", "b"]);
    server.cli(&["hset", "hash", "f", "v"]);
    let got = session(FERROKV_CLI, server.port, &lines, dir.path());
    assert_eq!(got, want);
}

#[test]
fn repl_resp3_and_help() {
    if !have_tmux() {
        return;
    }
    let server = RedisServer::start();
    server.cli(&["hset", "hash", "f", "v", "g", "w"]);
    let lines = [
        "hello 3",
        "hgetall hash",
        "debug protocol double",
        "help get",
        "help @hash",
        "command docs get",
    ];
    let dir = tempfile::tempdir().expect("temp dir");
    let want = session("redis-cli", server.port, &lines, dir.path());
    let got = session(FERROKV_CLI, server.port, &lines, dir.path());
    // The first line of the banner-free output is identical except for the HELLO id.
    let strip = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("\"id\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(strip(&got), strip(&want));
}

#[test]
fn repl_history_file_and_reconnect() {
    if !have_tmux() {
        return;
    }
    let mut server = RedisServer::start();
    let port = server.port;
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Tmux::start(&format!("{FERROKV_CLI} -p {port}"), dir.path(), &[]);
    t.wait_for("prompt", |s| prompts(s) >= 1);
    t.keys(&["-l", "set hist 1"]);
    t.keys(&["Enter"]);
    t.wait_for("OK", |s| prompts(s) >= 2);
    t.keys(&["-l", "auth secret"]);
    t.keys(&["Enter"]);
    t.wait_for("auth reply", |s| prompts(s) >= 3);
    // The server goes away: the next command reports it, then the prompt says so.
    drop(server);
    t.keys(&["-l", "ping"]);
    t.keys(&["Enter"]);
    let screen = t.wait_for("not connected", |s| s.contains("not connected>"));
    assert!(
        screen.contains("Error: Server closed the connection"),
        "{screen}"
    );
    // A new server on the same port: the next command reconnects.
    server = RedisServer::start_on(port);
    t.keys(&["-l", "ping"]);
    t.keys(&["Enter"]);
    t.wait_for("PONG", |s| s.contains("PONG"));
    t.keys(&["C-c"]);
    t.wait_for("exit", |s| s.contains("EXIT=0"));
    let history =
        std::fs::read_to_string(dir.path().join(".ferrokvcli_history")).expect("history file");
    assert!(history.contains("set hist 1"), "{history}");
    assert!(!history.contains("auth secret"), "{history}");
    drop(server);
}

#[test]
fn repl_cluster_redirect_matches_redis_cli() {
    if !have_tmux() {
        return;
    }
    let nodes = common::cluster();
    nodes[0].cli(&["-c", "set", "foo", "v"]);
    let dir = tempfile::tempdir().expect("temp dir");
    let lines = ["get foo", "get a", "set b x"];
    let run = |cli: &str| {
        let t = Tmux::start(&format!("{cli} -c -p {}", nodes[0].port), dir.path(), &[]);
        t.wait_for("prompt", |s| prompts(s) >= 1);
        for (n, line) in lines.iter().enumerate() {
            t.keys(&["-l", line]);
            t.keys(&["Enter"]);
            t.wait_for(line, |s| prompts(s) >= n + 2);
        }
        t.keys(&["C-d"]);
        t.wait_for("exit", |s| s.contains("EXIT="))
    };
    let want = run("redis-cli");
    let got = run(FERROKV_CLI);
    assert!(want.contains("-> Redirected to slot"), "{want}");
    assert_eq!(got, want);
}

#[test]
fn repl_ctrl_c_during_a_blocking_command_exits_1() {
    if !have_tmux() {
        return;
    }
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let t = Tmux::start(
        &format!("{FERROKV_CLI} -p {}", server.port),
        dir.path(),
        &[],
    );
    t.wait_for("prompt", |s| prompts(s) >= 1);
    t.keys(&["-l", "blpop nothing 0"]);
    t.keys(&["Enter"]);
    // The command is running once the server counts a blocked client.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !String::from_utf8_lossy(&server.cli(&["info", "clients"]).stdout)
        .contains("blocked_clients:1")
    {
        assert!(Instant::now() < deadline, "BLPOP never blocked");
        std::thread::sleep(Duration::from_millis(20));
    }
    t.keys(&["C-c"]);
    t.wait_for("exit", |s| s.contains("EXIT=1"));
}

#[test]
fn repl_resp3_invalidation_pushes_match_redis_cli() {
    if !have_tmux() {
        return;
    }
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let run = |cli: &str| {
        server.cli(&["flushall"]);
        let t = Tmux::start(&format!("{cli} -3 -p {}", server.port), dir.path(), &[]);
        t.wait_for("prompt", |s| prompts(s) >= 1);
        let lines = [
            "client tracking on",
            "mget t1 t2",
            "ping",
            "mget t1",
            "ping",
        ];
        for (n, line) in lines.iter().enumerate() {
            // Another client changes tracked keys before the pings.
            if n == 2 {
                server.cli(&["mset", "t1", "1", "t2", "2"]);
            }
            if n == 4 {
                server.cli(&["flushall"]);
            }
            t.keys(&["-l", line]);
            t.keys(&["Enter"]);
            t.wait_for(line, |s| prompts(s) >= n + 2);
        }
        t.keys(&["C-d"]);
        t.wait_for("exit", |s| s.contains("EXIT="))
    };
    let want = run("redis-cli");
    let got = run(FERROKV_CLI);
    assert!(want.contains("-> invalidate: 't1'"), "{want}");
    assert_eq!(got, want);
}
