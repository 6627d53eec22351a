//! Replies written straight into a connection's output buffer.

use bytes::{Buf, BufMut, BytesMut};

use crate::double::format_double;
use crate::{Frame, ProtocolError};

/// The protocol a connection speaks: RESP2 (the default) or RESP3 (after `HELLO 3`).
///
/// ```
/// use ferrokv_resp::{Protocol, ReplyBuf};
/// let mut r = ReplyBuf::new(Protocol::Resp3);
/// r.boolean(true);
/// assert_eq!(r.as_bytes(), b"#t\r\n");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Protocol {
    /// RESP2: maps become flat arrays, doubles and big numbers become bulk strings,
    /// booleans become integers, nulls are `$-1` / `*-1`.
    #[default]
    Resp2,
    /// RESP3: every type in its own form.
    Resp3,
}

/// A position in a [`ReplyBuf`] where an aggregate header goes once its length is
/// known (for replies whose count is only known after producing them).
///
/// ```
/// use ferrokv_resp::{Protocol, ReplyBuf};
/// let mut r = ReplyBuf::new(Protocol::Resp3);
/// let d = r.deferred();
/// let mut n = 0;
/// for member in [&b"a"[..], b"b"] {
///     r.bulk(member);
///     n += 1;
/// }
/// r.finish_set(d, n);
/// assert_eq!(r.as_bytes(), b"~2\r\n$1\r\na\r\n$1\r\nb\r\n");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "finish the deferred aggregate with ReplyBuf::finish_*"]
pub struct Deferred(usize);

/// An output buffer that encodes replies for one connection's protocol.
///
/// Each method appends one reply (or an aggregate header followed by its elements,
/// which the caller then writes). Nothing is allocated per reply beyond growing the
/// buffer itself.
///
/// ```
/// use ferrokv_resp::{Protocol, ReplyBuf};
///
/// let mut r = ReplyBuf::new(Protocol::Resp2);
/// r.map(1);
/// r.bulk(b"score");
/// r.double(1.5);
/// assert_eq!(&r.as_bytes()[..], b"*2\r\n$5\r\nscore\r\n$3\r\n1.5\r\n");
///
/// let mut r = ReplyBuf::new(Protocol::Resp3);
/// r.map(1);
/// r.bulk(b"score");
/// r.double(1.5);
/// assert_eq!(&r.as_bytes()[..], b"%1\r\n$5\r\nscore\r\n,1.5\r\n");
/// ```
#[derive(Debug, Default, Clone)]
pub struct ReplyBuf {
    buf: BytesMut,
    proto: Protocol,
    /// Bytes [`consume`](Self::consume)d from the front of the buffer's block
    /// and where the data started after that: the block keeps them until an
    /// append moves the data (back to the block's start or to a new block).
    sent: usize,
    sent_at: usize,
}

impl ReplyBuf {
    /// An empty buffer for `proto`.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// assert!(ReplyBuf::new(Protocol::Resp3).is_empty());
    /// ```
    pub fn new(proto: Protocol) -> Self {
        ReplyBuf {
            buf: BytesMut::new(),
            proto,
            sent: 0,
            sent_at: 0,
        }
    }

    /// An empty buffer with room for `cap` bytes.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// assert!(ReplyBuf::with_capacity(Protocol::Resp2, 4096).capacity() >= 4096);
    /// ```
    pub fn with_capacity(proto: Protocol, cap: usize) -> Self {
        ReplyBuf {
            buf: BytesMut::with_capacity(cap),
            proto,
            sent: 0,
            sent_at: 0,
        }
    }

    /// The protocol replies are written in.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// assert_eq!(ReplyBuf::default().proto(), Protocol::Resp2);
    /// ```
    pub fn proto(&self) -> Protocol {
        self.proto
    }

    /// Switches protocol (HELLO); affects replies written afterwards.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// let mut r = ReplyBuf::default();
    /// r.set_proto(Protocol::Resp3);
    /// r.null();
    /// assert_eq!(&r.as_bytes()[..], b"_\r\n");
    /// ```
    pub fn set_proto(&mut self, proto: Protocol) {
        self.proto = proto;
    }

    /// Whether RESP3 is in use.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// assert!(ReplyBuf::new(Protocol::Resp3).is_resp3());
    /// ```
    pub fn is_resp3(&self) -> bool {
        self.proto == Protocol::Resp3
    }

