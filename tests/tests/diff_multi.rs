//! Differential tests: MULTI / EXEC / DISCARD / WATCH / UNWATCH against a real
//! redis-server 7.0.

use std::time::Duration;

use ferrokv_tests::{Diff, Server};

#[test]
fn queued_commands_run_in_order_with_their_own_replies() {
    let mut d = Diff::new();
    for proto in ["2", "3"] {
        d.ours.run(&format!("HELLO {proto}"));
        d.theirs.run(&format!("HELLO {proto}"));
        d.script(
            "
            FLUSHALL
            MULTI
            SET a 1
            INCR a
            GET a
            LPUSH l x y
            LRANGE l 0 -1
            INCR l
            HSET h f v
            ZADD z 1 m
            ZSCORE z m
            EXISTS a l h z nx
            EXEC
            GET a
            MULTI
            EXEC
            MULTI
            PING
            ECHO hi
            DISCARD
            GET a
            ",
        );
    }
}

#[test]
fn errors_around_and_inside_a_transaction() {
    let mut d = Diff::new();
    d.script(
        "
        EXEC
        DISCARD
        MULTI
        MULTI
        WATCH a
        SET a 1
        EXEC
        GET a
        MULTI
        SET a 2
        NOSUCHCOMMAND x
        SET a 3
        EXEC
        GET a
        MULTI
        SET a
        EXEC
        MULTI
        SAVE
        EXEC
        MULTI
        SET s str
        LPUSH s x
        INCR s
        SET s v2
        EXEC
        GET s
        MULTI
        CONFIG SET nosuchparameter 1
        EXEC
        MULTI
        SELECT 100
        SELECT 1
        SET k in-db-1
        SELECT 0
        EXEC
        GET k
        SELECT 1
        GET k
        SELECT 0
        MULTI
        SUBSTR k 0
        EXEC
        EXEC
        ",
    );
}

#[test]
fn reset_and_quit_inside_multi() {
    let mut d = Diff::new();
    d.script(
        "
        MULTI
        SET a 1
        RESET
        EXEC
        GET a
        ",
    );
    // CLIENT LIST shows the transaction (flag x, multi=<queued>).
    let mut conn = d.ours.run("MULTI");
    assert_eq!(ferrokv_tests::show(&conn), "+OK");
    d.ours.run("SET a 1");
    conn = d.ours.run("CLIENT INFO");
    // CLIENT INFO is queued, not run, inside MULTI.
    assert_eq!(ferrokv_tests::show(&conn), "+QUEUED");
    let mut other = d.other();
    let list = ferrokv_tests::show(&other.ours.run("CLIENT LIST"));
    assert!(
        list.contains("flags=x") && list.contains("multi=2"),
        "{list}"
    );
    d.ours.run("DISCARD");
    let list = ferrokv_tests::show(&other.ours.run("CLIENT LIST"));
    assert!(
        !list.contains("flags=x") && list.contains("multi=-1"),
        "{list}"
    );
}

