//! Per-command statistics: INFO commandstats (calls, time, rejected and failed
//! calls) and INFO latencystats (latency percentiles), as Redis 7.0 keeps them.
//!
//! Every command counts on every call, so the counters must neither become a
//! shared cache line that all cores fight over nor cost a locked read-modify-write
//! each (four of them per command took ~10% of GET/SET throughput at pipeline 16):
//! each live thread owns a stripe that only it writes, with plain loads and stores,
//! and INFO sums the stripes. Threads beyond the stripes share one overflow stripe
//! with atomic adds. A stripe's latency histograms are allocated on the first call
//! of that command on that thread.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// Sub-buckets per power of two in a latency histogram (about 3% resolution).
const SUB_BITS: u32 = 5;
const SUBS: usize = 1 << SUB_BITS;
/// Powers of two of nanoseconds covered (up to about 4.6 hours).
const POWERS: usize = 44;
const BUCKETS: usize = POWERS * SUBS;

/// One command's counters in one stripe.
#[derive(Default)]
struct Cell {
    calls: AtomicU64,
    usec: AtomicU64,
    rejected: AtomicU64,
    failed: AtomicU64,
    latency: OnceLock<Box<[AtomicU32]>>,
}

/// One thread's counters for every command, allocated when that thread first
/// counts (a stripe is some 25 KB, and most stripes of a many-core machine's
/// table are never used by a server that runs few threads).
type Stripe = OnceLock<Box<[Cell]>>;

/// The counters of every command, striped by thread.
pub struct CommandStats {
    stripes: Box<[Stripe]>,
    commands: usize,
}

/// A command's totals over every stripe.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Calls that ran.
    pub calls: u64,
    /// Time spent in them, µs.
    pub usec: u64,
    /// Calls refused before running (arity, admission).
    pub rejected: u64,
    /// Calls that ran and replied with an error.
    pub failed: u64,
}

/// Stripe numbers of the threads that ended, for new threads to reuse: a number
/// belongs to one live thread at a time.
static FREE_STRIPES: std::sync::Mutex<Vec<usize>> = std::sync::Mutex::new(Vec::new());
static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

/// This thread's stripe number, given back when the thread ends.
struct StripeNo(usize);

impl StripeNo {
    fn take() -> StripeNo {
        let reused = FREE_STRIPES.lock().ok().and_then(|mut f| f.pop());
        StripeNo(reused.unwrap_or_else(|| NEXT_STRIPE.fetch_add(1, Relaxed)))
    }
}

impl Drop for StripeNo {
    fn drop(&mut self) {
        if let Ok(mut f) = FREE_STRIPES.lock() {
            f.push(self.0);
        }
    }
}

thread_local! {
    static MINE: StripeNo = StripeNo::take();
}

/// The calling thread's stripe among `n` owned ones, or None when its number is
/// past them (it then uses the shared overflow stripe).
fn own_stripe(n: usize) -> Option<usize> {
    MINE.try_with(|s| s.0).ok().filter(|&i| i < n)
}

/// Adds `v` to a counter: a plain load and store on a stripe only this thread
/// writes, an atomic add on the shared one.
fn add(a: &AtomicU64, v: u64, owned: bool) {
    if owned {
        a.store(a.load(Relaxed).wrapping_add(v), Relaxed);
    } else {
        a.fetch_add(v, Relaxed);
    }
}

/// The histogram bucket of a latency in ns: values below [`SUBS`] one each, then
/// per power of two the top [`SUB_BITS`] bits below the leading one.
fn bucket(ns: u64) -> usize {
    if ns < SUBS as u64 {
        return ns as usize;
    }
    let power = 63 - ns.leading_zeros() as usize;
    let sub = ((ns >> (power - SUB_BITS as usize)) as usize) & (SUBS - 1);
    ((power - SUB_BITS as usize + 1) * SUBS + sub).min(BUCKETS - 1)
}

/// The highest value (ns) a bucket holds.
fn bucket_top(b: usize) -> u64 {
    if b < SUBS {
        return b as u64;
    }
    let power = b / SUBS + SUB_BITS as usize - 1;
    let width = 1u64 << (power - SUB_BITS as usize);
    (1u64 << power) + ((b % SUBS) as u64 + 1) * width - 1
}

impl CommandStats {
    /// Counters for `commands` commands (indexes of [`super::Command::id`]).
    pub fn new(commands: usize) -> CommandStats {
        let threads = std::thread::available_parallelism().map_or(4, |n| n.get());
        // Owned stripes for the workers and the other threads that run commands
        // (AOF loading, the cron), plus the shared overflow stripe.
        let stripes = (threads * 2).clamp(8, 64) + 1;
        CommandStats {
            stripes: (0..stripes).map(|_| Stripe::new()).collect(),
            commands,
        }
    }

