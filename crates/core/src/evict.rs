//! maxmemory: evicting keys before a command when used memory is over the limit
//! (Redis's evict.c, performEvictions as processCommand calls it).
//!
//! Cost model. With `maxmemory` 0 the admission step reads that one config atomic
//! and nothing else. With a limit, every command compares the last measured used
//! memory with it; the measurement (the allocator's statistics, through the probe
//! the server installs) is refreshed at most every [`MEASURE_EVERY`] by whichever
//! thread finds it stale, so many cores do not queue on the allocator's statistics
//! lock. Eviction itself is serialized by the pool's mutex: it is the slow path,
//! and one evictor at a time is what keeps a write flood from many connections
//! under the limit (each over-limit writer waits its turn and frees its share).
//!
//! Locks. Eviction runs at admission, before the command takes any shard lock, and
//! locks one shard at a time (to sample, then to delete), so it cannot wait on a
//! lock its own command holds. The pool mutex is only ever taken with no shard lock
//! held. A CONFIG SET inside EXEC (which holds its transaction's shards) only wakes
//! the background evictor.
//!
//! Sampling. Redis samples `maxmemory-samples` keys of each db per round into a
//! pool of 16 candidates ordered by idle score, and evicts the best that still
//! exists. Here a round draws the samples uniformly from one random non-empty
//! shard of each db (shards are a uniform random partition of the keys, so this is
//! the same distribution); a db found empty is skipped for a while so a server using
//! db 0 does not walk fifteen empty dbs per eviction.
//!
//! Accounting. What a deletion frees is estimated (entry + MEMORY USAGE of the
//! value) rather than re-measured per key as Redis does: re-measuring through the
//! allocator's statistics is too slow per key, and client-side-caching
//! invalidations produced by the eviction (which allocate) must not count against
//! it (Redis's "eviction feedback loop"). The next measurement corrects the
//! estimate.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

use crate::config::P;
use crate::ctx::{lru_clock, Keys, KeysMode};
use crate::engine::Engine;
use crate::hooks::ServerHooks;
use crate::keyspace::{hash_key, shard_of, LockId, LockSet, SHARDS};

/// Candidates kept between rounds (Redis's EVPOOL_SIZE).
pub const POOL_SIZE: usize = 16;
/// How long a measurement of used memory serves admissions before one re-measures,
/// near the limit (within a sixteenth of it)...
pub const MEASURE_EVERY: Duration = Duration::from_micros(1000);
/// ...and far below it, where even a write flood needs longer to reach it.
pub const MEASURE_EVERY_FAR: Duration = Duration::from_millis(10);
/// How long the estimate left by an eviction serves before used memory is
/// measured again...
const AFTER_EVICTION: Duration = Duration::from_micros(500);
/// ...and when the eviction sent tracking invalidations to other clients, which
/// their connections' tasks write out on their own threads, later on a busy
/// machine.
const AFTER_EVICTION_NOTIFIED: Duration = Duration::from_millis(20);
/// How long the messages an eviction sent are left out of used memory.
const DISCOUNT_FOR: Duration = Duration::from_secs(1);
thread_local! {
    /// Admissions of this thread, for [`Eviction::used_memory`]'s clock reads.
    static CHECK_CLOCK: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// What this thread had allocated when it last forced a measurement.
    static THREAD_ALLOCATED: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How long a db found without candidates is skipped by sampling.
const EMPTY_DB_RECHECK: Duration = Duration::from_millis(100);

/// performEvictions' result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evict {
    /// Under the limit (now).
    Ok,
    /// Still over, the time budget ran out: the background evictor goes on.
    Running,
    /// Over the limit and nothing (more) can be evicted.
    Fail,
}

/// maxmemory-policy, in the order of the config enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// volatile-lru
    VolatileLru,
    /// volatile-lfu
    VolatileLfu,
    /// volatile-random
    VolatileRandom,
    /// volatile-ttl
    VolatileTtl,
    /// allkeys-lru
    AllkeysLru,
    /// allkeys-lfu
    AllkeysLfu,
    /// allkeys-random
    AllkeysRandom,
    /// noeviction
    NoEviction,
}