    /// The bytes written so far.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.ok();
    /// assert_eq!(r.as_bytes(), b"+OK\r\n");
    /// ```
    pub fn as_bytes(&self) -> &[u8] {
        &self.buf
    }

    /// The underlying buffer, e.g. to write it to a socket and clear it.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.int(1);
    /// r.buffer_mut().clear();
    /// assert!(r.is_empty());
    /// ```
    pub fn buffer_mut(&mut self) -> &mut BytesMut {
        &mut self.buf
    }

    /// Bytes written so far.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.int(10);
    /// assert_eq!(r.len(), 5);
    /// ```
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is written.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// assert!(ReplyBuf::default().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// Capacity of the underlying buffer.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// assert_eq!(ReplyBuf::default().capacity(), 0);
    /// ```
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Takes the first `n` bytes out (they were written to the socket), leaving
    /// the rest to send.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.ok();
    /// r.int(5);
    /// r.consume(5);
    /// assert_eq!(r.as_bytes(), b":5\r\n");
    /// ```
    pub fn consume(&mut self, n: usize) {
        let front = self.front();
        self.buf.advance(n);
        self.sent = front + n;
        self.sent_at = self.buf.as_ptr() as usize;
    }

    /// Bytes of the block the buffer holds, what was [`consume`](Self::consume)d
    /// from its front included (`capacity` leaves those out, yet the block is not
    /// freed or shrunk by consuming): what the client's replies cost in memory.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::with_capacity(Default::default(), 4096);
    /// r.bulk(&[b'x'; 1000]);
    /// let block = r.allocated();
    /// r.consume(600);
    /// assert_eq!(r.allocated(), block);
    /// assert!(r.capacity() < block);
    /// ```
    pub fn allocated(&self) -> usize {
        self.buf.capacity() + self.front()
    }

    /// What was consumed from the block's front, while the data has not moved.
    fn front(&self) -> usize {
        if self.sent > 0 && self.buf.as_ptr() as usize == self.sent_at {
            self.sent
        } else {
            0
        }
    }

    /// Drops everything written after byte `len` (to undo a partial reply).
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.ok();
    /// r.int(5);
    /// r.truncate(5);
    /// assert_eq!(r.as_bytes(), b"+OK\r\n");
    /// ```
    pub fn truncate(&mut self, len: usize) {
        self.buf.truncate(len);
    }

    /// Appends already-encoded protocol bytes.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.raw(b"+PONG\r\n");
    /// assert_eq!(r.as_bytes(), b"+PONG\r\n");
    /// ```
    pub fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    fn header(&mut self, kind: u8, n: usize) {
        let mut b = itoa::Buffer::new();
        let s = b.format(n).as_bytes();
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(kind);
        self.buf.put_slice(s);
        self.buf.put_slice(b"\r\n");
    }

    /// `+OK`.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.ok();
    /// assert_eq!(r.as_bytes(), b"+OK\r\n");
    /// ```
    pub fn ok(&mut self) {
        self.buf.extend_from_slice(b"+OK\r\n");
    }

    /// A simple string. CR and LF in `s` would break the protocol: they become spaces.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.simple(b"PONG");
    /// assert_eq!(r.as_bytes(), b"+PONG\r\n");
    /// ```
    pub fn simple(&mut self, s: &[u8]) {
        self.line(b'+', s);
    }

    /// An error reply; `text` starts with its code (`ERR ...`, `WRONGTYPE ...`).
    /// CR and LF in `text` become spaces, as Redis does.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.error("ERR syntax error");
    /// assert_eq!(r.as_bytes(), b"-ERR syntax error\r\n");
    /// ```
    pub fn error(&mut self, text: &str) {
        self.line(b'-', text.as_bytes());
    }

    /// The `-ERR` reply Redis sends for a protocol error before closing the
    /// connection, byte for byte: unlike `error(&e.to_string())`, the byte in
    /// "expected '$', got 'X'" is written raw even when it is not ASCII.
    ///
    /// ```
    /// use ferrokv_resp::{ProtocolError, ReplyBuf};
    /// let mut r = ReplyBuf::default();
    /// r.protocol_error(&ProtocolError::ExpectedDollar(0xC3));
    /// assert_eq!(r.as_bytes(), b"-ERR Protocol error: expected '$', got '\xC3'\r\n");
    /// ```
    pub fn protocol_error(&mut self, e: &ProtocolError) {
        let mut text = b"ERR ".to_vec();
        match e {
            ProtocolError::ExpectedDollar(byte) => {
                text.extend_from_slice(b"Protocol error: expected '$', got '");
                text.push(*byte);
                text.push(b'\'');
            }
            other => text.extend_from_slice(other.to_string().as_bytes()),
        }
        self.line(b'-', &text);
    }

