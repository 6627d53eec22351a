//! The compact hash encoding (Redis's "listpack"): fields and values back to back in
//! one buffer, each as a varint length and its bytes. Lookups are linear, which is
//! what keeps small hashes at a few bytes per element; the thresholds
//! (hash-max-listpack-entries/value) bound the scan.

use crate::types::packbuf::{read_item, varint, PackBuf};

/// Field/value pairs packed in one exactly-sized allocation (see [`PackBuf`]).
#[derive(Debug, Clone, Default)]
pub struct Packed {
    /// The parent module reads an inline image through it, and builds a
    /// view of one (`view`, `packed_image`).
    pub(super) buf: PackBuf,
}

impl Packed {
    /// Active defrag: moves the buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        self.buf.defrag(m);
    }
}

/// A located pair: where the pair starts, and the value's byte range.
struct Found {
    start: usize,
    val: (usize, usize),
}

impl Packed {
    /// Number of pairs.
    #[inline]
    pub fn len(&self) -> usize {
        self.buf.count()
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.buf.count() == 0
    }

    /// Bytes used by the encoded pairs.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated.
    pub fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }

    #[inline]
    fn find(&self, field: &[u8]) -> Option<Found> {
        let buf = self.buf.bytes();
        let mut pos = 0;
        while pos < buf.len() {
            let (fs, fe) = read_item(buf, pos)?;
            let (vs, ve) = read_item(buf, fe)?;
            if &buf[fs..fe] == field {
                return Some(Found {
                    start: pos,
                    val: (vs, ve),
                });
            }
            pos = ve;
        }
        None
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let f = self.find(field)?;
        self.buf.bytes().get(f.val.0..f.val.1)
    }

    /// Sets `field`; returns whether it is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(f) => {
                let (vs, ve) = f.val;
                if ve - vs == value.len() {
                    self.buf.bytes_mut()[vs..ve].copy_from_slice(value);
                } else {
                    // Re-encode the value with its length in place.
                    let mut lb = [0u8; 10];
                    let len = varint(value.len() as u64, &mut lb);
                    let len_start = self.value_len_start(f.start);
                    self.buf
                        .splice(len_start..ve, len.len() + value.len(), 0, |s| {
                            s[..len.len()].copy_from_slice(len);
                            s[len.len()..].copy_from_slice(value);
                        });
                }
                false
            }
            None => {
                self.push(field, value);
                true
            }
        }
    }

    /// Appends a pair known to be absent.
    pub fn push(&mut self, field: &[u8], value: &[u8]) {
        let (mut fb, mut vb) = ([0u8; 10], [0u8; 10]);
        let fl = varint(field.len() as u64, &mut fb);
        let vl = varint(value.len() as u64, &mut vb);
        self.buf.append(&[fl, field, vl, value]);
    }

    /// Where the length prefix of the value of the pair at `start` begins.
    fn value_len_start(&self, start: usize) -> usize {
        read_item(self.buf.bytes(), start).map_or(start, |(_, fe)| fe)
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(f) => {
                self.buf.remove(f.start..f.val.1, -1);
                true
            }
            None => false,
        }
    }

    /// The pairs in order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: self.buf.bytes(),
            pos: 0,
        }
    }

    /// The pair at position `i` (0-based).
    pub fn nth(&self, i: usize) -> Option<(&[u8], &[u8])> {
        self.iter().nth(i)
    }
}

/// Iterator over the pairs of a [`Packed`].
pub struct PackedIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for PackedIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let (fs, fe) = read_item(self.buf, self.pos)?;
        let (vs, ve) = read_item(self.buf, fe)?;
        self.pos = ve;
        Some((&self.buf[fs..fe], &self.buf[vs..ve]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_insert_update_remove() {
        let mut p = Packed::default();
        assert!(p.insert(b"a", b"1"));
        assert!(p.insert(b"b", &[b'x'; 200]));
        assert!(p.insert(b"", b""));
        assert!(!p.insert(b"a", b"22"));
        assert!(!p.insert(b"b", b"y"));
        assert_eq!(p.get(b"a"), Some(&b"22"[..]));
        assert_eq!(p.get(b"b"), Some(&b"y"[..]));
        assert_eq!(p.get(b""), Some(&b""[..]));
        assert_eq!(p.len(), 3);
        assert!(p.remove(b"a"));
        assert!(!p.remove(b"a"));
        let all: Vec<_> = p.iter().collect();
        assert_eq!(all, vec![(&b"b"[..], &b"y"[..]), (&b""[..], &b""[..])]);
        assert!(!p.insert(b"", &[b'z'; 300]));
        assert_eq!(p.get(b"").map(<[u8]>::len), Some(300));
        assert_eq!(p.nth(0), Some((&b"b"[..], &b"y"[..])));
    }
}