    /// Allocates the calling thread's stripe now (a worker, when it starts): a
    /// stripe allocated at a thread's first command would show as memory growth
    /// while clients are served (unit/maxmemory measures that growth to the KB).
    pub fn claim(&self) {
        let owned = self.stripes.len() - 1;
        let i = own_stripe(owned).unwrap_or(owned);
        self.stripe(i);
    }

    /// Stripe `i`, allocated on first use.
    fn stripe(&self, i: usize) -> &[Cell] {
        self.stripes[i].get_or_init(|| (0..self.commands).map(|_| Cell::default()).collect())
    }

    /// The calling thread's cell for command `id`, and whether it owns it.
    fn cell(&self, id: usize) -> Option<(&Cell, bool)> {
        let owned = self.stripes.len() - 1;
        let (i, own) = match own_stripe(owned) {
            Some(i) => (i, true),
            None => (owned, false),
        };
        self.stripe(i).get(id).map(|c| (c, own))
    }

    /// A call of command `id` that ran for `ns`; `failed` if it replied an error;
    /// `latency` when latency tracking is on.
    pub fn called(&self, id: usize, ns: u64, failed: bool, latency: bool) {
        let Some((c, own)) = self.cell(id) else {
            return;
        };
        add(&c.calls, 1, own);
        add(&c.usec, ns / 1000, own);
        if failed {
            add(&c.failed, 1, own);
        }
        if latency {
            let h = c
                .latency
                .get_or_init(|| (0..BUCKETS).map(|_| AtomicU32::new(0)).collect());
            let b = &h[bucket(ns)];
            if own {
                b.store(b.load(Relaxed).wrapping_add(1), Relaxed);
            } else {
                b.fetch_add(1, Relaxed);
            }
        }
    }

    /// A call of command `id` refused before it ran.
    pub fn rejected(&self, id: usize) {
        if let Some((c, own)) = self.cell(id) {
            add(&c.rejected, 1, own);
        }
    }

    /// Command `id`'s totals.
    pub fn totals(&self, id: usize) -> Totals {
        let mut t = Totals::default();
        for s in self.stripes.iter().filter_map(OnceLock::get) {
            if let Some(c) = s.get(id) {
                t.calls += c.calls.load(Relaxed);
                t.usec += c.usec.load(Relaxed);
                t.rejected += c.rejected.load(Relaxed);
                t.failed += c.failed.load(Relaxed);
            }
        }
        t
    }

    /// Calls per stripe, summed over every command: the load of each thread that
    /// runs commands (stripe numbers are given to threads as they first run one;
    /// the last entry is the stripe shared by the threads past the owned ones).
    pub fn calls_per_stripe(&self) -> Vec<u64> {
        self.stripes
            .iter()
            .map(|s| {
                s.get()
                    .map_or(0, |s| s.iter().map(|c| c.calls.load(Relaxed)).sum())
            })
            .collect()
    }

    /// Command `id`'s latency at each percentile (0..=100), in µs; `None` when it
    /// recorded no latency.
    pub fn percentiles(&self, id: usize, percentiles: &[f64]) -> Option<Vec<f64>> {
        let mut merged = vec![0u64; BUCKETS];
        let mut total = 0u64;
        for s in self.stripes.iter().filter_map(OnceLock::get) {
            if let Some(h) = s.get(id).and_then(|c| c.latency.get()) {
                for (m, b) in merged.iter_mut().zip(h.iter()) {
                    let n = u64::from(b.load(Relaxed));
                    *m += n;
                    total += n;
                }
            }
        }
        if total == 0 {
            return None;
        }
        Some(
            percentiles
                .iter()
                .map(|p| {
                    // The smallest value at or below which `p` percent of calls lie.
                    let want = ((p / 100.0) * total as f64).ceil().max(1.0) as u64;
                    let mut seen = 0;
                    let mut top = 0;
                    for (b, n) in merged.iter().enumerate() {
                        if *n == 0 {
                            continue;
                        }
                        seen += n;
                        top = bucket_top(b);
                        if seen >= want {
                            break;
                        }
                    }
                    top as f64 / 1000.0
                })
                .collect(),
        )
    }

