//! `cargo xtask bench`: criterion benches, or the server against redis-server.

use std::path::PathBuf;
use std::process::Command;

use crate::util::{cargo, root, run, target_dir, Result};

pub fn main(args: &[String]) -> Result {
    match args.split_first() {
        Some((first, rest)) if first == "compare" => compare(rest),
        Some((first, rest)) if first == "pubsub" => crate::pubsub_bench::main(rest),
        Some((first, rest)) if first == "scripting" => crate::script_bench::main(rest),
        Some((first, rest)) if first == "streams" => crate::streams_bench::main(rest),
        _ => run(cargo().args(["bench", "--workspace"]).args(args)),
    }
}

/// Where the shared comparison harness lives: beside the repository (`../shared`),
/// or inside a checkout that carries `shared/`.
fn compare_script() -> Option<PathBuf> {
    let root = root();
    [
        root.join("../shared/bench/compare.sh"),
        root.join("shared/bench/compare.sh"),
    ]
    .into_iter()
    .find(|p| p.is_file())
}

fn compare(args: &[String]) -> Result {
    let Some(script) = compare_script() else {
        eprintln!(
            "xtask: bench compare skipped: ../shared/bench/compare.sh not found next to {} \
             (it comes with the project's shared/ folder); `cargo xtask bench` runs the \
             criterion benches instead",
            root().display()
        );
        return Ok(());
    };
    run(cargo().args(["build", "--release", "-p", "ferrokv-server"]))?;
    let server = target_dir().join("release/ferrokv-server");
    let out = target_dir().join("bench-compare.md");
    run(Command::new("bash")
        .arg(&script)
        .arg("--candidate")
        // The reference runs with --save '' (compare.sh's default): so does the
        // candidate, or a save on shutdown would be loaded by the next "fresh" server
        // of the memory part and skew its figures.
        .arg(format!("{} --port {{port}} --save ''", server.display()))
        .arg("--out")
        .arg(&out)
        .args(args)
        .current_dir(root()))?;
    eprintln!("report: {}", out.display());
    Ok(())
}
