//! The hash type. (Skeleton: the representation and commands land with the data-type
//! issue; nothing here is registered until then.)

pub mod commands;

/// A hash value.
#[derive(Debug, Clone, Default)]
pub struct HashValue {
    _private: (),
}

impl HashValue {
    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        "hash"
    }

    /// Bytes owned on the heap (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        0
    }

    /// Roughly how many allocations freeing it takes (for lazyfree).
    pub fn free_effort(&self) -> usize {
        1
    }
}
