//! Slot-aware shards through the whole engine: where keys are locked, that the
//! per-slot counts stay exact whatever commands do, and how evenly keys spread.

use proptest::prelude::*;

use super::{key_slot, shard_of_slot, KeyHashes, LockId, SHARDS, SLOTS};
use crate::client::Client;
use crate::config::Config;
use crate::engine::Engine;
use crate::hooks::NoHooks;
use ferrokv_resp::{Protocol, ReplyBuf};

fn run(e: &Engine, c: &mut Client, args: &[&str]) -> String {
    let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    let mut out = ReplyBuf::new(Protocol::Resp2);
    e.execute(c, &args, &mut out, &NoHooks);
    String::from_utf8_lossy(out.as_bytes()).into_owned()
}

/// The lock ids and key hashes the lock step computes for `line`.
fn locks_of(e: &Engine, line: &str) -> (Vec<LockId>, usize) {
    let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
    let cmd = e.resolve(&args).expect("known command");
    let mut hashes = KeyHashes::default();
    let mut ids = Vec::new();
    e.lock_ids_for(cmd, &args, 0, Some(&mut hashes), |id| ids.push(id));
    let held = e.lock_for(cmd, &args, 0, &mut KeyHashes::default()).len();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), held);
    (ids, hashes.len())
}

#[test]
fn hash_tagged_keys_of_a_multi_key_command_lock_one_shard() {
    let e = Engine::new(Config::default(), &[]);
    let tagged = [
        "MSET {user1000}:a 1 {user1000}:b 2 {user1000}:c 3 {user1000}:d 4",
        "SUNIONSTORE {t}dst {t}s1 {t}s2 {t}s3",
        "RENAME {x}from {x}to",
        "ZUNIONSTORE {z}out 3 {z}a {z}b {z}c WEIGHTS 1 2 3",
        "DEL user1000 {user1000}.following {user1000}.followers",
    ];
    for line in tagged {
        let (ids, hashed) = locks_of(&e, line);
        assert_eq!(ids.len(), 1, "{line}: {ids:?}");
        assert!(hashed >= 2, "{line}: every declared key hashed once");
        let tag_slot = key_slot(line.split(' ').nth(1).unwrap_or_default().as_bytes());
        assert_eq!(ids[0] as usize, shard_of_slot(tag_slot));
    }
    // Past the inline capacity of the remembered hashes.
    let many: Vec<String> = (0..12).map(|i| format!("{{big}}{i} v")).collect();
    let (ids, hashed) = locks_of(&e, &format!("MSET {}", many.join(" ")));
    assert_eq!((ids.len(), hashed), (1, 12));
    // Without tags the same commands spread over several shards.
    let (ids, hashed) = locks_of(&e, "MSET a 1 b 2 c 3 d 4");
    assert!(ids.len() > 1, "{ids:?}");
    assert_eq!(hashed, 4);
    // One lock per (db, shard): a tagged key in two dbs is two locks (MOVE), and
    // the planner's commands get their key hashes too.
    let (ids, hashed) = locks_of(&e, "MOVE {u}k 3");
    assert_eq!((ids.len(), hashed), (2, 1));
    assert_eq!(ids[1] - ids[0], 3 * SHARDS as LockId);
    let (ids, hashed) = locks_of(&e, "COPY {u}a {u}b");
    assert_eq!((ids.len(), hashed), (1, 2));
}

/// Every shard's kept per-slot counts equal a recount of its table, and the
/// engine's per-slot answers agree with counting keys by hand.
fn assert_counts_exact(e: &Engine) {
    for id in 0..e.keyspace.db_count() * SHARDS {
        let shard = e.keyspace.lock_one(id as LockId);
        let (kept, recount) = shard.slot_counts_and_recount();
        assert_eq!(kept, recount, "shard {id}");
    }
}

