//! Scripts as applications rely on them: atomic under concurrency (keys the script
//! did not declare included), WATCH, long scripts (BUSY, SCRIPT KILL, UNKILLABLE,
//! SHUTDOWN NOSAVE), effects propagated to the AOF as one MULTI/EXEC, libraries that
//! survive a restart (RDB and AOF, loadable by redis-server), and real client
//! libraries: redis-py's Lock under contention and an rq producer/worker queue.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Kind, Server};

fn int(f: &Frame) -> i64 {
    match f {
        Frame::Integer(i) => *i,
        Frame::Bulk(b) => std::str::from_utf8(b)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(-1),
        other => panic!("not an integer: {}", show(other)),
    }
}

const ACCOUNTS: usize = 64;
const START: i64 = 1000;

/// Moves an amount between two accounts named from ARGV (no declared keys: the
/// script builds its key names, as job queues do), keeping the total.
const TRANSFER: &str = "
local from = 'acct:' .. ARGV[1]
local to = 'acct:' .. ARGV[2]
local amount = tonumber(ARGV[3])
local balance = tonumber(redis.call('get', from))
if balance < amount then return 0 end
redis.call('decrby', from, amount)
-- A check in the middle: another client must never see this state.
redis.call('incrby', to, amount)
return 1
";

/// Sums every account in one script.
const TOTAL: &str = "
local sum = 0
for i = 1, tonumber(ARGV[1]) do sum = sum + tonumber(redis.call('get', 'acct:' .. i)) end
return sum
";

#[test]
fn transfers_between_undeclared_keys_in_many_shards_stay_atomic() {
    let server = Server::ferrokv(&["--threads", "2"]);
    let mut c = server.conn();
    for i in 1..=ACCOUNTS {
        c.cmd(&["SET", &format!("acct:{i}"), &START.to_string()]);
    }
    let expected = START * ACCOUNTS as i64;
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for w in 0..4u64 {
        let port = server.port;
        let stop = stop.clone();
        workers.push(std::thread::spawn(move || {
            let mut c = Conn::connect(port).expect("connect");
            let mut x = w.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
            let mut n = 0u64;
            while !stop.load(Ordering::Relaxed) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                let from = (x % ACCOUNTS as u64) + 1;
                let to = ((x >> 8) % ACCOUNTS as u64) + 1;
                let amount = (x >> 16) % 50;
                // Half declare their keys, half do not: both must be atomic.
                let reply = if n.is_multiple_of(2) {
                    c.cmd(&[
                        "EVAL",
                        TRANSFER,
                        "0",
                        &from.to_string(),
                        &to.to_string(),
                        &amount.to_string(),
                    ])
                } else {
                    c.cmd(&[
                        "EVAL",
                        TRANSFER,
                        "2",
                        &format!("acct:{from}"),
                        &format!("acct:{to}"),
                        &from.to_string(),
                        &to.to_string(),
                        &amount.to_string(),
                    ])
                };
                assert!(matches!(reply, Frame::Integer(0 | 1)), "{}", show(&reply));
                n += 1;
            }
            n
        }));
    }
    // Readers: a script summing everything, and MGET of every account (one
    // command, atomic over its shards), must always see the same total.
    let keys: Vec<String> = (1..=ACCOUNTS).map(|i| format!("acct:{i}")).collect();
    let deadline = Instant::now() + Duration::from_secs(4);
    let mut checks = 0;
    while Instant::now() < deadline {
        let total = int(&c.cmd(&["EVAL", TOTAL, "0", &ACCOUNTS.to_string()]));
        assert_eq!(total, expected, "a script saw a partial transfer");
        let mut mget = vec!["MGET".to_string()];
        mget.extend(keys.iter().cloned());
        let Frame::Array(vals) = c.cmd(&mget) else {
            panic!("MGET reply")
        };
        let sum: i64 = vals.iter().map(int).sum();
        assert_eq!(sum, expected, "MGET saw a partial transfer");
        checks += 1;
    }
    stop.store(true, Ordering::Relaxed);
    let transfers: u64 = workers.into_iter().map(|w| w.join().expect("worker")).sum();
    assert!(
        transfers > 100 && checks > 10,
        "too little ran: {transfers} transfers, {checks} checks"
    );
}

#[test]
fn a_script_write_aborts_the_transactions_watching_its_key() {
    let server = Server::ferrokv(&[]);
    let mut a = server.conn();
    let mut b = server.conn();
    a.cmd(&["SET", "k", "1"]);
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["EVAL", "return redis.call('incr', KEYS[1])", "1", "k"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "k", "x"]);
    assert_eq!(a.cmd(&["EXEC"]), Frame::NullArray);
    // A script that only reads leaves the watch alone.
    a.cmd(&["WATCH", "k"]);
    b.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", "k"]);
    a.cmd(&["MULTI"]);
    a.cmd(&["SET", "k", "x"]);
    assert!(matches!(a.cmd(&["EXEC"]), Frame::Array(_)));
}

