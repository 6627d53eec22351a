//! HyperLogLog, in Redis's own representation so that the bytes GET returns, DUMP
//! carries and an RDB holds are the bytes Redis would hold (src/hyperloglog.c is
//! the reference for every rule here).
//!
//! A HyperLogLog is a string: a 16-byte header (`HYLL`, the encoding byte, three
//! unused bytes, the cached cardinality in little endian whose top bit says it is
//! stale) and then 16,384 registers, either dense (6 bits each, 12,288 bytes) or
//! sparse (run lengths: ZERO `00xxxxxx`, XZERO `01xxxxxx yyyyyyyy`, VAL
//! `1vvvvvxx`). A sparse one turns dense when a register needs more than 32 or
//! when a change would make it longer than `hll-sparse-max-bytes`.
//!
//! Strings that are not valid are never trusted: every read past the end of a
//! corrupted one reads 0 (the NUL Redis's strings end with), so a corrupted value
//! gets Redis's reply and never a panic. A VAL run that would pass the last
//! register makes a sparse HyperLogLog corrupt when it is decoded whole (dense
//! conversion, merges), as in Redis 7.0.15 with the CVE-2025-32023 fix that
//! distributions ship (7.0.15's own source stopped there and accepted it).

pub mod commands;

/// Header length.
pub const HDR: usize = 16;
/// Register index bits.
const P: u32 = 14;
/// Hash bits left for the run of zeros.
const Q: usize = 64 - P as usize;
/// Number of registers.
pub const REGISTERS: usize = 1 << P;
/// Length of a dense HyperLogLog.
pub const DENSE_SIZE: usize = HDR + (REGISTERS * 6).div_ceil(8);
/// Encoding byte of a dense HyperLogLog.
pub const DENSE: u8 = 0;
/// Encoding byte of a sparse HyperLogLog.
pub const SPARSE: u8 = 1;
/// Redis's seed for MurmurHash64A.
const SEED: u64 = 0xadc8_3b19;
/// 0.5 / ln 2.
const ALPHA_INF: f64 = 0.721_347_520_444_481_7;

const VAL_MAX_VALUE: u8 = 32;
const VAL_MAX_LEN: usize = 4;
const ZERO_MAX_LEN: usize = 64;

/// A sparse HyperLogLog that does not decode to 16,384 registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Corrupt;

/// The byte at `i`, or the terminating NUL past the end.
#[inline]
fn at(s: &[u8], i: usize) -> u8 {
    s.get(i).copied().unwrap_or(0)
}

#[inline]
fn is_zero(b: u8) -> bool {
    b & 0xc0 == 0
}

#[inline]
fn is_xzero(b: u8) -> bool {
    b & 0xc0 == 0x40
}

#[inline]
fn is_val(b: u8) -> bool {
    b & 0x80 != 0
}

#[inline]
fn zero_len(b: u8) -> usize {
    usize::from(b & 0x3f) + 1
}

#[inline]
fn xzero_len(b: u8, next: u8) -> usize {
    ((usize::from(b & 0x3f) << 8) | usize::from(next)) + 1
}

#[inline]
fn val_value(b: u8) -> u8 {
    ((b >> 2) & 0x1f) + 1
}

#[inline]
fn val_len(b: u8) -> usize {
    usize::from(b & 3) + 1
}

#[inline]
fn val_op(value: u8, len: usize) -> u8 {
    ((value - 1) << 2) | (len - 1) as u8 | 0x80
}

/// A run of `len` zero registers as ZERO or XZERO (Redis's choice: XZERO past 64).
fn push_zeros(seq: &mut smallvec::SmallVec<[u8; 5]>, len: usize) {
    if len > ZERO_MAX_LEN {
        let l = len - 1;
        seq.push((l >> 8) as u8 | 0x40);
        seq.push((l & 0xff) as u8);
    } else {
        seq.push((len - 1) as u8);
    }
}

