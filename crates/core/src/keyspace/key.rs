//! Keys: small keys live inside the entry, longer ones in one exact-size allocation.
//! The key also carries the entry's 24-bit LRU/LFU field, so that an entry is 64
//! bytes (one jemalloc size class) with no side table.

/// A key and its 24-bit access-clock field (LRU clock or LFU counter+time).
#[derive(Clone)]
pub enum Key {
    /// Keys of up to [`Key::INLINE`] bytes.
    Inline {
        /// Access clock.
        lru: [u8; 3],
        /// Bytes used in `buf`.
        len: u8,
        /// The key bytes.
        buf: [u8; Key::INLINE],
    },
    /// Longer keys.
    Heap {
        /// Access clock.
        lru: [u8; 3],
        /// The key bytes.
        data: Box<[u8]>,
    },
}

impl Key {
    /// Longest key stored inline.
    pub const INLINE: usize = 19;

    /// A key with access clock `lru`.
    pub fn new(bytes: &[u8], lru: u32) -> Key {
        let lru = pack24(lru);
        if bytes.len() <= Self::INLINE {
            let mut buf = [0u8; Self::INLINE];
            buf[..bytes.len()].copy_from_slice(bytes);
            Key::Inline {
                lru,
                len: bytes.len() as u8,
                buf,
            }
        } else {
            Key::Heap {
                lru,
                data: bytes.into(),
            }
        }
    }

    /// The key bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, buf, .. } => &buf[..*len as usize],
            Key::Heap { data, .. } => data,
        }
    }

    /// The 24-bit access clock.
    #[inline]
    pub fn lru(&self) -> u32 {
        match self {
            Key::Inline { lru, .. } | Key::Heap { lru, .. } => unpack24(*lru),
        }
    }

    /// Sets the 24-bit access clock.
    #[inline]
    pub fn set_lru(&mut self, v: u32) {
        match self {
            Key::Inline { lru, .. } | Key::Heap { lru, .. } => *lru = pack24(v),
        }
    }

    /// Heap bytes owned beyond the entry itself (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap { data, .. } => data.len(),
        }
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key({:?})", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[inline]
fn pack24(v: u32) -> [u8; 3] {
    let b = v.to_le_bytes();
    [b[0], b[1], b[2]]
}

#[inline]
fn unpack24(b: [u8; 3]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], 0])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_and_round_trip() {
        assert_eq!(std::mem::size_of::<Key>(), 24);
        for len in [0, 1, 19, 20, 100] {
            let bytes = vec![b'k'; len];
            let mut k = Key::new(&bytes, 0xABCDEF);
            assert_eq!(k.as_bytes(), &bytes[..]);
            assert_eq!(k.lru(), 0xABCDEF);
            k.set_lru(7);
            assert_eq!(k.lru(), 7);
        }
    }
}
