//! The small zset (Redis's `listpack` encoding): entries in (score, member) order
//! in one exactly-sized allocation ([`PackBuf`]), each `score | member length
//! (LEB128) | member`. A score that is an integer of magnitude below 2^53 is one
//! LEB128 of its zigzag form plus one (-63 to 63 in one byte, -8191 to 8191 in two, as
//! a listpack's small integers), any other score the byte 0 and its 8 bytes.
//! Everything is a linear scan, which is what Redis does too and is fast for the few
//! dozen entries the thresholds allow.

use std::cmp::Ordering;

use super::big::cmp_key;
use crate::types::packbuf::{read_varint, varint, PackBuf};

#[derive(Debug, Clone, Default)]
pub(crate) struct Packed {
    /// The parent module reads an inline image through it, and builds a
    /// view of one (`view`, `packed_image`).
    pub(super) buf: PackBuf,
}

/// Iterator over `(offset, member, score)`.
pub(crate) struct Iter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (usize, &'a [u8], f64);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let (m, s, next) = decode(self.buf, at)?;
        self.pos = next;
        Some((at, m, s))
    }
}

/// Integers up to this magnitude are exact in an f64 and stored as varints.
const EXACT: f64 = 9_007_199_254_740_992.0;

/// Decodes the entry at `at`: member, score and the next entry's offset.
#[inline]
fn decode(buf: &[u8], at: usize) -> Option<(&[u8], f64, usize)> {
    let first = *buf.get(at)?;
    let (score, pos) = if first != 0 && first < 0x80 {
        // One-byte integer, the common case.
        (f64::from(unzigzag(u64::from(first - 1)) as i32), at + 1)
    } else if first == 0 {
        let b: [u8; 8] = buf.get(at + 1..at + 9)?.try_into().ok()?;
        (f64::from_le_bytes(b), at + 9)
    } else {
        let (v, pos) = read_varint(buf, at)?;
        (unzigzag(v.checked_sub(1)?) as f64, pos)
    };
    let b = *buf.get(pos)?;
    let (len, pos) = if b < 0x80 {
        (usize::from(b), pos + 1)
    } else {
        let (n, p) = read_varint(buf, pos)?;
        (usize::try_from(n).ok()?, p)
    };
    let m = buf.get(pos..pos.checked_add(len)?)?;
    Some((m, score, pos + len))
}

#[inline]
fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// Encodes `score` into `out`; returns the bytes used.
fn encode_score(score: f64, out: &mut [u8; 10]) -> usize {
    if score == score.trunc() && score.abs() < EXACT {
        let i = score as i64;
        let z = ((i << 1) ^ (i >> 63)) as u64;
        let mut tmp = [0u8; 10];
        let enc = varint(z + 1, &mut tmp);
        out[..enc.len()].copy_from_slice(enc);
        enc.len()
    } else {
        out[0] = 0;
        out[1..9].copy_from_slice(&score.to_le_bytes());
        9
    }
}

impl Packed {
    /// Active defrag: moves the buffer when the allocator says so.
    pub(crate) fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        self.buf.defrag(m);
    }
}

impl Packed {
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.buf.count()
    }

    #[inline]
    pub(crate) fn iter(&self) -> Iter<'_> {
        Iter {
            buf: self.buf.bytes(),
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
        let (mut sb, mut lb) = ([0u8; 10], [0u8; 10]);
        let sn = encode_score(score, &mut sb);
        let len = varint(member.len() as u64, &mut lb);
        let n = sn + len.len() + member.len();
        self.buf.splice(at..at, n, 1, |out| {
            out[..sn].copy_from_slice(&sb[..sn]);
            out[sn..sn + len.len()].copy_from_slice(len);
            out[sn + len.len()..].copy_from_slice(member);
        });
    }

    fn remove_entry(&mut self, at: usize) {
        if let Some((_, _, next)) = decode(self.buf.bytes(), at) {
            self.buf.remove(at..next, -1);
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

    /// Bytes used by the encoded entries.
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len()
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.buf.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_sizes() {
        let mut b = [0u8; 10];
        for (score, len) in [
            (0.0, 1),
            (63.0, 1),
            (-63.0, 1),
            (64.0, 2),
            (8191.0, 2),
            (-8191.0, 2),
            (8192.0, 3),
            (9_007_199_254_740_991.0, 8),
            (9_007_199_254_740_992.0, 9),
            (0.5, 9),
            (f64::INFINITY, 9),
        ] {
            let n = encode_score(score, &mut b);
            assert_eq!(n, len, "{score}");
            let mut buf = b[..n].to_vec();
            buf.push(1);
            buf.push(b'm');
            assert_eq!(decode(&buf, 0), Some((&b"m"[..], score, n + 2)));
        }
    }

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
