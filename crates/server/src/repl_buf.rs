//! The replication buffer (Redis 7's): the stream is held once, in a list of
//! blocks, and that list is both the backlog and every replica's pending output.
//! A replica is a cursor into it (the offset of the next byte it has to be
//! written); the backlog is whatever the list holds. Blocks at the front are
//! freed once the backlog is longer than repl-backlog-size without them and no
//! replica still has to be sent any of their bytes, so:
//! - two replicas that fall behind together cost the stream once, not twice
//!   (INFO mem_total_replication_buffers);
//! - a replica waiting for its RDB keeps the stream since its snapshot, and the
//!   backlog then outgrows repl-backlog-size (a third replica can partially
//!   resync from it), until that replica catches up or is dropped;
//! - a partial resynchronization copies nothing: the replica's cursor starts at
//!   the offset it asked for.
//!
//! Offsets are Redis's: the first byte of the stream is offset 1, and
//! master_repl_offset is the offset of the last byte (`next - 1`).

use std::collections::VecDeque;

/// The size of an ordinary block (Redis's PROTO_REPLY_CHUNK_BYTES).
pub const BLOCK: usize = 16 * 1024;
/// What a block costs besides its bytes: its slot in the list (offset and
/// vector) and the allocation's header, as Redis counts a list node per block.
pub const BLOCK_OVERHEAD: usize = 32;
/// The most blocks one append frees: a replica that caught up on a long stream
/// releases it over the next writes and the cron, not in one write's time
/// (Redis's incremental trim).
const TRIM_PER_APPEND: usize = 16;

struct Block {
    /// Offset of its first byte.
    start: u64,
    /// Its bytes; the capacity is fixed at creation (the allocation's size class).
    data: Vec<u8>,
}

impl Block {
    fn end(&self) -> u64 {
        self.start + self.data.len() as u64
    }
}

/// The shared replication buffer.
pub struct ReplBuf {
    blocks: VecDeque<Block>,
    /// Offset the next byte appended gets.
    next: u64,
    /// repl-backlog-size.
    size: usize,
    /// Bytes allocated for blocks, with [`BLOCK_OVERHEAD`] each.
    mem: usize,
}

/// jemalloc's size class for an allocation of `n` bytes past 16 KiB (four
/// classes per doubling), so a block's capacity is what it really takes.
fn size_class(n: usize) -> usize {
    if n <= BLOCK {
        return BLOCK;
    }
    let lg = usize::BITS - (n - 1).leading_zeros();
    let step = 1usize << (lg - 3);
    n.div_ceil(step) * step
}

impl ReplBuf {
    /// An empty buffer whose first byte will be offset `next`. Its first block
    /// is allocated now: a master's memory with a replica attached then already
    /// holds it (Redis's has fed its first bytes by then), so the first write
    /// after does not count a new block against maxmemory.
    pub fn new(size: usize, next: u64) -> ReplBuf {
        let mut blocks = VecDeque::new();
        blocks.push_back(Block {
            start: next,
            data: Vec::with_capacity(BLOCK),
        });
        ReplBuf {
            blocks,
            next,
            size: size.max(1),
            mem: BLOCK + BLOCK_OVERHEAD,
        }
    }

    /// Offset of the first byte held (repl_backlog_first_byte_offset).
    pub fn first(&self) -> u64 {
        self.blocks.front().map_or(self.next, |b| b.start)
    }

    /// Offset the next byte appended gets.
    pub fn next(&self) -> u64 {
        self.next
    }

    /// Bytes held (repl_backlog_histlen).
    pub fn histlen(&self) -> u64 {
        self.next - self.first()
    }

    /// Memory the blocks take (mem_total_replication_buffers).
    pub fn memory(&self) -> usize {
        self.mem
    }

    /// repl-backlog-size.
    pub fn size(&self) -> usize {
        self.size
    }

    /// Whether `offset` can be the next byte sent to a replica (a partial
    /// resynchronization from it is possible).
    pub fn holds(&self, offset: u64) -> bool {
        offset >= self.first() && offset <= self.next
    }

    /// Appends `bytes`; then frees front blocks no cursor at or past `keep`
    /// needs (`keep`: the lowest replica cursor, `u64::MAX` with none).
    pub fn append(&mut self, mut bytes: &[u8], keep: u64) {
        while !bytes.is_empty() {
            if let Some(tail) = self.blocks.back_mut() {
                let room = tail.data.capacity() - tail.data.len();
                if room > 0 {
                    let n = room.min(bytes.len());
                    tail.data.extend_from_slice(&bytes[..n]);
                    self.next += n as u64;
                    bytes = &bytes[n..];
                    continue;
                }
            }
            // Big writes get a block of their size, but no block is larger
            // than a sixteenth of the backlog: a huge block that a replica
            // needs one byte of would be kept whole.
            let limit = (self.size / 16).max(BLOCK);
            let cap = size_class(bytes.len().clamp(BLOCK, limit.max(BLOCK)));
            self.mem += cap + BLOCK_OVERHEAD;
            self.blocks.push_back(Block {
                start: self.next,
                data: Vec::with_capacity(cap),
            });
        }
        drop(self.trim(keep, TRIM_PER_APPEND));
    }

