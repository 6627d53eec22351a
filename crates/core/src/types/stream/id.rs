//! Stream IDs: `<ms>-<seq>`, two unsigned 64-bit parts, ordered as one 128-bit
//! number, and the ways Redis 7.0 parses them from arguments.

use crate::error::{CmdError, CmdResult};

/// A stream entry ID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`.
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest ID, what `+` means.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// An ID from its parts.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// Whether this is `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::ZERO
    }

    /// The next ID (streamIncrID); `None` past the largest.
    pub fn next(self) -> Option<StreamId> {
        if self.seq == u64::MAX {
            if self.ms == u64::MAX {
                return None;
            }
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            Some(StreamId::new(self.ms, self.seq + 1))
        }
    }

    /// The previous ID (streamDecrID); `None` before `0-0`.
    pub fn prev(self) -> Option<StreamId> {
        if self.seq == 0 {
            if self.ms == 0 {
                return None;
            }
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            Some(StreamId::new(self.ms, self.seq - 1))
        }
    }

    /// `<ms>-<seq>`, as every reply writes an ID.
    pub fn to_bytes(self) -> Vec<u8> {
        self.text().as_bytes().to_vec()
    }

    /// `<ms>-<seq>` without allocating (replies on hot paths).
    pub fn text(self) -> IdText {
        let mut t = IdText {
            buf: [0; 41],
            len: 0,
        };
        let mut b = itoa::Buffer::new();
        for part in [b.format(self.ms).as_bytes(), b"-"] {
            t.buf[t.len..t.len + part.len()].copy_from_slice(part);
            t.len += part.len();
        }
        let seq = b.format(self.seq).as_bytes();
        t.buf[t.len..t.len + seq.len()].copy_from_slice(seq);
        t.len += seq.len();
        t
    }

    /// The 128-bit big-endian form Redis uses as radix-tree key (RDB, DUMP).
    pub fn encode(self) -> [u8; 16] {
        let mut k = [0u8; 16];
        k[..8].copy_from_slice(&self.ms.to_be_bytes());
        k[8..].copy_from_slice(&self.seq.to_be_bytes());
        k
    }

    /// The inverse of [`encode`](Self::encode); `None` unless 16 bytes.
    pub fn decode(b: &[u8]) -> Option<StreamId> {
        if b.len() != 16 {
            return None;
        }
        let mut ms = [0u8; 8];
        let mut seq = [0u8; 8];
        ms.copy_from_slice(&b[..8]);
        seq.copy_from_slice(&b[8..]);
        Some(StreamId::new(
            u64::from_be_bytes(ms),
            u64::from_be_bytes(seq),
        ))
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Redis's string2ull: string2ll when it applies (negative refused), else
/// strtoull's rules (leading spaces, a sign, leading zeros; a `-` negates
/// modulo 2^64), the whole string consumed, no overflow.
fn string2ull(s: &[u8]) -> Option<u64> {
    if let Some(v) = crate::args::parse_i64(s) {
        return u64::try_from(v).ok();
    }
    let mut i = 0;
    while i < s.len() && matches!(s[i], b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r') {
        i += 1;
    }
    let mut neg = false;
    if i < s.len() && (s[i] == b'+' || s[i] == b'-') {
        neg = s[i] == b'-';
        i += 1;
    }
    let digits = &s[i..];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v.checked_mul(10)?.checked_add(u64::from(d - b'0'))?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// How an ID argument is read (the parameters of streamGenericParseIDOrReply).
#[derive(Debug, Clone, Copy)]
pub struct IdRules {
    /// The sequence of an ID given as `<ms>` alone.
    pub missing_seq: u64,
    /// `-` and `+` are refused.
    pub strict: bool,
    /// `<ms>-*` is accepted (XADD).
    pub seq_star: bool,
}

impl IdRules {
    /// Explicit IDs only (XDEL, XACK, XCLAIM, ...): `<ms>` means `<ms>-0`.
    pub const STRICT: IdRules = IdRules {
        missing_seq: 0,
        strict: true,
        seq_star: false,
    };
    /// `-` and `+` accepted (XGROUP SETID, range bounds).
    pub const LOOSE: IdRules = IdRules {
        missing_seq: 0,
        strict: false,
        seq_star: false,
    };
}

/// An ID parsed from an argument, and whether its sequence was given (false only
/// for `<ms>-*`).
pub fn parse_id_with(arg: &[u8], rules: IdRules) -> Option<(StreamId, bool)> {
    if arg.len() > 127 {
        return None;
    }
    // Redis copies the argument into a C string: a NUL ends it.
    let s = crate::args::c_str(arg);
    if rules.strict && (s == b"-" || s == b"+") {
        return None;
    }
    if s == b"-" {
        return Some((StreamId::ZERO, true));
    }
    if s == b"+" {
        return Some((StreamId::MAX, true));
    }
    let (ms_part, seq_part) = match s.iter().position(|&b| b == b'-') {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let ms = string2ull(ms_part)?;
    match seq_part {
        Some(b"*") if rules.seq_star => Some((StreamId::new(ms, 0), false)),
        Some(seq) => Some((StreamId::new(ms, string2ull(seq)?), true)),
        None => Some((StreamId::new(ms, rules.missing_seq), true)),
    }
}

/// An explicit ID argument (streamParseStrictIDOrReply with missing seq 0).
pub fn strict_id(arg: &[u8]) -> CmdResult<StreamId> {
    parse_id_with(arg, IdRules::STRICT)
        .map(|(id, _)| id)
        .ok_or(CmdError::InvalidStreamId)
}

/// An ID argument where `-` and `+` are allowed (streamParseIDOrReply).
pub fn loose_id(arg: &[u8], missing_seq: u64) -> CmdResult<StreamId> {
    parse_id_with(
        arg,
        IdRules {
            missing_seq,
            strict: false,
            seq_star: false,
        },
    )
    .map(|(id, _)| id)
    .ok_or(CmdError::InvalidStreamId)
}

/// A range bound (streamParseIntervalIDOrReply): `(` makes it exclusive (and
/// the ID after it strict). Returns the ID and whether it is exclusive.
pub fn interval_id(arg: &[u8], missing_seq: u64) -> CmdResult<(StreamId, bool)> {
    if arg.len() > 1 && arg[0] == b'(' {
        let rules = IdRules {
            missing_seq,
            strict: true,
            seq_star: false,
        };
        let (id, _) = parse_id_with(&arg[1..], rules).ok_or(CmdError::InvalidStreamId)?;
        Ok((id, true))
    } else {
        Ok((loose_id(arg, missing_seq)?, false))
    }
}

/// A range's start bound: exclusive starts move to the next ID.
pub fn range_start(arg: &[u8]) -> CmdResult<StreamId> {
    let (id, ex) = interval_id(arg, 0)?;
    if ex {
        return id.next().ok_or(CmdError::InvalidStartId);
    }
    Ok(id)
}

/// A range's end bound: incomplete IDs end at the largest sequence, exclusive
/// ends move to the previous ID.
pub fn range_end(arg: &[u8]) -> CmdResult<StreamId> {
    let (id, ex) = interval_id(arg, u64::MAX)?;
    if ex {
        return id.prev().ok_or(CmdError::InvalidEndId);
    }
    Ok(id)
}

/// An ID's text on the stack (at most 20 + 1 + 20 bytes).
pub struct IdText {
    buf: [u8; 41],
    len: usize,
}

impl IdText {
    /// The text.
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Option<StreamId> {
        parse_id_with(s.as_bytes(), IdRules::LOOSE).map(|x| x.0)
    }

    #[test]
    fn parses_like_redis() {
        assert_eq!(p("1-2"), Some(StreamId::new(1, 2)));
        assert_eq!(p("5"), Some(StreamId::new(5, 0)));
        assert_eq!(p("-"), Some(StreamId::ZERO));
        assert_eq!(p("+"), Some(StreamId::MAX));
        assert_eq!(
            p("18446744073709551615-18446744073709551615"),
            Some(StreamId::MAX)
        );
        assert_eq!(p("18446744073709551616"), None);
        assert_eq!(p("-1"), None);
        assert_eq!(p("1-"), None);
        assert_eq!(p("a-1"), None);
        assert_eq!(p("007-1"), Some(StreamId::new(7, 1)));
        assert_eq!(p(" 7"), Some(StreamId::new(7, 0)));
        assert_eq!(p("1-*"), None);
        assert_eq!(strict_id(b"+"), Err(CmdError::InvalidStreamId));
        let star = IdRules {
            seq_star: true,
            ..IdRules::STRICT
        };
        assert_eq!(
            parse_id_with(b"3-*", star),
            Some((StreamId::new(3, 0), false))
        );
        assert_eq!(range_end(b"(0-0"), Err(CmdError::InvalidEndId));
        assert_eq!(range_start(b"(1-1"), Ok(StreamId::new(1, 2)));
        assert_eq!(range_end(b"5"), Ok(StreamId::new(5, u64::MAX)));
    }

    #[test]
    fn next_prev_wrap() {
        assert_eq!(StreamId::MAX.next(), None);
        assert_eq!(StreamId::ZERO.prev(), None);
        assert_eq!(StreamId::new(1, u64::MAX).next(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::new(2, 0).prev(), Some(StreamId::new(1, u64::MAX)));
    }
}
