//! The large encoding shared by hashes and sets: a chained hash table over a
//! power-of-two bucket array, keyed by byte strings.
//!
//! Why chaining with power-of-two sizes rather than a std map: HSCAN/SSCAN must
//! return every element present for the whole iteration even while the table grows
//! or shrinks between calls. Bucket `b` of a table of size `2^n` splits into `b` and
//! `b + 2^n` when it doubles (and the reverse when it halves), so a cursor walking
//! bucket indexes in reverse-binary order (Redis's dictScan) never skips a bucket.
//! It also gives uniform random picks (SRANDMEMBER, SPOP, HRANDFIELD): see
//! [`Table::random`].
//! One entry is one allocation: chain link, key (inline when short) and value.
//!
//! Resizes are incremental, as Redis's dict: a resize allocates the new bucket array
//! and every later write moves one old bucket, so a hash or set with millions of
//! elements never stalls a command for a whole rehash. While both arrays are live,
//! lookups search both and SCAN walks the smaller one's bucket plus all of its
//! expansions in the larger one (dictScan's rule), which keeps SCAN's guarantee.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use crate::types::hash::small::{Pair, SmallBytes};

/// What a table stores: something with a byte-string key.
pub trait Keyed {
    /// The key the table hashes and compares.
    fn key(&self) -> &[u8];
    /// Heap bytes the item owns.
    fn heap(&self) -> usize;
    /// Active defrag of the item's own allocations.
    fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>);
}

impl Keyed for SmallBytes {
    fn key(&self) -> &[u8] {
        self.as_bytes()
    }
    fn heap(&self) -> usize {
        self.heap_size()
    }
    fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        SmallBytes::defrag(self, m);
    }
}

