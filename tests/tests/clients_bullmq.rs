//! BullMQ (Node), the job queue whose every operation is a Lua script that builds
//! its key names, with blocking commands and streams: a producer/worker workload
//! against ferrokv and against redis-server, which must end the same way (every job
//! done once, the failing ones retried once, the delayed one still delayed).
//! `cargo xtask test` installs bullmq into target/node; without it the test skips.

use ferrokv_tests::{workspace_root, Server};

fn run(server: &Server, module_dir: &std::path::Path) -> String {
    let script = workspace_root().join("tests/js/bullmq_queue.mjs");
    // Node resolves `bullmq` from the script's directory upwards, so the script is
    // run from a copy next to the installed modules.
    let copy = module_dir.join("bullmq_queue.mjs");
    std::fs::copy(&script, &copy).expect("copy the workload");
    let out = std::process::Command::new("node")
        .arg(&copy)
        .arg(server.port.to_string())
        .arg("300")
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "bullmq workload failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines().last().unwrap_or_default().to_string()
}

/// The result line without its timing.
fn outcome(line: &str) -> String {
    match line.rfind(",\"ms\"") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

#[test]
fn bullmq_jobs_are_each_done_once_as_on_redis() {
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target"));
    let node = target.join("node");
    if !node.join("node_modules/bullmq/package.json").exists() {
        eprintln!(
            "SKIPPED: bullmq is not installed in {} (cargo xtask test installs it)",
            node.display()
        );
        return;
    }
    let ours = Server::ferrokv(&[]);
    let theirs = Server::redis(&[]);
    let a = run(&ours, &node);
    let b = run(&theirs, &node);
    assert_eq!(outcome(&a), outcome(&b));
    assert!(
        outcome(&a).starts_with("{\"done\":300,\"once\":300,\"retried\":6,"),
        "{a}"
    );
}
