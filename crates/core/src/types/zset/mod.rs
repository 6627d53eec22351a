//! The sorted set type: a small packed form (OBJECT ENCODING `listpack`) and a large
//! form with a hash index and an order-statistics tree (`skiplist`), converted at
//! the points Redis 7.0 converts (see [`ZSetValue::add`] and
//! [`ZSetValue::from_sorted_result`]).
//!
//! The API below is what commands (and GEO) use: insert/update with a score,
//! remove, score lookup, rank, ranges by rank / score / lex, counts, iteration.

mod big;
pub mod commands;
mod packed;
mod pop;
pub mod range;
mod setops;
mod tree;

use crate::config::{Config, P};
use big::Big;
use packed::Packed;
pub use range::{LexBound, LexRange, ScoreRange};

/// The conversion thresholds (`zset-max-listpack-entries` / `-value`).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most entries of a listpack zset.
    pub entries: usize,
    /// Longest member of a listpack zset.
    pub value: usize,
}

impl Limits {
    /// The thresholds currently configured.
    pub fn from_config(config: &Config) -> Limits {
        Limits {
            entries: config.int(P::ZsetMaxListpackEntries).max(0) as usize,
            value: config.int(P::ZsetMaxListpackValue).max(0) as usize,
        }
    }
}

#[derive(Debug, Clone)]
enum Repr {
    Packed(Packed),
    Big(Box<Big>),
}

/// A zset value.
#[derive(Debug, Clone)]
pub struct ZSetValue {
    repr: Repr,
}

impl Default for ZSetValue {
    fn default() -> Self {
        ZSetValue::new()
    }
}

/// What [`ZSetValue::add`] did.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AddOutcome {
    /// The member was new.
    Added,
    /// The member existed with another score (the old one).
    Updated(f64),
    /// The member existed with an equal score.
    Unchanged,
}

impl ZSetValue {
    /// An empty zset in the small encoding (what Redis creates for a new key).
    pub fn new() -> ZSetValue {
        ZSetValue {
            repr: Repr::Packed(Packed::default()),
        }
    }

    /// Builds a zset from plain pairs (RDB load, DUMP/RESTORE), choosing the encoding
    /// as Redis does after loading. Later duplicates of a member replace earlier ones.
    pub fn from_pairs(pairs: Vec<(Vec<u8>, f64)>, config: &Config) -> ZSetValue {
        let limits = Limits::from_config(config);
        let mut big = Big::with_capacity(pairs.len());
        for (m, s) in pairs {
            let s = if s.is_nan() { 0.0 } else { s };
            if big.score(&m).is_some() {
                big.update(&m, s);
            } else {
                big.insert_new(&m, s);
            }
        }
        ZSetValue::finish_big(big, limits)
    }

    /// Builds a store command's result (ZUNIONSTORE, ZRANGESTORE, ...) from pairs with
    /// distinct members, encoded as Redis 7.0 encodes such a destination: listpack
    /// when it has at most `entries` members, none longer than `value`.
    pub fn from_sorted_result(pairs: Vec<(Vec<u8>, f64)>, limits: Limits) -> ZSetValue {
        let mut big = Big::with_capacity(pairs.len());
        for (m, s) in pairs {
            big.insert_new(&m, s);
        }
        ZSetValue::finish_big(big, limits)
    }

    fn finish_big(big: Big, limits: Limits) -> ZSetValue {
        let mut fits = big.len() <= limits.entries;
        if fits {
            big.visit(0, big.len(), false, &mut |m, _| {
                fits = m.len() <= limits.value;
                fits
            });
        }
        if !fits {
            return ZSetValue {
                repr: Repr::Big(Box::new(big)),
            };
        }
        let mut p = Packed::default();
        // Appending in order: each insert scans to the end, fine for listpack sizes.
        big.visit(0, big.len(), false, &mut |m, s| {
            p.insert_new(m, s);
            true
        });
        ZSetValue {
            repr: Repr::Packed(p),
        }
    }

