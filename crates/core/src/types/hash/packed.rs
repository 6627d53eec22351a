//! The compact hash encoding (Redis's "listpack"): fields and values back to back in
//! one buffer, each as a varint length and its bytes. Lookups are linear, which is
//! what keeps small hashes at a few bytes per element; the thresholds
//! (hash-max-listpack-entries/value) bound the scan.

/// Field/value pairs packed in one allocation.
#[derive(Debug, Clone, Default)]
pub struct Packed {
    buf: Vec<u8>,
    pairs: usize,
}

fn put_len(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8 & 0x7f) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

/// Reads one length-prefixed string at `pos`: (start, end) of its bytes.
#[inline]
fn read_item(buf: &[u8], mut pos: usize) -> Option<(usize, usize)> {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = *buf.get(pos)?;
        pos += 1;
        n |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let end = pos.checked_add(n)?;
    if end > buf.len() {
        return None;
    }
    Some((pos, end))
}

/// A located pair: where the pair starts, and the value's byte range.
struct Found {
    start: usize,
    val: (usize, usize),
}

impl Packed {
    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.pairs
    }

    /// Whether there is no pair.
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Bytes used by the encoded pairs.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Bytes allocated.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    fn find(&self, field: &[u8]) -> Option<Found> {
        let mut pos = 0;
        while pos < self.buf.len() {
            let (fs, fe) = read_item(&self.buf, pos)?;
            let (vs, ve) = read_item(&self.buf, fe)?;
            if &self.buf[fs..fe] == field {
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
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        let f = self.find(field)?;
        self.buf.get(f.val.0..f.val.1)
    }

    /// Sets `field`; returns whether it is new.
    pub fn insert(&mut self, field: &[u8], value: &[u8]) -> bool {
        match self.find(field) {
            Some(f) => {
                let (vs, ve) = f.val;
                if ve - vs == value.len() {
                    self.buf[vs..ve].copy_from_slice(value);
                } else {
                    // Re-encode the value with its length in place.
                    let mut enc = Vec::with_capacity(value.len() + 4);
                    put_len(&mut enc, value.len());
                    enc.extend_from_slice(value);
                    let len_start = self.value_len_start(f.start);
                    self.buf.splice(len_start..ve, enc);
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
        put_len(&mut self.buf, field.len());
        self.buf.extend_from_slice(field);
        put_len(&mut self.buf, value.len());
        self.buf.extend_from_slice(value);
        self.pairs += 1;
    }

    /// Where the length prefix of the value of the pair at `start` begins.
    fn value_len_start(&self, start: usize) -> usize {
        read_item(&self.buf, start).map_or(start, |(_, fe)| fe)
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.find(field) {
            Some(f) => {
                self.buf.drain(f.start..f.val.1);
                self.pairs -= 1;
                if self.buf.capacity() > 64 && self.buf.len() * 2 < self.buf.capacity() {
                    self.buf.shrink_to_fit();
                }
                true
            }
            None => false,
        }
    }

    /// The pairs in order.
    pub fn iter(&self) -> PackedIter<'_> {
        PackedIter {
            buf: &self.buf,
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
