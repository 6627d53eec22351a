//! The stream type (OBJECT ENCODING `stream`): entries in nodes keyed by their
//! first ("master") ID, as Redis keeps listpacks in a radix tree, plus the
//! stream's counters and its consumer groups.
//!
//! - [`id`]: IDs and their argument forms;
//! - [`node`]: a node (one Redis listpack: master fields, entries, tombstones,
//!   its exact listpack size);
//! - [`group`]: consumer groups, PELs and consumers;
//! - [`commands`]: XADD, XRANGE, XREAD, XDEL, XTRIM, XSETID, ...;
//!   [`cgroups`]: XGROUP, XREADGROUP's group side, XACK, XPENDING, XCLAIM,
//!   XAUTOCLAIM; [`info`]: XINFO.
//!
//! Node boundaries follow Redis's rules (`stream-node-max-bytes`,
//! `stream-node-max-entries`, tombstones kept until a node empties), so `~`
//! trimming, XINFO's radix-tree counts and DUMP payloads come out as Redis's.
//! Each node is one compact byte buffer (IDs and field names delta-encoded
//! against the master entry, see [`node`]); the listpack bytes Redis would
//! hold are produced when a node is serialized (`ferrokv-persist`).

pub mod cgroups;
pub mod commands;
pub mod group;
pub mod id;
pub mod info;
pub mod lp;
pub mod node;

use std::collections::BTreeMap;

pub use group::{Consumer, Group, Nack, INVALID_ENTRIES_READ};
pub use id::StreamId;
pub use node::{Entry, EntryRef, Node};

/// Most bytes of one entry's fields and values (STREAM_LISTPACK_MAX_SIZE).
pub const LISTPACK_MAX_SIZE: usize = 1 << 30;

/// How a stream is trimmed (XADD / XTRIM options).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trim {
    /// MAXLEN: keep at most this many entries.
    MaxLen(u64),
    /// MINID: drop entries below this ID.
    MinId(StreamId),
}

/// Why XADD could not append.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppendError {
    /// The ID is not above the last one (EDOM).
    IdTooSmall,
    /// The fields are too large for a node (ERANGE).
    TooLarge,
}

/// Node limits in force (`stream-node-max-bytes`, `stream-node-max-entries`).
#[derive(Debug, Clone, Copy)]
pub struct NodeLimits {
    /// Most listpack bytes (0: no limit but Redis's hard one).
    pub max_bytes: u64,
    /// Most entries, tombstones included (0: no limit).
    pub max_entries: u64,
}

impl NodeLimits {
    /// The limits configured.
    pub fn from_config(config: &crate::config::Config) -> NodeLimits {
        use crate::config::P;
        NodeLimits {
            max_bytes: config.int(P::StreamNodeMaxBytes).max(0) as u64,
            max_entries: config.int(P::StreamNodeMaxEntries).max(0) as u64,
        }
    }
}

/// A stream value.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct StreamValue {
    /// Nodes by master ID.
    nodes: BTreeMap<StreamId, Node>,
    /// Live entries.
    pub length: u64,
    /// The last ID generated (or set by XSETID).
    pub last_id: StreamId,
    /// The first live entry's ID (0-0 when empty).
    pub first_id: StreamId,
    /// The largest ID ever deleted.
    pub max_deleted_id: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups by name.
    pub groups: BTreeMap<Vec<u8>, Group>,
}

impl StreamValue {
    /// Active defrag of nodes `from..from + units` in ID order: their entry
    /// buffers (the tree's own nodes and the consumer groups stay where they are).
    /// Where to go on from, or `None` when done.
    pub fn defrag_from(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        let (range, next) = crate::defrag::span(from, units, self.nodes.len());
        for node in self.nodes.values_mut().skip(range.start).take(range.len()) {
            node.defrag(m);
        }
        next
    }

    /// An empty stream.
    pub fn new() -> StreamValue {
        StreamValue::default()
    }

