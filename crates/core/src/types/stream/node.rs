//! A stream node: what Redis keeps in one listpack of its radix tree, kept as
//! one compact byte buffer.
//!
//! The first entry added to a node fixes its "master" field names; entries whose
//! field names equal them are flagged SAMEFIELDS and store only their values.
//! IDs are stored as deltas from the node's master ID. Deleted entries stay as
//! tombstones until the whole node is empty.
//!
//! Layout of `buf` (every integer a LEB128 varint):
//! - the master block: the number of master fields, then each field name;
//! - each entry: a flags byte ([`FLAG_DELETED`], [`FLAG_SAMEFIELDS`]), the ms delta
//!   from the master ID, the seq (a delta from the master's seq when the ms delta
//!   is 0, else the seq itself: both are small in practice), the number of
//!   fields unless SAMEFIELDS, then the elements (field, value, ... or only the
//!   values with SAMEFIELDS).
//!
//! An element is a varint header `h`: even, a string of `h >> 1` bytes follows;
//! odd, the element is the integer zigzag(`h >> 1`) and reads back as its
//! canonical decimal text (only strings that are exactly that text are stored
//! so, as listpack.c stores integer-looking strings). This is smaller than a
//! listpack (no back-lengths, no per-entry element count): reverse iteration
//! finds entry starts with one forward pass over the node instead.
//!
//! The node's listpack size is still tracked exactly (see [`super::lp`]),
//! because it decides when XADD opens a new node and so what `~` trimming can
//! remove.

use super::id::StreamId;
use super::lp;

/// Entry flag: deleted (a tombstone).
pub const FLAG_DELETED: i64 = 1;
/// Entry flag: same field names as the master entry.
pub const FLAG_SAMEFIELDS: i64 = 2;

/// An entry as loaded from a file, before it goes into a node.
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

/// The ms and seq differences from the master ID, as Redis stores them
/// (unsigned subtraction read back as a signed integer).
pub fn deltas(id: StreamId, master: StreamId) -> (i64, i64) {
    (
        id.ms.wrapping_sub(master.ms) as i64,
        id.seq.wrapping_sub(master.seq) as i64,
    )
}

fn put_varint(buf: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        buf.push((v as u8) | 0x80);
        v >>= 7;
    }
    buf.push(v as u8);
}

/// Reads a varint at `*pos`; `None` past the end (never for a buffer this
/// module wrote).
#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    let mut shift = 0;
    loop {
        let b = *buf.get(*pos)?;
        *pos += 1;
        v |= u64::from(b & 0x7f).checked_shl(shift)?;
        if b < 0x80 {
            return Some(v);
        }
        shift += 7;
    }
}

/// The integer a string is stored as, when it is one's canonical text.
fn as_int(s: &[u8]) -> Option<i64> {
    if s.len() > 20 {
        return None;
    }
    let v = crate::args::parse_i64(s)?;
    let z = ((v << 1) ^ (v >> 63)) as u64;
    (z < 1 << 63).then_some(v)
}

/// Appends one element; returns its listpack size.
fn put_elem(buf: &mut Vec<u8>, s: &[u8]) -> usize {
    match as_int(s) {
        Some(v) => {
            let z = ((v << 1) ^ (v >> 63)) as u64;
            put_varint(buf, (z << 1) | 1);
            lp::int_size(v)
        }
        None => {
            put_varint(buf, (s.len() as u64) << 1);
            buf.extend_from_slice(s);
            lp::str_size(s)
        }
    }
}

/// One decoded element.
#[derive(Clone, Copy)]
enum Elem<'a> {
    Str(&'a [u8]),
    Int(i64),
}

#[inline]
fn get_elem<'a>(buf: &'a [u8], pos: &mut usize) -> Option<Elem<'a>> {
    let h = get_varint(buf, pos)?;
    if h & 1 == 1 {
        let z = h >> 1;
        return Some(Elem::Int(((z >> 1) as i64) ^ -((z & 1) as i64)));
    }
    let len = usize::try_from(h >> 1).ok()?;
    let s = buf.get(*pos..pos.checked_add(len)?)?;
    *pos += len;
    Some(Elem::Str(s))
}

#[inline]
fn skip_elem(buf: &[u8], pos: &mut usize) -> Option<()> {
    let h = get_varint(buf, pos)?;
    if h & 1 == 0 {
        *pos = pos.checked_add(usize::try_from(h >> 1).ok()?)?;
    }
    Some(())
}