#[test]
fn watch_aborts_exec_when_another_client_writes() {
    let mut d = Diff::new();
    let mut other = d.other();
    d.script(
        "
        SET k 1
        WATCH k
        GET k
        ",
    );
    other.line("SET k 2");
    d.script(
        "
        MULTI
        SET k 3
        EXEC
        GET k
        WATCH k
        MULTI
        SET k 4
        EXEC
        GET k
        ",
    );
    // A key that did not exist when watched, created by another client.
    d.line("WATCH newkey");
    other.line("SET newkey v");
    d.script("MULTI\nGET newkey\nEXEC");
    // UNWATCH forgets; so do EXEC and DISCARD.
    d.line("WATCH k");
    d.line("UNWATCH");
    other.line("SET k 5");
    d.script("MULTI\nGET k\nEXEC");
    d.script("WATCH k\nMULTI\nDISCARD");
    other.line("SET k 6");
    d.script("MULTI\nGET k\nEXEC");
    // A write by the watching client itself also counts.
    d.script("WATCH k\nSET k 7\nMULTI\nGET k\nEXEC");
    // Writes that change nothing do not.
    d.script("SADD s a\nWATCH s");
    other.line("SADD s a");
    d.script("MULTI\nSCARD s\nEXEC");
    // Other types, other commands, several keys.
    d.script("WATCH s h l\nMULTI\nPING\nEXEC");
    d.script("WATCH x y z");
    other.line("LPUSH y 1");
    d.script("MULTI\nPING\nEXEC");
    d.script("WATCH k");
    other.line("DEL k");
    d.script("MULTI\nPING\nEXEC");
    d.script("SET k 1\nWATCH k");
    other.line("EXPIRE k 100");
    d.script("MULTI\nPING\nEXEC");
    d.script("SET k 1\nWATCH k");
    other.line("RENAME k k2");
    d.script("MULTI\nPING\nEXEC");
    d.script("SET k 1\nWATCH k");
    other.line("FLUSHALL");
    d.script("MULTI\nPING\nEXEC");
    // A transaction's own writes reach other clients' watches.
    d.script("SET k 1\nWATCH k");
    other.script("MULTI\nINCR k\nEXEC");
    d.script("MULTI\nPING\nEXEC");
    // Different db: not the same key.
    d.script("SET k 1\nWATCH k");
    other.script("SELECT 3\nSET k 2\nSELECT 0");
    d.script("MULTI\nPING\nEXEC");
}

/// Writes flag exactly the keys they change (the write funnel), not every key
/// they name: Redis runs these transactions.
#[test]
fn watch_is_flagged_only_by_keys_that_changed() {
    let mut d = Diff::new();
    let mut other = d.other();
    // A key a command only reads.
    d.script("FLUSHALL\nSADD src a b\nSADD x b\nWATCH src");
    other.line("SINTERSTORE dst src x");
    d.script("MULTI\nPING\nEXEC");
    // SWAPDB of a db with itself changes nothing.
    d.script("SET a 1\nWATCH a b");
    other.line("SWAPDB 0 0");
    d.script("MULTI\nPING\nEXEC");
    // FLUSHALL / FLUSHDB only touch watched keys that exist (Redis's "... does not
    // touch non affected keys"), in the db they empty.
    d.script("DEL x\nWATCH x");
    other.line("FLUSHALL");
    d.script("MULTI\nPING\nEXEC");
    d.script("DEL x\nWATCH x");
    other.line("FLUSHDB");
    d.script("MULTI\nPING\nEXEC");
    d.script("SET x 1\nWATCH x");
    other.script("SELECT 2\nSET y 1\nFLUSHDB\nSELECT 0");
    d.script("MULTI\nPING\nEXEC");
    d.script("SET x 1\nWATCH x");
    other.line("FLUSHDB");
    d.script("MULTI\nPING\nEXEC");
    // SWAPDB touches watched keys that exist in either db.
    d.script("FLUSHALL\nSET x 30\nWATCH x");
    other.line("SWAPDB 0 1");
    d.script("MULTI\nPING\nEXEC");
    d.script("FLUSHALL\nSELECT 1\nSET x 30\nSELECT 0\nWATCH x");
    other.line("SWAPDB 0 1");
    d.script("MULTI\nPING\nEXEC");
    d.script("FLUSHALL\nWATCH x");
    other.line("SWAPDB 0 1");
    d.script("MULTI\nPING\nEXEC");
    // SORT ... STORE reads its BY / GET keys and writes only the destination.
    d.script("FLUSHALL\nRPUSH z 3 1 2\nHSET w_1 f 1\nSET g1 a\nSET g2 b\nWATCH g1 g2");
    other.line("SORT z BY w_*->f STORE l1");
    d.script("MULTI\nPING\nEXEC");
    d.script("WATCH l1");
    other.line("SORT z BY w_*->f STORE l1");
    d.script("MULTI\nPING\nEXEC");
    // Only the destination of a successful SMOVE addition is touched (set.tcl).
    d.script("FLUSHALL\nSADD a 1 2\nSADD b 1\nWATCH b");
    other.line("SMOVE a b 1");
    d.script("MULTI\nPING\nEXEC");
    d.script("WATCH a");
    other.line("SMOVE a b 2");
    d.script("MULTI\nPING\nEXEC");
    // A multi-key DEL touches the keys it deleted, not the missing ones.
    d.script("FLUSHALL\nSET a 1\nWATCH b");
    other.line("DEL a b");
    d.script("MULTI\nPING\nEXEC");
    // MOVE touches the key in both dbs, COPY only the destination.
    d.script("FLUSHALL\nSET a 1\nSELECT 1\nWATCH a\nSELECT 0");
    other.line("MOVE a 1");
    d.script("MULTI\nPING\nEXEC");
    d.script("FLUSHALL\nSET a 1\nWATCH a");
    other.line("COPY a b");
    d.script("MULTI\nPING\nEXEC");
    d.script("WATCH b");
    other.line("COPY a b REPLACE");
    d.script("MULTI\nPING\nEXEC");
    // Commands that change nothing touch nothing; LTRIM signals even then.
    d.script("FLUSHALL\nRPUSH l a b\nZADD z 1 m\nHSET h f v\nWATCH l z h");
    other.script("LREM l 0 nope\nZADD z XX 2 nope\nHDEL h nope\nLINSERT l BEFORE nope x");
    d.script("MULTI\nPING\nEXEC");
    d.script("WATCH l");
    other.line("LTRIM l 0 -1");
    d.script("MULTI\nPING\nEXEC");
}

