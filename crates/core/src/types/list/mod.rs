//! The list type: a chunked list of packed nodes (Redis's quicklist of listpacks).
//!
//! Redis 7.0 reports every list as `quicklist` (the `listpack` list encoding arrived
//! in 7.2), so OBJECT ENCODING is fixed; a small list is simply one packed node.
//! Nodes are filled by Redis's rule for `list-max-listpack-size` (negative: a byte
//! budget of 4..64 KiB per node; positive: entries per node, within 8 KiB), captured
//! when the list is created as quicklistSetOptions does.

pub mod commands;
pub mod packed;

use std::collections::VecDeque;

use crate::config::{Config, P};
use packed::{encoded_len, Node};
pub use packed::{Elem, Needle};

/// Byte budgets of fill -1..-5.
const SIZE_LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
/// Most bytes a node takes when the fill counts entries.
const SIZE_SAFETY_LIMIT: usize = 8192;
/// Largest positive fill (quicklist's FILL_MAX).
const FILL_MAX: i64 = 1 << 15;

/// A list value.
#[derive(Debug, Clone, Default)]
pub struct ListValue {
    nodes: VecDeque<Node>,
    len: usize,
    fill: i32,
}

impl ListValue {
    /// An empty list with the node fill configured now.
    pub fn new(config: &Config) -> ListValue {
        ListValue::with_fill(config.int(P::ListMaxListpackSize))
    }

    /// An empty list with node fill `fill` (clamped as quicklistSetFill does).
    pub fn with_fill(fill: i64) -> ListValue {
        ListValue {
            nodes: VecDeque::new(),
            len: 0,
            fill: fill.clamp(-5, FILL_MAX) as i32,
        }
    }

    /// A list of `items` in order (RDB loading).
    pub fn from_items(items: Vec<Vec<u8>>, config: &Config) -> ListValue {
        let mut l = ListValue::new(config);
        for it in &items {
            l.push_back(it);
        }
        l
    }

    /// Calls `f` with every element, head to tail.
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        for e in self.iter() {
            e.with_bytes(&mut f);
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the list has no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The OBJECT ENCODING name, as Redis 7.0 reports it for the same data.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Active defrag of nodes `from..from + units` (the node array with the
    /// first step): where to go on from, or `None` when done.
    pub fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        if from == 0 {
            m.deque(&mut self.nodes);
        }
        let (range, next) = crate::defrag::span(from, units, self.nodes.len());
        for node in self.nodes.range_mut(range) {
            node.defrag(m);
        }
        next
    }

    /// DEBUG OBJECT's quicklist figures: nodes, the node fill, and the bytes of
    /// every node as a listpack (its entries plus the 6-byte header and end byte).
    pub fn node_stats(&self) -> (usize, i32, usize) {
        let bytes = self.nodes.iter().map(|n| n.bytes() + 7).sum();
        (self.nodes.len(), self.fill, bytes)
    }

    /// Bytes owned on the heap (for MEMORY USAGE and INFO).
    pub fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + self.nodes.iter().map(Node::heap_size).sum::<usize>()
    }

    /// [`heap_size`](Self::heap_size) from the first `samples` nodes (MEMORY
    /// USAGE, as Redis samples quicklist nodes).
    pub fn heap_size_sampled(&self, samples: usize) -> usize {
        let n = self.nodes.len();
        if samples >= n {
            return self.heap_size();
        }
        let sampled: usize = self
            .nodes
            .iter()
            .take(samples.max(1))
            .map(Node::heap_size)
            .sum();
        self.nodes.capacity() * std::mem::size_of::<Node>() + sampled * n / samples.max(1)
    }

    /// Roughly how many allocations freeing it takes (for lazyfree).
    pub fn free_effort(&self) -> usize {
        self.nodes.len().max(1)
    }

    /// Number of nodes (tests and MEMORY USAGE sampling).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// Whether a node of `bytes` encoded bytes and `count` entries is within the fill.
    fn within(&self, bytes: usize, count: usize) -> bool {
        if self.fill < 0 {
            let level = SIZE_LEVELS[(-self.fill - 1) as usize];
            bytes <= level
        } else {
            bytes <= SIZE_SAFETY_LIMIT && count <= self.fill as usize
        }
    }

