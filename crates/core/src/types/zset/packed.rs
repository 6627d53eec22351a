//! The small zset (Redis's `listpack` encoding): one byte buffer of entries in
//! (score, member) order, each `score (8 bytes LE) | member length (LEB128) |
//! member`. Everything is a linear scan, which is what Redis does too and is fast
//! for the few dozen entries the thresholds allow.

use std::cmp::Ordering;

use super::big::cmp_key;

#[derive(Debug, Clone, Default)]
pub(crate) struct Packed {
    buf: Vec<u8>,
    len: usize,
}

/// Iterator over `(offset, member, score)`.
pub(crate) struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (usize, &'a [u8], f64);

    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let (m, s, next) = decode(self.buf, at)?;
        self.pos = next;
        Some((at, m, s))
    }
}

/// Decodes the entry at `at`: member, score and the next entry's offset.
fn decode(buf: &[u8], at: usize) -> Option<(&[u8], f64, usize)> {
    let score_bytes: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
    let score = f64::from_le_bytes(score_bytes);
    let mut pos = at + 8;
    let mut len = 0usize;
    let mut shift = 0;
    loop {
        let b = *buf.get(pos)?;
        pos += 1;
        len |= usize::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            break;
        }
        shift += 7;
    }
    let m = buf.get(pos..pos + len)?;
    Some((m, score, pos + len))
}

fn encode(member: &[u8], score: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(member.len() + 10);
    out.extend_from_slice(&score.to_le_bytes());
    let mut n = member.len();
    loop {
        let b = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(b);
            break;
        }
        out.push(b | 0x80);
    }
    out.extend_from_slice(member);
    out
}

impl Packed {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            buf: &self.buf,
            pos: 0,
        }
    }

    fn find(&self, member: &[u8]) -> Option<(usize, usize, f64)> {
        self.iter()
            .enumerate()
            .find(|(_, (_, m, _))| *m == member)
            .map(|(rank, (at, _, s))| (rank, at, s))
    }

    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|(_, _, s)| s)
    }

    pub(crate) fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        self.find(member).map(|(r, _, s)| (r, s))
    }

    pub(crate) fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.iter().nth(rank).map(|(_, m, s)| (m, s))
    }

    /// Inserts a member known to be absent.
    pub(crate) fn insert_new(&mut self, member: &[u8], score: f64) {
        // A listpack stores scores as text, and "-0" reads back as the integer 0.
        let score = if score == 0.0 { 0.0 } else { score };
        let at = self
            .iter()
            .find(|(_, m, s)| cmp_key(*s, m, score, member) == Ordering::Greater)
            .map_or(self.buf.len(), |(at, _, _)| at);
        let bytes = encode(member, score);
        self.buf.splice(at..at, bytes);
        self.len += 1;
    }

    fn remove_entry(&mut self, at: usize) {
        if let Some((_, _, next)) = decode(&self.buf, at) {
            self.buf.drain(at..next);
            self.len -= 1;
        }
    }

    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let (_, at, s) = self.find(member)?;
        self.remove_entry(at);
        Some(s)
    }

    pub(crate) fn remove_at(&mut self, rank: usize) -> Option<(Vec<u8>, f64)> {
        let (at, m, s) = self.iter().nth(rank)?;
        let out = (m.to_vec(), s);
        self.remove_entry(at);
        Some(out)
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    pub(crate) fn shrink(&mut self) {
        if self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_entries() {
        let mut p = Packed::default();
        p.insert_new(b"b", 2.0);
        p.insert_new(b"a", 2.0);
        p.insert_new(b"z", -1.0);
        p.insert_new(&[b'x'; 300], f64::INFINITY);
        p.insert_new(b"n", -0.0);
        let all: Vec<(Vec<u8>, f64)> = p.iter().map(|(_, m, s)| (m.to_vec(), s)).collect();
        assert_eq!(all[0], (b"z".to_vec(), -1.0));
        assert_eq!(all[1].0, b"n");
        assert!(all[1].1.is_sign_positive());
        assert_eq!(all[2], (b"a".to_vec(), 2.0));
        assert_eq!(all[3], (b"b".to_vec(), 2.0));
        assert_eq!(all[4].0.len(), 300);
        assert_eq!(p.rank(b"b"), Some((3, 2.0)));
        assert_eq!(p.remove(b"a"), Some(2.0));
        assert_eq!(p.remove(b"a"), None);
        assert_eq!(p.remove_at(0), Some((b"z".to_vec(), -1.0)));
        assert_eq!(p.len(), 3);
        assert_eq!(p.get(2).map(|(m, _)| m.len()), Some(300));
    }
}
