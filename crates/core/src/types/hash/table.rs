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

use crate::types::hash::small::{Pair, SmallBytes};

/// What a table stores: something with a byte-string key.
pub trait Keyed {
    /// The key the table hashes and compares.
    fn key(&self) -> &[u8];
    /// Heap bytes the item owns.
    fn heap(&self) -> usize;
}

impl Keyed for SmallBytes {
    fn key(&self) -> &[u8] {
        self.as_bytes()
    }
    fn heap(&self) -> usize {
        self.heap_size()
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.field()
    }
    fn heap(&self) -> usize {
        self.heap_size()
    }
}

fn hasher() -> &'static foldhash::fast::FixedState {
    static STATE: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    STATE.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
}

#[inline]
fn hash(key: &[u8]) -> u64 {
    hasher().hash_one(key)
}

const MIN_SIZE: usize = 4;

/// One element: the chain link and the item.
pub struct Entry<T> {
    next: Option<Box<Entry<T>>>,
    item: T,
}

type Link<T> = Option<Box<Entry<T>>>;

/// A chained hash table.
pub struct Table<T> {
    // A boxed slice rather than a Vec: it never grows in place, and the 8 bytes
    // saved keep `HashValue`/`SetValue` at 32 bytes.
    buckets: Box<[Link<T>]>,
    len: usize,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            buckets: Box::new([]),
            len: 0,
        }
    }
}

impl<T: Keyed + Clone> Clone for Table<T> {
    fn clone(&self) -> Self {
        let mut t = Table::with_capacity(self.len);
        for item in self.iter() {
            t.insert_new(item.clone());
        }
        t
    }
}

impl<T: Keyed + std::fmt::Debug> std::fmt::Debug for Table<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.iter()).finish()
    }
}

impl<T: Keyed> Table<T> {
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

    /// The item with `key`.
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.buckets[self.index(key)].as_deref();
        while let Some(e) = cur {
            if e.item.key() == key {
                return Some(&e.item);
            }
            cur = e.next.as_deref();
        }
        None
    }

    /// The item with `key`, mutably (its key must not change).
    pub fn get_mut(&mut self, key: &[u8]) -> Option<&mut T> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(key);
        let mut cur = self.buckets[i].as_deref_mut();
        while let Some(e) = cur {
            if e.item.key() == key {
                return Some(&mut e.item);
            }
            cur = e.next.as_deref_mut();
        }
        None
    }

    /// Whether `key` is present.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.get(key).is_some()
    }

    /// Inserts an item whose key is known to be absent.
    pub fn insert_new(&mut self, item: T) {
        if self.len >= self.buckets.len() {
            self.rehash((self.buckets.len() * 2).max(MIN_SIZE));
        }
        let i = self.index(item.key());
        let next = self.buckets[i].take();
        self.buckets[i] = Some(Box::new(Entry { next, item }));
        self.len += 1;
    }

    /// Removes the item with `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(key);
        let removed = unlink(&mut self.buckets[i], |e| e.item.key() == key)?;
        self.len -= 1;
        self.maybe_shrink();
        Some(removed.item)
    }

    fn maybe_shrink(&mut self) {
        // Redis resizes when fewer than 10% of the buckets are used.
        if self.buckets.len() > MIN_SIZE && self.len * 10 < self.buckets.len() {
            self.rehash(self.len.next_power_of_two().max(MIN_SIZE));
        }
    }

    fn rehash(&mut self, new_size: usize) {
        let mut new: Vec<Link<T>> = Vec::new();
        new.resize_with(new_size, || None);
        let mask = new_size - 1;
        for slot in self.buckets.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut e) = chain {
                chain = e.next.take();
                let i = hash(e.item.key()) as usize & mask;
                e.next = new[i].take();
                new[i] = Some(e);
            }
        }
        self.buckets = new.into_boxed_slice();
    }

    /// All items, in table order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            buckets: self.buckets.iter(),
            cur: None,
        }
    }

    /// Visits the items of the bucket(s) at `cursor`; returns the next cursor (0
    /// when done). Items present from the first call to the last are visited at
    /// least once whatever resizes happen in between.
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a T)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = (self.buckets.len() - 1) as u64;
        let mut cur = self.buckets[(cursor & mask) as usize].as_deref();
        while let Some(e) = cur {
            f(&e.item);
            cur = e.next.as_deref();
        }
        next_cursor(cursor, mask)
    }

    /// A random non-empty bucket and a position in its chain (uniform over
    /// buckets, then over the chain, like dictGetRandomKey).
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

    /// A random item.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&T> {
        let (i, mut pick) = self.random_bucket(rng)?;
        let mut cur = self.buckets[i].as_deref();
        while let Some(e) = cur {
            if pick == 0 {
                return Some(&e.item);
            }
            pick -= 1;
            cur = e.next.as_deref();
        }
        None
    }

    /// Removes and returns a random item.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<T> {
        let (i, pick) = self.random_bucket(rng)?;
        let mut n = 0;
        let e = unlink(&mut self.buckets[i], |_| {
            n += 1;
            n > pick
        })?;
        self.len -= 1;
        self.maybe_shrink();
        Some(e.item)
    }

    /// Heap bytes: the bucket array, the entries and what the items own.
    pub fn heap_size(&self) -> usize {
        let mut n = self.buckets.len() * std::mem::size_of::<Link<T>>();
        for item in self.iter() {
            n += std::mem::size_of::<Entry<T>>() + item.heap();
        }
        n
    }

    /// Roughly the allocations that freeing the table takes: one per entry (an
    /// item's own long buffer is not counted, so that this stays O(1) on the
    /// delete path that consults it).
    pub fn free_effort(&self) -> usize {
        1 + self.len
    }
}

