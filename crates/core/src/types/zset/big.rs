//! The large zset (Redis's `skiplist` encoding): members live once, in a slab of
//! entries; a chained hash table over slab slots finds a member's score in O(1) and
//! an order-statistics tree of `(score, slot)` items gives ranks and ranges in
//! O(log n) (score comparisons need no slab access; only ties read members).
//!
//! Members of up to [`INLINE`] bytes are stored inside their slab entry, so a set of
//! short members needs no allocation per member: about 40 bytes of slab, 4-8 bytes
//! of buckets and ~22 bytes of tree per member, ~70-80 in all (Redis: ~100-130
//! bytes per member for its skiplist node, dict entry and sds).

use std::cmp::Ordering;

use super::tree::Tree;

/// Longest member kept inline in its entry.
const INLINE: usize = 22;
/// End of a bucket chain.
const NIL: u32 = u32::MAX;

/// A member's bytes: inline when short.
#[derive(Clone)]
enum Member {
    Inline { len: u8, buf: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Member {
    fn new(b: &[u8]) -> Member {
        if b.len() <= INLINE {
            let mut buf = [0u8; INLINE];
            buf[..b.len()].copy_from_slice(b);
            Member::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Member::Heap(b.into())
        }
    }

    #[inline]
    fn bytes(&self) -> &[u8] {
        match self {
            Member::Inline { len, buf } => &buf[..*len as usize],
            Member::Heap(b) => b,
        }
    }
}

#[derive(Clone)]
struct Entry {
    member: Member,
    score: f64,
    /// Next slot in the same bucket.
    next: u32,
}

/// Redis's zset order: by score, ties by member bytes.
#[inline]
pub(crate) fn cmp_key(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    s1.partial_cmp(&s2)
        .unwrap_or(Ordering::Equal)
        .then_with(|| m1.cmp(m2))
}

#[inline]
fn hash(member: &[u8]) -> u64 {
    crate::keyspace::hash_key(member)
}

/// The large form.
#[derive(Clone, Default)]
pub(crate) struct Big {
    slab: Vec<Entry>,
    /// Free slab slots.
    free: Vec<u32>,
    /// Heads of the bucket chains; a power of two long (or empty).
    buckets: Vec<u32>,
    tree: Tree,
    /// Members stored out of line, and their bytes (O(1) heap_size / free_effort).
    heap_members: usize,
    heap_bytes: usize,
}

impl std::fmt::Debug for Big {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Big({} members)", self.len())
    }
}

impl Big {
    pub(crate) fn with_capacity(n: usize) -> Big {
        let mut b = Big {
            slab: Vec::with_capacity(n),
            ..Big::default()
        };
        b.buckets = vec![NIL; n.max(4).next_power_of_two()];
        b
    }

    pub(crate) fn len(&self) -> usize {
        self.tree.len()
    }

    /// Active defrag of slab slots `from..from + units` (their out-of-line
    /// members; the slab, buckets, free list and tree with the first step):
    /// where to go on from, or `None` when done.
    pub(crate) fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        if from == 0 {
            m.vec(&mut self.slab);
            m.vec(&mut self.free);
            m.vec(&mut self.buckets);
            self.tree.defrag(m);
        }
        let (range, next) = crate::defrag::span(from, units, self.slab.len());
        for e in &mut self.slab[range] {
            if let Member::Heap(b) = &mut e.member {
                m.boxed_slice(b);
            }
        }
        next
    }

    #[inline]
    fn entry(&self, slot: u32) -> (&[u8], f64) {
        let e = &self.slab[slot as usize];
        (e.member.bytes(), e.score)
    }

    fn find(&self, member: &[u8]) -> Option<u32> {
        if self.buckets.is_empty() {
            return None;
        }
        let mask = self.buckets.len() as u64 - 1;
        let mut s = self.buckets[(hash(member) & mask) as usize];
        while s != NIL {
            let e = &self.slab[s as usize];
            if e.member.bytes() == member {
                return Some(s);
            }
            s = e.next;
        }
        None
    }

    /// The score of `member`.
    pub(crate) fn score(&self, member: &[u8]) -> Option<f64> {
        self.find(member).map(|s| self.slab[s as usize].score)
    }

    /// Whether the tree item `(s, h)` sorts before `(score, member)`; the slab is
    /// only read on a score tie.
    #[inline]
    fn item_before(slab: &[Entry], (s, h): (f64, u32), score: f64, member: &[u8]) -> bool {
        match s.partial_cmp(&score) {
            Some(Ordering::Less) => true,
            Some(Ordering::Greater) => false,
            _ => slab[h as usize].member.bytes() < member,
        }
    }

    /// The 0-based ascending rank of `(score, member)`, which must be present.
    fn rank_of(&self, score: f64, member: &[u8]) -> usize {
        let slab = &self.slab;
        self.tree
            .partition_point(&|it| Self::item_before(slab, it, score, member))
    }

