//! Bitmaps: bit operations on string values (SETBIT, GETBIT, BITCOUNT, BITPOS,
//! BITOP, BITFIELD). A bitmap is a plain string: bit 0 is the most significant bit
//! of the first byte, and a string grown by a bit command is zero-filled, so GET
//! returns the bytes Redis would hold.
//!
//! The scans (popcount, first set/clear bit) work eight bytes at a time.

pub mod commands;

/// Eight bytes as one word, in memory order.
#[inline(always)]
fn word_ne(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_ne_bytes(a)
}

/// Eight bytes as one word, the first byte most significant (bit order of a bitmap).
#[inline(always)]
fn word_be(c: &[u8]) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(c);
    u64::from_be_bytes(a)
}

/// The number of set bits in `bytes` (Redis's redisPopcount).
pub fn popcount(bytes: &[u8]) -> u64 {
    let mut blocks = bytes.chunks_exact(32);
    let mut total = 0u64;
    for b in &mut blocks {
        // Four independent counts per block keep the adds off one dependency chain.
        total += u64::from(
            word_ne(&b[0..8]).count_ones()
                + word_ne(&b[8..16]).count_ones()
                + word_ne(&b[16..24]).count_ones()
                + word_ne(&b[24..32]).count_ones(),
        );
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        total += u64::from(word_ne(w).count_ones());
    }
    for &b in words.remainder() {
        total += u64::from(b.count_ones());
    }
    total
}

/// Redis's redisBitpos: the position of the first bit equal to `bit` in `bytes`.
/// When there is none: `bytes.len() * 8` for a clear bit (the string counts as
/// zero-padded on the right), -1 for a set bit.
pub fn bitpos(bytes: &[u8], bit: bool) -> i64 {
    let skip = if bit { 0 } else { u64::MAX };
    let mut pos: i64 = 0;
    let mut blocks = bytes.chunks_exact(64);
    for b in &mut blocks {
        // A whole block of what is skipped: eight words folded, one test (byte order
        // does not matter for "all equal").
        let mut diff = 0;
        for w in b.chunks_exact(8) {
            diff |= word_ne(w) ^ skip;
        }
        if diff != 0 {
            for w in b.chunks_exact(8) {
                let w = word_be(w) ^ skip;
                if w != 0 {
                    return pos + i64::from(w.leading_zeros());
                }
                pos += 64;
            }
        }
        pos += 512;
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for w in &mut words {
        let w = word_be(w) ^ skip;
        if w != 0 {
            return pos + i64::from(w.leading_zeros());
        }
        pos += 64;
    }
    for &b in words.remainder() {
        let b = b ^ skip as u8;
        if b != 0 {
            return pos + i64::from(b.leading_zeros());
        }
        pos += 8;
    }
    if bit {
        -1
    } else {
        pos
    }
}

/// All ones in the low `bits` bits.
#[inline]
fn low_mask(bits: u32) -> u64 {
    if bits >= 64 {
        u64::MAX
    } else {
        (1u64 << bits) - 1
    }
}

/// The 9 bytes from `byte` (0 past the end) as the low 72 bits of a word, the first
/// byte most significant: every field of up to 64 bits at a bit offset inside
/// `byte` lies in it.
#[inline]
fn window(buf: &[u8], byte: usize) -> u128 {
    let mut w: u128 = 0;
    for i in 0..9 {
        let b = byte
            .checked_add(i)
            .and_then(|at| buf.get(at))
            .copied()
            .unwrap_or(0);
        w = (w << 8) | u128::from(b);
    }
    w
}

/// The unsigned `bits`-wide (1..=64) integer at bit `offset` of `buf`; bits past
/// the end read as 0 (Redis's getUnsignedBitfield on a zero-padded copy).
pub fn get_unsigned(buf: &[u8], offset: u64, bits: u32) -> u64 {
    let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    let shift = (offset & 7) as u32;
    let w = window(buf, byte);
    ((w >> (72 - shift - bits)) as u64) & low_mask(bits)
}

/// The signed `bits`-wide integer at bit `offset` (two's complement, sign-extended).
pub fn get_signed(buf: &[u8], offset: u64, bits: u32) -> i64 {
    let v = get_unsigned(buf, offset, bits);
    if bits < 64 && v & (1u64 << (bits - 1)) != 0 {
        (v | (u64::MAX << bits)) as i64
    } else {
        v as i64
    }
}

/// Writes the low `bits` bits of `value` at bit `offset`, leaving the other bits as
/// they are. The caller made the string long enough; bytes past its end are not
/// written.
pub fn set_field(buf: &mut [u8], offset: u64, bits: u32, value: u64) {
    let byte = usize::try_from(offset >> 3).unwrap_or(usize::MAX);
    let shift = (offset & 7) as u32;
    let sh = 72 - shift - bits;
    let mask = u128::from(low_mask(bits)) << sh;
    let w = (window(buf, byte) & !mask) | ((u128::from(value & low_mask(bits))) << sh);
    let last = ((u64::from(shift) + u64::from(bits) - 1) >> 3) as usize;
    for i in 0..=last {
        if let Some(b) = byte.checked_add(i).and_then(|at| buf.get_mut(at)) {
            *b = (w >> (8 * (8 - i))) as u8;
        }
    }
}

/// BITFIELD's OVERFLOW behaviours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wrap around (the default).
    Wrap,
    /// Saturate at the type's minimum or maximum.
    Sat,
    /// Leave the field alone and reply nil.
    Fail,
}

