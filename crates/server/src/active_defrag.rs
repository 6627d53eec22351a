//! When active defragmentation runs, and how much (Redis's activeDefragCycle and
//! computeDefragCycles, called from its serverCron): a thread of its own wakes
//! `hz` times a second; once a second it reads jemalloc's fragmentation (active
//! pages over allocated bytes) and, past active-defrag-threshold-lower and
//! active-defrag-ignore-bytes, picks a CPU share between active-defrag-cycle-min
//! and -max by how far the fragmentation is between the two thresholds; it then
//! spends that share of each period on the walk (`ferrokv_core::defrag`). A
//! finished pass re-reads the fragmentation and starts another only if still
//! needed.
//!
//! Redis stops while a forked child runs (moving pages would copy them); ferrokv
//! does not fork, so it also runs during saves and while a dataset loads (the
//! moves happen under the same shard locks the loader and the saver take).

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_core::config::P;
use ferrokv_core::defrag::{self, Progress};
use ferrokv_core::Engine;

use crate::state::ServerState;

/// Starts the thread (it idles while activedefrag is off).
pub fn start(engine: Arc<Engine>, state: Arc<ServerState>) {
    let spawned = std::thread::Builder::new()
        .name("active-defrag".into())
        .spawn(move || run(&engine, &state));
    if let Err(e) = spawned {
        tracing::warn!("could not start the active defrag thread: {e}");
    }
}

fn run(engine: &Engine, state: &ServerState) {
    let mut last_check: Option<Instant> = None;
    while !state.shutting_down.load(Relaxed) {
        let hz = engine.config.int(P::Hz).clamp(1, 500) as u64;
        let period = Duration::from_micros(1_000_000 / hz);
        let began = Instant::now();
        let Some(hooks) = defrag::hooks().filter(|_| defrag::enabled(engine)) else {
            if engine.defrag.running.load(Relaxed) > 0 {
                // Turned off mid-pass: the next pass starts from the beginning.
                engine.defrag.set_running(0);
                engine.defrag.reset_walk();
            }
            last_check = None;
            std::thread::sleep(period);
            continue;
        };
        if last_check.is_none_or(|t| t.elapsed() >= Duration::from_secs(1)) {
            decide(engine);
            last_check = Some(Instant::now());
        }
        let pct = engine.defrag.running.load(Relaxed);
        if pct > 0 && state.debug.cron_on() {
            let budget = (period * pct as u32 / 100).max(Duration::from_micros(1));
            let (progress, longest_hold) = engine.defrag.step(engine, hooks, budget);
            // Redis's event is the cycle's duration, during which its one thread
            // served nobody. Here a cycle holds one shard at a time while the
            // other threads serve on: the longest hold is what a client could
            // have waited.
            engine.latency.sample(
                engine,
                "active-defrag-cycle",
                longest_hold.as_millis() as u64,
            );
            if let Progress::PassDone(took, moved) = progress {
                let (pct, bytes) = fragmentation();
                tracing::debug!(
                    "Active defrag done in {}ms, reallocated={moved}, frag={pct:.0}%, frag_bytes={bytes}",
                    took.as_millis()
                );
                engine.defrag.set_running(0);
                // Another pass right away if still needed.
                decide(engine);
                last_check = Some(Instant::now());
            }
        }
        if let Some(rest) = period.checked_sub(began.elapsed()) {
            std::thread::sleep(rest);
        }
    }
}

/// jemalloc's fragmentation: percent of active pages beyond allocated bytes,
/// and those bytes (Redis's getAllocatorFragmentation).
fn fragmentation() -> (f64, u64) {
    let m = crate::alloc::stats();
    let allocated = m.allocator_allocated.max(1);
    let pct = m.active as f64 / allocated as f64 * 100.0 - 100.0;
    (pct, m.active.saturating_sub(m.allocator_allocated))
}

/// Redis's computeDefragCycles: start when past both thresholds, and raise
/// (never lower, within a pass) the CPU share as fragmentation grows.
fn decide(engine: &Engine) {
    let (pct, bytes) = fragmentation();
    let running = engine.defrag.running.load(Relaxed);
    if running == 0 && !defrag::worth_starting(engine, pct, bytes) {
        return;
    }
    let cpu = defrag::cpu_percent(engine, pct);
    if cpu > running {
        engine.defrag.set_running(cpu);
        tracing::debug!("Starting active defrag, frag={pct:.0}%, frag_bytes={bytes}, cpu={cpu}%");
    }
}

/// Redis's whileBlockedCron, for active defrag: a loader calls this every
/// thousand commands or keys. While a pass runs, the loader gives it its share
/// of each `hz` period on its own thread, as Redis's loading does; otherwise a
/// loader on another core refills the holes faster than the defrag thread alone
/// moves blocks, and a load ends as fragmented as it would without defrag.
pub fn while_loading(engine: &Engine, last: &mut Option<Instant>) {
    let pct = engine.defrag.running.load(Relaxed);
    let Some(hooks) = defrag::hooks().filter(|_| pct > 0 && defrag::enabled(engine)) else {
        return;
    };
    let hz = engine.config.int(P::Hz).clamp(1, 500) as u64;
    let period = Duration::from_micros(1_000_000 / hz);
    if last.is_some_and(|t| t.elapsed() < period) {
        return;
    }
    *last = Some(Instant::now());
    let budget = (period * pct as u32 / 100).max(Duration::from_micros(1));
    let (progress, longest_hold) = engine.defrag.step(engine, hooks, budget);
    engine.latency.sample(
        engine,
        "active-defrag-cycle",
        longest_hold.as_millis() as u64,
    );
    if let Progress::PassDone(..) = progress {
        engine.defrag.set_running(0);
        decide(engine);
    }
}