/// Calls `f` with the element's bytes (integers as their decimal text).
#[inline]
fn with_elem(e: Elem<'_>, f: &mut impl FnMut(&[u8])) {
    match e {
        Elem::Str(s) => f(s),
        Elem::Int(v) => f(itoa::Buffer::new().format(v).as_bytes()),
    }
}

/// An entry read in place from its node.
#[derive(Clone, Copy)]
pub struct EntryRef<'a> {
    /// Its ID.
    pub id: StreamId,
    /// A tombstone.
    pub deleted: bool,
    /// Field names are the master entry's.
    pub same_fields: bool,
    /// Field-value pairs.
    pairs: usize,
    /// The master field names (elements), for SAMEFIELDS entries.
    master: &'a [u8],
    /// The entry's elements.
    body: &'a [u8],
}

impl EntryRef<'_> {
    /// Number of fields plus values.
    pub fn len(&self) -> usize {
        self.pairs * 2
    }

    /// Whether it has no field (never for an entry XADD made).
    pub fn is_empty(&self) -> bool {
        self.pairs == 0
    }

    /// Calls `f` on field, value, field, value, ...
    pub fn for_each(&self, mut f: impl FnMut(&[u8])) {
        let (mut m, mut b) = (0, 0);
        for _ in 0..self.pairs {
            let name = if self.same_fields {
                get_elem(self.master, &mut m)
            } else {
                get_elem(self.body, &mut b)
            };
            let value = get_elem(self.body, &mut b);
            let (Some(name), Some(value)) = (name, value) else {
                return;
            };
            with_elem(name, &mut f);
            with_elem(value, &mut f);
        }
    }

    /// The fields and values, owned (cold paths).
    pub fn fields(&self) -> Vec<Vec<u8>> {
        let mut v = Vec::with_capacity(self.len());
        self.for_each(|f| v.push(f.to_vec()));
        v
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

/// A node (one listpack in Redis).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    /// The master block, then the entries (see the module docs).
    buf: Vec<u8>,
    /// Where the entries start in `buf`.
    entries_at: u32,
    /// Live entries.
    pub live: u64,
    /// Tombstones.
    pub deleted: u64,
    /// Listpack bytes of everything but the header, the two counters and the end.
    body: usize,
    /// The last entry's ID, tombstones included (meaningless when empty).
    last: StreamId,
}

