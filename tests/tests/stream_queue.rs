//! A work queue on a stream, as job frameworks run one: producers XADD jobs,
//! consumers of one group take them with XREADGROUP BLOCK and acknowledge each
//! with XACK, and one consumer dies holding jobs it never acknowledged; a
//! rescuer takes those over with XAUTOCLAIM. Every job must be acknowledged
//! exactly once, and no job may be delivered again after its acknowledgement.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Kind, Server};
use parking_lot::Mutex;

const PRODUCERS: usize = 3;
const JOBS_EACH: usize = 300;
const CONSUMERS: usize = 3;

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) => String::from_utf8_lossy(b).into_owned(),
        other => panic!("expected a string, got {}", show(other)),
    }
}

/// The (id, job) pairs of an XREADGROUP reply on one stream (none on timeout).
fn entries(reply: &Frame) -> Vec<(String, String)> {
    let streams = match reply {
        Frame::NullArray | Frame::Null => return Vec::new(),
        Frame::Array(s) => s,
        other => panic!("unexpected XREADGROUP reply {}", show(other)),
    };
    let mut out = Vec::new();
    for s in streams {
        let Frame::Array(kv) = s else {
            panic!("bad stream reply {}", show(s))
        };
        let Some(Frame::Array(list)) = kv.get(1) else {
            panic!("bad stream reply {}", show(s))
        };
        out.extend(list.iter().map(entry));
    }
    out
}

/// One `[id, [field, value, ...]]` entry as (id, job).
fn entry(e: &Frame) -> (String, String) {
    let Frame::Array(parts) = e else {
        panic!("bad entry {}", show(e))
    };
    let id = text(&parts[0]);
    let Frame::Array(fields) = &parts[1] else {
        panic!("bad entry {}", show(e))
    };
    (id, text(&fields[1]))
}

/// What every consumer saw, shared.
#[derive(Default)]
struct Ledger {
    /// Job -> the ID it was delivered under.
    jobs: HashMap<String, String>,
    /// IDs acknowledged (XACK replied 1).
    acked: HashSet<String>,
    /// Deliveries of an ID already acknowledged (must stay empty).
    after_ack: Vec<String>,
    /// Acknowledgements that did not remove a pending entry (must stay empty).
    double_acks: Vec<String>,
}

impl Ledger {
    fn delivered(&mut self, id: &str, job: &str) {
        if self.acked.contains(id) {
            self.after_ack.push(id.to_string());
        }
        if let Some(prev) = self.jobs.insert(job.to_string(), id.to_string()) {
            assert_eq!(prev, id, "job {job} under two IDs");
        }
    }

    fn ack(&mut self, c: &mut Conn, id: &str) {
        match c.cmd(&["XACK", "jobs", "g", id]) {
            Frame::Integer(1) => {
                self.acked.insert(id.to_string());
            }
            _ => self.double_acks.push(id.to_string()),
        }
    }
}

