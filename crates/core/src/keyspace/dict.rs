//! The per-shard hash table: separate chaining over a power-of-two bucket array.
//!
//! Why our own table rather than a std/hashbrown map: SCAN must return every key
//! that is present for the whole iteration even while the table grows or shrinks.
//! With chaining and power-of-two sizes, bucket `b` of a table of size `2^n` splits
//! into buckets `b` and `b + 2^n` when the table doubles, so a cursor that walks
//! bucket indexes in reverse-binary order (Redis's dictScan) never skips a bucket's
//! keys across resizes. The same layout gives uniform random picks (RANDOMKEY):
//! see [`Dict::random`]. An entry is one allocation holding its chain
//! link, key, value and expire time.

pub use crate::keyspace::node::Node;

/// A chained hash table keyed by byte strings, hashed by the caller.
#[derive(Default)]
pub struct Dict {
    table: Vec<Option<Node>>,
    len: usize,
    /// A bound on the chain lengths (never below the longest chain; exact after a
    /// resize, raised by inserts, left as it is by removals): what makes random
    /// picks uniform.
    max_chain: u32,
}

const MIN_SIZE: usize = 4;

impl Dict {
    /// Number of entries.
    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the table is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of buckets.
    pub fn buckets(&self) -> usize {
        self.table.len()
    }

    #[inline]
    fn index(&self, hash: u64) -> usize {
        hash as usize & (self.table.len() - 1)
    }

    /// The entry for `key`.
    #[inline]
    pub fn get(&self, key: &[u8], hash: u64) -> Option<&Node> {
        if self.len == 0 {
            return None;
        }
        let mut cur = self.table[self.index(hash)].as_ref();
        while let Some(n) = cur {
            if n.key() == key {
                return Some(n);
            }
            cur = n.next.as_ref();
        }
        None
    }