    /// Whether `node` can take one more entry of `add` bytes (a new node always can).
    fn allows(&self, node: &Node, add: usize) -> bool {
        self.within(node.bytes() + add, node.count() + 1)
    }

    /// Room for one more node. Most lists are a single node: the first gets a
    /// one-slot array (VecDeque would start at four, 96 wasted bytes per list).
    fn reserve_node(&mut self) {
        if self.nodes.capacity() == 0 {
            self.nodes.reserve_exact(1);
        }
    }

    /// Appends at the tail.
    pub fn push_back(&mut self, value: &[u8]) {
        let add = encoded_len(value);
        match self.nodes.back() {
            Some(n) if self.allows(n, add) => {
                if let Some(n) = self.nodes.back_mut() {
                    n.push_back(value);
                }
            }
            _ => {
                // The old end node is full: give back its growth slack.
                if let Some(full) = self.nodes.back_mut() {
                    full.shrink();
                }
                let mut n = Node::default();
                n.push_back(value);
                self.reserve_node();
                self.nodes.push_back(n);
            }
        }
        self.len += 1;
    }

    /// Prepends at the head.
    pub fn push_front(&mut self, value: &[u8]) {
        let add = encoded_len(value);
        match self.nodes.front() {
            Some(n) if self.allows(n, add) => {
                if let Some(n) = self.nodes.front_mut() {
                    n.insert(0, value);
                }
            }
            _ => {
                // The old end node is full: give back its growth slack.
                if let Some(full) = self.nodes.front_mut() {
                    full.shrink();
                }
                let mut n = Node::default();
                n.push_back(value);
                self.reserve_node();
                self.nodes.push_front(n);
            }
        }
        self.len += 1;
    }

    /// Pushes at the head (`left`) or the tail.
    pub fn push(&mut self, value: &[u8], left: bool) {
        if left {
            self.push_front(value)
        } else {
            self.push_back(value)
        }
    }

