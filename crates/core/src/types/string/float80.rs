//! INCRBYFLOAT arithmetic in x87 80-bit extended precision.
//!
//! Redis computes INCRBYFLOAT / HINCRBYFLOAT in C `long double` (80-bit on x86-64),
//! parses with `strtold` and prints with `%.17Lf`, trimming trailing zeros. The
//! stored result is that text, so to store the same bytes we must round exactly as
//! the x87 format does: 64-bit significand, round half to even. Rust has no such
//! type, so this module does it with exact rational arithmetic on big integers
//! (`num-bigint`): parse to the nearest 80-bit value, add exactly, round once, and
//! format the exact binary value to 17 decimals.

use num_bigint::BigUint;

const MANT_BITS: u64 = 64;
/// Smallest exponent of `mant * 2^exp` (denormals included).
const MIN_EXP: i64 = -16445;
/// Largest exponent for a 64-bit significand.
const MAX_EXP: i64 = 16320;

/// An 80-bit extended value as `(-1)^neg * mant * 2^exp`, or an infinity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum F80 {
    /// A finite value.
    Finite {
        /// Sign.
        neg: bool,
        /// Significand (at most 64 bits).
        mant: u64,
        /// Binary exponent.
        exp: i64,
    },
    /// An infinity.
    Inf {
        /// Sign.
        neg: bool,
    },
}

fn pow10(n: u64) -> BigUint {
    BigUint::from(10u32).pow(n as u32)
}

/// Rounds `num / den` (both > 0 unless num == 0) to the nearest 80-bit value.
fn round(neg: bool, num: &BigUint, den: &BigUint) -> F80 {
    if num.bits() == 0 {
        return F80::Finite {
            neg,
            mant: 0,
            exp: 0,
        };
    }
    let mut e = num.bits() as i64 - den.bits() as i64 - MANT_BITS as i64;
    let quotient = |e: i64| -> (BigUint, BigUint, BigUint) {
        // value * 2^-e = num * 2^-e / den
        let (n, d) = if e >= 0 {
            (num.clone(), den << (e as u64))
        } else {
            (num << ((-e) as u64), den.clone())
        };
        let q = &n / &d;
        let r = &n - &q * &d;
        (q, r, d)
    };
    let (mut q, mut r, mut d) = quotient(e);
    while q.bits() > MANT_BITS {
        e += 1;
        (q, r, d) = quotient(e);
    }
    while q.bits() < MANT_BITS && e > MIN_EXP {
        e -= 1;
        (q, r, d) = quotient(e);
    }
    if e < MIN_EXP {
        e = MIN_EXP;
        (q, r, d) = quotient(e);
    }
    let twice = &r << 1u32;
    let odd = q.bit(0);
    if twice > d || (twice == d && odd) {
        q += 1u32;
        if q.bits() > MANT_BITS {
            q >>= 1u32;
            e += 1;
        }
    }
    if e > MAX_EXP {
        return F80::Inf { neg };
    }
    let mant = q.iter_u64_digits().next().unwrap_or(0);
    F80::Finite { neg, mant, exp: e }
}

