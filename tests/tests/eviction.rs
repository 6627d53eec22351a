//! maxmemory and eviction: the OOM and OBJECT FREQ replies against redis-server,
//! MEMORY USAGE's shape, what each policy may evict, `evicted` events and WATCH,
//! and a cache under a Zipf workload compared with redis-server's hit ratio.

use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Diff, Server};

fn info_field(c: &mut Conn, section: &str, field: &str) -> u64 {
    let Frame::Bulk(text) = c.run(&format!("INFO {section}")) else {
        panic!("INFO did not reply a bulk string");
    };
    let text = String::from_utf8_lossy(&text).into_owned();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {field} in INFO {section}"))
}

fn is_error(f: &Frame) -> bool {
    matches!(f, Frame::Error(_))
}

#[test]
fn oom_replies_match_redis_and_only_writes_are_refused() {
    let mut d = Diff::new();
    d.line("SET keep 1");
    d.line("RPUSH list a b c");
    d.line("CONFIG SET maxmemory-policy noeviction");
    d.line("CONFIG SET maxmemory 1");
    // denyoom writes are refused with Redis's text...
    for line in [
        "SET k v",
        "INCR keep",
        "RPUSH list d",
        "SADD s a",
        "APPEND keep x",
    ] {
        let r = d.line(line);
        assert!(is_error(&r), "{line}: {}", show(&r));
    }
    // ...reads, deletes and other non-denyoom commands still run.
    d.line("GET keep");
    d.line("LRANGE list 0 -1");
    d.line("EXISTS keep");
    d.line("LPOP list");
    d.line("EXPIRE keep 100");
    d.line("DEL list");
    d.line("PING");
    // A transaction queuing a write is refused at queue time and aborted.
    d.line("MULTI");
    d.line("GET keep");
    d.line("SET k v");
    d.line("EXEC");
    // A script's write is refused inside it.
    d.check(&["EVAL", "return redis.pcall('set','x','1')", "0"]);
    d.check(&["EVAL", "return redis.call('get','keep')", "0"]);
    d.line("CONFIG SET maxmemory 0");
    d.line("SET k v");
}

#[test]
fn object_freq_and_idletime_errors_match_redis() {
    let mut d = Diff::new();
    d.line("SET a 1");
    d.line("OBJECT FREQ a");
    d.line("OBJECT FREQ missing");
    d.line("CONFIG SET maxmemory-policy allkeys-lfu");
    d.line("OBJECT IDLETIME a");
    // Not an integer: Redis would share the object (and its access field).
    d.line("SET b hello");
    d.line("OBJECT FREQ b");
    // The first access of a new key always counts (the counter is at its start).
    d.line("GET b");
    d.line("OBJECT FREQ b");
    d.line("CONFIG SET maxmemory-policy volatile-lfu");
    d.line("OBJECT IDLETIME b");
    d.line("CONFIG SET maxmemory-policy allkeys-lru");
    d.line("OBJECT FREQ b");
}

