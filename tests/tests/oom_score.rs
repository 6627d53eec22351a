//! oom-score-adj moves the process's /proc/<pid>/oom_score_adj with the role and
//! puts it back when turned off, as Redis's setOOMScoreAdj; its values are
//! validated with Redis's errors.

use ferrokv_tests::{show, Diff, Server};

fn score(pid: u32) -> i64 {
    std::fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .expect("oom_score_adj")
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn the_score_follows_the_role_and_is_restored() {
    if !std::path::Path::new("/proc/self/oom_score_adj").exists() {
        return; // not Linux
    }
    let s = Server::ferrokv(&[]);
    let pid = s.pid();
    let mut c = s.conn();
    let base = score(pid);
    assert_eq!(
        show(&c.cmd(&["CONFIG", "SET", "oom-score-adj-values", "10 20 30"])),
        "+OK"
    );
    assert_eq!(score(pid), base, "off: values alone change nothing");
    assert_eq!(show(&c.run("CONFIG SET oom-score-adj yes")), "+OK");
    assert_eq!(score(pid), base + 10);
    assert_eq!(
        show(&c.cmd(&["CONFIG", "SET", "oom-score-adj-values", "15 20 30"])),
        "+OK"
    );
    assert_eq!(score(pid), base + 15);
    // A replica uses the second value.
    assert_eq!(show(&c.run("REPLICAOF 127.0.0.1 1")), "+OK");
    assert_eq!(score(pid), base + 20);
    assert_eq!(show(&c.run("REPLICAOF NO ONE")), "+OK");
    assert_eq!(score(pid), base + 15);
    assert_eq!(show(&c.run("CONFIG SET oom-score-adj absolute")), "+OK");
    assert_eq!(score(pid), 15);
    assert_eq!(show(&c.run("CONFIG SET oom-score-adj no")), "+OK");
    assert_eq!(score(pid), base, "turned off: the original score is back");
}

#[test]
fn bad_values_get_redis_errors() {
    let mut d = Diff::new();
    d.script(
        r#"
        CONFIG SET oom-score-adj-values "-2001 -2001 -2001"
        CONFIG SET oom-score-adj-values "2001 0 0"
        CONFIG SET oom-score-adj-values "1 2"
        CONFIG SET oom-score-adj-values "1 2 3 4"
        CONFIG SET oom-score-adj-values "a b c"
        CONFIG SET oom-score-adj-values "+5 -0 7"
        CONFIG GET oom-score-adj-values
        CONFIG SET oom-score-adj maybe
        CONFIG GET oom-score-adj
        "#,
    );
}
