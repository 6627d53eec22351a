//! Entries: one allocation per key holding the chain link, access field, expire
//! time (when there is one), the key bytes and the value.
//!
//! Why a hand-laid allocation instead of `Box<struct>`: everything a key costs sits
//! in one block, rounded up to one jemalloc size class, and a lookup touches one
//! cache line range. The pointer is thin (8 bytes), which keeps bucket arrays and
//! chain links at one word.
//!
//! The block is a 16-byte [`Head`] (chain link, access field, key length, the
//! body's kind, flags, payload length), then the expire time only when the key has
//! one, then the body:
//! - `FULL`: a [`Value`] (24 bytes), then the key bytes. Any value can be held so.
//! - inline kinds (`STR`, `HASH`, `ZSET`): the key bytes, then the value's bytes
//!   themselves: a string's bytes, or a compact hash's or zset's packed buffer
//!   (8-aligned, with its 8-byte header). This is what a value set whole and small
//!   enough becomes ([`Value::inline_image`]): a 100-byte string under a 10-byte key
//!   is one 128-byte block instead of a 64-byte entry and a 112-byte buffer (Redis
//!   spends a dictEntry, a key sds, a robj and the value's sds or listpack).
//!
//! Readers get the value through [`Node::value`], a [`ValueRef`]: for an inline
//! body a `Value` that borrows the block's bytes (never dropped, never outliving
//! the borrow of the node). Writers get `&mut Value` through [`Node::value_mut`],
//! which first turns an inline body into a `FULL` one (a new block) for good
//! (APPEND, SETRANGE: Redis's `raw` strings too). Hash and zset writers go through
//! the shard's `EntryMut::write_as` instead: they change an owned copy of an inline
//! value, which [`Node::replace_value_at`] puts back in the same block, resized in
//! place; a `FULL` value that shrank is made inline again by [`Node::compact`].
//! Packed buffers over 512 bytes stay `FULL`, so such a copy stays cheap.
//!
//! Soundness: `Node` owns its allocation exactly like a `Box`; every part of the
//! block past the head is only ever reached through the `Node`'s own raw pointer
//! (whose provenance covers the whole allocation), never by offsetting a reference
//! to the head. A `FULL` body's `Value` is dropped with the block; inline bodies are
//! plain bytes.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::Deref;
use std::ptr::NonNull;

use crate::types::{InlineKind, Value};

/// The fixed part of an entry.
#[repr(C)]
pub struct Head {
    pub(crate) next: Option<Node>,
    lru: [u8; 3],
    /// Key length, or [`LONG_KEY`] when a 4-byte length precedes the key bytes.
    key_len: u8,
    /// [`FULL`] or an [`InlineKind`] as a byte.
    kind: u8,
    /// [`HAS_EXPIRE`].
    flags: u8,
    /// Payload bytes of an inline body (0 for `FULL`).
    plen: u16,
}

/// Marker in `key_len` for keys of 255 bytes or more.
const LONG_KEY: u8 = 255;
const HEAD: usize = std::mem::size_of::<Head>();
/// The body is a `Value`.
const FULL: u8 = 0;
/// An 8-byte expire time follows the head.
const HAS_EXPIRE: u8 = 1;
const VALUE: usize = std::mem::size_of::<Value>();
/// Largest inline string (`plen` is 16 bits).
const MAX_PAYLOAD: usize = u16::MAX as usize;
/// Largest inline packed buffer: a write to an inline hash or zset works on a copy
/// of it (see `EntryMut::write_as`), which must stay cheap; past this the `FULL`
/// form changes its buffer in place, and inlining would save only a rounding.
const MAX_PACKED_PAYLOAD: usize = 512;

/// An owned entry (a thin pointer to head, expire time, key and value).
pub struct Node(NonNull<Head>);

// SAFETY: a Node uniquely owns its allocation like a Box; what it holds (a Value,
// plain bytes, an Option<Node>) is Send and Sync.
unsafe impl Send for Node {}
// SAFETY: as above; shared references only allow reads.
unsafe impl Sync for Node {}

/// The shape of a block: what its size and offsets follow from.
#[derive(Clone, Copy)]
struct Shape {
    kind: u8,
    flags: u8,
    /// Bytes of the key field (the key, plus 4 for a long key's length).
    key_field: usize,
    plen: usize,
}