    /// The entry for `key`, mutably.
    #[inline]
    pub fn get_mut(&mut self, key: &[u8], hash: u64) -> Option<&mut Node> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(hash);
        let mut cur = &mut self.table[i];
        while cur.as_ref().is_some_and(|n| n.key() != key) {
            cur = cur.as_mut()?.next_mut();
        }
        cur.as_mut()
    }

    /// Inserts an entry whose key is not present (the caller checked).
    pub fn insert_new(&mut self, mut node: Node, hash: u64) -> &mut Node {
        if self.table.is_empty() {
            self.table.resize_with(MIN_SIZE, || None);
        } else if self.len >= self.table.len() {
            self.resize(self.table.len() * 2, hash_of);
        }
        let i = self.index(hash);
        *node.next_mut() = self.table[i].take();
        self.len += 1;
        // The caller has just walked this chain looking for the key: cheap to count.
        let mut n = 1u32;
        let mut cur = node.next.as_ref();
        while let Some(x) = cur {
            n = n.saturating_add(1);
            cur = x.next.as_ref();
        }
        if n > self.max_chain {
            self.max_chain = n;
        }
        self.table[i].insert(node)
    }

    /// Removes and returns the entry for `key`.
    pub fn remove(&mut self, key: &[u8], hash: u64) -> Option<Node> {
        if self.len == 0 {
            return None;
        }
        let i = self.index(hash);
        let mut cur = &mut self.table[i];
        while cur.as_ref().is_some_and(|n| n.key() != key) {
            cur = cur.as_mut()?.next_mut();
        }
        let mut node = cur.take()?;
        *cur = node.next_mut().take();
        self.len -= 1;
        self.maybe_shrink();
        Some(node)
    }

    /// Active defrag: moves the bucket array, then calls `f` on every entry in
    /// place (its chain slot, so that moving the entry updates the link).
    pub fn defrag(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        mut f: impl FnMut(&mut Node, &mut crate::defrag::Mover<'_>),
    ) {
        m.vec(&mut self.table);
        for slot in self.table.iter_mut() {
            let mut cur = slot;
            while let Some(n) = cur {
                f(n, m);
                cur = n.next_mut();
            }
        }
    }

    /// Removes everything, returning the old contents as a dict (to drop elsewhere).
    /// Grows the bucket array to hold `n` entries without resizing again (a
    /// loader that knows how many keys are coming).
    pub fn reserve(&mut self, n: usize) {
        let target = n.next_power_of_two().max(MIN_SIZE);
        if target > self.table.len() {
            if self.table.is_empty() {
                self.table.resize_with(target, || None);
            } else {
                self.resize(target, hash_of);
            }
        }
    }

    pub fn take_all(&mut self) -> Dict {
        std::mem::take(self)
    }

    fn maybe_shrink(&mut self) {
        let size = self.table.len();
        if size > MIN_SIZE && self.len * 8 < size {
            let target = self.len.next_power_of_two().max(MIN_SIZE);
            self.resize(target, hash_of);
        }
    }

    fn resize(&mut self, new_size: usize, hash: impl Fn(&Node) -> u64) {
        let mut new_table: Vec<Option<Node>> = Vec::new();
        new_table.resize_with(new_size, || None);
        // Chain lengths of the new table, for an exact bound again.
        let mut lens = vec![0u32; new_size];
        let mask = new_size - 1;
        for slot in self.table.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut node) = chain {
                chain = node.next_mut().take();
                let i = hash(&node) as usize & mask;
                *node.next_mut() = new_table[i].take();
                new_table[i] = Some(node);
                lens[i] = lens[i].saturating_add(1);
            }
        }
        self.table = new_table;
        self.max_chain = lens.into_iter().max().unwrap_or(0);
    }

    /// Visits the entries of the bucket(s) at `cursor` and returns the next cursor
    /// (0 when the iteration is complete). Keys present from the first call to the
    /// last are visited at least once, whatever resizes happen in between.
    pub fn scan(&self, cursor: u64, mut f: impl FnMut(&Node)) -> u64 {
        if self.table.is_empty() {
            return 0;
        }
        let mask = (self.table.len() - 1) as u64;
        let mut cur = self.table[(cursor & mask) as usize].as_ref();
        while let Some(n) = cur {
            f(n);
            cur = n.next.as_ref();
        }
        next_cursor(cursor, mask)
    }

    /// Like [`scan`](Self::scan) but may remove entries (`f` returns true to remove).
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        mut f: impl FnMut(&mut Node) -> bool,
    ) -> (u64, Vec<Node>) {
        let mut removed = Vec::new();
        if self.table.is_empty() {
            return (0, removed);
        }
        let mask = (self.table.len() - 1) as u64;
        let mut cur = &mut self.table[(cursor & mask) as usize];
        while let Some(node) = cur.as_mut() {
            if f(node) {
                let mut taken = match cur.take() {
                    Some(n) => n,
                    None => break,
                };
                *cur = taken.next_mut().take();
                removed.push(taken);
                self.len -= 1;
            } else {
                cur = cur.as_mut().expect("checked Some above").next_mut();
            }
        }
        let next = next_cursor(cursor, mask);
        if !removed.is_empty() {
            self.maybe_shrink();
        }
        (next, removed)
    }

    /// A random entry, every entry with the same chance (RANDOMKEY).
    ///
    /// A bucket and then a chain element would favour entries of short chains.
    /// Instead a try draws a bucket and a position below the chain bound and
    /// succeeds when that position exists: each entry has the same chance per try,
    /// 1 / (buckets * bound). Expected tries: buckets * bound / len, a small
    /// constant (the load stays above 1/8, chains are short).
    pub fn random(&self, rng: &mut impl rand::Rng) -> Option<&Node> {
        if self.len == 0 {
            return None;
        }
        let bound = self.max_chain.max(1) as usize;
        let slots = self.table.len();
        loop {
            let r = rng.gen_range(0..slots * bound);
            let mut cur = self.table[r / bound].as_ref();
            for _ in 0..r % bound {
                cur = cur.and_then(|n| n.next.as_ref());
            }
            if let Some(n) = cur {
                return Some(n);
            }
        }
    }

    /// Entries of consecutive buckets from bucket `start` (wrapping), at most
    /// `max_buckets` buckets, until `f` has accepted `want` (returning true for
    /// each it takes) — always whole chains: a chain's head is its newest entry,
    /// and stopping there would favour recently inserted keys. Redis's
    /// dictGetSomeKeys, which eviction samples with: not uniform per entry like
    /// [`random`](Self::random), but a few cache lines per sample and no retries
    /// on a table left sparse by deletions.
    pub fn some(
        &self,
        start: usize,
        max_buckets: usize,
        want: usize,
        mut f: impl FnMut(&Node) -> bool,
    ) {
        let n = self.table.len();
        if n == 0 || self.len == 0 {
            return;
        }
        let mut taken = 0;
        for i in 0..max_buckets.min(n) {
            let mut cur = self.table[(start + i) & (n - 1)].as_ref();
            while let Some(node) = cur {
                if f(node) {
                    taken += 1;
                }
                cur = node.next.as_ref();
            }
            if taken >= want {
                return;
            }
        }
    }

    /// Every entry, in bucket order.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.table.iter().flat_map(|slot| {
            let mut cur = slot.as_ref();
            std::iter::from_fn(move || {
                let n = cur?;
                cur = n.next.as_ref();
                Some(n)
            })
        })
    }
}

