//! A byte string that keeps up to 22 bytes inline (24 bytes in all), so that the
//! short fields and members that dominate real hashes and sets cost no allocation of
//! their own beyond the table entry that holds them.

const INLINE: usize = 22;

/// An owned byte string, inline when short.
#[derive(Clone)]
pub struct SmallBytes(Repr);

#[derive(Clone)]
enum Repr {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl SmallBytes {
    /// Copies `b`.
    pub fn new(b: &[u8]) -> SmallBytes {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            SmallBytes(Repr::Inline {
                len: b.len() as u8,
                buf,
            })
        } else {
            SmallBytes(Repr::Heap(b.into()))
        }
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline { len, buf } => &buf[..usize::from(*len)],
            Repr::Heap(b) => b,
        }
    }

    /// Bytes allocated on the heap for this string (0 when inline).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            Repr::Inline { .. } => 0,
            Repr::Heap(b) => b.len(),
        }
    }

    /// Whether the bytes live in their own allocation.
    pub fn is_heap(&self) -> bool {
        matches!(self.0, Repr::Heap(_))
    }
}

impl std::fmt::Debug for SmallBytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_bytes_is_24_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<SmallBytes>(), 24);
        for n in [0, 1, 21, 22, 23, 100] {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = SmallBytes::new(&v);
            assert_eq!(s.as_bytes(), &v[..]);
            assert_eq!(s.is_heap(), n > 22);
        }
    }
}
