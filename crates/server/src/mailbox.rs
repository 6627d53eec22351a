//! A connection's mailbox: what it receives without asking for it (pub/sub
//! messages, RESP3 invalidation pushes, MONITOR lines) and the request to close it
//! (CLIENT KILL).
//!
//! Anyone may post from any thread; the connection writes the letters in the order
//! they were posted, together with its replies: letters posted before it starts a
//! batch of requests go out before that batch's replies, letters posted while it
//! waits (idle, or blocked in BLPOP) go out at once. Each letter is already encoded
//! for the recipient's protocol. The bytes queued count toward the client's output
//! buffer (CLIENT LIST `oll` / `omem`), with the bytes the connection took out
//! but has not written yet (its socket is full); a post that takes it to its hard
//! limit (client-output-buffer-limit of the client's class), or keeps it at its
//! soft limit for longer than allowed, is refused and closes the client, as Redis
//! closes a client over its limit, so a subscriber that stops reading cannot grow
//! the server's memory without bound. The soft limit is also checked by the
//! server's cron (`check_soft_limit`), for a client that stays over it while
//! nothing more is posted.
//!
//! The connection's hot path pays one relaxed load per batch while nothing is
//! posted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// What a post did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posted {
    /// Queued for the connection.
    Queued,
    /// Refused: the client would go past its output-buffer hard limit; it is being
    /// closed.
    OverLimit,
    /// Refused: the client is closing.
    Closed,
}

/// One letter.
#[derive(Debug, Clone)]
pub enum Letter {
    /// Bytes as they go out.
    Raw(Bytes),
    /// Small letters posted while others waited, copied one after the other into
    /// one block of [`BLOCK`] bytes: a client that does not read (a replica
    /// stopped, a slow subscriber) then costs what its output takes, not an
    /// allocation and a queue slot per letter (some 150 bytes for a 50-byte
    /// command of the replication stream), as Redis's 16 KB reply blocks.
    Block(bytes::BytesMut),
    /// A pattern message (`pmessage`, pattern, channel, message): the pattern is
    /// the registry's own bytes and the rest is shared by every pattern subscriber
    /// of the publication, so a fan-out to patterns allocates nothing per
    /// subscriber; it is encoded when written.
    PMessage {
        /// Push (`>4`) rather than array (`*4`).
        resp3: bool,
        /// The pattern that matched.
        pattern: Bytes,
        /// The channel and message bulks, encoded.
        tail: Bytes,
    },
}

/// Size of a [`Letter::Block`].
const BLOCK: usize = 16 * 1024;
/// What a queued letter costs besides its bytes (its allocation's header and
/// rounding, its shared-buffer header), for [`Mailbox::memory`].
const LETTER_OVERHEAD: usize = 64;

/// What `n` queue slots take.
fn slot_bytes(n: usize) -> usize {
    n * std::mem::size_of::<Letter>()
}

/// What the queue's own slots take.
fn slots_memory(letters: &VecDeque<Letter>) -> usize {
    slot_bytes(letters.capacity())
}

/// `pmessage`'s header after `*4` / `>4`.
const PMESSAGE: &[u8] = b"4\r\n$8\r\npmessage\r\n";

impl Letter {
    /// Bytes it takes when written.
    pub fn len(&self) -> usize {
        match self {
            Letter::Raw(b) => b.len(),
            Letter::Block(b) => b.len(),
            Letter::PMessage { pattern, tail, .. } => {
                1 + PMESSAGE.len() + bulk_header_len(pattern.len()) + pattern.len() + 2 + tail.len()
            }
        }
    }

    /// Whether it is empty (never, for a real letter).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn write_to(&self, out: &mut bytes::BytesMut) {
        match self {
            Letter::Raw(b) => out.extend_from_slice(b),
            Letter::Block(b) => out.extend_from_slice(b),
            Letter::PMessage {
                resp3,
                pattern,
                tail,
            } => {
                out.extend_from_slice(if *resp3 { b">" } else { b"*" });
                out.extend_from_slice(PMESSAGE);
                out.extend_from_slice(b"$");
                out.extend_from_slice(itoa::Buffer::new().format(pattern.len()).as_bytes());
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(pattern);
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(tail);
            }
        }
    }
}

/// Length of `$<n>\r\n`.
fn bulk_header_len(n: usize) -> usize {
    itoa::Buffer::new().format(n).len() + 3
}