impl Policy {
    /// The configured policy.
    pub fn of(engine: &Engine) -> Policy {
        match engine.config.int(P::MaxmemoryPolicy) {
            0 => Policy::VolatileLru,
            1 => Policy::VolatileLfu,
            2 => Policy::VolatileRandom,
            3 => Policy::VolatileTtl,
            4 => Policy::AllkeysLru,
            5 => Policy::AllkeysLfu,
            6 => Policy::AllkeysRandom,
            _ => Policy::NoEviction,
        }
    }

    /// Only keys with a TTL are candidates.
    pub fn volatile(self) -> bool {
        matches!(
            self,
            Policy::VolatileLru
                | Policy::VolatileLfu
                | Policy::VolatileRandom
                | Policy::VolatileTtl
        )
    }

    fn random(self) -> bool {
        matches!(self, Policy::VolatileRandom | Policy::AllkeysRandom)
    }
}

/// Measures used memory in bytes (installed by the server: allocator statistics).
pub type Probe = Box<dyn Fn() -> u64 + Send + Sync>;

/// One candidate: the higher `idle`, the better to evict.
struct Candidate {
    idle: u64,
    db: usize,
    key: Vec<u8>,
    /// Where its entry was when sampled: the same key sampled again is found by
    /// this before any key comparison (an entry moved since is compared no more,
    /// and evicting it twice only misses once).
    addr: usize,
}

/// The eviction pool and the sampling state, behind one mutex.
struct Pool {
    cands: Candidates,
    /// Per db: skip sampling it until then (found empty).
    empty_until: Vec<Option<Instant>>,
    /// Random policies visit dbs round robin (Redis's next_db).
    next_db: usize,
    /// Sampling positions: not for secrets, so the cheapest generator.
    rng: SmallRng,
}

impl Default for Pool {
    fn default() -> Self {
        Pool {
            cands: Candidates::default(),
            empty_until: Vec::new(),
            next_db: 0,
            rng: SmallRng::from_entropy(),
        }
    }
}

/// The pool's candidates (Redis's EvictionPoolLRU).
#[derive(Default)]
struct Candidates {
    /// Ascending by `idle`; the best candidate is last.
    entries: Vec<Candidate>,
    /// Key buffers of candidates gone, reused: sampling allocates nothing once
    /// the pool is full.
    spare: Vec<Vec<u8>>,
}

impl Candidates {
    /// Redis's evictionPoolPopulate insertion: kept sorted, at most POOL_SIZE, the
    /// worst candidate dropped when full. `addr`: the entry's address.
    fn insert(&mut self, idle: u64, db: usize, key: &[u8], addr: usize) {
        let e = &mut self.entries;
        // As Redis's: a full pool takes only what beats its worst. LRU scores
        // have a second's resolution, so under a write flood most samples tie,
        // and taking ties would shift the pool for nothing.
        if e.len() == POOL_SIZE && e.first().is_some_and(|c| idle <= c.idle) {
            return;
        }
        if e.iter()
            .any(|c| c.addr == addr && c.db == db && c.key == key)
        {
            return;
        }
        let mut k = e.partition_point(|c| c.idle < idle);
        let mut buf = if e.len() == POOL_SIZE {
            k = k.saturating_sub(1);
            e.remove(0).key
        } else {
            self.spare.pop().unwrap_or_default()
        };
        buf.clear();
        buf.extend_from_slice(key);
        e.insert(
            k,
            Candidate {
                idle,
                db,
                key: buf,
                addr,
            },
        );
    }

    /// Whether a sample scored `idle` would be taken.
    fn takes(&self, idle: u64) -> bool {
        self.entries.len() < POOL_SIZE || self.entries.first().is_some_and(|c| idle > c.idle)
    }

    /// A key buffer back for reuse.
    fn recycle(&mut self, key: Vec<u8>) {
        if self.spare.len() < POOL_SIZE {
            self.spare.push(key);
        }
    }
}

