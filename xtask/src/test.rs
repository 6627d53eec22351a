//! `cargo xtask test`: everything CI runs, with the tools the tests need.

use std::process::Command;
use std::time::Instant;

use crate::util::{cargo, is_root, run, succeeds, Result};

pub fn main(extra: &[String]) -> Result {
    let steps: [(&str, &dyn Fn() -> Result<String>); 4] = [
        ("redis-server and redis-cli", &ensure_redis),
        ("python redis package", &ensure_python_redis),
        ("cargo build --workspace --bins", &|| {
            run(cargo().args(["build", "--workspace", "--bins"])).map(|()| "ok".into())
        }),
        ("cargo test --workspace", &|| {
            run(cargo().args(["test", "--workspace"]).args(extra)).map(|()| "ok".into())
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
    if failed {
        Err("test failed".into())
    } else {
        Ok(())
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

/// Some tests drive the server with redis-py; without it they are skipped, so a
/// missing pip is only a warning.
fn ensure_python_redis() -> Result<String> {
    let importable = || succeeds("python3", &["-c", "import redis"]);
    if importable() {
        return Ok("present".into());
    }
    let pip = |extra: &[&str]| {
        let mut cmd = Command::new("python3");
        cmd.args(["-m", "pip", "install", "--quiet", "redis"])
            .args(extra);
        run(&mut cmd).is_ok()
    };
    // Debian's python refuses pip installs into the system unless told (PEP 668).
    if (pip(&[]) || pip(&["--break-system-packages"])) && importable() {
        return Ok("installed with pip".into());
    }
    eprintln!("warning: python package `redis` is not importable and pip could not install it");
    Ok("WARNING: not available, tests that need it will skip".into())
}
