//! Redis Sentinel (the real one: `redis-server --sentinel` 7.0) managing
//! ferrokv exactly as it manages Redis: three sentinels monitor a ferrokv
//! master with two ferrokv replicas; the master is killed; the sentinels agree
//! it is down, promote a replica (SLAVEOF NO ONE, CONFIG REWRITE, CLIENT KILL in
//! one MULTI), reconfigure the other one to follow it, and a client that asks
//! the sentinels for the master (as redis-py's `redis.sentinel.Sentinel` does,
//! and redis-py itself when it is installed) keeps working. The old master,
//! restarted from its config file, is turned into a replica of the new one.
//!
//! The time from the kill to a fully reconfigured set is printed (run with
//! `--nocapture`); docs/PERFORMANCE.md records it. Skipped, with a message,
//! when redis-server is not installed.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{ferrokv_binary, free_port, show, Conn};

const MASTER_NAME: &str = "mymaster";
/// Sentinel's down-after-milliseconds: how long a silent master takes to be
/// subjectively down (the floor of the failover time).
const DOWN_AFTER_MS: u64 = 1000;

fn redis_server() -> Option<PathBuf> {
    [
        std::env::var("REDIS_SERVER").ok(),
        Some("/usr/bin/redis-server".into()),
    ]
    .into_iter()
    .flatten()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// A process started from a config file in its own temp dir (CONFIG REWRITE
/// and Sentinel's own config rewriting need a file).
struct Node {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    bin: PathBuf,
    extra: Vec<String>,
}

impl Node {
    fn start(bin: &Path, config: &str, extra: &[&str]) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let conf = format!(
            "port {port}\nbind 127.0.0.1\ndir {}\n{config}",
            dir.path().display()
        );
        std::fs::write(dir.path().join("node.conf"), conf).unwrap();
        let mut n = Node {
            child: None,
            port,
            dir,
            bin: bin.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
        };
        n.spawn();
        n
    }

    fn conf_path(&self) -> PathBuf {
        self.dir.path().join("node.conf")
    }

    fn conf(&self) -> String {
        std::fs::read_to_string(self.conf_path()).unwrap_or_default()
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("node.log"))
            .unwrap();
        let child = Command::new(&self.bin)
            .arg(self.conf_path())
            .args(&self.extra)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        wait_for(&format!("the process on port {port} to answer"), || {
            ferrokv_tests::answers_ping(port)
        });
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.port).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("node.log")).unwrap_or_default()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill();
    }
}

fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    ferrokv_tests::wait_until(what, Duration::from_secs(60), ok);
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        Frame::Integer(i) => i.to_string(),
        other => show(other),
    }
}

/// A reply of field/value pairs (SENTINEL MASTER) as a lookup.
fn pairs(f: &Frame) -> Vec<(String, String)> {
    match f {
        Frame::Array(items) => items
            .chunks(2)
            .filter(|c| c.len() == 2)
            .map(|c| (text(&c[0]), text(&c[1])))
            .collect(),
        Frame::Map(items) => items.iter().map(|(k, v)| (text(k), text(v))).collect(),
        _ => Vec::new(),
    }
}

fn get<'a>(p: &'a [(String, String)], name: &str) -> Option<&'a str> {
    p.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// ROLE's first fields: ("master", _) or ("slave", "port:state").
fn role(port: u16) -> Option<(String, String)> {
    let mut c = Conn::connect(port).ok()?;
    c.try_send(&["ROLE"]).ok()?;
    match c.read()? {
        Frame::Array(items) if items.len() >= 3 => {
            let kind = text(&items[0]);
            if kind == "slave" && items.len() >= 4 {
                Some((kind, format!("{}:{}", text(&items[2]), text(&items[3]))))
            } else {
                Some((kind, String::new()))
            }
        }
        _ => None,
    }
}

/// The master's port as a sentinel reports it.
fn sentinel_master_port(sentinel: u16) -> Option<u16> {
    let mut c = Conn::connect(sentinel).ok()?;
    c.try_send(&["SENTINEL", "get-master-addr-by-name", MASTER_NAME])
        .ok()?;
    match c.read()? {
        Frame::Array(items) if items.len() == 2 => text(&items[1]).parse().ok(),
        _ => None,
    }
}

