//! The set type: "intset" (sorted packed integers) while every member is an integer
//! and the count is at most set-max-intset-entries, else "hashtable" (the chained
//! table shared with hashes). Redis 7.0 has no listpack sets; conversion is one-way.

pub mod commands;
pub mod intset;
pub mod packed;

use ferrokv_resp::ReplyBuf;
use rand::Rng;

use crate::args::parse_i64;
use crate::config::{Config, P};
use crate::types::hash::small::SmallBytes;
use crate::types::hash::table::Table;
use intset::Intset;
use packed::Packed;

/// A set value.
#[derive(Debug, Clone)]
pub enum SetValue {
    /// Small, all integers.
    Intset(Intset),
    /// Few short strings, packed (reported as `hashtable`, see [`packed`]).
    Packed(Packed),
    /// Anything else.
    /// (Boxed: the table with its resize state is larger than the compact forms.)
    Table(Box<Table<SmallBytes>>),
}

impl Default for SetValue {
    fn default() -> Self {
        SetValue::Intset(Intset::default())
    }
}

/// One member as stored: an integer of an intset or the bytes of a table entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Member<'a> {
    /// An intset member.
    Int(i64),
    /// A table member.
    Bytes(&'a [u8]),
}

impl Member<'_> {
    /// The member's bytes (integers in decimal).
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Member::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
            Member::Bytes(b) => b.to_vec(),
        }
    }

    /// Writes the member as a bulk string.
    pub fn reply(self, out: &mut ReplyBuf) {
        match self {
            Member::Int(i) => out.bulk(itoa::Buffer::new().format(i).as_bytes()),
            Member::Bytes(b) => out.bulk(b),
        }
    }

    /// Calls `f` with the member's bytes.
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Member::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
            Member::Bytes(b) => f(b),
        }
    }
}

/// set-max-intset-entries.
/// set-max-intset-entries, capped at 2^30 entries as Redis 7.0 caps it (intset
/// internals).
pub fn max_intset(config: &Config) -> usize {
    config.int(P::SetMaxIntsetEntries).clamp(0, 1 << 30) as usize
}

impl SetValue {
    /// An empty set (intset encoding, as Redis's createIntsetObject).
    pub fn new() -> SetValue {
        SetValue::default()
    }

    /// Builds a set from members (RDB load, RESTORE), choosing the encoding by the
    /// thresholds. Duplicates are kept once.
    pub fn from_members(members: Vec<Vec<u8>>, config: &Config) -> SetValue {
        let max = max_intset(config);
        let mut s = if members.len() <= max && members.iter().all(|m| parse_i64(m).is_some()) {
            SetValue::new()
        } else if members.len() <= packed::MAX_ENTRIES
            && members.iter().all(|m| Packed::fits(m.len()))
        {
            SetValue::Packed(Packed::default())
        } else {
            SetValue::Table(Box::new(Table::with_capacity(members.len())))
        };
        for m in &members {
            s.insert(m, max);
        }
        s
    }

