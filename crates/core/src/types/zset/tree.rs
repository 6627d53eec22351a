//! An order-statistics B+tree of `(score, handle)` items, the handle being a slot
//! of the large zset's slab.
//!
//! The tree does not know how items compare: every search takes a predicate over
//! items, so the ordering (score, then member bytes) lives in one place
//! ([`super::big`]). Keeping the score in the item lets most comparisons, and all
//! score-range searches, run without touching the slab. Inner nodes keep each
//! child's element count (rank in O(log n)) and each child's first item.

/// Most elements in a leaf and children in an inner node.
const MAX: usize = 64;
/// A node this small is merged with a neighbour when the two fit in one.
const MIN: usize = MAX / 4;

/// A score and the slab slot of its member.
pub(crate) type Item = (f64, u32);

#[derive(Debug, Clone)]
enum Node {
    Leaf(Vec<Item>),
    Inner(Inner),
}

#[derive(Debug, Clone)]
struct Inner {
    children: Vec<Node>,
    /// Elements under each child.
    counts: Vec<usize>,
    /// Each child's smallest item.
    firsts: Vec<Item>,
}

impl Node {
    /// Active defrag of the node's arrays and those of every node under it.
    fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        match self {
            Node::Leaf(v) => m.vec(v),
            Node::Inner(i) => {
                m.vec(&mut i.children);
                m.vec(&mut i.counts);
                m.vec(&mut i.firsts);
                for c in &mut i.children {
                    c.defrag(m);
                }
            }
        }
    }
}