fn op() -> impl Strategy<Value = Vec<String>> {
    let key = prop_oneof![
        (0..12u8).prop_map(|i| format!("k{i}")),
        (0..6u8).prop_map(|i| format!("{{t}}{i}")),
        (0..4u8).prop_map(|i| format!("{{u}}{i}")),
    ];
    let k2 = key.clone();
    (0..34u8, key, k2, 0..3u8).prop_map(|(which, a, b, n)| {
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<String>>();
        let n = n.to_string();
        match which {
            0 | 1 => v(&["SET", &a, "v"]),
            2 => v(&["SET", &a, "v", "PX", "5"]),
            3 => v(&["PEXPIRE", &a, "3"]),
            4 => v(&["DEL", &a, &b]),
            5 => v(&["UNLINK", &a]),
            6 => v(&["RENAME", &a, &b]),
            7 => v(&["RENAMENX", &a, &b]),
            8 => v(&["MOVE", &a, "1"]),
            9 => v(&["COPY", &a, &b, "DB", &n, "REPLACE"]),
            10 => v(&["SWAPDB", "0", &n]),
            11 => v(&["FLUSHDB"]),
            12 => v(&["SELECT", &n]),
            13 => v(&["SADD", &a, "x", "y"]),
            14 => v(&["SPOP", &a]),
            15 => v(&["SREM", &a, "x", "y"]),
            16 => v(&["LPUSH", &a, "x"]),
            17 => v(&["LPOP", &a]),
            18 => v(&["SMOVE", &a, &b, "x"]),
            19 => v(&["SINTERSTORE", &b, &a]),
            20 => v(&["GETDEL", &a]),
            21 => v(&["INCR", &a]),
            22 => v(&["MSET", &a, "1", &b, "2"]),
            23 => v(&["GET", &a]),
            24 => v(&["EXISTS", &a, &b]),
            25 => v(&["HSET", &a, "f", "1"]),
            26 => v(&["HDEL", &a, "f"]),
            27 => v(&["ZADD", &a, "1", "m"]),
            28 => v(&["ZPOPMIN", &a]),
            29 => v(&["LMOVE", &a, &b, "LEFT", "RIGHT"]),
            30 => v(&["GETEX", &a, "PX", "2"]),
            31 => v(&["FLUSHALL"]),
            32 => v(&["SET", &a, "v", "PXAT", "1"]),
            _ => v(&["SORT", &a, "STORE", &b]),
        }
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Per-slot key counts stay exact under random commands, lazy and active
    /// expiry (the clock moves), db moves, swaps and flushes, and a snapshot.
    #[test]
    fn slot_counts_stay_exact(
        ops in proptest::collection::vec((op(), 0..4u8), 1..120),
        snapshot_at in 0..120usize,
    ) {
        let e = Engine::new(Config::default(), &[]);
        let mut c = Client::new(1, true);
        for (i, (args, tick)) in ops.iter().enumerate() {
            if i == snapshot_at {
                struct Nothing;
                impl crate::snapshot::ShardVisitor for Nothing {
                    fn visit(&self, _: usize, _: usize, it: &mut dyn Iterator<Item = &super::Node>) {
                        it.for_each(drop);
                    }
                }
                let _ = e.snapshot_begin(std::sync::Arc::new(Nothing));
            }
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            run(&e, &mut c, &refs);
            match tick {
                0 => e.clock.advance(2),
                1 => {
                    let mut resume = 0;
                    e.active_expire_cycle(std::time::Duration::from_secs(1), &mut resume);
                }
                _ => {}
            }
        }
        if e.snapshot.active() {
            e.snapshot_run();
        }
        assert_counts_exact(&e);
    }
}

#[test]
fn slot_counts_answer_countkeysinslot_and_getkeysinslot() {
    let e = Engine::new(Config::default(), &[]);
    let mut c = Client::new(1, true);
    for i in 0..2000 {
        run(&e, &mut c, &["SET", &format!("key:{i}"), "v"]);
    }
    for i in 0..50 {
        run(&e, &mut c, &["SET", &format!("{{tag}}:{i}"), "v"]);
    }
    let tag = key_slot(b"tag");
    // Same keys in db 1 must not count in db 0.
    run(&e, &mut c, &["SELECT", "1"]);
    run(&e, &mut c, &["SET", "{tag}:x", "v"]);
    assert_eq!(e.count_keys_in_slot(0, tag), 50);
    assert_eq!(e.count_keys_in_slot(1, tag), 1);
    let mut got = e.keys_in_slot(0, tag, 100);
    got.sort();
    let mut want: Vec<Vec<u8>> = (0..50)
        .map(|i| format!("{{tag}}:{i}").into_bytes())
        .collect();
    want.sort();
    assert_eq!(got, want);
    assert_eq!(e.keys_in_slot(0, tag, 7).len(), 7);
    // Every slot: the counter equals counting the keys by hand.
    let mut by_hand = vec![0usize; SLOTS];
    for i in 0..2000 {
        by_hand[key_slot(format!("key:{i}").as_bytes()) as usize] += 1;
    }
    by_hand[tag as usize] += 50;
    for (slot, &n) in by_hand.iter().enumerate() {
        assert_eq!(e.count_keys_in_slot(0, slot as u16), n, "slot {slot}");
    }
    assert_eq!(e.count_keys_in_slot(0, SLOTS as u16), 0);
    assert_eq!(e.count_keys_in_slot(99, 0), 0);
    run(&e, &mut c, &["SELECT", "0"]);
    run(&e, &mut c, &["FLUSHDB"]);
    assert_eq!(e.count_keys_in_slot(0, tag), 0);
    assert_eq!(e.count_keys_in_slot(1, tag), 1);
    assert_counts_exact(&e);
}

/// max/mean and min/mean keys per shard when `n` keys named by `name` are placed.
fn spread(n: usize, name: impl Fn(usize) -> String) -> (f64, f64) {
    let mut per_shard = vec![0usize; SHARDS];
    for i in 0..n {
        per_shard[shard_of_slot(key_slot(name(i).as_bytes()))] += 1;
    }
    let mean = n as f64 / SHARDS as f64;
    let max = per_shard.iter().copied().max().unwrap_or(0) as f64;
    let min = per_shard.iter().copied().min().unwrap_or(0) as f64;
    (max / mean, min / mean)
}

/// The figure for docs/PERFORMANCE.md: keys spread evenly over shards. Run with
/// `cargo test -p ferrokv-core --release spread -- --nocapture` to see it.
#[test]
fn keys_spread_evenly_over_shards() {
    let n = 1_000_000;
    for (what, f) in [
        (
            "key:<n>",
            Box::new(|i| format!("key:{i}")) as Box<dyn Fn(usize) -> String>,
        ),
        ("key:<012n>", Box::new(|i| format!("key:{i:012}"))),
        ("<n>", Box::new(|i| format!("{i}"))),
        (
            "user:<n>:profile",
            Box::new(|i| format!("user:{i}:profile")),
        ),
    ] {
        let (max, min) = spread(n, f);
        println!("{n} {what} keys over {SHARDS} shards: max/mean {max:.3}, min/mean {min:.3}");
        assert!(
            max < 1.1 && min > 0.9,
            "{what}: max/mean {max}, min/mean {min}"
        );
    }
}

#[test]
fn only_the_dbs_used_hold_shards() {
    let e = Engine::new(Config::default(), &[]);
    let mut c = Client::new(1, true);
    let live = |e: &Engine| -> Vec<usize> {
        (0..e.keyspace.db_count())
            .filter(|&d| e.keyspace.is_live(d))
            .collect()
    };
    assert_eq!(live(&e), vec![0], "db 0 from the start");
    // Reading every db (INFO keyspace's sums, active expiry) allocates nothing.
    assert_eq!(e.db_sizes(3), (0, 0));
    let mut resume = 0;
    e.active_expire_cycle(std::time::Duration::from_millis(50), &mut resume);
    assert_eq!(live(&e), vec![0]);
    crate::testkit::run(&e, &mut c, "SELECT 9");
    assert_eq!(crate::testkit::run(&e, &mut c, "SET k v"), "+OK\r\n");
    assert_eq!(crate::testkit::run(&e, &mut c, "DBSIZE"), ":1\r\n");
    assert_eq!(live(&e), vec![0, 9]);
    assert_eq!(e.db_sizes(9), (1, 0));
    // MOVE to an unused db allocates it; FLUSHDB and FLUSHALL hold the empty
    // ones shut without allocating them.
    assert_eq!(crate::testkit::run(&e, &mut c, "MOVE k 2"), ":1\r\n");
    assert_eq!(live(&e), vec![0, 2, 9]);
    assert_eq!(crate::testkit::run(&e, &mut c, "FLUSHALL"), "+OK\r\n");
    crate::testkit::run(&e, &mut c, "SELECT 4");
    assert_eq!(crate::testkit::run(&e, &mut c, "FLUSHDB"), "+OK\r\n");
    assert_eq!(crate::testkit::run(&e, &mut c, "DBSIZE"), ":0\r\n");
    assert_eq!(crate::testkit::run(&e, &mut c, "KEYS *"), "*0\r\n");
    assert_eq!(live(&e), vec![0, 2, 9]);
    assert_eq!(crate::testkit::run(&e, &mut c, "RANDOMKEY"), "$-1\r\n");
    assert_eq!(
        live(&e),
        vec![0, 2, 4, 9],
        "RANDOMKEY locks (so allocates) its db"
    );
    crate::testkit::run(&e, &mut c, "SELECT 5");
    assert_eq!(crate::testkit::run(&e, &mut c, "FLUSHDB ASYNC"), "+OK\r\n");
    assert_eq!(live(&e), vec![0, 2, 4, 9]);
    // A transaction locks the union of its commands' ids: its flush allocates.
    crate::testkit::run(&e, &mut c, "MULTI");
    crate::testkit::run(&e, &mut c, "FLUSHALL");
    assert_eq!(crate::testkit::run(&e, &mut c, "EXEC"), "*1\r\n+OK\r\n");
    assert_eq!(live(&e).len(), e.keyspace.db_count());
}

/// A flush holding an empty db shut makes a write to that db wait until the
/// flush is over (so the write comes after it in the replication stream, and
/// survives it as on a replica), and two flushes of the same empty dbs do not
/// wait on each other for good.
#[test]
fn a_write_to_an_empty_db_waits_for_the_flush_holding_it() {
    use crate::keyspace::LockSet;
    let e = Engine::new(Config::default(), &[]);
    let ks = &e.keyspace;
    let set = LockSet::lock_live_dbs(ks, 0..ks.db_count());
    assert_eq!(set.len(), SHARDS, "db 0's shards, the other dbs shut");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::scope(|s| {
        s.spawn(|| {
            let _w = ks.lock_one((5 * SHARDS) as LockId);
            tx.send(()).unwrap();
        });
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(200))
                .is_err(),
            "the write did not wait for the flush"
        );
        assert!(!ks.is_live(5));
        drop(set);
        rx.recv_timeout(std::time::Duration::from_secs(10))
            .expect("the write ran once the flush was over");
    });
    assert!(ks.is_live(5));
    // Db 5 came to life: the next flush locks its shards.
    let set = LockSet::lock_live_dbs(ks, 0..ks.db_count());
    assert_eq!(set.len(), 2 * SHARDS);
}

