//! Double formatting as Redis 7.0 writes doubles in replies: C's `%.17g`, and
//! `inf` / `-inf` / `nan` spelled out.

/// Formats `v` as Redis 7.0 does in replies (`%.17g`), appending to `out`.
///
/// ```
/// let mut s = Vec::new();
/// ferrokv_resp::format_double(0.1, &mut s);
/// assert_eq!(s, b"0.10000000000000001");
/// s.clear();
/// ferrokv_resp::format_double(1e20, &mut s);
/// assert_eq!(s, b"1e+20");
/// s.clear();
/// ferrokv_resp::format_double(3.0, &mut s);
/// assert_eq!(s, b"3");
/// ```
pub fn format_double(v: f64, out: &mut Vec<u8>) {
    // Integral values inside ±2^52 print as integers (Redis takes the same fast
    // path; `%.17g` would give the same digits).
    if v > -4503599627370495.0 && v < 4503599627370496.0 && v != 0.0 && v == (v as i64) as f64 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
        return;
    }
    format_g(v, 17, out)
}

/// A fixed buffer for `{:e}` output, so formatting allocates nothing.
struct Stack {
    buf: [u8; 40],
    len: usize,
}

impl std::fmt::Write for Stack {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        let dst = self.buf.get_mut(self.len..end).ok_or(std::fmt::Error)?;
        dst.copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}

/// C's `%.<precision>g` for a finite or infinite double.
pub(crate) fn format_g(v: f64, precision: usize, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let p = precision.max(1);
    if v == 0.0 {
        out.extend_from_slice(if v.is_sign_negative() { b"-0" } else { b"0" });
        return;
    }
    // Rust's `{:e}` rounds the exact binary value correctly, like glibc's printf.
    let mut st = Stack {
        buf: [0; 40],
        len: 0,
    };
    let owned;
    let s: &str = if std::fmt::Write::write_fmt(&mut st, format_args!("{:.*e}", p - 1, v)).is_ok() {
        std::str::from_utf8(&st.buf[..st.len]).unwrap_or("0e0")
    } else {
        // Precision beyond the stack buffer (not used by Redis's formats).
        owned = format!("{:.*e}", p - 1, v);
        &owned
    };
    let (mantissa, exp) = match s.split_once('e') {
        Some(parts) => parts,
        None => (s, "0"),
    };
    let exp: i32 = exp.parse().unwrap_or(0);
    let (neg, mantissa) = match mantissa.strip_prefix('-') {
        Some(m) => (true, m),
        None => (false, mantissa),
    };
    let mut dbuf = [0u8; 40];
    let mut n = 0;
    for b in mantissa.bytes().filter(u8::is_ascii_digit) {
        if let Some(slot) = dbuf.get_mut(n) {
            *slot = b;
            n += 1;
        }
    }
    let digits = &dbuf[..n.max(1)];
    if neg {
        out.push(b'-');
    }
    if exp < -4 || exp >= p as i32 {
        out.push(digits[0]);
        let frac = trim_zeros(&digits[1..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
        out.push(b'e');
        out.push(if exp < 0 { b'-' } else { b'+' });
        let e = exp.unsigned_abs();
        if e < 10 {
            out.push(b'0');
        }
        out.extend_from_slice(e.to_string().as_bytes());
    } else if exp >= 0 {
        let int_len = exp as usize + 1;
        out.extend_from_slice(&digits[..int_len]);
        let frac = trim_zeros(&digits[int_len..]);
        if !frac.is_empty() {
            out.push(b'.');
            out.extend_from_slice(frac);
        }
    } else {
        out.extend_from_slice(b"0.");
        for _ in 0..(-exp - 1) {
            out.push(b'0');
        }
        out.extend_from_slice(trim_zeros(digits));
    }
}

fn trim_zeros(d: &[u8]) -> &[u8] {
    let end = d.iter().rposition(|&c| c != b'0').map_or(0, |i| i + 1);
    &d[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn g17(v: f64) -> String {
        let mut out = Vec::new();
        format_double(v, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn matches_printf_g17() {
        assert_eq!(g17(1.5), "1.5");
        assert_eq!(g17(-2.0), "-2");
        assert_eq!(g17(0.1), "0.10000000000000001");
        assert_eq!(g17(1e17), "1e+17");
        assert_eq!(g17(1e16), "10000000000000000");
        assert_eq!(g17(123456789.125), "123456789.125");
        assert_eq!(g17(0.0001), "0.0001");
        assert_eq!(g17(0.00001), "1.0000000000000001e-05");
        assert_eq!(g17(1e-300), "1e-300");
        assert_eq!(g17(f64::INFINITY), "inf");
        assert_eq!(g17(f64::NEG_INFINITY), "-inf");
        assert_eq!(g17(-0.0), "-0");
        assert_eq!(g17(2.675), "2.6749999999999998");
        assert_eq!(g17(4503599627370495.0), "4503599627370495");
        assert_eq!(g17(-4503599627370494.0), "-4503599627370494");
        assert_eq!(g17(4503599627370496.0), "4503599627370496");
        assert_eq!(g17(1e15), "1000000000000000");
        assert_eq!(g17(-7.0), "-7");
    }

    #[test]
    fn integer_fast_path_agrees_with_g17() {
        for v in [1.0, -1.0, 42.0, 1e10, -123456789.0, 4503599627370494.0] {
            let mut a = Vec::new();
            format_g(v, 17, &mut a);
            let mut b = Vec::new();
            format_double(v, &mut b);
            assert_eq!(a, b, "{v}");
        }
    }
}
