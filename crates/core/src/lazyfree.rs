//! Freeing large values off the request path (UNLINK, FLUSHALL ASYNC, overwrites).
//!
//! Dropping a value with millions of elements takes milliseconds; a shard lock is
//! held while a command runs, so such drops are handed to one background thread.
//! Small values are dropped in place: a channel send costs more than their free.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Mutex, OnceLock};

use crate::keyspace::{Dict, Node};
use crate::types::Value;

/// Values whose freeing takes more allocations than this go to the background
/// (Redis's LAZYFREE_THRESHOLD).
pub const THRESHOLD: usize = 64;

// The payloads are only ever dropped, on the lazyfree thread.
#[allow(dead_code)]
enum Job {
    Value(Value),
    Node(Node),
    Dict(Dict),
}

static PENDING: AtomicU64 = AtomicU64::new(0);
static FREED: AtomicU64 = AtomicU64::new(0);

fn sender() -> Option<Sender<Job>> {
    static TX: OnceLock<Mutex<Sender<Job>>> = OnceLock::new();
    let tx = TX.get_or_init(|| {
        let (tx, rx) = channel::<Job>();
        let spawned = std::thread::Builder::new()
            .name("lazyfree".into())
            .spawn(move || {
                for job in rx {
                    drop(job);
                    PENDING.fetch_sub(1, Ordering::Relaxed);
                    FREED.fetch_add(1, Ordering::Relaxed);
                    if PENDING.load(Ordering::Relaxed) == 0 {
                        if let Some(h) = crate::defrag::hooks() {
                            h.flush_thread_cache();
                        }
                    }
                }
            });
        if spawned.is_err() {
            tracing::warn!("could not start the lazyfree thread; values are freed inline");
        }
        Mutex::new(tx)
    });
    tx.lock().ok().map(|t| t.clone())
}

fn send(job: Job) {
    match sender() {
        Some(tx) => {
            PENDING.fetch_add(1, Ordering::Relaxed);
            if let Err(e) = tx.send(job) {
                PENDING.fetch_sub(1, Ordering::Relaxed);
                drop(e.0);
            }
        }
        None => drop(job),
    }
}

/// Frees an entry, in the background if it is large.
pub fn free(node: Node) {
    if free_effort(&node.value()) > THRESHOLD {
        send(Job::Node(node));
    }
}

/// Frees a value, in the background if it is large.
pub fn free_value(v: Value) {
    if free_effort(&v) > THRESHOLD {
        send(Job::Value(v));
    }
}

/// Frees a whole table (FLUSHDB/FLUSHALL ASYNC).
pub fn free_dict(d: Dict) {
    if d.len() > THRESHOLD {
        send(Job::Dict(d));
    }
}

/// Roughly how many allocations freeing `v` takes.
pub fn free_effort(v: &Value) -> usize {
    v.free_effort()
}

/// Objects waiting to be freed (INFO lazyfree_pending_objects).
pub fn pending() -> u64 {
    PENDING.load(Ordering::Relaxed)
}

/// CONFIG RESETSTAT: the count of freed objects starts again from zero.
pub fn reset_freed() {
    FREED.store(0, Ordering::Relaxed);
}

/// Values freed in the background since start or the last CONFIG RESETSTAT
/// (INFO lazyfreed_objects).
pub fn freed() -> u64 {
    FREED.load(Ordering::Relaxed)
}