    /// Calls `f` with every member.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for m in self.iter() {
            m.with_bytes(&mut f);
        }
    }

    /// The members, in encoding order (ascending for an intset).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Member<'_>> + '_> {
        match self {
            SetValue::Intset(s) => Box::new(s.iter().map(Member::Int)),
            SetValue::Packed(p) => Box::new(p.iter().map(Member::Bytes)),
            SetValue::Table(t) => Box::new(t.iter().map(|k| Member::Bytes(k.as_bytes()))),
        }
    }

    /// The members' bytes, in encoding order.
    pub fn members(&self) -> Vec<Vec<u8>> {
        self.iter().map(Member::to_vec).collect()
    }

    /// The units of an active defrag: 1 for the compact forms, buckets for a
    /// table.
    pub fn defrag_units(&self) -> usize {
        match self {
            SetValue::Intset(_) | SetValue::Packed(_) => 1,
            SetValue::Table(t) => t.bucket_count(),
        }
    }

    /// Active defrag step (see [`crate::types::Value::defrag_from`]).
    pub fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        match self {
            SetValue::Intset(s) => {
                s.defrag(m);
                None
            }
            SetValue::Packed(p) => {
                p.defrag(m);
                None
            }
            SetValue::Table(t) => m.boxed_step(t, from, |t, m| t.defrag_from(m, from, units)),
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.len(),
            SetValue::Packed(p) => p.len(),
            SetValue::Table(t) => t.len(),
        }
    }

    /// Whether there is no member.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether `m` is a member.
    pub fn contains(&self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(m).is_some_and(|i| s.contains(i)),
            SetValue::Packed(p) => p.contains(m),
            SetValue::Table(t) => t.contains(m),
        }
    }

    /// Moves one bucket of a table resize in progress (see
    /// [`Table::rehash_step`](crate::types::hash::table::Table::rehash_step)).
    #[inline]
    pub fn rehash_step(&mut self) {
        if let SetValue::Table(t) = self {
            t.rehash_step();
        }
    }

    /// Adds `m`; returns whether it is new. Converts to a table when `m` is not an
    /// integer or the intset would exceed `max_intset` members (setTypeAdd).
    pub fn insert(&mut self, m: &[u8], max_intset: usize) -> bool {
        match self {
            SetValue::Intset(s) => match parse_i64(m) {
                Some(i) => {
                    let new = s.insert(i);
                    if new && s.len() > max_intset {
                        self.convert();
                    }
                    new
                }
                None => {
                    self.convert_for(m.len());
                    self.insert(m, max_intset)
                }
            },
            SetValue::Packed(p) => {
                if p.contains(m) {
                    return false;
                }
                if p.len() < packed::MAX_ENTRIES && Packed::fits(m.len()) {
                    p.push(m);
                } else {
                    self.convert();
                    if let SetValue::Table(t) = self {
                        t.insert_new(SmallBytes::new(m));
                    }
                }
                true
            }
            SetValue::Table(t) => t.insert_if_absent(m, || SmallBytes::new(m)),
        }
    }

    /// Removes `m`; returns whether it was present.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self {
            SetValue::Intset(s) => parse_i64(m).is_some_and(|i| s.remove(i)),
            SetValue::Packed(p) => p.remove(m),
            SetValue::Table(t) => t.remove(m).is_some(),
        }
    }

    /// Converts an intset that is to take a non-integer member of `len` bytes: to
    /// the packed form while the set stays small, else to a table.
    fn convert_for(&mut self, len: usize) {
        if let SetValue::Intset(s) = self {
            if s.len() < packed::MAX_ENTRIES && Packed::fits(len) {
                let mut p = Packed::default();
                let mut b = itoa::Buffer::new();
                for i in s.iter() {
                    p.push(b.format(i).as_bytes());
                }
                *self = SetValue::Packed(p);
                return;
            }
        }
        self.convert();
    }

    /// Converts to the table encoding.
    fn convert(&mut self) {
        match self {
            SetValue::Intset(s) => {
                let mut t = Table::with_capacity(s.len());
                let mut b = itoa::Buffer::new();
                for i in s.iter() {
                    t.insert_new(SmallBytes::new(b.format(i).as_bytes()));
                }
                *self = SetValue::Table(Box::new(t));
            }
            SetValue::Packed(p) => {
                let mut t = Table::with_capacity(p.len() + 1);
                for m in p.iter() {
                    t.insert_new(SmallBytes::new(m));
                }
                *self = SetValue::Table(Box::new(t));
            }
            SetValue::Table(_) => {}
        }
    }

    /// A random member.
    pub fn random(&self, rng: &mut impl Rng) -> Option<Member<'_>> {
        match self {
            SetValue::Intset(s) if s.is_empty() => None,
            SetValue::Intset(s) => s.get(rng.gen_range(0..s.len())).map(Member::Int),
            SetValue::Packed(p) if p.is_empty() => None,
            SetValue::Packed(p) => p.nth(rng.gen_range(0..p.len())).map(Member::Bytes),
            SetValue::Table(t) => t.random(rng).map(|k| Member::Bytes(k.as_bytes())),
        }
    }

    /// Removes and returns a random member.
    pub fn pop_random(&mut self, rng: &mut impl Rng) -> Option<Vec<u8>> {
        match self {
            SetValue::Intset(s) if s.is_empty() => None,
            SetValue::Intset(s) => {
                let i = s.remove_at(rng.gen_range(0..s.len()))?;
                Some(itoa::Buffer::new().format(i).as_bytes().to_vec())
            }
            SetValue::Packed(p) if p.is_empty() => None,
            SetValue::Packed(p) => p.remove_at(rng.gen_range(0..p.len())),
            SetValue::Table(t) => t.pop_random(rng).map(|k| k.as_bytes().to_vec()),
        }
    }

    /// Removes `n` distinct random members (fewer if the set is smaller).
    pub fn pop_many(&mut self, n: usize, rng: &mut impl Rng) -> Vec<Vec<u8>> {
        match self {
            SetValue::Intset(s) => {
                let mut b = itoa::Buffer::new();
                s.pop_many(n, rng)
                    .into_iter()
                    .map(|i| b.format(i).as_bytes().to_vec())
                    .collect()
            }
            SetValue::Packed(p) => (0..n)
                .map_while(|_| match p.len() {
                    0 => None,
                    len => p.remove_at(rng.gen_range(0..len)),
                })
                .collect(),
            SetValue::Table(t) => (0..n)
                .map_while(|_| t.pop_random(rng))
                .map(|k| k.as_bytes().to_vec())
                .collect(),
        }
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        match self {
            SetValue::Intset(_) => "intset",
            // Redis 7.0 keeps every set of strings in a hashtable.
            SetValue::Packed(_) | SetValue::Table(_) => "hashtable",
        }
    }

    /// Bytes owned on the heap (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match self {
            SetValue::Intset(s) => s.heap_size(),
            SetValue::Packed(p) => p.heap_size(),
            SetValue::Table(t) => t.heap_size() + std::mem::size_of::<Table<SmallBytes>>(),
        }
    }

    /// [`heap_size`](Self::heap_size) from `samples` members (MEMORY USAGE).
    pub fn heap_size_sampled(&self, samples: usize) -> usize {
        match self {
            SetValue::Intset(s) => s.heap_size(),
            SetValue::Packed(p) => p.heap_size(),
            SetValue::Table(t) => {
                t.heap_size_sampled(samples) + std::mem::size_of::<Table<SmallBytes>>()
            }
        }
    }

    /// Roughly how many allocations freeing it takes (for lazyfree).
    pub fn free_effort(&self) -> usize {
        match self {
            SetValue::Intset(_) | SetValue::Packed(_) => 1,
            SetValue::Table(t) => t.free_effort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_until_non_integer_or_too_many() {
        let mut s = SetValue::new();
        assert!(s.insert(b"3", 3));
        assert!(s.insert(b"-1", 3));
        assert!(!s.insert(b"3", 3));
        assert!(s.insert(b"2", 3));
        assert_eq!(s.encoding(), "intset");
        assert_eq!(
            s.members(),
            vec![b"-1".to_vec(), b"2".to_vec(), b"3".to_vec()]
        );
        assert!(s.insert(b"4", 3));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"-1"));
        let mut s = SetValue::new();
        s.insert(b"1", 10);
        for m in ["007", "+1", " 1", "-0", "1.0", "a"] {
            assert!(!s.contains(m.as_bytes()));
        }
        s.insert(b"007", 10);
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"007") && s.contains(b"1") && !s.contains(b"7"));
        assert!(s.remove(b"1"));
        assert!(!s.remove(b"1"));
        assert_eq!(s.len(), 1);
    }

    #[test]
    fn from_members_and_pop() {
        let config = Config::default();
        let ints =
            SetValue::from_members(vec![b"2".to_vec(), b"1".to_vec(), b"2".to_vec()], &config);
        assert_eq!(ints.encoding(), "intset");
        assert_eq!(ints.len(), 2);
        let mixed = SetValue::from_members(vec![b"2".to_vec(), b"x".to_vec()], &config);
        assert_eq!(mixed.encoding(), "hashtable");
        let many: Vec<Vec<u8>> = (0..513).map(|i: i32| i.to_string().into_bytes()).collect();
        let mut many = SetValue::from_members(many, &config);
        assert_eq!(many.encoding(), "hashtable");
        let mut n = 0;
        many.for_each(|_| n += 1);
        assert_eq!(n, 513);
        let mut rng = rand::thread_rng();
        let mut seen = std::collections::HashSet::new();
        while let Some(m) = many.pop_random(&mut rng) {
            assert!(seen.insert(m));
        }
        assert_eq!(seen.len(), 513);
    }
}
#[cfg(test)]
mod packed_tests {
    use super::*;