/// Random commands from a second client between WATCH and EXEC: EXEC runs or
/// aborts exactly as on Redis.
#[test]
fn random_writes_between_watch_and_exec_match_redis() {
    use proptest::prelude::*;
    let d = std::cell::RefCell::new(Diff::new());
    let other = std::cell::RefCell::new(d.borrow().other());
    let key = prop::sample::select(vec!["k1", "k2", "k3", "{t}a", "{t}b"]);
    let setup = prop::collection::vec(ferrokv_tests::random_command(), 0..12);
    let between = prop::collection::vec(ferrokv_tests::random_command(), 0..4);
    let watched = prop::collection::vec(key, 1..3);
    let db = 0usize..2;
    ferrokv_tests::prop_runner(128)
        .run(
            &(setup, watched, db, between),
            |(setup, watched, db, between)| {
                let (mut d, mut o) = (d.borrow_mut(), other.borrow_mut());
                d.line("FLUSHALL");
                for c in &setup {
                    d.check(c);
                }
                d.line(&format!("SELECT {db}"));
                let mut watch = vec!["WATCH".to_string()];
                watch.extend(watched.iter().map(|k| k.to_string()));
                d.check(&watch);
                for c in &between {
                    o.check(c);
                }
                d.script("MULTI\nPING\nEXEC\nSELECT 0");
                Ok(())
            },
        )
        .expect("EXEC outcomes match Redis");
}

#[test]
fn a_watched_key_that_expires_aborts_exec() {
    let mut d = Diff::new();
    d.script("SET k v PX 100\nWATCH k\nMULTI\nPING");
    std::thread::sleep(Duration::from_millis(250));
    d.script("EXEC");
    // Already expired when watched: its expiry is not a change.
    d.script("SET k v PX 50");
    std::thread::sleep(Duration::from_millis(150));
    d.script("WATCH k\nMULTI\nPING\nEXEC");
}

