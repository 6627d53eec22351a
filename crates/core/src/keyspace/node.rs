//! Entries: one allocation per key holding the chain link, expire time, value,
//! access field and the key bytes themselves.
//!
//! Why a hand-laid allocation instead of `Box<struct>`: the key bytes follow the
//! fixed header in the same allocation, so a lookup touches one cache line range and
//! no key needs an allocation of its own, whatever its length. The key bytes start
//! 44 bytes in (in the header's last 4 bytes, which would otherwise be alignment
//! padding), so keys up to 20 bytes fit jemalloc's 64-byte class and longer keys grow
//! the entry in 16-byte steps. The pointer is thin (8 bytes), which keeps bucket arrays and chain
//! links at one word.
//!
//! Soundness: `Node` owns its allocation exactly like a `Box`; the key bytes are only
//! ever reached through the `Node`'s own raw pointer (whose provenance covers the
//! whole allocation), never by offsetting a reference to the header.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

use crate::types::Value;

/// The fixed part of an entry.
#[repr(C)]
pub struct Header {
    pub(crate) next: Option<Node>,
    /// Absolute expire time in unix milliseconds; 0 when the key has no TTL.
    pub expire_at: i64,
    /// The value.
    pub value: Value,
    lru: [u8; 3],
    /// Key length, or [`LONG_KEY`] when a 4-byte length precedes the key bytes.
    key_len: u8,
    /// The first 4 bytes of the key (or of its length, for long keys): the key bytes
    /// start here and run past the end of the header, so the 4 bytes that would be
    /// alignment padding hold data.
    key_head: [u8; 4],
}

/// Marker in `key_len` for keys of 255 bytes or more.
const LONG_KEY: u8 = 255;
const HEADER: usize = std::mem::size_of::<Header>();
/// Where the key bytes start: at `key_head`.
const KEY_OFFSET: usize = std::mem::offset_of!(Header, key_head);

/// An owned entry (a thin pointer to header + key bytes).
pub struct Node(NonNull<Header>);

// SAFETY: a Node uniquely owns its allocation like a Box<Header>; Header's fields
// (Value, Option<Node>) are Send and Sync.
unsafe impl Send for Node {}
// SAFETY: as above; shared references only allow reads.
unsafe impl Sync for Node {}

fn layout(key_len: usize) -> Layout {
    let extra = if key_len >= LONG_KEY as usize {
        4 + key_len
    } else {
        key_len
    };
    // Header alignment is 8; sizes below isize::MAX cannot fail for real key lengths,
    // which are bounded by proto-max-bulk-len.
    Layout::from_size_align(
        (KEY_OFFSET + extra).max(HEADER),
        std::mem::align_of::<Header>(),
    )
    .unwrap_or_else(|_| handle_alloc_error(Layout::new::<Header>()))
}

impl Node {
    /// A new entry with no TTL and access field `lru`.
    pub fn new(key: &[u8], lru: u32, value: Value) -> Node {
        Self::with_expire(key, lru, value, 0)
    }

