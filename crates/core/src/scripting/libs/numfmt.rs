//! The two pieces of C's number text handling the libraries depend on: printf's `%.Ng`
//! (cjson's output, by default `%.14g`) and glibc's `strtod` (cjson's input, which
//! accepts more than JSON: hex, inf, nan, a leading '+').

/// printf("%.{precision}g", x) as glibc prints it.
pub(crate) fn fmt_g(x: f64, precision: usize) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    let p = precision.max(1);
    // The exponent %g decides with is the one after rounding to p digits, which is
    // exactly what the %e rendering shows.
    let sci = format!("{:.*e}", p - 1, x);
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if exp < -4 || exp >= p as i32 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.unsigned_abs())
    } else {
        let decimals = (p as i32 - 1 - exp).max(0) as usize;
        strip_fraction_zeros(&format!("{:.*}", decimals, x)).to_string()
    }
}

/// %g drops trailing zeros of the fraction, and the point if nothing is left.
fn strip_fraction_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// glibc `strtod`: the value and how many bytes of `s` it used (0 when there is no
/// number at the start, as C reports with `endptr == nptr`).
pub(crate) fn strtod(s: &[u8]) -> (f64, usize) {
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
        i += 1;
    }
    let mut negative = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        negative = s[i] == b'-';
        i += 1;
    }
    let signed = |v: f64| if negative { -v } else { v };
    let rest = &s[i..];
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return (signed(f64::INFINITY), i + len);
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut len = 3;
        // "nan(chars)" is taken whole only when the parenthesis closes.
        if rest.get(3) == Some(&b'(') {
            let body = rest[4..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_');
            let n = body.count();
            if rest.get(4 + n) == Some(&b')') {
                len = 5 + n;
            }
        }
        return (signed(f64::NAN), i + len);
    }
    if rest.len() >= 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
        if let Some((v, len)) = parse_hex(&rest[2..]) {
            return (signed(v), i + 2 + len);
        }
        // "0x" with no hex digits: only the "0" is a number.
        return (signed(0.0), i + 1);
    }
    match decimal_len(rest) {
        0 => (0.0, 0),
        len => {
            let text = std::str::from_utf8(&rest[..len]).unwrap_or("0");
            let v: f64 = text.parse().unwrap_or(0.0);
            (signed(v), i + len)
        }
    }
}

fn starts_with_ignore_case(s: &[u8], word: &[u8]) -> bool {
    s.len() >= word.len() && s[..word.len()].eq_ignore_ascii_case(word)
}

/// Length of the longest prefix of the form `digits[.digits][e[+-]digits]` with at
/// least one mantissa digit; 0 if there is none.
fn decimal_len(s: &[u8]) -> usize {
    let digits = |from: usize| s[from..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = digits(0);
    let mut len = int;
    let mut frac = 0;
    if s.get(len) == Some(&b'.') {
        frac = digits(len + 1);
        if int + frac > 0 {
            len += 1 + frac;
        }
    }
    if int + frac == 0 {
        return 0;
    }
    if matches!(s.get(len), Some(b'e' | b'E')) {
        let mut j = len + 1;
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let exp = digits(j);
        if exp > 0 {
            len = j + exp;
        }
    }
    len
}

/// Hex mantissa `h[.h][p[+-]d]` after "0x"; `None` when there is no hex digit.
fn parse_hex(s: &[u8]) -> Option<(f64, usize)> {
    let mut mantissa: u64 = 0;
    let mut exp: i64 = 0;
    let mut sticky = false;
    let mut any = false;
    let mut i = 0;
    let mut seen_point = false;
    while i < s.len() {
        let c = s[i];
        if c == b'.' && !seen_point {
            seen_point = true;
            i += 1;
            continue;
        }
        let Some(d) = (c as char).to_digit(16) else {
            break;
        };
        any = true;
        if mantissa >> 56 == 0 {
            mantissa = mantissa << 4 | u64::from(d);
            if seen_point {
                exp -= 4;
            }
        } else {
            // Digits past 60 bits only matter as a rounding hint.
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
        i += 1;
    }
    if !any {
        return None;
    }
    if matches!(s.get(i), Some(b'p' | b'P')) {
        let mut j = i + 1;
        let neg = s.get(j) == Some(&b'-');
        if matches!(s.get(j), Some(b'+' | b'-')) {
            j += 1;
        }
        let n = s[j..].iter().take_while(|c| c.is_ascii_digit()).count();
        if n > 0 {
            let e: i64 = s[j..j + n]
                .iter()
                .fold(0i64, |a, c| (a * 10 + i64::from(c - b'0')).min(1 << 20));
            exp += if neg { -e } else { e };
            i = j + n;
        }
    }
    let m = (mantissa | u64::from(sticky)) as f64;
    Some((m * 2f64.powi(exp.clamp(-2000, 2000) as i32), i))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn g_format() {
        assert_eq!(fmt_g(0.1, 14), "0.1");
        assert_eq!(fmt_g(1e100, 14), "1e+100");
        assert_eq!(fmt_g(-0.0, 14), "-0");
        assert_eq!(fmt_g(123456789012345.0, 14), "1.2345678901234e+14");
        assert_eq!(fmt_g(1e14, 14), "1e+14");
        assert_eq!(fmt_g(99999999999999.0, 14), "99999999999999");
        assert_eq!(fmt_g(0.0001, 14), "0.0001");
        assert_eq!(fmt_g(0.00001, 14), "1e-05");
        assert_eq!(fmt_g(1.23456, 3), "1.23");
        assert_eq!(fmt_g(1.0 / 3.0, 14), "0.33333333333333");
    }

    #[test]
    fn strtod_prefixes() {
        assert_eq!(strtod(b"12abc"), (12.0, 2));
        assert_eq!(strtod(b"-1.5e3,"), (-1500.0, 6));
        assert_eq!(strtod(b"1e"), (1.0, 1));
        assert_eq!(strtod(b"0x10]"), (16.0, 4));
        assert_eq!(strtod(b"0x"), (0.0, 1));
        assert_eq!(strtod(b"-"), (0.0, 0));
        assert_eq!(strtod(b".5"), (0.5, 2));
        assert_eq!(strtod(b"5."), (5.0, 2));
        assert_eq!(strtod(b"Infinity"), (f64::INFINITY, 8));
        assert!(strtod(b"nan").0.is_nan());
    }
}