impl Keyed for Pair {
    fn key(&self) -> &[u8] {
        self.field()
    }
    fn heap(&self) -> usize {
        self.heap_size()
    }
    fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        Pair::defrag(self, m);
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

/// Arrays of at least this many buckets keep their chain lengths in [`Lens`].
const LENS_MIN: usize = 64;

/// The chain length of every bucket of both arrays (saturating at 255, where the
/// chain itself is counted), for tables of [`LENS_MIN`] buckets or more: a random
/// pick's rejected tries then read one byte of a small dense array instead of a
/// bucket and its chain (a cache miss each). Small tables go without (8 bytes of
/// `Option<Box<..>>` in the table), their buckets are cheap to read.
struct Lens([Box<[u8]>; 2]);

impl Lens {
    /// One more entry in bucket `i` of array `t`.
    #[inline]
    fn inc(&mut self, t: usize, i: usize) {
        let n = &mut self.0[t][i];
        *n = n.saturating_add(1);
    }
}

/// One element: the chain link and the item.
pub struct Entry<T> {
    next: Option<Box<Entry<T>>>,
    item: T,
}

type Link<T> = Option<Box<Entry<T>>>;
type Buckets<T> = Box<[Link<T>]>;

/// A chained hash table with incremental rehashing.
pub struct Table<T> {
    /// `ht[0]` is the table; while a resize runs, `ht[1]` is the new one and
    /// buckets of `ht[0]` below `rehash_idx` have been moved.
    ht: [Buckets<T>; 2],
    rehash_idx: usize,
    len: usize,
    /// For each array, a bound on its chain lengths (never below the longest
    /// chain; removals leave it as it is): what makes random picks uniform.
    max_chain: [u32; 2],
    /// Chain lengths, for large tables.
    lens: Option<Box<Lens>>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table {
            ht: [Box::new([]), Box::new([])],
            rehash_idx: 0,
            len: 0,
            max_chain: [0; 2],
            lens: None,
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

fn buckets<T>(n: usize) -> Buckets<T> {
    let mut v: Vec<Link<T>> = Vec::new();
    v.resize_with(n, || None);
    v.into_boxed_slice()
}

fn zeros(n: usize) -> Box<[u8]> {
    vec![0u8; n].into_boxed_slice()
}

/// The [`Lens`] value of a chain.
fn len_byte<T>(link: &Link<T>) -> u8 {
    u8::try_from(chain_len(link)).unwrap_or(u8::MAX)
}

#[inline]
fn slot(h: u64, table_len: usize) -> usize {
    h as usize & (table_len - 1)
}

impl<T: Keyed> Table<T> {
    /// An empty table sized for `n` elements.
    pub fn with_capacity(n: usize) -> Self {
        let mut t = Table::default();
        if n > 0 {
            let size = n.next_power_of_two().max(MIN_SIZE);
            t.ht[0] = buckets(size);
            if size >= LENS_MIN {
                t.lens = Some(Box::new(Lens([zeros(size), Box::new([])])));
            }
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

    /// Buckets of both arrays (the units of an active defrag).
    pub fn bucket_count(&self) -> usize {
        self.ht[0].len() + self.ht[1].len()
    }

    /// Active defrag of buckets `from..from + units` of both arrays in turn (the
    /// arrays themselves with the first step): every entry and its item. Where
    /// to go on from, or `None` when done. A resize between steps only means some
    /// entries are visited twice or not at all in this pass.
    pub fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize>
    where
        T: Keyed,
    {
        if from == 0 {
            m.boxed_slice(&mut self.ht[0]);
            m.boxed_slice(&mut self.ht[1]);
            if let Some(lens) = &mut self.lens {
                m.boxed(lens);
                m.boxed_slice(&mut lens.0[0]);
                m.boxed_slice(&mut lens.0[1]);
            }
        }
        let (range, next) = crate::defrag::span(from, units, self.bucket_count());
        for b in range {
            let (t, i) = if b < self.ht[0].len() {
                (0, b)
            } else {
                (1, b - self.ht[0].len())
            };
            let mut cur = &mut self.ht[t][i];
            while let Some(e) = cur {
                m.boxed(e);
                e.item.defrag(m);
                cur = &mut e.next;
            }
        }
        next
    }

    /// Whether a resize is in progress.
    #[inline]
    fn rehashing(&self) -> bool {
        !self.ht[1].is_empty()
    }

    /// Which table holds `key`, and the bucket.
    fn locate(&self, key: &[u8]) -> Option<(usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let h = hash(key);
        for t in 0..2 {
            let tab = &self.ht[t];
            if tab.is_empty() {
                continue;
            }
            let i = slot(h, tab.len());
            let mut cur = tab[i].as_deref();
            while let Some(e) = cur {
                if e.item.key() == key {
                    return Some((t, i));
                }
                cur = e.next.as_deref();
            }
        }
        None
    }

    /// The item with `key`.
    pub fn get(&self, key: &[u8]) -> Option<&T> {
        let (t, i) = self.locate(key)?;
        let mut cur = self.ht[t][i].as_deref();
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
        self.step();
        let (t, i) = self.locate(key)?;
        let mut cur = self.ht[t][i].as_deref_mut();
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
        self.locate(key).is_some()
    }

    /// Moves one bucket of a resize in progress. Lookups call this (as Redis's
    /// dictFind does): a table that only gets reads or re-adds of present keys would
    /// otherwise stay half-rehashed, and every lookup would search both arrays.
    #[inline]
    pub fn rehash_step(&mut self) {
        if self.rehashing() {
            self.step();
        }
    }

    /// Inserts the item `make` builds unless `key` is present, with one hash and one
    /// bucket walk; returns whether it inserted.
    pub fn insert_if_absent(&mut self, key: &[u8], make: impl FnOnce() -> T) -> bool {
        self.upsert(key, |_| {}, make)
    }

    /// Calls `update` on the item with `key`, or inserts the item `make` builds, with
    /// one hash and one bucket walk; returns whether it inserted.
    pub fn upsert(
        &mut self,
        key: &[u8],
        update: impl FnOnce(&mut T),
        make: impl FnOnce() -> T,
    ) -> bool {
        self.step();
        if self.ht[0].is_empty() {
            self.ht[0] = buckets(MIN_SIZE);
        }
        let h = hash(key);
        for t in 0..2 {
            let len = self.ht[t].len();
            if len == 0 {
                continue;
            }
            let mut cur = self.ht[t][slot(h, len)].as_deref_mut();
            while let Some(e) = cur {
                if e.item.key() == key {
                    update(&mut e.item);
                    return false;
                }
                cur = e.next.as_deref_mut();
            }
        }
        self.link_new(h, make());
        true
    }

    /// Links `item` (hash `h`, known absent) in, growing the table when it is full;
    /// during a resize new items go to the new array.
    fn link_new(&mut self, h: u64, item: T) {
        if !self.rehashing() && self.len >= self.ht[0].len() {
            self.start_resize(self.ht[0].len() * 2);
        }
        let t = usize::from(self.rehashing());
        let i = slot(h, self.ht[t].len());
        let next = self.ht[t][i].take();
        self.ht[t][i] = Some(Box::new(Entry { next, item }));
        self.len += 1;
        if let Some(l) = &mut self.lens {
            l.inc(t, i);
        }
        self.note_chain(t, i);
    }

    /// Raises array `t`'s chain bound to the length of its chain `i` (just grown;
    /// without lengths kept, the walk is over entries the caller has just touched).
    #[inline]
    fn note_chain(&mut self, t: usize, i: usize) {
        let n = match &self.lens {
            Some(l) if l.0[t][i] < u8::MAX => u32::from(l.0[t][i]),
            _ => chain_len(&self.ht[t][i]),
        };
        if n > self.max_chain[t] {
            self.max_chain[t] = n;
        }
    }

    /// Bucket `i` of array `t` lost an entry.
    #[inline]
    fn note_unlink(&mut self, t: usize, i: usize) {
        if let Some(l) = &mut self.lens {
            let n = &mut l.0[t][i];
            *n = if *n == u8::MAX {
                len_byte(&self.ht[t][i])
            } else {
                n.saturating_sub(1)
            };
        }
    }

    /// Inserts an item whose key is known to be absent.
    pub fn insert_new(&mut self, item: T) {
        self.step();
        if self.ht[0].is_empty() {
            self.ht[0] = buckets(MIN_SIZE);
        }
        self.link_new(hash(item.key()), item);
    }

    /// Removes the item with `key`.
    pub fn remove(&mut self, key: &[u8]) -> Option<T> {
        self.step();
        let (t, i) = self.locate(key)?;
        let removed = unlink(&mut self.ht[t][i], |e| e.item.key() == key)?;
        self.note_unlink(t, i);
        self.len -= 1;
        self.maybe_shrink();
        Some(removed.item)
    }

    fn maybe_shrink(&mut self) {
        // Redis resizes when fewer than 10% of the buckets are used.
        if !self.rehashing() && self.ht[0].len() > MIN_SIZE && self.len * 10 < self.ht[0].len() {
            self.start_resize(self.len.next_power_of_two().max(MIN_SIZE));
        }
    }

    fn start_resize(&mut self, size: usize) {
        if size == self.ht[0].len() {
            return;
        }
        if self.len == 0 {
            self.ht[0] = buckets(size);
            self.max_chain[0] = 0;
            self.lens = (size >= LENS_MIN).then(|| Box::new(Lens([zeros(size), Box::new([])])));
            return;
        }
        self.ht[1] = buckets(size);
        self.max_chain[1] = 0;
        self.rehash_idx = 0;
        match &mut self.lens {
            // Kept through a shrink to a small size, dropped when it completes.
            Some(l) => l.0[1] = zeros(size),
            // Growing past LENS_MIN: count the (fewer than LENS_MIN) old chains.
            None if size >= LENS_MIN => {
                let old: Box<[u8]> = self.ht[0].iter().map(len_byte).collect();
                self.lens = Some(Box::new(Lens([old, zeros(size)])));
            }
            None => {}
        }
    }

    /// Moves one non-empty bucket of the old table (visiting at most 10 empty
    /// ones), as Redis's _dictRehashStep; finishes the resize at the end.
    fn step(&mut self) {
        if !self.rehashing() {
            return;
        }
        let [old, new] = &mut self.ht;
        let mut empty_visits = 10;
        while self.rehash_idx < old.len() && old[self.rehash_idx].is_none() {
            self.rehash_idx += 1;
            empty_visits -= 1;
            if empty_visits == 0 {
                return;
            }
        }
        if let Some(head) = old.get_mut(self.rehash_idx) {
            let mut chain = head.take();
            if let Some(l) = &mut self.lens {
                l.0[0][self.rehash_idx] = 0;
            }
            while let Some(mut e) = chain {
                chain = e.next.take();
                let i = slot(hash(e.item.key()), new.len());
                e.next = new[i].take();
                new[i] = Some(e);
                // A shrink merges chains: keep the new array's bound.
                let n = match &mut self.lens {
                    Some(l) => {
                        l.inc(1, i);
                        match l.0[1][i] {
                            u8::MAX => chain_len(&new[i]),
                            n => u32::from(n),
                        }
                    }
                    None => chain_len(&new[i]),
                };
                if n > self.max_chain[1] {
                    self.max_chain[1] = n;
                }
            }
            self.rehash_idx += 1;
        }
        if self.rehash_idx >= old.len() {
            self.ht[0] = std::mem::replace(&mut self.ht[1], Box::new([]));
            self.max_chain = [self.max_chain[1], 0];
            self.rehash_idx = 0;
            if self.ht[0].len() < LENS_MIN {
                self.lens = None;
            } else if let Some(l) = &mut self.lens {
                l.0[0] = std::mem::replace(&mut l.0[1], Box::new([]));
            }
        }
    }

    /// All items, in table order.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter {
            buckets: self.ht[0].iter().chain(self.ht[1].iter()),
            cur: None,
        }
    }

    /// Visits the items of the bucket(s) at `cursor`; returns the next cursor (0
    /// when done). Items present from the first call to the last are visited at
    /// least once whatever resizes happen in between (Redis's dictScan).
    pub fn scan<'a>(&'a self, cursor: u64, mut f: impl FnMut(&'a T)) -> u64 {
        if self.len == 0 || self.ht[0].is_empty() {
            return 0;
        }
        let mut emit = |tab: &'a Buckets<T>, idx: u64, mask: u64| {
            let mut cur = tab[(idx & mask) as usize].as_deref();
            while let Some(e) = cur {
                f(&e.item);
                cur = e.next.as_deref();
            }
        };
        let mut v = cursor;
        if !self.rehashing() {
            let m0 = (self.ht[0].len() - 1) as u64;
            emit(&self.ht[0], v, m0);
            return next_cursor(v, m0);
        }
        let (small, large) = if self.ht[0].len() <= self.ht[1].len() {
            (&self.ht[0], &self.ht[1])
        } else {
            (&self.ht[1], &self.ht[0])
        };
        let m0 = (small.len() - 1) as u64;
        let m1 = (large.len() - 1) as u64;
        emit(small, v, m0);
        // Then every bucket of the larger table that the small bucket expands to.
        loop {
            emit(large, v, m1);
            v = next_cursor(v, m1);
            if v & (m0 ^ m1) == 0 {
                break;
            }
        }
        v
    }

    /// A uniformly random element, as (array, bucket, position in its chain).
    ///
    /// Picking a bucket and then a chain element would favour elements of short
    /// chains (Redis's set.tcl histogram test catches it). Instead a try draws a
    /// slot (a bucket that may hold entries) and a position below the chain bound,
    /// and succeeds when that position exists: every element has the same chance,
    /// 1 / (slots * bound), per try. Expected tries: slots * bound / len, a small
    /// constant since the load stays above 1/10 and chains short.
    fn random_position(&self, rng: &mut impl rand::Rng) -> Option<(usize, usize, usize)> {
        if self.len == 0 {
            return None;
        }
        let s0 = self.ht[0].len();
        // Buckets of the old array below rehash_idx were moved and are empty.
        let start = if self.rehashing() { self.rehash_idx } else { 0 };
        let slots = s0 + self.ht[1].len() - start;
        let bound = self.max_chain[0].max(self.max_chain[1]).max(1) as usize;
        loop {
            let r = rng.gen_range(0..slots * bound);
            let (h, pos) = (start + r / bound, r % bound);
            let (t, i) = if h >= s0 { (1, h - s0) } else { (0, h) };
            let hit = match &self.lens {
                Some(l) if l.0[t][i] < u8::MAX => pos < usize::from(l.0[t][i]),
                _ => pos < chain_len(&self.ht[t][i]) as usize,
            };
            if hit {
                return Some((t, i, pos));
            }
        }
    }

    /// A random item, every item with the same chance.
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&T> {
        let (t, i, pos) = self.random_position(rng)?;
        let mut cur = self.ht[t][i].as_deref();
        for _ in 0..pos {
            cur = cur?.next.as_deref();
        }
        cur.map(|e| &e.item)
    }

    /// Removes and returns a random item, every item with the same chance.
    pub fn pop_random(&mut self, rng: &mut impl rand::Rng) -> Option<T> {
        self.step();
        let (t, i, pos) = self.random_position(rng)?;
        let mut n = 0;
        let e = unlink(&mut self.ht[t][i], |_| {
            n += 1;
            n > pos
        })?;
        self.note_unlink(t, i);
        self.len -= 1;
        self.maybe_shrink();
        Some(e.item)
    }

    /// Heap bytes: the bucket arrays, the entries and what the items own.
    pub fn heap_size(&self) -> usize {
        let mut n = (self.ht[0].len() + self.ht[1].len()) * std::mem::size_of::<Link<T>>();
        if let Some(l) = &self.lens {
            n += std::mem::size_of::<Lens>() + l.0[0].len() + l.0[1].len();
        }
        for item in self.iter() {
            n += std::mem::size_of::<Entry<T>>() + item.heap();
        }
        n
    }

    /// [`heap_size`](Self::heap_size) estimated from the first `samples` entries
    /// (MEMORY USAGE ... SAMPLES, as Redis's objectComputeSize): exact when they are
    /// all the entries.
    pub fn heap_size_sampled(&self, samples: usize) -> usize {
        if samples >= self.len {
            return self.heap_size();
        }
        let buckets = (self.ht[0].len() + self.ht[1].len()) * std::mem::size_of::<Link<T>>();
        let (mut seen, mut bytes) = (0usize, 0usize);
        for item in self.iter().take(samples.max(1)) {
            bytes += std::mem::size_of::<Entry<T>>() + item.heap();
            seen += 1;
        }
        buckets + (bytes * self.len).checked_div(seen).unwrap_or(0)
    }

    /// Roughly the allocations that freeing the table takes: one per entry (an
    /// item's own long buffer is not counted, so that this stays O(1) on the
    /// delete path that consults it).
    pub fn free_effort(&self) -> usize {
        1 + self.len
    }
}

/// The number of entries in a chain.
fn chain_len<T>(mut cur: &Link<T>) -> u32 {
    let mut n = 0u32;
    while let Some(e) = cur {
        n = n.saturating_add(1);
        cur = &e.next;
    }
    n
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
        for tab in self.ht.iter_mut() {
            for slot in tab.iter_mut() {
                let mut chain = slot.take();
                while let Some(mut e) = chain {
                    chain = e.next.take();
                }
            }
        }
    }
}

/// Iterator over a [`Table`].
pub struct Iter<'a, T> {
    buckets: std::iter::Chain<std::slice::Iter<'a, Link<T>>, std::slice::Iter<'a, Link<T>>>,
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
    fn upsert_inserts_once_and_updates_in_place() {
        let mut t: Table<Pair> = Table::default();
        for round in 0..2u32 {
            for i in 0..500u32 {
                let k = i.to_string();
                let v = format!("{k}:{round}");
                let inserted = t.upsert(
                    k.as_bytes(),
                    |p| p.set_value(v.as_bytes()),
                    || Pair::new(k.as_bytes(), v.as_bytes()),
                );
                assert_eq!(inserted, round == 0);
            }
        }
        assert_eq!(t.len(), 500);
        assert_eq!(t.get(b"7").map(Pair::value), Some(&b"7:1"[..]));
        assert!(!t.insert_if_absent(b"7", || Pair::new(b"7", b"x")));
        assert!(t.insert_if_absent(b"new", || Pair::new(b"new", b"x")));
        assert_eq!(t.len(), 501);
    }

