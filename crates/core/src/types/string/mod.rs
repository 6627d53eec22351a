//! Strings: the value representation (OBJECT ENCODING int / embstr / raw) and the
//! string commands.

pub mod commands;
pub mod float80;

use crate::args::parse_i64;

/// Longest string kept inside the entry.
pub const INLINE_STR: usize = 22;
/// Longest string Redis stores as `embstr`.
const EMBSTR_MAX: usize = 44;

/// A string value. Redis's three encodings map onto four representations:
/// `int` is [`StrValue::Int`]; `embstr`/`raw` (chosen by length, as Redis does when a
/// value is set whole) are [`StrValue::Small`] and [`StrValue::Boxed`]; values changed
/// in place (APPEND, SETRANGE) are [`StrValue::Raw`], always reported `raw` and with
/// spare capacity so repeated appends are amortised O(1).
pub enum StrValue {
    /// An integer that round-trips to the same text.
    Int(i64),
    /// Up to [`INLINE_STR`] bytes, inline.
    Small {
        /// Bytes used.
        len: u8,
        /// The bytes.
        buf: [u8; INLINE_STR],
    },
    /// A string set whole, exact-size allocation.
    Boxed(Box<[u8]>),
    /// A string modified in place.
    Raw(Box<Vec<u8>>),
    /// A string set whole, read in place in its entry (see
    /// [`Value::view`](crate::types::Value::view)): reported as `Boxed` is.
    View(StrView),
}

/// Bytes borrowed from an entry (see [`StrValue::View`]).
pub struct StrView {
    ptr: std::ptr::NonNull<u8>,
    len: usize,
}

// SAFETY: a view only reads bytes that nothing writes while it is used (the
// contract of `StrValue::view`).
unsafe impl Send for StrView {}
// SAFETY: as above.
unsafe impl Sync for StrView {}

impl StrView {
    #[inline]
    fn bytes(&self) -> &[u8] {
        // SAFETY: `StrValue::view`'s contract: `len` readable bytes.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl Clone for StrValue {
    /// A view's clone is an owned copy of its bytes.
    fn clone(&self) -> Self {
        match self {
            StrValue::Int(i) => StrValue::Int(*i),
            StrValue::Small { len, buf } => StrValue::Small {
                len: *len,
                buf: *buf,
            },
            StrValue::Boxed(b) => StrValue::Boxed(b.clone()),
            StrValue::Raw(v) => StrValue::Raw(v.clone()),
            StrValue::View(v) => StrValue::from_bytes_no_int(v.bytes()),
        }
    }
}

impl std::fmt::Debug for StrValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut b = itoa::Buffer::new();
        write!(
            f,
            "{}({:?})",
            self.encoding(),
            String::from_utf8_lossy(self.bytes(&mut b))
        )
    }
}