/// Redis's MurmurHash64A (the endian-neutral 64-bit MurmurHash2).
pub fn murmur64a(data: &[u8], seed: u64) -> u64 {
    const M: u64 = 0xc6a4_a793_5bd1_e995;
    const R: u32 = 47;
    let mut h = seed ^ (data.len() as u64).wrapping_mul(M);
    let mut chunks = data.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        let mut k = u64::from_le_bytes(w);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h ^= k;
        h = h.wrapping_mul(M);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        for (i, &b) in rest.iter().enumerate() {
            h ^= u64::from(b) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> R;
    h = h.wrapping_mul(M);
    h ^= h >> R;
    h
}

/// The register an element goes to and the length of its `000..1` pattern (Redis's
/// hllPatLen): at most 51.
pub fn pat_len(ele: &[u8]) -> (usize, u8) {
    let hash = murmur64a(ele, SEED);
    let index = (hash & (REGISTERS as u64 - 1)) as usize;
    let rest = (hash >> P) | (1u64 << Q);
    (index, (rest.trailing_zeros() + 1) as u8)
}

/// Dense register `i` of `regs` (the registers after the header).
#[inline]
pub fn dense_get(regs: &[u8], i: usize) -> u8 {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let b0 = u32::from(at(regs, byte));
    let b1 = u32::from(at(regs, byte + 1));
    (((b0 >> fb) | (b1 << (8 - fb))) & 63) as u8
}

/// Sets dense register `i` to `val` (at most 63).
#[inline]
pub fn dense_put(regs: &mut [u8], i: usize, val: u8) {
    let byte = i * 6 / 8;
    let fb = (i * 6) & 7;
    let v = u32::from(val);
    if let Some(b) = regs.get_mut(byte) {
        *b &= !(63u32 << fb) as u8;
        *b |= (v << fb) as u8;
    }
    if let Some(b) = regs.get_mut(byte + 1) {
        *b &= !(63u32 >> (8 - fb)) as u8;
        *b |= (v >> (8 - fb)) as u8;
    }
}

/// Raises dense register `i` to `count` if it is lower (Redis's hllDenseSet);
/// whether it changed.
#[inline]
pub fn dense_raise(regs: &mut [u8], i: usize, count: u8) -> bool {
    if count > dense_get(regs, i) {
        dense_put(regs, i, count);
        true
    } else {
        false
    }
}

/// A new, empty HyperLogLog as Redis creates it: sparse, one XZERO of 16,384, the
/// cached cardinality 0.
pub fn create() -> Vec<u8> {
    let mut s = vec![0u8; HDR + 2];
    s[..4].copy_from_slice(b"HYLL");
    s[4] = SPARSE;
    let l = REGISTERS - 1;
    s[HDR] = (l >> 8) as u8 | 0x40;
    s[HDR + 1] = (l & 0xff) as u8;
    s
}

/// Redis's isHLLObjectOrReply on a string's bytes: the magic, a known encoding, and
/// the exact length when dense.
pub fn is_valid(s: &[u8]) -> bool {
    s.len() >= HDR
        && &s[..4] == b"HYLL"
        && s[4] <= SPARSE
        && (s[4] != DENSE || s.len() == DENSE_SIZE)
}

/// Marks the cached cardinality stale.
#[inline]
pub fn invalidate_cache(s: &mut [u8]) {
    if let Some(b) = s.get_mut(15) {
        *b |= 0x80;
    }
}

/// The cached cardinality if it is still valid.
pub fn cached_card(s: &[u8]) -> Option<u64> {
    let mut c = [0u8; 8];
    c.copy_from_slice(s.get(8..16)?);
    (c[7] & 0x80 == 0).then(|| u64::from_le_bytes(c))
}

/// Stores `card` as the cached cardinality.
pub fn set_cached_card(s: &mut [u8], card: u64) {
    if let Some(c) = s.get_mut(8..16) {
        c.copy_from_slice(&card.to_le_bytes());
    }
}

/// The dense form of a sparse HyperLogLog (Redis's hllSparseToDense: the header is
/// kept, cached cardinality included).
pub fn sparse_to_dense(s: &[u8]) -> Result<Vec<u8>, Corrupt> {
    let mut dense = vec![0u8; DENSE_SIZE];
    dense[..HDR].copy_from_slice(s.get(..HDR).ok_or(Corrupt)?);
    dense[4] = DENSE;
    let regs = &mut dense[HDR..];
    let mut idx = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        if is_zero(b) {
            idx += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            idx += xzero_len(b, at(s, p + 1));
            p += 2;
        } else {
            let (len, val) = (val_len(b), val_value(b));
            if idx + len > REGISTERS {
                return Err(Corrupt);
            }
            for i in idx..idx + len {
                dense_put(regs, i, val);
            }
            idx += len;
            p += 1;
        }
    }
    if idx != REGISTERS {
        return Err(Corrupt);
    }
    Ok(dense)
}

