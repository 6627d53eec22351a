//! The compact encodings embedded in RDB strings: listpack (read and write),
//! intset (read and write), ziplist and zipmap (read only: Redis 7.0 converts them
//! on load and never writes them).
//!
//! Parsers work on an in-memory blob that was already read in full, so their
//! allocations are bounded by the input size. Errors carry the position inside the
//! blob; the caller adds the blob's offset.

use super::error::{corrupt, ErrorKind};
use super::{i64_bytes, strict_i64, Pairs};

/// An element of a listpack or ziplist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

impl Elem<'_> {
    pub(crate) fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Str(s) => s.to_vec(),
            Elem::Int(v) => i64_bytes(v),
        }
    }
}

/// A blob parse error: what, and the position inside the blob.
pub(crate) type BlobError = (usize, ErrorKind);

fn take<'a>(b: &'a [u8], pos: usize, n: usize, what: &'static str) -> Result<&'a [u8], BlobError> {
    pos.checked_add(n)
        .and_then(|end| b.get(pos..end))
        .ok_or((pos, corrupt(what, "entry runs past the end")))
}

fn le_uint(s: &[u8]) -> u64 {
    s.iter()
        .rev()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b))
}

fn sign_extend(v: u64, bits: u32) -> i64 {
    let shift = 64 - bits;
    ((v << shift) as i64) >> shift
}

// ---------------------------------------------------------------- listpack

const LP_HDR: usize = 6;
const LP_EOF: u8 = 0xFF;

/// Bytes the backlen of an entry of `l` bytes takes (lpEncodeBacklen).
fn lp_backlen_size(l: usize) -> usize {
    match l {
        0..=127 => 1,
        128..=16382 => 2,
        16383..=2097150 => 3,
        2097151..=268435454 => 4,
        _ => 5,
    }
}

/// Decodes every element of a listpack.
pub(crate) fn listpack_elems(b: &[u8]) -> Result<Vec<Elem<'_>>, BlobError> {
    const W: &str = "listpack";
    if b.len() < LP_HDR + 1 {
        return Err((0, corrupt(W, "shorter than its header")));
    }
    if le_uint(&b[0..4]) != b.len() as u64 {
        return Err((0, corrupt(W, "total bytes in header differ from its size")));
    }
    let declared = le_uint(&b[4..6]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len()));
    let mut pos = LP_HDR;
    loop {
        let Some(&enc) = b.get(pos) else {
            return Err((pos, corrupt(W, "missing end marker")));
        };
        if enc == LP_EOF {
            if pos + 1 != b.len() {
                return Err((pos, corrupt(W, "data after the end marker")));
            }
            break;
        }
        let start = pos;
        let (elem, len) = match enc {
            0x00..=0x7F => (Elem::Int(i64::from(enc)), 1),
            0x80..=0xBF => {
                let n = usize::from(enc & 0x3F);
                (Elem::Str(take(b, pos + 1, n, W)?), 1 + n)
            }
            0xC0..=0xDF => {
                let lo = take(b, pos + 1, 1, W)?[0];
                let v = (u64::from(enc & 0x1F) << 8) | u64::from(lo);
                (Elem::Int(sign_extend(v, 13)), 2)
            }
            0xE0..=0xEF => {
                let lo = take(b, pos + 1, 1, W)?[0];
                let n = (usize::from(enc & 0x0F) << 8) | usize::from(lo);
                (Elem::Str(take(b, pos + 2, n, W)?), 2 + n)
            }
            0xF0 => {
                let n = le_uint(take(b, pos + 1, 4, W)?) as usize;
                (Elem::Str(take(b, pos + 5, n, W)?), 5 + n)
            }
            0xF1 => (
                Elem::Int(sign_extend(le_uint(take(b, pos + 1, 2, W)?), 16)),
                3,
            ),
            0xF2 => (
                Elem::Int(sign_extend(le_uint(take(b, pos + 1, 3, W)?), 24)),
                4,
            ),
            0xF3 => (
                Elem::Int(sign_extend(le_uint(take(b, pos + 1, 4, W)?), 32)),
                5,
            ),
            0xF4 => (Elem::Int(le_uint(take(b, pos + 1, 8, W)?) as i64), 9),
            _ => return Err((pos, corrupt(W, "invalid entry encoding"))),
        };
        let back = lp_backlen_size(len);
        let backlen = take(b, start + len, back, W)?;
        if lp_decode_backlen(backlen) != len as u64 {
            return Err((start + len, corrupt(W, "entry back-length mismatch")));
        }
        out.push(elem);
        pos = start + len + back;
    }
    if declared != 65535 && declared != out.len() {
        return Err((4, corrupt(W, "element count in header is wrong")));
    }
    Ok(out)
}