impl Node {
    /// Active defrag: moves the node's buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        m.vec(&mut self.buf);
    }

    /// A node whose master entry takes the field names of `fields` (pairs).
    pub fn new(fields: &[&[u8]]) -> Node {
        Node::with_names(fields.iter().step_by(2).copied())
    }

    fn with_names<'a>(names: impl ExactSizeIterator<Item = &'a [u8]>) -> Node {
        let mut buf = Vec::new();
        let n = names.len();
        put_varint(&mut buf, n as u64);
        let mut body = lp::int_size(n as i64) + lp::int_size(0);
        for f in names {
            body += put_elem(&mut buf, f);
        }
        Node {
            entries_at: buf.len() as u32,
            buf,
            live: 0,
            deleted: 0,
            body,
            last: StreamId::ZERO,
        }
    }

    /// A node with these master field names and no entry yet (RDB load).
    pub fn with_master_fields(master_fields: &[Vec<u8>]) -> Node {
        Node::with_names(master_fields.iter().map(Vec::as_slice))
    }

    /// The master field names' elements (after their count).
    fn master_elems(&self) -> (usize, &[u8]) {
        let mut pos = 0;
        let n = get_varint(&self.buf, &mut pos).unwrap_or(0) as usize;
        (
            n,
            self.buf.get(pos..self.entries_at as usize).unwrap_or(&[]),
        )
    }

    /// The master entry's field names.
    pub fn master_fields(&self) -> Vec<Vec<u8>> {
        let (n, m) = self.master_elems();
        let mut v = Vec::with_capacity(n);
        let mut pos = 0;
        for _ in 0..n {
            match get_elem(m, &mut pos) {
                Some(e) => with_elem(e, &mut |s| v.push(s.to_vec())),
                None => break,
            }
        }
        v
    }

    /// The listpack's total bytes (lpBytes).
    pub fn lp_bytes(&self) -> usize {
        lp::OVERHEAD
            + lp::int_size(self.live as i64)
            + lp::int_size(self.deleted as i64)
            + self.body
    }

    /// Entries, tombstones included.
    pub fn count(&self) -> u64 {
        self.live + self.deleted
    }

    /// Whether `fields` (pairs) have the master entry's field names.
    pub fn same_fields(&self, fields: &[&[u8]]) -> bool {
        let (n, m) = self.master_elems();
        if fields.len() / 2 != n {
            return false;
        }
        let mut pos = 0;
        fields
            .iter()
            .step_by(2)
            .all(|f| match get_elem(m, &mut pos) {
                Some(Elem::Str(s)) => s == *f,
                Some(Elem::Int(v)) => as_int(f) == Some(v),
                None => false,
            })
    }

    /// Appends an entry (its ID above every other in the node); `same_fields`
    /// must be true only when the field names are the master's.
    pub fn push(
        &mut self,
        master: StreamId,
        id: StreamId,
        fields: &[&[u8]],
        same_fields: bool,
        deleted: bool,
    ) {
        let (ms, seq) = deltas(id, master);
        let pairs = fields.len() / 2;
        let mut flags = 0u8;
        if deleted {
            flags |= FLAG_DELETED as u8;
        }
        if same_fields {
            flags |= FLAG_SAMEFIELDS as u8;
        }
        self.buf.push(flags);
        put_varint(&mut self.buf, ms as u64);
        put_varint(&mut self.buf, if ms == 0 { seq as u64 } else { id.seq });
        let mut size = lp::int_size(i64::from(flags)) + lp::int_size(ms) + lp::int_size(seq);
        let mut lp_count = pairs as i64 + 3;
        if !same_fields {
            put_varint(&mut self.buf, pairs as u64);
            size += lp::int_size(pairs as i64);
            lp_count += pairs as i64 + 1;
        }
        for (i, f) in fields.iter().enumerate() {
            if i % 2 == 1 || !same_fields {
                size += put_elem(&mut self.buf, f);
            }
        }
        // The listpack size counts the flags as Redis wrote them at insertion
        // (a live entry: flags 0 or 2, both one-byte integers as 1 is).
        self.body += size + lp::int_size(lp_count);
        if deleted {
            self.deleted += 1;
        } else {
            self.live += 1;
        }
        self.last = id;
    }

    /// Appends a loaded entry.
    pub fn push_entry(&mut self, master: StreamId, e: &Entry) {
        let fields: Vec<&[u8]> = e.fields.iter().map(Vec::as_slice).collect();
        self.push(master, e.id, &fields, e.same_fields, e.deleted);
    }

    /// Gives back spare capacity (a node no longer at the tail stops growing).
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Appends a live entry (XADD's path). Room is reserved geometrically,
    /// so a node is copied O(1) times per entry; [`shrink`](Self::shrink) gives
    /// the slack back when the node stops being the tail.
    pub(super) fn append(
        &mut self,
        master: StreamId,
        id: StreamId,
        fields: &[&[u8]],
        same_fields: bool,
    ) {
        // Varint headers and the entry header: a few bytes more than the data.
        self.buf
            .reserve(8 + fields.iter().map(|f| f.len() + 2).sum::<usize>());
        self.push(master, id, fields, same_fields, false);
    }

    /// The entry at `pos` and where the next one starts.
    #[inline]
    fn entry_at(&self, master: StreamId, pos: usize) -> Option<(EntryRef<'_>, usize)> {
        let buf = &self.buf;
        let flags = *buf.get(pos)?;
        let mut p = pos + 1;
        let dms = get_varint(buf, &mut p)?;
        let s = get_varint(buf, &mut p)?;
        let id = StreamId::new(
            master.ms.wrapping_add(dms),
            if dms == 0 {
                master.seq.wrapping_add(s)
            } else {
                s
            },
        );
        let same_fields = i64::from(flags) & FLAG_SAMEFIELDS != 0;
        let (pairs, master_elems, per_pair) = if same_fields {
            let (n, m) = self.master_elems();
            (n, m, 1)
        } else {
            (get_varint(buf, &mut p)? as usize, &[][..], 2)
        };
        let start = p;
        for _ in 0..pairs * per_pair {
            skip_elem(buf, &mut p)?;
        }
        Some((
            EntryRef {
                id,
                deleted: i64::from(flags) & FLAG_DELETED != 0,
                same_fields,
                pairs,
                master: master_elems,
                body: buf.get(start..p)?,
            },
            p,
        ))
    }

    /// The entries in order, tombstones included, each with its offset.
    pub fn iter(&self, master: StreamId) -> NodeIter<'_> {
        NodeIter {
            node: self,
            master,
            pos: self.entries_at as usize,
        }
    }

    /// Offsets of every entry, in order (reverse iteration).
    pub fn offsets(&self, master: StreamId) -> Vec<usize> {
        let mut v = Vec::with_capacity(self.count() as usize);
        let mut pos = self.entries_at as usize;
        while let Some((_, next)) = self.entry_at(master, pos) {
            v.push(pos);
            pos = next;
        }
        v
    }

    /// The entry at offset `pos` (from [`offsets`](Self::offsets) or the iterator).
    pub fn get_at(&self, master: StreamId, pos: usize) -> Option<EntryRef<'_>> {
        self.entry_at(master, pos).map(|(e, _)| e)
    }

    /// The offset of the entry with ID `id`, tombstones included.
    pub fn find(&self, master: StreamId, id: StreamId) -> Option<usize> {
        for (pos, e) in self.iter(master) {
            if e.id >= id {
                return (e.id == id).then_some(pos);
            }
        }
        None
    }

    /// The last entry's ID, tombstones included (lpGetEdgeStreamID).
    pub fn last_id(&self) -> Option<StreamId> {
        (self.count() > 0).then_some(self.last)
    }

    /// Marks the entry at offset `pos` deleted; returns whether it was live.
    pub fn delete_at(&mut self, pos: usize) -> bool {
        match self.buf.get_mut(pos) {
            Some(f) if i64::from(*f) & FLAG_DELETED == 0 => {
                *f |= FLAG_DELETED as u8;
                self.live -= 1;
                self.deleted += 1;
                true
            }
            _ => false,
        }
    }

    /// Heap bytes (MEMORY USAGE).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }
}

