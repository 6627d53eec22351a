//! Redis's integer parsing, shared by the request parser and the server's commands.

/// Redis's `string2ll`: an optional `-`, then digits without leading zeros (`0`
/// alone is fine), no `+`, no spaces, within `i64`. Redis uses it for request
/// lengths and for every integer argument of a command.
///
/// ```
/// use ferrokv_resp::string2ll;
///
/// assert_eq!(string2ll(b"-42"), Some(-42));
/// assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
/// assert_eq!(string2ll(b"007"), None);
/// assert_eq!(string2ll(b"+1"), None);
/// assert_eq!(string2ll(b"-0"), None);
/// assert_eq!(string2ll(b"1.0"), None);
/// assert_eq!(string2ll(b"9223372036854775808"), None);
/// ```
#[inline]
pub fn string2ll(s: &[u8]) -> Option<i64> {
    if s.is_empty() || s.len() > 20 {
        return None;
    }
    if s == b"0" {
        return Some(0);
    }
    let (neg, digits) = match s[0] {
        b'-' => (true, &s[1..]),
        _ => (false, s),
    };
    match digits.first() {
        Some(b'1'..=b'9') => {}
        _ => return None,
    }
    let mut v: u64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else {
        i64::try_from(v).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string2ll_rules() {
        assert_eq!(string2ll(b"0"), Some(0));
        assert_eq!(string2ll(b"-0"), None);
        assert_eq!(string2ll(b"01"), None);
        assert_eq!(string2ll(b"+1"), None);
        assert_eq!(string2ll(b""), None);
        assert_eq!(string2ll(b"-"), None);
        assert_eq!(string2ll(b" 1"), None);
        assert_eq!(string2ll(b"1 "), None);
        assert_eq!(string2ll(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(string2ll(b"-9223372036854775809"), None);
        assert_eq!(string2ll(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(string2ll(b"9223372036854775808"), None);
        assert_eq!(string2ll(b"99999999999999999999"), None);
        assert_eq!(string2ll(b"100000000000000000000"), None);
    }
}