/// Eviction state of an engine.
pub struct Eviction {
    probe: OnceLock<Probe>,
    thread_allocated: OnceLock<fn() -> u64>,
    origin: Instant,
    /// Last used-memory figure (measured, minus estimated frees since).
    used: AtomicU64,
    /// When `used` was measured, ns since `origin` (0: never).
    measured_ns: AtomicU64,
    pool: Mutex<Pool>,
    /// Bytes of messages evictions sent, left out of measurements until
    /// `discount_until_ns`.
    discount: AtomicU64,
    discount_until_ns: AtomicU64,
    /// When a failed eviction last waited for memory to come back.
    last_fail_wait_ns: AtomicU64,
    /// INFO evicted_keys.
    pub evicted_keys: AtomicU64,
    /// INFO total_eviction_exceeded_time, µs.
    pub exceeded_total_us: AtomicU64,
    /// Since when used memory has been over the limit (ns since `origin`, 0: not).
    exceeded_since_ns: AtomicU64,
    wake: Mutex<bool>,
    wake_cv: Condvar,
    /// Set while a background run is wanted (Redis's isEvictionProcRunning).
    pub background: AtomicBool,
    /// Set after a command that allocated much: the next admission, on whichever
    /// thread, measures again.
    remeasure: AtomicBool,
}

impl Default for Eviction {
    fn default() -> Self {
        Eviction {
            probe: OnceLock::new(),
            thread_allocated: OnceLock::new(),
            origin: Instant::now(),
            used: AtomicU64::new(0),
            measured_ns: AtomicU64::new(0),
            pool: Mutex::new(Pool::default()),
            discount: AtomicU64::new(0),
            discount_until_ns: AtomicU64::new(0),
            last_fail_wait_ns: AtomicU64::new(0),
            evicted_keys: AtomicU64::new(0),
            exceeded_total_us: AtomicU64::new(0),
            exceeded_since_ns: AtomicU64::new(0),
            wake: Mutex::new(false),
            wake_cv: Condvar::new(),
            background: AtomicBool::new(false),
            remeasure: AtomicBool::new(false),
        }
    }
}

impl Eviction {
    /// Installs the used-memory probe (once, at start-up).
    pub fn set_probe(&self, probe: Probe) {
        let _ = self.probe.set(probe);
    }

    /// Installs the counter of bytes the calling thread allocated so far (once,
    /// at start-up; jemalloc's `thread.allocated`).
    pub fn set_thread_allocated(&self, f: fn() -> u64) {
        let _ = self.thread_allocated.set(f);
    }

    /// Whether this thread allocated more than 1/256 of the limit (at least
    /// 64 KiB) since it last said so.
    fn thread_grew(&self, limit: u64) -> bool {
        let Some(f) = self.thread_allocated.get() else {
            return false;
        };
        let now = f();
        THREAD_ALLOCATED.with(|last| {
            let grew = now.wrapping_sub(last.get()) > (limit / 256).max(64 << 10);
            if grew {
                last.set(now);
            }
            grew
        })
    }

    /// Whether the calling thread allocated much since it last said so (checked
    /// after each command of a client: SETBIT far out, a big SET), with `limit`
    /// the maxmemory in force.
    pub fn grew(&self, limit: i64) -> bool {
        limit > 0 && self.thread_grew(limit as u64)
    }

    /// Has the next admission, on whichever thread, measure used memory again
    /// (the client whose command allocated much runs its next one: it must see
    /// that memory, as Redis's counter would, even on another worker thread).
    pub fn remeasure(&self) {
        if !self.remeasure.load(Relaxed) {
            self.remeasure.store(true, Relaxed);
        }
    }

    fn now_ns(&self) -> u64 {
        (self.origin.elapsed().as_nanos() as u64).max(1)
    }

