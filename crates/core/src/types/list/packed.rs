//! A packed node: list entries stored back to back in one byte buffer, like Redis's
//! listpack, so a list costs a couple of bytes per element beyond its data and no
//! allocation per element.
//!
//! Entry layout: `header | payload | backlen`. `header` is a LEB128 varint `h`:
//! - `h` even: a string of `h >> 1` bytes follows;
//! - `h` odd, `k = h >> 1` in `1..=8`: an integer stored in `k` little-endian
//!   two's-complement bytes;
//! - `h` odd, `k >= 9`: the integer `k - 9` with no payload (0..=54 fit a one-byte
//!   header, up to 8182 two bytes), used when not longer than the payload form.
//!
//! `backlen` is the length of `header | payload` as a varint with its bytes reversed
//! (as listpack's backlen), so the node can be walked in both directions.
//!
//! Integers are only stored for strings that are the canonical text of an `i64`
//! (what [`parse_i64`] accepts), so every element reads back byte-identical.

use crate::args::parse_i64;

/// First immediate-integer code (`k` values below it give a payload length).
const IMMEDIATE_BASE: u64 = 9;

/// An element read from a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Elem<'a> {
    /// Stored as bytes.
    Bytes(&'a [u8]),
    /// Stored as an integer (the element is its decimal text).
    Int(i64),
}

impl Elem<'_> {
    /// The element's bytes.
    pub fn to_vec(self) -> Vec<u8> {
        match self {
            Elem::Bytes(b) => b.to_vec(),
            Elem::Int(i) => itoa::Buffer::new().format(i).as_bytes().to_vec(),
        }
    }

    /// Calls `f` with the element's bytes (integers formatted on the stack).
    pub fn with_bytes<R>(self, f: impl FnOnce(&[u8]) -> R) -> R {
        match self {
            Elem::Bytes(b) => f(b),
            Elem::Int(i) => f(itoa::Buffer::new().format(i).as_bytes()),
        }
    }

    /// Whether the element equals `needle`.
    pub fn matches(self, needle: &Needle<'_>) -> bool {
        match self {
            Elem::Bytes(b) => b == needle.bytes,
            // Integers are stored only for canonical text, so equal text means an
            // equal canonical integer.
            Elem::Int(i) => needle.int == Some(i),
        }
    }
}

/// A value searched for (LREM, LPOS, LINSERT), with its integer form precomputed.
#[derive(Debug, Clone, Copy)]
pub struct Needle<'a> {
    bytes: &'a [u8],
    int: Option<i64>,
}

impl<'a> Needle<'a> {
    /// Prepares `bytes` for comparisons.
    pub fn new(bytes: &'a [u8]) -> Self {
        Needle {
            bytes,
            int: as_int(bytes),
        }
    }
}

fn as_int(value: &[u8]) -> Option<i64> {
    if value.len() > 20 {
        return None;
    }
    parse_i64(value)
}

fn varint_len(mut v: u64) -> usize {
    let mut n = 1;
    while v >= 0x80 {
        v >>= 7;
        n += 1;
    }
    n
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// The varint bytes in reverse order, read back from the end by [`get_back`].
fn put_back(out: &mut Vec<u8>, v: u64) {
    let start = out.len();
    put_varint(out, v);
    out[start..].reverse();
}

/// Reads a varint at `pos`; returns it and its length.
fn get_varint(buf: &[u8], pos: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    let mut i = pos;
    loop {
        let b = buf[i];
        v |= u64::from(b & 0x7f) << shift;
        i += 1;
        if b & 0x80 == 0 {
            return (v, i - pos);
        }
        shift += 7;
    }
}

/// Reads a reversed varint ending at `end`; returns it and its length.
fn get_back(buf: &[u8], end: usize) -> (u64, usize) {
    let mut v = 0u64;
    let mut shift = 0;
    let mut i = end;
    loop {
        i -= 1;
        let b = buf[i];
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return (v, end - i);
        }
        shift += 7;
    }
}