/// One connection's mailbox.
#[derive(Default)]
pub struct Mailbox {
    letters: Mutex<VecDeque<Letter>>,
    /// Letters queued (CLIENT LIST `oll`); read without the lock on the hot path.
    count: AtomicUsize,
    /// Bytes queued (part of CLIENT LIST `omem`).
    bytes: AtomicUsize,
    /// Memory the queue takes (blocks' capacity, letters' overhead, the queue's
    /// slots): what a replica's output costs in INFO mem_clients_slaves.
    memory: AtomicUsize,
    /// Bytes taken out by the connection and not written yet.
    unsent: AtomicUsize,
    /// Bytes it has to be sent that are held elsewhere: a replica's part of the
    /// shared replication buffer (`repl_buf.rs`).
    external: AtomicUsize,
    /// Hard limit of pending bytes (0: none).
    limit: AtomicUsize,
    /// Soft limit of pending bytes (0: none) and how long it may be exceeded.
    soft: AtomicUsize,
    soft_ms: AtomicU64,
    /// Since when (ms, [`now_ms`]) the soft limit is exceeded (0: it is not).
    soft_since: AtomicU64,
    /// Set by CLIENT KILL or an overflow: the connection closes.
    closing: AtomicBool,
    /// Set when the close came from an output-buffer limit.
    overflowed: AtomicBool,
    /// Wakes the connection: a letter, or a close.
    wake: Notify,
    /// Wakes a connection stuck writing to a full socket: a close.
    closed: Notify,
    /// Client eviction's sum, which the queued bytes count toward while it is on
    /// (`client_mem.rs`).
    acct: OnceLock<std::sync::Arc<crate::client_mem::ClientMemory>>,
    /// Whether this mailbox's bytes count (a normal client, not closed).
    counting: AtomicBool,
    /// Queued bytes now in that sum (changed under the letters' lock).
    acct_bytes: AtomicUsize,
}

/// Milliseconds on a monotonic clock (never 0).
fn now_ms() -> u64 {
    static ORIGIN: OnceLock<Instant> = OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed().as_millis() as u64 + 1
}

impl Mailbox {
    /// Queues `letter` (already encoded for the recipient) and wakes the connection.
    pub fn post(&self, letter: Bytes) -> Posted {
        self.post_letter(Letter::Raw(letter))
    }

    /// Queues `letter` and wakes the connection.
    pub fn post_letter(&self, letter: Letter) -> Posted {
        if self.closing.load(Relaxed) {
            return Posted::Closed;
        }
        let limit = self.limit.load(Relaxed);
        let size = letter.len();
        let first = {
            let mut letters = self.letters.lock();
            let queued = self.bytes.load(Relaxed);
            let pending = queued + size + self.unsent.load(Relaxed) + self.external.load(Relaxed);
            if self.over_limits(pending, limit) {
                drop(letters);
                self.overflow();
                return Posted::OverLimit;
            }
            // The memory is counted before it is allocated: eviction, which
            // leaves a replica's output out, must never see it uncounted.
            let slots = slots_memory(&letters);
            let grows = letters.len() == letters.capacity();
            if grows {
                // A full queue doubles (to at least 4 slots) on its next push.
                self.memory.fetch_add(slots.max(slot_bytes(4)), Relaxed);
            }
            match (letter, letters.back_mut()) {
                (Letter::Raw(b), Some(Letter::Block(block)))
                    if block.capacity() - block.len() >= b.len() =>
                {
                    block.extend_from_slice(&b);
                }
                (Letter::Raw(b), Some(_)) if b.len() <= BLOCK / 4 => {
                    self.memory.fetch_add(BLOCK, Relaxed);
                    let mut block = bytes::BytesMut::with_capacity(BLOCK);
                    block.extend_from_slice(&b);
                    letters.push_back(Letter::Block(block));
                }
                (letter, _) => {
                    self.memory.fetch_add(size + LETTER_OVERHEAD, Relaxed);
                    letters.push_back(letter);
                }
            }
            if grows {
                // Settle the estimate on what the queue really took.
                let m = self.memory.load(Relaxed) - slots.max(slot_bytes(4));
                self.memory
                    .store(m + slots_memory(&letters) - slots, Relaxed);
            }
            self.bytes.store(queued + size, Relaxed);
            if self.counting.load(Relaxed) {
                if let Some(cm) = self.acct.get().filter(|cm| cm.on()) {
                    self.acct_bytes.fetch_add(size, Relaxed);
                    cm.add(size as i64);
                }
            }
            self.count.store(letters.len(), Relaxed);
            letters.len() == 1
        };
        // A letter already waiting has woken the connection, which takes every
        // letter at once.
        if first {
            self.wake.notify_one();
        }
        Posted::Queued
    }

