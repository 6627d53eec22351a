//! A stream node: what Redis keeps in one listpack of its radix tree. The first
//! entry added to a node fixes its "master" fields; entries whose field names
//! equal them are flagged SAMEFIELDS (Redis stores only their values). Deleted
//! entries stay as tombstones until the whole node is empty. The node's listpack
//! size is tracked exactly (see [`super::lp`]), because it decides when XADD opens
//! a new node and so what `~` trimming can remove.

use super::id::StreamId;
use super::lp;

/// Entry flag: deleted (a tombstone).
pub const FLAG_DELETED: i64 = 1;
/// Entry flag: same field names as the master entry.
pub const FLAG_SAMEFIELDS: i64 = 2;

/// One entry of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its ID.
    pub id: StreamId,
    /// Deleted (XDEL, exact trimming inside a node).
    pub deleted: bool,
    /// Field names equal the master entry's.
    pub same_fields: bool,
    /// Field, value, field, value, ...
    pub fields: Vec<Vec<u8>>,
}

impl Entry {
    /// Listpack bytes of this entry relative to `master`.
    fn lp_size(&self, master: StreamId) -> usize {
        let (ms, seq) = deltas(self.id, master);
        let n = self.fields.len() / 2;
        let mut size = lp::int_size(0) + lp::int_size(ms) + lp::int_size(seq);
        let mut lp_count = n as i64 + 3;
        if !self.same_fields {
            size += lp::int_size(n as i64);
            lp_count += n as i64 + 1;
        }
        for (i, f) in self.fields.iter().enumerate() {
            if i % 2 == 1 || !self.same_fields {
                size += lp::str_size(f);
            }
        }
        size + lp::int_size(lp_count)
    }

    /// The entry's flags as stored.
    pub fn flags(&self) -> i64 {
        let mut f = 0;
        if self.deleted {
            f |= FLAG_DELETED;
        }
        if self.same_fields {
            f |= FLAG_SAMEFIELDS;
        }
        f
    }
}

/// The ms and seq differences from the master ID, as Redis stores them
/// (unsigned subtraction read back as a signed integer).
pub fn deltas(id: StreamId, master: StreamId) -> (i64, i64) {
    (
        id.ms.wrapping_sub(master.ms) as i64,
        id.seq.wrapping_sub(master.seq) as i64,
    )
}

/// A node (one listpack in Redis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The master entry's field names.
    pub master_fields: Vec<Vec<u8>>,
    /// Entries in ID order, tombstones included.
    pub entries: Vec<Entry>,
    /// Live entries.
    pub live: u64,
    /// Tombstones.
    pub deleted: u64,
    /// Listpack bytes of everything but the header, the two counters and the end.
    body: usize,
}

impl Node {
    /// A node whose master entry takes the field names of `fields` (pairs).
    pub fn new(fields: &[Vec<u8>]) -> Node {
        let master_fields: Vec<Vec<u8>> = fields.iter().step_by(2).cloned().collect();
        let mut body = lp::int_size(master_fields.len() as i64) + lp::int_size(0);
        for f in &master_fields {
            body += lp::str_size(f);
        }
        Node {
            master_fields,
            entries: Vec::new(),
            live: 0,
            deleted: 0,
            body,
        }
    }

    /// A node with these master field names and no entry yet (RDB load).
    pub fn with_master_fields(master_fields: Vec<Vec<u8>>) -> Node {
        let pairs: Vec<Vec<u8>> = master_fields
            .into_iter()
            .flat_map(|f| [f, Vec::new()])
            .collect();
        Node::new(&pairs)
    }

    /// The listpack's total bytes (lpBytes).
    pub fn lp_bytes(&self) -> usize {
        lp::OVERHEAD
            + lp::int_size(self.live as i64)
            + lp::int_size(self.deleted as i64)
            + self.body
    }

    /// Whether `fields` (pairs) have the master entry's field names.
    pub fn same_fields(&self, fields: &[Vec<u8>]) -> bool {
        fields.len() / 2 == self.master_fields.len()
            && fields
                .iter()
                .step_by(2)
                .zip(&self.master_fields)
                .all(|(a, b)| a == b)
    }

    /// Appends a live entry (its ID above every other in the node).
    pub fn push(&mut self, master: StreamId, entry: Entry) {
        self.body += entry.lp_size(master);
        if entry.deleted {
            self.deleted += 1;
        } else {
            self.live += 1;
        }
        self.entries.push(entry);
    }

    /// Index of the first entry with an ID >= `id`.
    pub fn lower_bound(&self, id: StreamId) -> usize {
        self.entries.partition_point(|e| e.id < id)
    }

    /// The last entry's ID, tombstones included (lpGetEdgeStreamID).
    pub fn last_id(&self) -> Option<StreamId> {
        self.entries.last().map(|e| e.id)
    }

    /// Marks entry `i` deleted; returns whether it was live.
    pub fn delete_at(&mut self, i: usize) -> bool {
        match self.entries.get_mut(i) {
            Some(e) if !e.deleted => {
                e.deleted = true;
                self.live -= 1;
                self.deleted += 1;
                true
            }
            _ => false,
        }
    }

    /// Heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        let mut n = self
            .master_fields
            .iter()
            .map(|f| f.capacity() + 24)
            .sum::<usize>()
            + self.entries.capacity() * std::mem::size_of::<Entry>();
        for e in &self.entries {
            n += e.fields.capacity() * 24 + e.fields.iter().map(|f| f.capacity()).sum::<usize>();
        }
        n
    }
}
