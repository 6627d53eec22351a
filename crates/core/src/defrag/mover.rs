//! Moving one allocation at a time: what every data type's `defrag` calls.
//!
//! The allocator tells whether a block sits in a slab used less than the average
//! slab of its size class ([`AllocHooks::worth_moving`], Redis's jemalloc defrag
//! hint); when it does, the block is copied into a fresh allocation made without
//! the thread cache (so it lands in the fullest slab with room, not back in the
//! hole it came from) and the old one is freed without the cache too (so its slab
//! empties and goes back to the system). The owner's pointer is then replaced: no
//! other pointer to these blocks may exist, which holds for everything owned by a
//! `Box`, a `Vec` or an entry while its shard's lock is held.

use std::alloc::Layout;
use std::ptr::NonNull;
use std::sync::OnceLock;

/// What the allocator offers the engine (the server implements it for jemalloc;
/// without it nothing moves and Lua uses the global allocator).
pub trait AllocHooks: Send + Sync {
    /// Lua's allocator, with `lua_Alloc`'s contract (`new` 0 frees, a null
    /// `ptr` allocates, otherwise resizes; null on failure). Redis's Lua
    /// allocates with libc's malloc, apart from the jemalloc its data uses, so
    /// the interpreters' short-lived objects never share slabs with keys and
    /// values: an implementation gives them an arena of their own.
    ///
    /// # Safety
    /// `ptr` is null or a live block of `old` bytes from this function (or
    /// from the global allocator with that size).
    unsafe fn script_realloc(&self, ptr: *mut u8, old: usize, new: usize) -> *mut u8;

    /// Returns the calling thread's cached free blocks to their slabs. A
    /// background thread calls it when it has freed a batch and goes idle: the
    /// allocator trims a thread's cache only as that thread allocates again, and
    /// until then each cached block keeps a slab that could otherwise empty.
    fn flush_thread_cache(&self) {}

    /// Whether the block at `ptr` should move: it is a small allocation, not in
    /// the slab new allocations come from, in a slab used less than its size
    /// class's average (plus an eighth, so that equally used slabs still drain)
    /// or less than three quarters.
    fn worth_moving(&self, ptr: *const u8) -> bool;

    /// Allocates `layout` bypassing the thread cache.
    ///
    /// # Safety
    /// As [`std::alloc::GlobalAlloc::alloc`]; the block may be freed by the
    /// global allocator with the same layout.
    unsafe fn alloc_uncached(&self, layout: Layout) -> *mut u8;

    /// Frees a block of the global allocator bypassing the thread cache.
    ///
    /// # Safety
    /// As [`std::alloc::GlobalAlloc::dealloc`].
    unsafe fn free_uncached(&self, ptr: *mut u8, layout: Layout);
}

static HOOKS: OnceLock<&'static dyn AllocHooks> = OnceLock::new();

/// Installs the allocator's hooks (once, at start-up; later calls are ignored).
pub fn install(hooks: &'static dyn AllocHooks) {
    let _ = HOOKS.set(hooks);
}

/// The installed hooks, if any.
pub fn hooks() -> Option<&'static dyn AllocHooks> {
    HOOKS.get().copied()
}

/// The elements a defrag step covers, `units` from `from` of `len`, and where
/// the next step starts (`None`: this one ends the value).
pub fn span(from: usize, units: usize, len: usize) -> (std::ops::Range<usize>, Option<usize>) {
    let end = from.saturating_add(units).min(len);
    (from.min(end)..end, (end < len).then_some(end))
}

/// Moves blocks and counts what it did (INFO's active_defrag_hits / misses).
pub struct Mover<'a> {
    hooks: &'a dyn AllocHooks,
    /// Blocks moved.
    pub hits: u64,
    /// Blocks looked at and left where they were.
    pub misses: u64,
}

