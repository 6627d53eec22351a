//! Point-in-time snapshots without fork (BGSAVE, AOF rewrite, full resync).
//!
//! Redis forks and lets the kernel copy pages on write. ferrokv is multi-threaded, so
//! it snapshots in-process with copy-on-write at key granularity:
//!
//! 1. [`Engine::snapshot_begin`] takes every shard lock in order (so no command is half
//!    done), marks every shard *pending* and installs a [`ShardVisitor`]. That instant
//!    is the snapshot's point in time. Locks are released at once.
//! 2. A background thread ([`Engine::snapshot_run`]) locks shards one at a time, in
//!    order, and hands each pending shard to the visitor (which serializes
//!    [`Shard::snapshot_iter`]), clearing its mark.
//! 3. A write command on keys (key-spec locking) keeps, before it touches a key of a
//!    still-pending shard, a copy of that key's entry as it was (or the fact that it
//!    did not exist) in the shard's `preserved` map, once per key per snapshot
//!    ([`SnapshotState::preserve`]). The visitor sees live entries not written since
//!    plus those pre-images: the shard as it was at the snapshot instant.
//! 4. A command that changes whole databases (FLUSHDB, FLUSHALL, SWAPDB) instead
//!    hands every pending shard it holds to the visitor before it runs.
//!
//! Costs: no page-table copy, no fork, and extra memory only for keys written before
//! the saver reached them (one copy each, like a page copied by a forked child, but
//! per key rather than per 4 KiB page). A writer pays one copy of each key it is the
//! first to write; it never serializes anything, so writers do not slow down with the
//! dataset size, and shards reach the visitor in order (nothing is buffered).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::keyspace::shard::PreImage;
use crate::keyspace::{LockId, LockSet, Node, Shard, SHARDS};

/// Values up to this many allocations are copied out of a shard for serializing
/// without its lock (see [`Engine::snapshot_run`]).
const COPY_LIMIT: usize = 16;

/// Entries serialized between two yields of the saver's thread (about one
/// shard's share at a million keys).
const YIELD_EVERY: usize = 1000;

/// Receives each shard of a snapshot exactly once.
pub trait ShardVisitor: Send + Sync {
    /// The entries of shard `shard_index` of `db` as of the snapshot instant, each
    /// once. Usually they are copies and no lock is held (serializing blocks no
    /// writer); for a shard holding a big collection, or from a whole-db write
    /// command (FLUSHDB, FLUSHALL, SWAPDB), they are the shard's own, under its lock.
    fn visit(&self, db: usize, shard_index: usize, entries: &mut dyn Iterator<Item = &Node>);

    /// Called by the snapshot's own thread after each shard it visited, with no
    /// lock held: the place for slow work such as writing to disk.
    fn after_visit(&self) {}
}

/// The engine's snapshot bookkeeping.
pub struct SnapshotState {
    active: AtomicBool,
    pending: Box<[AtomicBool]>,
    /// Per db: whether it was live (its shards allocated) at the snapshot instant.
    /// One allocated later was empty at the instant: its shards are visited empty.
    live: Box<[AtomicBool]>,
    visitor: Mutex<Option<Arc<dyn ShardVisitor>>>,
}

impl SnapshotState {
    /// Bookkeeping for `shards` shards in total.
    pub fn new(shards: usize) -> SnapshotState {
        SnapshotState {
            active: AtomicBool::new(false),
            pending: (0..shards).map(|_| AtomicBool::new(false)).collect(),
            live: (0..shards.div_ceil(SHARDS))
                .map(|_| AtomicBool::new(false))
                .collect(),
            visitor: Mutex::new(None),
        }
    }