    #[test]
    fn small_string_sets_pack_until_too_many_or_too_long() {
        let mut s = SetValue::new();
        assert!(s.insert(b"1", 512));
        assert!(s.insert(b"a", 512));
        assert!(matches!(s, SetValue::Packed(_)));
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"1") && s.contains(b"a") && !s.contains(b"b"));
        assert!(!s.insert(b"a", 512));
        for i in 2..packed::MAX_ENTRIES {
            assert!(s.insert(format!("m{i}").as_bytes(), 512));
        }
        assert!(matches!(s, SetValue::Packed(_)));
        assert!(s.insert(b"one more", 512));
        assert!(matches!(s, SetValue::Table(_)));
        assert_eq!(s.len(), packed::MAX_ENTRIES + 1);
        assert!(s.contains(b"1") && s.contains(b"one more"));
        let mut s = SetValue::new();
        s.insert(b"a", 512);
        s.insert(&[b'x'; packed::MAX_VALUE + 1], 512);
        assert!(matches!(s, SetValue::Table(_)));
        let config = Config::default();
        let small =
            SetValue::from_members(vec![b"a".to_vec(), b"b".to_vec(), b"a".to_vec()], &config);
        assert!(matches!(small, SetValue::Packed(_)));
        assert_eq!(small.members(), vec![b"a".to_vec(), b"b".to_vec()]);
        let mut rng = rand::thread_rng();
        let mut small = small;
        let mut popped = small.pop_many(5, &mut rng);
        popped.sort();
        assert_eq!(popped, vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(small.is_empty() && small.pop_random(&mut rng).is_none());
    }
}

#[cfg(test)]
mod size_tests {
    #[test]
    fn value_sizes() {
        assert_eq!(std::mem::size_of::<super::SetValue>(), 32);
        // Hashes and zsets sit unboxed in the entry's 24-byte Value.
        assert_eq!(std::mem::size_of::<crate::types::hash::HashValue>(), 16);
        assert_eq!(std::mem::size_of::<crate::types::zset::ZSetValue>(), 16);
    }
}