/// Whether `key` (db 0) is held inline (see `keyspace/node.rs`).
fn inline(e: &Engine, key: &str) -> bool {
    let key = key.as_bytes();
    let shard = e.keyspace.lock_one(super::lock_id(0, key));
    !shard
        .dict()
        .get(key, super::hash_key(key))
        .expect("the key exists")
        .is_full()
}

#[test]
fn writes_leave_entries_in_their_cheapest_form() {
    let e = Engine::new(Config::default(), &[]);
    let mut c = Client::new(1, true);
    let hundred = "x".repeat(100);
    // Small hashes and zsets stay inline through every kind of write.
    for line in [
        "HSET h f1 v1 f2 v2",
        "HSET h f3 v3",
        "HINCRBY h n 5",
        "HDEL h f1",
        "HSETNX h f9 z",
    ] {
        run(&e, &mut c, &line.split(' ').collect::<Vec<_>>());
        assert!(inline(&e, "h"), "{line}");
    }
    assert_eq!(run(&e, &mut c, &["HGET", "h", "n"]), "$1\r\n5\r\n");
    assert_eq!(run(&e, &mut c, &["HLEN", "h"]), ":4\r\n");
    // A string write refused with WRONGTYPE leaves the entry as it was.
    for line in [
        "APPEND h x",
        "INCR h",
        "INCRBYFLOAT h 1",
        "SETRANGE h 0 x",
        "SETBIT h 0 1",
        "PFADD h a",
    ] {
        let reply = run(&e, &mut c, &line.split(' ').collect::<Vec<_>>());
        assert!(reply.starts_with("-WRONGTYPE"), "{line}: {reply}");
        assert!(inline(&e, "h"), "{line}");
    }
    for line in ["ZADD z 1 a 2 b", "ZINCRBY z 5 a", "ZREM z b", "ZADD z 3 c"] {
        run(&e, &mut c, &line.split(' ').collect::<Vec<_>>());
        assert!(inline(&e, "z"), "{line}");
    }
    assert_eq!(run(&e, &mut c, &["ZSCORE", "z", "a"]), "$1\r\n6\r\n");
    // Past 512 bytes a packed hash is FULL (its writes change its buffer in place),
    // and back inline when it shrinks; past the listpack limits it is a table.
    for i in 0..60 {
        run(&e, &mut c, &["HSET", "h", &format!("field{i}"), "v"]);
    }
    assert_eq!(
        run(&e, &mut c, &["OBJECT", "ENCODING", "h"]),
        "$8\r\nlistpack\r\n"
    );
    assert!(!inline(&e, "h"));
    for i in 0..55 {
        run(&e, &mut c, &["HDEL", "h", &format!("field{i}")]);
    }
    assert!(inline(&e, "h"));
    for i in 0..600 {
        run(&e, &mut c, &["HSET", "h", &format!("field{i}"), "v"]);
    }
    assert_eq!(
        run(&e, &mut c, &["OBJECT", "ENCODING", "h"]),
        "$9\r\nhashtable\r\n"
    );
    assert!(!inline(&e, "h"));
    // Strings: inline when set whole, FULL when integers or grown in place.
    run(&e, &mut c, &["SET", "s", &hundred]);
    assert!(inline(&e, "s"));
    run(&e, &mut c, &["EXPIRE", "s", "100"]);
    assert!(inline(&e, "s"));
    run(&e, &mut c, &["SET", "s", "short", "KEEPTTL"]);
    assert!(inline(&e, "s"));
    assert_eq!(run(&e, &mut c, &["GET", "s"]), "$5\r\nshort\r\n");
    assert_ne!(run(&e, &mut c, &["TTL", "s"]), ":-1\r\n");
    run(&e, &mut c, &["APPEND", "s", "er"]);
    assert!(!inline(&e, "s"));
    assert_eq!(
        run(&e, &mut c, &["OBJECT", "ENCODING", "s"]),
        "$3\r\nraw\r\n"
    );
    assert_eq!(run(&e, &mut c, &["GET", "s"]), "$7\r\nshorter\r\n");
    run(&e, &mut c, &["SET", "s", "42"]);
    assert!(!inline(&e, "s"));
    run(&e, &mut c, &["SET", "s", &hundred, "EX", "100"]);
    assert!(inline(&e, "s"));
    run(&e, &mut c, &["PERSIST", "s"]);
    assert!(inline(&e, "s"));
    assert_eq!(run(&e, &mut c, &["STRLEN", "s"]), ":100\r\n");
    // RENAME and COPY keep the form.
    run(&e, &mut c, &["RENAME", "s", "t"]);
    run(&e, &mut c, &["COPY", "z", "z2"]);
    assert!(inline(&e, "t") && inline(&e, "z2"));
    assert_eq!(
        run(&e, &mut c, &["ZRANGE", "z2", "0", "-1"]),
        "*2\r\n$1\r\nc\r\n$1\r\na\r\n"
    );
}
