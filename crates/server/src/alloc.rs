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

/// jemalloc's statistics report (MEMORY MALLOC-STATS).
pub fn malloc_stats() -> String {
    unsafe extern "C" fn append(opaque: *mut std::ffi::c_void, text: *const std::ffi::c_char) {
        // SAFETY: `opaque` is the `Vec<u8>` passed below, alive for the call;
        // jemalloc hands a NUL-terminated string.
        unsafe {
            let out = &mut *(opaque as *mut Vec<u8>);
            out.extend_from_slice(std::ffi::CStr::from_ptr(text).to_bytes());
        }
    }
    let mut out: Vec<u8> = Vec::new();
    // SAFETY: the callback only appends to `out`, which outlives the call; a null
    // options string selects the full report.
    unsafe {
        tikv_jemalloc_sys::malloc_stats_print(
            Some(append),
            &mut out as *mut Vec<u8> as *mut std::ffi::c_void,
            std::ptr::null(),
        );
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Returns dirty pages of every arena to the system (MEMORY PURGE; Redis's
/// jemalloc_purge). Whether jemalloc accepted it.
pub fn purge() -> bool {
    // SAFETY: a NUL-terminated control name (arena.<MALLCTL_ARENAS_ALL>.purge)
    // that takes and returns nothing.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctl(
            c"arena.4096.purge".as_ptr(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
        )
    };
    rc == 0
}