/// Parses like glibc's `strtold` under Redis's `string2ld` rules: decimal or `inf`,
/// the whole input, no leading space; overflow and underflow to zero are refused.
pub fn parse(s: &[u8]) -> Option<F80> {
    if s.is_empty() || s.len() >= 5 * 1024 || s[0].is_ascii_whitespace() {
        return None;
    }
    let text = std::str::from_utf8(s).ok()?;
    let (neg, body) = match text.as_bytes()[0] {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(F80::Inf { neg });
    }
    let (mantissa, exp10) = match lower.find('e') {
        Some(i) => {
            let ex = &lower[i + 1..];
            let ex_ok = !ex.is_empty()
                && ex
                    .trim_start_matches(['+', '-'])
                    .bytes()
                    .all(|b| b.is_ascii_digit())
                && ex.trim_start_matches(['+', '-']).len()
                    == ex.len() - usize::from(ex.starts_with(['+', '-']));
            if !ex_ok {
                return None;
            }
            let v: i64 = ex.parse().unwrap_or(if ex.starts_with('-') {
                i64::MIN / 2
            } else {
                i64::MAX / 2
            });
            (&lower[..i], v)
        }
        None => (lower.as_str(), 0),
    };
    let (int_part, frac_part) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    if (int_part.is_empty() && frac_part.is_empty())
        || !int_part.bytes().all(|b| b.is_ascii_digit())
        || !frac_part.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let digits = format!("{int_part}{frac_part}");
    let digits = digits.trim_start_matches('0');
    let scale = exp10.saturating_sub(frac_part.len() as i64);
    if digits.is_empty() {
        return Some(F80::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    // Beyond these the result is surely infinite or zero (and strtold says ERANGE).
    if scale + digits.len() as i64 > 4940 {
        return None;
    }
    if scale + (digits.len() as i64) < -4960 {
        return None;
    }
    let d: BigUint = digits.parse().ok()?;
    let v = if scale >= 0 {
        round(neg, &(d * pow10(scale as u64)), &BigUint::from(1u32))
    } else {
        round(neg, &d, &pow10((-scale) as u64))
    };
    match v {
        F80::Inf { .. } => None,
        F80::Finite { mant: 0, .. } => None,
        f => Some(f),
    }
}

/// From an integer (INCRBYFLOAT on an int-encoded value).
pub fn from_i64(v: i64) -> F80 {
    round(
        v < 0,
        &BigUint::from(v.unsigned_abs()),
        &BigUint::from(1u32),
    )
}

/// `a + b`, rounded once. Infinities propagate (inf + -inf is NaN: `None`).
pub fn add(a: &F80, b: &F80) -> Option<F80> {
    match (a, b) {
        (F80::Inf { neg: x }, F80::Inf { neg: y }) if x != y => None,
        (F80::Inf { neg }, _) | (_, F80::Inf { neg }) => Some(F80::Inf { neg: *neg }),
        (
            F80::Finite {
                neg: n1,
                mant: m1,
                exp: e1,
            },
            F80::Finite {
                neg: n2,
                mant: m2,
                exp: e2,
            },
        ) => {
            let base = (*e1).min(*e2);
            let x = BigUint::from(*m1) << ((e1 - base) as u64);
            let y = BigUint::from(*m2) << ((e2 - base) as u64);
            let (neg, mag) = if n1 == n2 {
                (*n1, x + y)
            } else if x >= y {
                (*n1, x - y)
            } else {
                (*n2, y - x)
            };
            if mag.bits() == 0 {
                // x + (-x) is +0 in round-to-nearest.
                return Some(F80::Finite {
                    neg: false,
                    mant: 0,
                    exp: 0,
                });
            }
            let (num, den) = if base >= 0 {
                (mag << (base as u64), BigUint::from(1u32))
            } else {
                (mag, BigUint::from(1u32) << ((-base) as u64))
            };
            Some(round(neg, &num, &den))
        }
    }
}

/// Whether the value is infinite.
pub fn is_inf(v: &F80) -> bool {
    matches!(v, F80::Inf { .. })
}

/// `%.17Lf` with trailing zeros (and a bare `.`) removed, `-0` written `0`: Redis's
/// human-friendly long double format.
pub fn format_human(v: &F80) -> String {
    let (neg, mant, exp) = match v {
        F80::Inf { neg } => return if *neg { "-inf".into() } else { "inf".into() },
        F80::Finite { neg, mant, exp } => (*neg, *mant, *exp),
    };
    let scale = pow10(17);
    let m = BigUint::from(mant) * &scale;
    let x = if exp >= 0 {
        m << (exp as u64)
    } else {
        let d = BigUint::from(1u32) << ((-exp) as u64);
        let q = &m / &d;
        let r = &m - &q * &d;
        let twice = r << 1u32;
        if twice > d || (twice == d && q.bit(0)) {
            q + 1u32
        } else {
            q
        }
    };
    let int_part = &x / &scale;
    let frac = (&x % &scale).to_string();
    let mut out = String::new();
    if neg {
        out.push('-');
    }
    out.push_str(&int_part.to_string());
    let frac = format!("{frac:0>17}");
    let trimmed = frac.trim_end_matches('0');
    if !trimmed.is_empty() {
        out.push('.');
        out.push_str(trimmed);
    }
    if out == "-0" {
        out = "0".into();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incr(a: &str, b: &str) -> String {
        let x = parse(a.as_bytes()).unwrap_or(F80::Finite {
            neg: false,
            mant: 0,
            exp: 0,
        });
        let y = parse(b.as_bytes()).unwrap();
        format_human(&add(&x, &y).unwrap())
    }

    #[test]
    fn matches_redis_long_double() {
        assert_eq!(incr("10.50", "0.1"), "10.6");
        assert_eq!(incr("0", "0.1"), "0.1");
        assert_eq!(incr("5.0e3", "2.0e2"), "5200");
        assert_eq!(incr("3", "-3"), "0");
        assert_eq!(incr("1", "1e-30"), "1");
        assert_eq!(incr("0", "1.5"), "1.5");
        assert_eq!(incr("0", "-0.25"), "-0.25");
        assert_eq!(incr("0", "1e20"), "100000000000000000000");
        assert!(parse(b"1e99999").is_none());
        assert!(parse(b"1e-99999").is_none());
        assert!(parse(b"abc").is_none());
        assert!(parse(b" 1").is_none());
        assert!(parse(b"nan").is_none());
    }
}
