//! jemalloc as the global allocator, and its statistics for INFO memory.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's options (its `malloc_conf`; `_RJEM_MALLOC_CONF` in the environment
/// still overrides them). Freed pages go back to the system within a fifth of a
/// second rather than ten: with an arena per few threads, pages freed by eviction
/// under a write flood otherwise stay resident in every arena (redis-benchmark SET
/// of 1 kB values at 10x a 50 MB limit: peak RSS 1.38x maxmemory with jemalloc's
/// default, 1.198-1.202x with 1000 ms, 1.193-1.197x with 200 ms; the background
/// threads do the purging, and pages freed under a flood are reused long before
/// 200 ms).
#[export_name = "_rjem_malloc_conf"]
pub static MALLOC_CONF: &[u8; 36] = b"dirty_decay_ms:200,muzzy_decay_ms:0\0";

/// What an allocation of `n` bytes really takes (jemalloc's size class, as
/// Redis's zmalloc_size counts a block): a 116 KB buffer is a 128 KB block, and
/// client memory counted by capacity missed 13% of what big reply buffers hold.
#[inline]
pub fn block_size(n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    // SAFETY: nallocx only computes the size class of a request; no flags.
    match unsafe { tikv_jemalloc_sys::nallocx(n, 0) } {
        0 => n,
        size => size,
    }
}