/// Raises register `index` of a sparse HyperLogLog to `count` if it is lower,
/// rewriting the runs in place as Redis's hllSparseSet does (same opcodes, same
/// merges of neighbouring VALs), or turning it dense when `count` does not fit a
/// VAL or the result would pass `max_bytes`. Whether the register changed.
pub fn sparse_set(
    s: &mut Vec<u8>,
    index: usize,
    count: u8,
    max_bytes: usize,
) -> Result<bool, Corrupt> {
    if count > VAL_MAX_VALUE {
        return promote(s, index, count);
    }
    // Find the opcode covering `index`.
    let end = s.len();
    let (mut p, mut first, mut span) = (HDR, 0usize, 0usize);
    let mut prev = None;
    while p < end {
        let b = s[p];
        let oplen;
        if is_zero(b) {
            span = zero_len(b);
            oplen = 1;
        } else if is_val(b) {
            span = val_len(b);
            oplen = 1;
        } else {
            span = xzero_len(b, at(s, p + 1));
            oplen = 2;
        }
        if index < first + span {
            break;
        }
        prev = Some(p);
        p += oplen;
        first += span;
    }
    if span == 0 || p >= end {
        return Err(Corrupt);
    }
    let b = s[p];
    let oldlen = if is_xzero(b) { 2 } else { 1 };
    let has_next = p + oldlen < end;
    if is_val(b) {
        if val_value(b) >= count {
            return Ok(false);
        }
        if val_len(b) == 1 {
            s[p] = val_op(count, 1);
            merge_vals(s, prev);
            return Ok(true);
        }
    }
    if is_zero(b) && zero_len(b) == 1 {
        s[p] = val_op(count, 1);
        merge_vals(s, prev);
        return Ok(true);
    }
    // Split the run into what is before the register, the register, what is after.
    let last = first + span - 1;
    let mut seq = smallvec::SmallVec::<[u8; 5]>::new();
    if is_val(b) {
        let cur = val_value(b);
        if index != first {
            seq.push(val_op(cur, index - first));
        }
        seq.push(val_op(count, 1));
        if index != last {
            seq.push(val_op(cur, last - index));
        }
    } else {
        if index != first {
            push_zeros(&mut seq, index - first);
        }
        seq.push(val_op(count, 1));
        if index != last {
            push_zeros(&mut seq, last - index);
        }
    }
    let grows = seq.len() > oldlen;
    if grows && end + seq.len() - oldlen > max_bytes {
        return promote(s, index, count);
    }
    let new_len = end + seq.len() - oldlen;
    if has_next {
        s.splice(p..p + oldlen, seq);
    } else {
        // The last opcode; an XZERO cut by the end of a corrupted string loses its
        // last byte, as it does in Redis.
        s.truncate(p);
        s.extend_from_slice(&seq);
        s.truncate(new_len);
    }
    merge_vals(s, prev);
    Ok(true)
}

/// Redis's step 4 of hllSparseSet: from the opcode before the change, up to five
/// opcodes, merges neighbouring VALs of the same value that fit one VAL; then marks
/// the cached cardinality stale.
fn merge_vals(s: &mut Vec<u8>, prev: Option<usize>) {
    let mut p = prev.unwrap_or(HDR);
    let mut scan = 5;
    while p < s.len() && scan > 0 {
        scan -= 1;
        let b = s[p];
        if is_xzero(b) {
            p += 2;
            continue;
        }
        if is_zero(b) {
            p += 1;
            continue;
        }
        if p + 1 < s.len() && is_val(s[p + 1]) {
            let next = s[p + 1];
            let len = val_len(b) + val_len(next);
            if val_value(b) == val_value(next) && len <= VAL_MAX_LEN {
                s[p + 1] = val_op(val_value(b), len);
                s.remove(p);
                continue;
            }
        }
        p += 1;
    }
    invalidate_cache(s);
}

