//! Active defragmentation (Redis's defrag.c): while the allocator holds many
//! half-empty slabs, walk the keyspace and move the blocks that sit in the least
//! used ones, so those slabs empty and their pages go back to the system.
//!
//! Map: `mover.rs` moves one block (the allocator's hint, the copy, the pointer
//! swap) and is what every data type's `defrag` method calls; this file is the
//! walk: shard after shard of every live db, each under its lock, then the
//! scripts' bodies. Values with more than active-defrag-max-scan-fields elements
//! are not done with their key: their keys are kept and their elements done in
//! steps, re-looking the key up each time (Redis's defrag_later), so no step holds
//! a shard longer than a few hundred moves.
//!
//! When to run, and for how long, is the server's (`server/src/active_defrag.rs`):
//! it reads the allocator's fragmentation once a second, as Redis's
//! computeDefragCycles, and gives [`Defrag::step`] its share of each `hz` period.

mod mover;

pub use mover::{hooks, install, span, AllocHooks, Mover};

#[cfg(test)]
pub(crate) use mover::MoveAll;

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::keyspace::{LockId, SHARDS};

/// Elements of a big value done between two looks at the clock.
const STEP_UNITS: usize = 64;

/// Where the walk is.
#[derive(Default)]
struct Walk {
    /// The next shard, over every db (`db * SHARDS + shard`).
    next_shard: usize,
    /// Keys of the last shard whose values are done in steps, the one in
    /// progress first, with the db they are in.
    later: Vec<Box<[u8]>>,
    later_db: usize,
    /// Where the big value in progress goes on from.
    later_from: usize,
    /// When this pass started, and the moves counted then (the log's figures).
    pass_started: Option<(Instant, u64)>,
}

/// The defragmenter's state and INFO figures.
#[derive(Default)]
pub struct Defrag {
    /// The CPU percentage it runs at; 0 when it does not (INFO active_defrag_running).
    pub running: AtomicU64,
    /// Blocks moved (active_defrag_hits).
    pub hits: AtomicU64,
    /// Blocks looked at and left (active_defrag_misses).
    pub misses: AtomicU64,
    /// Keys with something moved (active_defrag_key_hits).
    pub key_hits: AtomicU64,
    /// Keys with nothing moved (active_defrag_key_misses).
    pub key_misses: AtomicU64,
    walk: Mutex<Walk>,
    /// Since when it has been running, and for how long it ran before (INFO
    /// current_ / total_active_defrag_time).
    since: Mutex<Option<Instant>>,
    total_us: AtomicU64,
}

/// What [`Defrag::step`] got to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    /// The budget ran out first.
    More,
    /// The pass is over: every db and the scripts were done. The time it took,
    /// and blocks moved in it.
    PassDone(Duration, u64),
}

impl Defrag {
    /// Forgets where the walk was (activedefrag turned off mid-pass).
    pub fn reset_walk(&self) {
        *self.walk.lock() = Walk::default();
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        for c in [
            &self.hits,
            &self.misses,
            &self.key_hits,
            &self.key_misses,
            &self.total_us,
        ] {
            c.store(0, Relaxed);
        }
        let mut since = self.since.lock();
        if since.is_some() {
            *since = Some(Instant::now());
        }
    }

    /// Sets the CPU percentage it runs at (0: stopped), keeping the time figures.
    pub fn set_running(&self, pct: u64) {
        self.running.store(pct, Relaxed);
        let mut since = self.since.lock();
        match (pct > 0, *since) {
            (true, None) => *since = Some(Instant::now()),
            (false, Some(t)) => {
                self.total_us
                    .fetch_add(t.elapsed().as_micros() as u64, Relaxed);
                *since = None;
            }
            _ => {}
        }
    }

    /// Milliseconds it ran in all (the current run included), and of the
    /// current run (0 when not running).
    pub fn times_ms(&self) -> (u64, u64) {
        let current = self
            .since
            .lock()
            .map_or(0, |t| t.elapsed().as_micros() as u64);
        (
            (self.total_us.load(Relaxed) + current) / 1000,
            current / 1000,
        )
    }

