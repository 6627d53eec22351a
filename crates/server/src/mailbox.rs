//! A connection's mailbox: what it receives without asking for it (pub/sub
//! messages, RESP3 invalidation pushes, MONITOR lines) and the request to close it
//! (CLIENT KILL).
//!
//! Anyone may post from any thread; the connection writes the letters in the order
//! they were posted, together with its replies: letters posted before it starts a
//! batch of requests go out before that batch's replies, letters posted while it
//! waits (idle, or blocked in BLPOP) go out at once. Each letter is already encoded
//! for the recipient's protocol. The bytes queued count toward the client's output
//! buffer (CLIENT LIST `oll` / `omem`); a post that would take it past its hard
//! limit (client-output-buffer-limit) is refused and closes the client, as Redis
//! closes a client over its limit, so a subscriber that stops reading cannot grow
//! the server's memory without bound.
//!
//! The connection's hot path pays one relaxed load per batch while nothing is
//! posted.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

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

/// One connection's mailbox.
#[derive(Default)]
pub struct Mailbox {
    letters: Mutex<VecDeque<Bytes>>,
    /// Letters queued (CLIENT LIST `oll`); read without the lock on the hot path.
    count: AtomicUsize,
    /// Bytes queued (part of CLIENT LIST `omem`).
    bytes: AtomicUsize,
    /// Hard limit of queued bytes (0: none).
    limit: AtomicUsize,
    /// Set by CLIENT KILL or an overflow: the connection closes.
    closing: AtomicBool,
    /// Wakes the connection: a letter, or a close.
    wake: Notify,
}

impl Mailbox {
    /// Queues `letter` (already encoded for the recipient) and wakes the connection.
    pub fn post(&self, letter: Bytes) -> Posted {
        if self.closing.load(Relaxed) {
            return Posted::Closed;
        }
        let limit = self.limit.load(Relaxed);
        let size = letter.len();
        {
            let mut letters = self.letters.lock();
            let queued = self.bytes.load(Relaxed);
            if limit > 0 && queued + size > limit {
                drop(letters);
                self.close();
                return Posted::OverLimit;
            }
            letters.push_back(letter);
            self.bytes.store(queued + size, Relaxed);
            self.count.store(letters.len(), Relaxed);
        }
        self.wake.notify_one();
        Posted::Queued
    }

    /// Asks the connection to close (CLIENT KILL, output-buffer overflow).
    pub fn close(&self) {
        self.closing.store(true, Relaxed);
        self.wake.notify_one();
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
        if !self.has_mail() {
            return;
        }
        let mut letters = self.letters.lock();
        for l in letters.drain(..) {
            out.extend_from_slice(&l);
        }
        self.bytes.store(0, Relaxed);
        self.count.store(0, Relaxed);
    }

    /// Resolves when something was posted or a close was asked for since the last
    /// wake-up.
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
    fn a_post_past_the_limit_closes_the_client() {
        let m = Mailbox::default();
        m.set_limit(5);
        assert_eq!(m.post(Bytes::from_static(b"1234")), Posted::Queued);
        assert_eq!(m.post(Bytes::from_static(b"56")), Posted::OverLimit);
        assert!(m.closing());
        assert_eq!(m.post(Bytes::from_static(b"7")), Posted::Closed);
        assert_eq!(m.queued_bytes(), 4);
    }
}