/// Smallest number of bytes holding `i` in two's complement.
fn int_width(i: i64) -> usize {
    (1..8)
        .find(|&n| {
            let shift = 64 - 8 * n as u32;
            (i << shift) >> shift == i
        })
        .unwrap_or(8)
}

/// The header code and payload length of `value`, and its integer value if stored
/// as one (immediate when that is no longer than header + payload bytes).
fn header(value: &[u8]) -> (u64, usize, Option<i64>) {
    match as_int(value) {
        Some(i) => {
            let w = int_width(i);
            if (0..1 << 40).contains(&i) {
                let h = ((i as u64 + IMMEDIATE_BASE) << 1) | 1;
                if varint_len(h) <= 1 + w {
                    return (h, 0, Some(i));
                }
            }
            (((w as u64) << 1) | 1, w, Some(i))
        }
        None => ((value.len() as u64) << 1, value.len(), None),
    }
}

/// Payload length for header code `h`.
fn payload_len(h: u64) -> usize {
    if h & 1 == 0 {
        (h >> 1) as usize
    } else {
        let k = h >> 1;
        if k >= IMMEDIATE_BASE {
            0
        } else {
            k as usize
        }
    }
}

/// Bytes `value` takes once encoded.
pub fn encoded_len(value: &[u8]) -> usize {
    let (h, plen, _) = header(value);
    let size = varint_len(h) + plen;
    size + varint_len(size as u64)
}

/// Appends `value`'s entry to `out`; returns the entry's length.
fn encode_into(value: &[u8], out: &mut Vec<u8>) -> usize {
    let start = out.len();
    // Grow by at most an eighth (not Vec's doubling), so a node wastes little more
    // than Redis's exact-size listpack reallocations while appends stay amortised.
    let need = encoded_len(value);
    if out.capacity() - start < need {
        out.reserve_exact(need.max(start / 8));
    }
    let (h, plen, int) = header(value);
    put_varint(out, h);
    match int {
        Some(i) if plen > 0 => out.extend_from_slice(&i.to_le_bytes()[..plen]),
        Some(_) => {}
        None => out.extend_from_slice(value),
    }
    let size = out.len() - start;
    put_back(out, size as u64);
    out.len() - start
}

/// Decodes the entry at `pos`; returns it and the position of the next one.
fn decode(buf: &[u8], pos: usize) -> (Elem<'_>, usize) {
    let (h, hl) = get_varint(buf, pos);
    let p = pos + hl;
    let plen = payload_len(h);
    let next = p + plen + varint_len((hl + plen) as u64);
    let elem = if h & 1 == 0 {
        Elem::Bytes(&buf[p..p + plen])
    } else if plen == 0 {
        Elem::Int(((h >> 1) - IMMEDIATE_BASE) as i64)
    } else {
        let mut bytes = [0u8; 8];
        bytes[..plen].copy_from_slice(&buf[p..p + plen]);
        let shift = 64 - 8 * plen as u32;
        Elem::Int((i64::from_le_bytes(bytes) << shift) >> shift)
    };
    (elem, next)
}

/// The start of the entry that ends at `end`.
fn prev_start(buf: &[u8], end: usize) -> usize {
    let (size, bl) = get_back(buf, end);
    end - bl - size as usize
}

/// One packed node.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    buf: Vec<u8>,
    count: u32,
}

impl Node {
    /// Active defrag: moves the node's buffer when the allocator says so.
    pub fn defrag(&mut self, m: &mut crate::defrag::Mover<'_>) {
        m.vec(&mut self.buf);
    }

    /// Entries in the node.
    pub fn count(&self) -> usize {
        self.count as usize
    }

    /// Encoded bytes.
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Heap bytes owned.
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    /// Byte offset of entry `i` (`i == count` gives the end).
    fn pos_of(&self, i: usize) -> usize {
        let count = self.count();
        if i <= count / 2 {
            let mut pos = 0;
            for _ in 0..i {
                pos = decode(&self.buf, pos).1;
            }
            pos
        } else {
            let mut pos = self.buf.len();
            for _ in i..count {
                pos = prev_start(&self.buf, pos);
            }
            pos
        }
    }