/// Reads a backlen written by lpEncodeBacklen (most significant group first, the
/// high bit set on all but the first byte).
fn lp_decode_backlen(s: &[u8]) -> u64 {
    s.iter()
        .fold(0u64, |acc, &b| (acc << 7) | u64::from(b & 127))
}

fn lp_encode_backlen(l: usize, out: &mut Vec<u8>) {
    let n = lp_backlen_size(l);
    for i in (0..n).rev() {
        let group = ((l >> (7 * i)) & 127) as u8;
        out.push(if i == n - 1 { group } else { group | 128 });
    }
}

/// Builds listpacks the way lpAppend does: canonical integers in the smallest
/// integer encoding, other strings with the smallest length prefix.
#[derive(Debug)]
pub(crate) struct ListpackBuilder {
    buf: Vec<u8>,
    count: usize,
}

impl ListpackBuilder {
    pub(crate) fn new() -> ListpackBuilder {
        let mut buf = Vec::with_capacity(64);
        buf.extend_from_slice(&[0; LP_HDR]);
        ListpackBuilder { buf, count: 0 }
    }

    pub(crate) fn len(&self) -> usize {
        self.count
    }

    /// Size the listpack would have when finished.
    pub(crate) fn bytes(&self) -> usize {
        self.buf.len() + 1
    }

    /// Size an entry for `s` takes (encoding, data and backlen); checks the
    /// encoder in tests (quicklist fills nodes by an estimate, not by this).
    #[cfg(test)]
    pub(crate) fn entry_size(s: &[u8]) -> usize {
        let header = match s.len() {
            0..=63 => 1,
            64..=4095 => 2,
            _ => 5,
        };
        let l = match strict_i64(s) {
            Some(v) => int_entry_len(v),
            None => header + s.len(),
        };
        l + lp_backlen_size(l)
    }

    pub(crate) fn push(&mut self, s: &[u8]) {
        let start = self.buf.len();
        match strict_i64(s) {
            Some(v) => push_int(&mut self.buf, v),
            None => {
                let n = s.len();
                if n < 64 {
                    self.buf.push(0x80 | n as u8);
                } else if n < 4096 {
                    self.buf.push(0xE0 | (n >> 8) as u8);
                    self.buf.push((n & 0xFF) as u8);
                } else {
                    self.buf.push(0xF0);
                    self.buf.extend_from_slice(&(n as u32).to_le_bytes());
                }
                self.buf.extend_from_slice(s);
            }
        }
        let l = self.buf.len() - start;
        lp_encode_backlen(l, &mut self.buf);
        self.count += 1;
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        self.buf.push(LP_EOF);
        let total = self.buf.len() as u32;
        self.buf[0..4].copy_from_slice(&total.to_le_bytes());
        let n = self.count.min(65535) as u16;
        self.buf[4..6].copy_from_slice(&n.to_le_bytes());
        self.buf
    }
}

fn int_entry_len(v: i64) -> usize {
    if (0..=127).contains(&v) {
        1
    } else if (-4096..=4095).contains(&v) {
        2
    } else if (-32768..=32767).contains(&v) {
        3
    } else if (-8388608..=8388607).contains(&v) {
        4
    } else if (-2147483648..=2147483647).contains(&v) {
        5
    } else {
        9
    }
}

fn push_int(buf: &mut Vec<u8>, v: i64) {
    let u = v as u64;
    match int_entry_len(v) {
        1 => buf.push(v as u8),
        2 => {
            let u13 = u & 0x1FFF;
            buf.push(0xC0 | (u13 >> 8) as u8);
            buf.push((u13 & 0xFF) as u8);
        }
        3 => {
            buf.push(0xF1);
            buf.extend_from_slice(&u.to_le_bytes()[..2]);
        }
        4 => {
            buf.push(0xF2);
            buf.extend_from_slice(&u.to_le_bytes()[..3]);
        }
        5 => {
            buf.push(0xF3);
            buf.extend_from_slice(&u.to_le_bytes()[..4]);
        }
        _ => {
            buf.push(0xF4);
            buf.extend_from_slice(&u.to_le_bytes());
        }
    }
}

// ---------------------------------------------------------------- ziplist

