//! The keyspace: databases split into shards, each shard a hash table behind its own
//! lock.
//!
//! A key's shard is decided by its Redis Cluster hash slot ([`slot`], [`hash`]), so
//! one slot's keys, and keys sharing a `{hash tag}`, are always in one shard, which
//! keeps a count of keys per slot.
//!
//! A command locks exactly the shards of the keys it names, in ascending
//! `(db, shard)` order, so two commands can never wait on each other in a cycle; it
//! runs with those guards in a [`LockSet`] and releases them all at once, which makes
//! multi-key commands atomic. Whole-keyspace commands lock every shard of a db (or of
//! every db) the same way.

pub mod access;
pub mod dict;
pub mod hash;
pub mod node;
pub mod shard;
pub mod slot;
#[cfg(test)]
mod tests;

use parking_lot::{Mutex, MutexGuard};
use smallvec::SmallVec;

pub use access::Access;
pub use dict::{Dict, Node};
pub use hash::{
    bucket_hash, hash_key, lock_id, shard_of, shard_of_slot, slot_of, KeyHashes, SLOTS_PER_SHARD,
};
pub use node::ValueRef;
pub use shard::{EntryMut, Lookup, Shard, Ttl, TypedMut, TypedRef};
pub use slot::{key_slot, SLOTS};

/// log2 of the number of shards per database.
pub const SHARD_BITS: u32 = 10;
/// Shards per database. Enough that a shard's table stays small (a resize moves a
/// few thousand entries even at millions of keys) and that many cores rarely meet on
/// one lock; few enough that locking a whole db stays cheap. A key's shard is its
/// hash slot modulo `SHARDS` (see [`hash`]): 16 slots per shard, and a cluster node
/// owning any range of slots still spreads its keys over every shard.
pub const SHARDS: usize = 1 << SHARD_BITS;

/// A lock id: `db * SHARDS + shard`. Locks are always taken in ascending id order.
pub type LockId = u32;

/// A shard padded to a cache line so that neighbouring locks do not share one.
#[repr(align(64))]
#[derive(Default)]
pub struct ShardLock(pub Mutex<Shard>);

/// One database: `SHARDS` shards, allocated when something first locks one of
/// them (db 0 at start-up). A db's shards take about 200 KB; Redis starts in under
/// 1 MB, and a server with 16 dbs of which one is used (the usual case) should not
/// hold 3 MB of empty shards: a small `maxmemory` would be spent before the first
/// key.
#[derive(Default)]
struct Db {
    shards: std::sync::OnceLock<Box<[ShardLock]>>,
    /// Taken to allocate the shards, and held by a flush while the db is empty
    /// ([`LockSet::lock_live_dbs`]): nothing may bring the db to life, and so
    /// write to it, until the flush has been propagated, yet the flush need not
    /// allocate it to hold it.
    gate: Mutex<()>,
}

/// All databases.
pub struct Keyspace {
    dbs: Box<[Db]>,
    /// Set while a script waits for a shard it did not declare, out of lock order
    /// ([`LockSet::acquire`]): a command waiting for a shard while holding others
    /// lets them go and starts again, so the two cannot wait on each other.
    escalating: std::sync::atomic::AtomicBool,
    /// Shard lock acquisitions that found the lock held and had to wait (the
    /// metrics endpoint's lock contention): counted on the slow path only.
    contended: Padded,
}

/// A counter on its own cache line: `dbs`, read by every lock, must not share a
/// line with a counter written under contention.
#[repr(align(64))]
#[derive(Default)]
struct Padded(std::sync::atomic::AtomicU64);

impl Keyspace {
    /// A keyspace of `n` empty databases.
    pub fn new(n: usize) -> Keyspace {
        Keyspace {
            // Db 0, where every connection starts, from the start: its first write
            // must not show as a 200 KB jump of used memory.
            dbs: (0..n.max(1))
                .map(|i| {
                    let db = Db::default();
                    if i == 0 {
                        Self::allocate(&db);
                    }
                    db
                })
                .collect(),
            escalating: std::sync::atomic::AtomicBool::new(false),
            contended: Padded::default(),
        }
    }

    /// Number of databases.
    pub fn db_count(&self) -> usize {
        self.dbs.len()
    }

    fn cell(&self, id: LockId) -> &Mutex<Shard> {
        let id = id as usize;
        let db = &self.dbs[id / SHARDS];
        let shards = match db.shards.get() {
            Some(shards) => shards,
            None => Self::allocate(db),
        };
        &shards[id % SHARDS].0
    }

    #[cold]
    fn allocate(db: &Db) -> &[ShardLock] {
        let _gate = db.gate.lock();
        db.shards
            .get_or_init(|| (0..SHARDS).map(|_| ShardLock::default()).collect())
    }

