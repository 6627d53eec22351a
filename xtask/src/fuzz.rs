//! `cargo xtask fuzz [--seconds N]`: every cargo-fuzz target for a bounded time.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{cargo, root, run, succeeds, target_dir, Result};

pub fn main(args: &[String]) -> Result {
    let seconds = match args {
        [] => 60,
        [flag, n] if flag == "--seconds" => n
            .parse()
            .map_err(|_| format!("--seconds wants a number, got {n:?}"))?,
        _ => {
            return Err(format!(
                "usage: cargo xtask fuzz [--seconds N], got {args:?}"
            ))
        }
    };
    if !succeeds("cargo", &["fuzz", "--version"]) {
        run(cargo().args(["install", "cargo-fuzz", "--locked"]))?;
    }
    let crates = fuzzed_crates()?;
    if crates.is_empty() {
        return Err("no crates/*/fuzz directories found".into());
    }
    let mut ran = Vec::new();
    for dir in crates {
        for target in targets(&dir)? {
            // The working corpus first (new inputs go there, ignored by git),
            // then the committed seeds and crash regressions, replayed first.
            let fuzz = dir.join("fuzz");
            let corpus = fuzz.join("corpus").join(&target);
            std::fs::create_dir_all(&corpus).map_err(|e| format!("{}: {e}", corpus.display()))?;
            let mut cmd = fuzz_command(&dir);
            // One build folder for every fuzz crate: they share most of their
            // (sanitizer-built) dependencies.
            let build = target_dir().join("fuzz");
            cmd.args(["run", "-O", "--target-dir"])
                .arg(&build)
                .arg(&target)
                .arg(&corpus);
            for extra in ["seeds", "regressions"] {
                let d = fuzz.join(extra).join(&target);
                if d.is_dir() {
                    cmd.arg(d);
                }
            }
            cmd.args(["--", &format!("-max_total_time={seconds}")]);
            run(&mut cmd)?;
            ran.push(format!("{}: {target}", dir.display()));
        }
    }
    eprintln!("\nfuzzed for {seconds}s each, no crash:");
    for r in ran {
        eprintln!("  {r}");
    }
    Ok(())
}

/// Crates with a `fuzz/` directory holding a cargo-fuzz project.
fn fuzzed_crates() -> Result<Vec<PathBuf>> {
    let crates = root().join("crates");
    let entries = std::fs::read_dir(&crates).map_err(|e| format!("{}: {e}", crates.display()))?;
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("fuzz/Cargo.toml").is_file())
        .collect();
    dirs.sort();
    Ok(dirs)
}

/// `cargo fuzz` run from a crate directory. cargo-fuzz needs nightly rustc flags:
/// use a nightly toolchain when rustup has one, else let stable accept them
/// (RUSTC_BOOTSTRAP=1). AddressSanitizer (cargo-fuzz's default `-s address`)
/// builds and runs that way on stable too: no `-s none` fallback is needed.
fn fuzz_command(crate_dir: &Path) -> Command {
    let mut cmd = Command::new("cargo");
    let has_nightly = Command::new("rustup")
        .args(["toolchain", "list"])
        .output()
        .is_ok_and(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.starts_with("nightly"))
        });
    if has_nightly {
        cmd.arg("+nightly");
    } else {
        cmd.env("RUSTC_BOOTSTRAP", "1");
    }
    cmd.arg("fuzz").current_dir(crate_dir);
    cmd
}

fn targets(crate_dir: &Path) -> Result<Vec<String>> {
    let out = fuzz_command(crate_dir)
        .arg("list")
        .output()
        .map_err(|e| format!("cargo fuzz list in {}: {e}", crate_dir.display()))?;
    if !out.status.success() {
        return Err(format!(
            "cargo fuzz list in {} failed: {}",
            crate_dir.display(),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}