/// Decodes every element of a ziplist (RDB versions before 10).
pub(crate) fn ziplist_elems(b: &[u8]) -> Result<Vec<Elem<'_>>, BlobError> {
    const W: &str = "ziplist";
    const HDR: usize = 10;
    if b.len() < HDR + 1 {
        return Err((0, corrupt(W, "shorter than its header")));
    }
    if le_uint(&b[0..4]) != b.len() as u64 {
        return Err((0, corrupt(W, "total bytes in header differ from its size")));
    }
    let declared = le_uint(&b[8..10]) as usize;
    let mut out = Vec::with_capacity(declared.min(b.len()));
    let mut pos = HDR;
    let mut prev_len = 0usize;
    loop {
        let Some(&first) = b.get(pos) else {
            return Err((pos, corrupt(W, "missing end marker")));
        };
        if first == 0xFF {
            if pos + 1 != b.len() {
                return Err((pos, corrupt(W, "data after the end marker")));
            }
            break;
        }
        let start = pos;
        let (stored_prev, prevlen_size) = if first < 254 {
            (usize::from(first), 1)
        } else if first == 254 {
            (le_uint(take(b, pos + 1, 4, W)?) as usize, 5)
        } else {
            return Err((pos, corrupt(W, "invalid prevlen")));
        };
        if stored_prev != prev_len {
            return Err((pos, corrupt(W, "prevlen does not match the previous entry")));
        }
        pos += prevlen_size;
        let enc = take(b, pos, 1, W)?[0];
        let (elem, header) = match enc >> 6 {
            0 => {
                let n = usize::from(enc & 0x3F);
                (Elem::Str(take(b, pos + 1, n, W)?), 1 + n)
            }
            1 => {
                let lo = take(b, pos + 1, 1, W)?[0];
                let n = (usize::from(enc & 0x3F) << 8) | usize::from(lo);
                (Elem::Str(take(b, pos + 2, n, W)?), 2 + n)
            }
            2 => {
                if enc != 0x80 {
                    return Err((pos, corrupt(W, "invalid string encoding")));
                }
                let s = take(b, pos + 1, 4, W)?;
                let n = u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize;
                (Elem::Str(take(b, pos + 5, n, W)?), 5 + n)
            }
            _ => match enc {
                0xC0 => (
                    Elem::Int(sign_extend(le_uint(take(b, pos + 1, 2, W)?), 16)),
                    3,
                ),
                0xD0 => (
                    Elem::Int(sign_extend(le_uint(take(b, pos + 1, 4, W)?), 32)),
                    5,
                ),
                0xE0 => (Elem::Int(le_uint(take(b, pos + 1, 8, W)?) as i64), 9),
                0xF0 => (
                    Elem::Int(sign_extend(le_uint(take(b, pos + 1, 3, W)?), 24)),
                    4,
                ),
                0xFE => (
                    Elem::Int(sign_extend(le_uint(take(b, pos + 1, 1, W)?), 8)),
                    2,
                ),
                0xF1..=0xFD => (Elem::Int(i64::from(enc & 0x0F) - 1), 1),
                _ => return Err((pos, corrupt(W, "invalid entry encoding"))),
            },
        };
        pos += header;
        prev_len = pos - start;
        out.push(elem);
    }
    if declared != 65535 && declared != out.len() {
        return Err((8, corrupt(W, "element count in header is wrong")));
    }
    Ok(out)
}

// ---------------------------------------------------------------- zipmap

/// Decodes the field-value pairs of a zipmap (RDB versions before 4).
pub(crate) fn zipmap_pairs(b: &[u8]) -> Result<Pairs, BlobError> {
    const W: &str = "zipmap";
    fn len_at(b: &[u8], pos: usize) -> Result<Option<(usize, usize)>, BlobError> {
        match take(b, pos, 1, W)?[0] {
            255 => Ok(None),
            254 => Ok(Some((le_uint(take(b, pos + 1, 4, W)?) as usize, 5))),
            n => Ok(Some((usize::from(n), 1))),
        }
    }
    if b.len() < 2 {
        return Err((0, corrupt(W, "shorter than its header")));
    }
    let mut out = Vec::new();
    let mut pos = 1;
    loop {
        let Some((klen, ksize)) = len_at(b, pos)? else {
            if pos + 1 != b.len() {
                return Err((pos, corrupt(W, "data after the end marker")));
            }
            break;
        };
        pos += ksize;
        let key = take(b, pos, klen, W)?.to_vec();
        pos += klen;
        let Some((vlen, vsize)) = len_at(b, pos)? else {
            return Err((pos, corrupt(W, "field without a value")));
        };
        pos += vsize;
        let free = usize::from(take(b, pos, 1, W)?[0]);
        pos += 1;
        let val = take(b, pos, vlen, W)?.to_vec();
        pos += vlen;
        take(b, pos, free, W)?;
        pos += free;
        out.push((key, val));
    }
    Ok(out)
}

// ---------------------------------------------------------------- intset