    /// Takes out up to `max` front blocks that the backlog can do without (it
    /// stays at least repl-backlog-size long) and no cursor at or past `keep`
    /// needs; the caller frees them (outside its lock, for many).
    #[must_use]
    pub fn trim(&mut self, keep: u64, max: usize) -> Vec<Vec<u8>> {
        let mut freed = Vec::new();
        let mut histlen = self.histlen();
        for _ in 0..max {
            if self.blocks.len() <= 1 {
                break;
            }
            let front = &self.blocks[0];
            let len = front.data.len() as u64;
            if front.end() > keep || histlen.saturating_sub(len) <= self.size as u64 {
                break;
            }
            histlen -= len;
            self.mem -= front.data.capacity() + BLOCK_OVERHEAD;
            if let Some(b) = self.blocks.pop_front() {
                freed.push(b.data);
            }
        }
        freed
    }

    /// repl-backlog-size changed (the blocks go at the next trims).
    pub fn resize(&mut self, size: usize) {
        self.size = size.max(1);
    }

    /// Copies the bytes from `offset` on into `out`, at most `max` of them.
    /// Returns how many (0 when `offset` is not held or nothing follows it).
    pub fn copy_from(&self, offset: u64, out: &mut bytes::BytesMut, max: usize) -> usize {
        if !self.holds(offset) || offset == self.next {
            return 0;
        }
        // The block holding `offset`: blocks are in offset order.
        let mut i = self.blocks.partition_point(|b| b.end() <= offset);
        let mut at = offset;
        let mut copied = 0;
        while copied < max && i < self.blocks.len() {
            let b = &self.blocks[i];
            let from = (at - b.start) as usize;
            let n = (b.data.len() - from).min(max - copied);
            out.extend_from_slice(&b.data[from..from + n]);
            copied += n;
            at += n as u64;
            i += 1;
        }
        copied
    }

    /// The bytes from `offset` on (for tests and small reads).
    pub fn bytes_from(&self, offset: u64) -> Option<Vec<u8>> {
        if !self.holds(offset) {
            return None;
        }
        let mut out = bytes::BytesMut::new();
        self.copy_from(offset, &mut out, usize::MAX);
        Some(out.to_vec())
    }

    /// Moves every offset `by` forward (a restored master's history continues
    /// past the offset its RDB was taken at).
    pub fn rebase(&mut self, by: u64) {
        for b in &mut self.blocks {
            b.start += by;
        }
        self.next += by;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backlog_keeps_its_size_in_whole_blocks() {
        let mut b = ReplBuf::new(40_000, 1);
        let chunk = vec![7u8; 1000];
        for _ in 0..200 {
            b.append(&chunk, u64::MAX);
        }
        assert_eq!(b.next(), 200_001);
        // Never shorter than the setting, never a whole block longer.
        assert!(b.histlen() >= 40_000 && b.histlen() < 40_000 + BLOCK as u64);
        assert_eq!(b.first() + b.histlen(), b.next());
        assert_eq!(b.bytes_from(b.first()).unwrap().len() as u64, b.histlen());
        assert!(b.bytes_from(b.first() - 1).is_none());
        assert_eq!(b.bytes_from(b.next()).unwrap(), Vec::<u8>::new());
    }

    #[test]
    fn a_cursor_keeps_its_blocks_past_the_size() {
        let mut b = ReplBuf::new(20_000, 1);
        let chunk = vec![1u8; 5000];
        for _ in 0..100 {
            b.append(&chunk, 1);
        }
        assert_eq!(b.first(), 1, "the replica at offset 1 keeps everything");
        let held = b.memory();
        assert!(held >= 500_000);
        // The replica caught up: the next trims free all but the backlog.
        drop(b.trim(b.next(), usize::MAX));
        assert!(b.histlen() >= 20_000 && b.histlen() < 20_000 + BLOCK as u64);
        assert!(b.memory() < held / 10);
    }

    #[test]
    fn copies_cross_blocks_and_stop_at_max() {
        let mut b = ReplBuf::new(1 << 20, 1);
        let data: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        b.append(&data, u64::MAX);
        let mut out = bytes::BytesMut::new();
        assert_eq!(b.copy_from(10_001, &mut out, 30_000), 30_000);
        assert_eq!(&out[..], &data[10_000..40_000]);
        out.clear();
        assert_eq!(b.copy_from(40_001, &mut out, usize::MAX), 10_000);
        assert_eq!(&out[..], &data[40_000..]);
    }

    #[test]
    fn big_writes_get_blocks_of_at_most_a_sixteenth_of_the_backlog() {
        let mut b = ReplBuf::new(16 * 64 * 1024, 1);
        b.append(&vec![0u8; BLOCK + (1 << 20)], u64::MAX);
        // The first block (allocated with the buffer), then sixteen of 64 KiB.
        assert_eq!(b.blocks.len(), 17);
        assert!(b
            .blocks
            .iter()
            .skip(1)
            .all(|k| k.data.capacity() == 64 * 1024));
        assert_eq!(size_class(20_000), 20 * 1024);
        assert_eq!(size_class(16 * 1024), 16 * 1024);
        assert_eq!(size_class(100_000), 112 * 1024);
    }

    #[test]
    fn a_rebase_moves_every_offset() {
        let mut b = ReplBuf::new(1000, 1);
        b.append(b"hello", u64::MAX);
        b.rebase(100);
        assert_eq!((b.first(), b.next()), (101, 106));
        assert_eq!(b.bytes_from(103).unwrap(), b"llo");
    }
}