#[test]
fn transactions_are_atomic_for_other_clients() {
    // Writers move value between two keys in transactions (on different shards);
    // readers must always see the total unchanged.
    let server = Server::ferrokv(&[]);
    let mut c = server.conn();
    c.run("MSET a 1000 b 0");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut threads = Vec::new();
    for _ in 0..4 {
        let mut w = server.conn();
        threads.push(std::thread::spawn(move || {
            for _ in 0..500 {
                w.run("MULTI");
                w.run("DECRBY a 3");
                w.run("INCRBY b 3");
                let r = ferrokv_tests::show(&w.run("EXEC"));
                assert!(r.starts_with('['), "{r}");
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut r = server.conn();
        let stop = stop.clone();
        readers.push(std::thread::spawn(move || {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let v = ferrokv_tests::show(&r.run("MGET a b"));
                let nums: Vec<i64> = v
                    .trim_matches(|ch| ch == '[' || ch == ']')
                    .split(", ")
                    .map(|x| x.trim_matches('"').parse().expect("integer"))
                    .collect();
                assert_eq!(nums[0] + nums[1], 1000, "torn read {v}");
                n += 1;
            }
            n
        }));
    }
    for t in threads {
        t.join().expect("writer");
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for r in readers {
        assert!(r.join().expect("reader") > 0);
    }
    assert_eq!(
        ferrokv_tests::show(&c.run("MGET a b")),
        "[\"-5000\", \"6000\"]"
    );
}

#[test]
fn watch_based_optimistic_increments_lose_nothing() {
    // The classic WATCH / GET / MULTI / SET / EXEC retry loop from many clients.
    let server = Server::ferrokv(&[]);
    server.conn().run("SET counter 0");
    let mut threads = Vec::new();
    for _ in 0..4 {
        let mut c = server.conn();
        threads.push(std::thread::spawn(move || {
            let mut done = 0;
            while done < 200 {
                c.run("WATCH counter");
                let v: i64 = ferrokv_tests::show(&c.run("GET counter"))
                    .trim_matches('"')
                    .parse()
                    .expect("integer");
                c.run("MULTI");
                c.run(&format!("SET counter {}", v + 1));
                if ferrokv_tests::show(&c.run("EXEC")).starts_with('[') {
                    done += 1;
                }
            }
        }));
    }
    for t in threads {
        t.join().expect("client");
    }
    assert_eq!(
        ferrokv_tests::show(&server.conn().run("GET counter")),
        "\"800\""
    );
}

#[test]
fn a_push_inside_exec_serves_a_blocked_client_after_the_transaction() {
    let mut d = Diff::new();
    let mut waiter = d.other();
    for conn in [&mut waiter.ours, &mut waiter.theirs] {
        conn.send(&["BLPOP", "q", "5"]);
    }
    std::thread::sleep(Duration::from_millis(100));
    // The waiter gets the first element only after EXEC: LLEN inside sees both.
    d.script("MULTI\nRPUSH q a b\nLLEN q\nEXEC\nLRANGE q 0 -1");
    let ours = waiter.ours.read().expect("ferrokv reply");
    let theirs = waiter.theirs.read().expect("redis reply");
    assert_eq!(ferrokv_tests::show(&ours), ferrokv_tests::show(&theirs));
    assert_eq!(ferrokv_tests::show(&ours), "[\"q\", \"a\"]");
}

#[test]
fn background_saves_inside_exec_are_scheduled_like_redis() {
    let mut d = Diff::new();
    d.script("MULTI\nSET a 1\nBGSAVE\nINCR a\nEXEC");
    // Let both finish the scheduled save before the servers stop.
    std::thread::sleep(Duration::from_millis(300));
    d.script("GET a");
}

/// A refused EXEC (wrong arity) is Redis's execCommandAbort: an EXECABORT that
/// gives the reason, and the transaction and the watches are gone, in MULTI or
/// not.
#[test]
fn a_refused_exec_discards_the_transaction_and_the_watches() {
    let mut d = Diff::new();
    let mut other = d.other();
    d.script(
        "
        EXEC x
        MULTI
        SET a 1
        EXEC x
        EXEC
        GET a
        SET k 1
        WATCH k
        EXEC x y
        ",
    );
    // The watch was dropped: another client's write no longer aborts EXEC.
    other.line("SET k 2");
    d.script(
        "
        MULTI
        SET k 3
        EXEC
        GET k
        ",
    );
}

/// Without authentication EXEC's refusal is an EXECABORT too.
#[test]
fn exec_before_auth_is_an_execabort() {
    let ours = ferrokv_tests::Server::ferrokv(&["--requirepass", "pw"]);
    let theirs = ferrokv_tests::Server::redis(&["--requirepass", "pw"]);
    let (mut a, mut b) = (ours.conn(), theirs.conn());
    for line in ["EXEC", "MULTI", "EXEC", "AUTH pw", "EXEC"] {
        let (x, y) = (a.run(line), b.run(line));
        assert_eq!(ferrokv_tests::show(&x), ferrokv_tests::show(&y), "{line}");
    }
}

/// Keys already expired (but not deleted) when watched: their deletion for being
/// expired is no change, a real write still is (Redis's watchedKey.expired; the
/// "stale keys" tests of multi.tcl).
#[test]
fn watched_stale_keys_are_no_change_until_written() {
    let mut d = Diff::with_args(&["--enable-debug-command", "yes"]);
    d.line("DEBUG SET-ACTIVE-EXPIRE 0");
    let stale = |d: &mut Diff| {
        d.line("SET x foo PX 1");
        std::thread::sleep(Duration::from_millis(5));
    };
    // WATCH alone, then EXEC.
    stale(&mut d);
    d.script("WATCH x\nMULTI\nPING\nEXEC");
    // Deleted by a lookup (EXISTS) between WATCH and EXEC.
    stale(&mut d);
    d.script("WATCH x\nEXISTS x\nMULTI\nPING\nEXEC");
    // FLUSHDB of the stale key.
    stale(&mut d);
    d.script("WATCH x\nFLUSHDB\nMULTI\nPING\nEXEC");
    // Deleted as expired, then written: that write counts.
    stale(&mut d);
    d.script("WATCH x\nEXISTS x\nSET x bar\nMULTI\nPING\nEXEC");
    // Overwritten directly.
    stale(&mut d);
    d.script("WATCH x\nSET x bar\nMULTI\nPING\nEXEC");
    // SWAPDB with stale keys on either side.
    d.script("FLUSHALL\nSELECT 1");
    stale(&mut d);
    d.script("WATCH x\nSWAPDB 0 1\nMULTI\nPING\nEXEC\nSELECT 0");
    d.line("FLUSHALL");
    stale(&mut d);
    d.script("SELECT 1\nWATCH x\nSWAPDB 0 1\nMULTI\nPING\nEXEC\nSELECT 0");
    d.line("DEBUG SET-ACTIVE-EXPIRE 1");
}

/// Over maxmemory (no eviction yet): denyoom commands get OOM, reads and deletes
/// run, anything queued in MULTI is refused and EXEC aborts (multi.tcl's "EXEC
/// fails if there are errors while queueing commands #2").
#[test]
fn over_maxmemory_denyoom_commands_are_refused() {
    let mut d = Diff::new();
    let mut other = d.other();
    d.script("FLUSHALL\nSET k v\nDEL foo1 foo2\nMULTI\nSET foo1 bar1");
    other.line("CONFIG SET maxmemory 1");
    d.script("LPUSH mylist myvalue\nSET foo2 bar2\nEXEC\nEXISTS foo1 foo2");
    d.script("SET k v2\nGET k\nDEL k\nPING");
    other.line("CONFIG SET maxmemory 0");
    d.script("SET k v3\nGET k");
}

/// EXEC of queued reads on a server that became a stale replica after they were
/// queued: refused with MASTERDOWN when a queued command is not allowed on a
/// stale replica (Redis's cmd_inv_flags), allowed again once it is a master.
#[test]
fn exec_of_reads_on_a_replica_that_became_stale_since() {
    let mut d = Diff::new();
    let mut o = d.other();
    d.check(&["CONFIG", "SET", "replica-serve-stale-data", "no"]);
    d.check(&["SET", "xx", "1"]);
    for queued in [&["GET", "xx"][..], &["PING"]] {
        d.check(&["MULTI"]);
        d.check(queued);
        o.check(&["REPLICAOF", "127.0.0.1", "1"]);
        d.check(&["EXEC"]);
        o.check(&["REPLICAOF", "NO", "ONE"]);
    }
    d.check(&["MULTI"]);
    d.check(&["ECHO", "hi"]);
    o.check(&["REPLICAOF", "127.0.0.1", "1"]);
    o.check(&["REPLICAOF", "NO", "ONE"]);
    d.check(&["GET", "xx"]);
    d.check(&["EXEC"]);
}