    /// Removes up to `n` elements from the head (`left`) or the tail, calling `f`
    /// with each in the order they leave the list. Returns how many were removed.
    pub fn drain(&mut self, n: usize, left: bool, mut f: impl FnMut(Elem<'_>)) -> usize {
        let n = n.min(self.len);
        let mut left_to_do = n;
        while left_to_do > 0 {
            let node = if left {
                self.nodes.front_mut()
            } else {
                self.nodes.back_mut()
            };
            let Some(node) = node else { break };
            let count = node.count();
            let k = left_to_do.min(count);
            if left {
                node.visit_front(k, &mut f);
            } else {
                node.visit_back(k, &mut f);
            }
            if k == count {
                if left {
                    self.nodes.pop_front();
                } else {
                    self.nodes.pop_back();
                }
            } else {
                let start = if left { 0 } else { count - k };
                node.remove_range(start, k);
                node.trim_capacity();
            }
            left_to_do -= k;
        }
        self.len -= n;
        n
    }

    /// Removes up to `n` elements from the head (`left`) or the tail without reading
    /// them: whole nodes are dropped, only the last one is cut.
    pub fn discard(&mut self, n: usize, left: bool) {
        let n = n.min(self.len);
        let mut rest = n;
        while rest > 0 {
            let node = if left {
                self.nodes.front_mut()
            } else {
                self.nodes.back_mut()
            };
            let Some(node) = node else { break };
            let count = node.count();
            if rest >= count {
                if left {
                    self.nodes.pop_front();
                } else {
                    self.nodes.pop_back();
                }
                rest -= count;
            } else {
                node.remove_range(if left { 0 } else { count - rest }, rest);
                node.trim_capacity();
                rest = 0;
            }
        }
        self.len -= n;
    }

    /// Pops one element from the head (`left`) or the tail.
    pub fn pop(&mut self, left: bool) -> Option<Vec<u8>> {
        let mut out = None;
        self.drain(1, left, |e| out = Some(e.to_vec()));
        out
    }

    /// Converts a Redis index (negative from the tail) to a position, if in range.
    pub fn index(&self, i: i64) -> Option<usize> {
        let len = self.len as i64;
        let i = if i < 0 { len + i } else { i };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// The node holding element `i` (`< len`) and its offset there.
    fn locate(&self, i: usize) -> (usize, usize) {
        if i < self.len / 2 {
            let mut rest = i;
            for (ni, n) in self.nodes.iter().enumerate() {
                if rest < n.count() {
                    return (ni, rest);
                }
                rest -= n.count();
            }
        } else {
            let mut from_end = self.len - i; // >= 1
            for (ni, n) in self.nodes.iter().enumerate().rev() {
                if from_end <= n.count() {
                    return (ni, n.count() - from_end);
                }
                from_end -= n.count();
            }
        }
        (self.nodes.len().saturating_sub(1), 0)
    }

    /// Element `i`, if in range.
    pub fn get(&self, i: usize) -> Option<Elem<'_>> {
        if i >= self.len {
            return None;
        }
        let (ni, off) = self.locate(i);
        self.nodes.get(ni).map(|n| n.get(off))
    }

    /// Replaces element `i` (`< len`).
    pub fn set(&mut self, i: usize, value: &[u8]) {
        if i >= self.len {
            return;
        }
        let (ni, off) = self.locate(i);
        if let Some(n) = self.nodes.get_mut(ni) {
            n.replace(off, value);
        }
        self.split_if_over(ni);
    }

    /// Inserts `value` before position `i` (`i == len` appends).
    pub fn insert(&mut self, i: usize, value: &[u8]) {
        if i == 0 {
            return self.push_front(value);
        }
        if i >= self.len {
            return self.push_back(value);
        }
        let (ni, off) = self.locate(i);
        let add = encoded_len(value);
        // At a node's head, the previous node's tail is the same position: use it
        // when the node is full and it has room (as quicklist does).
        if off == 0 && ni > 0 {
            let full = self.nodes.get(ni).is_some_and(|n| !self.allows(n, add));
            let prev_room = self.nodes.get(ni - 1).is_some_and(|p| self.allows(p, add));
            if full && prev_room {
                if let Some(p) = self.nodes.get_mut(ni - 1) {
                    p.push_back(value);
                }
                self.len += 1;
                return;
            }
        }
        if let Some(n) = self.nodes.get_mut(ni) {
            n.insert(off, value);
        }
        self.len += 1;
        let before = self.nodes.len();
        self.split_if_over(ni);
        let pieces = self.nodes.len() - before + 1;
        if pieces > 1 {
            // Splitting leaves half-full nodes: merge the outer pieces into their
            // neighbours where the result fits, as quicklist's merge step does.
            self.merge_if_fits(ni + pieces - 1);
            if ni > 0 {
                self.merge_if_fits(ni - 1);
            }
        }
    }

    /// Merges node `ni + 1` into node `ni` if the result is within the fill.
    fn merge_if_fits(&mut self, ni: usize) {
        let (Some(a), Some(b)) = (self.nodes.get(ni), self.nodes.get(ni + 1)) else {
            return;
        };
        if !self.within(a.bytes() + b.bytes(), a.count() + b.count()) {
            return;
        }
        if let Some(b) = self.nodes.remove(ni + 1) {
            if let Some(a) = self.nodes.get_mut(ni) {
                a.append(b);
            }
        }
    }

    /// Splits node `ni` in halves until every piece is within the fill (a node of one
    /// entry always is).
    fn split_if_over(&mut self, ni: usize) {
        let Some(n) = self.nodes.get(ni) else { return };
        if n.count() <= 1 || self.within(n.bytes(), n.count()) {
            return;
        }
        let half = n.count() / 2;
        let tail = match self.nodes.get_mut(ni) {
            Some(n) => n.split_off(half),
            None => return,
        };
        self.nodes.insert(ni + 1, tail);
        self.split_if_over(ni + 1);
        self.split_if_over(ni);
    }

    /// Keeps elements `start..=end` (within range) and drops the rest.
    pub fn keep_range(&mut self, start: usize, end: usize) {
        let tail = self.len.saturating_sub(end + 1);
        self.discard(tail, false);
        self.discard(start, true);
    }

    /// Removes elements by position; `remove` is sorted ascending. The list is
    /// repacked, so nodes thinned by the removal are merged again.
    pub fn remove_positions(&mut self, remove: &[usize]) {
        if remove.is_empty() {
            return;
        }
        let mut out = ListValue::with_fill(i64::from(self.fill));
        let mut r = remove.iter().peekable();
        for (i, e) in self.iter().enumerate() {
            if r.peek() == Some(&&i) {
                r.next();
                continue;
            }
            e.with_bytes(|b| out.push_back(b));
        }
        *self = out;
    }

    /// Iterates from element `start` towards the tail.
    pub fn iter_from(&self, start: usize) -> Iter<'_> {
        if start >= self.len {
            return Iter {
                list: self,
                node: self.nodes.len(),
                pos: 0,
                left: 0,
            };
        }
        let (ni, off) = self.locate(start);
        let pos = self.nodes.get(ni).map_or(0, |n| n.cursor(off));
        Iter {
            list: self,
            node: ni,
            pos,
            left: self.len - start,
        }
    }