    /// The rank and score of `member`.
    pub(crate) fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        let score = self.score(member)?;
        Some((self.rank_of(score, member), score))
    }

    /// The member and score at `rank`.
    pub(crate) fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        self.tree.get(rank).map(|(_, h)| self.entry(h))
    }

    fn grow(&mut self) {
        let size = (self.buckets.len() * 2).max(4);
        self.buckets = vec![NIL; size];
        let mask = size as u64 - 1;
        // Re-chain every live slot (reachable through the tree).
        let mut live = Vec::with_capacity(self.len());
        self.tree.for_range(0, self.len(), &mut |(_, h)| {
            live.push(h);
            true
        });
        for h in live {
            let b = (hash(self.slab[h as usize].member.bytes()) & mask) as usize;
            self.slab[h as usize].next = self.buckets[b];
            self.buckets[b] = h;
        }
    }

    /// Inserts a member known to be absent.
    pub(crate) fn insert_new(&mut self, member: &[u8], score: f64) {
        if self.len() + 1 > self.buckets.len() {
            self.grow();
        }
        let mask = self.buckets.len() as u64 - 1;
        let b = (hash(member) & mask) as usize;
        if member.len() > INLINE {
            self.heap_members += 1;
            self.heap_bytes += member.len();
        }
        let entry = Entry {
            member: Member::new(member),
            score,
            next: self.buckets[b],
        };
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = entry;
                s
            }
            None => {
                self.slab.push(entry);
                (self.slab.len() - 1) as u32
            }
        };
        self.buckets[b] = slot;
        let slab = &self.slab;
        self.tree.insert((score, slot), &|it| {
            Self::item_before(slab, it, score, member)
        });
    }

    /// Unlinks `slot` from its bucket chain and frees it.
    fn unlink(&mut self, slot: u32) {
        let mask = self.buckets.len() as u64 - 1;
        let b = (hash(self.slab[slot as usize].member.bytes()) & mask) as usize;
        let next = self.slab[slot as usize].next;
        if self.buckets[b] == slot {
            self.buckets[b] = next;
        } else {
            let mut s = self.buckets[b];
            while s != NIL {
                if self.slab[s as usize].next == slot {
                    self.slab[s as usize].next = next;
                    break;
                }
                s = self.slab[s as usize].next;
            }
        }
        if let Member::Heap(b) = &self.slab[slot as usize].member {
            self.heap_members -= 1;
            self.heap_bytes -= b.len();
        }
        self.slab[slot as usize].member = Member::new(b"");
        if slot as usize + 1 == self.slab.len() {
            self.slab.pop();
        } else {
            self.free.push(slot);
        }
        // Keep the table from staying huge after mass removals.
        if self.buckets.len() > 64 && self.len() * 8 < self.buckets.len() {
            let size = (self.len().max(4)).next_power_of_two() * 2;
            self.buckets = vec![NIL; size / 2];
            self.grow();
        }
    }

    /// Changes the score of a present member; returns the old one.
    pub(crate) fn update(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let slot = self.find(member)?;
        let old = self.slab[slot as usize].score;
        if old.to_bits() == score.to_bits() {
            return Some(old);
        }
        let rank = self.rank_of(old, member);
        self.tree.remove_at(rank);
        self.slab[slot as usize].score = score;
        let slab = &self.slab;
        self.tree.insert((score, slot), &|it| {
            Self::item_before(slab, it, score, member)
        });
        Some(old)
    }

    /// Removes `member`; returns its score.
    pub(crate) fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let slot = self.find(member)?;
        let score = self.slab[slot as usize].score;
        let rank = self.rank_of(score, member);
        self.tree.remove_at(rank);
        self.unlink(slot);
        Some(score)
    }

    /// Removes the member at `rank`; returns it and its score.
    pub(crate) fn remove_at(&mut self, rank: usize) -> Option<(Vec<u8>, f64)> {
        let (_, slot) = self.tree.remove_at(rank)?;
        let (m, s) = self.entry(slot);
        let out = (m.to_vec(), s);
        self.unlink(slot);
        Some(out)
    }

    /// How many members satisfy `pred` (which holds for a prefix of the order).
    pub(crate) fn partition_point(&self, pred: &dyn Fn(&[u8], f64) -> bool) -> usize {
        self.tree
            .partition_point(&|(s, h)| pred(self.entry(h).0, s))
    }

    /// [`partition_point`](Self::partition_point) for a predicate on the score
    /// alone: no slab access.
    pub(crate) fn partition_point_score(&self, pred: &dyn Fn(f64) -> bool) -> usize {
        self.tree.partition_point(&|(s, _)| pred(s))
    }

    /// Visits ranks `start..end`, ascending or (`rev`) descending, while `f` says so.
    pub(crate) fn visit(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        f: &mut dyn FnMut(&[u8], f64) -> bool,
    ) {
        let mut g = |(s, h): (f64, u32)| f(self.entry(h).0, s);
        if rev {
            self.tree.for_range_rev(start, end, &mut g);
        } else {
            self.tree.for_range(start, end, &mut g);
        }
    }

    /// One step of a SCAN over the hash table (Redis's reverse-binary cursor, so a
    /// member present for the whole iteration is returned even across resizes).
    pub(crate) fn scan(&self, cursor: u64, f: &mut dyn FnMut(&[u8], f64)) -> u64 {
        if self.buckets.is_empty() {
            return 0;
        }
        let mask = self.buckets.len() as u64 - 1;
        let mut s = self.buckets[(cursor & mask) as usize];
        while s != NIL {
            let e = &self.slab[s as usize];
            f(e.member.bytes(), e.score);
            s = e.next;
        }
        let mut v = cursor | !mask;
        v = v.reverse_bits();
        v = v.wrapping_add(1);
        v.reverse_bits()
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.slab.capacity() * std::mem::size_of::<Entry>()
            + self.free.capacity() * 4
            + self.buckets.capacity() * 4
            + self.tree.heap_size()
            + self.heap_bytes
    }

    pub(crate) fn free_effort(&self) -> usize {
        // Slab, buckets, free list, about one tree node per 32 members, and each
        // out-of-line member.
        3 + self.len() / 32 + self.heap_members
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_scores_ranks() {
        let mut b = Big::default();
        for i in 0..1000u32 {
            let m = format!("member-{:04}", (i * 37) % 1000);
            b.insert_new(m.as_bytes(), f64::from(i % 10));
        }
        assert_eq!(b.len(), 1000);
        assert_eq!(b.score(b"member-0037"), Some(1.0));
        // Order: by score, then member.
        let mut prev: Option<(Vec<u8>, f64)> = None;
        b.visit(0, 1000, false, &mut |m, s| {
            if let Some((pm, ps)) = &prev {
                assert_eq!(cmp_key(*ps, pm, s, m), Ordering::Less);
            }
            prev = Some((m.to_vec(), s));
            true
        });
        let (r, s) = b.rank(b"member-0037").unwrap();
        assert_eq!(b.get(r), Some((&b"member-0037"[..], s)));
        assert_eq!(b.update(b"member-0037", -1.0), Some(1.0));
        assert_eq!(b.rank(b"member-0037"), Some((0, -1.0)));
        assert_eq!(b.remove(b"member-0037"), Some(-1.0));
        assert_eq!(b.score(b"member-0037"), None);
        let long = vec![b'x'; 100];
        b.insert_new(&long, f64::INFINITY);
        assert_eq!(b.rank(&long), Some((999, f64::INFINITY)));
        // A full scan visits every member once.
        let mut seen = std::collections::HashSet::new();
        let mut c = 0;
        loop {
            c = b.scan(c, &mut |m, _| assert!(seen.insert(m.to_vec())));
            if c == 0 {
                break;
            }
        }
        assert_eq!(seen.len(), 1000);
        while b.len() > 0 {
            b.remove_at(b.len() / 2).unwrap();
        }
        assert_eq!(b.score(&long), None);
    }

    #[test]
    fn interleaved_operations_match_a_model() {
        use std::collections::BTreeMap;
        // Model: member -> score, ordered view rebuilt on demand.
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        let mut b = Big::default();
        let mut x: u64 = 7;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for step in 0..40_000 {
            let r = next();
            let m = format!("{:0width$}", r % 3000, width = (r % 40) as usize % 30).into_bytes();
            let score = [0.0, 1.0, -1.0, f64::INFINITY, (r % 17) as f64][(r >> 8) as usize % 5];
            match (r >> 16) % 4 {
                0 | 1 => {
                    if model.contains_key(&m) {
                        b.update(&m, score);
                    } else {
                        b.insert_new(&m, score);
                    }
                    model.insert(m, score);
                }
                2 => assert_eq!(b.remove(&m), model.remove(&m)),
                _ => {
                    if !model.is_empty() {
                        let rank = (r >> 20) as usize % model.len();
                        let mut sorted: Vec<(f64, Vec<u8>)> =
                            model.iter().map(|(m, s)| (*s, m.clone())).collect();
                        sorted.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
                        let (s, m) = sorted[rank].clone();
                        assert_eq!(b.remove_at(rank), Some((m.clone(), s)));
                        model.remove(&m);
                    }
                }
            }
            assert_eq!(b.len(), model.len());
            if step % 997 == 0 {
                let mut sorted: Vec<(f64, Vec<u8>)> =
                    model.iter().map(|(m, s)| (*s, m.clone())).collect();
                sorted.sort_by(|a, b| cmp_key(a.0, &a.1, b.0, &b.1));
                let mut got = Vec::new();
                b.visit(0, b.len(), false, &mut |m, s| {
                    got.push((s, m.to_vec()));
                    true
                });
                assert_eq!(got, sorted);
                for (i, (s, m)) in sorted.iter().enumerate().step_by(37) {
                    assert_eq!(b.rank(m), Some((i, *s)));
                }
                let below = sorted.iter().filter(|(s, _)| *s < 1.0).count();
                assert_eq!(b.partition_point_score(&|s| s < 1.0), below);
            }
        }
    }
}
