//! An exactly-sized byte buffer behind a thin pointer: the storage of the compact
//! ("listpack") hashes and sorted sets.
//!
//! Why not a `Vec<u8>`: a `Vec` is 24 bytes (pointer, length, capacity) and grows by
//! doubling, so a small hash held a boxed struct (48 bytes) plus a buffer with up to
//! half of it spare. A `PackBuf` is one word, so the value enums that hold it stay 16
//! bytes and live directly in the entry's `Value`; its one allocation holds an 8-byte
//! header (bytes used, element count) and exactly the bytes in use, resized on every
//! change. Resizing within a jemalloc size class is done in place, so the exact size
//! costs about what the doubling did for the few dozen elements the thresholds allow.
//!
//! Soundness: a `PackBuf` owns its allocation like a `Box`; the empty buffer points at
//! a static header that is never written or freed (checked by pointer before every
//! resize and in `Drop`).

use std::alloc::{alloc, dealloc, handle_alloc_error, realloc, Layout};
use std::ptr::NonNull;

#[repr(C, align(8))]
struct Header {
    /// Bytes in use after the header.
    len: u32,
    /// Elements (what the owner counts: pairs of a hash, members of a zset).
    count: u32,
}

const HEADER: usize = std::mem::size_of::<Header>();

/// The shared empty buffer.
static EMPTY: Header = Header { len: 0, count: 0 };

/// Largest payload (the thresholds' 1 GiB safety limit keeps far below it).
pub const MAX_LEN: usize = u32::MAX as usize;

/// An owned byte buffer with an element count, one allocation, no spare capacity.
pub struct PackBuf(NonNull<Header>);

// SAFETY: a PackBuf uniquely owns its allocation like a Box<[u8]> (or points at the
// immutable static empty header).
unsafe impl Send for PackBuf {}
// SAFETY: as above; shared references only read.
unsafe impl Sync for PackBuf {}

fn layout(len: usize) -> Layout {
    // Header alignment is 8 and len is at most u32::MAX: this cannot fail.
    Layout::from_size_align(HEADER + len, 8).unwrap_or_else(|_| Layout::new::<Header>())
}

impl Default for PackBuf {
    fn default() -> Self {
        PackBuf::new()
    }
}

impl PackBuf {
    /// An empty buffer (no allocation).
    pub fn new() -> PackBuf {
        PackBuf(NonNull::from(&EMPTY))
    }

    #[inline]
    fn is_static(&self) -> bool {
        std::ptr::eq(self.0.as_ptr(), &EMPTY)
    }

    #[inline]
    fn header(&self) -> &Header {
        // SAFETY: the pointer is either the static header or our live allocation.
        unsafe { self.0.as_ref() }
    }