    /// Whether `pending` bytes have been at or over the soft limit for longer than
    /// allowed; starts or resets the soft limit's clock.
    fn soft_limit_passed(&self, pending: usize) -> bool {
        let soft = self.soft.load(Relaxed);
        if soft == 0 || pending < soft {
            if self.soft_since.load(Relaxed) != 0 {
                self.soft_since.store(0, Relaxed);
            }
            return false;
        }
        let now = now_ms();
        let since = self.soft_since.load(Relaxed);
        if since == 0 {
            self.soft_since.store(now, Relaxed);
            return false;
        }
        now.saturating_sub(since) > self.soft_ms.load(Relaxed)
    }

    /// For the cron: closes the client if it has stayed over its soft limit for
    /// longer than allowed with nothing posted meanwhile. Returns whether it did.
    pub fn check_soft_limit(&self) -> bool {
        if self.soft_since.load(Relaxed) == 0 || self.closing() {
            return false;
        }
        let pending =
            self.bytes.load(Relaxed) + self.unsent.load(Relaxed) + self.external.load(Relaxed);
        if self.soft_limit_passed(pending) {
            self.overflow();
            return true;
        }
        false
    }

    /// A replica has `n` bytes of the shared replication buffer to be sent:
    /// they count toward its limits, whose hard one is at least `min_hard`
    /// (Redis raises a replica's hard limit to repl-backlog-size: those bytes
    /// are the backlog's anyway, and a partial resync must not be cut off).
    /// Returns false, closing the client, when that takes it over a limit.
    pub fn hold_external(&self, n: usize, min_hard: usize) -> bool {
        if self.closing() {
            return false;
        }
        self.external.store(n, Relaxed);
        let mut limit = self.limit.load(Relaxed);
        if limit > 0 {
            limit = limit.max(min_hard);
        }
        let pending = n + self.bytes.load(Relaxed) + self.unsent.load(Relaxed);
        if self.over_limits(pending, limit) {
            self.overflow();
            return false;
        }
        true
    }

    /// Redis's checkClientOutputBufferLimits: `pending` bytes at the hard
    /// `limit` (0: none), or over the soft one for longer than allowed.
    fn over_limits(&self, pending: usize, limit: usize) -> bool {
        (limit > 0 && pending >= limit) || self.soft_limit_passed(pending)
    }

    /// Sets the bytes held elsewhere without checking the limits (they shrank).
    pub fn set_external(&self, n: usize) {
        self.external.store(n, Relaxed);
    }

    /// Bytes held elsewhere for this client (see [`Mailbox::hold_external`]).
    pub fn external(&self) -> usize {
        self.external.load(Relaxed)
    }

    /// Wakes the connection without a letter (a replica: the shared
    /// replication buffer grew).
    pub fn ring(&self) {
        self.wake.notify_one();
    }

    fn overflow(&self) {
        self.overflowed.store(true, Relaxed);
        self.close();
    }

    /// Whether the client was closed for going over an output-buffer limit.
    pub fn overflowed(&self) -> bool {
        self.overflowed.load(Relaxed)
    }

    /// Asks the connection to close (CLIENT KILL, output-buffer overflow).
    pub fn close(&self) {
        self.closing.store(true, Relaxed);
        self.wake.notify_one();
        self.closed.notify_one();
    }

    /// Resolves when a close was asked for (while the connection writes).
    pub async fn wait_closed(&self) {
        if self.closing() {
            return;
        }
        self.closed.notified().await
    }

    /// The connection took `n` bytes out (replies and letters) that it has not
    /// written yet (0 once written): they count toward its limits.
    #[inline]
    pub fn set_unsent(&self, n: usize) {
        self.unsent.store(n, Relaxed);
    }

    /// Whether the connection was asked to close.
    #[inline]
    pub fn closing(&self) -> bool {
        self.closing.load(Relaxed)
    }

