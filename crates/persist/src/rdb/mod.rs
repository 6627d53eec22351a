//! RDB version 10 as Redis 7.0.15 reads and writes it.
//!
//! The reader loads every type and encoding Redis 7.0 can load (including the old
//! ziplist, zipmap and linked-list encodings of earlier versions); the writer uses
//! the encodings Redis 7.0 writes, chosen by the caller's thresholds.

mod blobs;
pub mod check;
mod error;
mod lzf;
mod reader;
mod stream;
mod writer;

pub use error::{ErrorKind, RdbError};

/// Frees the calling thread's compression table (see `lzf.rs`): for a thread
/// that has finished writing an RDB.
pub fn release_compression_table() {
    lzf::release_table();
}
pub(crate) use reader::read_value;
pub use reader::{read_functions, read_rdb, RdbFile, RdbReader, Record};
pub use writer::{encode_entry, encode_function, encode_value, RdbWriter, WriteOptions};

use crc::{Crc, Table, CRC_64_REDIS};

/// The RDB version Redis 7.0 writes (and the newest it reads).
pub const RDB_VERSION: u16 = 10;

/// The CRC implementation: slice-by-16 tables (like Redis's crcspeed), several
/// times faster than byte-at-a-time; every byte saved or loaded goes through it.
pub(crate) type CrcTable = Table<16>;

/// Redis's CRC-64 (Jones polynomial, reflected), used for the file footer and DUMP.
pub(crate) static CRC64: Crc<u64, CrcTable> = Crc::<u64, CrcTable>::new(&CRC_64_REDIS);

/// CRC-64 of `data` as Redis computes it.
pub fn crc64(data: &[u8]) -> u64 {
    CRC64.checksum(data)
}

/// Value type bytes (rdb.h).
pub(crate) mod ty {
    pub const STRING: u8 = 0;
    pub const LIST: u8 = 1;
    pub const SET: u8 = 2;
    pub const ZSET: u8 = 3;
    pub const HASH: u8 = 4;
    pub const ZSET_2: u8 = 5;
    pub const MODULE_PRE_GA: u8 = 6;
    pub const MODULE_2: u8 = 7;
    pub const HASH_ZIPMAP: u8 = 9;
    pub const LIST_ZIPLIST: u8 = 10;
    pub const SET_INTSET: u8 = 11;
    pub const ZSET_ZIPLIST: u8 = 12;
    pub const HASH_ZIPLIST: u8 = 13;
    pub const LIST_QUICKLIST: u8 = 14;
    pub const STREAM_LISTPACKS: u8 = 15;
    pub const HASH_LISTPACK: u8 = 16;
    pub const ZSET_LISTPACK: u8 = 17;
    pub const LIST_QUICKLIST_2: u8 = 18;
    pub const STREAM_LISTPACKS_2: u8 = 19;
    pub const SET_LISTPACK: u8 = 20;
    pub const STREAM_LISTPACKS_3: u8 = 21;
}

/// Opcodes (rdb.h).
pub(crate) mod op {
    pub const FUNCTION2: u8 = 245;
    pub const FUNCTION: u8 = 246;
    pub const MODULE_AUX: u8 = 247;
    pub const IDLE: u8 = 248;
    pub const FREQ: u8 = 249;
    pub const AUX: u8 = 250;
    pub const RESIZEDB: u8 = 251;
    pub const EXPIRETIME_MS: u8 = 252;
    pub const EXPIRETIME: u8 = 253;
    pub const SELECTDB: u8 = 254;
    pub const EOF: u8 = 255;
}

/// Quicklist node containers in `LIST_QUICKLIST_2`.
pub(crate) const QUICKLIST_NODE_PLAIN: u64 = 1;
pub(crate) const QUICKLIST_NODE_PACKED: u64 = 2;

/// A value, independent of how core or the file encodes it, except that a
/// hash or zset knows whether it is compact (listpack or ziplist): Redis 7.0
/// saves each value in its current encoding and, loading a compact hash or
/// zset, keeps it compact unless it has more entries than the reader's
/// `*-max-listpack-entries` (element lengths are not re-checked), while a
/// hashtable or skiplist is re-encoded by both thresholds. Equality ignores
/// that distinction.
#[derive(Debug, Clone)]
pub enum RdbValue {
    /// A string.
    String(Vec<u8>),
    /// List elements, head to tail.
    List(Vec<Vec<u8>>),
    /// Set members, in no particular order.
    Set(Vec<Vec<u8>>),
    /// Members and scores. The reader returns them in ascending (score, member)
    /// order for every encoding; the writer accepts any order.
    ZSet(Vec<(Vec<u8>, f64)>),
    /// Field-value pairs, in no particular order.
    Hash(Vec<(Vec<u8>, Vec<u8>)>),
    /// A zset in a listpack (or ziplist): saved as one whatever the writer's
    /// thresholds, loaded as one unless it has too many members.
    ZSetListpack(Vec<(Vec<u8>, f64)>),
    /// A hash in a listpack (or ziplist): saved as one whatever the writer's
    /// thresholds, loaded as one unless it has too many fields.
    HashListpack(Vec<(Vec<u8>, Vec<u8>)>),
    /// A stream: nodes, counters and consumer groups (saved as
    /// STREAM_LISTPACKS_2 with Redis's listpacks).
    Stream(Box<ferrokv_core::types::stream::StreamValue>),
}

impl PartialEq for RdbValue {
    fn eq(&self, other: &RdbValue) -> bool {
        use RdbValue::*;
        match (self, other) {
            (String(a), String(b)) => a == b,
            (List(a), List(b)) | (Set(a), Set(b)) => a == b,
            (ZSet(a) | ZSetListpack(a), ZSet(b) | ZSetListpack(b)) => a == b,
            (Hash(a) | HashListpack(a), Hash(b) | HashListpack(b)) => a == b,
            (Stream(a), Stream(b)) => a == b,
            _ => false,
        }
    }
}