/// The hash a resize places an entry by: the bucket bits alone (the index never
/// reaches the slot bits, see [`crate::keyspace::hash`]), so no slot is computed.
fn hash_of(n: &Node) -> u64 {
    crate::keyspace::bucket_hash(n.key())
}

/// Redis's reverse-binary cursor increment over the bits under `mask`.
fn next_cursor(mut v: u64, mask: u64) -> u64 {
    v |= !mask;
    v = v.reverse_bits();
    v = v.wrapping_add(1);
    v.reverse_bits()
}

impl Drop for Dict {
    fn drop(&mut self) {
        // Unlink chains iteratively so that a long chain cannot overflow the stack.
        for slot in self.table.iter_mut() {
            let mut chain = slot.take();
            while let Some(mut n) = chain {
                chain = n.next_mut().take();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::hash_key;
    use crate::types::string::StrValue;
    use crate::types::Value;
    use std::collections::HashSet;

    fn put(d: &mut Dict, k: &[u8]) {
        let h = hash_key(k);
        if d.get(k, h).is_none() {
            d.insert_new(Node::new(k, 0, Value::Str(StrValue::from_bytes(k))), h);
        }
    }

    #[test]
    fn insert_get_remove() {
        let mut d = Dict::default();
        for i in 0..1000 {
            put(&mut d, format!("k{i}").as_bytes());
        }
        assert_eq!(d.len(), 1000);
        for i in 0..1000 {
            let k = format!("k{i}");
            assert!(d.get(k.as_bytes(), hash_key(k.as_bytes())).is_some());
        }
        for i in 0..990 {
            let k = format!("k{i}");
            assert!(d.remove(k.as_bytes(), hash_key(k.as_bytes())).is_some());
        }
        assert_eq!(d.len(), 10);
        assert!(d.buckets() <= 16);
        assert_eq!(d.iter().count(), 10);
    }

    #[test]
    fn scan_survives_resizes() {
        let mut d = Dict::default();
        for i in 0..200 {
            put(&mut d, format!("stay{i}").as_bytes());
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut step = 0;
        loop {
            cursor = d.scan(cursor, |n| {
                seen.insert(n.key().to_vec());
            });
            step += 1;
            // Grow and shrink the table while iterating.
            if step % 3 == 0 {
                for j in 0..300 {
                    put(&mut d, format!("tmp{step}-{j}").as_bytes());
                }
            } else if step % 3 == 1 {
                let tmp: Vec<Vec<u8>> = d
                    .iter()
                    .map(|n| n.key().to_vec())
                    .filter(|k| k.starts_with(b"tmp"))
                    .collect();
                for k in tmp {
                    d.remove(&k, hash_key(&k));
                }
            }
            if cursor == 0 {
                break;
            }
        }
        for i in 0..200 {
            assert!(
                seen.contains(format!("stay{i}").as_bytes()),
                "missed stay{i}"
            );
        }
    }

    #[test]
    fn random_picks_are_uniform_over_entries() {
        use rand::SeedableRng;
        let mut rng = rand::rngs::StdRng::seed_from_u64(21);
        let mut d = Dict::default();
        // Grow to 512 buckets, then remove down to chains of mixed lengths.
        for i in 0..400 {
            put(&mut d, format!("{i}").as_bytes());
        }
        for i in 300..400 {
            let k = format!("{i}");
            d.remove(k.as_bytes(), hash_key(k.as_bytes()));
        }
        let mut counts = vec![0u64; 300];
        for _ in 0..300 * 200 {
            let i: usize = d
                .random(&mut rng)
                .and_then(|n| std::str::from_utf8(n.key()).ok()?.parse().ok())
                .unwrap_or(usize::MAX);
            counts[i] += 1;
        }
        let expected = 200.0;
        let chi: f64 = counts
            .iter()
            .map(|&c| (c as f64 - expected).powi(2) / expected)
            .sum();
        // Mean 299, standard deviation about 24.5: a generous bound.
        assert!(chi < 299.0 + 6.0 * 24.5, "chi-square {chi}");
    }

    #[test]
    fn chain_bound_covers_every_chain() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(22);
        let mut d = Dict::default();
        for round in 0..4000u32 {
            let k = rng.gen_range(0..1500u32).to_string();
            if round % 3 == 2 {
                d.remove(k.as_bytes(), hash_key(k.as_bytes()));
            } else {
                put(&mut d, k.as_bytes());
            }
            let longest = d
                .table
                .iter()
                .map(|slot| {
                    let mut n = 0u32;
                    let mut cur = slot.as_ref();
                    while let Some(x) = cur {
                        n += 1;
                        cur = x.next.as_ref();
                    }
                    n
                })
                .max()
                .unwrap_or(0);
            assert!(longest <= d.max_chain, "{longest} > {}", d.max_chain);
        }
    }
}
