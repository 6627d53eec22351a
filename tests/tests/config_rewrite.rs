//! CONFIG REWRITE round trips on the sample redis.conf Debian ships (copied to a
//! temporary directory): the rewritten file keeps the user's comments and order,
//! loads back to the same values, changes only the lines whose values changed,
//! and rewriting again changes nothing.

use ferrokv_core::config::{file, rewrite, Config};

fn sample() -> Option<String> {
    let dir = tempfile::tempdir().ok()?;
    let copy = dir.path().join("redis.conf");
    std::fs::copy("/etc/redis/redis.conf", &copy).ok()?;
    std::fs::read_to_string(copy).ok()
}

fn values(cfg: &Config) -> Vec<(String, String)> {
    let mut v = Vec::new();
    cfg.get("*", &mut v);
    v.sort();
    v
}

fn loaded(text: &str) -> Config {
    let cfg = Config::default();
    file::apply(&cfg, text).expect("the file loads");
    cfg
}

#[test]
fn debian_redis_conf_round_trips() {
    let Some(original) = sample() else {
        eprintln!("/etc/redis/redis.conf not readable here: skipped");
        return;
    };
    let cfg = loaded(&original);
    let cwd = "/var/lib/redis";
    let new = rewrite::rewrite(&cfg, &original, false, cwd);
    // Every comment of the user's file is still there, in order.
    let comments = |t: &str| -> Vec<String> {
        t.lines()
            .filter(|l| l.trim_start().starts_with('#'))
            .map(|l| l.trim().to_string())
            .collect()
    };
    let before = comments(&original);
    let after = comments(&new);
    let mut it = after.iter();
    for c in &before {
        assert!(it.any(|a| a == c), "comment lost or moved: {c}");
    }
    // Loads back to the same values.
    let again = loaded(&new);
    assert_eq!(values(&again), values(&cfg));
    // Nothing changed: a second rewrite is the same text.
    assert_eq!(rewrite::rewrite(&again, &new, false, cwd), new);

    // Changed values take their line's place; new ones go after the signature.
    cfg.set("hz", "20", false).expect("valid");
    cfg.set("maxmemory", "100mb", false).expect("valid");
    cfg.set("client-output-buffer-limit", "pubsub 64mb 16mb 90", false)
        .expect("valid");
    let changed = rewrite::rewrite(&cfg, &new, false, cwd);
    let index = |t: &str, line: &str| t.lines().position(|l| l == line);
    assert_eq!(index(&changed, "hz 20"), index(&new, "hz 10"));
    assert_eq!(
        index(&changed, "client-output-buffer-limit pubsub 64mb 16mb 90"),
        index(&new, "client-output-buffer-limit pubsub 32mb 8mb 60")
    );
    let signature = index(&changed, rewrite::SIGNATURE).expect("a signature");
    assert!(index(&changed, "maxmemory 100mb").expect("appended") > signature);
    assert_eq!(values(&loaded(&changed)), values(&cfg));
    // Only those lines differ.
    let differing = changed
        .lines()
        .zip(new.lines())
        .filter(|(a, b)| a != b)
        .count();
    assert_eq!(differing, 2, "{changed}");
}