impl Shape {
    #[inline]
    fn body(self) -> usize {
        HEAD + if self.flags & HAS_EXPIRE != 0 { 8 } else { 0 }
    }

    #[inline]
    fn key(self) -> usize {
        self.body() + if self.kind == FULL { VALUE } else { 0 }
    }

    #[inline]
    fn payload(self) -> usize {
        let end = self.key() + self.key_field;
        if self.kind == InlineKind::Str as u8 {
            end
        } else {
            // Packed buffers start with an 8-aligned header.
            (end + 7) & !7
        }
    }

    fn size(self) -> usize {
        if self.kind == FULL {
            self.key() + self.key_field
        } else {
            self.payload() + self.plen
        }
    }

    fn layout(self) -> Layout {
        // Alignment 8; sizes are bounded by proto-max-bulk-len, far below isize::MAX.
        Layout::from_size_align(self.size(), 8)
            .unwrap_or_else(|_| handle_alloc_error(Layout::new::<Head>()))
    }
}

fn key_field(key_len: usize) -> usize {
    if key_len >= LONG_KEY as usize {
        4 + key_len
    } else {
        key_len
    }
}

/// jemalloc's size class for `n` bytes (the small and large classes: 16-byte steps
/// to 128, then four classes per doubling).
fn size_class(n: usize) -> usize {
    if n <= 8 {
        8
    } else if n <= 128 {
        (n + 15) & !15
    } else {
        let step = n.next_power_of_two() / 8;
        n.div_ceil(step) * step
    }
}

/// The body a new block gets.
enum Body<'a> {
    Full(Value),
    Inline(InlineKind, &'a [u8]),
}

impl Node {
    /// A new entry with no TTL and access field `lru`.
    pub fn new(key: &[u8], lru: u32, value: Value) -> Node {
        Self::build(key, lru, 0, value)
    }

    /// A new entry expiring at `expire_at` (unix ms; 0 for none).
    pub fn with_expire(key: &[u8], lru: u32, value: Value, expire_at: i64) -> Node {
        Self::build(key, lru, expire_at, value)
    }

    /// An entry in the form that costs least: inline when the value has an inline
    /// form whose block is no bigger than a `FULL` block plus the value's own heap
    /// block (both rounded to jemalloc's classes).
    fn build(key: &[u8], lru: u32, expire_at: i64, value: Value) -> Node {
        if let Some((kind, image)) = value.inline_image() {
            if Self::worth_inlining(key.len(), expire_at, kind, image.len(), value.heap_block()) {
                let node = Self::build_raw(key, lru, expire_at, Body::Inline(kind, image));
                drop(value);
                return node;
            }
        }
        Self::build_raw(key, lru, expire_at, Body::Full(value))
    }

    fn worth_inlining(
        key_len: usize,
        expire_at: i64,
        kind: InlineKind,
        plen: usize,
        heap: usize,
    ) -> bool {
        let max = match kind {
            InlineKind::Str => MAX_PAYLOAD,
            InlineKind::Hash | InlineKind::ZSet => MAX_PACKED_PAYLOAD,
        };
        if plen > max {
            return false;
        }
        let flags = if expire_at != 0 { HAS_EXPIRE } else { 0 };
        let key_field = key_field(key_len);
        let inline = Shape {
            kind: kind as u8,
            flags,
            key_field,
            plen,
        };
        let full = Shape {
            kind: FULL,
            flags,
            key_field,
            plen: 0,
        };
        let heap = if heap == 0 { 0 } else { size_class(heap) };
        size_class(inline.size()) <= size_class(full.size()) + heap
    }

