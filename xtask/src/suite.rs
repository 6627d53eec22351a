//! `cargo xtask redis-suite [--spawn | --sentinel] [--only a,b]`: Redis 7.0.15's
//! own Tcl test suite against the release build, through the shared runner
//! (`shared/redis-suite/run.sh`), scored against redis-server's results.
//!
//! With `--spawn` the harness starts `ferrokv-server` itself as it starts
//! `src/redis-server` (every test: restarts, DEBUG, custom configs); without it
//! xtask starts one server and the runner uses external mode (the `core` profile).
//! The suite is not part of CI: it needs the Redis source (a git mirror of
//! github.com/redis/redis), which CI cannot fetch.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::util::{cargo, root, run, target_dir, Result};

/// The runner: `shared/redis-suite/run.sh` in the first folder above the checkout
/// that has it (`../shared` for /work/main, `../../shared` for a worktree), or
/// `REDIS_SUITE_DIR`.
fn runner_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("REDIS_SUITE_DIR") {
        return Some(PathBuf::from(d));
    }
    root()
        .ancestors()
        .map(|d| d.join("shared/redis-suite"))
        .find(|d| d.join("run.sh").is_file())
}

/// A git directory holding Redis's history with tag 7.0.15: `REDIS_GIT_DIR`, or
/// `.mirror/redis+redis/repo` in a folder above the runner or the checkout (where
/// the search tool's `fetch github:redis/redis` puts it).
fn redis_git_dir(runner: &Path) -> Option<PathBuf> {
    let has_tag = |d: &Path| {
        Command::new("git")
            .arg("--git-dir")
            .arg(d)
            .args(["rev-parse", "-q", "--verify", "7.0.15^{commit}"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    };
    if let Some(d) = std::env::var_os("REDIS_GIT_DIR") {
        let d = PathBuf::from(d);
        return has_tag(&d).then_some(d);
    }
    runner
        .ancestors()
        .chain(root().ancestors())
        .map(|d| d.join(".mirror/redis+redis/repo"))
        .find(|d| d.is_dir() && has_tag(d))
}

const HOW_TO_FETCH: &str =
    "the Redis source (tag 7.0.15) is needed to extract its tests, and none was found.
Get it with one of:
  - the search tool: `fetch github:redis/redis` (it lands in .mirror/redis+redis/repo
    in a folder above this checkout, where the runner looks for it);
  - git clone --mirror https://github.com/redis/redis <dir>, then
    REDIS_GIT_DIR=<dir> cargo xtask redis-suite ...
It also needs tclsh and redis-cli (Debian: apt-get install tcl redis-tools) and, to
score, the baselines beside run.sh.";

fn usage() -> &'static str {
    "usage: cargo xtask redis-suite [--spawn | --sentinel] [--only unit/a,integration/b] [--json FILE]"
}

pub fn main(args: &[String]) -> Result {
    let mut spawn = false;
    let mut sentinel = false;
    let mut only: Option<String> = None;
    let mut json: Option<PathBuf> = None;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "--spawn" => spawn = true,
            "--sentinel" => sentinel = true,
            "--only" => {
                only = Some(args.get(i + 1).ok_or(usage())?.clone());
                i += 1;
            }
            "--json" => {
                json = Some(PathBuf::from(args.get(i + 1).ok_or(usage())?));
                i += 1;
            }
            _ => return Err(usage().into()),
        }
        i += 1;
    }
    let Some(runner) = runner_dir() else {
        return Err(format!(
            "shared/redis-suite/run.sh not found above {} (set REDIS_SUITE_DIR to its folder)",
            root().display()
        ));
    };
    let Some(git_dir) = redis_git_dir(&runner) else {
        return Err(HOW_TO_FETCH.into());
    };
    run(cargo().args(["build", "--release", "-p", "ferrokv-server"]))?;
    let server = target_dir().join("release/ferrokv-server");
    if sentinel {
        return crate::sentinel_suite::run_suite(&git_dir, &server);
    }
    let json = json.unwrap_or_else(|| {
        target_dir().join(if spawn {
            "redis-suite-spawn.json"
        } else {
            "redis-suite.json"
        })
    });
    let script = runner.join("run.sh");
    let mut cmd = Command::new("bash");
    cmd.arg(&script).env("REDIS_GIT_DIR", &git_dir);
    let mut external: Option<std::process::Child> = None;
    if spawn {
        cmd.arg("--spawn").arg(&server);
    } else {
        let port = free_port()?;
        let child = Command::new(&server)
            .args(["--port", &port.to_string(), "--save", ""])
            .args(["--enable-debug-command", "yes"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start {}: {e}", server.display()))?;
        external = Some(child);
        wait_listening(port)?;
        cmd.args(["127.0.0.1", &port.to_string()]);
    }
    if let Some(o) = &only {
        cmd.args(["--only", o]);
    }
    cmd.arg("--json").arg(&json);
    let result = run(&mut cmd);
    if let Some(mut child) = external {
        let _ = child.kill();
        let _ = child.wait();
    }
    result?;
    let baseline = runner.join(if spawn {
        "baseline-spawn.json"
    } else {
        "baseline-core.json"
    });
    let mut score = Command::new("bash");
    score.arg(&script).arg("--score").arg(&json).arg(&baseline);
    if let Some(o) = &only {
        score.args(["--only", o]);
    }
    run(&mut score)?;
    eprintln!("results: {}", json.display());
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

/// Polls until the server accepts connections (deadline 30 s).
fn wait_listening(port: u16) -> Result {
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Err(format!("ferrokv-server did not listen on port {port}"))
}
