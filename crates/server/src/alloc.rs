//! jemalloc as the global allocator, and its statistics for INFO memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Allocator figures.
pub struct MemStats {
    /// Bytes allocated by the program.
    pub allocated: u64,
    /// Bytes in active pages.
    pub active: u64,
    /// Bytes resident.
    pub resident: u64,
    /// Highest `allocated` seen.
    pub peak: u64,
}

static PEAK: AtomicU64 = AtomicU64::new(0);

/// Sets the admission's out-of-memory gate from the allocator: with `maxmemory`
/// set, denyoom commands are refused while more is allocated (nothing is evicted
/// yet, whatever the policy). Run when maxmemory changes and by the cron.
pub fn refresh_oom_gate(engine: &ferrokv_core::Engine) {
    let max = engine.config.int(ferrokv_core::config::P::Maxmemory);
    let over = max > 0 && stats().allocated > max as u64;
    engine.gates.out_of_memory.store(over, Relaxed);
}

/// Returns the calling thread's cache of freed blocks to the arena (jemalloc's
/// `thread.tcache.flush`). A closed connection's buffers (16 KiB and up, which
/// jemalloc caches per thread up to 32 KiB) then stop counting as allocated in
/// INFO used_memory: with many worker threads each would otherwise keep some,
/// where Redis's one thread reuses the same.
pub fn flush_thread_cache() {
    // SAFETY: a NUL-terminated name; this control takes no input and gives no
    // output, so every pointer is null and the length 0.
    unsafe {
        tikv_jemalloc_sys::mallctl(
            c"thread.tcache.flush".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        );
    }
}

/// Current allocator statistics (refreshes jemalloc's epoch).
pub fn stats() -> MemStats {
    let _ = tikv_jemalloc_ctl::epoch::advance();
    // Blocks freed into a thread's cache are free for the program (Redis counts
    // what it has malloc'd and not freed), but jemalloc counts them as allocated
    // until that thread flushes its cache: with several workers, a connection's
    // buffers freed on one thread would stay counted while it idles.
    // SAFETY: a NUL-terminated name of a size_t statistic
    // (stats.arenas.<MALLCTL_ARENAS_ALL>.tcache_bytes).
    let cached =
        unsafe { tikv_jemalloc_ctl::raw::read::<usize>(b"stats.arenas.4096.tcache_bytes\0") }
            .unwrap_or(0) as u64;
    let allocated =
        (tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64).saturating_sub(cached);
    let active = tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64;
    let resident = tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0) as u64;
    let peak = PEAK.fetch_max(allocated, Relaxed).max(allocated);
    MemStats {
        allocated,
        active,
        resident,
        peak,
    }
}