impl Node {
    fn len(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(i) => i.counts.iter().sum(),
        }
    }

    /// Entries directly in this node (for merge decisions).
    fn width(&self) -> usize {
        match self {
            Node::Leaf(v) => v.len(),
            Node::Inner(i) => i.children.len(),
        }
    }

    fn first(&self) -> Option<Item> {
        match self {
            Node::Leaf(v) => v.first().copied(),
            Node::Inner(i) => i.firsts.first().copied(),
        }
    }

    fn heap_size(&self) -> usize {
        match self {
            Node::Leaf(v) => v.capacity() * std::mem::size_of::<Item>(),
            Node::Inner(i) => {
                i.children.capacity() * std::mem::size_of::<Node>()
                    + i.counts.capacity() * 8
                    + i.firsts.capacity() * std::mem::size_of::<Item>()
                    + i.children.iter().map(Node::heap_size).sum::<usize>()
            }
        }
    }

    /// Inserts `h` after every element `before` says precedes it. Returns the
    /// right half when the node split.
    fn insert(&mut self, h: Item, before: &dyn Fn(Item) -> bool) -> Option<Node> {
        match self {
            Node::Leaf(v) => {
                let pos = v.partition_point(|&x| before(x));
                if v.len() == v.capacity() {
                    // Grow towards exactly MAX + 1, never past it (no doubling).
                    let want = (v.len() * 2).clamp(4, MAX + 1);
                    v.reserve_exact(want.saturating_sub(v.len()).max(1));
                }
                v.insert(pos, h);
                if v.len() > MAX {
                    let mut right = Vec::with_capacity(MAX + 1);
                    right.extend_from_slice(&v[v.len() / 2..]);
                    v.truncate(v.len() / 2);
                    return Some(Node::Leaf(right));
                }
                None
            }
            Node::Inner(inner) => {
                let i = inner
                    .firsts
                    .partition_point(|&f| before(f))
                    .saturating_sub(1);
                let split = inner.children[i].insert(h, before);
                inner.counts[i] += 1;
                if let Some(f) = inner.children[i].first() {
                    inner.firsts[i] = f;
                }
                if let Some(right) = split {
                    let rc = right.len();
                    let rf = right.first().unwrap_or(h);
                    inner.counts[i] -= rc;
                    inner.children.insert(i + 1, right);
                    inner.counts.insert(i + 1, rc);
                    inner.firsts.insert(i + 1, rf);
                }
                if inner.children.len() > MAX {
                    let at = inner.children.len() / 2;
                    let right = Inner {
                        children: inner.children.split_off(at),
                        counts: inner.counts.split_off(at),
                        firsts: inner.firsts.split_off(at),
                    };
                    return Some(Node::Inner(right));
                }
                None
            }
        }
    }

    fn get(&self, mut rank: usize) -> Option<Item> {
        let mut node = self;
        loop {
            match node {
                Node::Leaf(v) => return v.get(rank).copied(),
                Node::Inner(inner) => {
                    let mut i = 0;
                    while i < inner.counts.len() && rank >= inner.counts[i] {
                        rank -= inner.counts[i];
                        i += 1;
                    }
                    node = inner.children.get(i)?;
                }
            }
        }
    }

    /// How many elements satisfy `pred`, which holds for a prefix of the order.
    fn partition_point(&self, pred: &dyn Fn(Item) -> bool) -> usize {
        let mut node = self;
        let mut acc = 0;
        loop {
            match node {
                Node::Leaf(v) => return acc + v.partition_point(|&x| pred(x)),
                Node::Inner(inner) => {
                    let i = inner.firsts.partition_point(|&f| pred(f));
                    if i == 0 {
                        return acc;
                    }
                    acc += inner.counts[..i - 1].iter().sum::<usize>();
                    node = &inner.children[i - 1];
                }
            }
        }
    }

    fn remove_at(&mut self, mut rank: usize) -> Option<Item> {
        match self {
            Node::Leaf(v) => (rank < v.len()).then(|| v.remove(rank)),
            Node::Inner(inner) => {
                let mut i = 0;
                while i < inner.counts.len() && rank >= inner.counts[i] {
                    rank -= inner.counts[i];
                    i += 1;
                }
                let h = inner.children.get_mut(i)?.remove_at(rank)?;
                inner.counts[i] -= 1;
                if inner.counts[i] == 0 {
                    inner.children.remove(i);
                    inner.counts.remove(i);
                    inner.firsts.remove(i);
                    return Some(h);
                }
                if let Some(f) = inner.children[i].first() {
                    inner.firsts[i] = f;
                }
                if inner.children[i].width() < MIN {
                    inner.merge_small(i);
                }
                Some(h)
            }
        }
    }

    fn for_range(&self, start: usize, end: usize, f: &mut dyn FnMut(Item) -> bool) -> bool {
        match self {
            Node::Leaf(v) => {
                for &h in &v[start.min(v.len())..end.min(v.len())] {
                    if !f(h) {
                        return false;
                    }
                }
                true
            }
            Node::Inner(inner) => {
                let mut base = 0;
                for (c, &n) in inner.children.iter().zip(&inner.counts) {
                    if base >= end {
                        break;
                    }
                    if base + n > start {
                        let s = start.saturating_sub(base);
                        let e = (end - base).min(n);
                        if !c.for_range(s, e, f) {
                            return false;
                        }
                    }
                    base += n;
                }
                true
            }
        }
    }

    fn for_range_rev(&self, start: usize, end: usize, f: &mut dyn FnMut(Item) -> bool) -> bool {
        match self {
            Node::Leaf(v) => {
                for &h in v[start.min(v.len())..end.min(v.len())].iter().rev() {
                    if !f(h) {
                        return false;
                    }
                }
                true
            }
            Node::Inner(inner) => {
                let mut top: usize = inner.counts.iter().sum();
                for (c, &n) in inner.children.iter().zip(&inner.counts).rev() {
                    let base = top - n;
                    if top <= start {
                        break;
                    }
                    if base < end {
                        let s = start.saturating_sub(base);
                        let e = (end - base).min(n);
                        if !c.for_range_rev(s, e, f) {
                            return false;
                        }
                    }
                    top = base;
                }
                true
            }
        }
    }
}

impl Inner {
    /// Merges child `i` (found too small) with a neighbour when both fit in one node.
    fn merge_small(&mut self, i: usize) {
        let j = if i + 1 < self.children.len() {
            i + 1
        } else if i > 0 {
            i - 1
        } else {
            return;
        };
        let (l, r) = (i.min(j), i.max(j));
        if self.children[l].width() + self.children[r].width() > MAX {
            return;
        }
        let right = self.children.remove(r);
        let rc = self.counts.remove(r);
        self.firsts.remove(r);
        self.counts[l] += rc;
        match (&mut self.children[l], right) {
            (Node::Leaf(a), Node::Leaf(mut b)) => a.append(&mut b),
            (Node::Inner(a), Node::Inner(mut b)) => {
                a.children.append(&mut b.children);
                a.counts.append(&mut b.counts);
                a.firsts.append(&mut b.firsts);
            }
            // Siblings are always at the same depth.
            (_, right) => {
                self.counts[l] -= rc;
                self.children.insert(r, right);
                self.counts.insert(r, rc);
                let f = self.children[r].first().unwrap_or((0.0, 0));
                self.firsts.insert(r, f);
            }
        }
    }
}

/// The ordered index.
#[derive(Debug, Clone)]
pub(crate) struct Tree {
    root: Node,
    len: usize,
}

