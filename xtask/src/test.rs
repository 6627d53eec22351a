//! `cargo xtask test`: everything CI runs, with the tools the tests need.

use std::process::Command;
use std::time::Instant;

use crate::util::{cargo, is_root, run, succeeds, Result};

pub fn main(extra: &[String]) -> Result {
    let steps: [(&str, &dyn Fn() -> Result<String>); 6] = [
        ("redis-server and redis-cli", &ensure_redis),
        (
            "tmux (the CLI's REPL tests drive a pseudo-terminal with it)",
            &ensure_tmux,
        ),
        ("python redis and rq packages", &ensure_python_redis),
        ("node bullmq package (in target/node)", &ensure_bullmq),
        ("cargo build --workspace --bins", &|| {
            run(cargo().args(["build", "--workspace", "--bins"])).map(|()| "ok".into())
        }),
        ("cargo test --workspace", &|| {
            run_counting(
                cargo()
                    .args(["test", "--workspace", "--no-fail-fast"])
                    .args(extra),
            )
        }),
    ];
    let mut summary = Vec::new();
    let mut failed = false;
    for (name, step) in steps {
        if failed {
            summary.push(format!("  skipped {name}"));
            continue;
        }
        eprintln!("\n== {name}");
        let started = Instant::now();
        let secs = || started.elapsed().as_secs_f64();
        match step() {
            Ok(note) => summary.push(format!("  ok      {name}: {note} ({:.0}s)", secs())),
            Err(e) => {
                failed = true;
                summary.push(format!("  FAILED  {name}: {e} ({:.0}s)", secs()));
            }
        }
    }
    eprintln!("\n== summary");
    for line in &summary {
        eprintln!("{line}");
    }
    // One plain closing line with the totals, so that whoever reads the end of the
    // log sees what ran (cargo's last line is often an empty doc-test run).
    let (passed, failed_tests, ignored) = totals();
    println!("{passed} passed, {failed_tests} failed, {ignored} skipped");
    if failed {
        Err("test failed".into())
    } else {
        Ok(())
    }
}

static TOTALS: std::sync::Mutex<(u64, u64, u64)> = std::sync::Mutex::new((0, 0, 0));

fn totals() -> (u64, u64, u64) {
    TOTALS.lock().map(|t| *t).unwrap_or((0, 0, 0))
}

/// Runs `cargo test`, passing its output through and adding up the
/// `test result:` lines.
fn run_counting(cmd: &mut Command) -> Result<String> {
    use std::io::{BufRead, BufReader, Write};
    eprintln!("$ cargo test --workspace");
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run cargo test: {e}"))?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut out = std::io::stdout();
    for line in BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
    {
        let _ = writeln!(out, "{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let num = |word: &str| -> u64 {
                rest.split(';')
                    .find(|p| p.trim_end().ends_with(word))
                    .and_then(|p| {
                        p.split_whitespace()
                            .rev()
                            .nth(1)
                            .and_then(|n| n.parse().ok())
                    })
                    .unwrap_or(0)
            };
            if let Ok(mut t) = TOTALS.lock() {
                t.0 += num("passed");
                t.1 += num("failed");
                t.2 += num("ignored");
            }
        }
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let (p, f, _) = totals();
    if status.success() {
        Ok(format!("{p} passed, {f} failed"))
    } else {
        Err(format!(
            "cargo test failed ({status}); {p} passed, {f} failed"
        ))
    }
}

/// The integration tests start real redis-server processes and use redis-cli.
fn ensure_redis() -> Result<String> {
    let present =
        || succeeds("redis-server", &["--version"]) && succeeds("redis-cli", &["--version"]);
    if present() {
        return Ok("present".into());
    }
    if !is_root() {
        return Err(
            "redis-server/redis-cli not found; install them (Debian/Ubuntu: \
                    apt-get install redis-server redis-tools) or run as root"
                .into(),
        );
    }
    run(Command::new("apt-get").arg("update"))?;
    run(Command::new("apt-get").args(["install", "-y", "redis-server", "redis-tools"]))?;
    if present() {
        Ok("installed with apt-get".into())
    } else {
        Err("apt-get ran but redis-server/redis-cli are still missing".into())
    }
}

/// ferrokv-cli's REPL tests run the CLI inside tmux.
fn ensure_tmux() -> Result<String> {
    if succeeds("tmux", &["-V"]) {
        return Ok("present".into());
    }
    if !is_root() {
        return Err("tmux not found; install it (apt-get install tmux) or run as root".into());
    }
    run(Command::new("apt-get").args(["install", "-y", "tmux"])).or_else(|_| {
        run(Command::new("apt-get").arg("update"))?;
        run(Command::new("apt-get").args(["install", "-y", "tmux"]))
    })?;
    if succeeds("tmux", &["-V"]) {
        Ok("installed with apt-get".into())
    } else {
        Err("apt-get ran but tmux is still missing".into())
    }
}

/// Some tests drive the server with redis-py; without it they are skipped, so a
/// missing pip is only a warning.
fn ensure_python_redis() -> Result<String> {
    let importable = || succeeds("python3", &["-c", "import redis, rq"]);
    if importable() {
        return Ok("present".into());
    }
    let pip = |extra: &[&str]| {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "install", "--quiet", "redis", "rq"])
            .args(extra);
        run(&mut cmd).is_ok()
    };
    // Debian's python refuses pip installs into the system unless told (PEP 668).
    if (pip(&[]) || pip(&["--break-system-packages"])) && importable() {
        return Ok("installed with pip".into());
    }
    eprintln!(
        "warning: python packages `redis`/`rq` are not importable and pip could not install them"
    );
    Ok("WARNING: not available, tests that need it will skip".into())
}

/// The job queue test drives ferrokv with BullMQ (Lua scripts that build their
/// key names, blocking commands, streams): installed with npm into target/node.
/// Without node/npm the test is skipped (loudly), so this is only a warning.
fn ensure_bullmq() -> Result<String> {
    let dir = crate::util::target_dir().join("node");
    if dir.join("node_modules/bullmq/package.json").exists() {
        return Ok("present".into());
    }
    if !succeeds("npm", &["--version"]) {
        eprintln!("warning: npm is missing; the BullMQ test will skip");
        return Ok("WARNING: npm not available, the BullMQ test will skip".into());
    }
    let _ = std::fs::create_dir_all(&dir);
    let prefix = dir.to_string_lossy().into_owned();
    let ok = run(Command::new("npm").args([
        "install",
        "--prefix",
        &prefix,
        "--silent",
        "--no-audit",
        "--no-fund",
        "bullmq@5",
    ]))
    .is_ok();
    if ok && dir.join("node_modules/bullmq/package.json").exists() {
        Ok("installed with npm".into())
    } else {
        eprintln!("warning: npm could not install bullmq; the BullMQ test will skip");
        Ok("WARNING: not available, the BullMQ test will skip".into())
    }
}