    /// LATENCY HISTOGRAM: command `id`'s calls with a latency recorded and their
    /// cumulative distribution as Redis reports it (hdrhistogram's log iteration
    /// from 1024 ns doubling, values clamped to 1024 ns..1 s): `(bucket top µs,
    /// calls up to it)` for each bucket that adds calls. `None` when it recorded
    /// none since the last reset.
    pub fn cdf(&self, id: usize) -> Option<(u64, Vec<(u64, u64)>)> {
        let mut merged = vec![0u64; BUCKETS];
        for s in self.stripes.iter().filter_map(OnceLock::get) {
            if let Some(h) = s.get(id).and_then(|c| c.latency.get()) {
                for (m, b) in merged.iter_mut().zip(h.iter()) {
                    *m += u64::from(b.load(Relaxed));
                }
            }
        }
        let total: u64 = merged.iter().sum();
        if total == 0 {
            return None;
        }
        // hdrhistogram (2 significant digits) reports for 2^k ns the top of its
        // equivalence range, 2^k + 2^k/128 - 1.
        let top = |k: u32| {
            let v = 1024u64 << k;
            v + v / 128 - 1
        };
        let mut per_step = [0u64; 21];
        for (b, n) in merged.iter().enumerate() {
            if *n == 0 {
                continue;
            }
            // The lowest value of the bucket, clamped as Redis clamps.
            let low = if b == 0 { 0 } else { bucket_top(b - 1) + 1 };
            let low = low.clamp(1024, 1_000_000_000);
            let k = (0..21).find(|&k| low <= top(k)).unwrap_or(20);
            per_step[k as usize] += n;
        }
        let mut cumulative = 0;
        let mut out = Vec::new();
        for (k, n) in per_step.iter().enumerate() {
            if *n > 0 {
                cumulative += n;
                out.push((top(k as u32) / 1000, cumulative));
            }
        }
        Some((total, out))
    }

    /// CONFIG RESETSTAT: every counter back to zero (a command counted on
    /// another thread at that very moment may keep its count from before).
    pub fn reset(&self) {
        for s in self.stripes.iter().filter_map(OnceLock::get) {
            for c in s.iter() {
                for a in [&c.calls, &c.usec, &c.rejected, &c.failed] {
                    a.store(0, Relaxed);
                }
                if let Some(h) = c.latency.get() {
                    for b in h.iter() {
                        b.store(0, Relaxed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_tight() {
        let mut last = 0;
        for ns in [
            1u64, 2, 31, 32, 33, 100, 1_000, 1_500, 10_000, 123_456, 10_000_000,
        ] {
            let b = bucket(ns);
            assert!(b >= last, "{ns}");
            last = b;
            let top = bucket_top(b);
            assert!(
                top >= ns && (top - ns) as f64 <= ns as f64 / 16.0 + 1.0,
                "{ns} -> {top}"
            );
        }
    }

    #[test]
    fn more_live_threads_than_stripes_lose_no_count() {
        let s = std::sync::Arc::new(CommandStats::new(2));
        let n = s.stripes.len() + 16;
        let barrier = std::sync::Arc::new(std::sync::Barrier::new(n));
        let threads: Vec<_> = (0..n)
            .map(|_| {
                let (s, barrier) = (s.clone(), barrier.clone());
                std::thread::spawn(move || {
                    // All alive at once: the last ones share the overflow stripe.
                    barrier.wait();
                    for _ in 0..1000 {
                        s.called(1, 1000, false, true);
                    }
                    barrier.wait();
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(s.totals(1).calls, 1000 * n as u64);
        assert_eq!(s.totals(1).usec, 1000 * n as u64);
    }

    #[test]
    fn totals_and_percentiles_over_threads() {
        let s = std::sync::Arc::new(CommandStats::new(3));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let s = s.clone();
                std::thread::spawn(move || {
                    for i in 0..100u64 {
                        s.called(1, (i + 1) * 1000, i % 10 == 0, true);
                    }
                    s.rejected(1);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let t = s.totals(1);
        assert_eq!((t.calls, t.rejected, t.failed), (400, 4, 40));
        assert_eq!(t.usec, 4 * (1..=100).sum::<u64>());
        let p = s.percentiles(1, &[0.0, 50.0, 100.0]).expect("recorded");
        assert!((1.0..1.1).contains(&p[0]), "{p:?}");
        assert!((50.0..53.0).contains(&p[1]), "{p:?}");
        assert!((100.0..104.0).contains(&p[2]), "{p:?}");
        assert_eq!(s.percentiles(2, &[50.0]), None);
        s.reset();
        assert_eq!(s.totals(1), Totals::default());
    }
}