    fn build_raw(key: &[u8], lru: u32, expire_at: i64, body: Body<'_>) -> Node {
        let long = key.len() >= LONG_KEY as usize;
        let (kind, plen) = match &body {
            Body::Full(_) => (FULL, 0),
            Body::Inline(k, bytes) => (*k as u8, bytes.len()),
        };
        let shape = Shape {
            kind,
            flags: if expire_at != 0 { HAS_EXPIRE } else { 0 },
            key_field: key_field(key.len()),
            plen,
        };
        let lay = shape.layout();
        // SAFETY: the layout has a non-zero size (the head at least).
        let raw = unsafe { alloc(lay) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(lay)
        };
        let head = Head {
            next: None,
            lru: pack24(lru),
            key_len: if long { LONG_KEY } else { key.len() as u8 },
            kind,
            flags: shape.flags,
            plen: plen as u16,
        };
        // SAFETY: `raw` is a fresh allocation of `shape.layout()`: every offset
        // written below is within it by the construction of `Shape`, and the
        // Value's and expire time's offsets are 8-aligned (16 and 24).
        unsafe {
            raw.cast::<Head>().write(head);
            if expire_at != 0 {
                raw.add(HEAD).cast::<i64>().write(expire_at);
            }
            let mut dst = raw.add(shape.key());
            if long {
                std::ptr::copy_nonoverlapping((key.len() as u32).to_le_bytes().as_ptr(), dst, 4);
                dst = dst.add(4);
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), dst, key.len());
            match body {
                Body::Full(v) => raw.add(shape.body()).cast::<Value>().write(v),
                Body::Inline(_, bytes) => std::ptr::copy_nonoverlapping(
                    bytes.as_ptr(),
                    raw.add(shape.payload()),
                    bytes.len(),
                ),
            }
        }
        Node(ptr.cast())
    }

    #[inline]
    fn base(&self) -> *mut u8 {
        self.0.as_ptr().cast()
    }

    #[inline]
    fn shape(&self) -> Shape {
        let h = self.head();
        let key_field = match h.key_len {
            LONG_KEY => {
                let mut len = [0u8; 4];
                // SAFETY: a long key's 4-byte length sits at the key offset.
                unsafe {
                    let at = self.base().add(
                        Shape {
                            kind: h.kind,
                            flags: h.flags,
                            key_field: 0,
                            plen: 0,
                        }
                        .key(),
                    );
                    std::ptr::copy_nonoverlapping(at, len.as_mut_ptr(), 4);
                }
                4 + u32::from_le_bytes(len) as usize
            }
            n => n as usize,
        };
        Shape {
            kind: h.kind,
            flags: h.flags,
            key_field,
            plen: h.plen as usize,
        }
    }

    /// Starts loading the entry's head into the cache: a hint that reads
    /// nothing, so that several entries' cache misses overlap (eviction
    /// sampling reaches entries nothing touched lately).
    #[inline]
    pub fn prefetch(&self) {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: a prefetch never faults, whatever the address; SSE is part of
        // the x86_64 baseline.
        unsafe {
            std::arch::x86_64::_mm_prefetch::<{ std::arch::x86_64::_MM_HINT_T0 }>(
                self.0.as_ptr().cast::<i8>(),
            );
        }
    }

    #[inline]
    fn head(&self) -> &Head {
        // SAFETY: the pointer is valid and its head initialised for the Node's life.
        unsafe { self.0.as_ref() }
    }

    /// The key bytes.
    #[inline]
    pub fn key(&self) -> &[u8] {
        let h = self.head();
        let at = Shape {
            kind: h.kind,
            flags: h.flags,
            key_field: 0,
            plen: 0,
        }
        .key();
        // SAFETY: the key field was written at this offset by `build_raw`, and
        // `self.0` carries provenance for the whole allocation.
        unsafe {
            let tail = self.base().add(at);
            match h.key_len {
                LONG_KEY => {
                    let mut len = [0u8; 4];
                    std::ptr::copy_nonoverlapping(tail, len.as_mut_ptr(), 4);
                    std::slice::from_raw_parts(tail.add(4), u32::from_le_bytes(len) as usize)
                }
                n => std::slice::from_raw_parts(tail, n as usize),
            }
        }
    }

    /// The 24-bit access field (LRU clock or LFU counter and time).
    #[inline]
    pub fn lru(&self) -> u32 {
        let b = self.head().lru;
        u32::from_le_bytes([b[0], b[1], b[2], 0])
    }

    /// Sets the access field.
    #[inline]
    pub fn set_lru(&mut self, v: u32) {
        // SAFETY: our block's head, written through the unique `&mut self`.
        unsafe { (*self.0.as_ptr()).lru = pack24(v) };
    }

    /// The chain link (the table's; no `&mut Head` is handed out, whose fields
    /// must stay in step with the block's layout).
    #[inline]
    pub(crate) fn next_mut(&mut self) -> &mut Option<Node> {
        // SAFETY: as `set_lru`.
        unsafe { &mut (*self.0.as_ptr()).next }
    }

    /// The absolute expire time in unix ms; 0 when the key has no TTL.
    #[inline]
    pub fn expire_at(&self) -> i64 {
        if self.head().flags & HAS_EXPIRE == 0 {
            return 0;
        }
        // SAFETY: with HAS_EXPIRE the 8-aligned expire time follows the head.
        unsafe { self.base().add(HEAD).cast::<i64>().read() }
    }

    /// The expire time, if any.
    pub fn expire(&self) -> Option<i64> {
        let at = self.expire_at();
        (at != 0).then_some(at)
    }

    /// Sets the absolute expire time (0: none). Adding or removing a TTL moves the
    /// entry to a block 8 bytes bigger or smaller.
    pub fn set_expire_at(&mut self, at: i64) {
        let has = self.head().flags & HAS_EXPIRE != 0;
        if has == (at != 0) {
            if has {
                // SAFETY: as in `expire_at`, through our unique pointer.
                unsafe { self.base().add(HEAD).cast::<i64>().write(at) };
            }
            return;
        }
        let old = self.shape();
        let new = Shape {
            flags: old.flags ^ HAS_EXPIRE,
            ..old
        };
        let (old_lay, new_lay) = (old.layout(), new.layout());
        // SAFETY: a fresh block of the new shape; the head is copied whole (the
        // chain link moves with it bitwise), the body (Value or bytes, then key)
        // is moved bitwise by 8 bytes, which keeps every part's alignment; the old
        // block is then freed without dropping anything (all of it was moved).
        unsafe {
            let raw = alloc(new_lay);
            if raw.is_null() {
                handle_alloc_error(new_lay)
            }
            std::ptr::copy_nonoverlapping(self.base(), raw, HEAD);
            (*raw.cast::<Head>()).flags = new.flags;
            if at != 0 {
                raw.add(HEAD).cast::<i64>().write(at);
            }
            std::ptr::copy_nonoverlapping(
                self.base().add(old.body()),
                raw.add(new.body()),
                old.size() - old.body(),
            );
            dealloc(self.base(), old_lay);
            self.0 = NonNull::new_unchecked(raw.cast());
        }
    }

    /// The value, for reading.
    #[inline]
    pub fn value(&self) -> ValueRef<'_> {
        if self.is_full() {
            // SAFETY: a FULL body's Value lives at the body offset.
            let at = self.shape_no_key().body();
            return ValueRef(RefRepr::Full(unsafe {
                &*self.base().add(at).cast::<Value>()
            }));
        }
        let shape = self.shape();
        // SAFETY: an inline body's payload of `plen` bytes was written at its
        // offset from a value's inline image of this kind; the view is never
        // dropped (ManuallyDrop) and borrows `self` (ValueRef's lifetime).
        let v = unsafe {
            let kind = InlineKind::from_u8(shape.kind);
            let ptr = NonNull::new_unchecked(self.base().add(shape.payload()));
            Value::view(kind, ptr, shape.plen)
        };
        ValueRef(RefRepr::View(ManuallyDrop::new(v), PhantomData))
    }

    #[inline]
    fn shape_no_key(&self) -> Shape {
        let h = self.head();
        Shape {
            kind: h.kind,
            flags: h.flags,
            key_field: 0,
            plen: 0,
        }
    }

    /// Whether the value is held as a `Value` (not inline).
    #[inline]
    pub fn is_full(&self) -> bool {
        self.head().kind == FULL
    }

    /// The value for writing: an inline body is first turned into a `FULL` one.
    pub fn value_mut(&mut self) -> &mut Value {
        if !self.is_full() {
            let owned = self.value().clone();
            let next = self.next_mut().take();
            let mut full =
                Self::build_raw(self.key(), self.lru(), self.expire_at(), Body::Full(owned));
            *full.next_mut() = next;
            // The old block holds plain bytes: dropping it frees it.
            drop(std::mem::replace(self, full));
        }
        // SAFETY: now FULL: the Value at the body offset, borrowed uniquely.
        unsafe { &mut *self.base().add(self.shape_no_key().body()).cast::<Value>() }
    }

    /// The value of a `FULL` entry for writing, without changing the form (`None`
    /// for an inline one, whose values need no upkeep: rehashing, defrag).
    #[inline]
    pub fn full_value_mut(&mut self) -> Option<&mut Value> {
        if !self.is_full() {
            return None;
        }
        // SAFETY: as in `value_mut`.
        Some(unsafe { &mut *self.base().add(self.shape_no_key().body()).cast::<Value>() })
    }

    /// Turns a `FULL` entry whose value has an inline form into that form, when it
    /// costs less (see [`build`](Self::build)).
    pub fn compact(&mut self) {
        if !self.is_full() {
            return;
        }
        let mut inline = {
            let v = self.value();
            let Some((kind, image)) = v.inline_image() else {
                return;
            };
            let (key, at) = (self.key(), self.expire_at());
            if !Self::worth_inlining(key.len(), at, kind, image.len(), v.heap_block()) {
                return;
            }
            Self::build_raw(key, self.lru(), at, Body::Inline(kind, image))
        };
        *inline.next_mut() = self.next_mut().take();
        // Dropping the FULL entry frees its Value's heap blocks.
        drop(std::mem::replace(self, inline));
    }

    /// Replaces the value (a SET over an existing key), in the form that costs
    /// least; keeps the key, TTL, access field and chain link. Returns the old value
    /// when it was a `FULL` one (for the caller to free, maybe in the background).
    pub fn replace_value(&mut self, value: Value) -> Option<Value> {
        self.replace_value_at(value, self.expire_at())
    }

    /// [`replace_value`](Self::replace_value) with a new expire time (0: none), in
    /// the same new block.
    pub fn replace_value_at(&mut self, value: Value, expire_at: i64) -> Option<Value> {
        if self.overwrite_inline(&value, expire_at) {
            return None;
        }
        let next = self.next_mut().take();
        let mut new = Self::build(self.key(), self.lru(), expire_at, value);
        *new.next_mut() = next;
        std::mem::replace(self, new).into_value()
    }

    /// A SET over an inline value with an inline one of the same kind and TTL
    /// presence (the common overwrite): the payload is rewritten in the same block,
    /// resized in place (jemalloc keeps the block when the class is unchanged).
    /// Returns whether it did; `value` is then the caller's to drop (its bytes
    /// were copied).
    fn overwrite_inline(&mut self, value: &Value, expire_at: i64) -> bool {
        let Some((kind, image)) = value.inline_image() else {
            return false;
        };
        let old = self.shape();
        let flags = if expire_at != 0 { HAS_EXPIRE } else { 0 };
        if old.kind == FULL || old.kind != kind as u8 || old.flags != flags {
            return false;
        }
        if !Self::worth_inlining(
            self.key().len(),
            expire_at,
            kind,
            image.len(),
            value.heap_block(),
        ) {
            return false;
        }
        let new = Shape {
            plen: image.len(),
            ..old
        };
        // SAFETY: the block is ours with `old`'s layout; an inline body is plain
        // bytes, so resizing moves nothing that needs dropping; the head, expire time
        // and key keep their offsets (same kind and flags) and the new payload is
        // written at the same offset within the resized block.
        unsafe {
            if new.size() != old.size() {
                let raw = std::alloc::realloc(self.base(), old.layout(), new.size());
                if raw.is_null() {
                    handle_alloc_error(new.layout())
                }
                self.0 = NonNull::new_unchecked(raw.cast());
            }
            (*self.0.as_ptr()).plen = image.len() as u16;
            if expire_at != 0 {
                self.base().add(HEAD).cast::<i64>().write(expire_at);
            }
            std::ptr::copy_nonoverlapping(
                image.as_ptr(),
                self.base().add(new.payload()),
                image.len(),
            );
        }
        true
    }

    /// The `FULL` value, the block freed; `None` for an inline entry.
    fn into_value(self) -> Option<Value> {
        let this = ManuallyDrop::new(self);
        let shape = this.shape();
        // SAFETY: the block is ours (the Node is not dropped: ManuallyDrop); a FULL
        // body's Value is moved out before the block is freed, an inline one is
        // plain bytes. The chain link was taken by the caller or is None.
        unsafe {
            debug_assert!(this.next.is_none(), "freeing a linked entry");
            let v =
                (shape.kind == FULL).then(|| this.base().add(shape.body()).cast::<Value>().read());
            dealloc(this.base(), shape.layout());
            v
        }
    }

    /// The value, owned, the entry consumed (a copy of an inline value's bytes).
    pub fn take_value(mut self) -> Value {
        if !self.is_full() {
            return self.value().clone();
        }
        *self.next_mut() = None;
        self.into_value().expect("checked FULL")
    }

    /// A deep copy, detached from any chain (a snapshot's pre-image of an entry).
    pub fn duplicate(&self) -> Node {
        if self.is_full() {
            return Self::build_raw(
                self.key(),
                self.lru(),
                self.expire_at(),
                Body::Full(self.value().clone()),
            );
        }
        let lay = self.shape().layout();
        // SAFETY: an inline block is plain bytes apart from the chain link, which
        // the copy does not share (set to None without dropping the copied bits).
        unsafe {
            let raw = alloc(lay);
            if raw.is_null() {
                handle_alloc_error(lay)
            }
            std::ptr::copy_nonoverlapping(self.base(), raw, lay.size());
            std::ptr::addr_of_mut!((*raw.cast::<Head>()).next).write(None);
            Node(NonNull::new_unchecked(raw.cast()))
        }
    }

    /// The same entry (value, TTL, access field) under another key (RENAME, COPY).
    pub fn rekey(mut self, key: &[u8]) -> Node {
        let (lru, at) = (self.lru(), self.expire_at());
        *self.next_mut() = None;
        if self.is_full() {
            let v = self.into_value().expect("checked FULL");
            return Self::build_raw(key, lru, at, Body::Full(v));
        }
        let shape = self.shape();
        // SAFETY: the payload's `plen` bytes at its offset.
        let bytes =
            unsafe { std::slice::from_raw_parts(self.base().add(shape.payload()), shape.plen) };
        Self::build_raw(
            key,
            lru,
            at,
            Body::Inline(InlineKind::from_u8(shape.kind), bytes),
        )
    }

    /// Active defrag: moves the entry's own allocation (not a `FULL` value's heap
    /// blocks) when the allocator says so. The caller holds the only pointer to it
    /// (the chain slot this `&mut` is), which the move updates.
    pub(crate) fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        let lay = self.shape().layout();
        // SAFETY: the entry's allocation, made with this layout; its contents are
        // moved bitwise.
        if let Some(new) = unsafe { m.block(self.base(), lay) } {
            self.0 = new.cast();
        }
    }

    /// Heap bytes owned by the entry's own block (for memory accounting).
    pub fn alloc_size(&self) -> usize {
        self.shape().size()
    }

    /// Bytes of the entry and its value (MEMORY USAGE, eviction's accounting),
    /// collections estimated from `samples` elements.
    pub fn memory_usage(&self, samples: usize) -> usize {
        self.alloc_size()
            + if self.is_full() {
                self.value().memory_usage(samples)
            } else {
                0
            }
    }
}