impl RdbValue {
    /// The name TYPE replies for this value.
    pub fn type_name(&self) -> &'static str {
        match self {
            RdbValue::String(_) => "string",
            RdbValue::List(_) => "list",
            RdbValue::Set(_) => "set",
            RdbValue::ZSet(_) | RdbValue::ZSetListpack(_) => "zset",
            RdbValue::Hash(_) | RdbValue::HashListpack(_) => "hash",
            RdbValue::Stream(_) => "stream",
        }
    }

    /// True for a collection with no elements (never stored by Redis).
    pub fn is_empty_collection(&self) -> bool {
        match self {
            RdbValue::String(_) => false,
            RdbValue::List(v) | RdbValue::Set(v) => v.is_empty(),
            RdbValue::ZSet(v) | RdbValue::ZSetListpack(v) => v.is_empty(),
            RdbValue::Hash(v) | RdbValue::HashListpack(v) => v.is_empty(),
            // Redis keeps (and saves) empty streams.
            RdbValue::Stream(_) => false,
        }
    }
}

/// Hash field-value pairs.
pub(crate) type Pairs = Vec<(Vec<u8>, Vec<u8>)>;

/// Per-key metadata stored before a key in the file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyMeta {
    /// Absolute expire time in Unix milliseconds.
    pub expire_ms: Option<i64>,
    /// LRU idle time in seconds (written when maxmemory-policy is an LRU one).
    pub idle_secs: Option<u64>,
    /// LFU logarithmic frequency counter (written under an LFU policy).
    pub freq: Option<u8>,
}

/// One key of an RDB file.
#[derive(Debug, Clone, PartialEq)]
pub struct RdbEntry {
    /// Database number (from the last SELECTDB).
    pub db: u64,
    /// The key.
    pub key: Vec<u8>,
    /// The value.
    pub value: RdbValue,
    /// Expire, idle time, frequency.
    pub meta: KeyMeta,
}

/// `s` as an i64 when it is exactly the canonical decimal form of one (what
/// Redis's string2ll / lpStringToInt64 accept: no sign but '-', no leading zeros,
/// no "-0").
pub(crate) fn strict_i64(s: &[u8]) -> Option<i64> {
    // Called for every string saved: most are not numbers and fail on the first
    // byte, without UTF-8 checks or a round trip through text.
    let (neg, digits) = match s {
        [b'-', rest @ ..] => (true, rest),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    if digits[0] == b'0' && (digits.len() > 1 || neg) {
        return None;
    }
    // Accumulated as a negative number so that i64::MIN fits.
    let mut v: i64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_sub(i64::from(c - b'0'))?;
    }
    if neg {
        Some(v)
    } else {
        v.checked_neg()
    }
}

#[cfg(test)]
mod strict_i64_tests {
    use super::strict_i64;

    #[test]
    fn only_canonical_decimal_integers() {
        for (s, want) in [
            ("0", Some(0)),
            ("7", Some(7)),
            ("-7", Some(-7)),
            ("9223372036854775807", Some(i64::MAX)),
            ("-9223372036854775808", Some(i64::MIN)),
            ("9223372036854775808", None),
            ("-9223372036854775809", None),
            ("-0", None),
            ("007", None),
            ("+7", None),
            ("", None),
            ("-", None),
            (" 7", None),
            ("7 ", None),
            ("1e3", None),
            ("value-1", None),
            ("12345678901234567890", None),
        ] {
            assert_eq!(strict_i64(s.as_bytes()), want, "{s:?}");
        }
    }
}

/// Formats an i64 in decimal.
pub(crate) fn i64_bytes(v: i64) -> Vec<u8> {
    itoa::Buffer::new().format(v).as_bytes().to_vec()
}

/// Parses a score as strtod does for the forms Redis writes ("inf", "-inf",
/// "%.17g" output, integers).
pub(crate) fn parse_score(s: &[u8]) -> Result<f64, ErrorKind> {
    let text = std::str::from_utf8(s).map_err(|_| ErrorKind::BadDouble)?;
    let v: f64 = text.trim().parse().map_err(|_| ErrorKind::BadDouble)?;
    if v.is_nan() {
        return Err(ErrorKind::NanScore);
    }
    Ok(v)
}

/// Sorts zset pairs by (score, member) as Redis orders them.
pub(crate) fn sort_zset(pairs: &mut [(Vec<u8>, f64)]) {
    pairs.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
}

/// Name of a module type from its 64-bit id (9 chars of 6 bits, then a 10-bit
/// encoding version), as moduleTypeNameByID builds it.
pub(crate) fn module_type_name(id: u64) -> String {
    const CSET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut name = [0u8; 9];
    let mut v = id >> 10;
    for slot in name.iter_mut().rev() {
        *slot = CSET[(v & 63) as usize];
        v >>= 6;
    }
    String::from_utf8_lossy(&name).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis_test_vector() {
        // From Redis's crc64.c self test.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
    }

    #[test]
    fn strict_i64_is_canonical_only() {
        assert_eq!(strict_i64(b"0"), Some(0));
        assert_eq!(strict_i64(b"-12"), Some(-12));
        assert_eq!(strict_i64(b"9223372036854775807"), Some(i64::MAX));
        for bad in [
            &b"-0"[..],
            b"01",
            b"+1",
            b" 1",
            b"",
            b"1a",
            b"9223372036854775808",
        ] {
            assert_eq!(strict_i64(bad), None, "{bad:?}");
        }
    }
}