impl StrValue {
    /// Active defrag: moves the string's buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        match self {
            StrValue::Boxed(b) => m.boxed_slice(b),
            StrValue::Raw(v) => {
                m.boxed(v);
                m.vec(v);
            }
            StrValue::Int(_) | StrValue::Small { .. } | StrValue::View(_) => {}
        }
    }

    /// A string reading `len` bytes in place.
    ///
    /// # Safety
    /// The bytes stay unchanged and allocated while the value is used; the value
    /// is only read (or cloned into an owned one).
    pub unsafe fn view(ptr: std::ptr::NonNull<u8>, len: usize) -> StrValue {
        StrValue::View(StrView { ptr, len })
    }

    /// The representation Redis's `tryObjectEncoding` would pick for `bytes`.
    pub fn from_bytes(bytes: &[u8]) -> StrValue {
        if bytes.len() <= 20 {
            if let Some(i) = parse_i64(bytes) {
                return StrValue::Int(i);
            }
        }
        Self::from_bytes_no_int(bytes)
    }

    /// Like [`from_bytes`](Self::from_bytes) but never int-encoded.
    pub fn from_bytes_no_int(bytes: &[u8]) -> StrValue {
        if bytes.len() <= INLINE_STR {
            let mut buf = [0u8; INLINE_STR];
            buf[..bytes.len()].copy_from_slice(bytes);
            StrValue::Small {
                len: bytes.len() as u8,
                buf,
            }
        } else {
            StrValue::Boxed(bytes.into())
        }
    }

    /// The bytes; int values are formatted into `scratch`.
    #[inline]
    pub fn bytes<'a>(&'a self, scratch: &'a mut itoa::Buffer) -> &'a [u8] {
        match self {
            StrValue::Int(i) => scratch.format(*i).as_bytes(),
            StrValue::Small { len, buf } => &buf[..*len as usize],
            StrValue::Boxed(b) => b,
            StrValue::Raw(v) => v,
            StrValue::View(v) => v.bytes(),
        }
    }

    /// The bytes of a string that is not int-encoded (Redis's sdsEncodedObject);
    /// `None` for an integer.
    #[inline]
    pub fn stored_bytes(&self) -> Option<&[u8]> {
        match self {
            StrValue::Int(_) => None,
            StrValue::Small { len, buf } => Some(&buf[..*len as usize]),
            StrValue::Boxed(b) => Some(b),
            StrValue::Raw(v) => Some(v),
            StrValue::View(v) => Some(v.bytes()),
        }
    }

    /// An owned copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut b = itoa::Buffer::new();
        self.bytes(&mut b).to_vec()
    }

    /// Length in bytes (STRLEN).
    pub fn len(&self) -> usize {
        match self {
            StrValue::Int(i) => itoa::Buffer::new().format(*i).len(),
            StrValue::Small { len, .. } => *len as usize,
            StrValue::Boxed(b) => b.len(),
            StrValue::Raw(v) => v.len(),
            StrValue::View(v) => v.len,
        }
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The integer value, as INCR reads it.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            StrValue::Int(i) => Some(*i),
            other => {
                let mut b = itoa::Buffer::new();
                parse_i64(other.bytes(&mut b))
            }
        }
    }

    /// OBJECT ENCODING.
    pub fn encoding(&self) -> &'static str {
        match self {
            StrValue::Int(_) => "int",
            StrValue::Small { .. } => "embstr",
            StrValue::Boxed(b) if b.len() <= EMBSTR_MAX => "embstr",
            StrValue::View(v) if v.len <= EMBSTR_MAX => "embstr",
            StrValue::Boxed(_) | StrValue::View(_) | StrValue::Raw(_) => "raw",
        }
    }

    /// Converts to the in-place form and returns its buffer (APPEND, SETRANGE).
    pub fn make_raw(&mut self) -> &mut Vec<u8> {
        if !matches!(self, StrValue::Raw(_)) {
            let v = self.to_vec();
            *self = StrValue::Raw(Box::new(v));
        }
        match self {
            StrValue::Raw(v) => v,
            _ => unreachable!("converted above"),
        }
    }

    /// Heap bytes owned (for memory accounting).
    pub fn heap_size(&self) -> usize {
        match self {
            StrValue::Int(_) | StrValue::Small { .. } | StrValue::View(_) => 0,
            StrValue::Boxed(b) => b.len(),
            StrValue::Raw(v) => v.capacity() + std::mem::size_of::<Vec<u8>>(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings_follow_redis() {
        assert_eq!(StrValue::from_bytes(b"123").encoding(), "int");
        assert_eq!(StrValue::from_bytes(b"0123").encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 44]).encoding(), "embstr");
        assert_eq!(StrValue::from_bytes(&[b'a'; 45]).encoding(), "raw");
        assert_eq!(
            StrValue::from_bytes(b"-9223372036854775808").encoding(),
            "int"
        );
        let mut s = StrValue::from_bytes(b"x");
        s.make_raw().push(b'y');
        assert_eq!(s.encoding(), "raw");
        assert_eq!(s.to_vec(), b"xy");
        assert_eq!(std::mem::size_of::<StrValue>(), 24);
    }
}