    /// Whether database `db`'s shards exist: one that nothing ever locked is empty,
    /// and whatever only reads every db (INFO, active expiry, eviction's sampling,
    /// a snapshot) skips it rather than allocating it. Once live, a db stays live.
    #[inline]
    pub fn is_live(&self, db: usize) -> bool {
        self.dbs.get(db).is_some_and(|d| d.shards.get().is_some())
    }

    /// Shard `id` alone, or `None` when its database is not live (it is empty).
    pub fn lock_one_live(&self, id: LockId) -> Option<MutexGuard<'_, Shard>> {
        let shards = self.dbs.get(id as usize / SHARDS)?.shards.get()?;
        Some(shards[id as usize % SHARDS].0.lock())
    }

    /// How many shard lock acquisitions had to wait for another holder.
    pub fn contended(&self) -> u64 {
        self.contended.0.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Locks shard `id` alone (background jobs such as active expiry).
    pub fn lock_one(&self, id: LockId) -> MutexGuard<'_, Shard> {
        self.cell(id).lock()
    }

    /// One shard if no one holds it now, without waiting.
    pub fn try_lock_one(&self, id: LockId) -> Option<MutexGuard<'_, Shard>> {
        self.cell(id).try_lock()
    }
}

/// The shards a command holds.
pub struct LockSet<'k> {
    ks: &'k Keyspace,
    held: SmallVec<[(LockId, MutexGuard<'k, Shard>); 4]>,
    /// The empty dbs held shut (by their gates) instead of locked.
    shut: Vec<(usize, MutexGuard<'k, ()>)>,
}

impl<'k> LockSet<'k> {
    /// Holds nothing.
    pub fn empty(ks: &'k Keyspace) -> Self {
        LockSet {
            ks,
            held: SmallVec::new(),
            shut: Vec::new(),
        }
    }

    /// Locks `ids` (any order, duplicates allowed) in ascending order.
    pub fn lock(ks: &'k Keyspace, ids: &mut [LockId]) -> Self {
        ids.sort_unstable();
        'again: loop {
            let mut held: SmallVec<[(LockId, MutexGuard<'k, Shard>); 4]> = SmallVec::new();
            let mut last = None;
            for &id in ids.iter() {
                if last == Some(id) || id as usize >= ks.db_count() * SHARDS {
                    continue;
                }
                last = Some(id);
                let cell = ks.cell(id);
                let guard = match cell.try_lock() {
                    Some(g) => g,
                    None => match Self::wait(ks, cell, !held.is_empty()) {
                        Some(g) => g,
                        None => {
                            // A script waits for one of ours: let go, start again.
                            drop(held);
                            while ks.escalating.load(std::sync::atomic::Ordering::Acquire) {
                                std::thread::yield_now();
                            }
                            continue 'again;
                        }
                    },
                };
                held.push((id, guard));
            }
            return LockSet {
                ks,
                held,
                shut: Vec::new(),
            };
        }
    }

    /// Waits for a contended shard; `None` when this command holds others and a
    /// script is waiting out of order (it must let go).
    #[cold]
    fn wait(
        ks: &'k Keyspace,
        cell: &'k Mutex<Shard>,
        holding: bool,
    ) -> Option<MutexGuard<'k, Shard>> {
        ks.contended
            .0
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        loop {
            if holding && ks.escalating.load(std::sync::atomic::Ordering::Acquire) {
                return None;
            }
            if let Some(g) = cell.try_lock_for(std::time::Duration::from_micros(200)) {
                return Some(g);
            }
        }
    }

    /// Adds shard `id` to a set that may already hold shards above it (a script
    /// reaching a key it did not declare). Above every held id it is taken in
    /// order; else it is tried, and when busy, waited for with the escalation flag
    /// set so that whoever holds it while waiting for one of ours backs off. Only
    /// one script runs at a time, so only one set ever escalates.
    pub fn acquire(&mut self, id: LockId) {
        use std::sync::atomic::Ordering;
        if id as usize >= self.ks.db_count() * SHARDS {
            return;
        }
        let pos = match self.held.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(_) => return,
            Err(pos) => pos,
        };
        let cell = self.ks.cell(id);
        let guard = if let Some(g) = cell.try_lock() {
            g
        } else if pos == self.held.len() {
            self.ks.contended.0.fetch_add(1, Ordering::Relaxed);
            cell.lock()
        } else {
            self.ks.contended.0.fetch_add(1, Ordering::Relaxed);
            self.ks.escalating.store(true, Ordering::Release);
            let g = loop {
                if let Some(g) = cell.try_lock_for(std::time::Duration::from_micros(100)) {
                    break g;
                }
            };
            self.ks.escalating.store(false, Ordering::Release);
            g
        };
        self.held.insert(pos, (id, guard));
    }

    /// Locks every shard of the databases in `dbs` (ascending).
    pub fn lock_dbs(ks: &'k Keyspace, dbs: impl IntoIterator<Item = usize>) -> Self {
        let mut ids: Vec<LockId> = Vec::new();
        for db in dbs {
            if db < ks.db_count() {
                ids.extend((0..SHARDS).map(|s| (db * SHARDS + s) as LockId));
            }
        }
        Self::lock(ks, &mut ids)
    }

    /// Locks every shard of the live databases in `dbs` and holds the empty ones
    /// shut (their gates), without allocating them: for commands that change
    /// nothing in an empty db (FLUSHDB, FLUSHALL). A flush on a fresh server would
    /// otherwise bring fifteen unused dbs to life, 3 MB of used memory for good.
    ///
    /// The gates come after the shards (out of id order): a gate is otherwise only
    /// taken to allocate a db, with nothing else waited for while it is held, so
    /// this cannot wait in a cycle. A db that came to life before its gate was
    /// taken has its shards locked only after the others, out of order: then
    /// everything is let go and taken again.
    pub fn lock_live_dbs(ks: &'k Keyspace, dbs: std::ops::Range<usize>) -> Self {
        let dbs = dbs.start.min(ks.db_count())..dbs.end.min(ks.db_count());
        loop {
            let live: SmallVec<[usize; 16]> = dbs.clone().filter(|&d| ks.is_live(d)).collect();
            let mut set = Self::lock_dbs(ks, live.iter().copied());
            let mut woke = false;
            for db in dbs.clone().filter(|d| !live.contains(d)) {
                let gate = ks.dbs[db].gate.lock();
                if ks.is_live(db) {
                    woke = true;
                    break;
                }
                set.shut.push((db, gate));
            }
            if !woke {
                return set;
            }
        }
    }

    /// Whether `db` is held shut (empty, not allocated).
    fn shuts(&self, db: usize) -> bool {
        self.shut.iter().any(|(d, _)| *d == db)
    }

    /// The keyspace these locks belong to.
    pub fn keyspace(&self) -> &'k Keyspace {
        self.ks
    }

    /// Whether shard `id` is held.
    pub fn holds(&self, id: LockId) -> bool {
        self.held.binary_search_by_key(&id, |(i, _)| *i).is_ok()
    }

    /// The held shard `id`. A shard that was not declared is taken only if that cannot
    /// deadlock (it is free right now, or above every held id); otherwise `None`.
    pub fn shard(&mut self, id: LockId) -> Option<&mut Shard> {
        if id as usize >= self.ks.db_count() * SHARDS || self.shuts(id as usize / SHARDS) {
            return None;
        }
        let pos = match self.held.binary_search_by_key(&id, |(i, _)| *i) {
            Ok(pos) => pos,
            Err(pos) => {
                let guard = if pos == self.held.len() {
                    self.ks.cell(id).lock()
                } else {
                    self.ks.cell(id).try_lock()?
                };
                debug_assert!(false, "shard {id} used without being locked first");
                self.held.insert(pos, (id, guard));
                pos
            }
        };
        Some(&mut self.held[pos].1)
    }

    /// Every held shard of `db`, in shard order.
    pub fn db_shards(&mut self, db: usize) -> impl Iterator<Item = &mut Shard> + use<'_, 'k> {
        let lo = (db * SHARDS) as LockId;
        let hi = lo + SHARDS as LockId;
        self.held
            .iter_mut()
            .filter(move |(id, _)| *id >= lo && *id < hi)
            .map(|(_, g)| &mut **g)
    }

    /// Two distinct held shards at once (for SWAPDB).
    pub fn pair(&mut self, a: LockId, b: LockId) -> Option<(&mut Shard, &mut Shard)> {
        let ia = self.held.binary_search_by_key(&a, |(i, _)| *i).ok()?;
        let ib = self.held.binary_search_by_key(&b, |(i, _)| *i).ok()?;
        if ia == ib {
            return None;
        }
        let (lo, hi, swapped) = if ia < ib {
            (ia, ib, false)
        } else {
            (ib, ia, true)
        };
        let (left, right) = self.held.split_at_mut(hi);
        let (x, y) = (&mut *left[lo].1, &mut *right[0].1);
        Some(if swapped { (y, x) } else { (x, y) })
    }

    /// Every held shard with its id, in ascending order.
    pub fn held(&mut self) -> impl Iterator<Item = (LockId, &mut Shard)> + use<'_, 'k> {
        self.held.iter_mut().map(|(id, g)| (*id, &mut **g))
    }

    /// Number of shards held.
    pub fn len(&self) -> usize {
        self.held.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held.is_empty()
    }
}