/// A value for reading: the `FULL` entry's own, or a view of an inline entry's
/// bytes (a `Value` that is never dropped and lives no longer than the entry's
/// borrow). `Clone` on the `Value` gives an owned copy either way.
/// Opaque: a view must never be taken out (dropped, written or kept past the
/// borrow), only read through `Deref` or cloned.
pub struct ValueRef<'a>(RefRepr<'a>);

enum RefRepr<'a> {
    /// A `FULL` entry's value.
    Full(&'a Value),
    /// A view of an inline entry's bytes.
    View(ManuallyDrop<Value>, PhantomData<&'a Node>),
}

impl Deref for ValueRef<'_> {
    type Target = Value;
    #[inline]
    fn deref(&self) -> &Value {
        match &self.0 {
            RefRepr::Full(v) => v,
            RefRepr::View(v, _) => v,
        }
    }
}

impl ValueRef<'_> {
    /// Whether this reads an inline entry's bytes.
    pub fn is_view(&self) -> bool {
        matches!(self.0, RefRepr::View(..))
    }
}

impl Deref for Node {
    type Target = Head;
    #[inline]
    fn deref(&self) -> &Head {
        self.head()
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let shape = self.shape();
        // SAFETY: the block was initialised by `build_raw` (or moved whole); its
        // chain link and a FULL body's Value are dropped exactly once here, and
        // the allocation was made with this layout.
        unsafe {
            std::ptr::drop_in_place(std::ptr::addr_of_mut!((*self.0.as_ptr()).next));
            if shape.kind == FULL {
                std::ptr::drop_in_place(self.base().add(shape.body()).cast::<Value>());
            }
            dealloc(self.base(), shape.layout());
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &*self.value())
            .field("expire_at", &self.expire_at())
            .finish()
    }
}

#[inline]
fn pack24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

#[cfg(test)]
mod tests;
