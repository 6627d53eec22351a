//! Small sets of strings: members back to back in one exactly-sized allocation
//! ([`PackBuf`]), each as a LEB128 length and its bytes, in insertion order.
//!
//! Redis 7.0 has no such encoding (a set of strings is always a hashtable there,
//! about 475 bytes for five short members), so this form is invisible: OBJECT
//! ENCODING reports `hashtable`, and it converts to the table at
//! [`MAX_ENTRIES`] members or a member longer than [`MAX_VALUE`] bytes (Redis 7.2's
//! listpack-set thresholds would be 128 and 64; fewer entries keep the linear
//! scans of SISMEMBER and SADD no slower than a hash lookup).

use crate::types::packbuf::{read_item, varint, PackBuf};

/// Most members of a packed set.
pub const MAX_ENTRIES: usize = 16;
/// Longest member of a packed set.
pub const MAX_VALUE: usize = 64;

/// Distinct members, packed.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    buf: PackBuf,
}

impl Packed {
    /// Active defrag: moves the buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        self.buf.defrag(m);
    }
}

impl Packed {
    /// Number of members.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.count()
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes allocated.
    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }

    /// Whether a member of `len` bytes may be stored here.
    #[inline]
    pub fn fits(len: usize) -> bool {
        len <= MAX_VALUE
    }

    /// The byte range of `m`'s item (length prefix included).
    #[inline]
    fn find(&self, m: &[u8]) -> Option<(usize, usize)> {
        let buf = self.buf.bytes();
        let mut pos = 0;
        while pos < buf.len() {
            let (s, e) = read_item(buf, pos)?;
            if &buf[s..e] == m {
                return Some((pos, e));
            }
            pos = e;
        }
        None
    }

    /// Whether `m` is a member.
    #[inline]
    pub fn contains(&self, m: &[u8]) -> bool {
        self.find(m).is_some()
    }

    /// Adds `m`; returns whether it is new.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.contains(m) {
            return false;
        }
        self.push(m);
        true
    }

    /// Appends a member known to be absent.
    pub fn push(&mut self, m: &[u8]) {
        let mut lb = [0u8; 10];
        let len = varint(m.len() as u64, &mut lb);
        self.buf.append(&[len, m]);
    }

    /// Removes `m`; returns whether it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.find(m) {
            Some((s, e)) => {
                self.buf.remove(s..e, -1);
                true
            }
            None => false,
        }
    }

    /// The members in insertion order.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            buf: self.buf.bytes(),
            pos: 0,
        }
    }

    /// The member at position `i`.
    pub fn nth(&self, i: usize) -> Option<&[u8]> {
        self.iter().nth(i)
    }

    /// Removes and returns the member at position `i`.
    pub fn remove_at(&mut self, i: usize) -> Option<Vec<u8>> {
        let buf = self.buf.bytes();
        let mut pos = 0;
        for _ in 0..i {
            pos = read_item(buf, pos)?.1;
        }
        let (s, e) = read_item(buf, pos)?;
        let out = buf[s..e].to_vec();
        self.buf.remove(pos..e, -1);
        Some(out)
    }
}

/// Iterator over the members of a [`Packed`].
pub struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (s, e) = read_item(self.buf, self.pos)?;
        self.pos = e;
        Some(&self.buf[s..e])
    }
}