    /// Iterates head to tail.
    pub fn iter(&self) -> Iter<'_> {
        self.iter_from(0)
    }

    /// Iterates tail to head.
    pub fn iter_rev(&self) -> RevIter<'_> {
        RevIter {
            list: self,
            node: self.nodes.len(),
            end: self.nodes.back().map_or(0, Node::bytes),
            left: self.len,
        }
    }
}

/// Head-to-tail iterator.
pub struct Iter<'a> {
    list: &'a ListValue,
    node: usize,
    pos: usize,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        loop {
            let n = self.list.nodes.get(self.node)?;
            if self.pos < n.bytes() {
                let (e, next) = n.at(self.pos);
                self.pos = next;
                self.left -= 1;
                return Some(e);
            }
            self.node += 1;
            self.pos = 0;
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

/// Tail-to-head iterator.
pub struct RevIter<'a> {
    list: &'a ListValue,
    /// One past the node being read.
    node: usize,
    end: usize,
    left: usize,
}

impl<'a> Iterator for RevIter<'a> {
    type Item = Elem<'a>;

    fn next(&mut self) -> Option<Elem<'a>> {
        if self.left == 0 {
            return None;
        }
        loop {
            if self.end > 0 {
                let n = self.list.nodes.get(self.node.checked_sub(1)?)?;
                let (e, start) = n.before(self.end);
                self.end = start;
                self.left -= 1;
                return Some(e);
            }
            if self.node <= 1 {
                return None;
            }
            self.node -= 1;
            self.end = self.list.nodes.get(self.node - 1)?.bytes();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(l: &ListValue) -> Vec<Vec<u8>> {
        l.iter().map(Elem::to_vec).collect()
    }

    fn check(l: &ListValue, model: &[Vec<u8>]) {
        assert_eq!(l.len(), model.len());
        assert_eq!(items(l), model);
        let mut rev: Vec<Vec<u8>> = l.iter_rev().map(Elem::to_vec).collect();
        rev.reverse();
        assert_eq!(rev, model);
        for (i, m) in model.iter().enumerate() {
            assert_eq!(l.get(i).map(Elem::to_vec).as_ref(), Some(m));
        }
        let count: usize = l.nodes.iter().map(Node::count).sum();
        assert_eq!(count, l.len());
        assert!(l.nodes.iter().all(|n| n.count() > 0));
        for n in &l.nodes {
            assert!(n.count() == 1 || l.within(n.bytes(), n.count()));
        }
    }

    fn v(i: usize) -> Vec<u8> {
        if i.is_multiple_of(3) {
            i.to_string().into_bytes()
        } else {
            format!("elem-{i}-{}", "x".repeat(i % 50)).into_bytes()
        }
    }

    #[test]
    fn pushes_and_pops_across_nodes() {
        for fill in [-5, -2, -1, 0, 1, 3, 128] {
            let mut l = ListValue::with_fill(fill);
            let mut model = std::collections::VecDeque::new();
            for i in 0..4000 {
                if i % 2 == 0 {
                    l.push_back(&v(i));
                    model.push_back(v(i));
                } else {
                    l.push_front(&v(i));
                    model.push_front(v(i));
                }
            }
            let m: Vec<_> = model.iter().cloned().collect();
            check(&l, &m);
            assert!(l.node_count() > 1);
            for _ in 0..300 {
                assert_eq!(l.pop(true), model.pop_front());
                assert_eq!(l.pop(false), model.pop_back());
            }
            let mut got = Vec::new();
            let n = l.drain(777, false, |e| got.push(e.to_vec()));
            assert_eq!(n, 777);
            for g in got {
                assert_eq!(Some(g), model.pop_back());
            }
            let m: Vec<_> = model.iter().cloned().collect();
            check(&l, &m);
            l.discard(5, false);
            for _ in 0..5 {
                model.pop_back();
            }
            l.discard(3, true);
            for _ in 0..3 {
                model.pop_front();
            }
            let m: Vec<_> = model.iter().cloned().collect();
            check(&l, &m);
            l.drain(usize::MAX, true, |_| {});
            assert!(l.is_empty());
            assert_eq!(l.node_count(), 0);
        }
    }

    #[test]
    fn fill_limits_nodes_like_redis() {
        // Positive fill: entries per node.
        let mut l = ListValue::with_fill(4);
        for i in 0..10 {
            l.push_back(&v(i));
        }
        assert_eq!(l.node_count(), 3);
        // Negative fill: bytes per node (-1 = 4 KiB).
        let mut l = ListValue::with_fill(-1);
        for _ in 0..100 {
            l.push_back(&[b'a'; 100]);
        }
        assert!(l.nodes.iter().all(|n| n.bytes() <= 4096));
        assert!(l.node_count() >= 3);
        // A single element larger than the budget gets its own node.
        l.push_back(&[b'b'; 10_000]);
        l.push_back(b"x");
        assert_eq!(l.nodes.back().map(Node::count), Some(1));
    }

    #[test]
    fn insert_set_and_remove_keep_nodes_within_fill() {
        for fill in [-1, 2, 5] {
            let mut l = ListValue::with_fill(fill);
            let mut model: Vec<Vec<u8>> = Vec::new();
            for i in 0..500 {
                let at = (i * 31) % (model.len() + 1);
                l.insert(at, &v(i));
                model.insert(at, v(i));
            }
            check(&l, &model);
            for i in (0..500).step_by(7) {
                let big = vec![b'q'; (i * 13) % 900];
                l.set(i, &big);
                model[i] = big;
            }
            check(&l, &model);
            let rm: Vec<usize> = (0..500).filter(|i| i % 3 == 1).collect();
            l.remove_positions(&rm);
            let mut j = 0;
            model.retain(|_| {
                j += 1;
                (j - 1) % 3 != 1
            });
            check(&l, &model);
            l.keep_range(10, 200);
            let m = model[10..=200].to_vec();
            check(&l, &m);
        }
    }

    #[test]
    fn middle_inserts_keep_nodes_reasonably_full() {
        let mut l = ListValue::with_fill(4);
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..1000 {
            let at = (i * 7919) % (model.len() + 1);
            l.insert(at, &v(i));
            model.insert(at, v(i));
        }
        check(&l, &model);
        // 250 nodes if perfectly packed; split halves alone would approach 500.
        assert!(l.node_count() < 400, "{}", l.node_count());
    }

    #[test]
    fn iter_from_the_middle() {
        let mut l = ListValue::with_fill(3);
        for i in 0..20 {
            l.push_back(&v(i));
        }
        let got: Vec<_> = l.iter_from(7).take(5).map(Elem::to_vec).collect();
        let want: Vec<_> = (7..12).map(v).collect();
        assert_eq!(got, want);
        assert_eq!(l.iter_from(20).count(), 0);
        assert_eq!(l.index(-1), Some(19));
        assert_eq!(l.index(-21), None);
        assert_eq!(l.index(20), None);
        assert_eq!(l.index(i64::MIN), None);
    }
}

#[cfg(test)]
mod model_tests {
    //! Random operation sequences against a `Vec` model, over every kind of fill.

    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Op {
        Push(bool, Vec<u8>),
        Pop(bool),
        Drain(bool, usize),
        Discard(bool, usize),
        Insert(usize, Vec<u8>),
        Set(usize, Vec<u8>),
        Remove(Vec<usize>),
        Keep(usize, usize),
    }

