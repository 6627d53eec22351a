//! The large encoding shared by hashes and sets: a chained hash table over a
//! power-of-two bucket array, keyed by byte strings.
//!
//! Why chaining with power-of-two sizes rather than a std map: HSCAN/SSCAN must
//! return every element present for the whole iteration even while the table grows
//! or shrinks between calls. Bucket `b` of a table of size `2^n` splits into `b` and
//! `b + 2^n` when it doubles (and the reverse when it halves), so a cursor walking
//! bucket indexes in reverse-binary order (Redis's dictScan) never skips a bucket.
//! It also gives cheap uniform-ish random sampling (SRANDMEMBER, SPOP, HRANDFIELD).
//! One entry is one allocation: chain link, key (inline when short) and value.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use crate::types::hash::small::SmallBytes;

fn hasher() -> &'static foldhash::fast::FixedState {
    static STATE: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    STATE.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
}

#[inline]
fn hash(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

const MIN_SIZE: usize = 4;

/// One element.
pub struct Entry<V> {
    next: Option<Box<Entry<V>>>,
    /// The field or member.
    pub key: SmallBytes,
    /// The value (`()` for sets).
    pub val: V,
}

type Link<V> = Option<Box<Entry<V>>>;

/// A chained hash table.
pub struct Table<V> {
    buckets: Vec<Link<V>>,
    len: usize,
}

impl<V> Default for Table<V> {
    fn default() -> Self {
        Table {
            buckets: Vec::new(),
            len: 0,
        }
    }
}

impl<V: Clone> Clone for Table<V> {
    fn clone(&self) -> Self {
        let mut t = Table::with_capacity(self.len);
        for (k, v) in self.iter() {
            t.insert_new(k, v.clone());
        }
        t
    }
}

impl<V: std::fmt::Debug> std::fmt::Debug for Table<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(k, v)| (String::from_utf8_lossy(k), v)))
            .finish()
    }
}

impl<V> Table<V> {
    /// An empty table sized for `n` elements.
    pub fn with_capacity(n: usize) -> Self {
        let mut t = Table::default();
        if n > 0 {
            t.rehash(n.next_power_of_two().max(MIN_SIZE));
        }
        t
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    fn index(&self, key: &[u8]) -> usize {
        hash(key) as usize & (self.buckets.len() - 1)
    }

    /// The value of `key`.
    pub fn get(&self, key: &[u8]) -> Option<&V> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.buckets[self.index(key)].as_deref();
        while let Some(e) = cur {
            if e.key.as_bytes() == key {
                return Some(&e.val);
            }
            cur = e.next.as_deref();
        }
        None
    }

    /// The value of `key`, mutably.
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut V> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(key);
        let mut cur = self.buckets[i].as_deref_mut();
        while let Some(e) = cur {
            if e.key.as_bytes() == key {
                return Some(&mut e.val);
            }
            cur = e.next.as_deref_mut();
        }
        None
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts `key` (known to be absent).
    pub fn insert_new(&mut self, key: &[u8], val: V) {
        if self.len >= self.buckets.len() {
            self.rehash((self.buckets.len() * 2).max(MIN_SIZE));
        }
        let i = self.index(key);
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Entry {
            next,
            key: SmallBytes::new(key),
            val,
        }));
        self.len += 1;
    }

    /// Sets `key` to `val`; returns whether the key is new.
    pub fn insert(&mut self, key: &[u8], val: V) -> bool {
        match self.get_mut(key) {
            Some(v) => {
                *v = val;
                false
            }
            None => {
                self.insert_new(key, val);
                true
            }
        }
    }

    /// Removes `key`; returns its value if it was present.
    pub fn remove(&mut self, key: &[u8]) -> Option<V> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(key);
        let removed = unlink(&mut self.buckets[i], |e| e.key.as_bytes() == key)?;
        self.len -= 1;
        self.maybe_shrink();
        Some(removed.val)
    }

    fn maybe_shrink(&mut self) {
        // Redis resizes when fewer than 10% of the buckets are used.
        if self.buckets.len() > MIN_SIZE && self.len * 10 < self.buckets.len() {
            self.rehash(self.len.next_power_of_two().max(MIN_SIZE));
        }
    }

    fn rehash(&mut self, new_size: usize) {
        let mut new: Vec<Link<V>> = Vec::new();
        new.resize_with(new_size, || None);
        let mask = new_size - 1;
        for slot in self.buckets.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut e) = chain {
                chain = e.next.take();
                let i = hash(e.key.as_bytes()) as usize & mask;
                e.next = new[i].take();
                new[i] = Some(e);
            }
        }
        self.buckets = new;
    }

    /// All elements, in table order.
    pub fn iter(&self) -> Iter<'_, V> {
        Iter {
            buckets: self.buckets.iter(),
            cur: None,
        }
    }

    /// Visits the elements of the bucket(s) at `cursor`; returns the next cursor (0
    /// when done). Elements present from the first call to the last are visited at
    /// least once whatever resizes happen in between.
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a [u8], &'a V)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(e) = cur {
            f(e.key.as_bytes(), &e.val);
            cur = e.next.as_deref();
        }
        next_cursor(cursor, mask)
    }

    /// A random non-empty bucket's index (uniform over buckets, like dictGetRandomKey).
    fn random_bucket(&self, rng: &mut impl rand::Rng) -> Option<(usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let mask = self.buckets.len() - 1;
        loop {
            let i = rng.gen::<usize>() & mask;
            let mut n = 0;
            let mut cur = self.buckets[i].as_deref();
            while let Some(e) = cur {
                n += 1;
                cur = e.next.as_deref();
            }
            if n > 0 {
                return Some((i, rng.gen_range(0..n)));
            }
        }
    }

    /// A random element.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<(&[u8], &V)> {
        let (i, mut pick) = self.random_bucket(rng)?;
        let mut cur = self.buckets[i].as_deref();
        while let Some(e) = cur {
            if pick == 0 {
                return Some((e.key.as_bytes(), &e.val));
            }
            pick -= 1;
            cur = e.next.as_deref();
        }
        None
    }

    /// Removes and returns a random element.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<(SmallBytes, V)> {
        let (i, pick) = self.random_bucket(rng)?;
        let mut n = 0;
        let e = unlink(&mut self.buckets[i], |_| {
            n += 1;
            n > pick
        })?;
        self.len -= 1;
        self.maybe_shrink();
        Some((e.key, e.val))
    }

    /// Heap bytes: the bucket array, the entries and long keys (values are counted
    /// by the caller through `val_heap`).
    pub fn heap_size(&self, val_heap: impl Fn(&V) -> usize) -> usize {
        let mut n = self.buckets.capacity() * std::mem::size_of::<Link<V>>();
        for (k, v) in self.iter() {
            n += std::mem::size_of::<Entry<V>>() + val_heap(v);
            if k.len() > 22 {
                n += k.len();
            }
        }
        n
    }

    /// Allocations that freeing the table takes (entries, long keys, values).
    pub fn free_effort(&self, val_allocs: impl Fn(&V) -> usize) -> usize {
        let mut n = 1;
        let mut cur_bucket = self.buckets.iter();
        for slot in cur_bucket.by_ref() {
            let mut cur = slot.as_deref();
            while let Some(e) = cur {
                n += 1 + usize::from(e.key.is_heap()) + val_allocs(&e.val);
                cur = e.next.as_deref();
            }
        }
        n
    }
}