    /// Whether letters wait (one relaxed load).
    #[inline]
    pub fn has_mail(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    /// Moves every queued letter, in order, to the end of `out`.
    pub fn drain_into(&self, out: &mut bytes::BytesMut) {
        self.drain_some(out, usize::MAX);
    }

    /// Moves queued letters, in order, to the end of `out` until it holds `max`
    /// bytes or more (a replica's stream goes out a part at a time, rather than
    /// copied whole into one buffer while the replica is behind).
    pub fn drain_some(&self, out: &mut bytes::BytesMut, max: usize) {
        if !self.has_mail() {
            return;
        }
        let mut letters = self.letters.lock();
        let (mut taken, mut freed) = (0, 0);
        while out.len() < max {
            let Some(l) = letters.pop_front() else { break };
            l.write_to(out);
            taken += l.len();
            freed += match &l {
                Letter::Block(b) => b.capacity(),
                l => l.len() + LETTER_OVERHEAD,
            };
        }
        self.count.store(letters.len(), Relaxed);
        if letters.is_empty() {
            // Nothing left: the queue's slots are all that stays.
            self.bytes.store(0, Relaxed);
            self.memory.store(slots_memory(&letters), Relaxed);
            self.unaccount();
            return;
        }
        let m = self.memory.load(Relaxed);
        self.memory.store(m.saturating_sub(freed), Relaxed);
        self.bytes
            .store(self.bytes.load(Relaxed).saturating_sub(taken), Relaxed);
        let counted = self.acct_bytes.load(Relaxed).min(taken);
        if counted > 0 {
            self.acct_bytes.fetch_sub(counted, Relaxed);
            if let Some(cm) = self.acct.get() {
                cm.add(-(counted as i64));
            }
        }
    }

    /// Memory the queued letters take (see [`Letter::Block`]).
    pub fn memory(&self) -> usize {
        self.memory.load(Relaxed)
    }

    /// Takes what this mailbox added out of client eviction's sum (under the
    /// letters' lock).
    fn unaccount(&self) {
        let n = self.acct_bytes.swap(0, Relaxed);
        if n > 0 {
            if let Some(cm) = self.acct.get() {
                cm.add(-(n as i64));
            }
        }
    }

    /// Its queued bytes count toward client eviction's sum from now on (and
    /// what is queued now is counted afresh).
    pub fn start_accounting(&self, cm: &std::sync::Arc<crate::client_mem::ClientMemory>) {
        self.acct.get_or_init(|| cm.clone());
        let _letters = self.letters.lock();
        self.counting.store(true, Relaxed);
        let Some(cm) = self.acct.get() else { return };
        let queued = if cm.on() { self.bytes.load(Relaxed) } else { 0 };
        let before = self.acct_bytes.swap(queued, Relaxed);
        cm.add(queued as i64 - before as i64);
    }

    /// Its bytes no longer count (the client goes, or became a replica).
    pub fn stop_accounting(&self) {
        let _letters = self.letters.lock();
        self.counting.store(false, Relaxed);
        self.unaccount();
    }

    /// Resolves when something was posted or a close was asked for since the last
    /// wake-up.
    /// Wakes the connection with nothing to deliver (the cron asks it to look at
    /// its own state).
    pub fn nudge(&self) {
        self.wake.notify_one();
    }

    pub async fn wait(&self) {
        self.wake.notified().await
    }

    /// Letters queued (`oll`).
    pub fn queued_letters(&self) -> usize {
        self.count.load(Relaxed)
    }

    /// Bytes queued.
    pub fn queued_bytes(&self) -> usize {
        self.bytes.load(Relaxed)
    }

    /// Sets the hard limit of queued bytes (0: none).
    pub fn set_limit(&self, bytes: usize) {
        self.limit.store(bytes, Relaxed);
    }

    /// Sets the limits of the client's class (client-output-buffer-limit).
    pub fn set_limits(&self, l: &ferrokv_core::config::ObufLimit) {
        let clamp = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        self.limit.store(clamp(l.hard), Relaxed);
        self.soft.store(clamp(l.soft), Relaxed);
        self.soft_ms
            .store(l.soft_seconds.saturating_mul(1000), Relaxed);
    }

    /// The hard limit (0: none): a batch whose replies reach it closes the
    /// client without them.
    #[inline]
    pub fn hard_limit(&self) -> usize {
        self.limit.load(Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_come_out_in_order_and_are_counted() {
        let m = Mailbox::default();
        assert!(!m.has_mail());
        assert_eq!(m.post(Bytes::from_static(b"one")), Posted::Queued);
        assert_eq!(m.post(Bytes::from_static(b"two")), Posted::Queued);
        assert_eq!((m.queued_letters(), m.queued_bytes()), (2, 6));
        let mut out = bytes::BytesMut::from(&b"reply;"[..]);
        m.drain_into(&mut out);
        assert_eq!(&out[..], b"reply;onetwo");
        assert_eq!((m.queued_letters(), m.queued_bytes()), (0, 0));
    }

    #[test]
    fn a_backlog_of_small_letters_is_packed_in_blocks_and_drained_in_parts() {
        let m = Mailbox::default();
        let mut expected = Vec::new();
        for i in 0..100_000u32 {
            let letter = format!("*1\r\n$6\r\n{i:06}\r\n");
            expected.extend_from_slice(letter.as_bytes());
            assert_eq!(m.post(Bytes::from(letter)), Posted::Queued);
        }
        let bytes = expected.len();
        assert_eq!(m.queued_bytes(), bytes);
        // One letter as posted (the queue was empty), the rest in 16 KB blocks
        // (each letter is 16 bytes: 1024 of them fill a block).
        assert_eq!(m.queued_letters(), 1 + (bytes - 16).div_ceil(BLOCK));
        assert!(m.memory() >= bytes && m.memory() < bytes + bytes / 50 + 4096);
        let mut out = bytes::BytesMut::new();
        m.drain_some(&mut out, 100_000);
        assert!(out.len() >= 100_000 && out.len() < 100_000 + BLOCK);
        assert_eq!(m.queued_bytes(), bytes - out.len());
        m.drain_some(&mut out, usize::MAX);
        assert_eq!(&out[..], &expected[..]);
        assert_eq!((m.queued_letters(), m.queued_bytes()), (0, 0));
        assert!(m.memory() < 64 * 1024, "only the queue's slots stay");
    }

    #[test]
    fn a_post_reaching_the_limit_closes_the_client() {
        let m = Mailbox::default();
        m.set_limit(6);
        assert_eq!(m.post(Bytes::from_static(b"1234")), Posted::Queued);
        assert_eq!(m.post(Bytes::from_static(b"56")), Posted::OverLimit);
        assert!(m.closing() && m.overflowed());
        assert_eq!(m.post(Bytes::from_static(b"7")), Posted::Closed);
        assert_eq!(m.queued_bytes(), 4);
    }

    #[test]
    fn pattern_letters_are_encoded_when_written() {
        let m = Mailbox::default();
        let l = Letter::PMessage {
            resp3: false,
            pattern: Bytes::from_static(b"c*"),
            tail: Bytes::from_static(b"$2\r\nch\r\n$1\r\nx\r\n"),
        };
        let want = b"*4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n";
        assert_eq!(l.len(), want.len());
        m.post_letter(l);
        assert_eq!(m.queued_bytes(), want.len());
        let mut out = bytes::BytesMut::new();
        m.drain_into(&mut out);
        assert_eq!(&out[..], &want[..]);
    }

    #[test]
    fn queued_bytes_count_toward_client_eviction_while_it_is_on() {
        let cfg = ferrokv_core::config::Config::default();
        let off = std::sync::Arc::new(crate::client_mem::ClientMemory::new(&cfg));
        let m = Mailbox::default();
        m.start_accounting(&off);
        m.post(Bytes::from_static(b"12345"));
        assert_eq!(off.total(), 0, "nothing is summed while off");
        cfg.set("maxmemory-clients", "1mb", false).unwrap();
        let on = std::sync::Arc::new(crate::client_mem::ClientMemory::new(&cfg));
        let m = Mailbox::default();
        m.post(Bytes::from_static(b"12"));
        m.start_accounting(&on);
        assert_eq!(on.total(), 2, "what was queued counts from the start");
        m.post(Bytes::from_static(b"345"));
        assert_eq!(on.total(), 5);
        m.drain_into(&mut bytes::BytesMut::new());
        assert_eq!(on.total(), 0, "handed over to the connection");
        m.post(Bytes::from_static(b"6789"));
        m.stop_accounting();
        assert_eq!(on.total(), 0, "a client that goes leaves the sum");
    }

    #[test]
    fn unsent_bytes_count_toward_the_limit() {
        let m = Mailbox::default();
        m.set_limit(10);
        m.set_unsent(8);
        assert_eq!(m.post(Bytes::from_static(b"12")), Posted::OverLimit);
    }

    #[test]
    fn the_soft_limit_allows_its_time() {
        let m = Mailbox::default();
        m.set_limits(&ferrokv_core::config::ObufLimit {
            hard: 0,
            soft: 4,
            soft_seconds: 0,
        });
        assert_eq!(m.post(Bytes::from_static(b"1234")), Posted::Queued);
        // Over for 0 s: allowed until a millisecond passes.
        let start = Instant::now();
        while start.elapsed().as_millis() < 3 {
            std::hint::spin_loop();
        }
        assert!(m.check_soft_limit());
        assert!(m.closing() && m.overflowed());
    }
}