    fn value() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            (-100_000i64..100_000).prop_map(|i| i.to_string().into_bytes()),
            prop::collection::vec(b'a'..=b'z', 0..20),
            prop::collection::vec(b'a'..=b'z', 100..3000),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            4 => (any::<bool>(), value()).prop_map(|(l, v)| Op::Push(l, v)),
            1 => any::<bool>().prop_map(Op::Pop),
            1 => (any::<bool>(), 0usize..20).prop_map(|(l, n)| Op::Drain(l, n)),
            1 => (any::<bool>(), 0usize..20).prop_map(|(l, n)| Op::Discard(l, n)),
            2 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Insert(i, v)),
            1 => (any::<usize>(), value()).prop_map(|(i, v)| Op::Set(i, v)),
            1 => prop::collection::vec(any::<usize>(), 0..5).prop_map(Op::Remove),
            1 => (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Op::Keep(a, b)),
        ]
    }

    proptest! {
        #[test]
        fn list_matches_a_vec_model(
            fill in prop::sample::select(vec![-5i64, -2, -1, 0, 1, 2, 7, 100]),
            ops in prop::collection::vec(op(), 1..150),
        ) {
            let mut l = ListValue::with_fill(fill);
            let mut m: Vec<Vec<u8>> = Vec::new();
            for op in ops {
                match op {
                    Op::Push(left, v) => {
                        l.push(&v, left);
                        if left { m.insert(0, v) } else { m.push(v) }
                    }
                    Op::Pop(left) => {
                        let want = if m.is_empty() { None } else if left { Some(m.remove(0)) } else { m.pop() };
                        prop_assert_eq!(l.pop(left), want);
                    }
                    Op::Drain(left, n) => {
                        let mut got = Vec::new();
                        l.drain(n, left, |e| got.push(e.to_vec()));
                        let k = n.min(m.len());
                        let mut want: Vec<Vec<u8>> = if left { m.drain(..k).collect() } else { m.drain(m.len() - k..).collect() };
                        if !left { want.reverse(); }
                        prop_assert_eq!(got, want);
                    }
                    Op::Discard(left, n) => {
                        l.discard(n, left);
                        let k = n.min(m.len());
                        if left { m.drain(..k); } else { m.truncate(m.len() - k); }
                    }
                    Op::Insert(i, v) => {
                        let i = i % (m.len() + 1);
                        l.insert(i, &v);
                        m.insert(i, v);
                    }
                    Op::Set(i, v) => {
                        if !m.is_empty() {
                            let i = i % m.len();
                            l.set(i, &v);
                            m[i] = v;
                        }
                    }
                    Op::Remove(mut idx) => {
                        if !m.is_empty() {
                            for i in idx.iter_mut() { *i %= m.len(); }
                            idx.sort_unstable();
                            idx.dedup();
                            l.remove_positions(&idx);
                            for &i in idx.iter().rev() { m.remove(i); }
                        }
                    }
                    Op::Keep(a, b) => {
                        if !m.is_empty() {
                            let (a, b) = (a % m.len(), b % m.len());
                            let (s, e) = (a.min(b), a.max(b));
                            l.keep_range(s, e);
                            m = m[s..=e].to_vec();
                        }
                    }
                }
                prop_assert_eq!(l.len(), m.len());
            }
            let fwd: Vec<Vec<u8>> = l.iter().map(Elem::to_vec).collect();
            prop_assert_eq!(&fwd, &m);
            let mut rev: Vec<Vec<u8>> = l.iter_rev().map(Elem::to_vec).collect();
            rev.reverse();
            prop_assert_eq!(&rev, &m);
            for (i, want) in m.iter().enumerate() {
                let got = l.get(i).map(Elem::to_vec);
                prop_assert_eq!(got.as_ref(), Some(want));
            }
            for n in &l.nodes {
                prop_assert!(n.count() >= 1);
                prop_assert!(n.count() == 1 || l.within(n.bytes(), n.count()));
            }
            let mut each = Vec::new();
            l.for_each(|b| each.push(b.to_vec()));
            prop_assert_eq!(each, m);
        }
    }
}