fn wait_busy(c: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match c.cmd(&["PING"]) {
            Frame::Error(e) if e.starts_with(b"BUSY") => return,
            _ if Instant::now() > deadline => panic!("the script never became busy"),
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

#[test]
fn long_scripts_give_busy_and_can_be_killed_unless_they_wrote() {
    let server = Server::ferrokv(&["--busy-reply-threshold", "50"]);
    let mut other = server.conn();
    // A read-only loop: BUSY for others, SCRIPT KILL stops it.
    let mut runner = server.conn();
    runner.send(&["EVAL", "local i = 0 while true do i = i + 1 end", "0"]);
    wait_busy(&mut other);
    // Commands flagged allow-busy still run.
    assert!(matches!(other.cmd(&["FUNCTION", "STATS"]), Frame::Error(_)));
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Frame::Simple("OK".into()));
    let reply = runner.read().expect("reply");
    assert!(
        show(&reply).contains("Script killed by user with SCRIPT KILL"),
        "{}",
        show(&reply)
    );
    assert_eq!(other.cmd(&["PING"]), Frame::Simple("PONG".into()));
    assert!(show(&other.cmd(&["SCRIPT", "KILL"])).contains("NOTBUSY"));
    // pcall cannot catch the kill.
    runner.send(&[
        "EVAL",
        "while true do pcall(function() while true do end end) end",
        "0",
    ]);
    wait_busy(&mut other);
    assert_eq!(other.cmd(&["SCRIPT", "KILL"]), Frame::Simple("OK".into()));
    assert!(show(&runner.read().expect("reply")).contains("killed"));
    // A function is killed with FUNCTION KILL, not SCRIPT KILL.
    other.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=spin\nredis.register_function{function_name='spin', callback=function() while true do end end, flags={'no-writes'}}",
    ]);
    runner.send(&["FCALL", "spin", "0"]);
    wait_busy(&mut other);
    assert!(show(&other.cmd(&["SCRIPT", "KILL"])).contains("FUNCTION KILL"));
    let stats = show(&other.cmd(&["FUNCTION", "STATS"]));
    assert!(stats.contains("spin") && stats.contains("FCALL"), "{stats}");
    assert_eq!(other.cmd(&["FUNCTION", "KILL"]), Frame::Simple("OK".into()));
    runner.read().expect("reply");
    // A script that wrote cannot be killed; SHUTDOWN NOSAVE still stops the server.
    runner.send(&["EVAL", "redis.call('set', 'x', 1) while true do end", "0"]);
    wait_busy(&mut other);
    assert!(show(&other.cmd(&["SCRIPT", "KILL"])).contains("UNKILLABLE"));
    assert!(show(&other.cmd(&["SHUTDOWN"])).contains("BUSY"));
    other.send(&["SHUTDOWN", "NOSAVE"]);
    let mut server = server;
    assert!(
        server.wait_exit(Duration::from_secs(10)).is_some(),
        "SHUTDOWN NOSAVE did not stop the server"
    );
}

fn read_aof(dir: &Path) -> String {
    let mut text = String::new();
    if let Ok(entries) = std::fs::read_dir(dir.join("appendonlydir")) {
        let mut paths: Vec<_> = entries.flatten().map(|e| e.path()).collect();
        paths.sort();
        for p in paths {
            if p.to_string_lossy().contains(".incr.") {
                text.push_str(&String::from_utf8_lossy(
                    &std::fs::read(&p).unwrap_or_default(),
                ));
            }
        }
    }
    text
}