    /// Used memory as eviction counts it: measured again when the last figure is
    /// older than [`MEASURE_EVERY`] or `fresh` is asked.
    pub fn used_memory(&self, fresh: bool, limit: u64) -> u64 {
        let Some(probe) = self.probe.get() else {
            return 0;
        };
        // A thread that allocated much since it last looked (SETBIT far out, a
        // big SET) measures now: the next admission must see it, as Redis's
        // counter would. One read of a thread-local counter.
        let fresh = fresh
            || self.thread_grew(limit)
            || (self.remeasure.load(Relaxed) && self.remeasure.swap(false, Relaxed));
        if !fresh
            && !CHECK_CLOCK.with(|c| {
                // Reading the clock costs more than the rest of the check on some
                // virtual machines: each thread looks at it every 8th admission.
                let n = c.get().wrapping_add(1);
                c.set(n);
                n % 8 == 0
            })
        {
            let last = self.used.load(Relaxed);
            if self.measured_ns.load(Relaxed) != 0 {
                return last;
            }
        }
        let now = self.now_ns();
        let at = self.measured_ns.load(Relaxed);
        let last = self.used.load(Relaxed);
        let every = if last < limit - limit / 16 {
            MEASURE_EVERY_FAR
        } else {
            MEASURE_EVERY
        };
        let stale = at == 0 || now.saturating_sub(at) > every.as_nanos() as u64;
        // One thread claims a stale figure's refresh; the others keep using the
        // figure meanwhile rather than all queueing on the allocator's statistics.
        if fresh
            || (stale
                && self
                    .measured_ns
                    .compare_exchange(at, now, Relaxed, Relaxed)
                    .is_ok())
        {
            let mut used = probe();
            if self.discount.load(Relaxed) > 0 {
                if now < self.discount_until_ns.load(Relaxed) {
                    used = used.saturating_sub(self.discount.load(Relaxed));
                } else {
                    self.discount.store(0, Relaxed);
                }
            }
            self.used.store(used, Relaxed);
            self.measured_ns.store(self.now_ns(), Relaxed);
            return used;
        }
        last
    }

    /// INFO current_eviction_exceeded_time, µs.
    pub fn exceeded_now_us(&self) -> u64 {
        match self.exceeded_since_ns.load(Relaxed) {
            0 => 0,
            t => self.now_ns().saturating_sub(t) / 1000,
        }
    }

    /// CONFIG RESETSTAT.
    pub fn reset_stats(&self) {
        self.evicted_keys.store(0, Relaxed);
        self.exceeded_total_us.store(0, Relaxed);
    }

    fn metrics(&self, result: Evict) {
        let since = self.exceeded_since_ns.load(Relaxed);
        match result {
            Evict::Ok if since != 0 => {
                let us = self.now_ns().saturating_sub(since) / 1000;
                self.exceeded_total_us.fetch_add(us, Relaxed);
                self.exceeded_since_ns.store(0, Relaxed);
            }
            Evict::Running | Evict::Fail if since == 0 => {
                self.exceeded_since_ns.store(self.now_ns(), Relaxed);
            }
            _ => {}
        }
    }

    /// Asks the background evictor to run (a lowered limit, an eviction that ran
    /// out of time).
    pub fn wake(&self) {
        self.background.store(true, Relaxed);
        *self.wake.lock() = true;
        self.wake_cv.notify_one();
    }

    /// The background evictor's wait: returns when woken or after `timeout`.
    pub fn wait(&self, timeout: Duration) {
        let mut woken = self.wake.lock();
        if !*woken {
            self.wake_cv.wait_for(&mut woken, timeout);
        }
        *woken = false;
    }
}

/// Redis's evictionTimeLimitUs from maxmemory-eviction-tenacity (`None`: no limit).
pub fn time_limit(tenacity: i64) -> Option<Duration> {
    let t = tenacity.clamp(0, 100);
    if t <= 10 {
        return Some(Duration::from_micros(50 * t as u64));
    }
    if t < 100 {
        return Some(Duration::from_micros(
            (500.0 * 1.15f64.powi(t as i32 - 10)) as u64,
        ));
    }
    None
}

/// Before a command (admission): evicts when used memory is over `maxmemory`, and
/// sets the OOM gate from the result. Returns whether the server is out of memory
/// (denyoom commands are then refused). Call only with `maxmemory` set and no
/// shard lock held.
pub fn before_command(engine: &Engine, hooks: &dyn ServerHooks) -> bool {
    let oom = perform(engine, hooks) == Evict::Fail;
    let gate = &engine.gates.out_of_memory;
    // Written only on a change: every command of every thread passes here.
    if gate.load(Relaxed) != oom {
        gate.store(oom, Relaxed);
    }
    oom
}

