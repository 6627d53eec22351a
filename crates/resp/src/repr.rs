//! Redis's quoted form of a binary string (sdscatrepr): what redis-cli prints,
//! MONITOR lines and AOF manifests use. `"a\nb"`, `\xHH` for bytes that are not
//! printable ASCII.
//!
//! ```
//! assert_eq!(ferrokv_resp::repr(b"a\"b\n\x01"), b"\"a\\\"b\\n\\x01\"".to_vec());
//! ```

/// Appends `data` quoted and escaped to `out`.
pub fn push_repr(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'"');
    for &c in data {
        match c {
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'"' => out.extend_from_slice(b"\\\""),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            7 => out.extend_from_slice(b"\\a"),
            8 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'x',
                    HEX[(c >> 4) as usize],
                    HEX[(c & 15) as usize],
                ]);
            }
        }
    }
    out.push(b'"');
}

/// `data` quoted, as a new buffer.
pub fn repr(data: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len() + 2);
    push_repr(&mut out, data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes() {
        assert_eq!(
            repr(b"a\"b\\\n\x01\xc3"),
            b"\"a\\\"b\\\\\\n\\x01\\xc3\"".to_vec()
        );
    }
}