/// What a Sentinel-aware client does: ask the sentinels in turn for the
/// master, connect, check with ROLE that it is a master, run the command.
fn via_sentinels(sentinels: &[Node], args: &[&str]) -> Option<Frame> {
    for s in sentinels {
        let Some(port) = sentinel_master_port(s.port) else {
            continue;
        };
        if role(port).map(|r| r.0).as_deref() != Some("master") {
            continue;
        }
        let mut c = Conn::connect(port).ok()?;
        c.try_send(args).ok()?;
        return c.read();
    }
    None
}

fn python_with_redis_py() -> bool {
    Command::new("python3")
        .args(["-c", "import redis.sentinel"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// redis-py's Sentinel client: writes `key`, reads it back from the master
/// and waits for a replica to have it (`slave_for`).
fn redis_py(sentinels: &[Node], key: &str) {
    let addrs: Vec<String> = sentinels
        .iter()
        .map(|s| format!("('127.0.0.1', {})", s.port))
        .collect();
    let script = format!(
        r#"
import time
from redis.sentinel import Sentinel
s = Sentinel([{addrs}], socket_timeout=2)
m = s.master_for('{MASTER_NAME}', socket_timeout=2)
m.set('{key}', 'py')
assert m.get('{key}') == b'py', 'master read'
assert m.wait(1, 5000) >= 1, 'WAIT 1'
r = s.slave_for('{MASTER_NAME}', socket_timeout=2)
deadline = time.time() + 30
while r.get('{key}') != b'py':
    assert time.time() < deadline, 'replica read'
    time.sleep(0.05)
print('redis-py ok', s.discover_master('{MASTER_NAME}'), len(s.discover_slaves('{MASTER_NAME}')))
"#,
        addrs = addrs.join(", ")
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "redis-py through Sentinel failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    print!("{}", String::from_utf8_lossy(&out.stdout));
}

#[test]
fn sentinel_fails_over_a_ferrokv_master() {
    let Some(redis) = redis_server() else {
        eprintln!("skipped: redis-server (with --sentinel) is not installed");
        return;
    };
    failover_with(&redis, "ferrokv", &ferrokv_binary(), &["--threads", "2"]);
}

/// The same scenario with redis-server nodes: the reference for the time.
#[test]
fn sentinel_fails_over_a_redis_master() {
    let Some(redis) = redis_server() else {
        eprintln!("skipped: redis-server (with --sentinel) is not installed");
        return;
    };
    failover_with(&redis, "redis-server", &redis, &[]);
}

fn failover_with(redis: &Path, label: &str, nodes: &Path, node_args: &[&str]) {
    let base = "save \"\"\nappendonly no\nrepl-diskless-sync-delay 0\n";
    let mut master = Node::start(nodes, base, node_args);
    let replica_conf = |prio: u32| {
        format!(
            "{base}replicaof 127.0.0.1 {}\nreplica-priority {prio}\n",
            master.port
        )
    };
    let replicas = [
        Node::start(nodes, &replica_conf(100), node_args),
        Node::start(nodes, &replica_conf(90), node_args),
    ];
    let mut m = master.conn();
    for i in 0..100 {
        m.cmd(&["SET", &format!("k{i}"), &i.to_string()]);
    }
    wait_for("both replicas to sync", || {
        matches!(m.cmd(&["WAIT", "2", "100"]), Frame::Integer(2))
    });

    let sentinel_conf = format!(
        "sentinel monitor {MASTER_NAME} 127.0.0.1 {} 2\n\
         sentinel down-after-milliseconds {MASTER_NAME} {DOWN_AFTER_MS}\n\
         sentinel failover-timeout {MASTER_NAME} 10000\n\
         sentinel parallel-syncs {MASTER_NAME} 1\n",
        master.port
    );
    let sentinels: Vec<Node> = (0..3)
        .map(|_| Node::start(redis, &sentinel_conf, &["--sentinel"]))
        .collect();
    // Each sentinel learns the replicas from the master's INFO and the other
    // sentinels from the `__sentinel__:hello` channel on the monitored nodes.
    for s in &sentinels {
        let mut c = s.conn();
        wait_for("the sentinels to discover replicas and each other", || {
            let p = pairs(&c.cmd(&["SENTINEL", "MASTER", MASTER_NAME]));
            get(&p, "num-slaves") == Some("2") && get(&p, "num-other-sentinels") == Some("2")
        });
        let listed = c.cmd(&["SENTINEL", "REPLICAS", MASTER_NAME]);
        let Frame::Array(list) = &listed else {
            panic!("SENTINEL REPLICAS: {}", show(&listed));
        };
        for r in list {
            let p = pairs(r);
            assert_eq!(get(&p, "master-link-status"), Some("ok"), "{p:?}");
            assert_eq!(get(&p, "flags"), Some("slave"), "{p:?}");
        }
        let prios: Vec<_> = list
            .iter()
            .filter_map(|r| get(&pairs(r), "slave-priority").map(str::to_string))
            .collect();
        assert!(prios.contains(&"90".to_string()), "{prios:?}");
    }
    let ok = via_sentinels(&sentinels, &["SET", "before", "failover"]);
    assert!(
        matches!(ok, Some(Frame::Simple(ref s)) if &s[..] == b"OK"),
        "{ok:?}"
    );
    assert!(matches!(m.cmd(&["WAIT", "2", "5000"]), Frame::Integer(2)));
    if python_with_redis_py() {
        redis_py(&sentinels, "py:before");
    } else {
        eprintln!("redis-py not installed: its part is skipped (pip install redis)");
    }
    assert!(matches!(m.cmd(&["WAIT", "2", "5000"]), Frame::Integer(2)));
    drop(m);

    let old_port = master.port;
    let killed = Instant::now();
    master.kill();

    // Sentinel picks the replica with the lower replica-priority number.
    let (promoted, other) = (&replicas[1], &replicas[0]);
    let mut switched = None;
    wait_for("the sentinels to switch to the new master", || {
        if switched.is_none() && sentinel_master_port(sentinels[0].port) == Some(promoted.port) {
            switched = Some(killed.elapsed());
        }
        switched.is_some()
            && sentinels
                .iter()
                .all(|s| sentinel_master_port(s.port) == Some(promoted.port))
            && role(promoted.port).is_some_and(|r| r.0 == "master")
            && role(other.port)
                .is_some_and(|r| r.0 == "slave" && r.1 == format!("{}:connected", promoted.port))
    });
    let reconfigured = killed.elapsed();
    println!(
        "sentinel failover of {label} nodes: new master announced {:.2}s after the kill, other replica following it after {:.2}s (down-after-milliseconds {DOWN_AFTER_MS})",
        switched.unwrap_or_default().as_secs_f64(),
        reconfigured.as_secs_f64()
    );

    // Nothing acknowledged by WAIT before the kill is lost.
    let mut p = promoted.conn();
    assert_eq!(text(&p.cmd(&["GET", "before"])), "failover");
    assert_eq!(text(&p.cmd(&["GET", "k99"])), "99");
    assert_eq!(text(&p.cmd(&["DBSIZE"])), "102");
    // The client through the sentinels writes to the new master, which
    // replicates to the reconfigured replica.
    let ok = via_sentinels(&sentinels, &["SET", "after", "failover"]);
    assert!(
        matches!(ok, Some(Frame::Simple(ref s)) if &s[..] == b"OK"),
        "{ok:?}"
    );
    assert!(matches!(p.cmd(&["WAIT", "1", "5000"]), Frame::Integer(1)));
    assert_eq!(text(&other.conn().cmd(&["GET", "after"])), "failover");
    if python_with_redis_py() {
        redis_py(&sentinels, "py:after");
    }
    // Sentinel's CONFIG REWRITE: the promoted node's file no longer names a
    // master, the other's names the new one.
    assert!(
        !promoted.conf().contains("replicaof"),
        "{}",
        promoted.conf()
    );
    assert!(
        other
            .conf()
            .contains(&format!("replicaof 127.0.0.1 {}", promoted.port)),
        "{}",
        other.conf()
    );

    // The old master comes back from its own config file (still a master)
    // and Sentinel turns it into a replica of the new one.
    master.spawn();
    assert_eq!(master.port, old_port);
    // Sentinel waits failover-timeout after the node is back (and its next
    // INFO) before it reconfigures it.
    let converted = ferrokv_tests::eventually(Duration::from_secs(120), || {
        role(master.port)
            .is_some_and(|r| r.0 == "slave" && r.1 == format!("{}:connected", promoted.port))
    });
    assert!(
        converted,
        "timed out waiting for the old master to be converted into a replica; its role {:?}, its log:\n{}\nsentinel logs:\n{}",
        role(master.port),
        master.log(),
        sentinels.iter().map(Node::log).collect::<Vec<_>>().join("\n----\n")
    );
    wait_for("the old master to catch up", || {
        text(&master.conn().cmd(&["GET", "after"])) == "failover"
    });
    for s in &sentinels {
        assert!(
            s.log().contains("+switch-master"),
            "sentinel log: {}",
            s.log()
        );
    }
}