#[test]
fn queue_with_a_dead_consumer_loses_nothing_and_repeats_nothing() {
    let server = Server::start(Kind::Ferrokv, &[]);
    let mut admin = server.conn();
    assert_eq!(
        admin.cmd(&["XGROUP", "CREATE", "jobs", "g", "$", "MKSTREAM"]),
        Frame::Simple("OK".into())
    );
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let producing = Arc::new(AtomicBool::new(true));

    // The victim takes jobs first and dies without acknowledging them.
    let mut victim = server.conn();
    let mut seed = server.conn();
    for i in 0..10 {
        seed.cmd(&["XADD", "jobs", "*", "job", &format!("seed-{i}")]);
    }
    let held = entries(&victim.cmd(&[
        "XREADGROUP",
        "GROUP",
        "g",
        "victim",
        "COUNT",
        "6",
        "STREAMS",
        "jobs",
        ">",
    ]));
    assert_eq!(held.len(), 6);
    for (id, job) in &held {
        ledger.lock().delivered(id, job);
    }
    drop(victim);

    let mut consumers = Vec::new();
    for k in 0..CONSUMERS {
        let mut c = server.conn();
        let (ledger, producing) = (ledger.clone(), producing.clone());
        consumers.push(std::thread::spawn(move || {
            let name = format!("worker-{k}");
            loop {
                let still_producing = producing.load(SeqCst);
                let got = entries(&c.cmd(&[
                    "XREADGROUP",
                    "GROUP",
                    "g",
                    &name,
                    "COUNT",
                    "4",
                    "BLOCK",
                    "100",
                    "STREAMS",
                    "jobs",
                    ">",
                ]));
                if got.is_empty() && !still_producing {
                    return;
                }
                for (id, job) in got {
                    let mut l = ledger.lock();
                    l.delivered(&id, &job);
                    l.ack(&mut c, &id);
                }
            }
        }));
    }
    let mut producers = Vec::new();
    for p in 0..PRODUCERS {
        let mut c = server.conn();
        producers.push(std::thread::spawn(move || {
            for i in 0..JOBS_EACH {
                let reply = c.cmd(&["XADD", "jobs", "*", "job", &format!("p{p}-{i}")]);
                assert!(matches!(reply, Frame::Bulk(_)), "{}", show(&reply));
            }
        }));
    }
    for p in producers {
        p.join().expect("producer");
    }
    producing.store(false, SeqCst);
    for c in consumers {
        c.join().expect("consumer");
    }

    // Only the victim's jobs are pending now; the rescuer claims them with
    // XAUTOCLAIM (min-idle 0: the victim is known dead) page by page.
    let pending = admin.cmd(&["XPENDING", "jobs", "g"]);
    let Frame::Array(summary) = &pending else {
        panic!("{}", show(&pending))
    };
    assert_eq!(summary[0], Frame::Integer(6), "{}", show(&pending));
    let mut rescuer = server.conn();
    let mut cursor = "0-0".to_string();
    let mut rescued = 0;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        assert!(Instant::now() < deadline, "XAUTOCLAIM never finished");
        let reply = rescuer.cmd(&[
            "XAUTOCLAIM",
            "jobs",
            "g",
            "rescuer",
            "0",
            &cursor,
            "COUNT",
            "4",
        ]);
        let Frame::Array(parts) = &reply else {
            panic!("{}", show(&reply))
        };
        cursor = text(&parts[0]);
        let Frame::Array(claimed) = &parts[1] else {
            panic!("{}", show(&reply))
        };
        assert_eq!(parts[2], Frame::Array(Vec::new()), "no job was deleted");
        for e in claimed {
            let (id, job) = entry(e);
            let mut l = ledger.lock();
            assert!(
                held.iter().any(|(h, _)| *h == id),
                "claimed {id}, not the victim's"
            );
            l.delivered(&id, &job);
            l.ack(&mut rescuer, &id);
            rescued += 1;
        }
        if cursor == "0-0" {
            break;
        }
    }
    assert_eq!(rescued, held.len());

    let l = ledger.lock();
    let total = PRODUCERS * JOBS_EACH + 10;
    assert!(
        l.after_ack.is_empty(),
        "delivered after ack: {:?}",
        l.after_ack
    );
    assert!(l.double_acks.is_empty(), "acked twice: {:?}", l.double_acks);
    assert_eq!(l.jobs.len(), total, "jobs delivered");
    assert_eq!(l.acked.len(), total, "jobs acknowledged");
    for p in 0..PRODUCERS {
        for i in 0..JOBS_EACH {
            assert!(l.jobs.contains_key(&format!("p{p}-{i}")), "lost p{p}-{i}");
        }
    }
    let pending = admin.cmd(&["XPENDING", "jobs", "g"]);
    let Frame::Array(summary) = &pending else {
        panic!("{}", show(&pending))
    };
    assert_eq!(summary[0], Frame::Integer(0), "{}", show(&pending));
    assert_eq!(admin.cmd(&["XLEN", "jobs"]), Frame::Integer(total as i64));
}
