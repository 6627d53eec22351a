/// Bounds that keep a peer from making the decoder allocate or recurse without end.
///
/// `max_depth` also bounds the recursion of building, comparing, encoding and dropping
/// a decoded [`Frame`](crate::Frame): keep it in the hundreds, not millions.
///
/// ```
/// use ferrokv_resp::{Error, FrameDecoder, Limits};
/// let dec = FrameDecoder::new(Limits { max_bulk_len: 4, ..Limits::default() });
/// assert_eq!(dec.decode_slice(b"$5\r\nhello\r\n"), Err(Error::BulkTooLong));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string, blob error or verbatim string (Redis: `proto-max-bulk-len`, 512 MiB).
    pub max_bulk_len: usize,
    /// Most elements in one aggregate (array, set, push, map pairs count double).
    pub max_aggregate_len: usize,
    /// Deepest nesting of aggregates.
    pub max_depth: usize,
    /// Longest simple line (simple string, error, number, length header).
    pub max_inline_len: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bulk_len: 512 * 1024 * 1024,
            max_aggregate_len: i32::MAX as usize,
            max_depth: 128,
            max_inline_len: 64 * 1024,
        }
    }
}
