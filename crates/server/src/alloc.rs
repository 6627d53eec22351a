//! jemalloc as the global allocator, and its statistics for INFO memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`; `_RJEM_MALLOC_CONF` in the environment
/// still overrides them). Freed pages go back to the system within about a second
/// rather than ten: with an arena per few threads, pages freed by eviction under a
/// write flood otherwise stay resident in every arena (RSS 1.38x maxmemory against
/// 1.26x with this, redis-benchmark SET of 1 kB values at 10x a 50 MB limit).
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 37] = b"dirty_decay_ms:1000,muzzy_decay_ms:0\0";

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

/// Bytes the calling thread has allocated since it started (jemalloc's
/// `thread.allocated`, read through its per-thread pointer: no call into
/// jemalloc after the first).
pub fn thread_allocated() -> u64 {
    thread_local! {
        static COUNTER: Option<tikv_jemalloc_ctl::thread::ThreadLocal<u64>> =
            tikv_jemalloc_ctl::thread::allocatedp::read().ok();
    }
    COUNTER.with(|c| c.map_or(0, |p| p.get()))
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

/// What DEBUG MALLCTL replies.
pub enum Mallctl {
    /// The (old) value.
    Value(i64),
    /// A write-only control was written.
    Written,
}

/// Redis's mallctl_int (DEBUG MALLCTL <key> [<val>]): reads (and with `new`
/// writes) an integer control, trying 8-, 4-, 2- then 1-byte widths until
/// jemalloc accepts one. `Err` is the error text.
pub fn mallctl_int(name: &[u8], new: Option<i64>) -> Result<Mallctl, String> {
    let mut cname = name.to_vec();
    if cname.contains(&0) {
        return Err("Invalid argument".into());
    }
    cname.push(0);
    let mut size = 8usize;
    while size > 0 {
        let mut old = 0i64;
        let mut val = new.unwrap_or(0);
        let mut got = size;
        let (newp, newlen) = match new {
            Some(_) => (&mut val as *mut i64 as *mut std::ffi::c_void, size),
            None => (std::ptr::null_mut(), 0),
        };
        // SAFETY: a NUL-terminated name; `old` and `val` are 8-byte buffers and
        // the lengths passed never exceed 8 (little-endian: the low bytes come
        // first, as a narrower control reads or writes them).
        let rc = unsafe {
            tikv_jemalloc_sys::mallctl(
                cname.as_ptr() as *const std::ffi::c_char,
                &mut old as *mut i64 as *mut std::ffi::c_void,
                &mut got,
                newp,
                newlen,
            )
        };
        if rc == 0 {
            // Narrow unsigned values read into the low bytes of a zeroed i64.
            return Ok(Mallctl::Value(old));
        }
        if rc == libc::EPERM && new.is_some() {
            // SAFETY: as above, write only.
            let rc = unsafe {
                tikv_jemalloc_sys::mallctl(
                    cname.as_ptr() as *const std::ffi::c_char,
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut val as *mut i64 as *mut std::ffi::c_void,
                    size,
                )
            };
            if rc == 0 {
                return Ok(Mallctl::Written);
            }
        }
        if rc == libc::EINVAL {
            size /= 2;
            continue;
        }
        return Err(std::io::Error::from_raw_os_error(rc)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or("Error")
            .to_string());
    }
    Err("Error".into())
}

/// Control names resolved once: a name lookup per read costs more than the read.
struct Mibs {
    epoch: [usize; 1],
    allocated: [usize; 2],
    tcache: [usize; 4],
}

static MIBS: std::sync::OnceLock<Option<Mibs>> = std::sync::OnceLock::new();

/// INFO's used_memory (allocated, less what sits in thread caches) at the least
/// cost, for the maxmemory check: pre-resolved controls, no other statistic read.
pub fn used_memory() -> u64 {
    let mibs = MIBS.get_or_init(|| {
        let mut m = Mibs {
            epoch: [0; 1],
            allocated: [0; 2],
            tcache: [0; 4],
        };
        let ok = tikv_jemalloc_ctl::raw::name_to_mib(b"epoch\0", &mut m.epoch).is_ok()
            && tikv_jemalloc_ctl::raw::name_to_mib(b"stats.allocated\0", &mut m.allocated).is_ok()
            && tikv_jemalloc_ctl::raw::name_to_mib(
                b"stats.arenas.4096.tcache_bytes\0",
                &mut m.tcache,
            )
            .is_ok();
        ok.then_some(m)
    });
    let Some(m) = mibs else {
        return stats().allocated;
    };
    // SAFETY: each MIB was resolved from the control of that type (epoch: u64,
    // written to refresh; the two statistics: size_t).
    unsafe {
        let _ = tikv_jemalloc_ctl::raw::update_mib::<u64>(&m.epoch, 1);
        let cached = tikv_jemalloc_ctl::raw::read_mib::<usize>(&m.tcache).unwrap_or(0) as u64;
        let allocated = tikv_jemalloc_ctl::raw::read_mib::<usize>(&m.allocated).unwrap_or(0) as u64;
        allocated.saturating_sub(cached)
    }
}
