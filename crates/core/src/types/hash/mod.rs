//! The hash type: a compact packed encoding ("listpack") for small hashes and a
//! chained hash table ("hashtable") once hash-max-listpack-entries or
//! hash-max-listpack-value is exceeded. As in Redis 7.0 the conversion is one-way.

pub mod commands;
pub mod packed;
pub mod small;
pub mod table;

use crate::config::{Config, P};
use packed::Packed;
use small::Pair;
use table::Table;

/// Largest packed buffer (Redis's LISTPACK_MAX_SAFETY_SIZE).
const PACKED_SAFETY_LIMIT: usize = 1 << 30;

/// The conversion thresholds, read from the config once per command.
#[derive(Debug, Clone, Copy)]
pub struct HashLimits {
    /// hash-max-listpack-entries.
    pub entries: usize,
    /// hash-max-listpack-value.
    pub value: usize,
}

impl HashLimits {
    /// The current thresholds.
    pub fn from_config(config: &Config) -> HashLimits {
        HashLimits {
            entries: config.int(P::HashMaxListpackEntries).max(0) as usize,
            value: config.int(P::HashMaxListpackValue).max(0) as usize,
        }
    }
}

/// A hash value.
#[derive(Debug, Clone)]
pub enum HashValue {
    /// Small: packed pairs.
    Packed(Packed),
    /// Large: hash table.
    /// (Boxed: the table with its resize state is larger than the compact forms.)
    Table(Box<Table<Pair>>),
}

impl Default for HashValue {
    fn default() -> Self {
        HashValue::Packed(Packed::default())
    }
}

impl HashValue {
    /// An empty hash (compact encoding).
    pub fn new() -> HashValue {
        HashValue::default()
    }