    /// The bytes in use.
    #[inline]
    pub fn bytes(&self) -> &[u8] {
        let len = self.header().len as usize;
        // SAFETY: `len` bytes follow the header in the allocation (0 for the static).
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>().add(HEADER), len) }
    }

    /// The bytes in use, writable.
    #[inline]
    pub fn bytes_mut(&mut self) -> &mut [u8] {
        let len = self.header().len as usize;
        if len == 0 {
            return &mut [];
        }
        // SAFETY: a non-empty buffer is our own allocation, `len` bytes after the
        // header, uniquely borrowed through `&mut self`.
        unsafe { std::slice::from_raw_parts_mut(self.0.as_ptr().cast::<u8>().add(HEADER), len) }
    }

    /// The header and the bytes in use, as one slice: what an entry copies to hold
    /// the buffer inline (the static empty header for an empty buffer).
    pub fn image(&self) -> &[u8] {
        // SAFETY: the header and `len` bytes after it are initialised (the static
        // header alone when empty); u8 has no alignment.
        unsafe { std::slice::from_raw_parts(self.0.as_ptr().cast::<u8>(), HEADER + self.len()) }
    }

    /// A buffer reading an [`image`](Self::image) copied elsewhere.
    ///
    /// # Safety
    /// `ptr` is 8-aligned and points at such an image, which stays unchanged and
    /// allocated while the returned buffer is used; the buffer must never be
    /// dropped nor written (only read, or cloned into an owned buffer).
    pub unsafe fn view(ptr: NonNull<u8>) -> PackBuf {
        PackBuf(ptr.cast())
    }

    /// Bytes in use.
    #[inline]
    pub fn len(&self) -> usize {
        self.header().len as usize
    }

    /// Whether no byte is in use.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The element count.
    #[inline]
    pub fn count(&self) -> usize {
        self.header().count as usize
    }

    /// Bytes allocated (header included; 0 when empty).
    pub fn heap_size(&self) -> usize {
        if self.is_static() {
            0
        } else {
            HEADER + self.len()
        }
    }

    /// Replaces the bytes `range` with `ins` new bytes written by `fill`, and adds
    /// `count_delta` to the element count. The allocation is resized to the exact
    /// new length (freed when it becomes empty).
    ///
    /// Panics if `range` is out of bounds or the result would exceed [`MAX_LEN`]
    /// (callers check lengths against the packed-size limits first).
    pub fn splice(
        &mut self,
        range: std::ops::Range<usize>,
        ins: usize,
        count_delta: isize,
        fill: impl FnOnce(&mut [u8]),
    ) {
        let old_len = self.len();
        assert!(range.start <= range.end && range.end <= old_len);
        let new_len = old_len - (range.end - range.start) + ins;
        assert!(new_len <= MAX_LEN);
        let count = self.count().checked_add_signed(count_delta).unwrap_or(0) as u32;
        let tail = old_len - range.end;
        if new_len == 0 {
            self.free();
            self.0 = NonNull::from(&EMPTY);
            return;
        }
        // SAFETY: every pointer below stays within the allocation sized for the
        // larger of the old and new lengths; `copy` handles the overlap.
        unsafe {
            if self.is_static() {
                let p = alloc(layout(new_len));
                let Some(p) = NonNull::new(p) else {
                    handle_alloc_error(layout(new_len))
                };
                self.0 = p.cast();
            } else if new_len > old_len {
                self.resize(old_len, new_len);
                let base = self.0.as_ptr().cast::<u8>().add(HEADER);
                std::ptr::copy(base.add(range.end), base.add(range.start + ins), tail);
            } else {
                let base = self.0.as_ptr().cast::<u8>().add(HEADER);
                std::ptr::copy(base.add(range.end), base.add(range.start + ins), tail);
                self.resize(old_len, new_len);
            }
            let h = self.0.as_ptr();
            (*h).len = new_len as u32;
            (*h).count = count;
            let base = self.0.as_ptr().cast::<u8>().add(HEADER);
            let slot = std::slice::from_raw_parts_mut(base.add(range.start), ins);
            fill(slot);
        }
    }

    /// Reallocates our (non-static) allocation from `old` to `new` payload bytes.
    unsafe fn resize(&mut self, old: usize, new: usize) {
        // SAFETY: the caller guarantees the allocation is ours with layout(old).
        let p = unsafe { realloc(self.0.as_ptr().cast(), layout(old), HEADER + new) };
        let Some(p) = NonNull::new(p) else {
            handle_alloc_error(layout(new))
        };
        self.0 = p.cast();
    }

    /// Inserts `bytes` at `at` (see [`splice`](Self::splice)).
    pub fn insert(&mut self, at: usize, bytes: &[u8], count_delta: isize) {
        self.splice(at..at, bytes.len(), count_delta, |s| {
            s.copy_from_slice(bytes)
        });
    }

    /// Appends `parts` back to back as one element.
    pub fn append(&mut self, parts: &[&[u8]]) {
        let at = self.len();
        let n = parts.iter().map(|p| p.len()).sum();
        self.splice(at..at, n, 1, |s| {
            let mut pos = 0;
            for p in parts {
                s[pos..pos + p.len()].copy_from_slice(p);
                pos += p.len();
            }
        });
    }

    /// Removes the bytes `range` (see [`splice`](Self::splice)).
    pub fn remove(&mut self, range: std::ops::Range<usize>, count_delta: isize) {
        self.splice(range, 0, count_delta, |_| {});
    }

    /// Active defrag: moves the buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        if self.is_static() {
            return;
        }
        // SAFETY: our allocation, of layout(len); the pointer is replaced at once.
        if let Some(new) = unsafe { m.block(self.0.as_ptr().cast(), layout(self.len())) } {
            self.0 = new.cast();
        }
    }

    fn free(&mut self) {
        if !self.is_static() {
            // SAFETY: our allocation, made with layout(len).
            unsafe { dealloc(self.0.as_ptr().cast(), layout(self.len())) }
        }
    }
}