/// Turns a sparse HyperLogLog dense and raises register `index` there.
fn promote(s: &mut Vec<u8>, index: usize, count: u8) -> Result<bool, Corrupt> {
    *s = sparse_to_dense(s)?;
    Ok(dense_raise(&mut s[HDR..], index, count))
}

/// Adds an element (Redis's hllAdd); whether a register changed.
pub fn add(s: &mut Vec<u8>, ele: &[u8], max_bytes: usize) -> Result<bool, Corrupt> {
    let (index, count) = pat_len(ele);
    match s.get(4) {
        Some(&DENSE) => Ok(dense_raise(&mut s[HDR..], index, count)),
        Some(&SPARSE) => sparse_set(s, index, count, max_bytes),
        _ => Err(Corrupt),
    }
}

/// Sixteen registers from twelve bytes of the dense encoding.
#[inline(always)]
fn dense_group(c: &[u8], out: &mut [u8; 16]) {
    for g in 0..4 {
        let v = u32::from(c[3 * g]) | u32::from(c[3 * g + 1]) << 8 | u32::from(c[3 * g + 2]) << 16;
        out[4 * g] = (v & 63) as u8;
        out[4 * g + 1] = ((v >> 6) & 63) as u8;
        out[4 * g + 2] = ((v >> 12) & 63) as u8;
        out[4 * g + 3] = ((v >> 18) & 63) as u8;
    }
}

/// Counts of each register value.
type Histogram = [u64; 64];

fn dense_histogram(regs: &[u8], h: &mut Histogram) {
    // Neighbouring registers mostly hold the same few values: counting into four
    // tables keeps consecutive increments of one counter from waiting on each other.
    let mut part = [[0u32; 64]; 4];
    let mut group = [0u8; 16];
    for c in regs.chunks_exact(12) {
        dense_group(c, &mut group);
        for (i, &r) in group.iter().enumerate() {
            part[i & 3][usize::from(r)] += 1;
        }
    }
    for (j, slot) in h.iter_mut().enumerate() {
        *slot += part.iter().map(|p| u64::from(p[j])).sum::<u64>();
    }
}

/// The histogram of a sparse encoding; false when the runs do not cover exactly
/// 16,384 registers.
fn sparse_histogram(s: &[u8], h: &mut Histogram) -> bool {
    let mut idx = 0u64;
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        let (len, val) = if is_zero(b) {
            p += 1;
            (zero_len(b), 0)
        } else if is_xzero(b) {
            p += 2;
            (xzero_len(b, at(s, p - 1)), 0)
        } else {
            p += 1;
            (val_len(b), val_value(b))
        };
        idx += len as u64;
        h[usize::from(val)] += len as u64;
    }
    idx == REGISTERS as u64
}

/// Ertl's sigma.
fn sigma(mut x: f64) -> f64 {
    if x == 1.0 {
        return f64::INFINITY;
    }
    let (mut y, mut z) = (1.0, x);
    // Converges in well under a hundred steps for x in [0, 1); the cap only guards
    // inputs that cannot come from a valid histogram.
    for _ in 0..10_000 {
        x *= x;
        let before = z;
        z += x * y;
        y += y;
        if before == z {
            break;
        }
    }
    z
}

/// Ertl's tau.
fn tau(mut x: f64) -> f64 {
    if x == 0.0 || x == 1.0 {
        return 0.0;
    }
    let (mut y, mut z) = (1.0, 1.0 - x);
    for _ in 0..10_000 {
        x = x.sqrt();
        let before = z;
        y *= 0.5;
        let d = 1.0 - x;
        z -= d * d * y;
        if before == z {
            break;
        }
    }
    z / 3.0
}