/// Iterator over a node's entries with their offsets.
pub struct NodeIter<'a> {
    node: &'a Node,
    master: StreamId,
    pos: usize,
}

impl<'a> Iterator for NodeIter<'a> {
    type Item = (usize, EntryRef<'a>);

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.pos;
        let (e, next) = self.node.entry_at(self.master, at)?;
        self.pos = next;
        Some((at, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let m = StreamId::new(1000, 5);
        let mut n = Node::new(&[b"a", b"1", b"bb", b"x"]);
        n.append(m, m, &[b"a", b"1", b"bb", b"x"], true);
        n.append(m, StreamId::new(1000, 7), &[b"a", b"-42", b"bb", b""], true);
        n.append(
            m,
            StreamId::new(2000, 0),
            &[b"c", b"007", b"12", b"9223372036854775807"],
            false,
        );
        assert!(n.same_fields(&[b"a", b"z", b"bb", b"z"]));
        assert!(!n.same_fields(&[b"a", b"z"]));
        let got: Vec<(StreamId, Vec<Vec<u8>>)> =
            n.iter(m).map(|(_, e)| (e.id, e.fields())).collect();
        let v = |s: &[&[u8]]| s.iter().map(|x| x.to_vec()).collect::<Vec<_>>();
        assert_eq!(
            got,
            vec![
                (m, v(&[b"a", b"1", b"bb", b"x"])),
                (StreamId::new(1000, 7), v(&[b"a", b"-42", b"bb", b""])),
                (
                    StreamId::new(2000, 0),
                    v(&[b"c", b"007", b"12", b"9223372036854775807"])
                ),
            ]
        );
        assert_eq!(n.master_fields(), v(&[b"a", b"bb"]));
        let pos = n.find(m, StreamId::new(1000, 7)).unwrap();
        assert!(n.delete_at(pos));
        assert!(!n.delete_at(pos));
        assert_eq!((n.live, n.deleted), (2, 1));
        assert!(n.get_at(m, pos).unwrap().deleted);
        assert_eq!(n.find(m, StreamId::new(1000, 6)), None);
        assert_eq!(n.last_id(), Some(StreamId::new(2000, 0)));
        assert_eq!(n.offsets(m).len(), 3);
    }
}