/// Redis's performEvictions.
pub fn perform(engine: &Engine, hooks: &dyn ServerHooks) -> Evict {
    let limit = engine.config.int(P::Maxmemory);
    let ev = &engine.evict;
    // While CLIENT PAUSE holds the dataset still, nothing is evicted and nothing
    // is refused for memory (Redis's isSafeToPerformEvictions).
    if limit <= 0
        || engine.gates.loading.load(Relaxed)
        || engine.halted.load(Relaxed)
        || (engine.gates.pause.maybe_on() && engine.gates.pause.active(engine.clock.now_ms()))
    {
        return Evict::Ok;
    }
    let limit = limit as u64;
    if ev.used_memory(false, limit) <= limit {
        ev.metrics(Evict::Ok);
        return Evict::Ok;
    }
    let policy = Policy::of(engine);
    if policy == Policy::NoEviction {
        ev.metrics(Evict::Fail);
        return Evict::Fail;
    }
    let mut pool = ev.pool.lock();
    // Another thread may have evicted while this one waited for the pool.
    let used = ev.used_memory(false, limit);
    if used <= limit {
        ev.metrics(Evict::Ok);
        return Evict::Ok;
    }
    let to_free = used - limit;
    let budget = time_limit(engine.config.int(P::MaxmemoryEvictionTenacity));
    let start = Instant::now();
    // One clock for the whole run (idle times, LFU decay, the funnel's time).
    let now_ms = engine.clock.ms_at(start);
    let (mut freed, mut keys_freed, mut misses) = (0u64, 0u64, 0u32);
    let mut notified = 0u64;
    let mut result = Evict::Ok;
    while freed < to_free {
        let Some((db, key)) = pick(engine, &mut pool, policy, now_ms) else {
            result = Evict::Fail;
            break;
        };
        let evicted = evict_key(
            engine,
            db,
            &key,
            policy.volatile(),
            hooks,
            &mut notified,
            now_ms,
        );
        pool.cands.recycle(key);
        match evicted {
            Some(bytes) => {
                freed += bytes;
                keys_freed += 1;
                ev.evicted_keys.fetch_add(1, Relaxed);
            }
            None => {
                // Gone since it was sampled: pick again, but never forever.
                misses += 1;
                if misses > 1000 {
                    result = Evict::Fail;
                    break;
                }
                continue;
            }
        }
        if keys_freed % 16 == 0 && budget.is_some_and(|b| start.elapsed() > b) {
            result = Evict::Running;
            break;
        }
    }
    drop(pool);
    // Redis's `eviction-cycle` latency event: the time of this run.
    engine
        .latency
        .sample(engine, "eviction-cycle", start.elapsed().as_millis() as u64);
    ev.used.store(used.saturating_sub(freed), Relaxed);
    if keys_freed > 0 {
        // The estimate stands a moment: what the eviction itself produced
        // (invalidations, `evicted` messages) is on its way to the clients'
        // sockets, as Redis writes replies before reading the next command;
        // measured now it would evict again for it (the tracking feedback loop).
        let grace = if notified > 0 {
            AFTER_EVICTION_NOTIFIED
        } else {
            AFTER_EVICTION
        };
        ev.measured_ns
            .store(ev.now_ns() + grace.as_nanos() as u64, Relaxed);
    }
    if notified > 0 {
        // Those messages are not memory eviction can free: for a while they are
        // left out of the figure (Redis has them in the sockets' kernel buffers by
        // its next command), so a slow writer cannot make eviction feed itself.
        // One window at a time, not extended: only what one second of
        // evictions sent is left out, and a client that never reads is counted
        // again after it.
        let now = ev.now_ns();
        if now >= ev.discount_until_ns.load(Relaxed) {
            ev.discount.store(0, Relaxed);
            ev.discount_until_ns
                .store(now + DISCOUNT_FOR.as_nanos() as u64, Relaxed);
        }
        ev.discount.fetch_add(notified, Relaxed);
    }
    if result == Evict::Fail {
        // Nothing (more) to evict. Redis waits, within the time budget, for the
        // lazy-free thread to give memory back; here memory is also given back
        // by other threads (a closed connection's buffers are freed by its own
        // task), and the figure this decision rests on may be up to a
        // measurement interval old: measured again, and waited for a moment,
        // before refusing writes.
        // A measurement costs tens of µs (jemalloc merges every arena's
        // statistics): while nothing can be evicted, one command in 10 ms waits.
        let wait = budget
            .unwrap_or(Duration::from_millis(100))
            .max(Duration::from_micros(500));
        let now = ev.now_ns();
        let last = ev.last_fail_wait_ns.load(Relaxed);
        let waited_lately = last != 0 && now.saturating_sub(last) < 10_000_000;
        if !waited_lately {
            ev.last_fail_wait_ns.store(now, Relaxed);
        }
        if !waited_lately {
            loop {
                if ev.used_memory(true, limit) <= limit {
                    result = Evict::Ok;
                    break;
                }
                if start.elapsed() >= wait {
                    break;
                }
                std::thread::sleep(Duration::from_micros(100));
            }
        }
    }
    if result == Evict::Running {
        ev.wake();
    }
    if keys_freed > 0 {
        engine.tracking_broadcast(hooks);
    }
    ev.metrics(result);
    result
}