    /// Whether a snapshot is in progress.
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Ordering::Acquire)
    }

    /// Visits shard `id` if it is still pending, then drops its pre-images. The
    /// caller holds its lock.
    pub(crate) fn flush(&self, id: LockId, shard: &mut Shard) {
        let i = id as usize;
        if i < self.pending.len() && self.pending[i].swap(false, Ordering::AcqRel) {
            let visitor = self.visitor.lock().clone();
            if let Some(v) = visitor {
                v.visit(i / SHARDS, i % SHARDS, &mut shard.snapshot_iter());
            }
            if let Some(pre) = shard.preserved.take() {
                for e in *pre {
                    if let PreImage::Entry(node) = e {
                        crate::lazyfree::free(node);
                    }
                }
            }
        }
    }

    /// Before a write command touches `key` (hash `hash`) in shard `id`, whose lock
    /// it holds: if the shard is still pending, keeps the key's entry as of the
    /// snapshot instant (the first time only: later writes find it kept).
    #[inline]
    pub(crate) fn preserve(&self, id: LockId, shard: &mut Shard, key: &[u8], hash: u64) {
        if !self
            .pending
            .get(id as usize)
            .is_some_and(|p| p.load(Ordering::Acquire))
        {
            return;
        }
        let bucket = crate::keyspace::hash::bucket_part(hash);
        let kept = shard
            .preserved
            .as_deref()
            .is_some_and(|p| p.find(bucket, |e| e.key() == key).is_some());
        if !kept {
            let old = match shard.dict().get(key, hash) {
                Some(n) => PreImage::Entry(n.duplicate()),
                None => PreImage::Absent(key.into()),
            };
            shard
                .preserved
                .get_or_insert_with(Default::default)
                .insert_unique(bucket, old, |e| crate::keyspace::bucket_hash(e.key()));
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
        // Holding every lock makes this instant a consistent cut. Dbs never
        // allocated are empty and left unlocked (locking allocates them); if one is
        // allocated while the others are being locked, its first writer may have
        // written before the cut, so the cut is taken again with it.
        let ks = &self.keyspace;
        let dbs = ks.db_count();
        let (all, live) = loop {
            let live: Vec<bool> = (0..dbs).map(|d| ks.is_live(d)).collect();
            let all = LockSet::lock_dbs(ks, (0..dbs).filter(|&d| live[d]));
            if (0..dbs).all(|d| ks.is_live(d) == live[d]) {
                break (all, live);
            }
        };
        *snap.visitor.lock() = Some(visitor);
        for (i, p) in snap.pending.iter().enumerate() {
            p.store(live[i / SHARDS], Ordering::Release);
        }
        for (d, l) in snap.live.iter().enumerate() {
            l.store(live.get(d).copied().unwrap_or(false), Ordering::Release);
        }
        at_instant();
        drop(all);
        Ok(())
    }

    /// Visits every shard still pending (run on a background thread after
    /// [`snapshot_begin`](Self::snapshot_begin)), then ends the snapshot.
    pub fn snapshot_run(&self) {
        let snap = &self.snapshot;
        let mut since_yield = 0;
        for id in 0..(self.keyspace.db_count() * SHARDS) {
            if !snap.live[id / SHARDS].load(Ordering::Acquire) {
                // Empty at the instant: nothing to write, nothing to wait for
                // (no after_visit, which pays rdb-key-save-delay for keys that
                // writers visited: a FLUSHALL visits every pending shard).
                let visitor = snap.visitor.lock().clone();
                if let Some(v) = visitor {
                    v.visit(id / SHARDS, id % SHARDS, &mut std::iter::empty());
                }
                continue;
            }
            // Locked even when no longer pending: a write that claimed the shard
            // visits it under this lock, and the snapshot must not end (nor drop
            // its visitor) before that visit is done.
            let mut shard = self.keyspace.lock_one(id as LockId);
            if !snap.pending[id].load(Ordering::Acquire) {
                continue;
            }
            // A shard of small values is copied (moving the pre-images out) and the
            // lock let go: copying is several times cheaper than serializing (no
            // encoding, no compression), so writers wait only that long, and a saver
            // preempted while serializing holds nobody up. A big collection costs
            // about as much to copy as to serialize, so a shard holding one is
            // serialized in place, under its lock.
            if shard
                .snapshot_iter()
                .any(|n| n.value().free_effort() > COPY_LIMIT)
            {
                snap.flush(id as LockId, &mut shard);
                drop(shard);
                let visitor = snap.visitor.lock().clone();
                if let Some(v) = visitor {
                    v.after_visit();
                }
                continue;
            }
            snap.pending[id].store(false, Ordering::Release);
            let pre = shard.preserved.take();
            let mut copies: Vec<Node> = Vec::with_capacity(shard.len());
            copies.extend(
                shard
                    .dict()
                    .iter()
                    .filter(|n| {
                        pre.as_deref().is_none_or(|p| {
                            let key = n.key();
                            p.find(crate::keyspace::bucket_hash(key), |e| e.key() == key)
                                .is_none()
                        })
                    })
                    .map(Node::duplicate),
            );
            drop(shard);
            if let Some(pre) = pre {
                copies.extend(pre.into_iter().filter_map(|e| match e {
                    PreImage::Entry(n) => Some(n),
                    PreImage::Absent(_) => None,
                }));
            }
            since_yield += copies.len();
            let visitor = snap.visitor.lock().clone();
            if let Some(v) = visitor {
                v.visit(id / SHARDS, id % SHARDS, &mut copies.iter());
                drop(copies);
                v.after_visit();
            }
            // Give request threads the CPU after each shard's worth of work: where
            // cores are oversubscribed (clients, workers and the saver on two
            // cores) they then wait for that work, not a scheduler time slice (p99
            // measured with xtask/scripts/bgsave-impact.sh, 4.7x instead of 5.9x at
            // --threads 1 on two cores). Paced by entries, not shards: on a loaded
            // machine a yield can cost a whole time slice, and a yield per shard
            // made a snapshot of 100 keys take seconds (1024 shards per db).
            if since_yield >= YIELD_EVERY {
                since_yield = 0;
                std::thread::yield_now();
            }
        }
        *snap.visitor.lock() = None;
        snap.active.store(false, Ordering::Release);
    }

    /// Called by the dispatcher for a write command that changes whole databases,
    /// holding `locks`: pending shards are visited before the command changes them.
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
    use crate::testkit::run;

    type Entry = (usize, Vec<u8>, Vec<u8>);

    /// Collects `(db, key, value)` of every visited entry.
    #[derive(Default)]
    struct Collect(Mutex<Vec<Entry>>, Mutex<Vec<LockId>>);

    impl ShardVisitor for Collect {
        fn visit(&self, db: usize, idx: usize, entries: &mut dyn Iterator<Item = &Node>) {
            self.1.lock().push((db * SHARDS + idx) as LockId);
            for n in entries {
                let v = n.value().as_str().map(|s| s.to_vec()).unwrap_or_default();
                self.0.lock().push((db, n.key().to_vec(), v));
            }
        }
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

    #[test]
    fn a_db_first_used_after_the_instant_is_visited_empty() {
        let e = Engine::new(Config::default(), &[]);
        let mut c = Client::new(1, true);
        run(&e, &mut c, "SET k0 old");
        assert!(e.keyspace.is_live(0));
        assert!(!e.keyspace.is_live(5), "a db nothing used has no shards");
        let v = Arc::new(Collect::default());
        e.snapshot_begin(v.clone()).unwrap();
        run(&e, &mut c, "SELECT 5");
        run(&e, &mut c, "SET k5 new");
        assert!(e.keyspace.is_live(5));
        e.snapshot_run();
        let got = v.0.lock();
        assert_eq!(*got, vec![(0, b"k0".to_vec(), b"old".to_vec())]);
        let n = v.1.lock().len();
        assert_eq!(n, e.keyspace.db_count() * SHARDS, "every shard visited");
    }

    /// `(db, key, value, expire)` of a string entry.
    type Full = (usize, Vec<u8>, Vec<u8>, Option<i64>);

    /// Collects every visited string entry.
    #[derive(Default)]
    struct CollectAll(Mutex<Vec<Full>>);

    impl ShardVisitor for CollectAll {
        fn visit(&self, db: usize, _idx: usize, entries: &mut dyn Iterator<Item = &Node>) {
            for n in entries {
                let v = n.value().as_str().map(|s| s.to_vec()).unwrap_or_default();
                self.0.lock().push((db, n.key().to_vec(), v, n.expire()));
            }
        }
    }

    fn everything(e: &Engine) -> Vec<Full> {
        let v = Arc::new(CollectAll::default());
        e.snapshot_begin(v.clone()).unwrap();
        e.snapshot_run();
        let mut all = std::mem::take(&mut *v.0.lock());
        all.sort();
        all
    }

    #[test]
    fn snapshot_is_the_state_at_begin_under_concurrent_writes() {
        use rand::{Rng, SeedableRng};
        let e = Engine::new(Config::default(), &[]);
        let mut c = Client::new(1, true);
        for i in 0..3000 {
            run(&e, &mut c, &format!("SET k{i} v{i}"));
            if i % 3 == 0 {
                run(
                    &e,
                    &mut c,
                    &format!("PEXPIREAT k{i} {}", 4_000_000_000_000i64 + i),
                );
            }
        }
        let expected = everything(&e);
        assert_eq!(expected.len(), 3000);
        for seed in 0..4u64 {
            let e = Engine::new(Config::default(), &[]);
            let mut c = Client::new(1, true);
            for i in 0..3000 {
                run(&e, &mut c, &format!("SET k{i} v{i}"));
                if i % 3 == 0 {
                    run(
                        &e,
                        &mut c,
                        &format!("PEXPIREAT k{i} {}", 4_000_000_000_000i64 + i),
                    );
                }
            }
            let v = Arc::new(CollectAll::default());
            e.snapshot_begin(v.clone()).unwrap();
            std::thread::scope(|s| {
                s.spawn(|| e.snapshot_run());
                let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
                let mut c = Client::new(2, true);
                for _ in 0..6000 {
                    let (a, b) = (rng.gen_range(0..3500), rng.gen_range(0..3500));
                    let cmd = match rng.gen_range(0..12) {
                        0 => format!("SET k{a} new"),
                        1 => format!("DEL k{a} k{b}"),
                        2 => format!("APPEND k{a} z"),
                        3 => format!("RENAME k{a} k{b}"),
                        4 => format!("MOVE k{a} 1"),
                        5 => format!("COPY k{a} k{b} REPLACE"),
                        6 => format!("PEXPIRE k{a} 99999999"),
                        7 => format!("PERSIST k{a}"),
                        8 => format!("GETDEL k{a}"),
                        9 => format!("SETRANGE k{a} 1 xy"),
                        10 => format!("MSET k{a} m k{b} m"),
                        _ => format!("SELECT {}", a % 2),
                    };
                    run(&e, &mut c, &cmd);
                }
            });
            assert!(!e.snapshot.active());
            let mut got = std::mem::take(&mut *v.0.lock());
            got.sort();
            assert_eq!(got, expected, "seed {seed}");
            // Nothing is left preserved once the snapshot is over.
            for id in 0..e.keyspace.db_count() * SHARDS {
                assert!(e.keyspace.lock_one(id as LockId).preserved.is_none());
            }
        }
    }
}