    /// Calls `f(member, score)` on every member in ascending (score, member) order.
    pub fn for_each(&self, mut f: impl FnMut(&[u8], f64)) {
        self.visit(0, self.len(), false, &mut |m, s| {
            f(m, s);
            true
        });
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        match self.repr {
            Repr::Packed(_) => "listpack",
            Repr::Big(_) => "skiplist",
        }
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.len(),
            Repr::Big(b) => b.len(),
        }
    }

    /// Whether it has no members (a key never holds an empty zset).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The score of `member`.
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match &self.repr {
            Repr::Packed(p) => p.score(member),
            Repr::Big(b) => b.score(member),
        }
    }

    /// The ascending 0-based rank of `member`, and its score.
    pub fn rank(&self, member: &[u8]) -> Option<(usize, f64)> {
        match &self.repr {
            Repr::Packed(p) => p.rank(member),
            Repr::Big(b) => b.rank(member),
        }
    }

    /// The member and score at ascending `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match &self.repr {
            Repr::Packed(p) => p.get(rank),
            Repr::Big(b) => b.get(rank),
        }
    }

    /// Converts to the large form (also SORT's doing: Redis 7.0 converts a sorted
    /// set it sorts, whatever its size).
    pub fn convert_to_big(&mut self) {
        if let Repr::Packed(p) = &self.repr {
            let mut big = Big::with_capacity(p.len() + 1);
            for (_, m, s) in p.iter() {
                big.insert_new(m, s);
            }
            self.repr = Repr::Big(Box::new(big));
        }
    }

    /// Sets `member`'s score (`score` must not be NaN), converting to the large form
    /// exactly when Redis's zsetAdd does: before inserting a new member that would
    /// make the listpack longer than `entries` or that is longer than `value`.
    pub fn add(&mut self, member: &[u8], score: f64, limits: Limits) -> AddOutcome {
        if let Some(old) = self.score(member) {
            if old == score {
                return AddOutcome::Unchanged;
            }
            match &mut self.repr {
                Repr::Packed(p) => {
                    p.remove(member);
                    p.insert_new(member, score);
                }
                Repr::Big(b) => {
                    b.update(member, score);
                }
            }
            return AddOutcome::Updated(old);
        }
        if let Repr::Packed(p) = &self.repr {
            if p.len() + 1 > limits.entries || member.len() > limits.value {
                self.convert_to_big();
            }
        }
        match &mut self.repr {
            Repr::Packed(p) => p.insert_new(member, score),
            Repr::Big(b) => b.insert_new(member, score),
        }
        AddOutcome::Added
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let r = match &mut self.repr {
            Repr::Packed(p) => p.remove(member),
            Repr::Big(b) => b.remove(member),
        };
        self.after_remove();
        r
    }

    /// Removes the member at ascending `rank`; returns it with its score.
    pub fn remove_at(&mut self, rank: usize) -> Option<(Vec<u8>, f64)> {
        let r = match &mut self.repr {
            Repr::Packed(p) => p.remove_at(rank),
            Repr::Big(b) => b.remove_at(rank),
        };
        self.after_remove();
        r
    }

    /// Removes ranks `start..end`; returns how many were removed.
    pub fn remove_range(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        let mut n = 0;
        while start + n < end {
            let r = match &mut self.repr {
                Repr::Packed(p) => p.remove_at(start),
                Repr::Big(b) => b.remove_at(start),
            };
            if r.is_none() {
                break;
            }
            n += 1;
        }
        self.after_remove();
        n
    }

    fn after_remove(&mut self) {
        if let Repr::Packed(p) = &mut self.repr {
            p.shrink();
        }
    }

    /// How many members satisfy `pred`, which must hold for a prefix of the
    /// (score, member) order (e.g. "score < x"). O(log n) in the large form.
    pub fn partition_point(&self, pred: &dyn Fn(&[u8], f64) -> bool) -> usize {
        match &self.repr {
            Repr::Packed(p) => p
                .iter()
                .position(|(_, m, s)| !pred(m, s))
                .unwrap_or(p.len()),
            Repr::Big(b) => b.partition_point(pred),
        }
    }

    /// The ranks `start..end` of the members within a score range.
    pub fn score_range_ranks(&self, r: &ScoreRange) -> (usize, usize) {
        let lo = self.partition_point(&|_, s| r.below_min(s));
        let hi = self.partition_point(&|_, s| !r.above_max(s));
        (lo, hi.max(lo))
    }

    /// The ranks `start..end` of the members within a lex range (meaningful when all
    /// scores are equal, as in Redis).
    pub fn lex_range_ranks(&self, r: &LexRange) -> (usize, usize) {
        let lo = self.partition_point(&|m, _| r.below_min(m));
        let hi = self.partition_point(&|m, _| !r.above_max(m));
        (lo, hi.max(lo))
    }

    /// Visits ranks `start..end` ascending, or descending from `end - 1` when `rev`,
    /// while `f` returns true.
    pub fn visit(
        &self,
        start: usize,
        end: usize,
        rev: bool,
        f: &mut dyn FnMut(&[u8], f64) -> bool,
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        match &self.repr {
            Repr::Packed(p) => {
                if rev {
                    let all: Vec<(&[u8], f64)> = p
                        .iter()
                        .skip(start)
                        .take(end - start)
                        .map(|(_, m, s)| (m, s))
                        .collect();
                    for (m, s) in all.into_iter().rev() {
                        if !f(m, s) {
                            return;
                        }
                    }
                } else {
                    for (_, m, s) in p.iter().skip(start).take(end - start) {
                        if !f(m, s) {
                            return;
                        }
                    }
                }
            }
            Repr::Big(b) => b.visit(start, end, rev, f),
        }
    }

    /// Ranks `start..end` (descending when `rev`) as owned pairs.
    pub fn collect_range(&self, start: usize, end: usize, rev: bool) -> Vec<(Vec<u8>, f64)> {
        let mut out = Vec::with_capacity(end.saturating_sub(start).min(self.len()));
        self.visit(start, end, rev, &mut |m, s| {
            out.push((m.to_vec(), s));
            true
        });
        out
    }

    /// One ZSCAN step: the small form returns everything with cursor 0, as Redis's
    /// listpack does; the large form walks its hash table from `cursor`, at most
    /// `count` members (and `count * 10` buckets). Returns the next cursor.
    pub fn scan(&self, cursor: u64, count: usize, f: &mut dyn FnMut(&[u8], f64)) -> u64 {
        match &self.repr {
            Repr::Packed(p) => {
                for (_, m, s) in p.iter() {
                    f(m, s);
                }
                0
            }
            Repr::Big(b) => {
                let mut cursor = cursor;
                let mut seen = 0usize;
                let mut budget = count.saturating_mul(10);
                loop {
                    cursor = b.scan(cursor, &mut |m, s| {
                        seen += 1;
                        f(m, s)
                    });
                    budget = budget.saturating_sub(1);
                    if cursor == 0 || budget == 0 || seen >= count {
                        return cursor;
                    }
                }
            }
        }
    }

    /// Bytes owned on the heap (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        match &self.repr {
            Repr::Packed(p) => p.heap_size(),
            Repr::Big(b) => b.heap_size() + std::mem::size_of::<Big>(),
        }
    }

    /// Roughly how many allocations freeing it takes (for lazyfree).
    pub fn free_effort(&self) -> usize {
        match &self.repr {
            Repr::Packed(_) => 1,
            Repr::Big(b) => b.free_effort(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(entries: usize, value: usize) -> Limits {
        Limits { entries, value }
    }

    fn all(z: &ZSetValue) -> Vec<(Vec<u8>, f64)> {
        let mut v = Vec::new();
        z.for_each(|m, s| v.push((m.to_vec(), s)));
        v
    }

    #[test]
    fn converts_like_redis() {
        let l = limits(3, 5);
        let mut z = ZSetValue::new();
        for (i, m) in ["a", "b", "c"].iter().enumerate() {
            assert_eq!(z.add(m.as_bytes(), i as f64, l), AddOutcome::Added);
        }
        assert_eq!(z.encoding(), "listpack");
        assert_eq!(z.add(b"a", 5.0, l), AddOutcome::Updated(0.0));
        assert_eq!(z.add(b"a", 5.0, l), AddOutcome::Unchanged);
        assert_eq!(z.encoding(), "listpack");
        z.add(b"d", 0.5, l);
        assert_eq!(z.encoding(), "skiplist");
        // Shrinking never converts back.
        z.remove(b"d");
        z.remove(b"b");
        assert_eq!(z.encoding(), "skiplist");
        let mut y = ZSetValue::new();
        y.add(b"toolong", 1.0, l);
        assert_eq!(y.encoding(), "skiplist");
        let r = ZSetValue::from_sorted_result(vec![(b"x".to_vec(), 1.0)], l);
        assert_eq!(r.encoding(), "listpack");
    }

    #[test]
    fn both_forms_agree() {
        let mut small = ZSetValue::new();
        let mut large = ZSetValue::new();
        let (ls, ll) = (limits(1000, 64), limits(0, 0));
        let mut x: u64 = 1;
        for _ in 0..300 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let m = format!("m{}", x % 97);
            let s = [(x >> 20) % 7, 0, 3][(x % 3) as usize] as f64 - 3.0;
            if x % 5 == 0 {
                assert_eq!(small.remove(m.as_bytes()), large.remove(m.as_bytes()));
            } else {
                assert_eq!(
                    small.add(m.as_bytes(), s, ls),
                    large.add(m.as_bytes(), s, ll)
                );
            }
            assert_eq!(all(&small), all(&large));
        }
        assert_eq!(small.encoding(), "listpack");
        assert_eq!(large.encoding(), "skiplist");
        let r = ScoreRange::parse(b"(-2", b"1").unwrap();
        assert_eq!(small.score_range_ranks(&r), large.score_range_ranks(&r));
        for i in 0..small.len() {
            assert_eq!(small.get(i), large.get(i));
            let (m, _) = small.get(i).unwrap();
            assert_eq!(small.rank(m), large.rank(m));
        }
        assert_eq!(
            small.collect_range(3, 40, true),
            large.collect_range(3, 40, true)
        );
    }
}