/// The background evictor's work after a wake-up (Redis's evictionTimeProc): runs
/// [`perform`] until it is no longer cut short by its time budget.
pub fn background(engine: &Engine, hooks: &dyn ServerHooks) {
    if !engine.evict.background.swap(false, Relaxed) {
        return;
    }
    let since = Instant::now();
    while engine.transaction_open() && since.elapsed() < Duration::from_secs(1) {
        std::thread::sleep(Duration::from_micros(200));
    }
    while !engine.halted.load(Relaxed) && perform(engine, hooks) == Evict::Running {
        engine.evict.background.store(false, Relaxed);
    }
}

/// The next key to evict, `None` when there is no candidate at all.
fn pick(engine: &Engine, pool: &mut Pool, policy: Policy, now_ms: i64) -> Option<(usize, Vec<u8>)> {
    let dbs = engine.keyspace.db_count();
    if pool.empty_until.len() != dbs {
        pool.empty_until = vec![None; dbs];
    }
    let samples = engine.config.int(P::MaxmemorySamples).clamp(1, 1024) as usize;
    let volatile = policy.volatile();
    let Pool {
        cands,
        empty_until,
        next_db,
        rng,
    } = pool;
    if policy.random() {
        for forced in [false, true] {
            for _ in 0..dbs {
                *next_db = (*next_db + 1) % dbs;
                let db = *next_db;
                let mut found = None;
                if sample_db(
                    engine,
                    empty_until,
                    db,
                    1,
                    volatile,
                    forced,
                    true,
                    rng,
                    |_, key| {
                        let mut k = cands.spare.pop().unwrap_or_default();
                        k.clear();
                        k.extend_from_slice(key);
                        found = Some(k);
                    },
                ) > 0
                {
                    return found.map(|k| (db, k));
                }
            }
        }
        return None;
    }
    let lfu = matches!(policy, Policy::VolatileLfu | Policy::AllkeysLfu);
    let clock = lru_clock(now_ms);
    let minutes = crate::keyspace::access::lfu_minutes(now_ms);
    let decay = engine.config.int(P::LfuDecayTime).clamp(0, u32::MAX as i64) as u32;
    let score = |n: &crate::keyspace::Node| -> u64 {
        if policy == Policy::VolatileTtl {
            u64::MAX - n.expire_at().max(0) as u64
        } else if lfu {
            255 - u64::from(crate::keyspace::access::lfu_decayed(
                n.lru(),
                minutes,
                decay,
            ))
        } else {
            lru_idle_ms(clock, n.lru())
        }
    };
    for forced in [false, true] {
        let mut seen = 0;
        for db in 0..dbs {
            seen += sample_db(
                engine,
                empty_until,
                db,
                samples,
                volatile,
                forced,
                false,
                rng,
                |n, key| {
                    // A full pool takes nothing short of beating its worst: such a sample
                    // is not copied at all.
                    let s = score(n);
                    if cands.takes(s) {
                        cands.insert(s, db, key, n as *const _ as usize);
                    }
                },
            );
        }
        if seen > 0 || !cands.entries.is_empty() {
            return cands.entries.pop().map(|c| (c.db, c.key));
        }
    }
    None
}