impl<'a> Mover<'a> {
    /// A mover using `hooks`.
    pub fn new(hooks: &'a dyn AllocHooks) -> Mover<'a> {
        Mover {
            hooks,
            hits: 0,
            misses: 0,
        }
    }

    /// Moves the block at `ptr` (of `layout`) when the allocator says so and
    /// returns its new address; the old block is freed.
    ///
    /// # Safety
    /// `ptr` is a live block of the global allocator of exactly `layout`, and the
    /// caller replaces every pointer to it with the returned one.
    pub unsafe fn block(&mut self, ptr: *mut u8, layout: Layout) -> Option<NonNull<u8>> {
        if layout.size() == 0 {
            return None;
        }
        if !self.hooks.worth_moving(ptr) {
            self.misses += 1;
            return None;
        }
        // SAFETY: the caller's contract; the copy is of the block's own size and
        // the two blocks are distinct (the old one is still allocated).
        unsafe {
            let new = NonNull::new(self.hooks.alloc_uncached(layout))?;
            std::ptr::copy_nonoverlapping(ptr, new.as_ptr(), layout.size());
            self.hooks.free_uncached(ptr, layout);
            self.hits += 1;
            Some(new)
        }
    }

    /// Moves a boxed value.
    pub fn boxed<T>(&mut self, b: &mut Box<T>) {
        let ptr = &mut **b as *mut T;
        // SAFETY: a Box owns its block, of T's layout; it is replaced at once by
        // one owning the new block (the old was freed by `block`, so the old Box
        // is overwritten, not dropped).
        unsafe {
            if let Some(new) = self.block(ptr as *mut u8, Layout::new::<T>()) {
                std::ptr::write(b, Box::from_raw(new.as_ptr() as *mut T));
            }
        }
    }

    /// A step of a boxed value's defrag (`from` the element it starts at): the
    /// first step also moves the box itself.
    pub fn boxed_step<T>(
        &mut self,
        b: &mut Box<T>,
        from: usize,
        step: impl FnOnce(&mut T, &mut Self) -> Option<usize>,
    ) -> Option<usize> {
        if from == 0 {
            self.boxed(b);
        }
        step(b, self)
    }

    /// Moves a boxed slice.
    pub fn boxed_slice<T>(&mut self, b: &mut Box<[T]>) {
        let len = b.len();
        let layout = Layout::for_value(&**b);
        let ptr = b.as_mut_ptr();
        // SAFETY: as in `boxed`, for the slice's layout.
        unsafe {
            if let Some(new) = self.block(ptr as *mut u8, layout) {
                let slice = std::ptr::slice_from_raw_parts_mut(new.as_ptr() as *mut T, len);
                std::ptr::write(b, Box::from_raw(slice));
            }
        }
    }

    /// Moves a vector's buffer.
    pub fn vec<T>(&mut self, v: &mut Vec<T>) {
        let (len, cap) = (v.len(), v.capacity());
        if cap == 0 || std::mem::size_of::<T>() == 0 {
            return;
        }
        let Ok(layout) = Layout::array::<T>(cap) else {
            return;
        };
        // SAFETY: a Vec's buffer is a block of `Layout::array::<T>(cap)`; the Vec
        // is replaced by one over the new block with the same length and capacity,
        // and the old one forgotten (its block was freed by `block`).
        unsafe {
            if let Some(new) = self.block(v.as_mut_ptr() as *mut u8, layout) {
                let old =
                    std::mem::replace(v, Vec::from_raw_parts(new.as_ptr() as *mut T, len, cap));
                std::mem::forget(old);
            }
        }
    }

    /// Moves a deque's buffer (through a `Vec`, which reuses it).
    pub fn deque<T>(&mut self, d: &mut std::collections::VecDeque<T>) {
        let mut v: Vec<T> = std::mem::take(d).into();
        self.vec(&mut v);
        *d = v.into();
    }
}

/// Hooks that move every block (tests: the data must read back the same after
/// every allocation moved).
#[cfg(test)]
pub(crate) struct MoveAll;

#[cfg(test)]
impl AllocHooks for MoveAll {
    unsafe fn script_realloc(&self, _ptr: *mut u8, _old: usize, _new: usize) -> *mut u8 {
        std::ptr::null_mut()
    }
    fn worth_moving(&self, _ptr: *const u8) -> bool {
        true
    }
    unsafe fn alloc_uncached(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::alloc(layout) }
    }
    unsafe fn free_uncached(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { std::alloc::dealloc(ptr, layout) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn boxes_vecs_and_deques_move_and_keep_their_contents() {
        let mut m = Mover::new(&MoveAll);
        let mut b = Box::new([7u64; 5]);
        m.boxed(&mut b);
        assert_eq!(*b, [7u64; 5]);
        let mut s: Box<[u8]> = b"hello world".to_vec().into_boxed_slice();
        m.boxed_slice(&mut s);
        assert_eq!(&*s, b"hello world");
        let mut v: Vec<u32> = Vec::with_capacity(10);
        v.extend([1, 2, 3]);
        m.vec(&mut v);
        assert_eq!(v, [1, 2, 3]);
        assert_eq!(v.capacity(), 10);
        v.push(4);
        let mut d: std::collections::VecDeque<u32> = (0..8).collect();
        d.pop_front();
        d.push_back(99);
        m.deque(&mut d);
        assert_eq!(
            d.iter().copied().collect::<Vec<_>>(),
            [1, 2, 3, 4, 5, 6, 7, 99]
        );
        let mut empty: Vec<u8> = Vec::new();
        m.vec(&mut empty);
        assert_eq!(m.hits, 4);
    }
}