    fn line(&mut self, kind: u8, s: &[u8]) {
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(kind);
        if s.iter().any(|&c| c == b'\r' || c == b'\n') {
            self.buf.extend(
                s.iter()
                    .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
            );
        } else {
            self.buf.put_slice(s);
        }
        self.buf.put_slice(b"\r\n");
    }

    /// An integer.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.int(-3);
    /// assert_eq!(r.as_bytes(), b":-3\r\n");
    /// ```
    pub fn int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        let s = b.format(v).as_bytes();
        self.buf.reserve(s.len() + 3);
        self.buf.put_u8(b':');
        self.buf.put_slice(s);
        self.buf.put_slice(b"\r\n");
    }

    /// A bulk string.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.bulk(b"hi");
    /// assert_eq!(r.as_bytes(), b"$2\r\nhi\r\n");
    /// ```
    pub fn bulk(&mut self, data: &[u8]) {
        self.buf.reserve(data.len() + 16);
        self.header(b'$', data.len());
        self.buf.put_slice(data);
        self.buf.put_slice(b"\r\n");
    }

    /// An integer written as a bulk string (`GET` of an int-encoded value).
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.bulk_int(42);
    /// assert_eq!(r.as_bytes(), b"$2\r\n42\r\n");
    /// ```
    pub fn bulk_int(&mut self, v: i64) {
        let mut b = itoa::Buffer::new();
        self.bulk(b.format(v).as_bytes());
    }

    /// The null reply of a missing value: `$-1` in RESP2, `_` in RESP3.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.null();
    /// assert_eq!(r.as_bytes(), b"$-1\r\n");
    /// ```
    pub fn null(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"$-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// The null reply of a missing aggregate: `*-1` in RESP2, `_` in RESP3.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.null_array();
    /// assert_eq!(r.as_bytes(), b"*-1\r\n");
    /// ```
    pub fn null_array(&mut self) {
        self.buf.extend_from_slice(match self.proto {
            Protocol::Resp2 => b"*-1\r\n",
            Protocol::Resp3 => b"_\r\n",
        });
    }

    /// An array header; the caller writes `n` elements next.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.array(1);
    /// r.int(1);
    /// assert_eq!(r.as_bytes(), b"*1\r\n:1\r\n");
    /// ```
    pub fn array(&mut self, n: usize) {
        self.header(b'*', n);
    }

    /// `*0`.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.empty_array();
    /// assert_eq!(r.as_bytes(), b"*0\r\n");
    /// ```
    pub fn empty_array(&mut self) {
        self.buf.extend_from_slice(b"*0\r\n");
    }

    /// A map header of `n` pairs: `%n` in RESP3, `*2n` in RESP2.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.map(2);
    /// assert_eq!(r.as_bytes(), b"*4\r\n");
    /// ```
    pub fn map(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n * 2),
            Protocol::Resp3 => self.header(b'%', n),
        }
    }

    /// A set header: `~n` in RESP3, `*n` in RESP2.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// let mut r = ReplyBuf::new(Protocol::Resp3);
    /// r.set(0);
    /// assert_eq!(r.as_bytes(), b"~0\r\n");
    /// ```
    pub fn set(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n),
            Protocol::Resp3 => self.header(b'~', n),
        }
    }

    /// A push header (pub/sub messages, invalidations): `>n` in RESP3, `*n` in RESP2.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// let mut r = ReplyBuf::new(Protocol::Resp3);
    /// r.push(3);
    /// assert_eq!(r.as_bytes(), b">3\r\n");
    /// ```
    pub fn push(&mut self, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.header(b'*', n),
            Protocol::Resp3 => self.header(b'>', n),
        }
    }

    /// A double as Redis 7.0 writes it (`%.17g`, `inf`, `-inf`): RESP3 `,`, RESP2 bulk.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.double(f64::INFINITY);
    /// assert_eq!(r.as_bytes(), b"$3\r\ninf\r\n");
    /// ```
    pub fn double(&mut self, v: f64) {
        // A reused scratch buffer: no allocation per double (WITHSCORES replies
        // format one per member).
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        SCRATCH.with(|cell| {
            let mut s = cell.borrow_mut();
            s.clear();
            format_double(v, &mut s);
            match self.proto {
                Protocol::Resp2 => self.bulk(&s),
                Protocol::Resp3 => self.line(b',', &s),
            }
        });
    }

    /// A boolean: RESP3 `#t`/`#f`, RESP2 `:1`/`:0`.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.boolean(true);
    /// assert_eq!(r.as_bytes(), b":1\r\n");
    /// ```
    pub fn boolean(&mut self, v: bool) {
        match self.proto {
            Protocol::Resp2 => self.int(i64::from(v)),
            Protocol::Resp3 => self
                .buf
                .extend_from_slice(if v { b"#t\r\n" } else { b"#f\r\n" }),
        }
    }

    /// A verbatim string (INFO, CLIENT LIST): RESP3 `=`, RESP2 bulk.
    ///
    /// ```
    /// use ferrokv_resp::{Protocol, ReplyBuf};
    /// let mut r = ReplyBuf::new(Protocol::Resp3);
    /// r.verbatim(b"txt", b"hi");
    /// assert_eq!(r.as_bytes(), b"=6\r\ntxt:hi\r\n");
    /// ```
    pub fn verbatim(&mut self, format: &[u8; 3], data: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(data),
            Protocol::Resp3 => {
                self.buf.reserve(data.len() + 20);
                self.header(b'=', data.len() + 4);
                self.buf.put_slice(format);
                self.buf.put_u8(b':');
                self.buf.put_slice(data);
                self.buf.put_slice(b"\r\n");
            }
        }
    }

    /// A big number given as decimal digits: RESP3 `(`, RESP2 bulk.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// r.big_number(b"12345678901234567890");
    /// assert_eq!(r.as_bytes(), b"$20\r\n12345678901234567890\r\n");
    /// ```
    pub fn big_number(&mut self, digits: &[u8]) {
        match self.proto {
            Protocol::Resp2 => self.bulk(digits),
            Protocol::Resp3 => self.line(b'(', digits),
        }
    }

    /// Any [`Frame`], encoded as is (no RESP2 down-conversion).
    ///
    /// ```
    /// use ferrokv_resp::{Frame, ReplyBuf};
    /// let mut r = ReplyBuf::default();
    /// r.frame(&Frame::Integer(1));
    /// assert_eq!(r.as_bytes(), b":1\r\n");
    /// ```
    pub fn frame(&mut self, f: &Frame) {
        f.encode(&mut self.buf);
    }

    /// Marks where an aggregate header will go; write the elements, then call one of
    /// the `finish_*` methods with their count.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// let d = r.deferred();
    /// r.int(1);
    /// r.int(2);
    /// r.finish_array(d, 2);
    /// assert_eq!(r.as_bytes(), b"*2\r\n:1\r\n:2\r\n");
    /// ```
    pub fn deferred(&mut self) -> Deferred {
        Deferred(self.buf.len())
    }

    /// Completes a [`Deferred`] as an array of `n` elements.
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// let d = r.deferred();
    /// r.finish_array(d, 0);
    /// assert_eq!(r.as_bytes(), b"*0\r\n");
    /// ```
    pub fn finish_array(&mut self, d: Deferred, n: usize) {
        self.insert_header(d, b'*', n);
    }

    /// Completes a [`Deferred`] as a map of `n` pairs (`*2n` in RESP2).
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// let d = r.deferred();
    /// r.bulk(b"k");
    /// r.int(1);
    /// r.finish_map(d, 1);
    /// assert_eq!(r.as_bytes(), b"*2\r\n$1\r\nk\r\n:1\r\n");
    /// ```
    pub fn finish_map(&mut self, d: Deferred, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.insert_header(d, b'*', n * 2),
            Protocol::Resp3 => self.insert_header(d, b'%', n),
        }
    }

    /// Completes a [`Deferred`] as a set of `n` elements (`*n` in RESP2).
    ///
    /// ```
    /// use ferrokv_resp::ReplyBuf;
    /// let mut r = ReplyBuf::default();
    /// let d = r.deferred();
    /// r.int(7);
    /// r.finish_set(d, 1);
    /// assert_eq!(r.as_bytes(), b"*1\r\n:7\r\n");
    /// ```
    pub fn finish_set(&mut self, d: Deferred, n: usize) {
        match self.proto {
            Protocol::Resp2 => self.insert_header(d, b'*', n),
            Protocol::Resp3 => self.insert_header(d, b'~', n),
        }
    }

    fn insert_header(&mut self, d: Deferred, kind: u8, n: usize) {
        let mut b = itoa::Buffer::new();
        let digits = b.format(n).as_bytes();
        let hlen = digits.len() + 3;
        let old = self.buf.len();
        self.buf.resize(old + hlen, 0);
        self.buf.copy_within(d.0..old, d.0 + hlen);
        let h = &mut self.buf[d.0..d.0 + hlen];
        h[0] = kind;
        h[1..1 + digits.len()].copy_from_slice(digits);
        h[hlen - 2..].copy_from_slice(b"\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut ReplyBuf)) -> (Vec<u8>, Vec<u8>) {
        let mut r2 = ReplyBuf::new(Protocol::Resp2);
        let mut r3 = ReplyBuf::new(Protocol::Resp3);
        f(&mut r2);
        f(&mut r3);
        (r2.as_bytes().to_vec(), r3.as_bytes().to_vec())
    }

    /// A reply written by a closure, with its expected RESP2 and RESP3 bytes.
    type Case = (Box<dyn Fn(&mut ReplyBuf)>, &'static [u8], &'static [u8]);

    #[test]
    fn every_type_in_both_protocols() {
        let cases: Vec<Case> = vec![
            (Box::new(|r| r.null()), b"$-1\r\n", b"_\r\n"),
            (Box::new(|r| r.null_array()), b"*-1\r\n", b"_\r\n"),
            (Box::new(|r| r.map(2)), b"*4\r\n", b"%2\r\n"),
            (Box::new(|r| r.set(3)), b"*3\r\n", b"~3\r\n"),
            (Box::new(|r| r.push(1)), b"*1\r\n", b">1\r\n"),
            (
                Box::new(|r| r.double(-0.5)),
                b"$4\r\n-0.5\r\n",
                b",-0.5\r\n",
            ),
            (
                Box::new(|r| r.double(f64::NAN)),
                b"$3\r\nnan\r\n",
                b",nan\r\n",
            ),
            (Box::new(|r| r.boolean(false)), b":0\r\n", b"#f\r\n"),
            (
                Box::new(|r| r.verbatim(b"txt", b"a")),
                b"$1\r\na\r\n",
                b"=5\r\ntxt:a\r\n",
            ),
            (
                Box::new(|r| r.big_number(b"-1")),
                b"$2\r\n-1\r\n",
                b"(-1\r\n",
            ),
            (Box::new(|r| r.bulk(b"")), b"$0\r\n\r\n", b"$0\r\n\r\n"),
            (
                Box::new(|r| r.int(i64::MIN)),
                b":-9223372036854775808\r\n",
                b":-9223372036854775808\r\n",
            ),
            (
                Box::new(|r| r.bulk_int(-7)),
                b"$2\r\n-7\r\n",
                b"$2\r\n-7\r\n",
            ),
            (
                Box::new(|r| r.frame(&Frame::Boolean(true))),
                b"#t\r\n",
                b"#t\r\n",
            ),
        ];
        for (i, (write, resp2, resp3)) in cases.iter().enumerate() {
            let (got2, got3) = both(write);
            assert_eq!(
                (got2.as_slice(), got3.as_slice()),
                (*resp2, *resp3),
                "case {i}"
            );
        }
    }

    #[test]
    fn lines_never_break_the_protocol() {
        let mut r = ReplyBuf::default();
        r.error("ERR a\r\nb");
        r.simple(b"x\ny");
        assert_eq!(r.as_bytes(), b"-ERR a  b\r\n+x y\r\n");
    }

    #[test]
    fn deferred_headers_of_any_width() {
        let mut r = ReplyBuf::new(Protocol::Resp3);
        r.ok();
        let d = r.deferred();
        for i in 0..12 {
            r.int(i);
        }
        r.finish_map(d, 6);
        assert!(r.as_bytes().starts_with(b"+OK\r\n%6\r\n:0\r\n:1\r\n"));
        assert!(r.as_bytes().ends_with(b":11\r\n"));
        let mut r2 = ReplyBuf::default();
        let d = r2.deferred();
        r2.finish_map(d, 6);
        assert_eq!(r2.as_bytes(), b"*12\r\n");
    }

    #[test]
    fn protocol_errors_byte_for_byte() {
        let mut r = ReplyBuf::default();
        r.protocol_error(&ProtocolError::ExpectedDollar(b'\r'));
        r.protocol_error(&ProtocolError::InvalidBulkLength);
        assert_eq!(
            r.as_bytes(),
            b"-ERR Protocol error: expected '$', got ' '\r\n-ERR Protocol error: invalid bulk length\r\n"
        );
    }
}