#[test]
fn memory_usage_has_redis_s_shape() {
    let mut d = Diff::new();
    d.line("SET s hello");
    d.line("RPUSH l a b c");
    d.line("HSET h f v");
    for line in [
        "MEMORY USAGE missing",
        "MEMORY USAGE s SAMPLES -1",
        "MEMORY USAGE s SAMPLES x",
        "MEMORY USAGE s SAMPLE 1",
        "MEMORY USAGE s SAMPLES",
        "MEMORY USAGE",
        "MEMORY NOPE",
    ] {
        d.line(line);
    }
    for line in [
        "MEMORY USAGE s",
        "MEMORY USAGE l SAMPLES 0",
        "MEMORY USAGE h SAMPLES 3",
    ] {
        let args: Vec<&str> = line.split_whitespace().collect();
        let (a, b) = (d.ours.cmd(&args), d.theirs.cmd(&args));
        match (&a, &b) {
            (Frame::Integer(x), Frame::Integer(y)) => {
                assert!(*x > 0 && *y > 0, "{line}: {x} vs {y}")
            }
            _ => panic!("{line}: {} vs {}", show(&a), show(&b)),
        }
    }
    // MEMORY STATS is a map with Redis's keys in Redis's order.
    let keys = |f: Frame| -> Vec<String> {
        let Frame::Array(items) = f else {
            panic!("MEMORY STATS is not an array in RESP2")
        };
        items
            .chunks(2)
            .filter_map(|kv| match &kv[0] {
                Frame::Bulk(b) => Some(String::from_utf8_lossy(b).into_owned()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        keys(d.ours.run("MEMORY STATS")),
        keys(d.theirs.run("MEMORY STATS"))
    );
    for c in ["MEMORY DOCTOR", "MEMORY MALLOC-STATS"] {
        assert!(matches!(d.ours.run(c), Frame::Bulk(_)), "{c}");
    }
    d.line("MEMORY PURGE");
    d.line("MEMORY HELP");
}

/// Fills keys until used memory is past `limit`, by writing `prefix:i`.
fn start_over_limit(c: &mut Conn, policy: &str) -> u64 {
    c.run("FLUSHALL");
    c.run("CONFIG SET maxmemory 0");
    let used = info_field(c, "memory", "used_memory");
    let limit = used + 400 * 1024;
    c.run(&format!("CONFIG SET maxmemory {limit}"));
    c.run(&format!("CONFIG SET maxmemory-policy {policy}"));
    limit
}

#[test]
fn volatile_policies_evict_only_keys_with_a_ttl() {
    let s = Server::ferrokv(&[]);
    let mut c = s.conn();
    let value = "x".repeat(100);
    for policy in [
        "volatile-lru",
        "volatile-lfu",
        "volatile-random",
        "volatile-ttl",
    ] {
        let limit = start_over_limit(&mut c, policy);
        let mut n = 0;
        while info_field(&mut c, "memory", "used_memory") + 4096 < limit {
            c.cmd(&["SET", &format!("keep:{n}"), &value]);
            c.cmd(&["SETEX", &format!("vol:{n}"), "10000", &value]);
            n += 1;
        }
        for j in 0..n {
            let r = c.cmd(&["SETEX", &format!("more:{j}"), "10000", &value]);
            assert!(!is_error(&r), "{policy}: {}", show(&r));
        }
        assert!(info_field(&mut c, "stats", "evicted_keys") > 0, "{policy}");
        for j in 0..n {
            assert_eq!(
                c.cmd(&["EXISTS", &format!("keep:{j}")]),
                Frame::Integer(1),
                "{policy} evicted keep:{j}"
            );
        }
        assert!(info_field(&mut c, "memory", "used_memory") < limit + 64 * 1024);
        // With only keys without a TTL left to evict, writes get OOM.
        let mut refused = false;
        for j in 0..4 * n {
            if is_error(&c.cmd(&["SET", &format!("plain:{j}"), &value])) {
                refused = true;
                break;
            }
        }
        assert!(refused, "{policy}: never refused a write");
        c.run("CONFIG SET maxmemory 0");
    }
}

/// Evicts a third of 4000 keys whose TTLs grow with their index under
/// volatile-ttl; returns how many of the soonest tenth went and how many of the
/// latest tenth stayed.
fn ttl_order(s: &Server) -> (usize, usize) {
    let mut c = s.conn();
    let value = "x".repeat(100);
    c.run("CONFIG SET maxmemory-samples 10");
    let n = 4000;
    for i in 0..n {
        c.cmd(&[
            "SETEX",
            &format!("t:{i}"),
            &(10_000 + i).to_string(),
            &value,
        ]);
    }
    let used = info_field(&mut c, "memory", "used_memory");
    c.run("CONFIG SET maxmemory-policy volatile-ttl");
    let limit = used - (n as u64 * 150) / 3;
    c.run(&format!("CONFIG SET maxmemory {limit}"));
    // Done when used memory is within 4 KiB of the limit, the margin Redis's
    // unit/maxmemory gives: eviction stops at its own measurement and estimate,
    // which INFO's figure, taken later on a loaded machine, was seen to exceed
    // by 80 bytes for good (this loop then timed out).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let used = info_field(&mut c, "memory", "used_memory");
        if used <= limit + 4096 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never got under the limit {limit}: used_memory {used}"
        );
        c.run("PING");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(info_field(&mut c, "stats", "evicted_keys") > 0);
    c.run("CONFIG SET maxmemory 0");
    let alive = |c: &mut Conn, i: i32| c.cmd(&["EXISTS", &format!("t:{i}")]) == Frame::Integer(1);
    let soonest_gone = (0..n / 10).filter(|&i| !alive(&mut c, i)).count();
    let latest_kept = (n - n / 10..n).filter(|&i| alive(&mut c, i)).count();
    (soonest_gone, latest_kept)
}

#[test]
fn volatile_ttl_evicts_the_soonest_first() {
    let ours = ttl_order(&Server::ferrokv(&[]));
    let theirs = ttl_order(&Server::redis(&[]));
    eprintln!(
        "soonest tenth evicted, latest tenth kept (of 400): ferrokv {ours:?}, redis {theirs:?}"
    );
    // Sampled like Redis's, so not exact; as good as Redis's within a margin.
    assert!(ours.0 + 40 >= theirs.0, "{ours:?} vs {theirs:?}");
    assert!(ours.1 + 40 >= theirs.1, "{ours:?} vs {theirs:?}");
    assert!(ours.1 >= 360, "{ours:?}");
}

#[test]
fn eviction_emits_evicted_and_breaks_watch() {
    let s = Server::ferrokv(&[]);
    let mut c = s.conn();
    let mut sub = s.conn();
    let mut w = s.conn();
    c.run("CONFIG SET notify-keyspace-events Ee");
    sub.run("SUBSCRIBE __keyevent@0__:evicted");
    c.run("SET watched 1");
    w.run("WATCH watched");
    c.run("CONFIG SET maxmemory-policy allkeys-random");
    c.run("CONFIG SET maxmemory 1");
    let deadline = Instant::now() + Duration::from_secs(10);
    while c.cmd(&["DBSIZE"]) != Frame::Integer(0) {
        assert!(Instant::now() < deadline, "the key was never evicted");
        std::thread::sleep(Duration::from_millis(5));
    }
    c.run("CONFIG SET maxmemory 0");
    let msg = sub.read().expect("an evicted event");
    assert!(show(&msg).contains("watched"), "{}", show(&msg));
    w.run("MULTI");
    w.run("PING");
    assert_eq!(w.run("EXEC"), Frame::NullArray);
    assert_eq!(info_field(&mut c, "stats", "evicted_keys"), 1);
}

/// A key evicted at a command's admission is invalidated before that command's
/// reply (Redis evicts before call()), and the command that allocated past the
/// limit is seen by the very next admission.
#[test]
fn eviction_invalidation_comes_before_the_reply_as_in_redis() {
    let run = |s: &Server| -> Vec<String> {
        let mut c = s.conn();
        let used = info_field(&mut c, "memory", "used_memory");
        let not_counted = info_field(&mut c, "memory", "mem_not_counted_for_evict");
        c.run("HELLO 3");
        c.run("CLIENT TRACKING on");
        c.run(&format!(
            "CONFIG SET maxmemory {}",
            used - not_counted + 100 * 1024
        ));
        c.run("CONFIG SET maxmemory-policy volatile-random");
        c.run("SETEX volatile-key 10000 x");
        c.run("GET volatile-key");
        c.run("SETBIT big-key 1600000 0");
        c.send(&["GETBIT", "big-key", "0"]);
        let first = show(&c.read().expect("a reply"));
        let second = show(&c.read().expect("a reply"));
        c.run("CONFIG SET maxmemory 0");
        vec![first, second]
    };
    // Redis's suite checks the same order (unit/tracking, "Tracking
    // invalidation message of eviction keys should be before response").
    let ours = run(&Server::ferrokv(&[]));
    assert_eq!(
        ours,
        vec![
            "Push([Bulk(b\"invalidate\"), Array([Bulk(b\"volatile-key\")])])".to_string(),
            ":0".to_string()
        ]
    );
}

/// A deterministic xorshift, so both servers see the same requests.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Cumulative weights of a Zipf distribution (exponent `s`) over `n` ranks.
fn zipf_cdf(n: usize, s: f64) -> Vec<f64> {
    let mut acc = 0.0;
    let mut cdf: Vec<f64> = (1..=n)
        .map(|k| {
            acc += 1.0 / (k as f64).powf(s);
            acc
        })
        .collect();
    for x in &mut cdf {
        *x /= acc;
    }
    cdf
}

struct CacheRun {
    hit_ratio: f64,
    used_max: u64,
    rss: u64,
    errors: u64,
}

/// A cache-aside client against a 50 MB allkeys-lru server: Zipf-distributed GETs
/// over 200k keys of 1000 bytes (4x the limit), a SET on each miss, and a flood
/// of one-off writes of as many bytes again, pipelined.
fn cache_run(s: &Server) -> CacheRun {
    const KEYS: usize = 200_000;
    const BATCH: usize = 200;
    const ROUNDS: usize = 1500;
    let mut c = s.conn();
    c.run("CONFIG SET maxmemory 50mb");
    c.run("CONFIG SET maxmemory-policy allkeys-lru");
    let cdf = zipf_cdf(KEYS, 0.9);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let value = vec![b'v'; 1000];
    let (mut hits, mut reqs, mut errors, mut used_max) = (0u64, 0u64, 0u64, 0u64);
    let mut one_off = 0u64;
    for round in 0..ROUNDS {
        let keys: Vec<String> = (0..BATCH)
            .map(|_| {
                let u = rng.unit();
                let k = cdf.partition_point(|&x| x < u);
                format!("hot:{k}")
            })
            .collect();
        for k in &keys {
            c.send(&[b"GET".as_slice(), k.as_bytes()]);
        }
        let mut missed = Vec::new();
        for k in &keys {
            match c.read() {
                Some(Frame::Bulk(_)) => {
                    if round >= ROUNDS / 2 {
                        hits += 1;
                    }
                }
                _ => missed.push(k),
            }
            if round >= ROUNDS / 2 {
                reqs += 1;
            }
        }
        for k in &missed {
            c.send(&[b"SET".as_slice(), k.as_bytes(), &value]);
        }
        // Cold one-off writes: 10x the limit in all (with the misses' SETs).
        for _ in 0..200 {
            one_off += 1;
            c.send(&[
                b"SET".as_slice(),
                format!("cold:{one_off}").as_bytes(),
                &value,
            ]);
        }
        for _ in 0..missed.len() + 200 {
            if let Some(Frame::Error(_)) = c.read() {
                errors += 1;
            }
        }
        if round % 50 == 0 {
            used_max = used_max.max(info_field(&mut c, "memory", "used_memory"));
        }
    }
    CacheRun {
        hit_ratio: hits as f64 / reqs as f64,
        used_max,
        rss: info_field(&mut c, "memory", "used_memory_rss"),
        errors,
    }
}

#[test]
fn a_50mb_lru_cache_keeps_its_hot_set_like_redis() {
    let limit = 50 * 1024 * 1024u64;
    let ours = cache_run(&Server::ferrokv(&[]));
    let theirs = cache_run(&Server::redis(&[]));
    eprintln!(
        "ferrokv: hit ratio {:.4}, max used {} ({:.3}x), rss {} ({:.3}x); redis: hit ratio {:.4}, max used {} ({:.3}x), rss {} ({:.3}x)",
        ours.hit_ratio,
        ours.used_max,
        ours.used_max as f64 / limit as f64,
        ours.rss,
        ours.rss as f64 / limit as f64,
        theirs.hit_ratio,
        theirs.used_max,
        theirs.used_max as f64 / limit as f64,
        theirs.rss,
        theirs.rss as f64 / limit as f64,
    );
    assert_eq!(ours.errors, 0, "OOM under allkeys-lru");
    assert!(ours.used_max <= limit + limit / 50, "{}", ours.used_max);
    assert!(
        ours.hit_ratio >= theirs.hit_ratio - 0.03,
        "hit ratio {} vs redis {}",
        ours.hit_ratio,
        theirs.hit_ratio
    );
}

/// A replica that stops reading (SIGSTOP) while its master takes writes: the
/// master keeps its stream for it, reports that as mem_clients_slaves and
/// mem_not_counted_for_evict, and does not evict for it (Redis's
/// freeMemoryGetNotCountedMemory; unit/maxmemory's "replica buffer don't induce
/// eviction"). Same steps on redis-server.
#[test]
fn a_stopped_replica_s_stream_does_not_make_its_master_evict_as_in_redis() {
    for kind in [ferrokv_tests::Kind::Ferrokv, ferrokv_tests::Kind::Redis] {
        let master = Server::start(kind, &[]);
        let replica = Server::start(kind, &[]);
        let mut m = master.conn();
        let mut r = replica.conn();
        for j in 0..100 {
            m.run(&format!("SETRANGE key:{j} 100000 asdf"));
        }
        m.run("CONFIG SET maxmemory-policy allkeys-random");
        m.run("CONFIG SET client-output-buffer-limit replica 100000000 100000000 300");
        m.run("CONFIG SET repl-backlog-size 10240");
        r.run(&format!("REPLICAOF 127.0.0.1 {}", master.port));
        ferrokv_tests::wait_until("the replica's link", Duration::from_secs(20), || {
            let Frame::Bulk(t) = r.run("INFO replication") else {
                return false;
            };
            String::from_utf8_lossy(&t).contains("master_link_status:up")
        });
        let used = info_field(&mut m, "memory", "used_memory");
        let not_counted = info_field(&mut m, "memory", "mem_not_counted_for_evict");
        // Room for the commands' own small allocations, far less than the stream.
        let limit = used - not_counted + 256 * 1024;
        m.run(&format!("CONFIG SET maxmemory {limit}"));
        let pid = replica.pid().to_string();
        let stop = std::process::Command::new("kill")
            .args(["-STOP", &pid])
            .status();
        assert!(stop.is_ok_and(|s| s.success()));
        let value = "A".repeat(100);
        for _ in 0..100_000 {
            m.cmd(&["SETRANGE", "key:0", "0", value.as_str()]);
        }
        let slaves = info_field(&mut m, "memory", "mem_clients_slaves");
        let not_counted = info_field(&mut m, "memory", "mem_not_counted_for_evict");
        let evicted = info_field(&mut m, "stats", "evicted_keys");
        let dbsize = m.run("DBSIZE");
        let _ = std::process::Command::new("kill")
            .args(["-CONT", &pid])
            .status();
        assert_eq!(dbsize, Frame::Integer(100), "{kind:?}");
        assert_eq!(evicted, 0, "{kind:?}");
        // Some of the stream sits in the kernel's socket buffers; the rest (~13 MB
        // written) waits in the master.
        assert!(slaves > 2 << 20, "{kind:?}: mem_clients_slaves {slaves}");
        assert!(
            not_counted > 2 << 20,
            "{kind:?}: mem_not_counted_for_evict {not_counted}"
        );
    }
}

/// Client eviction comes before key eviction (Redis's processCommand calls
/// evictClients before performEvictions), and what an evicted client held is
/// out of key eviction's figure at once, as Redis frees it at once: 20 clients
/// that never read their MGET replies are evicted and no key is (Redis's
/// unit/maxmemory "eviction due to output buffers of many MGET clients"), each
/// time right after the same flood with client eviction off evicted keys.
#[test]
fn clients_are_evicted_before_keys_like_redis() {
    let run = |s: &Server, client_eviction: bool| -> (u64, u64, u64) {
        let mut c = s.conn();
        c.run("CONFIG SET maxmemory 11mb");
        c.run("CONFIG SET maxmemory-policy allkeys-lru");
        c.run("FLUSHDB");
        if client_eviction {
            c.run("CONFIG SET maxmemory-clients 3mb");
            c.run("CLIENT NO-EVICT on");
        } else {
            c.run("CONFIG SET maxmemory-clients 0");
        }
        c.run("CONFIG RESETSTAT");
        for j in 0..50 {
            let r = c.run(&format!("SETRANGE {j} 100000 x"));
            assert!(!is_error(&r), "SETRANGE {j}: {}", show(&r));
        }
        let mut readers: Vec<Conn> = (0..20).map(|_| s.conn()).collect();
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = (0, 0, 50);
        while Instant::now() < deadline {
            readers.retain_mut(|r| r.try_send(&["MGET", "1"]).is_ok());
            last = (
                info_field(&mut c, "stats", "evicted_keys"),
                info_field(&mut c, "stats", "evicted_clients"),
                match c.run("DBSIZE") {
                    Frame::Integer(n) => n as u64,
                    other => panic!("DBSIZE: {}", show(&other)),
                },
            );
            if last.0 > 0 || last.1 > 0 {
                break;
            }
        }
        drop(readers);
        // The next round starts once the server has seen them go and freed
        // their buffers: else its SETRANGEs can meet the memory they still hold
        // (on a loaded machine their connections' tasks run late) and, with no
        // key yet to evict, be refused for OOM.
        let deadline = Instant::now() + Duration::from_secs(10);
        while info_field(&mut c, "clients", "connected_clients") > 1 {
            assert!(Instant::now() < deadline, "the readers never went");
            std::thread::sleep(Duration::from_millis(5));
        }
        last
    };
    for (name, s) in [
        ("ferrokv", Server::ferrokv(&[])),
        ("redis", Server::redis(&[])),
    ] {
        for round in 0..3 {
            let (keys, clients, dbsize) = run(&s, false);
            assert!(
                keys > 0 && clients == 0 && dbsize < 50,
                "{name} round {round} off: {keys} keys, {clients} clients, dbsize {dbsize}"
            );
            let (keys, clients, dbsize) = run(&s, true);
            assert!(
                keys == 0 && clients > 0 && dbsize == 50,
                "{name} round {round} on: {keys} keys, {clients} clients evicted, dbsize {dbsize}"
            );
        }
    }
}
