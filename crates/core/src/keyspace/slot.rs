//! Redis Cluster hash slots: CRC16 (XMODEM) of the key, or of its `{hash tag}`,
//! modulo 16384 (Redis's `keyHashSlot`, src/cluster.c).
//!
//! Why it lives in core and not in `ferrokv-cluster`: the keyspace places every key
//! by its slot (one slot's keys share one shard, see [`super`]), and `cluster`
//! depends on `core`, so core cannot call into it. `ferrokv_cluster` re-exports
//! these items; it is the crate that owns the slot map and redirects.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// Bytes folded into the CRC per step.
const BLOCK: usize = 16;

/// CRC16 tables: `TABLES[0]` is the plain byte-at-a-time table of the polynomial
/// 0x1021 (MSB first, as XMODEM); `TABLES[k][x]` is the CRC of byte `x` followed by
/// `k` zero bytes, so sixteen input bytes fold in with sixteen independent lookups
/// ("slicing by 16"): a typical key (`key:000000123456`) is one step. 8 KiB,
/// built at compile time.
static TABLES: [[u16; 256]; BLOCK] = tables();

const fn tables() -> [[u16; 256]; BLOCK] {
    let mut t = [[0u16; 256]; BLOCK];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        t[0][i] = crc;
        i += 1;
    }
    let mut k = 1;
    while k < BLOCK {
        let mut i = 0;
        while i < 256 {
            let prev = t[k - 1][i];
            t[k][i] = (prev << 8) ^ t[0][(prev >> 8) as usize];
            i += 1;
        }
        k += 1;
    }
    t
}

/// CRC16-XMODEM (polynomial 0x1021, initial value 0, no reflection, no final
/// XOR): Redis's `crc16`, whose check value for `123456789` is 0x31C3.
#[inline]
pub fn crc16(data: &[u8]) -> u16 {
    // With an initial value of 0, leading zero bytes leave the CRC at 0, so the
    // first `len % 8` bytes fold in as the end of a zero-padded block: each
    // indexes the table for the number of bytes after it, all independent, and no
    // byte goes through a serial byte-at-a-time loop. Then one 8-byte step if the
    // rest is an odd number of 8s, then 16-byte steps.
    let t = &TABLES;
    let (head, mut rest) = data.split_at(data.len() % 8);
    let mut crc = 0;
    for (i, &b) in head.iter().enumerate() {
        crc ^= t[head.len() - 1 - i][b as usize];
    }
    // A multiple of 8 long: bit 3 says whether the 16-byte steps leave 8 over.
    if rest.len() & 8 != 0 {
        if let Some((block, tail)) = rest.split_first_chunk::<8>() {
            crc = fold(crc, block);
            rest = tail;
        }
    }
    while let Some((block, tail)) = rest.split_first_chunk::<BLOCK>() {
        crc = fold(crc, block);
        rest = tail;
    }
    crc
}

/// The CRC after `N` more bytes: the register's two bytes combine with the first
/// two, every byte indexes the table for the number of bytes that follow it
/// within the step, and the lookups are independent.
#[inline(always)]
fn fold<const N: usize>(crc: u16, c: &[u8; N]) -> u16 {
    let t = &TABLES;
    let [hi, lo] = crc.to_be_bytes();
    let mut acc = t[N - 1][(c[0] ^ hi) as usize] ^ t[N - 2][(c[1] ^ lo) as usize];
    for i in 2..N {
        acc ^= t[N - 1 - i][c[i] as usize];
    }
    acc
}

/// Position of the first `needle` in `hay`, 8 bytes per step (keys are short and
/// most have no `{`: this runs for every key a command names).
#[inline]
fn find_byte(hay: &[u8], needle: u8) -> Option<usize> {
    const LO: u64 = 0x0101_0101_0101_0101;
    const HI: u64 = 0x8080_8080_8080_8080;
    let pattern = LO * u64::from(needle);
    let mut chunks = hay.chunks_exact(8);
    let mut base = 0;
    for c in &mut chunks {
        let w = u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]) ^ pattern;
        // The lowest flagged byte is the first zero byte of `w` (a borrow can only
        // flag bytes above a real zero).
        let zero = w.wrapping_sub(LO) & !w & HI;
        if zero != 0 {
            return Some(base + (zero.trailing_zeros() / 8) as usize);
        }
        base += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|p| base + p)
}