    /// The OBJECT ENCODING name.
    pub fn encoding(&self) -> &'static str {
        "stream"
    }

    /// Number of live entries.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether it has no live entries (a stream key may be empty).
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// Number of nodes (XINFO's radix-tree-keys).
    pub fn node_count(&self) -> usize {
        self.nodes.len()
    }

    /// The nodes with their master IDs, in order (serialization).
    pub fn nodes(&self) -> impl Iterator<Item = (&StreamId, &Node)> {
        self.nodes.iter()
    }

    /// Adds a node as loaded from a file (its entries already in it).
    pub fn insert_node(&mut self, master: StreamId, node: Node) {
        self.nodes.insert(master, node);
    }

    /// Appends an entry (streamAppendItem). `use_id` is an explicit ID and
    /// whether its sequence was given (`<ms>-*` leaves it to be generated).
    pub fn append(
        &mut self,
        fields: &[&[u8]],
        use_id: Option<(StreamId, bool)>,
        now_ms: i64,
        limits: NodeLimits,
    ) -> Result<StreamId, AppendError> {
        let id = match use_id {
            Some((id, true)) => id,
            Some((id, false)) => {
                if self.last_id.ms == id.ms {
                    if self.last_id.seq == u64::MAX {
                        return Err(AppendError::IdTooSmall);
                    }
                    StreamId::new(id.ms, self.last_id.seq + 1)
                } else {
                    id
                }
            }
            None => {
                let ms = now_ms.max(0) as u64;
                if ms > self.last_id.ms {
                    StreamId::new(ms, 0)
                } else {
                    // Wraps to 0-0 at the very end, which the check below refuses.
                    self.last_id.next().unwrap_or(StreamId::ZERO)
                }
            }
        };
        if id <= self.last_id {
            return Err(AppendError::IdTooSmall);
        }
        let total: usize = fields.iter().map(|f| f.len()).sum();
        if total > LISTPACK_MAX_SIZE {
            return Err(AppendError::TooLarge);
        }
        let mut max_bytes = limits.max_bytes as usize;
        if max_bytes == 0 || max_bytes > LISTPACK_MAX_SIZE {
            max_bytes = LISTPACK_MAX_SIZE;
        }
        let open_new = match self.nodes.last_entry() {
            None => true,
            Some(mut tail) => {
                let t = tail.get_mut();
                let full = t.lp_bytes() + total >= max_bytes
                    || (limits.max_entries != 0 && t.count() >= limits.max_entries);
                if full {
                    // The old tail never grows again: give its slack back.
                    t.shrink();
                }
                full
            }
        };
        if open_new {
            self.nodes.insert(id, Node::new(fields));
        }
        let Some(mut tail) = self.nodes.last_entry() else {
            return Err(AppendError::TooLarge);
        };
        let master = *tail.key();
        let node = tail.get_mut();
        let same_fields = node.same_fields(fields);
        node.append(master, id, fields, same_fields);
        self.length += 1;
        self.entries_added += 1;
        self.last_id = id;
        if self.length == 1 {
            self.first_id = id;
        }
        Ok(id)
    }

    /// Calls `f` on the entries with IDs in `start..=end` (tombstones only with
    /// `tombstones`), ascending or descending, until it returns false.
    pub fn visit(
        &self,
        start: StreamId,
        end: StreamId,
        rev: bool,
        tombstones: bool,
        mut f: impl FnMut(&EntryRef<'_>) -> bool,
    ) {
        if start > end {
            return;
        }
        if !rev {
            // The node holding `start` is the last one whose master ID is <= it.
            let from = self
                .nodes
                .range(..=start)
                .next_back()
                .map(|(k, _)| *k)
                .unwrap_or(StreamId::ZERO);
            for (&master, node) in self.nodes.range(from..) {
                for (_, e) in node.iter(master) {
                    if e.id < start {
                        continue;
                    }
                    if e.id > end {
                        return;
                    }
                    if (!e.deleted || tombstones) && !f(&e) {
                        return;
                    }
                }
            }
        } else {
            for (&master, node) in self.nodes.range(..=end).rev() {
                for pos in node.offsets(master).into_iter().rev() {
                    let Some(e) = node.get_at(master, pos) else {
                        continue;
                    };
                    if e.id > end {
                        continue;
                    }
                    if e.id < start {
                        return;
                    }
                    if (!e.deleted || tombstones) && !f(&e) {
                        return;
                    }
                }
                if master < start {
                    return;
                }
            }
        }
    }

    /// The live entry with ID `id`.
    pub fn get(&self, id: StreamId) -> Option<EntryRef<'_>> {
        let (&master, node) = self.nodes.range(..=id).next_back()?;
        let pos = node.find(master, id)?;
        node.get_at(master, pos).filter(|e| !e.deleted)
    }

    /// Whether a live entry has ID `id` (streamEntryExists).
    pub fn exists(&self, id: StreamId) -> bool {
        self.get(id).is_some()
    }

    /// The first or last entry's ID (streamGetEdgeID); when there is none, the
    /// largest ID for `first` and 0-0 for the last.
    pub fn edge_id(&self, first: bool, tombstones: bool) -> StreamId {
        let mut found = None;
        self.visit(StreamId::ZERO, StreamId::MAX, !first, tombstones, |e| {
            found = Some(e.id);
            false
        });
        found.unwrap_or(if first { StreamId::MAX } else { StreamId::ZERO })
    }

    /// The last live entry's ID (streamLastValidID), 0-0 when empty.
    pub fn last_valid_id(&self) -> StreamId {
        self.edge_id(false, false)
    }

    /// Deletes the live entry `id` (streamDeleteItem); a node left with no live
    /// entry goes away.
    pub fn delete(&mut self, id: StreamId) -> bool {
        let Some((&master, node)) = self.nodes.range_mut(..=id).next_back() else {
            return false;
        };
        let Some(pos) = node.find(master, id) else {
            return false;
        };
        if !node.delete_at(pos) {
            return false;
        }
        if node.live == 0 {
            self.nodes.remove(&master);
        }
        self.length -= 1;
        true
    }

    /// XDEL of several IDs: the count deleted, with first_id and
    /// max_deleted_id maintained as xdelCommand does.
    pub fn delete_ids(&mut self, ids: &[StreamId]) -> u64 {
        let mut deleted = 0;
        let mut first_entry = false;
        for &id in ids {
            if self.delete(id) {
                if id == self.first_id {
                    first_entry = true;
                }
                if id > self.max_deleted_id {
                    self.max_deleted_id = id;
                }
                deleted += 1;
            }
        }
        if deleted > 0 {
            if self.length == 0 {
                self.first_id = StreamId::ZERO;
            } else if first_entry {
                self.first_id = self.edge_id(true, false);
            }
        }
        deleted
    }

    /// Trims (streamTrim): whole nodes from the head while they can go, then,
    /// unless `approx`, the entries of the next node that must go are marked
    /// deleted. `limit` (0: none) caps the entries removed by whole nodes.
    /// Returns the number of entries removed.
    pub fn trim(&mut self, trim: Trim, approx: bool, limit: u64) -> u64 {
        let mut deleted: u64 = 0;
        loop {
            if let Trim::MaxLen(max) = trim {
                if self.length <= max {
                    break;
                }
            }
            let Some(mut first) = self.nodes.first_entry() else {
                break;
            };
            let master = *first.key();
            let node = first.get_mut();
            let entries = node.live;
            if limit != 0 && deleted + entries > limit {
                break;
            }
            let remove_node = match trim {
                Trim::MaxLen(max) => self.length - entries >= max,
                Trim::MinId(min) => node.last_id().is_some_and(|l| l < min),
            };
            if remove_node {
                first.remove();
                self.length -= entries;
                deleted += entries;
                continue;
            }
            if approx {
                break;
            }
            let mut from_node = 0;
            let mut doomed = Vec::new();
            let mut length = self.length;
            for (pos, e) in node.iter(master) {
                let stop = match trim {
                    Trim::MaxLen(max) => length <= max,
                    Trim::MinId(min) => e.id >= min,
                };
                if stop {
                    break;
                }
                if !e.deleted {
                    doomed.push(pos);
                    length -= 1;
                }
            }
            for pos in doomed {
                if node.delete_at(pos) {
                    from_node += 1;
                    self.length -= 1;
                }
            }
            deleted += from_node;
            break;
        }
        if self.length == 0 {
            self.first_id = StreamId::ZERO;
        } else if deleted > 0 {
            self.first_id = self.edge_id(true, false);
        }
        deleted
    }

    /// Whether `start..=end` may hold a tombstone (streamRangeHasTombstones).
    pub fn range_has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.length == 0 || self.max_deleted_id.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted_id {
            return false;
        }
        start <= self.max_deleted_id && self.max_deleted_id <= end
    }

    /// The logical read counter of `id` when it can be known
    /// (streamEstimateDistanceFromFirstEverEntry); `None` when it cannot.
    pub fn estimate_distance(&self, id: StreamId) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        let added = self.entries_added as i64;
        if self.length == 0 && id <= self.last_id {
            return Some(added);
        }
        match id.cmp(&self.last_id) {
            std::cmp::Ordering::Equal => return Some(added),
            std::cmp::Ordering::Greater => return None,
            std::cmp::Ordering::Less => {}
        }
        if self.max_deleted_id.is_zero() || self.max_deleted_id < self.first_id {
            match id.cmp(&self.first_id) {
                std::cmp::Ordering::Less => return Some(added - self.length as i64),
                std::cmp::Ordering::Equal => return Some(added - self.length as i64 + 1),
                std::cmp::Ordering::Greater => {}
            }
        }
        None
    }

    /// A group's lag (streamReplyWithCGLag); `None` when it cannot be known.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ
            && !self.range_has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        self.estimate_distance(g.last_id)
            .map(|read| self.entries_added as i64 - read)
    }

    /// Moves `g`'s last ID to `id` (a delivery above it), keeping its read
    /// counter as streamReplyWithRange does.
    pub fn advance_group(&self, g: &mut Group, id: StreamId) {
        if g.entries_read != INVALID_ENTRIES_READ && !self.range_has_tombstones(id, StreamId::MAX) {
            g.entries_read += 1;
        } else if self.entries_added != 0 {
            g.entries_read = self.estimate_distance(id).unwrap_or(INVALID_ENTRIES_READ);
        }
        g.last_id = id;
    }

    /// Nodes of the radix tree Redis would have for these node keys
    /// (XINFO's radix-tree-nodes): the root, one node per compressed run and per
    /// branching point, and a leaf per key.
    pub fn radix_nodes(&self) -> u64 {
        let keys: Vec<[u8; 16]> = self.nodes.keys().map(|k| k.encode()).collect();
        if keys.is_empty() {
            return 1;
        }
        fn count(keys: &[[u8; 16]], depth: usize) -> u64 {
            if depth == 16 {
                return 1;
            }
            if keys.len() == 1 {
                return 2;
            }
            // Longest common prefix from `depth` (keys are sorted).
            let (a, b) = (&keys[0], &keys[keys.len() - 1]);
            let mut d = depth;
            while d < 16 && a[d] == b[d] {
                d += 1;
            }
            let mut n = if d > depth { 2 } else { 1 };
            let mut i = 0;
            while i < keys.len() {
                let mut j = i + 1;
                while j < keys.len() && keys[j][d] == keys[i][d] {
                    j += 1;
                }
                n += count(&keys[i..j], d + 1);
                i = j;
            }
            n
        }
        count(&keys, 0)
    }

    /// Heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let mut n = self
            .nodes
            .values()
            .map(|n| n.heap_size() + std::mem::size_of::<(StreamId, Node)>())
            .sum::<usize>();
        for (name, g) in &self.groups {
            n += name.len() + 64 + g.pel.len() * 64;
            for (c, cons) in &g.consumers {
                n += c.len() + 64 + cons.pel.len() * 32;
            }
        }
        n
    }

    /// Allocations a free takes, roughly (lazyfree's threshold).
    pub fn free_effort(&self) -> usize {
        self.nodes.len() + self.groups.values().map(|g| g.pel.len() + 1).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> NodeLimits {
        NodeLimits {
            max_bytes: 4096,
            max_entries: 100,
        }
    }

    #[test]
    fn append_range_delete_trim() {
        let mut s = StreamValue::new();
        for i in 1..=250u64 {
            s.append(
                &[b"f", b"v"],
                Some((StreamId::new(i, 0), true)),
                0,
                limits(),
            )
            .unwrap();
        }
        assert_eq!(s.node_count(), 3);
        let mut seen = Vec::new();
        s.visit(
            StreamId::new(99, 0),
            StreamId::new(102, 0),
            false,
            false,
            |e| {
                seen.push(e.id.ms);
                true
            },
        );
        assert_eq!(seen, vec![99, 100, 101, 102]);
        seen.clear();
        s.visit(
            StreamId::new(99, 0),
            StreamId::new(102, 0),
            true,
            false,
            |e| {
                seen.push(e.id.ms);
                true
            },
        );
        assert_eq!(seen, vec![102, 101, 100, 99]);
        assert!(s.delete(StreamId::new(100, 0)));
        assert!(!s.delete(StreamId::new(100, 0)));
        assert_eq!(s.len(), 249);
        // `~` removes whole nodes only: the first (99 live) but not the second.
        assert_eq!(s.trim(Trim::MaxLen(200), true, 0), 0);
        assert_eq!(s.trim(Trim::MaxLen(150), true, 0), 99);
        assert_eq!(s.first_id, StreamId::new(101, 0));
        assert_eq!(s.trim(Trim::MaxLen(10), false, 0), 140);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first_id, StreamId::new(241, 0));
        assert_eq!(
            s.append(
                &[b"f", b"v"],
                Some((StreamId::new(5, 0), true)),
                0,
                limits()
            ),
            Err(AppendError::IdTooSmall)
        );
    }
}