/// Unlinks the first entry of `slot`'s chain for which `hit` is true.
fn unlink<V>(slot: &mut Link<V>, mut hit: impl FnMut(&Entry<V>) -> bool) -> Option<Box<Entry<V>>> {
    let mut cur = slot;
    loop {
        match cur {
            None => return None,
            Some(e) if hit(e) => {
                let mut taken = cur.take()?;
                *cur = taken.next.take();
                return Some(taken);
            }
            Some(e) => cur = &mut e.next,
        }
    }
}

/// Redis's dictScan cursor step: increment the reversed bits under `mask`.
fn next_cursor(mut v: u64, mask: u64) -> u64 {
    v |= !mask;
    v = v.reverse_bits();
    v = v.wrapping_add(1);
    v.reverse_bits()
}

impl<V> Drop for Table<V> {
    fn drop(&mut self) {
        // Unlink chains iteratively so that a long chain cannot overflow the stack.
        for slot in self.buckets.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut e) = chain {
                chain = e.next.take();
            }
        }
    }
}

/// Iterator over a [`Table`].
pub struct Iter<'a, V> {
    buckets: std::slice::Iter<'a, Link<V>>,
    cur: Option<&'a Entry<V>>,
}

impl<'a, V> Iterator for Iter<'a, V> {
    type Item = (&'a [u8], &'a V);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.next.as_deref();
                return Some((e.key.as_bytes(), &e.val));
            }
            self.cur = self.buckets.next()?.as_deref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn insert_get_remove_and_resize() {
        let mut t: Table<u32> = Table::default();
        for i in 0..1000u32 {
            assert!(t.insert(i.to_string().as_bytes(), i));
        }
        assert!(!t.insert(b"5", 55));
        assert_eq!(t.get(b"5"), Some(&55));
        assert_eq!(t.len(), 1000);
        for i in 0..990u32 {
            assert!(t.remove(i.to_string().as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10);
        assert!(t.buckets.len() <= 16);
        assert_eq!(t.iter().count(), 10);
        let c = t.clone();
        assert_eq!(c.len(), 10);
    }

    #[test]
    fn scan_survives_resizes() {
        let mut t: Table<()> = Table::default();
        for i in 0..200u32 {
            t.insert(format!("k{i}").as_bytes(), ());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = t.scan(cursor, |k, _| {
                seen.insert(k.to_vec());
            });
            // Grow and shrink between calls; keys k0..k99 stay throughout.
            if round.is_multiple_of(2) {
                for j in 0..300u32 {
                    t.insert(format!("x{round}-{j}").as_bytes(), ());
                }
            } else {
                let extra: Vec<Vec<u8>> = t
                    .iter()
                    .map(|(k, _)| k.to_vec())
                    .filter(|k| k.starts_with(b"x") || k.starts_with(b"k1"))
                    .collect();
                for k in extra {
                    if !k.starts_with(b"k1") || k.len() > 3 {
                        t.remove(&k);
                    }
                }
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100u32 {
            let k = format!("k{i}");
            if t.contains(k.as_bytes()) {
                assert!(seen.contains(k.as_bytes()), "{k} missed");
            }
        }
    }

    #[test]
    fn random_and_pop() {
        let mut rng = rand::thread_rng();
        let mut t: Table<()> = Table::default();
        for i in 0..50u32 {
            t.insert(i.to_string().as_bytes(), ());
        }
        let (k, _) = t
            .random(&mut rng)
            .map(|(k, v)| (k.to_vec(), *v))
            .unwrap_or_default();
        assert!(t.contains(&k));
        let mut popped = HashSet::new();
        while let Some((k, ())) = t.pop_random(&mut rng) {
            assert!(popped.insert(k.as_bytes().to_vec()));
        }
        assert_eq!(popped.len(), 50);
        assert!(t.is_empty());
    }
}