#[test]
fn script_effects_reach_the_aof_as_one_transaction_and_functions_survive_restarts() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().to_string_lossy().into_owned();
    let library = "#!lua name=lib\nredis.register_function('bump', function(keys) return redis.call('incr', keys[1]) end)";
    {
        let s = Server::start(
            Kind::Ferrokv,
            &[
                "--dir",
                &d,
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
            ],
        );
        let mut c = s.conn();
        c.cmd(&[
            "EVAL",
            "redis.call('set', 'a', 1) redis.call('set', 'b', 2) return 1",
            "0",
        ]);
        c.cmd(&["EVAL", "return redis.call('set', 'c', 3)", "0"]);
        // Reads only: nothing logged.
        c.cmd(&["EVAL", "return redis.call('get', 'a')", "0"]);
        c.cmd(&["FUNCTION", "LOAD", library]);
        assert_eq!(int(&c.cmd(&["FCALL", "bump", "1", "n"])), 1);
        let aof = read_aof(dir.path());
        let multi = aof.matches("MULTI").count();
        assert_eq!(multi, 1, "one MULTI for the two-write script:\n{aof}");
        assert!(aof.contains("EXEC"));
        assert!(
            !aof.contains("EVAL"),
            "effects are logged, not the script:\n{aof}"
        );
        assert!(aof.contains("FUNCTION"), "FUNCTION LOAD is logged:\n{aof}");
    }
    // Restart from the AOF: data and the library are back.
    {
        let s = Server::start(Kind::Ferrokv, &["--dir", &d, "--appendonly", "yes"]);
        let mut c = s.conn();
        assert_eq!(int(&c.cmd(&["GET", "b"])), 2);
        assert_eq!(int(&c.cmd(&["FCALL", "bump", "1", "n"])), 2);
        // Then from an RDB file, which redis-server must load too.
        assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()));
    }
    for (kind, n) in [(Kind::Ferrokv, 3), (Kind::Redis, 4)] {
        let s = Server::start(
            kind,
            &[
                "--dir",
                &d,
                "--dbfilename",
                "dump.rdb",
                "--appendonly",
                "no",
            ],
        );
        let mut c = s.conn();
        assert_eq!(int(&c.cmd(&["FCALL", "bump", "1", "n"])), n, "{kind:?}");
        assert_eq!(int(&c.cmd(&["GET", "c"])), 3, "{kind:?}");
        if kind == Kind::Ferrokv {
            // Saved again (n = 3) for redis-server to load.
            assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()));
        }
    }
}

/// Runs a Python program (redis-py, rq); skipped, loudly, when they are missing
/// (`cargo xtask test` installs them).
fn python(program: &str, port: u16) -> Option<String> {
    let importable = std::process::Command::new("python3")
        .args(["-c", "import redis, rq"])
        .status()
        .is_ok_and(|s| s.success());
    if !importable {
        eprintln!("SKIPPED: python3 with redis and rq is not available");
        return None;
    }
    let out = std::process::Command::new("python3")
        .args(["-c", program, &port.to_string()])
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "python failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    Some(String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn redis_py_lock_keeps_a_counter_exact_under_contention() {
    let server = Server::ferrokv(&[]);
    let program = r#"
import sys, threading, redis
port = int(sys.argv[1])
def work():
    r = redis.Redis(port=port)
    for _ in range(100):
        with r.lock('the-lock', timeout=5, blocking_timeout=10):
            v = int(r.get('counter') or 0)
            r.set('counter', v + 1)
threads = [threading.Thread(target=work) for _ in range(6)]
for t in threads: t.start()
for t in threads: t.join()
r = redis.Redis(port=port)
print(int(r.get('counter')))
# extend / reacquire / release of someone else's lock (all Lua).
l = r.lock('other', timeout=10)
assert l.acquire()
assert l.extend(5)
assert l.reacquire()
l2 = r.lock('other', timeout=10)
l2.local.token = b'not-mine'
try:
    l2.release()
    raise SystemExit('released a lock it does not own')
except redis.exceptions.LockNotOwnedError:
    pass
l.release()
"#;
    if let Some(out) = python(program, server.port) {
        assert_eq!(out.lines().next(), Some("600"));
    }
}

#[test]
fn rq_producers_and_a_worker_do_every_job_once() {
    let server = Server::ferrokv(&[]);
    let dir = tempfile::tempdir().expect("tmp");
    std::fs::write(
        dir.path().join("jobs.py"),
        "import redis, sys\n\
         def record(port, n):\n    r = redis.Redis(port=port)\n    r.incr('done:%d' % n)\n    r.sadd('done', n)\n    return n * 2\n",
    )
    .expect("jobs module");
    let program = format!(
        r#"
import sys, threading
sys.path.insert(0, {dir:?})
import redis, rq, jobs
port = int(sys.argv[1])
conn = redis.Redis(port=port)
q = rq.Queue('work', connection=conn)
def produce(base):
    c = redis.Redis(port=port)
    qq = rq.Queue('work', connection=c)
    for i in range(base, base + 100):
        qq.enqueue(jobs.record, port, i, job_id='job-%d' % i)
producers = [threading.Thread(target=produce, args=(b * 100,)) for b in range(3)]
for p in producers: p.start()
for p in producers: p.join()
w = rq.SimpleWorker([q], connection=conn)
w.work(burst=True)
ok = all(int(conn.get('done:%d' % i) or 0) == 1 for i in range(300))
results = sum(rq.job.Job.fetch('job-%d' % i, connection=conn).result for i in range(300))
print(conn.scard('done'), ok, results, len(q), rq.registry.FinishedJobRegistry(queue=q).count)
"#,
        dir = dir.path().to_string_lossy()
    );
    if let Some(out) = python(&program, server.port) {
        // rq's worker logs to stdout; the summary is the last line.
        let last = out.lines().last().unwrap_or_default();
        assert_eq!(last, "300 True 89700 0 300");
    }
}