/// Unlinks the first entry of `slot`'s chain for which `hit` is true.
fn unlink<T>(slot: &mut Link<T>, mut hit: impl FnMut(&Entry<T>) -> bool) -> Option<Box<Entry<T>>> {
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

impl<T> Drop for Table<T> {
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
pub struct Iter<'a, T> {
    buckets: std::slice::Iter<'a, Link<T>>,
    cur: Option<&'a Entry<T>>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = &'a T;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(e) = self.cur {
                self.cur = e.next.as_deref();
                return Some(&e.item);
            }
            self.cur = self.buckets.next()?.as_deref();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn sb(s: &str) -> SmallBytes {
        SmallBytes::new(s.as_bytes())
    }

    #[test]
    fn insert_get_remove_and_resize() {
        let mut t: Table<Pair> = Table::default();
        for i in 0..1000u32 {
            let k = i.to_string();
            t.insert_new(Pair::new(k.as_bytes(), k.as_bytes()));
        }
        if let Some(p) = t.get_mut(b"5") {
            p.set_value(b"55");
        }
        assert_eq!(t.get(b"5").map(Pair::value), Some(&b"55"[..]));
        assert_eq!(t.len(), 1000);
        for i in 0..990u32 {
            assert!(t.remove(i.to_string().as_bytes()).is_some());
        }
        assert_eq!(t.len(), 10);
        assert!(t.buckets.len() <= 16);
        assert_eq!(t.iter().count(), 10);
        let c = t.clone();
        assert_eq!(c.len(), 10);
        assert!(c.contains(b"995"));
    }

    #[test]
    fn scan_survives_resizes() {
        let mut t: Table<SmallBytes> = Table::default();
        for i in 0..100u32 {
            t.insert_new(sb(&format!("k{i}")));
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut round = 0u32;
        loop {
            cursor = t.scan(cursor, |k| {
                seen.insert(k.as_bytes().to_vec());
            });
            // Grow and shrink between calls; k0..k99 stay throughout.
            if round.is_multiple_of(2) {
                for j in 0..300u32 {
                    t.insert_new(sb(&format!("x{round}-{j}")));
                }
            } else {
                for j in 0..300u32 {
                    t.remove(format!("x{}-{j}", round - 1).as_bytes());
                }
            }
            round += 1;
            if cursor == 0 {
                break;
            }
        }
        for i in 0..100u32 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
    }

    #[test]
    fn random_and_pop() {
        let mut rng = rand::thread_rng();
        let mut t: Table<SmallBytes> = Table::default();
        for i in 0..50u32 {
            t.insert_new(sb(&i.to_string()));
        }
        let k = t.random(&mut rng).map(|k| k.as_bytes().to_vec());
        assert!(k.is_some_and(|k| t.contains(&k)));
        let mut popped = HashSet::new();
        while let Some(k) = t.pop_random(&mut rng) {
            assert!(popped.insert(k.as_bytes().to_vec()));
        }
        assert_eq!(popped.len(), 50);
        assert!(t.is_empty());
    }

    #[test]
    fn entries_are_one_small_allocation() {
        assert_eq!(std::mem::size_of::<Entry<Pair>>(), 48);
        assert_eq!(std::mem::size_of::<Entry<SmallBytes>>(), 32);
    }
}
