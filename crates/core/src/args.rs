//! Argument parsing with Redis's exact number rules and error texts.
//!
//! A command parses its options with a [`Cursor`] over the arguments after the
//! command name, so the code reads like the syntax line of the Redis docs.

use crate::error::{CmdError, CmdResult};

/// Redis's `string2ll`: an optional `-`, digits without leading zeros (but `0`),
/// no spaces or `+`, within `i64` (the one copy lives in ferrokv-resp, which parses
/// request lengths with it).
pub use ferrokv_resp::string2ll as parse_i64;

/// Redis's `getDoubleFromObject` / `strtod` rules: no leading space, the whole
/// string consumed, no NaN, no overflow to infinity and no underflow to zero from a
/// non-zero literal; `inf` / `infinity` (any case, optional sign) are accepted.
pub fn parse_f64(s: &[u8]) -> Option<f64> {
    if s.is_empty() || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if text.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower.starts_with("0x") {
        return parse_hex_float(text);
    }
    // Rust accepts forms strtod rejects ("nan", "infinity" was handled) and the
    // reverse never happens for decimal input; reject anything but digits, '.', 'e'.
    if !body.bytes().all(|b| {
        b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'+' || b == b'-'
    }) {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    if v.is_nan() || v.is_infinite() {
        return None; // ERANGE overflow
    }
    if v == 0.0 && body.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
        // Underflow: strtod sets ERANGE unless the mantissa was zero.
        let mantissa = body.split(['e', 'E']).next().unwrap_or("");
        if mantissa.bytes().any(|b| (b'1'..=b'9').contains(&b)) {
            return None;
        }
    }
    Some(v)
}

/// strtod's hexadecimal form (`0x1.8p3`), which Redis accepts as a float.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (neg, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let rest = rest.get(2..)?;
    let (mant, exp) = match rest.find(['p', 'P']) {
        Some(i) => (&rest[..i], rest[i + 1..].parse::<i32>().ok()?),
        None => (rest, 0),
    };
    let (int_part, frac_part) = mant.split_once('.').unwrap_or((mant, ""));
    if int_part.is_empty() && frac_part.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int_part.chars() {
        v = v * 16.0 + f64::from(c.to_digit(16)?);
    }
    let mut scale = 1.0 / 16.0;
    for c in frac_part.chars() {
        v += f64::from(c.to_digit(16)?) * scale;
        scale /= 16.0;
    }
    let v = v * 2f64.powi(exp);
    if v.is_infinite() {
        return None;
    }
    Some(if neg { -v } else { v })
}

/// Most elements a random-pick reply with a negative count (SRANDMEMBER,
/// HRANDFIELD, ZRANDMEMBER) may hold. Repeats are allowed there, so the count alone
/// sizes the reply: Redis builds whatever is asked and runs out of memory on huge
/// counts; ferrokv refuses counts past this with "value is out of range" instead,
/// unless the client's class has an output-buffer hard limit: then, as in Redis,
/// the reply stops at the limit and the client is closed without it.
pub const MAX_RANDOM_PICKS: u64 = 1 << 24;

/// The error for a random-pick count past [`MAX_RANDOM_PICKS`].
pub fn too_many_picks() -> CmdError {
    CmdError::OutOfRange
}

/// Parses an integer argument with Redis's error (getLongLongFromObjectOrReply).
pub fn int_arg(s: &[u8]) -> CmdResult<i64> {
    parse_i64(s).ok_or(CmdError::NotInteger)
}

/// An integer argument within `min..=max` (Redis's getRangeLongFromObjectOrReply):
/// "not an integer" first, then "must between".
pub fn range_arg(s: &[u8], min: i64, max: i64) -> CmdResult<i64> {
    let v = int_arg(s)?;
    if v < min || v > max {
        return Err(CmdError::OutOfRangeBetween(min, max));
    }
    Ok(v)
}

/// An `int` argument (Redis's getIntFromObjectOrReply: a db index, ...).
pub fn i32_arg(s: &[u8]) -> CmdResult<i32> {
    range_arg(s, i32::MIN.into(), i32::MAX.into()).map(|v| v as i32)
}