    /// Goes on with the walk for about `budget`. Also returns the longest time
    /// it held one lock: what a client could have waited for it (the walk holds
    /// one shard, or the script cache, at a time; the rest of the server runs).
    pub fn step(
        &self,
        engine: &Engine,
        hooks: &dyn AllocHooks,
        budget: Duration,
    ) -> (Progress, Duration) {
        let start = Instant::now();
        let mut walk = self.walk.lock();
        let mut m = Mover::new(hooks);
        let mut keys = [0u64; 2];
        let mut longest = Duration::ZERO;
        let total = engine.keyspace.db_count() * SHARDS;
        let max_units = engine
            .config
            .int_named("active-defrag-max-scan-fields")
            .max(1) as usize;
        if walk.pass_started.is_none() {
            walk.pass_started = Some((start, self.hits.load(Relaxed)));
        }
        let result = loop {
            if !walk.later.is_empty() {
                // The big values of the last shard first, in steps.
                let id = crate::keyspace::lock_id(walk.later_db, &walk.later[0]);
                let mut shard = engine.keyspace.lock_one(id);
                let held = Instant::now();
                let from = walk.later_from;
                let next = shard.defrag_value_step(&walk.later[0], &mut m, from, STEP_UNITS);
                drop(shard);
                longest = longest.max(held.elapsed());
                match next {
                    Some(n) => walk.later_from = n,
                    None => {
                        walk.later.remove(0);
                        walk.later_from = 0;
                    }
                }
            } else if walk.next_shard < total {
                let id = walk.next_shard;
                walk.next_shard += 1;
                if !engine.keyspace.is_live(id / SHARDS) {
                    // A db never used: nothing to lock, its shards are skipped.
                    walk.next_shard = (id / SHARDS + 1) * SHARDS;
                } else {
                    let mut shard = engine.keyspace.lock_one(id as LockId);
                    if !shard.is_empty() {
                        let held = Instant::now();
                        walk.later_db = id / SHARDS;
                        let mut later = std::mem::take(&mut walk.later);
                        shard.defrag(&mut m, max_units, &mut later, &mut keys);
                        drop(shard);
                        longest = longest.max(held.elapsed());
                        walk.later = later;
                    }
                }
                if walk.next_shard.is_multiple_of(SHARDS) && walk.later.is_empty() {
                    // A db is done: the step ends here, as Redis's cycle ends
                    // with each db it finishes. A pass then spans at least one
                    // period per db, and the fragmentation it leaves is measured
                    // between steps, not mid-db.
                    self.count(&m, keys);
                    break Progress::More;
                }
            } else {
                // Redis's defragOtherGlobals: the scripts' bodies.
                let held = Instant::now();
                engine.scripting.defrag(&mut m);
                longest = longest.max(held.elapsed());
                let (started, hits_then) = walk.pass_started.take().unwrap_or((start, 0));
                *walk = Walk::default();
                self.count(&m, keys);
                let moved = self.hits.load(Relaxed).saturating_sub(hits_then);
                break Progress::PassDone(started.elapsed(), moved);
            }
            if start.elapsed() >= budget {
                self.count(&m, keys);
                break Progress::More;
            }
        };
        (result, longest)
    }

    fn count(&self, m: &Mover<'_>, keys: [u64; 2]) {
        self.hits.fetch_add(m.hits, Relaxed);
        self.misses.fetch_add(m.misses, Relaxed);
        self.key_hits.fetch_add(keys[0], Relaxed);
        self.key_misses.fetch_add(keys[1], Relaxed);
    }
}

/// The CPU percentage Redis's computeDefragCycles picks for a fragmentation of
/// `frag_pct` percent: cycle-min at threshold-lower, cycle-max at
/// threshold-upper, linear between, bounded by both.
pub fn cpu_percent(engine: &Engine, frag_pct: f64) -> u64 {
    let c = &engine.config;
    let lower = c.int_named("active-defrag-threshold-lower") as f64;
    let upper = c.int_named("active-defrag-threshold-upper") as f64;
    let min = c.int_named("active-defrag-cycle-min");
    let max = c.int_named("active-defrag-cycle-max");
    // Redis's INTERPOLATE macro, in integer arithmetic on the result.
    let pct = if upper == lower {
        max as f64
    } else {
        min as f64 + (frag_pct - lower) * (max - min) as f64 / (upper - lower)
    };
    (pct as i64).clamp(min.min(max), max.max(min)).max(0) as u64
}

/// Whether a fragmentation of `frag_pct` percent and `frag_bytes` is worth
/// starting a pass for (below threshold-lower or ignore-bytes it is not).
pub fn worth_starting(engine: &Engine, frag_pct: f64, frag_bytes: u64) -> bool {
    let c = &engine.config;
    frag_pct >= c.int_named("active-defrag-threshold-lower") as f64
        && frag_bytes >= c.int_named("active-defrag-ignore-bytes").max(0) as u64
}

/// Whether activedefrag is on.
pub fn enabled(engine: &Engine) -> bool {
    engine.config.int_named("activedefrag") != 0 && hooks().is_some()
}

#[cfg(test)]
mod tests;
