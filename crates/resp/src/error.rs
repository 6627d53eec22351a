use thiserror::Error;

/// A request that breaks the protocol. `Display` is the exact text Redis 7.0 sends
/// (after `-ERR `) before it closes the connection.
///
/// ```
/// use ferrokv_resp::{ProtocolError, RequestParser};
/// let err = RequestParser::default().parse(b"*1\r\n:1\r\n").unwrap_err();
/// assert_eq!(err, ProtocolError::ExpectedDollar(b':'));
/// assert_eq!(format!("-ERR {err}\r\n"), "-ERR Protocol error: expected '$', got ':'\r\n");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ProtocolError {
    /// An inline request line longer than the inline limit (64 KiB in Redis).
    #[error("Protocol error: too big inline request")]
    TooBigInlineRequest,
    /// An inline request whose quotes are not balanced.
    #[error("Protocol error: unbalanced quotes in request")]
    UnbalancedQuotes,
    /// The `*<count>` line of a request is longer than the inline limit.
    #[error("Protocol error: too big mbulk count string")]
    TooBigMultibulkCount,
    /// The `*<count>` of a request is not a number or is out of range.
    #[error("Protocol error: invalid multibulk length")]
    InvalidMultibulkLength,
    /// More than 10 arguments before AUTH when a password is required.
    #[error("Protocol error: unauthenticated multibulk length")]
    UnauthenticatedMultibulkLength,
    /// The `$<len>` line of a bulk argument is longer than the inline limit.
    #[error("Protocol error: too big bulk count string")]
    TooBigBulkCount,
    /// An element of a request array is not a bulk string; carries the byte found.
    #[error("Protocol error: expected '$', got '{}'", char::from(*.0))]
    ExpectedDollar(u8),
    /// A bulk length that is not a number, negative, or above the bulk limit.
    #[error("Protocol error: invalid bulk length")]
    InvalidBulkLength,
    /// An argument longer than 16 KiB before AUTH when a password is required.
    #[error("Protocol error: unauthenticated bulk length")]
    UnauthenticatedBulkLength,
}

/// An error decoding a [`Frame`](crate::Frame). The decoder cannot resynchronise after
/// one: drop the connection.
///
/// ```
/// use ferrokv_resp::{Error, FrameDecoder};
/// assert_eq!(FrameDecoder::default().decode_slice(b"*?\r\n"), Err(Error::Streamed));
/// assert_eq!(Error::Streamed.to_string(), "Protocol error: streamed types are not supported");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Error {
    /// The first byte of a frame is not a RESP type marker.
    #[error("Protocol error: invalid type byte '{}'", char::from(*.0))]
    InvalidType(u8),
    /// A length or integer line is not a valid number.
    #[error("Protocol error: invalid {0}")]
    InvalidNumber(&'static str),
    /// A bulk-like payload longer than [`Limits::max_bulk_len`](crate::Limits).
    #[error("Protocol error: invalid bulk length")]
    BulkTooLong,
    /// An aggregate with more elements than [`Limits::max_aggregate_len`](crate::Limits).
    #[error("Protocol error: invalid multibulk length")]
    AggregateTooLong,
    /// Aggregates nested deeper than [`Limits::max_depth`](crate::Limits).
    #[error("Protocol error: nesting too deep")]
    TooDeep,
    /// A simple line (status, error, number) longer than [`Limits::max_inline_len`](crate::Limits).
    #[error("Protocol error: too big inline request")]
    LineTooLong,
    /// A payload not followed by CRLF, or a malformed line.
    #[error("Protocol error: expected CRLF")]
    ExpectedCrlf,
    /// A malformed value (boolean, double, verbatim string, ...).
    #[error("Protocol error: invalid {0}")]
    Invalid(&'static str),
    /// Streamed aggregates and strings (`*?`, `$?`) are not supported.
    #[error("Protocol error: streamed types are not supported")]
    Streamed,
    /// An I/O error from the tokio codec.
    #[error("I/O error: {0}")]
    Io(String),
}

#[cfg(feature = "tokio")]
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e.to_string())
    }
}
