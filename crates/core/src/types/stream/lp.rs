//! Listpack element sizes, as Redis's listpack.c encodes them. A stream node is
//! one listpack in Redis; its byte size decides when XADD opens a new node
//! (`stream-node-max-bytes`), and node boundaries decide what `~` trimming
//! removes, so ferrokv computes the same sizes for its nodes.

/// Listpack header (total bytes u32 + element count u16) plus the end byte.
pub const OVERHEAD: usize = 6 + 1;

/// Bytes of the back-length field for an element of `l` bytes.
fn backlen_size(l: usize) -> usize {
    if l <= 127 {
        1
    } else if l < 16383 {
        2
    } else if l < 2097151 {
        3
    } else if l < 268435455 {
        4
    } else {
        5
    }
}

/// Encoding + data bytes of an integer element.
fn int_len(v: i64) -> usize {
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

/// Size of an integer element (lpAppendInteger).
pub fn int_size(v: i64) -> usize {
    let l = int_len(v);
    l + backlen_size(l)
}

/// Size of a string element (lpAppend): strings that read as a canonical integer
/// are stored as integers.
pub fn str_size(s: &[u8]) -> usize {
    if s.len() <= 20 {
        if let Some(v) = crate::args::parse_i64(s) {
            return int_size(v);
        }
    }
    let header = match s.len() {
        0..=63 => 1,
        64..=4095 => 2,
        _ => 5,
    };
    let l = header + s.len();
    l + backlen_size(l)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(int_size(0), 2);
        assert_eq!(int_size(128), 3);
        assert_eq!(int_size(-1), 3);
        assert_eq!(int_size(i64::MAX), 10);
        assert_eq!(str_size(b"abc"), 5);
        assert_eq!(str_size(b"123"), 2);
        assert_eq!(str_size(&[b'x'; 64]), 2 + 64 + 1);
        assert_eq!(str_size(&[b'x'; 200]), 2 + 200 + 2);
    }
}
