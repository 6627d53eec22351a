//! Values, one module per data type. Each module owns its representation(s), the
//! rule that converts between compact and large encodings, its commands and its
//! OBJECT ENCODING names.

pub mod bitmap;
pub mod geo;
pub mod hash;
pub mod hll;
pub mod list;
pub mod packbuf;
pub mod set;
pub mod stream;
pub mod string;
pub mod zset;

#[cfg(test)]
mod packed_proptests;
#[cfg(test)]
mod random_pick_tests;

use crate::types::string::StrValue;

/// A value stored under a key. 24 bytes: small strings are inline, the rest boxed.
#[derive(Debug, Clone)]
pub enum Value {
    /// A string (any of its encodings).
    Str(StrValue),
    /// A list.
    List(Box<list::ListValue>),
    /// A hash (16 bytes: its compact form is one thin pointer, so it is not boxed).
    Hash(hash::HashValue),
    /// A set.
    Set(Box<set::SetValue>),
    /// A sorted set (16 bytes, not boxed, as hashes).
    ZSet(zset::ZSetValue),
    /// A stream.
    Stream(Box<stream::StreamValue>),
}

/// How an entry holds a value inline (see [`Value::inline_image`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum InlineKind {
    /// A string's bytes.
    Str = 1,
    /// A compact hash's packed buffer.
    Hash = 2,
    /// A compact zset's packed buffer.
    ZSet = 3,
}

impl InlineKind {
    /// The kind stored as `b` (an entry's kind byte, never 0 here).
    pub fn from_u8(b: u8) -> InlineKind {
        match b {
            1 => InlineKind::Str,
            2 => InlineKind::Hash,
            _ => InlineKind::ZSet,
        }
    }
}

/// The TYPE name of a value kind, and the class used by SCAN TYPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// `string`
    String,
    /// `list`
    List,
    /// `set`
    Set,
    /// `zset`
    ZSet,
    /// `hash`
    Hash,
    /// `stream`
    Stream,
}

impl ValueType {
    /// The name TYPE replies with.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::String => "string",
            ValueType::List => "list",
            ValueType::Set => "set",
            ValueType::ZSet => "zset",
            ValueType::Hash => "hash",
            ValueType::Stream => "stream",
        }
    }

    /// Parses a SCAN TYPE argument (case-insensitive).
    pub fn from_name(name: &[u8]) -> Option<ValueType> {
        let all = [
            ValueType::String,
            ValueType::List,
            ValueType::Set,
            ValueType::ZSet,
            ValueType::Hash,
            ValueType::Stream,
        ];
        all.into_iter()
            .find(|t| name.eq_ignore_ascii_case(t.name().as_bytes()))
    }
}

impl Value {
    /// Whether clients block waiting for a key of this type (lists, zsets,
    /// streams): creating one makes the key ready for them.
    #[inline]
    pub fn is_blockable(&self) -> bool {
        matches!(self, Value::List(_) | Value::ZSet(_) | Value::Stream(_))
    }

    /// Advances a collection's incremental resize by one bucket, on each command's
    /// lookup of the key, so that read-mostly collections finish their rehash.
    #[inline]
    pub fn rehash_step(&mut self) {
        match self {
            Value::Hash(h) => h.rehash_step(),
            Value::Set(s) => s.rehash_step(),
            _ => {}
        }
    }

    /// The bytes an entry can hold this value as, in place of the value (see
    /// `keyspace/node.rs`): a string set whole (not an integer, not grown in
    /// place), or a compact hash's or zset's packed buffer with its header.
    pub fn inline_image(&self) -> Option<(InlineKind, &[u8])> {
        match self {
            Value::Str(s) => match s {
                StrValue::Int(_) | StrValue::Raw(_) => None,
                _ => s.stored_bytes().map(|b| (InlineKind::Str, b)),
            },
            Value::Hash(h) => h.packed_image().map(|b| (InlineKind::Hash, b)),
            Value::ZSet(z) => z.packed_image().map(|b| (InlineKind::ZSet, b)),
            _ => None,
        }
    }