    /// Builds a hash from pairs (RDB load, RESTORE), choosing the encoding by the
    /// thresholds. A repeated field keeps its last value.
    pub fn from_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>, config: &Config) -> HashValue {
        let lim = HashLimits::from_config(config);
        let mut h = HashValue::new();
        if pairs.len() > lim.entries
            || pairs
                .iter()
                .any(|(f, v)| f.len() > lim.value || v.len() > lim.value)
        {
            h = HashValue::Table(Box::new(Table::with_capacity(pairs.len())));
        }
        for (f, v) in &pairs {
            h.insert(f, v, lim);
        }
        h
    }

    /// Builds a hash from a listpack (or ziplist) RDB payload's pairs: Redis 7.0
    /// keeps such a value a listpack unless it has more than
    /// `hash-max-listpack-entries` fields (value lengths are not re-checked).
    pub fn from_listpack_pairs(pairs: Vec<(Vec<u8>, Vec<u8>)>, config: &Config) -> HashValue {
        let lim = HashLimits::from_config(config);
        let bytes: usize = pairs.iter().map(|(f, v)| f.len() + v.len() + 10).sum();
        if pairs.len() > lim.entries || bytes > PACKED_SAFETY_LIMIT {
            return HashValue::from_pairs(pairs, config);
        }
        let mut p = Packed::default();
        for (f, v) in &pairs {
            p.insert(f, v);
        }
        HashValue::Packed(p)
    }

    /// Calls `f` with every field and value.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], &[u8])) {
        for (k, v) in self.iter() {
            f(k, v);
        }
    }

    /// The pairs, in encoding order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            HashValue::Packed(p) => Box::new(p.iter()),
            HashValue::Table(t) => Box::new(t.iter().map(|p| (p.field(), p.value()))),
        }
    }

    /// Moves one bucket of a table resize in progress (see [`Table::rehash_step`]).
    #[inline]
    pub fn rehash_step(&mut self) {
        if let HashValue::Table(t) = self {
            t.rehash_step();
        }
    }

    /// The units of an active defrag: 1 for the packed form, buckets for a table.
    pub fn defrag_units(&self) -> usize {
        match self {
            HashValue::Packed(_) => 1,
            HashValue::Table(t) => t.bucket_count(),
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
            HashValue::Packed(p) => {
                p.defrag(m);
                None
            }
            HashValue::Table(t) => m.boxed_step(t, from, |t, m| t.defrag_from(m, from, units)),
        }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.len(),
            HashValue::Table(t) => t.len(),
        }
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value of `field`.
    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => p.get(field),
            HashValue::Table(t) => t.get(field).map(Pair::value),
        }
    }

    /// Converts to the table encoding if a field or value of these lengths would not
    /// fit the compact one (Redis's hashTypeTryConversion, checked before inserting).
    /// Like Redis's lpSafeToAdd it also refuses to let the packed buffer pass 1 GiB,
    /// whatever the configured thresholds.
    pub fn fit_lengths(&mut self, field_len: usize, value_len: usize, lim: HashLimits) {
        if let HashValue::Packed(p) = self {
            if field_len > lim.value
                || value_len > lim.value
                || p.bytes() + field_len + value_len > PACKED_SAFETY_LIMIT
            {
                self.convert();
            }
        }
    }

    /// Sets `field` to `value`; returns whether the field is new. Converts to the
    /// table encoding when the lengths or the count exceed the thresholds.
    pub fn insert(&mut self, field: &[u8], value: &[u8], lim: HashLimits) -> bool {
        self.fit_lengths(field.len(), value.len(), lim);
        match self {
            HashValue::Packed(p) => {
                let new = p.insert(field, value);
                if p.len() > lim.entries {
                    self.convert();
                }
                new
            }
            HashValue::Table(t) => {
                t.upsert(field, |p| p.set_value(value), || Pair::new(field, value))
            }
        }
    }

    /// Removes `field`; returns whether it was present.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            HashValue::Packed(p) => p.remove(field),
            HashValue::Table(t) => t.remove(field).is_some(),
        }
    }

    fn convert(&mut self) {
        if let HashValue::Packed(p) = self {
            let mut t = Table::with_capacity(p.len());
            for (f, v) in p.iter() {
                t.insert_new(Pair::new(f, v));
            }
            *self = HashValue::Table(Box::new(t));
        }
    }

    /// A random pair.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], &[u8])> {
        match self {
            HashValue::Packed(p) if p.is_empty() => None,
            HashValue::Packed(p) => p.nth(rng.gen_range(0..p.len())),
            HashValue::Table(t) => t.random(rng).map(|p| (p.field(), p.value())),
        }
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        match self {
            HashValue::Packed(_) => "listpack",
            HashValue::Table(_) => "hashtable",
        }
    }

    /// The compact form's packed buffer with its header (an entry's inline image).
    pub fn packed_image(&self) -> Option<&[u8]> {
        match self {
            HashValue::Packed(p) => Some(p.buf.image()),
            HashValue::Table(_) => None,
        }
    }

    /// A compact hash reading an inline image in place.
    ///
    /// # Safety
    /// As [`crate::types::packbuf::PackBuf::view`].
    pub unsafe fn view(ptr: std::ptr::NonNull<u8>) -> HashValue {
        // SAFETY: passed on.
        HashValue::Packed(Packed {
            buf: unsafe { crate::types::packbuf::PackBuf::view(ptr) },
        })
    }

    /// Bytes owned on the heap (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match self {
            HashValue::Packed(p) => p.heap_size(),
            HashValue::Table(t) => t.heap_size() + std::mem::size_of::<Table<Pair>>(),
        }
    }

    /// [`heap_size`](Self::heap_size) from `samples` fields (MEMORY USAGE).
    pub fn heap_size_sampled(&self, samples: usize) -> usize {
        match self {
            HashValue::Packed(p) => p.heap_size(),
            HashValue::Table(t) => {
                t.heap_size_sampled(samples) + std::mem::size_of::<Table<Pair>>()
            }
        }
    }

    /// Roughly how many allocations freeing it takes (for lazyfree).
    pub fn free_effort(&self) -> usize {
        match self {
            HashValue::Packed(_) => 1,
            HashValue::Table(t) => t.free_effort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIM: HashLimits = HashLimits {
        entries: 3,
        value: 8,
    };

    #[test]
    fn listpack_payloads_stay_listpacks_unless_too_many() {
        let config = Config::default();
        let long = vec![
            (b"f".to_vec(), vec![b'v'; 100]),
            (b"g".to_vec(), b"1".to_vec()),
        ];
        assert_eq!(
            HashValue::from_pairs(long.clone(), &config).encoding(),
            "hashtable"
        );
        let lp = HashValue::from_listpack_pairs(long, &config);
        assert_eq!(lp.encoding(), "listpack");
        assert_eq!(lp.get(b"f").map(<[u8]>::len), Some(100));
        let many: Vec<_> = (0..513)
            .map(|i| (i.to_string().into_bytes(), b"x".to_vec()))
            .collect();
        assert_eq!(
            HashValue::from_listpack_pairs(many, &config).encoding(),
            "hashtable"
        );
    }

    #[test]
    fn converts_on_count() {
        let mut h = HashValue::new();
        for (i, f) in ["a", "b", "c"].iter().enumerate() {
            assert!(h.insert(f.as_bytes(), i.to_string().as_bytes(), LIM));
        }
        assert_eq!(h.encoding(), "listpack");
        assert!(!h.insert(b"a", b"x", LIM));
        assert_eq!(h.encoding(), "listpack");
        assert!(h.insert(b"d", b"4", LIM));
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"a"), Some(&b"x"[..]));
        assert_eq!(h.len(), 4);
        // Never converts back.
        for f in ["a", "b", "c"] {
            assert!(h.remove(f.as_bytes()));
        }
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn converts_on_length() {
        let mut h = HashValue::new();
        h.insert(b"f", b"12345678", LIM);
        assert_eq!(h.encoding(), "listpack");
        h.insert(b"f", b"123456789", LIM);
        assert_eq!(h.encoding(), "hashtable");
        let mut h = HashValue::new();
        h.insert(b"123456789", b"", LIM);
        assert_eq!(h.encoding(), "hashtable");
    }

    #[test]
    fn results_do_not_depend_on_encoding() {
        let mut a = HashValue::new();
        let mut b = HashValue::new();
        b.convert();
        for i in 0..3 {
            for h in [&mut a, &mut b] {
                h.insert(format!("f{i}").as_bytes(), b"v", LIM);
            }
        }
        let mut pa: Vec<_> = a.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        let mut pb: Vec<_> = b.iter().map(|(k, v)| (k.to_vec(), v.to_vec())).collect();
        pa.sort();
        pb.sort();
        assert_eq!(pa, pb);
        assert_eq!(a.encoding(), "listpack");
        assert_eq!(b.encoding(), "hashtable");
    }

    #[test]
    fn from_pairs_chooses_encoding() {
        let config = Config::default();
        let small = HashValue::from_pairs(vec![(b"a".to_vec(), b"1".to_vec())], &config);
        assert_eq!(small.encoding(), "listpack");
        let long = HashValue::from_pairs(vec![(b"a".to_vec(), vec![b'x'; 65])], &config);
        assert_eq!(long.encoding(), "hashtable");
        let many: Vec<_> = (0..513)
            .map(|i| (i.to_string().into_bytes(), b"v".to_vec()))
            .collect();
        let many = HashValue::from_pairs(many, &config);
        assert_eq!(many.encoding(), "hashtable");
        assert_eq!(many.len(), 513);
        let mut n = 0;
        many.for_each(|_, v| {
            assert_eq!(v, b"v");
            n += 1;
        });
        assert_eq!(n, 513);
    }
}
