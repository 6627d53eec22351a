//! Typed RDB errors, each with the byte offset where reading stopped.

/// What went wrong while reading an RDB stream or a DUMP payload.
#[derive(Debug, thiserror::Error)]
pub enum ErrorKind {
    /// The input ended in the middle of an item.
    #[error("unexpected end of input")]
    Truncated,
    /// The underlying reader failed.
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    /// The file does not start with `REDIS`.
    #[error("wrong signature: not an RDB file")]
    BadMagic,
    /// The version is not one Redis 7.0 loads (1 to 10), or not a number.
    #[error("can't handle RDB format version {0}")]
    Version(u32),
    /// A value type byte that no Redis version defines.
    #[error("unknown RDB value type {0}")]
    UnknownType(u8),
    /// Something Redis 7.0 may write (or a later Redis writes) that ferrokv does not
    /// load: modules, streams, functions, 7.2's listpack sets.
    #[error("{what} (key '{key}') is not supported by ferrokv")]
    Unsupported {
        /// The type or opcode, e.g. "stream (RDB type 15)".
        what: String,
        /// The key it belongs to, lossily decoded; empty for opcodes outside keys.
        key: String,
    },
    /// An encoded-string prefix other than int8/16/32 and LZF.
    #[error("unknown string encoding {0}")]
    StringEncoding(u64),
    /// LZF data that does not decompress to the announced length.
    #[error("invalid LZF compressed string")]
    Lzf,
    /// A length that cannot be right (bigger than the input could hold).
    #[error("length {0} is out of range")]
    Length(u64),
    /// A malformed embedded blob (listpack, ziplist, zipmap, intset, quicklist).
    #[error("corrupt {what}: {why}")]
    Corrupt {
        /// The structure, e.g. "listpack".
        what: &'static str,
        /// What is wrong with it.
        why: &'static str,
    },
    /// A score that is not a number.
    #[error("invalid double value")]
    BadDouble,
    /// A NaN zset score, which Redis refuses too.
    #[error("zset with NaN score")]
    NanScore,
    /// Two equal members in a set, fields in a hash, or members in a zset.
    #[error("duplicate {0} detected")]
    Duplicate(&'static str),
    /// The CRC64 footer does not match the content.
    #[error("wrong RDB checksum: expected {expected:016x}, got {actual:016x}")]
    Checksum {
        /// The checksum stored in the file.
        expected: u64,
        /// The checksum of what was read.
        actual: u64,
    },
    /// A collection with no elements (Redis skips such keys in files and
    /// refuses them in RESTORE).
    #[error("empty {0}")]
    Empty(&'static str),
}

/// An error while reading RDB data: what, and where (bytes from the start).
#[derive(Debug, thiserror::Error)]
#[error("{kind} at offset {offset}")]
pub struct RdbError {
    /// Byte offset in the input where the problem was found.
    pub offset: u64,
    /// What went wrong.
    pub kind: ErrorKind,
}

impl RdbError {
    pub(crate) fn new(offset: u64, kind: ErrorKind) -> RdbError {
        RdbError { offset, kind }
    }
}

pub(crate) fn corrupt(what: &'static str, why: &'static str) -> ErrorKind {
    ErrorKind::Corrupt { what, why }
}