    /// The heap block a value with an inline image holds when it is not inline
    /// (what inlining saves); 0 for none.
    pub fn heap_block(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::Hash(h) => h.packed_image().map_or(0, |_| h.heap_size_sampled(0)),
            Value::ZSet(z) => z.packed_image().map_or(0, |_| z.heap_size()),
            _ => 0,
        }
    }

    /// A value reading an entry's inline bytes in place.
    ///
    /// # Safety
    /// `ptr` points at `len` bytes written from an [`inline_image`](Self::inline_image)
    /// of `kind` (8-aligned for packed kinds), which stay unchanged and allocated
    /// while the returned value is used; the value must never be dropped nor
    /// written (only read, or cloned into an owned value).
    pub unsafe fn view(kind: InlineKind, ptr: std::ptr::NonNull<u8>, len: usize) -> Value {
        // SAFETY: the caller's contract, passed on.
        unsafe {
            match kind {
                InlineKind::Str => Value::Str(StrValue::view(ptr, len)),
                InlineKind::Hash => Value::Hash(hash::HashValue::view(ptr)),
                InlineKind::ZSet => Value::ZSet(zset::ZSetValue::view(ptr)),
            }
        }
    }

    /// A placeholder that owns nothing (what is left in an entry whose value was
    /// moved out).
    pub fn empty() -> Value {
        Value::Str(StrValue::Int(0))
    }

    /// Heap bytes of the value, collections estimated from `samples` elements
    /// (MEMORY USAGE; every element when they are fewer).
    pub fn memory_usage(&self, samples: usize) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => std::mem::size_of::<list::ListValue>() + l.heap_size_sampled(samples),
            Value::Hash(h) => h.heap_size_sampled(samples),
            Value::Set(s) => std::mem::size_of::<set::SetValue>() + s.heap_size_sampled(samples),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => std::mem::size_of::<stream::StreamValue>() + s.heap_size(),
        }
    }

    /// The value's type.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Str(_) => ValueType::String,
            Value::List(_) => ValueType::List,
            Value::Hash(_) => ValueType::Hash,
            Value::Set(_) => ValueType::Set,
            Value::ZSet(_) => ValueType::ZSet,
            Value::Stream(_) => ValueType::Stream,
        }
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => s.encoding(),
            Value::List(v) => v.encoding(),
            Value::Hash(v) => v.encoding(),
            Value::Set(v) => v.encoding(),
            Value::ZSet(v) => v.encoding(),
            Value::Stream(v) => v.encoding(),
        }
    }

    /// Bytes owned on the heap beyond the entry (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(v) => v.heap_size() + std::mem::size_of_val(&**v),
            Value::Hash(v) => v.heap_size(),
            Value::Set(v) => v.heap_size() + std::mem::size_of_val(&**v),
            Value::ZSet(v) => v.heap_size(),
            Value::Stream(v) => v.heap_size() + std::mem::size_of_val(&**v),
        }
    }

    /// Roughly how many allocations freeing it takes (lazyfree's threshold).
    pub fn free_effort(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(v) => v.free_effort(),
            Value::Hash(v) => v.free_effort(),
            Value::Set(v) => v.free_effort(),
            Value::ZSet(v) => v.free_effort(),
            Value::Stream(v) => v.free_effort(),
        }
    }

    /// How many elements an active defrag of the value visits: a value with more
    /// than active-defrag-max-scan-fields is done apart from its key, in steps
    /// (Redis's defrag_later). Compact encodings are one allocation: 1.
    pub fn defrag_units(&self) -> usize {
        match self {
            Value::Str(_) => 1,
            Value::List(v) => v.node_count(),
            Value::Hash(v) => v.defrag_units(),
            Value::Set(v) => v.defrag_units(),
            Value::ZSet(v) => v.defrag_units(),
            Value::Stream(v) => v.node_count(),
        }
    }

    /// Active defrag of up to `units` of the value's elements from `from` (the
    /// value's own allocations with the first step): where to go on from, or
    /// `None` when the value is done.
    pub fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        match self {
            Value::Str(s) => {
                s.defrag(m);
                None
            }
            Value::List(v) => m.boxed_step(v, from, |v, m| v.defrag_from(m, from, units)),
            Value::Hash(v) => v.defrag_from(m, from, units),
            Value::Set(v) => m.boxed_step(v, from, |v, m| v.defrag_from(m, from, units)),
            Value::ZSet(v) => v.defrag_from(m, from, units),
            Value::Stream(v) => m.boxed_step(v, from, |v, m| v.defrag_from(m, from, units)),
        }
    }

    /// The string value, if this is one.
    pub fn as_str(&self) -> Option<&StrValue> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The hash, if this is one.
    pub fn as_hash(&self) -> Option<&hash::HashValue> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The hash, for writing, if this is one.
    pub fn as_hash_mut(&mut self) -> Option<&mut hash::HashValue> {
        match self {
            Value::Hash(h) => Some(h),
            _ => None,
        }
    }

    /// The sorted set, if this is one.
    pub fn as_zset(&self) -> Option<&zset::ZSetValue> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }

    /// The sorted set, for writing, if this is one.
    pub fn as_zset_mut(&mut self) -> Option<&mut zset::ZSetValue> {
        match self {
            Value::ZSet(z) => Some(z),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn value_is_24_bytes() {
        assert_eq!(std::mem::size_of::<super::Value>(), 24);
    }
}