    #[test]
    fn lookups_finish_a_resize_in_progress() {
        // A set that stops growing mid-resize and then only sees re-adds and reads
        // (SADD of present members, SISMEMBER) must not search two arrays forever.
        let mut t: Table<SmallBytes> = Table::default();
        let mut i = 0u32;
        while !(t.rehashing() && t.len() > 1000) {
            assert!(t.insert_if_absent(i.to_string().as_bytes(), || sb(&i.to_string())));
            i += 1;
        }
        for round in 0..t.ht[0].len() {
            let k = (round as u32 % i).to_string();
            assert!(!t.insert_if_absent(k.as_bytes(), || sb(&k)));
            t.rehash_step();
        }
        assert!(!t.rehashing());
        assert_eq!(t.len(), i as usize);
        assert!((0..i).all(|k| t.contains(k.to_string().as_bytes())));
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
        for _ in 0..100 {
            t.step();
        }
        assert!(!t.rehashing() && t.ht[0].len() <= 128);
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

    /// Random operations against a model, with full scans interleaved with the
    /// writes (so they run across incremental resizes in every state).
    #[test]
    fn matches_a_model_through_incremental_resizes() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut t: Table<SmallBytes> = Table::default();
        let mut model: HashSet<Vec<u8>> = HashSet::new();
        let mut scans_while_rehashing = 0;
        for round in 0..40 {
            // Phases of growth and shrinkage.
            let grow = round % 4 < 2;
            let stable: Vec<Vec<u8>> = model.iter().take(50).cloned().collect();
            let mut seen: HashSet<Vec<u8>> = HashSet::new();
            let mut cursor = 0u64;
            loop {
                if t.rehashing() {
                    scans_while_rehashing += 1;
                }
                cursor = t.scan(cursor, |k| {
                    seen.insert(k.as_bytes().to_vec());
                });
                for _ in 0..rng.gen_range(0..60) {
                    let k = format!("k{}", rng.gen_range(0..3000)).into_bytes();
                    if stable.contains(&k) {
                        continue;
                    }
                    if grow || rng.gen_bool(0.2) {
                        if model.insert(k.clone()) {
                            t.insert_new(SmallBytes::new(&k));
                        }
                    } else if model.remove(&k) {
                        assert!(t.remove(&k).is_some());
                    }
                }
                if cursor == 0 {
                    break;
                }
            }
            for k in &stable {
                assert!(seen.contains(k), "scan missed a stable key");
            }
            assert_eq!(t.len(), model.len());
            assert_eq!(t.iter().count(), model.len());
            for k in model.iter().take(100) {
                assert!(t.contains(k));
            }
            if let Some(r) = t.random(&mut rng) {
                assert!(model.contains(r.as_bytes()));
            }
        }
        assert!(scans_while_rehashing > 20, "{scans_while_rehashing}");
    }