/// Milliseconds since the LRU clock `then` (Redis's estimateObjectIdleTime).
pub fn lru_idle_ms(now: u32, then: u32) -> u64 {
    let secs = if now >= then {
        now - then
    } else {
        now + (0xFF_FFFF - then)
    };
    u64::from(secs) * 1000
}

/// Draws up to `count` keys of `db` (with a TTL only when `volatile`) from the
/// non-empty shards following a random one (one shard when it holds enough keys),
/// passing each to `f` under its shard's lock. Returns how many were drawn; 0
/// means the db has no candidate (then skipped for a while unless `forced`).
#[allow(clippy::too_many_arguments)]
fn sample_db(
    engine: &Engine,
    empty_until: &mut [Option<Instant>],
    db: usize,
    count: usize,
    volatile: bool,
    forced: bool,
    random_pick: bool,
    rng: &mut impl Rng,
    mut f: impl FnMut(&crate::keyspace::Node, &[u8]),
) -> usize {
    // A db never used has no shards to look at (no clock read for it).
    if !engine.keyspace.is_live(db) {
        return 0;
    }
    // The clock is read only for a db marked empty (sampling runs per eviction).
    if !forced && empty_until[db].is_some_and(|t| Instant::now() < t) {
        return 0;
    }
    let start = rng.gen_range(0..SHARDS);
    let mut got = 0;
    for i in 0..SHARDS {
        let id = (db * SHARDS + (start + i) % SHARDS) as LockId;
        let shard = engine.keyspace.lock_one(id);
        let present = if volatile { shard.expires } else { shard.len() };
        if present == 0 {
            continue;
        }
        let dict = shard.dict();
        // A small shard gives few samples, the rest come from the next shards: a
        // db of few keys per shard is then still sampled across many.
        let want = (present / 8).clamp(1, count.saturating_sub(got).max(1));
        let mut taken = 0;
        if random_pick {
            // Random policies: one fair pick (retried when it lacks a TTL).
            for _ in 0..16 {
                let Some(n) = dict.random(rng) else { break };
                if volatile && n.expire_at() == 0 {
                    continue;
                }
                f(n, n.key());
                taken = 1;
                break;
            }
        }
        if taken == 0 {
            // Consecutive buckets from a random one, as Redis's dictGetSomeKeys;
            // volatile policies skip keys without a TTL (and may walk the whole
            // table of a shard where those are rare).
            let buckets = dict.buckets();
            let start = rng.gen_range(0..buckets.max(1));
            let max = if volatile { buckets } else { want * 10 };
            dict.some(start, max, want, |n| {
                if volatile && n.expire_at() == 0 {
                    return false;
                }
                f(n, n.key());
                taken += 1;
                true
            });
        }
        got += taken;
        if got >= count {
            break;
        }
    }
    if got > 0 {
        empty_until[db] = None;
    } else {
        empty_until[db] = Some(Instant::now() + EMPTY_DB_RECHECK);
    }
    got
}