    fn with_expire(key: &[u8], lru: u32, value: Value, expire_at: i64) -> Node {
        let lay = layout(key.len());
        // SAFETY: the layout has a non-zero size (the header).
        let raw = unsafe { alloc(lay) } as *mut Header;
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(lay)
        };
        let long = key.len() >= LONG_KEY as usize;
        let header = Header {
            next: None,
            expire_at,
            value,
            lru: pack24(lru),
            key_len: if long { LONG_KEY } else { key.len() as u8 },
            key_head: [0; 4],
        };
        // SAFETY: `raw` is a fresh allocation of `layout(key.len())`: the header fits
        // at its start and the key (with its 4-byte length when long) right after it.
        unsafe {
            raw.write(header);
            let mut dst = (raw as *mut u8).add(KEY_OFFSET);
            if long {
                std::ptr::copy_nonoverlapping((key.len() as u32).to_le_bytes().as_ptr(), dst, 4);
                dst = dst.add(4);
            }
            std::ptr::copy_nonoverlapping(key.as_ptr(), dst, key.len());
        }
        Node(ptr)
    }

    /// The key bytes.
    #[inline]
    pub fn key(&self) -> &[u8] {
        let base = self.0.as_ptr() as *const u8;
        // SAFETY: the key bytes were written after the header by `with_expire`, and
        // `self.0` carries provenance for the whole allocation.
        unsafe {
            let tail = base.add(KEY_OFFSET);
            match (*self.0.as_ptr()).key_len {
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
        let b = self.lru;
        u32::from_le_bytes([b[0], b[1], b[2], 0])
    }

    /// Sets the access field.
    #[inline]
    pub fn set_lru(&mut self, v: u32) {
        self.lru = pack24(v);
    }

    /// The expire time, if any.
    pub fn expire(&self) -> Option<i64> {
        (self.expire_at != 0).then_some(self.expire_at)
    }

    /// The same entry (value, TTL, access field) under another key (RENAME, COPY).
    /// A deep copy, detached from any chain (a snapshot's pre-image of an entry).
    pub fn duplicate(&self) -> Node {
        Self::with_expire(self.key(), self.lru(), self.value.clone(), self.expire_at)
    }

    pub fn rekey(mut self, key: &[u8]) -> Node {
        let value = std::mem::replace(&mut self.value, Value::empty());
        Self::with_expire(key, self.lru(), value, self.expire_at)
    }

    /// Active defrag: moves the entry's own allocation (not its value's) when the
    /// allocator says so. The caller holds the only pointer to it (the chain slot
    /// this `&mut` is), which the move updates.
    pub(crate) fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        let lay = layout(self.key().len());
        // SAFETY: the entry's allocation, made with this layout.
        if let Some(new) = unsafe { m.block(self.0.as_ptr() as *mut u8, lay) } {
            self.0 = new.cast();
        }
    }

    /// Heap bytes owned by the entry itself (for memory accounting).
    pub fn alloc_size(&self) -> usize {
        layout(self.key().len()).size()
    }
}

impl Deref for Node {
    type Target = Header;
    #[inline]
    fn deref(&self) -> &Header {
        // SAFETY: the pointer is valid and initialised for the Node's lifetime.
        unsafe { self.0.as_ref() }
    }
}

impl DerefMut for Node {
    #[inline]
    fn deref_mut(&mut self) -> &mut Header {
        // SAFETY: as above, and `&mut self` guarantees exclusive access.
        unsafe { self.0.as_mut() }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let lay = layout(self.key().len());
        // SAFETY: the header was initialised in `with_expire` and is dropped exactly
        // once here; the allocation was made with the same layout.
        unsafe {
            std::ptr::drop_in_place(self.0.as_ptr());
            dealloc(self.0.as_ptr() as *mut u8, lay);
        }
    }
}

impl std::fmt::Debug for Node {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Node")
            .field("key", &String::from_utf8_lossy(self.key()))
            .field("value", &self.value)
            .field("expire_at", &self.expire_at)
            .finish()
    }
}

#[inline]
fn pack24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::string::StrValue;

    #[test]
    fn layout_sizes() {
        assert_eq!(HEADER, 48);
        assert_eq!(KEY_OFFSET, 44);
        assert_eq!(std::mem::size_of::<Node>(), 8);
        assert_eq!(std::mem::size_of::<Option<Node>>(), 8);
        assert_eq!(layout(20).size(), 64);
    }

    #[test]
    fn keys_of_every_length_round_trip() {
        for len in [0usize, 1, 19, 20, 21, 254, 255, 256, 5000] {
            let key: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let mut n = Node::new(&key, 0xABCDEF, Value::Str(StrValue::from_bytes(b"v")));
            assert_eq!(n.key(), &key[..]);
            assert_eq!(n.lru(), 0xABCDEF);
            n.set_lru(7);
            n.expire_at = 99;
            let m = n.rekey(b"other");
            assert_eq!(m.key(), b"other");
            assert_eq!(m.lru(), 7);
            assert_eq!(m.expire(), Some(99));
        }
    }
}
