//! Score and lex range arguments (`(1.5`, `-inf`, `[a`, `(b`, `-`, `+`), parsed as
//! Redis's zslParseRange / zslParseLexRange do.

/// A score interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ScoreRange {
    /// Lower bound.
    pub min: f64,
    /// Whether the lower bound is excluded.
    pub minex: bool,
    /// Upper bound.
    pub max: f64,
    /// Whether the upper bound is excluded.
    pub maxex: bool,
}

/// C's `strtod` as zslParseRange uses it: leading white space skipped, the whole
/// rest consumed, overflow to ±inf allowed, NaN refused. An empty string is 0.
pub fn strtod_range(s: &[u8]) -> Option<f64> {
    let start = s
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .unwrap_or(s.len());
    let s = &s[start..];
    if s.is_empty() {
        // strtod consumes nothing, and the end pointer is at the terminating NUL.
        return if start == 0 { Some(0.0) } else { None };
    }
    let text = std::str::from_utf8(s).ok()?;
    let body = text.strip_prefix(['+', '-']).unwrap_or(text);
    let neg = text.starts_with('-');
    let lower = body.to_ascii_lowercase();
    if lower == "inf" || lower == "infinity" {
        return Some(if neg {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    if lower.starts_with("0x") {
        // Hex floats: same rules as a score argument (overflow aside).
        return crate::args::parse_f64(s);
    }
    if body.is_empty()
        || !body.bytes().all(|b| {
            b.is_ascii_digit() || b == b'.' || b == b'e' || b == b'E' || b == b'+' || b == b'-'
        })
    {
        return None;
    }
    let v: f64 = text.parse().ok()?;
    (!v.is_nan()).then_some(v)
}

impl ScoreRange {
    /// Parses a `min max` pair; `None` is Redis's "min or max is not a float".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<ScoreRange> {
        fn item(a: &[u8]) -> Option<(f64, bool)> {
            match a.split_first() {
                Some((b'(', rest)) => Some((strtod_range(rest)?, true)),
                _ => Some((strtod_range(a)?, false)),
            }
        }
        let (min, minex) = item(min)?;
        let (max, maxex) = item(max)?;
        Some(ScoreRange {
            min,
            minex,
            max,
            maxex,
        })
    }

    /// Whether `s` lies below the interval (a prefix of the order).
    pub fn below_min(&self, s: f64) -> bool {
        if self.minex {
            s <= self.min
        } else {
            s < self.min
        }
    }

    /// Whether `s` lies above the interval.
    pub fn above_max(&self, s: f64) -> bool {
        if self.maxex {
            s >= self.max
        } else {
            s > self.max
        }
    }

    /// Whether `s` is inside.
    pub fn contains(&self, s: f64) -> bool {
        !self.below_min(s) && !self.above_max(s)
    }
}

/// One end of a lex range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LexBound {
    /// `-`: below everything.
    NegInf,
    /// `+`: above everything.
    PosInf,
    /// `[x` (false) or `(x` (true).
    Value(Vec<u8>, bool),
}

impl LexBound {
    fn parse(a: &[u8]) -> Option<LexBound> {
        match a.split_first() {
            Some((b'+', [])) => Some(LexBound::PosInf),
            Some((b'-', [])) => Some(LexBound::NegInf),
            Some((b'(', rest)) => Some(LexBound::Value(rest.to_vec(), true)),
            Some((b'[', rest)) => Some(LexBound::Value(rest.to_vec(), false)),
            _ => None,
        }
    }
}

/// A lex interval.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

impl LexRange {
    /// Parses a `min max` pair; `None` is Redis's "min or max not valid string range
    /// item".
    pub fn parse(min: &[u8], max: &[u8]) -> Option<LexRange> {
        Some(LexRange {
            min: LexBound::parse(min)?,
            max: LexBound::parse(max)?,
        })
    }

    /// Whether `m` lies below the interval.
    pub fn below_min(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::NegInf => false,
            LexBound::PosInf => true,
            LexBound::Value(v, ex) => {
                if *ex {
                    m <= v.as_slice()
                } else {
                    m < v.as_slice()
                }
            }
        }
    }

    /// Whether `m` lies above the interval.
    pub fn above_max(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::NegInf => true,
            LexBound::PosInf => false,
            LexBound::Value(v, ex) => {
                if *ex {
                    m >= v.as_slice()
                } else {
                    m > v.as_slice()
                }
            }
        }
    }

    /// Whether `m` is inside.
    pub fn contains(&self, m: &[u8]) -> bool {
        !self.below_min(m) && !self.above_max(m)
    }

    /// Whether no string can be inside (Redis's sdscmplex test: `-` and `+` count
    /// as exclusive ends).
    pub fn is_empty_range(&self) -> bool {
        use std::cmp::Ordering;
        fn key(b: &LexBound) -> (u8, &[u8], bool) {
            match b {
                LexBound::NegInf => (0, &b""[..], true),
                LexBound::Value(v, ex) => (1, v.as_slice(), *ex),
                LexBound::PosInf => (2, &b""[..], true),
            }
        }
        let (a, b) = (key(&self.min), key(&self.max));
        match (a.0, a.1).cmp(&(b.0, b.1)) {
            Ordering::Greater => true,
            Ordering::Equal => a.2 || b.2,
            Ordering::Less => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_ranges() {
        let r = ScoreRange::parse(b"(1", b"+inf").unwrap();
        assert!(r.minex && !r.maxex && r.max == f64::INFINITY);
        assert!(!r.contains(1.0) && r.contains(1.5));
        assert_eq!(strtod_range(b" 1"), Some(1.0));
        assert_eq!(strtod_range(b""), Some(0.0));
        assert_eq!(strtod_range(b"1e400"), Some(f64::INFINITY));
        assert_eq!(strtod_range(b"nan"), None);
        assert_eq!(strtod_range(b"1 "), None);
        assert_eq!(strtod_range(b"x"), None);
        assert!(ScoreRange::parse(b"(", b"[1").is_none());
    }

    #[test]
    fn lex_ranges() {
        let r = LexRange::parse(b"[b", b"(d").unwrap();
        assert!(r.contains(b"b") && r.contains(b"c") && !r.contains(b"d"));
        assert!(LexRange::parse(b"b", b"+").is_none());
        assert!(LexRange::parse(b"-x", b"+").is_none());
        let all = LexRange::parse(b"-", b"+").unwrap();
        assert!(all.contains(b"") && all.contains(b"\xff"));
    }
}