/// C's llroundl of a double: half away from zero; out of range (or not a number)
/// gives LLONG_MIN, as on x86-64.
fn llround(x: f64) -> i64 {
    let r = x.round();
    let limit = (1u64 << 63) as f64;
    if (-limit..limit).contains(&r) {
        r as i64
    } else {
        i64::MIN
    }
}

/// The cardinality estimate from a register histogram (Redis's hllCount, after
/// Ertl, "New cardinality estimation algorithms for HyperLogLog sketches").
fn estimate(h: &Histogram) -> u64 {
    let m = REGISTERS as f64;
    let mut z = m * tau((m - h[Q + 1] as f64) / m);
    for j in (1..=Q).rev() {
        z += h[j] as f64;
        z *= 0.5;
    }
    z += m * sigma(h[0] as f64 / m);
    llround(ALPHA_INF * m * m / z) as u64
}

/// The estimated cardinality of a valid HyperLogLog; `Err` for a sparse one whose
/// runs do not cover every register.
pub fn count(s: &[u8]) -> Result<u64, Corrupt> {
    let mut h = [0u64; 64];
    let body = s.get(HDR..).unwrap_or_default();
    if s.get(4) == Some(&DENSE) {
        dense_histogram(body, &mut h);
    } else if !sparse_histogram(s, &mut h) {
        return Err(Corrupt);
    }
    Ok(estimate(&h))
}

/// The estimated cardinality of registers held one per byte (PFCOUNT of several
/// keys).
pub fn count_registers(regs: &[u8; REGISTERS]) -> u64 {
    let mut part = [[0u32; 64]; 4];
    for c in regs.chunks_exact(4) {
        for (p, &r) in part.iter_mut().zip(c) {
            p[usize::from(r & 63)] += 1;
        }
    }
    let mut h = [0u64; 64];
    for (j, slot) in h.iter_mut().enumerate() {
        *slot = part.iter().map(|p| u64::from(p[j])).sum();
    }
    estimate(&h)
}

/// Raises each of `max` to the register of the valid HyperLogLog `s` (Redis's
/// hllMerge).
pub fn merge(max: &mut [u8; REGISTERS], s: &[u8]) -> Result<(), Corrupt> {
    if s.get(4) == Some(&DENSE) {
        let mut group = [0u8; 16];
        for (c, m) in s[HDR..].chunks_exact(12).zip(max.chunks_exact_mut(16)) {
            dense_group(c, &mut group);
            for (m, &g) in m.iter_mut().zip(&group) {
                *m = (*m).max(g);
            }
        }
        return Ok(());
    }
    let mut i = 0usize;
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        if is_zero(b) {
            i += zero_len(b);
            p += 1;
        } else if is_xzero(b) {
            i += xzero_len(b, at(s, p + 1));
            p += 2;
        } else {
            let (len, val) = (val_len(b), val_value(b));
            if i + len > REGISTERS {
                return Err(Corrupt);
            }
            for m in &mut max[i..i + len] {
                *m = (*m).max(val);
            }
            i += len;
            p += 1;
        }
    }
    if i != REGISTERS {
        return Err(Corrupt);
    }
    Ok(())
}

/// PFDEBUG DECODE's text of a sparse encoding: `z:len`, `Z:len`, `v:value,len`.
pub fn decode(s: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let mut p = HDR;
    while p < s.len() {
        let b = s[p];
        let _ = if is_zero(b) {
            p += 1;
            write!(out, "z:{} ", zero_len(b))
        } else if is_xzero(b) {
            p += 2;
            write!(out, "Z:{} ", xzero_len(b, at(s, p - 1)))
        } else {
            p += 1;
            write!(out, "v:{},{} ", val_value(b), val_len(b))
        };
    }
    out.trim_matches(' ').to_string()
}