    /// Entry `i` (must be `< count`).
    pub fn get(&self, i: usize) -> Elem<'_> {
        decode(&self.buf, self.pos_of(i)).0
    }

    /// Inserts `value` before entry `i` (`i == count` appends).
    pub fn insert(&mut self, i: usize, value: &[u8]) {
        let pos = self.pos_of(i);
        let n = encode_into(value, &mut self.buf);
        // Encoded at the end, then rotated into place: one move, no temporary.
        self.buf[pos..].rotate_right(n);
        self.count += 1;
    }

    /// Appends `value`.
    pub fn push_back(&mut self, value: &[u8]) {
        encode_into(value, &mut self.buf);
        self.count += 1;
    }

    /// Replaces entry `i` with `value`.
    pub fn replace(&mut self, i: usize, value: &[u8]) {
        let pos = self.pos_of(i);
        let end = decode(&self.buf, pos).1;
        let old = self.buf.len();
        let n = encode_into(value, &mut self.buf);
        self.buf[pos..].rotate_right(n);
        // The old entry now sits right after the new one.
        self.buf.drain(pos + n..end + n);
        debug_assert_eq!(self.buf.len(), old - (end - pos) + n);
    }

    /// Removes `n` entries starting at entry `i`.
    pub fn remove_range(&mut self, i: usize, n: usize) {
        let start = self.pos_of(i);
        let mut end = start;
        for _ in 0..n {
            end = decode(&self.buf, end).1;
        }
        self.buf.drain(start..end);
        self.count -= n as u32;
    }

    /// Visits the first `n` entries front to back.
    pub fn visit_front(&self, n: usize, mut f: impl FnMut(Elem<'_>)) {
        let mut pos = 0;
        for _ in 0..n {
            let (e, next) = decode(&self.buf, pos);
            f(e);
            pos = next;
        }
    }

    /// Visits the last `n` entries back to front.
    pub fn visit_back(&self, n: usize, mut f: impl FnMut(Elem<'_>)) {
        let mut end = self.buf.len();
        for _ in 0..n {
            let start = prev_start(&self.buf, end);
            f(decode(&self.buf, start).0);
            end = start;
        }
    }

    /// Appends every entry of `other` (entries are self-contained, so the bytes
    /// simply concatenate).
    pub fn append(&mut self, other: Node) {
        self.buf.extend_from_slice(&other.buf);
        self.count += other.count;
    }

    /// Splits off entries `i..` into a new node.
    pub fn split_off(&mut self, i: usize) -> Node {
        let pos = self.pos_of(i);
        let tail = Node {
            buf: self.buf.split_off(pos),
            count: self.count - i as u32,
        };
        self.count = i as u32;
        self.buf.shrink_to_fit();
        tail
    }

    /// Forward cursor from entry `i`.
    pub fn cursor(&self, i: usize) -> usize {
        self.pos_of(i)
    }

    /// The entry at byte offset `pos` and the offset of the next one.
    pub fn at(&self, pos: usize) -> (Elem<'_>, usize) {
        decode(&self.buf, pos)
    }

    /// The entry ending at byte offset `end` and its start offset.
    pub fn before(&self, end: usize) -> (Elem<'_>, usize) {
        let start = prev_start(&self.buf, end);
        (decode(&self.buf, start).0, start)
    }

    /// Releases all spare capacity.
    pub fn shrink(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Releases spare capacity beyond a quarter of the used size.
    pub fn trim_capacity(&mut self) {
        if self.buf.capacity() > self.buf.len() + self.buf.len() / 4 + 16 {
            self.buf.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(n: &Node) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        n.visit_front(n.count(), |e| v.push(e.to_vec()));
        v
    }

    fn all_rev(n: &Node) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        n.visit_back(n.count(), |e| v.push(e.to_vec()));
        v.reverse();
        v
    }

    const SAMPLES: &[&[u8]] = &[
        b"",
        b"0",
        b"54",
        b"55",
        b"-1",
        b"127",
        b"128",
        b"-129",
        b"12345",
        b"8182",
        b"8183",
        b"1099511627775",
        b"1099511627776",
        b"-8183",
        b"9223372036854775807",
        b"-9223372036854775808",
        b"9223372036854775808",
        b"007",
        b"-0",
        b"+1",
        b" 1",
        b"hello",
    ];

    #[test]
    fn round_trips_every_kind_of_entry() {
        let mut n = Node::default();
        let long = vec![b'x'; 300];
        let huge = vec![b'y'; 70_000];
        let mut expect: Vec<Vec<u8>> = SAMPLES.iter().map(|s| s.to_vec()).collect();
        expect.push(long);
        expect.push(huge);
        for v in &expect {
            n.push_back(v);
        }
        assert_eq!(n.count(), expect.len());
        assert_eq!(all(&n), expect);
        assert_eq!(all_rev(&n), expect);
        for (i, v) in expect.iter().enumerate() {
            assert_eq!(n.get(i).to_vec(), *v);
        }
        let total: usize = expect.iter().map(|v| encoded_len(v)).sum();
        assert_eq!(total, n.bytes());
    }

    #[test]
    fn memory_per_element_is_no_worse_than_redis() {
        // Redis 7.0.15 MEMORY USAGE (default fill) for 10000 elements: 110216 bytes
        // for "item-1".."item-10000", 36640 for "1".."10000".
        let mut l = crate::types::list::ListValue::with_fill(-2);
        let mut n = crate::types::list::ListValue::with_fill(-2);
        for i in 1..=10000 {
            l.push_back(format!("item-{i}").as_bytes());
            n.push_back(i.to_string().as_bytes());
        }
        assert!(l.heap_size() < 110_216, "{}", l.heap_size());
        assert!(n.heap_size() < 36_640, "{}", n.heap_size());
    }

    #[test]
    fn small_integers_take_two_bytes() {
        assert_eq!(encoded_len(b"0"), 2);
        assert_eq!(encoded_len(b"54"), 2);
        assert_eq!(encoded_len(b"55"), 3);
        assert_eq!(encoded_len(b"8182"), 3);
        assert_eq!(encoded_len(b"-1"), 3);
        assert_eq!(encoded_len(b"12345"), 4);
        assert_eq!(encoded_len(b"1099511627775"), 7);
        assert_eq!(encoded_len(b"abc"), 5);
        assert_eq!(encoded_len(b"007"), 5);
    }

    #[test]
    fn integers_decode_as_their_canonical_text() {
        let mut n = Node::default();
        n.push_back(b"-42");
        n.push_back(b"1000000");
        assert_eq!(n.get(0), Elem::Int(-42));
        assert_eq!(n.get(1), Elem::Int(1_000_000));
        assert!(n.get(0).matches(&Needle::new(b"-42")));
        assert!(!n.get(0).matches(&Needle::new(b"-042")));
        n.push_back(b"042");
        assert!(n.get(2).matches(&Needle::new(b"042")));
        assert!(!n.get(2).matches(&Needle::new(b"42")));
    }

    #[test]
    fn insert_replace_remove_split() {
        let mut n = Node::default();
        let mut model: Vec<Vec<u8>> = Vec::new();
        for i in 0..40 {
            let v = format!("v{i}").into_bytes();
            let at = (i * 7) % (model.len() + 1);
            n.insert(at, &v);
            model.insert(at, v);
        }
        assert_eq!(all(&n), model);
        n.replace(3, b"12");
        model[3] = b"12".to_vec();
        n.replace(10, &[b'z'; 200]);
        model[10] = vec![b'z'; 200];
        n.replace(0, b"");
        model[0] = Vec::new();
        assert_eq!(all(&n), model);
        assert_eq!(all_rev(&n), model);
        n.remove_range(5, 4);
        model.drain(5..9);
        assert_eq!(all(&n), model);
        let tail = n.split_off(10);
        let t = model.split_off(10);
        assert_eq!(all(&n), model);
        assert_eq!(all(&tail), t);
    }
}