/// Decodes an intset's members.
pub(crate) fn intset_members(b: &[u8]) -> Result<Vec<i64>, BlobError> {
    const W: &str = "intset";
    if b.len() < 8 {
        return Err((0, corrupt(W, "shorter than its header")));
    }
    let width = le_uint(&b[0..4]);
    if !matches!(width, 2 | 4 | 8) {
        return Err((0, corrupt(W, "invalid encoding")));
    }
    let width = width as usize;
    let count = le_uint(&b[4..8]);
    if (b.len() - 8) as u64 != count.saturating_mul(width as u64) {
        return Err((4, corrupt(W, "size does not match the element count")));
    }
    let bits = (width * 8) as u32;
    let mut out: Vec<i64> = Vec::with_capacity(count as usize);
    for (i, chunk) in b[8..].chunks_exact(width).enumerate() {
        let v = sign_extend(le_uint(chunk), bits);
        if out.last().is_some_and(|&last| last >= v) {
            return Err((
                8 + i * width,
                corrupt(W, "members not sorted or duplicated"),
            ));
        }
        out.push(v);
    }
    Ok(out)
}

/// Builds an intset of sorted, distinct values with the smallest width fitting all.
pub(crate) fn intset_build(sorted: &[i64]) -> Vec<u8> {
    let width: usize = if sorted.iter().all(|&v| i16::try_from(v).is_ok()) {
        2
    } else if sorted.iter().all(|&v| i32::try_from(v).is_ok()) {
        4
    } else {
        8
    };
    let mut out = Vec::with_capacity(8 + width * sorted.len());
    out.extend_from_slice(&(width as u32).to_le_bytes());
    out.extend_from_slice(&(sorted.len() as u32).to_le_bytes());
    for &v in sorted {
        out.extend_from_slice(&v.to_le_bytes()[..width]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_round_trip_every_encoding() {
        let long12 = vec![b'x'; 100];
        let long32 = vec![b'y'; 5000];
        let items: Vec<&[u8]> = vec![
            b"0",
            b"127",
            b"128",
            b"-1",
            b"-4096",
            b"4095",
            b"-4097",
            b"32767",
            b"-32768",
            b"8388607",
            b"-8388608",
            b"2147483647",
            b"-2147483648",
            b"2147483648",
            b"-9223372036854775808",
            b"9223372036854775807",
            b"",
            b"abc",
            b"-0",
            b"01",
            &long12,
            &long32,
        ];
        let mut lp = ListpackBuilder::new();
        let mut predicted = LP_HDR + 1;
        for it in &items {
            lp.push(it);
            predicted += ListpackBuilder::entry_size(it);
        }
        let blob = lp.finish();
        assert_eq!(blob.len(), predicted);
        let got: Vec<Vec<u8>> = listpack_elems(&blob)
            .expect("valid listpack")
            .into_iter()
            .map(Elem::to_vec)
            .collect();
        let want: Vec<Vec<u8>> = items.iter().map(|s| s.to_vec()).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn backlen_sizes_round_trip() {
        for l in [1usize, 127, 128, 16382, 16383, 2097150, 2097151, 268435455] {
            let mut v = Vec::new();
            lp_encode_backlen(l, &mut v);
            assert_eq!(v.len(), lp_backlen_size(l));
            assert_eq!(lp_decode_backlen(&v), l as u64);
        }
    }

    #[test]
    fn intset_round_trip() {
        for vals in [
            vec![1i64, 2, 3],
            vec![-70000, 5],
            vec![i64::MIN, 0, i64::MAX],
        ] {
            assert_eq!(intset_members(&intset_build(&vals)).expect("valid"), vals);
        }
    }

    #[test]
    fn ziplist_parses_hand_built_entries() {
        // "ab", 12 (immediate), 1000 (int16), -5 (int8)
        let mut body = vec![];
        body.extend_from_slice(&[0, 0x02, b'a', b'b']);
        body.extend_from_slice(&[4, 0xFD]);
        body.extend_from_slice(&[2, 0xC0, 0xE8, 0x03]);
        body.extend_from_slice(&[4, 0xFE, 0xFB]);
        let mut zl = Vec::new();
        let total = (10 + body.len() + 1) as u32;
        zl.extend_from_slice(&total.to_le_bytes());
        zl.extend_from_slice(&0u32.to_le_bytes());
        zl.extend_from_slice(&4u16.to_le_bytes());
        zl.extend_from_slice(&body);
        zl.push(0xFF);
        let got = ziplist_elems(&zl).expect("valid ziplist");
        assert_eq!(
            got,
            vec![
                Elem::Str(b"ab"),
                Elem::Int(12),
                Elem::Int(1000),
                Elem::Int(-5)
            ]
        );
    }
}