impl Drop for PackBuf {
    fn drop(&mut self) {
        self.free();
    }
}

impl Clone for PackBuf {
    fn clone(&self) -> Self {
        let mut c = PackBuf::new();
        let b = self.bytes();
        if !b.is_empty() {
            c.splice(0..0, b.len(), self.count() as isize, |s| {
                s.copy_from_slice(b)
            });
        }
        c
    }
}

impl std::fmt::Debug for PackBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackBuf({} elements, {:?})", self.count(), self.bytes())
    }
}

/// Appends `n` as LEB128 to a small stack buffer; returns its bytes.
#[inline]
pub fn varint(mut n: u64, out: &mut [u8; 10]) -> &[u8] {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8 & 0x7f) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
    &out[..=i]
}

/// Reads a LEB128 at `pos`: (value, position after it).
#[inline]
pub fn read_varint(buf: &[u8], mut pos: usize) -> Option<(u64, usize)> {
    let mut n = 0u64;
    let mut shift = 0u32;
    loop {
        let b = *buf.get(pos)?;
        pos += 1;
        if shift >= 64 {
            return None;
        }
        n |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return Some((n, pos));
        }
        shift += 7;
    }
}

/// Reads one length-prefixed string at `pos`: (start, end) of its bytes.
#[inline]
pub fn read_item(buf: &[u8], pos: usize) -> Option<(usize, usize)> {
    // The common case first: a length below 128 in one byte.
    let b = *buf.get(pos)?;
    let (n, start) = if b < 0x80 {
        (usize::from(b), pos + 1)
    } else {
        let (n, p) = read_varint(buf, pos)?;
        (usize::try_from(n).ok()?, p)
    };
    let end = start.checked_add(n)?;
    if end > buf.len() {
        return None;
    }
    Some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splice_grow_shrink_free() {
        let mut p = PackBuf::new();
        assert_eq!(p.heap_size(), 0);
        p.insert(0, b"world", 1);
        p.insert(0, b"hello ", 1);
        assert_eq!(p.bytes(), b"hello world");
        assert_eq!(p.count(), 2);
        assert_eq!(p.heap_size(), 8 + 11);
        p.splice(0..5, 3, 0, |s| s.copy_from_slice(b"hey"));
        assert_eq!(p.bytes(), b"hey world");
        let c = p.clone();
        p.remove(3..9, -1);
        assert_eq!(p.bytes(), b"hey");
        assert_eq!(p.count(), 1);
        p.bytes_mut()[0] = b'H';
        assert_eq!(p.bytes(), b"Hey");
        p.remove(0..3, -1);
        assert!(p.is_empty());
        assert_eq!(p.heap_size(), 0);
        assert_eq!(c.bytes(), b"hey world");
        p.append(&[b"a", b"bc"]);
        assert_eq!(p.bytes(), b"abc");
        assert_eq!(std::mem::size_of::<PackBuf>(), 8);
    }

    #[test]
    fn varints_round_trip() {
        let mut b = [0u8; 10];
        for n in [0, 1, 127, 128, 300, 1 << 40, u64::MAX] {
            let enc = varint(n, &mut b).to_vec();
            assert_eq!(read_varint(&enc, 0), Some((n, enc.len())));
        }
        assert_eq!(read_varint(&[0x80], 0), None);
    }
}
