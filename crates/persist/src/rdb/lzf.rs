//! LZF as Redis's bundled liblzf 3.6 does it (HLOG 16, VERY_FAST), in safe Rust.
//!
//! Why not the `lzf` crate: it allocates and zeroes a 512 KiB hash table on every
//! call (SAVE of 200k 60-byte strings took seconds), it is deprecated upstream, and
//! its compressor stops matches near the end of the input where liblzf does not,
//! so its output differs from Redis's. Here the hash table is thread-local and
//! stamped with a generation instead of cleared, which behaves exactly like a
//! zeroed table; the output matches Redis's DUMP byte for byte.

use std::cell::RefCell;

const HLOG: u32 = 16;
const HSIZE: usize = 1 << HLOG;
const MAX_LIT: usize = 1 << 5;
const MAX_OFF: usize = 1 << 13;
const MAX_REF: usize = (1 << 8) + (1 << 3);

thread_local! {
    /// Entries are `generation << 32 | position`; other generations count as empty.
    static TABLE: RefCell<(Vec<u64>, u32)> = const { RefCell::new((Vec::new(), 0)) };
}

/// Frees this thread's hash table (512 KiB). A saver thread calls it when its
/// save ends: Redis's table lives on its child's stack, so a table kept by an
/// idle saver thread would count in used_memory where Redis's does not.
pub(crate) fn release_table() {
    TABLE.with(|t| *t.borrow_mut() = (Vec::new(), 0));
}

fn idx(h: u32) -> usize {
    ((h >> (3 * 8 - HLOG)).wrapping_sub(h.wrapping_mul(5)) as usize) & (HSIZE - 1)
}

/// Compresses `input` into at most `out_limit` bytes; `None` when it does not fit
/// (lzf_compress returning 0).
pub(crate) fn compress(input: &[u8], out_limit: usize) -> Option<Vec<u8>> {
    let in_len = input.len();
    if in_len == 0 || out_limit == 0 || in_len > u32::MAX as usize {
        return None;
    }
    TABLE.with(|t| {
        let mut t = t.borrow_mut();
        let (table, gen) = &mut *t;
        if table.is_empty() {
            table.resize(HSIZE, 0);
        }
        *gen = gen.wrapping_add(1);
        if *gen == 0 {
            table.fill(0);
            *gen = 1;
        }
        compress_with(input, out_limit, table, *gen)
    })
}

fn compress_with(input: &[u8], out_limit: usize, table: &mut [u64], gen: u32) -> Option<Vec<u8>> {
    let in_len = input.len();
    let stamp = u64::from(gen) << 32;
    let mut out = vec![0u8; out_limit];
    let mut op = 1usize; // start run
    let mut lit = 0usize;
    let mut ip = 0usize;
    let mut hval: u32 = if in_len >= 2 {
        (u32::from(input[0]) << 8) | u32::from(input[1])
    } else {
        0
    };
    while ip + 2 < in_len {
        hval = (hval << 8) | u32::from(input[ip + 2]);
        let slot = &mut table[idx(hval)];
        let reference = if *slot >> 32 == u64::from(gen) {
            Some((*slot & 0xFFFF_FFFF) as usize)
        } else {
            None
        };
        *slot = stamp | ip as u64;
        let matched = reference.and_then(|r| {
            let off = ip.checked_sub(r)?.checked_sub(1)?;
            (off < MAX_OFF
                && r > 0
                && input[r + 2] == input[ip + 2]
                && input[r] == input[ip]
                && input[r + 1] == input[ip + 1])
                .then_some((r, off))
        });
        if let Some((r, off)) = matched {
            let mut len = 2usize;
            let maxlen = (in_len - ip - len).min(MAX_REF);
            if op + 3 + 1 >= out_limit && op - usize::from(lit == 0) + 3 + 1 >= out_limit {
                return None;
            }
            out[op - lit - 1] = (lit as u8).wrapping_sub(1); // stop run
            op -= usize::from(lit == 0); // undo run if length is zero
                                         // liblzf unrolls 16 steps without the maxlen test when maxlen > 16;
                                         // that can end one past maxlen, and the output must match it.
            let mut unrolled_mismatch = false;
            if maxlen > 16 {
                for _ in 0..16 {
                    len += 1;
                    if input[r + len] != input[ip + len] {
                        unrolled_mismatch = true;
                        break;
                    }
                }
            }
            if !unrolled_mismatch {
                loop {
                    len += 1;
                    if !(len < maxlen && input[r + len] == input[ip + len]) {
                        break;
                    }
                }
            }
            len -= 2; // len is now #octets - 1
            ip += 1;
            if len < 7 {
                out[op] = ((off >> 8) + (len << 5)) as u8;
                op += 1;
            } else {
                out[op] = ((off >> 8) + (7 << 5)) as u8;
                out[op + 1] = (len - 7) as u8;
                op += 2;
            }
            out[op] = off as u8;
            op += 1;
            lit = 0;
            op += 1; // start run
            ip += len + 1;
            if ip + 2 >= in_len {
                break;
            }
            // VERY_FAST: re-hash the last two positions of the match.
            ip -= 2;
            hval = (u32::from(input[ip]) << 8) | u32::from(input[ip + 1]);
            hval = (hval << 8) | u32::from(input[ip + 2]);
            table[idx(hval)] = stamp | ip as u64;
            ip += 1;
            hval = (hval << 8) | u32::from(input[ip + 2]);
            table[idx(hval)] = stamp | ip as u64;
            ip += 1;
        } else {
            if op >= out_limit {
                return None;
            }
            lit += 1;
            out[op] = input[ip];
            op += 1;
            ip += 1;
            if lit == MAX_LIT {
                out[op - lit - 1] = (lit - 1) as u8; // stop run
                lit = 0;
                op += 1; // start run
            }
        }
    }
    if op + 3 > out_limit {
        return None;
    }
    while ip < in_len {
        if op >= out_limit {
            return None;
        }
        lit += 1;
        out[op] = input[ip];
        op += 1;
        ip += 1;
        if lit == MAX_LIT {
            if op >= out_limit {
                return None;
            }
            out[op - lit - 1] = (lit - 1) as u8;
            lit = 0;
            op += 1;
        }
    }
    out[op - lit - 1] = (lit as u8).wrapping_sub(1); // end run
    op -= usize::from(lit == 0);
    out.truncate(op);
    Some(out)
}