/// Allocator figures.
pub struct MemStats {
    /// Bytes allocated by the program.
    pub allocated: u64,
    /// jemalloc's own allocated figure, blocks held in thread caches included
    /// (INFO allocator_allocated and the fragmentation ratios built on it, as
    /// Redis reports them).
    pub allocator_allocated: u64,
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

/// Flushes the calling thread's cache when it is about to sleep, at most ten
/// times a second. jemalloc returns a thread's cached blocks a few at a time as
/// that thread allocates; a worker that goes idle after a big delete would keep
/// its cache, one block in each of many slabs, and those slabs can be neither
/// freed nor emptied by active defrag (the blocks belong to no key). Measured:
/// 14 MB of pages active for 2 MB allocated after a FLUSHALL of 300k keys.
pub fn flush_idle_thread_cache() {
    thread_local! {
        static LAST: std::cell::Cell<Option<std::time::Instant>> = const { std::cell::Cell::new(None) };
    }
    let due = LAST.with(|l| {
        let now = std::time::Instant::now();
        let due = l
            .get()
            .is_none_or(|t| now.duration_since(t) >= std::time::Duration::from_millis(100));
        if due {
            l.set(Some(now));
        }
        due
    });
    if due {
        flush_thread_cache();
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
    let raw = tikv_jemalloc_ctl::stats::allocated::read().unwrap_or(0) as u64;
    let allocated = raw.saturating_sub(cached);
    // The allocator_* figures leave Lua's arena out: Redis's Lua allocates with
    // libc's malloc, outside the jemalloc those figures describe, and active
    // defrag judges fragmentation by them (the interpreters' memory, which no
    // defrag can move, would otherwise dilute it).
    let (lua_allocated, lua_active) = lua_arena_use();
    let active = tikv_jemalloc_ctl::stats::active::read().unwrap_or(0) as u64;
    let resident = tikv_jemalloc_ctl::stats::resident::read().unwrap_or(0) as u64;
    let peak = PEAK.fetch_max(allocated, Relaxed).max(allocated);
    MemStats {
        allocated,
        allocator_allocated: raw.saturating_sub(lua_allocated),
        active: active.saturating_sub(lua_active),
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

/// What DEBUG MALLCTL-STR replies.
pub enum MallctlStr {
    /// The (old) value.
    Value(String),
    /// A write-only control was written.
    Written,
}

/// The string controls of jemalloc (by the end of their names): only these are
/// read or written as C strings; reading another as one would follow a number
/// as a pointer, writing one could hand jemalloc a bad hook table.
fn is_string_control(name: &str) -> bool {
    name == "version"
        || [
            ".dss",
            "thp",
            ".percpu_arena",
            ".junk",
            "prof_prefix",
            "prof.name",
            "prof.prefix",
            "prof.dump",
        ]
        .iter()
        .any(|s| name.ends_with(s))
}

/// Redis's mallctl_string (DEBUG MALLCTL-STR <key> [<val>|VOID]): reads a string
/// control, or writes one; `VOID` writes nothing to a control that takes no
/// input (`thread.tcache.flush`). `Err` is the error text.
pub fn mallctl_str(name: &[u8], new: Option<&[u8]>) -> Result<MallctlStr, String> {
    let text = std::str::from_utf8(name).map_err(|_| "Invalid argument".to_string())?;
    let cname = std::ffi::CString::new(name).map_err(|_| "Invalid argument".to_string())?;
    let void = new.is_some_and(|v| v == b"VOID");
    let strerror = |rc: i32| {
        std::io::Error::from_raw_os_error(rc)
            .to_string()
            .split(" (os error")
            .next()
            .unwrap_or("Error")
            .to_string()
    };
    let mut old: *const std::ffi::c_char = std::ptr::null();
    let read = if is_string_control(text) {
        let mut sz = std::mem::size_of::<*const std::ffi::c_char>();
        // SAFETY: a string control writes one `char *` into `old`.
        unsafe {
            tikv_jemalloc_sys::mallctl(
                cname.as_ptr(),
                &mut old as *mut _ as *mut std::ffi::c_void,
                &mut sz,
                std::ptr::null_mut(),
                0,
            )
        }
    } else {
        libc::EPERM
    };
    if read != 0 && !(read == libc::EPERM && new.is_some()) {
        return Err(strerror(if is_string_control(text) {
            read
        } else {
            libc::EINVAL
        }));
    }
    // The old value is copied before a write could change what it points at.
    let old_text = (read == 0 && !old.is_null())
        // SAFETY: jemalloc returned a NUL-terminated string it owns.
        .then(|| {
            unsafe { std::ffi::CStr::from_ptr(old) }
                .to_string_lossy()
                .into_owned()
        });
    let mut written = 0;
    if let Some(v) = new {
        written = if void {
            // SAFETY: no input, no output.
            unsafe {
                tikv_jemalloc_sys::mallctl(
                    cname.as_ptr(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    0,
                )
            }
        } else if is_string_control(text) {
            let value = std::ffi::CString::new(v).map_err(|_| "Invalid argument".to_string())?;
            let mut p = value.as_ptr();
            // SAFETY: a string control reads one `char *`, valid for the call.
            unsafe {
                tikv_jemalloc_sys::mallctl(
                    cname.as_ptr(),
                    std::ptr::null_mut(),
                    std::ptr::null_mut(),
                    &mut p as *mut _ as *mut std::ffi::c_void,
                    std::mem::size_of::<*const std::ffi::c_char>(),
                )
            }
        } else {
            libc::EINVAL
        };
    }
    match old_text {
        Some(s) => Ok(MallctlStr::Value(s)),
        None if written != 0 => Err(strerror(written)),
        None => Ok(MallctlStr::Written),
    }
}

/// Active defragmentation's view of jemalloc (`ferrokv_core::defrag::AllocHooks`).
struct DefragHooks {
    /// The MIB of `experimental.utilization.query`, resolved once.
    query: [usize; 3],
    /// `MALLOCX_ARENA` of the arena moved blocks go to (see
    /// [`install_defrag_hooks`]), or 0 for the calling thread's.
    arena: std::ffi::c_int,
    /// `MALLOCX_ARENA` of Lua's arena, or 0 for the calling thread's.
    lua_arena: std::ffi::c_int,
}

/// A thread's own cache for Lua's blocks (jemalloc's `tcache.create`): Lua's
/// frequent small allocations stay as cheap as with the thread's cache, and
/// its cached blocks are never handed to the keyspace (a thread's ordinary
/// cache serves any arena's blocks to any allocation of their size).
struct LuaCache(Option<std::ffi::c_uint>);

impl LuaCache {
    fn create() -> LuaCache {
        // SAFETY: a NUL-terminated name; reading the control creates a cache
        // and gives its id, an unsigned.
        LuaCache(
            unsafe { tikv_jemalloc_ctl::raw::read::<std::ffi::c_uint>(b"tcache.create\0") }.ok(),
        )
    }
}

impl Drop for LuaCache {
    fn drop(&mut self) {
        if let Some(id) = self.0 {
            // SAFETY: the control takes one unsigned, a cache created above and
            // no longer used: blocks freed after this (a Lua state dropped later
            // in the thread's exit) find the thread-local gone and skip caches.
            let _ = unsafe { tikv_jemalloc_ctl::raw::write(b"tcache.destroy\0", id) };
        }
    }
}

thread_local! {
    static LUA_CACHE: LuaCache = LuaCache::create();
}

/// The cache flag for Lua's blocks on this thread.
fn lua_cache_flag() -> std::ffi::c_int {
    LUA_CACHE
        .try_with(|c| c.0.map(|id| tikv_jemalloc_sys::MALLOCX_TCACHE(id as usize)))
        .ok()
        .flatten()
        .unwrap_or(tikv_jemalloc_sys::MALLOCX_TCACHE_NONE)
}

/// What `experimental.utilization.query` reports of a block's slab.
#[repr(C)]
struct SlabUse {
    /// The slab the next allocation of this size class would come from.
    slabcur: *mut std::ffi::c_void,
    /// Free and total regions of the block's slab, and its size in bytes.
    nfree: usize,
    nregs: usize,
    size: usize,
    /// Free and total regions over all slabs of the block's bin.
    bin_nfree: usize,
    bin_nregs: usize,
}

impl DefragHooks {
    fn slab_use(&self, ptr: *const u8) -> Option<SlabUse> {
        let mut out = SlabUse {
            slabcur: std::ptr::null_mut(),
            nfree: 0,
            nregs: 0,
            size: 0,
            bin_nfree: 0,
            bin_nregs: 0,
        };
        let mut out_len = std::mem::size_of::<SlabUse>();
        let mut input = ptr;
        // SAFETY: the control reads one pointer and writes exactly a SlabUse
        // (six words, the layout jemalloc documents for this control); `ptr` is
        // only looked up in jemalloc's extent map, never dereferenced.
        let rc = unsafe {
            tikv_jemalloc_sys::mallctlbymib(
                self.query.as_ptr(),
                self.query.len(),
                &mut out as *mut SlabUse as *mut std::ffi::c_void,
                &mut out_len,
                &mut input as *mut *const u8 as *mut std::ffi::c_void,
                std::mem::size_of::<*const u8>(),
            )
        };
        (rc == 0).then_some(out)
    }
}

impl ferrokv_core::defrag::AllocHooks for DefragHooks {
    fn flush_thread_cache(&self) {
        flush_thread_cache();
    }

    unsafe fn script_realloc(&self, ptr: *mut u8, _old: usize, new: usize) -> *mut u8 {
        let flags = lua_cache_flag() | self.lua_arena;
        // SAFETY: lua_Alloc's contract (the caller's); blocks are freed and
        // resized unsized (jemalloc looks their size up), so one made by the
        // global allocator before these hooks existed is handled as well.
        unsafe {
            if new == 0 {
                if !ptr.is_null() {
                    tikv_jemalloc_sys::dallocx(ptr as *mut std::ffi::c_void, flags);
                }
                std::ptr::null_mut()
            } else if ptr.is_null() {
                tikv_jemalloc_sys::mallocx(new, flags) as *mut u8
            } else {
                tikv_jemalloc_sys::rallocx(ptr as *mut std::ffi::c_void, new, flags) as *mut u8
            }
        }
    }

    /// Redis's defrag hint (its jemalloc patch's `get_defrag_hint`), from the
    /// utilization figures jemalloc 5.3 offers: move a block of a small size
    /// class whose slab is not the current one and is used no more than the
    /// bin's average slab (the current slab left out) plus an eighth. The eighth
    /// keeps a bin whose slabs are all equally used from never draining.
    fn worth_moving(&self, ptr: *const u8) -> bool {
        let Some(u) = self.slab_use(ptr) else {
            return false;
        };
        // Large blocks (no slab) report no bin; full slabs have nothing to gain.
        if u.bin_nregs == 0 || u.nregs == 0 || u.nfree == 0 {
            return false;
        }
        let cur = u.slabcur as usize;
        let p = ptr as usize;
        if cur != 0 && p >= cur && p < cur + u.size {
            return false;
        }
        let mut slabs = u.bin_nregs / u.nregs;
        let mut used = u.bin_nregs - u.bin_nfree;
        if cur != 0 {
            if let Some(c) = self.slab_use(cur as *const u8) {
                used = used.saturating_sub(c.nregs.saturating_sub(c.nfree));
                slabs = slabs.saturating_sub(1);
            }
        }
        // Redis's rule compares with the bin's average, which blocks cached by
        // threads (one in each of many slabs, owned by no key) pull down; a slab
        // under three quarters used is worth emptying whatever the average.
        let in_use = u.nregs - u.nfree;
        in_use * slabs <= used + used / 8 || in_use * 4 < u.nregs * 3
    }

    unsafe fn alloc_uncached(&self, layout: std::alloc::Layout) -> *mut u8 {
        // SAFETY: a non-zero size (the mover skips empty layouts) and flags
        // jemalloc's Rust allocator would use for this layout, plus no cache.
        unsafe {
            tikv_jemalloc_sys::mallocx(layout.size(), uncached_flags(layout) | self.arena)
                as *mut u8
        }
    }

    unsafe fn free_uncached(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        // SAFETY: the caller passes a live block of this layout.
        unsafe {
            tikv_jemalloc_sys::sdallocx(
                ptr as *mut std::ffi::c_void,
                layout.size(),
                uncached_flags(layout),
            )
        }
    }
}

/// The mallocx flags for `layout` (an alignment only where malloc's own would
/// not do, as the global allocator decides), bypassing the thread cache.
fn uncached_flags(layout: std::alloc::Layout) -> std::ffi::c_int {
    // jemalloc's minimum alignment on the 64-bit targets we build for.
    const MIN_ALIGN: usize = 16;
    let align = if layout.align() <= MIN_ALIGN && layout.align() <= layout.size() {
        0
    } else {
        tikv_jemalloc_sys::MALLOCX_ALIGN(layout.align())
    };
    align | tikv_jemalloc_sys::MALLOCX_TCACHE_NONE
}

/// Gives active defragmentation its jemalloc hooks (at start-up). Without the
/// utilization control (a jemalloc built without it) nothing is installed and
/// `activedefrag yes` is refused, as by a Redis built without its jemalloc.
pub fn install_defrag_hooks() {
    let mut mib = [0usize; 3];
    let mut len = mib.len();
    // SAFETY: a NUL-terminated name and a MIB buffer of `len` entries.
    let rc = unsafe {
        tikv_jemalloc_sys::mallctlnametomib(
            c"experimental.utilization.query".as_ptr(),
            mib.as_mut_ptr(),
            &mut len,
        )
    };
    if rc != 0 || len != mib.len() {
        return;
    }
    // Moved blocks go to an arena of their own. In a worker's arena (which the
    // defrag thread may share) the destination is whatever slab jemalloc picks
    // next, often another half-empty one being drained: blocks went round between
    // sparse slabs and a pass never got below 1.08. Here they fill slabs one
    // after another, and the workers' sparse slabs only empty.
    let arena = create_arena();
    let lua_arena = match create_arena_index() {
        Some(i) => {
            let _ = LUA_ARENA.set(i);
            tikv_jemalloc_sys::MALLOCX_ARENA(i as usize)
        }
        None => 0,
    };
    static HOOKS: std::sync::OnceLock<DefragHooks> = std::sync::OnceLock::new();
    ferrokv_core::defrag::install(HOOKS.get_or_init(|| DefragHooks {
        query: mib,
        arena,
        lua_arena,
    }));
}

/// The index of Lua's arena, once created.
static LUA_ARENA: std::sync::OnceLock<std::ffi::c_uint> = std::sync::OnceLock::new();

/// Bytes allocated in Lua's arena and bytes of its active pages (as of the last
/// epoch refresh).
fn lua_arena_use() -> (u64, u64) {
    let Some(i) = LUA_ARENA.get() else {
        return (0, 0);
    };
    let read = |name: String| -> u64 {
        let name = format!("{name}\0");
        // SAFETY: a NUL-terminated name of a size_t statistic.
        unsafe { tikv_jemalloc_ctl::raw::read::<usize>(name.as_bytes()) }.unwrap_or(0) as u64
    };
    let allocated = read(format!("stats.arenas.{i}.small.allocated"))
        + read(format!("stats.arenas.{i}.large.allocated"));
    let active = read(format!("stats.arenas.{i}.pactive")) * read("arenas.page".into());
    (allocated, active)
}

/// A new jemalloc arena's index.
fn create_arena_index() -> Option<std::ffi::c_uint> {
    // SAFETY: a NUL-terminated name; reading the control creates an arena and
    // gives its index, an unsigned.
    unsafe { tikv_jemalloc_ctl::raw::read::<std::ffi::c_uint>(b"arenas.create\0") }.ok()
}

/// A new jemalloc arena's `MALLOCX_ARENA` flag (0, the thread's own arena, if
/// jemalloc refuses).
fn create_arena() -> std::ffi::c_int {
    create_arena_index().map_or(0, |i| tikv_jemalloc_sys::MALLOCX_ARENA(i as usize))
}

/// jemalloc-bg-thread (Redis's set_jemalloc_bg_thread): jemalloc's own threads
/// return freed pages to the system, instead of whichever thread frees next
/// doing it inline (a command, or active defrag holding a shard, could spend
/// milliseconds in madvise after a big delete).
pub fn set_background_thread(on: bool) {
    // SAFETY: a NUL-terminated name; the control takes one bool.
    let _ = unsafe { tikv_jemalloc_ctl::raw::write(b"background_thread\0", on) };
}