/// redis.set_repl: REPL_NONE reaches neither the AOF nor the replicas, REPL_AOF the
/// AOF alone, REPL_REPLICA the replicas alone; MULTI/EXEC wrap both streams, as
/// Redis's propagatePendingCommands (unit/scripting "selective replication").
#[test]
fn set_repl_sends_each_command_to_the_chosen_targets() {
    let dir = tempfile::tempdir().expect("tmp");
    let d = dir.path().to_string_lossy().into_owned();
    let master = Server::start(
        Kind::Ferrokv,
        &[
            "--dir",
            &d,
            "--appendonly",
            "yes",
            "--appendfsync",
            "always",
            "--enable-debug-command",
            "yes",
        ],
    );
    let replica = Server::start(Kind::Ferrokv, &["--repl-diskless-sync-delay", "0"]);
    let mut r = replica.conn();
    r.cmd(&["REPLICAOF", "127.0.0.1", &master.port.to_string()]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !show(&r.run("INFO replication")).contains("master_link_status:up") {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut m = master.conn();
    m.cmd(&[
        "EVAL",
        "redis.call('set','a','1') \
         redis.set_repl(redis.REPL_NONE) redis.call('set','b','2') \
         redis.set_repl(redis.REPL_AOF) redis.call('set','c','3') \
         redis.set_repl(redis.REPL_REPLICA) redis.call('set','e','5') \
         redis.set_repl(redis.REPL_ALL) redis.call('set','d','4')",
        "0",
    ]);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = show(&r.run("MGET a b c d e"));
        if got == "[\"1\", NullBulk, NullBulk, \"4\", \"5\"]" {
            break;
        }
        assert!(Instant::now() < deadline, "replica has {got}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        show(&m.run("MGET a b c d e")),
        "[\"1\", \"2\", \"3\", \"4\", \"5\"]"
    );
    let aof = read_aof(dir.path());
    for (key, logged) in [
        ("a", true),
        ("b", false),
        ("c", true),
        ("d", true),
        ("e", false),
    ] {
        let set = format!("$3\r\nset\r\n$1\r\n{key}\r\n");
        let set_upper = format!("$3\r\nSET\r\n$1\r\n{key}\r\n");
        assert_eq!(
            aof.contains(&set) || aof.contains(&set_upper),
            logged,
            "{key} in the AOF:\n{aof}"
        );
    }
    // The AOF's block loads back as it was logged.
    assert_eq!(show(&m.run("DEBUG LOADAOF")), "+OK");
    assert_eq!(
        show(&m.run("MGET a b c d e")),
        "[\"1\", NullBulk, \"3\", \"4\", NullBulk]"
    );
}

fn used_memory_lua(c: &mut Conn) -> i64 {
    let Frame::Bulk(text) = c.run("INFO memory") else {
        panic!("INFO did not reply a bulk string");
    };
    String::from_utf8_lossy(&text)
        .lines()
        .find_map(|l| l.strip_prefix("used_memory_lua:"))
        .and_then(|v| v.trim().parse().ok())
        .expect("used_memory_lua in INFO memory")
}

#[test]
fn used_memory_lua_counts_loaded_scripts_and_drops_on_flush_like_redis() {
    // The figures are each interpreter's own (another Lua build, another
    // allocator): what must hold is how they move.
    for kind in [Kind::Redis, Kind::Ferrokv] {
        let server = Server::start(kind, &[]);
        let mut c = server.conn();
        let start = used_memory_lua(&mut c);
        for i in 0..300 {
            let body = format!("return {i} + 1 -- {}", "x".repeat(60));
            assert!(matches!(c.cmd(&["SCRIPT", "LOAD", &body]), Frame::Bulk(_)));
        }
        let loaded = used_memory_lua(&mut c);
        assert!(
            loaded > start + 50_000,
            "{kind:?}: {start} -> {loaded} after 300 SCRIPT LOADs"
        );
        assert_eq!(c.run("SCRIPT FLUSH"), Frame::Simple("OK".into()));
        let flushed = used_memory_lua(&mut c);
        // Most of what the loads added is given back (not all: a fresh
        // interpreter has its own size, which is ferrokv's start figure only
        // once one was created).
        assert!(
            flushed < loaded - 40_000,
            "{kind:?}: {loaded} -> {flushed} after SCRIPT FLUSH"
        );
    }
}