/// The part of `key` that decides its slot: what lies between the first `{` and
/// the first `}` after it, if that is not empty; otherwise the whole key.
#[inline]
pub fn hash_tag(key: &[u8]) -> &[u8] {
    let Some(open) = find_byte(key, b'{') else {
        return key;
    };
    let rest = &key[open + 1..];
    match find_byte(rest, b'}') {
        Some(close) if close > 0 => &rest[..close],
        _ => key,
    }
}

/// The hash slot of `key` (0..16384), as Redis Cluster computes it.
#[inline]
pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) & (SLOTS as u16 - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-at-a-time definition, to check the sliced one against.
    fn crc16_bitwise(data: &[u8]) -> u16 {
        let mut crc: u16 = 0;
        for &b in data {
            crc ^= u16::from(b) << 8;
            for _ in 0..8 {
                crc = if crc & 0x8000 != 0 {
                    (crc << 1) ^ 0x1021
                } else {
                    crc << 1
                };
            }
        }
        crc
    }

    #[test]
    fn crc16_is_xmodem() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        for len in 0..data.len() {
            for start in [0, 1, 3, 7] {
                let s = &data[start.min(len)..len];
                assert_eq!(crc16(s), crc16_bitwise(s), "len {len} start {start}");
            }
        }
    }

    #[test]
    fn slots_match_redis() {
        // CLUSTER KEYSLOT replies of redis-server 7.0.15 (--cluster-enabled yes).
        let known: &[(&[u8], u16)] = &[
            (b"", 0),
            (b"foo", 12182),
            (b"bar", 5061),
            (b"key:1", 6657),
            (b"key:0", 2592),
            (b"123456789", 12739),
            (b"somekey", 11058),
            (b"{user1000}.following", 3443),
            (b"{user1000}.followers", 3443),
            (b"user1000", 3443),
            (b"foo{}{bar}", 8363),
            (b"foo{{bar}}zap", 4015),
            (b"{bar", 4015),
            (b"foo{bar}{zap}", 5061),
            (b"{}", 15257),
            (b"}{", 12793),
        ];
        for &(key, slot) in known {
            assert_eq!(key_slot(key), slot, "{}", String::from_utf8_lossy(key));
        }
    }

    #[test]
    fn find_byte_finds_the_first() {
        let hay: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..hay.len() {
            for at in 0..len {
                let mut h = hay[..len].to_vec();
                h[at] = b'{';
                if at + 3 < len {
                    h[at + 3] = b'{';
                }
                assert_eq!(find_byte(&h, b'{'), Some(at), "len {len} at {at}");
            }
            assert_eq!(find_byte(&hay[..len], b'{'), None);
        }
        // Bytes next to the needle's value (borrows, high bits) are not matches.
        assert_eq!(find_byte(b"\x7a\x7c\xfb\x7b\x00\x7b", b'{'), Some(3));
        assert_eq!(
            find_byte(b"\x7c\x7c\x7c\x7c\x7c\x7c\x7c\x7c\x7b", b'{'),
            Some(8)
        );
    }

    #[test]
    fn hash_tags_follow_redis_rules() {
        assert_eq!(hash_tag(b"plain"), b"plain");
        assert_eq!(hash_tag(b"{a}b"), b"a");
        assert_eq!(hash_tag(b"x{a}{b}"), b"a");
        // Empty tag: the whole key.
        assert_eq!(hash_tag(b"foo{}{bar}"), b"foo{}{bar}");
        // First `{`, then the first `}` after it.
        assert_eq!(hash_tag(b"foo{{bar}}zap"), b"{bar");
        assert_eq!(hash_tag(b"}{x}"), b"x");
        // No closing brace.
        assert_eq!(hash_tag(b"{open"), b"{open");
        assert_eq!(hash_tag(b"{"), b"{");
        assert_eq!(hash_tag(b"a}b{c"), b"a}b{c");
    }
}
