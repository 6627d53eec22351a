//! Replication across restarts and the full-sync job, with real processes:
//! - a master restarted from its RDB (SHUTDOWN saves `repl-id` /
//!   `repl-offset` / `repl-stream-db`) keeps its history as replid2, so its
//!   replica continues with a partial resync; keys that expired while it was
//!   down reach the replica as DELs through the backlog;
//! - a replica restarted from its RDB asks to continue its own history;
//! - replicas asking for a full sync within repl-diskless-sync-delay share one
//!   snapshot;
//! - FAILOVER pauses writes (they wait, then run) instead of refusing them.

// Test code: a failed setup step should just fail the test.
#![allow(clippy::unwrap_used)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::{ferrokv_binary, free_port, show, Conn};

/// A ferrokv-server in its own dir, restartable on the same port and dir.
struct Node {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
    args: Vec<String>,
}

impl Node {
    fn start(args: &[&str]) -> Node {
        let mut n = Node {
            child: None,
            port: free_port(),
            dir: tempfile::tempdir().unwrap(),
            args: args.iter().map(|s| s.to_string()).collect(),
        };
        n.spawn();
        n
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join("server.log"))
            .unwrap();
        let child = Command::new(ferrokv_binary())
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--dir", &self.dir.path().to_string_lossy()])
            .args(["--appendonly", "no", "--threads", "2"])
            .args(["--repl-diskless-sync-delay", "0"])
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        let port = self.port;
        wait_for("the server to answer", || ferrokv_tests::answers_ping(port));
    }

    /// SHUTDOWN (which saves: save points are configured) and wait for the exit.
    fn shutdown(&mut self) {
        let mut c = self.conn();
        // NOW: a shutdown waiting for a replica's ack would add its REPLCONF
        // GETACK to the stream, and the offsets these tests compare would move.
        c.send(&["SHUTDOWN", "NOW"]);
        let _ = c.read();
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }

    fn conn(&self) -> Conn {
        Conn::connect(self.port).unwrap()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    fn info(&self, field: &str) -> String {
        let text = match self.conn().cmd(&["INFO", "all"]) {
            Frame::Bulk(b) => String::from_utf8_lossy(&b).into_owned(),
            other => panic!("INFO: {}", show(&other)),
        };
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{field}:")))
            .map(|v| v.trim().to_string())
            .unwrap_or_default()
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().map_or(0, Child::id)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn synced(master: &Node, replica: &Node) -> bool {
    replica.info("master_link_status") == "up"
        && replica.info("master_repl_offset") == master.info("master_repl_offset")
}

fn text(f: Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(&b).into_owned(),
        Frame::Integer(i) => i.to_string(),
        other => show(&other),
    }
}

fn replica_of(master: &Node, extra: &[&str]) -> Node {
    let to = format!("127.0.0.1 {}", master.port);
    let mut args = vec!["--replicaof", &to];
    args.extend_from_slice(extra);
    Node::start(&args)
}

#[test]
fn restarted_master_continues_its_history_from_the_rdb() {
    let mut master = Node::start(&["--save", "3600 1", "--repl-ping-replica-period", "3600"]);
    let replica = replica_of(&master, &[]);
    let mut m = master.conn();
    for i in 0..200 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    // Keys that expire while the master is down, in two dbs.
    m.cmd(&["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for (db, key) in [("1", "gone:a"), ("3", "gone:b")] {
        m.cmd(&["SELECT", db]);
        m.cmd(&["SET", key, "v", "PX", "400"]);
    }
    wait_for("the replica to catch up", || synced(&master, &replica));
    assert_eq!(text(replica.conn().cmd(&["DBSIZE"])), "200");
    let replid = master.info("master_replid");
    let offset: u64 = master.info("master_repl_offset").parse().unwrap();
    drop(m);
    master.shutdown();
    // Past the keys' TTL before the restart (time must pass: nothing to poll).
    std::thread::sleep(Duration::from_millis(500));
    master.spawn();

    assert_ne!(master.info("master_replid"), replid);
    assert_eq!(master.info("master_replid2"), replid);
    assert_eq!(master.info("second_repl_offset"), (offset + 1).to_string());
    assert_eq!(master.info("rdb_last_load_keys_expired"), "2");
    // The DELs of the expired keys are in the backlog, past the old offset.
    let histlen: u64 = master.info("repl_backlog_histlen").parse().unwrap();
    assert!(histlen > 0);
    assert_eq!(
        master.info("master_repl_offset"),
        (offset + histlen).to_string()
    );
    wait_for("the replica to resync", || synced(&master, &replica));
    assert_eq!(master.info("sync_partial_ok"), "1");
    assert_eq!(master.info("sync_full"), "0");
    let mut r = replica.conn();
    r.cmd(&["SELECT", "3"]);
    assert_eq!(r.cmd(&["EXISTS", "gone:b"]), Frame::Integer(0));
    r.cmd(&["SELECT", "1"]);
    assert_eq!(r.cmd(&["EXISTS", "gone:a"]), Frame::Integer(0));
    r.cmd(&["SELECT", "0"]);
    assert_eq!(text(r.cmd(&["DBSIZE"])), "200");
    assert_eq!(replica.info("master_replid"), master.info("master_replid"));
}

#[test]
fn restarted_replica_continues_from_its_rdb() {
    let master = Node::start(&["--repl-ping-replica-period", "3600"]);
    let mut replica = replica_of(&master, &["--save", "3600 1"]);
    let mut m = master.conn();
    m.cmd(&["SELECT", "5"]);
    for i in 0..100 {
        m.cmd(&["SET", &format!("k{i}"), "v"]);
    }
    wait_for("the replica to catch up", || synced(&master, &replica));
    assert_eq!(master.info("sync_full"), "1");
    replica.shutdown();
    // Written while the replica is down: the partial resync carries it, in
    // the db the stream had selected (the master sends no new SELECT).
    m.cmd(&["SET", "while-down", "1"]);
    replica.spawn();
    wait_for("the replica to resync", || synced(&master, &replica));
    assert_eq!(master.info("sync_full"), "1");
    assert_eq!(master.info("sync_partial_ok"), "1");
    let mut r = replica.conn();
    r.cmd(&["SELECT", "5"]);
    assert_eq!(text(r.cmd(&["GET", "while-down"])), "1");
    assert_eq!(text(r.cmd(&["DBSIZE"])), "101");
}

#[test]
fn replicas_syncing_together_share_one_snapshot() {
    let master = Node::start(&[
        "--repl-diskless-sync",
        "yes",
        "--repl-diskless-sync-delay",
        "30",
        "--repl-diskless-sync-max-replicas",
        "2",
    ]);
    master.conn().cmd(&["SET", "k", "v"]);
    let a = replica_of(&master, &[]);
    let b = replica_of(&master, &[]);
    wait_for("both replicas to sync", || {
        synced(&master, &a) && synced(&master, &b)
    });
    assert_eq!(master.info("sync_full"), "2");
    let log = master.log();
    assert_eq!(
        log.matches("Starting BGSAVE for SYNC").count(),
        1,
        "one snapshot for both: {log}"
    );
    assert_eq!(text(b.conn().cmd(&["GET", "k"])), "v");
}

#[test]
fn failover_pauses_writes_until_it_ends() {
    let master = Node::start(&[]);
    let replica = replica_of(&master, &[]);
    master.conn().cmd(&["SET", "k", "1"]);
    wait_for("the replica to catch up", || synced(&master, &replica));
    // A stopped replica never acks: the failover keeps waiting.
    let stop = |sig: &str| {
        let ok = Command::new("kill")
            .args([sig, &replica.pid().to_string()])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "kill {sig}");
    };
    stop("-STOP");
    let mut m = master.conn();
    m.cmd(&["SET", "k", "2"]);
    assert_eq!(text(m.cmd(&["FAILOVER", "TIMEOUT", "60000"])), "OK");
    assert_eq!(master.info("master_failover_state"), "waiting-for-sync");
    let mut writer = master.conn();
    writer.send(&["INCR", "k"]);
    wait_for("the write to be held", || {
        master.info("blocked_clients") == "1"
    });
    // Reads go on.
    assert_eq!(text(m.cmd(&["GET", "k"])), "2");
    assert_eq!(text(m.cmd(&["FAILOVER", "ABORT"])), "OK");
    assert_eq!(writer.read(), Some(Frame::Integer(3)));
    stop("-CONT");
    assert_eq!(master.info("master_failover_state"), "no-failover");
}

fn wait_for(what: &str, ok: impl FnMut() -> bool) {
    ferrokv_tests::wait_until(what, Duration::from_secs(30), ok);
}