/// Redis's checkUnsignedBitfieldOverflow for `value + incr` in `bits` bits: `None`
/// when it fits, else the value to store instead (unused for FAIL).
pub fn unsigned_overflow(value: u64, incr: i64, bits: u32, ow: Overflow) -> Option<u64> {
    let max = low_mask(bits);
    let max_incr = max.wrapping_sub(value) as i64;
    let min_incr = value.wrapping_neg() as i64;
    let wrapped = || value.wrapping_add(incr as u64) & low_mask(bits);
    if value > max || (incr > 0 && incr > max_incr) {
        return Some(match ow {
            Overflow::Wrap => wrapped(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        });
    }
    if incr < 0 && incr < min_incr {
        return Some(match ow {
            Overflow::Wrap => wrapped(),
            Overflow::Sat | Overflow::Fail => 0,
        });
    }
    None
}

/// Redis's checkSignedBitfieldOverflow for `value + incr` in `bits` bits (same
/// conventions as [`unsigned_overflow`]).
pub fn signed_overflow(value: i64, incr: i64, bits: u32, ow: Overflow) -> Option<i64> {
    let max: i64 = if bits >= 64 {
        i64::MAX
    } else {
        (1i64 << (bits - 1)) - 1
    };
    let min = -max - 1;
    let max_incr = (max as u64).wrapping_sub(value as u64) as i64;
    let min_incr = min.wrapping_sub(value);
    let wrapped = || {
        let mut c = (value as u64).wrapping_add(incr as u64);
        if bits < 64 {
            let high = u64::MAX << bits;
            if c & (1u64 << (bits - 1)) != 0 {
                c |= high;
            } else {
                c &= !high;
            }
        }
        c as i64
    };
    if value > max || (bits != 64 && incr > max_incr) || (value >= 0 && incr > 0 && incr > max_incr)
    {
        return Some(match ow {
            Overflow::Wrap => wrapped(),
            Overflow::Sat => max,
            Overflow::Fail => 0,
        });
    }
    if value < min || (bits != 64 && incr < min_incr) || (value < 0 && incr < 0 && incr < min_incr)
    {
        return Some(match ow {
            Overflow::Wrap => wrapped(),
            Overflow::Sat => min,
            Overflow::Fail => 0,
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn popcount_naive(b: &[u8]) -> u64 {
        b.iter().map(|x| u64::from(x.count_ones())).sum()
    }

    fn bitpos_naive(b: &[u8], bit: bool) -> i64 {
        for i in 0..b.len() * 8 {
            if ((b[i / 8] >> (7 - i % 8)) & 1 == 1) == bit {
                return i as i64;
            }
        }
        if bit {
            -1
        } else {
            b.len() as i64 * 8
        }
    }

    #[test]
    fn scans_match_a_bit_at_a_time() {
        let mut seed = 0x1234_5678_9abc_def0u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for len in 0..100 {
            for fill in [0u8, 0xff] {
                let mut v = vec![fill; len];
                assert_eq!(popcount(&v), popcount_naive(&v));
                assert_eq!(bitpos(&v, true), bitpos_naive(&v, true));
                assert_eq!(bitpos(&v, false), bitpos_naive(&v, false));
                if len > 0 {
                    let at = (next() as usize) % (len * 8);
                    v[at / 8] ^= 0x80 >> (at % 8);
                    assert_eq!(bitpos(&v, fill == 0), at as i64, "len {len} at {at}");
                    assert_eq!(popcount(&v), popcount_naive(&v));
                }
                let r: Vec<u8> = (0..len).map(|_| next() as u8).collect();
                assert_eq!(popcount(&r), popcount_naive(&r));
                assert_eq!(bitpos(&r, true), bitpos_naive(&r, true));
                assert_eq!(bitpos(&r, false), bitpos_naive(&r, false));
            }
        }
    }

    #[test]
    fn fields_round_trip_at_any_offset() {
        let mut buf = vec![0u8; 20];
        set_field(&mut buf, 7, 5, 23);
        assert_eq!(&buf[..2], &[0b0000_0001, 0b0111_0000]);
        assert_eq!(get_unsigned(&buf, 7, 5), 23);
        for bits in 1..=64u32 {
            for offset in [0u64, 1, 7, 8, 13, 63, 64, 95] {
                let mut b = vec![0xa5u8; 30];
                let before = b.clone();
                let v = 0x8123_4567_89ab_cdefu64 & low_mask(bits);
                set_field(&mut b, offset, bits, v);
                assert_eq!(get_unsigned(&b, offset, bits), v, "{bits} at {offset}");
                // Nothing outside the field changed.
                set_field(&mut b, offset, bits, get_unsigned(&before, offset, bits));
                assert_eq!(b, before);
            }
        }
        assert_eq!(get_signed(&[0xff], 0, 8), -1);
        assert_eq!(get_signed(&[0x80], 0, 1), -1);
        assert_eq!(get_signed(&[0x40], 0, 2), 1);
        assert_eq!(get_unsigned(&[0xff], 4, 8), 0xf0);
    }

    #[test]
    fn overflow_like_redis() {
        use Overflow::*;
        assert_eq!(unsigned_overflow(100, 257, 8, Wrap), Some(101));
        assert_eq!(unsigned_overflow(100, 257, 8, Sat), Some(255));
        assert_eq!(unsigned_overflow(100, -255, 8, Sat), Some(0));
        assert_eq!(unsigned_overflow(100, 100, 8, Wrap), None);
        assert_eq!(signed_overflow(100, 257, 8, Wrap), Some(101));
        assert_eq!(signed_overflow(100, 257, 8, Sat), Some(127));
        assert_eq!(signed_overflow(100, -255, 8, Sat), Some(-128));
        assert_eq!(signed_overflow(i64::MAX, 1, 64, Wrap), Some(i64::MIN));
        assert_eq!(signed_overflow(i64::MIN, -1, 64, Sat), Some(i64::MIN));
        assert_eq!(signed_overflow(-5, 0, 64, Wrap), None);
        // SET of a negative value into an unsigned field: the cast makes it huge.
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Sat), Some(255));
        assert_eq!(unsigned_overflow(-1i64 as u64, 0, 8, Wrap), Some(255));
    }
}
