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
    /// Active defrag: moves the heap bytes, if any.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        if let Repr::Heap(b) = &mut self.0 {
            m.boxed_slice(b);
        }
    }
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

const PAIR_INLINE: usize = 37;

/// A field and its value in one place: inline when their lengths add up to at most
/// 37 bytes (the whole pair is 40 bytes, so a table entry holding it is one 48-byte
/// allocation), else both in one heap buffer. Redis spends three allocations (entry,
/// field, value) per hashtable field.
#[derive(Clone)]
pub struct Pair(PairRepr);

#[derive(Clone)]
enum PairRepr {
    Inline {
        flen: u8,
        vlen: u8,
        buf: [u8; PAIR_INLINE],
    },
    Heap {
        flen: usize,
        data: Box<[u8]>,
    },
}

impl Pair {
    /// Active defrag: moves the heap bytes, if any.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        if let PairRepr::Heap { data, .. } = &mut self.0 {
            m.boxed_slice(data);
        }
    }
}

impl Pair {
    /// Copies `field` and `value`.
    pub fn new(field: &[u8], value: &[u8]) -> Pair {
        if field.len() + value.len() <= PAIR_INLINE {
            let mut buf = [0u8; PAIR_INLINE];
            buf[..field.len()].copy_from_slice(field);
            buf[field.len()..field.len() + value.len()].copy_from_slice(value);
            Pair(PairRepr::Inline {
                flen: field.len() as u8,
                vlen: value.len() as u8,
                buf,
            })
        } else {
            let mut data = Vec::with_capacity(field.len() + value.len());
            data.extend_from_slice(field);
            data.extend_from_slice(value);
            Pair(PairRepr::Heap {
                flen: field.len(),
                data: data.into_boxed_slice(),
            })
        }
    }

    /// The field.
    #[inline]
    pub fn field(&self) -> &[u8] {
        match &self.0 {
            PairRepr::Inline { flen, buf, .. } => &buf[..usize::from(*flen)],
            PairRepr::Heap { flen, data } => &data[..*flen],
        }
    }

    /// The value.
    #[inline]
    pub fn value(&self) -> &[u8] {
        match &self.0 {
            PairRepr::Inline { flen, vlen, buf } => {
                &buf[usize::from(*flen)..usize::from(*flen) + usize::from(*vlen)]
            }
            PairRepr::Heap { flen, data } => &data[*flen..],
        }
    }

    /// Replaces the value.
    pub fn set_value(&mut self, value: &[u8]) {
        let field = self.field().to_vec();
        *self = Pair::new(&field, value);
    }

    /// Bytes allocated on the heap for this pair (0 when inline).
    pub fn heap_size(&self) -> usize {
        match &self.0 {
            PairRepr::Inline { .. } => 0,
            PairRepr::Heap { data, .. } => data.len(),
        }
    }

    /// Whether the pair has its own allocation.
    pub fn is_heap(&self) -> bool {
        matches!(self.0, PairRepr::Heap { .. })
    }
}

impl std::fmt::Debug for Pair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:?}={:?}",
            String::from_utf8_lossy(self.field()),
            String::from_utf8_lossy(self.value())
        )
    }
}

#[cfg(test)]
mod pair_tests {
    use super::*;

    #[test]
    fn pair_is_40_bytes_and_round_trips() {
        assert_eq!(std::mem::size_of::<Pair>(), 40);
        for (f, v) in [(0, 0), (1, 36), (37, 0), (20, 18), (0, 100), (300, 2)] {
            let field: Vec<u8> = (0..f).map(|i| i as u8).collect();
            let value: Vec<u8> = (0..v).map(|i| (i * 7) as u8).collect();
            let mut p = Pair::new(&field, &value);
            assert_eq!(p.field(), &field[..]);
            assert_eq!(p.value(), &value[..]);
            assert_eq!(p.is_heap(), f + v > 37);
            p.set_value(b"x");
            assert_eq!(p.field(), &field[..]);
            assert_eq!(p.value(), b"x");
        }
    }
}