/// Decompresses `input` into exactly `out_len` bytes (lzf_decompress must return
/// `out_len`); `None` for corrupt data.
pub(crate) fn decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out: Vec<u8> = Vec::with_capacity(out_len);
    let mut ip = 0usize;
    while ip < input.len() {
        let ctrl = usize::from(input[ip]);
        ip += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            if out.len() + n > out_len {
                return None;
            }
            out.extend_from_slice(input.get(ip..ip + n)?);
            ip += n;
        } else {
            let mut len = ctrl >> 5;
            let mut back = (ctrl & 0x1F) << 8;
            if len == 7 {
                len += usize::from(*input.get(ip)?);
                ip += 1;
            }
            back += usize::from(*input.get(ip)?);
            ip += 1;
            len += 2;
            if out.len() + len > out_len {
                return None;
            }
            let start = out.len().checked_sub(back + 1)?;
            // Overlapping copies repeat bytes: copy one at a time.
            for i in 0..len {
                let b = out[start + i];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_rejects_corruption() {
        let inputs: Vec<Vec<u8>> = vec![
            b"abcabcabcabcabcabcabcabcabc".to_vec(),
            vec![b'z'; 21],
            vec![b'z'; 5000],
            (0..3000u32).map(|i| (i * 7 % 251) as u8).collect(),
            b"hello world, hello world, hello world!".to_vec(),
        ];
        for input in inputs {
            let c = compress(&input, input.len() - 4).expect("compressible");
            assert_eq!(decompress(&c, input.len()).expect("valid"), input);
            assert!(decompress(&c, input.len() + 1).is_none());
            assert!(decompress(&c[..c.len() - 1], input.len()).is_none());
        }
        // Incompressible data does not fit in len-4.
        let noise: Vec<u8> = (0..64u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert!(compress(&noise, noise.len() - 4).is_none());
        // A back reference before the start.
        assert!(decompress(&[0x20, 0x05], 10).is_none());
    }

    #[test]
    fn a_released_table_is_freed_and_compression_goes_on_alike() {
        let input = b"abcabcabcabcabcabcabcabcabcabc0123456789abcabcabcabc".repeat(20);
        let before = compress(&input, input.len()).unwrap();
        release_table();
        TABLE.with(|t| assert_eq!(t.borrow().0.capacity(), 0));
        assert_eq!(compress(&input, input.len()).unwrap(), before);
    }

    #[test]
    fn matches_liblzf_on_a_known_case() {
        // Redis 7.0 DUMP of SET k "zzzzzzzzzzzzzzzzzzzzz" (21 bytes) compresses to
        // 01 7a 7a e0 0a 00.
        assert_eq!(
            compress(&[b'z'; 21], 17).expect("fits"),
            vec![0x01, b'z', b'z', 0xE0, 0x0A, 0x00]
        );
    }

    proptest::proptest! {
        #[test]
        fn compress_then_decompress_is_identity(
            data in proptest::collection::vec(0u8..4, 0..3000),
            limit_slack in 0usize..8,
        ) {
            let limit = (data.len() + limit_slack).max(1);
            if let Some(c) = compress(&data, limit) {
                proptest::prop_assert!(c.len() <= limit);
                proptest::prop_assert_eq!(decompress(&c, data.len()), Some(data));
            }
        }

        #[test]
        fn decompress_never_panics(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), n in 0usize..2000) {
            let _ = decompress(&data, n);
        }
    }
}