/// PFSELFTEST (Redis's pfselftestCommand): the dense register accessors keep every
/// value and disturb no neighbour, and 10,000,000 distinct elements added to a
/// dense and a sparse HyperLogLog give the same estimates, within six standard
/// errors, the sparse one staying sparse while it is small. The fault, if any.
pub fn self_test(max_bytes: usize) -> Result<(), String> {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    let mut regs = vec![0u8; DENSE_SIZE - HDR];
    let mut bytes = vec![0u8; REGISTERS];
    for _ in 0..1000 {
        for (i, b) in bytes.iter_mut().enumerate() {
            let r = rng.gen::<u8>() & 63;
            *b = r;
            dense_put(&mut regs, i, r);
        }
        for (i, &b) in bytes.iter().enumerate() {
            let v = dense_get(&regs, i);
            if v != b {
                return Err(format!("Register {i} should be {b} but is {v}"));
            }
        }
    }
    let mut dense = create();
    dense = sparse_to_dense(&dense).map_err(|_| "dense/sparse disagree".to_string())?;
    let mut sparse = create();
    let relerr = 1.04 / (REGISTERS as f64).sqrt();
    let seed: u64 = rng.gen();
    let mut checkpoint: u64 = 1;
    for j in 1..=10_000_000u64 {
        let ele = (j ^ seed).to_ne_bytes();
        let (index, cnt) = pat_len(&ele);
        dense_raise(&mut dense[HDR..], index, cnt);
        let _ = add(&mut sparse, &ele, max_bytes);
        if j != checkpoint {
            continue;
        }
        if j < (max_bytes / 2) as u64 && sparse[4] != SPARSE {
            return Err("sparse encoding not used".into());
        }
        let d = count(&dense).unwrap_or(0);
        if Ok(d) != count(&sparse) {
            return Err("dense/sparse disagree".into());
        }
        let abserr = (checkpoint as i64 - d as i64).unsigned_abs();
        let maxerr = if j == 10 {
            1
        } else {
            (relerr * 6.0 * checkpoint as f64).ceil() as u64
        };
        if abserr > maxerr {
            return Err(format!("Too big error. card:{checkpoint} abserr:{abserr}"));
        }
        checkpoint *= 10;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn murmur_matches_redis() {
        // Redis: PFADD of "a" gives `Z:12711 v:2,1 Z:3672` (PFDEBUG DECODE), of ""
        // `Z:5938 v:2,1 Z:10445`.
        assert_eq!(pat_len(b"a"), (12711, 2));
        assert_eq!(pat_len(b""), (5938, 2));
        assert_eq!(murmur64a(b"", 0), 0);
    }

    #[test]
    fn empty_hll_is_redis_bytes() {
        let s = create();
        assert_eq!(s.len(), 18);
        assert_eq!(&s[..5], b"HYLL\x01");
        assert_eq!(&s[16..], &[0x7f, 0xff]);
        assert_eq!(count(&s), Ok(0));
        assert_eq!(decode(&s), "Z:16384");
    }

    #[test]
    fn sparse_and_dense_agree() {
        let mut sparse = create();
        let mut dense = sparse_to_dense(&create()).unwrap();
        for i in 0..5000u32 {
            let e = i.to_string();
            let a = add(&mut sparse, e.as_bytes(), 3000).unwrap();
            let b = add(&mut dense, e.as_bytes(), 3000).unwrap();
            assert_eq!(a, b, "element {i}");
            if i % 97 == 0 {
                assert_eq!(count(&sparse), count(&dense));
            }
        }
        assert_eq!(sparse[4], DENSE);
        assert_eq!(sparse[HDR..], dense[HDR..]);
    }

    #[test]
    fn corrupted_sparse_never_panics() {
        let mut seed = 7u64;
        for _ in 0..2000 {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let mut s = create();
            for i in 0..(seed % 300) {
                let _ = add(&mut s, &i.to_le_bytes(), 3000);
            }
            let len = s.len();
            s[HDR + (seed >> 20) as usize % (len - HDR)] = (seed >> 40) as u8;
            if seed & 1 == 0 {
                s.truncate(len - 1);
            }
            let _ = count(&s);
            let mut max = [0u8; REGISTERS];
            let _ = merge(&mut max, &s);
            let _ = decode(&s);
            let _ = sparse_to_dense(&s);
            for e in 0..20u32 {
                let _ = add(&mut s, &e.to_le_bytes(), 3000);
            }
        }
    }

    #[test]
    fn self_test_passes() {
        assert_eq!(self_test(3000), Ok(()));
    }
}