/// A SCAN/HSCAN/SSCAN/ZSCAN cursor as Redis's parseScanCursorOrReply reads it
/// with strtoul: no leading space, an optional sign (a negative value wraps),
/// digits, nothing after them, no overflow. An empty string is cursor 0 (strtoul
/// reads nothing and stops at the end), a sign alone is not.
pub fn scan_cursor(s: &[u8]) -> CmdResult<u64> {
    let (neg, digits) = match s.first() {
        None => return Ok(0),
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(CmdError::InvalidCursor);
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .ok_or(CmdError::InvalidCursor)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses a float argument with Redis's error.
pub fn float_arg(s: &[u8]) -> CmdResult<f64> {
    parse_f64(s).ok_or(CmdError::NotFloat)
}

/// A cursor over a command's arguments (after the name).
#[derive(Debug, Clone)]
pub struct Cursor<'a, 'b> {
    args: &'b [&'a [u8]],
    pos: usize,
}

impl<'a, 'b> Cursor<'a, 'b> {
    /// A cursor over `args`.
    pub fn new(args: &'b [&'a [u8]]) -> Self {
        Cursor { args, pos: 0 }
    }

    /// Arguments not consumed yet.
    pub fn remaining(&self) -> usize {
        self.args.len() - self.pos
    }

    /// Whether everything was consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.args.len()
    }

    /// The next argument, if any.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Option<&'a [u8]> {
        let a = self.args.get(self.pos).copied();
        if a.is_some() {
            self.pos += 1;
        }
        a
    }

    /// The next argument without consuming it.
    pub fn peek(&self) -> Option<&'a [u8]> {
        self.args.get(self.pos).copied()
    }

    /// The next argument; a syntax error when missing.
    pub fn required(&mut self) -> CmdResult<&'a [u8]> {
        self.next().ok_or(CmdError::Syntax)
    }

    /// The next argument as an integer; syntax error when missing.
    pub fn int(&mut self) -> CmdResult<i64> {
        int_arg(self.required()?)
    }

    /// Consumes the next argument if it equals `kw` (ASCII case-insensitive).
    pub fn keyword(&mut self, kw: &str) -> bool {
        match self.peek() {
            Some(a) if a.eq_ignore_ascii_case(kw.as_bytes()) => {
                self.pos += 1;
                true
            }
            _ => false,
        }
    }
}

/// The argument up to its first NUL byte, as C's strcmp/strlen see it (Redis reads
/// some keywords and numbers that way: `BITOP and\0x` is AND).
pub fn c_str(arg: &[u8]) -> &[u8] {
    arg.iter().position(|&b| b == 0).map_or(arg, |n| &arg[..n])
}

/// [`is_kw`] as Redis's strcasecmp compares: up to the argument's first NUL.
pub fn is_c_kw(arg: &[u8], kw: &str) -> bool {
    is_kw(c_str(arg), kw)
}

/// ASCII case-insensitive comparison of an argument with a keyword.
pub fn is_kw(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_like_strtod() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1 "), None);
        assert_eq!(parse_f64(b"1e400"), None);
        assert_eq!(parse_f64(b"1e-400"), None);
        assert_eq!(parse_f64(b"0e-400"), Some(0.0));
        assert_eq!(parse_f64(b"0x10"), Some(16.0));
        assert_eq!(parse_f64(b".5"), Some(0.5));
        assert_eq!(parse_f64(b"5."), Some(5.0));
        assert_eq!(parse_f64(b""), None);
    }

    #[test]
    fn cursors_like_strtoul() {
        assert_eq!(scan_cursor(b""), Ok(0));
        assert_eq!(scan_cursor(b"0"), Ok(0));
        assert_eq!(scan_cursor(b"+7"), Ok(7));
        assert_eq!(scan_cursor(b"007"), Ok(7));
        assert_eq!(scan_cursor(b"-1"), Ok(u64::MAX));
        assert_eq!(scan_cursor(b"18446744073709551615"), Ok(u64::MAX));
        assert_eq!(
            scan_cursor(b"18446744073709551616"),
            Err(CmdError::InvalidCursor)
        );
        for bad in [&b"-"[..], b"+", b" 1", b"1 ", b"1.5", b"abc", b"0x10"] {
            assert_eq!(scan_cursor(bad), Err(CmdError::InvalidCursor), "{bad:?}");
        }
    }

    #[test]
    fn ranges_like_redis() {
        assert_eq!(i32_arg(b"2147483647"), Ok(i32::MAX));
        assert_eq!(
            i32_arg(b"2147483648"),
            Err(CmdError::OutOfRangeBetween(-2147483648, 2147483647))
        );
        assert_eq!(i32_arg(b"1.5"), Err(CmdError::NotInteger));
        assert_eq!(
            CmdError::OutOfRangeBetween(-9223372036854775807, 9223372036854775807).to_string(),
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        );
    }

    #[test]
    fn ints_like_string2ll() {
        assert_eq!(parse_i64(b"-1"), Some(-1));
        assert_eq!(parse_i64(b"007"), None);
        assert_eq!(parse_i64(b"1.0"), None);
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
    }
}
