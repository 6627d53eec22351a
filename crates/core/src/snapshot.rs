//! Point-in-time snapshots without fork (BGSAVE, AOF rewrite, full resync).
//!
//! Redis forks and lets the kernel copy pages on write. ferrokv is multi-threaded, so
//! it snapshots in-process with copy-on-write at shard granularity:
//!
//! 1. [`Engine::snapshot_begin`] takes every shard lock in order (so no command is half
//!    done), marks every shard *pending* and installs a [`ShardVisitor`]. That instant
//!    is the snapshot's point in time. Locks are released at once.
//! 2. A background thread ([`Engine::snapshot_run`]) locks shards one at a time and
//!    hands each pending shard to the visitor (which serializes it), clearing its mark.
//! 3. A write command that locked a still-pending shard first hands that shard to the
//!    visitor itself, before changing anything, while it holds the lock. So every
//!    shard is visited exactly once, in the state it had at the snapshot instant.
//!
//! Costs: no page-table copy and no doubled memory under heavy writes; extra memory is
//! only what the visitor buffers (serialized shards written out of order). A write
//! that hits a pending shard pays for serializing that one shard (1/1024 of a db), once
//! per snapshot.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::keyspace::{LockId, LockSet, Shard, SHARDS};

/// Receives each shard of a snapshot exactly once, under the shard's lock.
pub trait ShardVisitor: Send + Sync {
    /// `shard` of `db` (index `shard_index` within the db) as of the snapshot instant.
    fn visit(&self, db: usize, shard_index: usize, shard: &Shard);

    /// Called by the snapshot's own thread after each shard it visited, with no
    /// lock held: the place for slow work such as writing to disk.
    fn after_visit(&self) {}
}

/// The engine's snapshot bookkeeping.
pub struct SnapshotState {
    active: AtomicBool,
    pending: Box<[AtomicBool]>,
    visitor: Mutex<Option<Arc<dyn ShardVisitor>>>,
}

impl SnapshotState {
    /// Bookkeeping for `shards` shards in total.
    pub fn new(shards: usize) -> SnapshotState {
        SnapshotState {
            active: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            visitor: Mutex::new(None),
        }
    }

    /// Whether a snapshot is in progress.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Visits shard `id` if it is still pending. The caller holds its lock.
    pub(crate) fn flush(&self, id: LockId, shard: &Shard) {
        let i = id as usize;
        if i < self.pending.len() && self.pending[i].swap(false, Ordering::AcqRel) {
            let visitor = self.visitor.lock().clone();
            if let Some(v) = visitor {
                v.visit(i / SHARDS, i % SHARDS, shard);
            }
        }
    }
}

/// Why a snapshot could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotError {
    /// Another snapshot is running.
    InProgress,
}

impl Engine {
    /// Starts a snapshot: the current state of every shard will be given to `visitor`.
    pub fn snapshot_begin(&self, visitor: Arc<dyn ShardVisitor>) -> Result<(), SnapshotError> {
        self.snapshot_begin_with(visitor, || {})
    }

    /// [`snapshot_begin`](Self::snapshot_begin), running `at_instant` while every
    /// shard lock is held: no command runs during it, so it happens exactly at the
    /// snapshot instant (the AOF rewrite switches to a new incr file there).
    pub fn snapshot_begin_with(
        &self,
        visitor: Arc<dyn ShardVisitor>,
        at_instant: impl FnOnce(),
    ) -> Result<(), SnapshotError> {
        let snap = &self.snapshot;
        if snap.active.swap(true, Ordering::AcqRel) {
            return Err(SnapshotError::InProgress);
        }
        // Holding every lock makes this instant a consistent cut.
        let all = LockSet::lock_dbs(&self.keyspace, 0..self.keyspace.db_count());
        *snap.visitor.lock() = Some(visitor);
        for p in snap.pending.iter() {
            p.store(true, Ordering::Release);
        }
        at_instant();
        drop(all);
        Ok(())
    }

    /// Visits every shard still pending (run on a background thread after
    /// [`snapshot_begin`](Self::snapshot_begin)), then ends the snapshot.
    pub fn snapshot_run(&self) {
        let snap = &self.snapshot;
        for id in 0..(self.keyspace.db_count() * SHARDS) {
            // Locked even when no longer pending: a write that claimed the shard
            // visits it under this lock, and the snapshot must not end (nor drop
            // its visitor) before that visit is done.
            let shard = self.keyspace.lock_one(id as LockId);
            let visited = snap.pending[id].load(Ordering::Acquire);
            snap.flush(id as LockId, &shard);
            drop(shard);
            if visited {
                let visitor = snap.visitor.lock().clone();
                if let Some(v) = visitor {
                    v.after_visit();
                }
            }
        }
        *snap.visitor.lock() = None;
        snap.active.store(false, Ordering::Release);
    }

    /// Called by the dispatcher for a write command holding `locks`: pending shards
    /// are visited before the command changes them.
    pub(crate) fn snapshot_before_write(&self, locks: &mut LockSet<'_>) {
        for (id, shard) in locks.held() {
            self.snapshot.flush(id, shard);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::client::Client;
    use crate::config::Config;
    use crate::hooks::NoHooks;
    use ferrokv_resp::{Protocol, ReplyBuf};

    type Entry = (usize, Vec<u8>, Vec<u8>);

    /// Collects `(db, key, value)` of every visited entry.
    #[derive(Default)]
    struct Collect(Mutex<Vec<Entry>>, Mutex<Vec<LockId>>);

    impl ShardVisitor for Collect {
        fn visit(&self, db: usize, idx: usize, shard: &Shard) {
            self.1.lock().push((db * SHARDS + idx) as LockId);
            for n in shard.dict.iter() {
                let v = n.value.as_str().map(|s| s.to_vec()).unwrap_or_default();
                self.0.lock().push((db, n.key().to_vec(), v));
            }
        }
    }

    fn run(e: &Engine, c: &mut Client, line: &str) -> Vec<u8> {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        let mut out = ReplyBuf::new(Protocol::Resp2);
        e.execute(c, &args, &mut out, &NoHooks);
        out.as_bytes().to_vec()
    }

    #[test]
    fn writes_after_begin_are_not_in_the_snapshot() {
        let e = Engine::new(Config::default(), &[]);
        let mut c = Client::new(1, true);
        for i in 0..200 {
            run(&e, &mut c, &format!("SET k{i} old"));
        }
        let v = Arc::new(Collect::default());
        e.snapshot_begin(v.clone()).unwrap();
        assert_eq!(e.snapshot_begin(v.clone()), Err(SnapshotError::InProgress));
        // Writes during the snapshot: overwrite, delete, create.
        for i in 0..100 {
            run(&e, &mut c, &format!("SET k{i} new"));
        }
        run(&e, &mut c, "DEL k150");
        run(&e, &mut c, "SET fresh x");
        run(&e, &mut c, "FLUSHDB");
        e.snapshot_run();
        assert!(!e.snapshot.active());
        let got = v.0.lock();
        assert_eq!(got.len(), 200, "every key as of the snapshot instant");
        assert!(got
            .iter()
            .all(|(_, k, v)| k.starts_with(b"k") && v == b"old"));
        let mut ids = v.1.lock().clone();
        let n = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), n, "each shard visited once");
        assert_eq!(n, e.keyspace.db_count() * SHARDS);
    }
}