impl Tree {
    /// Active defrag of every node's arrays.
    pub(crate) fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        self.root.defrag(m);
    }
}

impl Default for Tree {
    fn default() -> Self {
        Tree {
            root: Node::Leaf(Vec::new()),
            len: 0,
        }
    }
}

impl Tree {
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Inserts `h` after every element for which `before` holds (a prefix).
    pub(crate) fn insert(&mut self, h: Item, before: &dyn Fn(Item) -> bool) {
        if let Some(right) = self.root.insert(h, before) {
            let left = std::mem::replace(&mut self.root, Node::Leaf(Vec::new()));
            let (lc, rc) = (left.len(), right.len());
            let (lf, rf) = (left.first().unwrap_or(h), right.first().unwrap_or(h));
            self.root = Node::Inner(Inner {
                children: vec![left, right],
                counts: vec![lc, rc],
                firsts: vec![lf, rf],
            });
        }
        self.len += 1;
    }

    /// The item at `rank` (0-based, ascending).
    pub(crate) fn get(&self, rank: usize) -> Option<Item> {
        self.root.get(rank)
    }

    /// How many elements satisfy `pred`, which must hold for a prefix of the order.
    pub(crate) fn partition_point(&self, pred: &dyn Fn(Item) -> bool) -> usize {
        self.root.partition_point(pred)
    }

    /// Removes and returns the item at `rank`.
    pub(crate) fn remove_at(&mut self, rank: usize) -> Option<Item> {
        let h = self.root.remove_at(rank)?;
        self.len -= 1;
        loop {
            match &mut self.root {
                Node::Inner(inner) if inner.children.len() == 1 => {
                    let child = inner.children.pop().unwrap_or(Node::Leaf(Vec::new()));
                    self.root = child;
                }
                Node::Inner(inner) if inner.children.is_empty() => {
                    self.root = Node::Leaf(Vec::new());
                }
                _ => break,
            }
        }
        Some(h)
    }

    /// Calls `f` on ranks `start..end` ascending until it returns false.
    pub(crate) fn for_range(&self, start: usize, end: usize, f: &mut dyn FnMut(Item) -> bool) {
        self.root.for_range(start, end.min(self.len), f);
    }

    /// Calls `f` on ranks `start..end` descending (from `end - 1`) until it returns
    /// false.
    pub(crate) fn for_range_rev(&self, start: usize, end: usize, f: &mut dyn FnMut(Item) -> bool) {
        self.root.for_range_rev(start, end.min(self.len), f);
    }

    pub(crate) fn heap_size(&self) -> usize {
        self.root.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(t: &Tree) -> Vec<u32> {
        let mut v = Vec::new();
        t.for_range(0, t.len(), &mut |(_, h)| {
            v.push(h);
            true
        });
        v
    }

    #[test]
    fn ordered_insert_rank_remove() {
        let mut t = Tree::default();
        let mut model: Vec<u32> = Vec::new();
        // Handles compare as numbers here; insert in a scrambled order.
        for i in 0..5000u32 {
            let h = (i * 7919) % 5003;
            t.insert((0.0, h), &|(_, x)| x < h);
            let p = model.partition_point(|&x| x < h);
            model.insert(p, h);
        }
        assert_eq!(collect(&t), model);
        for r in [0, 1, 63, 64, 65, 2500, 4999] {
            assert_eq!(t.get(r).map(|i| i.1), Some(model[r]));
        }
        assert!(t.get(5000).is_none());
        for probe in [0u32, 1, 100, 5002, 6000] {
            assert_eq!(
                t.partition_point(&|(_, x)| x < probe),
                model.partition_point(|&x| x < probe)
            );
        }
        let mut rev = Vec::new();
        t.for_range_rev(10, 200, &mut |(_, h)| {
            rev.push(h);
            true
        });
        let mut want = model[10..200].to_vec();
        want.reverse();
        assert_eq!(rev, want);
        // Remove most elements from varied ranks; the order must hold throughout.
        let mut k = 0usize;
        while model.len() > 3 {
            k = (k * 31 + 17) % model.len();
            assert_eq!(t.remove_at(k).map(|i| i.1), Some(model.remove(k)));
            if model.len().is_multiple_of(500) {
                assert_eq!(collect(&t), model);
                assert_eq!(t.len(), model.len());
            }
        }
        assert_eq!(collect(&t), model);
        while !model.is_empty() {
            assert_eq!(t.remove_at(0).map(|i| i.1), Some(model.remove(0)));
        }
        assert_eq!(t.len(), 0);
        assert!(t.remove_at(0).is_none());
    }
}
