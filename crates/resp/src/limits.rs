/// Bounds that keep a peer from making the decoder allocate or recurse without end.
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
