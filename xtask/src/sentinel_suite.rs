//! `cargo xtask redis-suite --sentinel`: Redis 7.0.15's Sentinel test suite
//! (`tests/sentinel`, run by its own `runtest-sentinel`) with every monitored
//! instance a release `ferrokv-server` and the Sentinels Debian's
//! `redis-sentinel` (ferrokv has no Sentinel mode: it is managed by Sentinel, as
//! issue 21 asks). The suite's tree is taken from the Redis source at tag 7.0.15
//! into `target/sentinel-suite`, its `src/` holding the binaries it starts; it
//! passes when the harness ends with "GOOD! No errors.".

use std::path::Path;
use std::process::Command;

use crate::util::{run, target_dir, Result};

/// Extracts the suite and runs it with `server` as redis-server.
pub fn run_suite(git_dir: &Path, server: &Path) -> Result {
    let dir = target_dir().join("sentinel-suite");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("src")).map_err(|e| e.to_string())?;
    let archive = format!(
        "git --git-dir '{}' archive 7.0.15 tests runtest-sentinel | tar -x -C '{}'",
        git_dir.display(),
        dir.display()
    );
    run(Command::new("bash").args(["-c", &archive]))?;
    let sentinel = which("redis-sentinel").or_else(|| which("redis-server"));
    let (Some(sentinel), Some(cli)) = (sentinel, which("redis-cli")) else {
        return Err("the Sentinel suite needs redis-sentinel and redis-cli \
                    (Debian: apt-get install redis-sentinel redis-tools)"
            .into());
    };
    let src = dir.join("src");
    std::os::unix::fs::symlink(server, src.join("redis-server")).map_err(|e| e.to_string())?;
    std::os::unix::fs::symlink(&cli, src.join("redis-cli")).map_err(|e| e.to_string())?;
    // Debian's redis-sentinel is redis-server under another name: it starts in
    // Sentinel mode by its name, and --sentinel makes that explicit either way.
    let wrapper = format!(
        "#!/bin/sh\nexec '{}' \"$@\" --sentinel\n",
        sentinel.display()
    );
    let path = src.join("redis-sentinel");
    std::fs::write(&path, wrapper).map_err(|e| e.to_string())?;
    run(Command::new("chmod").arg("+x").arg(&path))?;
    let out = Command::new("./runtest-sentinel")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("cannot run runtest-sentinel: {e}"))?;
    let text = String::from_utf8_lossy(&out.stdout);
    print!("{text}");
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    if out.status.success() && text.contains("GOOD! No errors.") {
        let passed = text
            .lines()
            .filter(|l| strip_colors(l).ends_with(": OK"))
            .count();
        eprintln!("Sentinel suite: {passed} tests passed, no errors");
        Ok(())
    } else {
        Err("the Sentinel suite reported errors (above)".into())
    }
}

/// The full path of `name` on PATH.
fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// `line` without its terminal color sequences (ESC [ ... m).
fn strip_colors(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut in_seq = false;
    for c in line.chars() {
        match (in_seq, c) {
            (false, '\u{1b}') => in_seq = true,
            (false, c) => out.push(c),
            (true, 'm') => in_seq = false,
            (true, _) => {}
        }
    }
    out
}