/// Deletes `key` of `db` if it still exists (with a TTL when `volatile`), through
/// the write funnel: WATCHers and tracking clients hear of it, `evicted` is
/// emitted, DEL (UNLINK under lazyfree-lazy-eviction) is logged. Returns the
/// estimated bytes freed.
fn evict_key(
    engine: &Engine,
    db: usize,
    key: &[u8],
    volatile: bool,
    hooks: &dyn ServerHooks,
    notified: &mut u64,
    now_ms: i64,
) -> Option<u64> {
    let hash = hash_key(key);
    let mut ids = [(db * SHARDS + shard_of(hash)) as LockId];
    let locks = LockSet::lock(&engine.keyspace, &mut ids);
    if engine.halted.load(std::sync::atomic::Ordering::Acquire) {
        // Read under the shard's lock, as commands read it: after a shutdown's
        // cut nothing changes the data (nor the AOF).
        return None;
    }
    let mut keys = Keys::new(locks, db, now_ms);
    keys.mode = KeysMode {
        track_ready: engine.blocked_clients.load(Relaxed) > 0,
        propagating: engine
            .propagating
            .load(std::sync::atomic::Ordering::Acquire),
        notify: engine.notify_flags(),
        tracked: engine.tracking.active(),
        ..KeysMode::default()
    };
    if engine.snapshot.active() {
        keys.cow = Some(&engine.snapshot);
    }
    if engine.watches.active() {
        keys.watches = Some(&engine.watches);
    }
    if keys.mode.tracked {
        // No client wrote it: BCAST NOLOOP clients hear of it too.
        keys.tracking = Some((&engine.tracking, 0));
    }
    let node = {
        let (shard, hash) = keys.shard(db, key).ok()?;
        let there = shard
            .dict()
            .get(key, hash)
            .is_some_and(|n| !volatile || n.expire_at() != 0);
        if !there {
            return None;
        }
        shard.remove(key, hash)?
    };
    let bytes = node.memory_usage(5) as u64;
    if matches!(*node.value(), crate::types::Value::Stream(_)) {
        // Clients blocked in XREADGROUP on it are told it is gone.
        keys.signal_ready(db, key);
    }
    keys.modified(db, key, crate::notify::events::EVICTED);
    let lazy = engine.config.bool(P::LazyfreeLazyEviction);
    if keys.mode.propagating {
        // Under the shard's lock, like a command's propagation.
        let verb: &[u8] = if lazy { b"UNLINK" } else { b"DEL" };
        let argv: [&[u8]; 2] = [verb, key];
        hooks.propagate(&[(db, &argv[..])]);
    }
    // What the invalidation messages will hold until written out (the key and
    // some 40 bytes of framing per client). Keyspace events are left out: with
    // no subscriber (the common case) they allocate nothing.
    for inv in &keys.invalidations {
        *notified += (inv.clients.len() * (inv.key.len() + 40)) as u64;
    }
    if !keys.invalidations.is_empty() {
        let gone = std::mem::take(&mut keys.invalidations);
        hooks.invalidate(0, &gone);
    }
    if !keys.events.is_empty() {
        let events = std::mem::take(&mut keys.events);
        hooks.keyspace_events(&events);
    }
    let ready = std::mem::take(&mut keys.ready);
    drop(keys);
    if lazy {
        crate::lazyfree::free(node);
    } else {
        // Freed now, as Redis's dbSyncDelete: the memory is back before the
        // command that needed it runs.
        drop(node);
    }
    if !ready.is_empty() {
        hooks.keys_ready(ready);
    }
    Some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_keeps_the_best_sixteen_sorted() {
        let mut p = Candidates::default();
        for i in 0..40u64 {
            let idle = (i * 7919) % 101;
            p.insert(idle, 0, format!("k{i}").as_bytes(), i as usize);
        }
        assert_eq!(p.entries.len(), POOL_SIZE);
        assert!(p.entries.windows(2).all(|w| w[0].idle <= w[1].idle));
        let mut all: Vec<u64> = (0..40u64).map(|i| (i * 7919) % 101).collect();
        all.sort_unstable();
        let best: Vec<u64> = p.entries.iter().map(|c| c.idle).collect();
        assert_eq!(best, all[all.len() - POOL_SIZE..]);
        // Each kept candidate has its own key.
        for c in &p.entries {
            let i = c.addr as u64;
            assert_eq!(c.key, format!("k{i}").into_bytes());
            assert_eq!(c.idle, (i * 7919) % 101);
        }
        // The same entry sampled twice is one candidate; another entry of the
        // same key (its entry moved) at worst a second one.
        let mut q = Candidates::default();
        q.insert(5, 0, b"a", 1);
        q.insert(5, 0, b"a", 1);
        assert_eq!(q.entries.len(), 1);
        q.insert(5, 1, b"a", 1);
        assert_eq!(q.entries.len(), 2);
        // Buffers of candidates gone are reused.
        q.recycle(b"old".to_vec());
        q.insert(7, 0, b"b", 2);
        assert_eq!(q.entries.last().map(|c| &c.key[..]), Some(&b"b"[..]));
        assert!(q.spare.is_empty());
    }

    #[test]
    fn tenacity_time_limits_are_redis_s() {
        assert_eq!(time_limit(0), Some(Duration::ZERO));
        assert_eq!(time_limit(10), Some(Duration::from_micros(500)));
        assert_eq!(time_limit(11), Some(Duration::from_micros(575)));
        assert_eq!(time_limit(100), None);
    }
}