    /// Pearson's chi-square of `counts` against a uniform expectation.
    fn chi_square(counts: &[u64]) -> f64 {
        let total: u64 = counts.iter().sum();
        let expected = total as f64 / counts.len() as f64;
        counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum()
    }

    /// A bound the chi-square of a fair pick over `cells` stays under: mean
    /// cells - 1, standard deviation sqrt(2 (cells - 1)); 6 of them is generous.
    fn chi_bound(cells: usize) -> f64 {
        let df = (cells - 1) as f64;
        df + 6.0 * (2.0 * df).sqrt()
    }

    #[test]
    fn random_picks_are_uniform_over_items() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(11);
        // 300 items in 512 buckets: chains of 0, 1, 2, 3..., the case where a
        // bucket-then-chain pick favours items of short chains.
        let mut t: Table<SmallBytes> = Table::default();
        for i in 0..300u32 {
            t.insert_new(sb(&i.to_string()));
        }
        while t.rehashing() {
            t.step();
        }
        let mut counts = vec![0u64; 300];
        for _ in 0..300 * 200 {
            let k = t.random(&mut rng).map(|k| k.as_bytes().to_vec());
            let i: usize = k
                .and_then(|k| String::from_utf8(k).ok())
                .and_then(|k| k.parse().ok())
                .unwrap_or(usize::MAX);
            counts[i] += 1;
        }
        let chi = chi_square(&counts);
        assert!(chi < chi_bound(300), "chi-square {chi}");
    }

    #[test]
    fn random_picks_are_uniform_during_a_resize() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(12);
        let mut t: Table<SmallBytes> = Table::default();
        let mut i = 0u32;
        // Stop right after a resize started: items in both arrays.
        while !(t.rehashing() && t.len() > 200) {
            t.insert_new(sb(&i.to_string()));
            i += 1;
        }
        assert!(t.rehashing());
        let n = t.len();
        let mut counts = vec![0u64; n];
        for _ in 0..n * 200 {
            let k = t.random(&mut rng).map(|k| k.as_bytes().to_vec());
            let i: usize = k
                .and_then(|k| String::from_utf8(k).ok())
                .and_then(|k| k.parse().ok())
                .unwrap_or(usize::MAX);
            counts[i] += 1;
        }
        let chi = chi_square(&counts);
        assert!(chi < chi_bound(n), "chi-square {chi}");
    }

    #[test]
    fn pops_are_uniform_over_items() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        // Which item the first pop of the same 200-item table takes.
        let mut counts = vec![0u64; 200];
        let mut base: Table<SmallBytes> = Table::default();
        for i in 0..200u32 {
            base.insert_new(sb(&i.to_string()));
        }
        for _ in 0..200 * 100 {
            let mut t = base.clone();
            let k = t.pop_random(&mut rng).map(|k| k.as_bytes().to_vec());
            let i: usize = k
                .and_then(|k| String::from_utf8(k).ok())
                .and_then(|k| k.parse().ok())
                .unwrap_or(usize::MAX);
            counts[i] += 1;
        }
        let chi = chi_square(&counts);
        assert!(chi < chi_bound(200), "chi-square {chi}");
    }

    #[test]
    fn chain_bound_covers_every_chain() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(14);
        let mut t: Table<SmallBytes> = Table::default();
        // Grow past LENS_MIN, churn, shrink below it by removals and pops, grow
        // again: the bound and the kept lengths must follow every change.
        let (mut kept, mut dropped) = (0, 0);
        for round in 0..9000u32 {
            match (&t.lens, kept > 0) {
                (Some(_), _) => kept += 1,
                (None, true) => dropped += 1,
                _ => {}
            }
            let k = rng.gen_range(0..2000u32).to_string();
            match round {
                0..=2999 if round % 3 == 2 => {
                    t.remove(k.as_bytes());
                }
                3000..=5999 => {
                    if round % 2 == 0 {
                        t.pop_random(&mut rng);
                    } else {
                        t.remove(k.as_bytes());
                    }
                }
                _ => {
                    if !t.contains(k.as_bytes()) {
                        t.insert_new(sb(&k));
                    }
                }
            }
            for a in 0..2 {
                let longest = t.ht[a].iter().map(chain_len).max().unwrap_or(0);
                assert!(longest <= t.max_chain[a], "array {a}: {longest} > bound");
                match &t.lens {
                    Some(l) => {
                        let real: Vec<u8> = t.ht[a].iter().map(len_byte).collect();
                        assert_eq!(&l.0[a][..], &real[..], "array {a} lengths");
                    }
                    None => assert!(t.ht[0].len() < LENS_MIN || t.ht[0].is_empty()),
                }
            }
        }
        assert!(kept > 1000 && dropped > 100, "{kept} {dropped}");
    }

    #[test]
    fn entries_are_one_small_allocation() {
        assert_eq!(std::mem::size_of::<Entry<Pair>>(), 48);
        assert_eq!(std::mem::size_of::<Entry<SmallBytes>>(), 32);
    }
}
