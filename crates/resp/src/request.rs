//! The server side of the protocol: requests into argument ranges.
//!
//! A request is either an array of bulk strings (`*2\r\n$3\r\nGET\r\n$1\r\nk\r\n`) or
//! an inline line (`GET k\r\n`, what telnet and redis-cli's inline mode send). The
//! parser follows Redis 7.0's `processMultibulkBuffer` / `processInlineBuffer`,
//! including their leniencies (the two bytes after a bulk payload are skipped, not
//! checked) and their exact error texts.

use std::ops::Range;

use crate::{string2ll, ProtocolError};

/// Bounds on what one request may declare, as `proto-max-bulk-len` and friends.
///
/// ```
/// use ferrokv_resp::{ProtocolError, RequestLimits, RequestParser};
/// let limits = RequestLimits { max_bulk_len: 8, ..RequestLimits::default() };
/// let mut p = RequestParser::new(limits);
/// assert_eq!(p.parse(b"*1\r\n$9\r\n"), Err(ProtocolError::InvalidBulkLength));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestLimits {
    /// Longest bulk argument (Redis `proto-max-bulk-len`, default 512 MiB).
    pub max_bulk_len: usize,
    /// Most arguments in one request (Redis: `INT_MAX`).
    pub max_args: usize,
    /// Longest inline request or length line (Redis: 64 KiB).
    pub max_inline_len: usize,
    /// The connection has yet to authenticate while a password is required
    /// (Redis's `authRequired`): on top of the limits above, a request may declare at
    /// most [`UNAUTHENTICATED_MAX_ARGS`](Self::UNAUTHENTICATED_MAX_ARGS) arguments
    /// of at most [`UNAUTHENTICATED_MAX_BULK_LEN`](Self::UNAUTHENTICATED_MAX_BULK_LEN)
    /// bytes, refused with Redis's "unauthenticated multibulk/bulk length" errors.
    pub unauthenticated: bool,
}

impl Default for RequestLimits {
    fn default() -> Self {
        RequestLimits {
            max_bulk_len: 512 * 1024 * 1024,
            max_args: i32::MAX as usize,
            max_inline_len: 64 * 1024,
            unauthenticated: false,
        }
    }
}

impl RequestLimits {
    /// Most arguments of a request before AUTH when a password is required (Redis 7.0
    /// processMultibulkBuffer: a count above 10).
    pub const UNAUTHENTICATED_MAX_ARGS: usize = 10;
    /// Longest argument before AUTH when a password is required (Redis 7.0: a bulk
    /// length above 16384).
    pub const UNAUTHENTICATED_MAX_BULK_LEN: usize = 16384;

    /// These limits for a connection that has not authenticated yet while a password
    /// is required (see [`unauthenticated`](Self::unauthenticated)).
    ///
    /// ```
    /// use ferrokv_resp::{ProtocolError, RequestLimits, RequestParser};
    /// let mut p = RequestParser::new(RequestLimits::default().unauthenticated());
    /// assert_eq!(p.parse(b"*11\r\n"), Err(ProtocolError::UnauthenticatedMultibulkLength));
    /// assert_eq!(p.parse(b"*1\r\n$16385\r\n"), Err(ProtocolError::UnauthenticatedBulkLength));
    /// assert_eq!(p.parse(b"*10\r\n$16384\r\n"), Ok(None));
    /// ```
    pub fn unauthenticated(self) -> Self {
        RequestLimits {
            unauthenticated: true,
            ..self
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a request.
    Start,
    /// Inside `*N`: `remaining` bulks still to read, next one starts at `pos`.
    MultiBulk { remaining: usize, pos: usize },
}

/// Argument slots kept between requests: a request with more gets its own.
const ARGS_KEPT: usize = 1024;

/// Parses requests into argument ranges, resuming where it stopped.
///
/// ```
/// use ferrokv_resp::RequestParser;
///
/// let mut p = RequestParser::default();
/// let buf = b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n";
/// let n = p.parse(buf).unwrap().unwrap();
/// assert_eq!(p.args(buf).collect::<Vec<_>>(), vec![&b"GET"[..], b"k"]);
/// let m = p.parse(&buf[n..]).unwrap().unwrap();
/// assert_eq!(p.args(&buf[n..]).collect::<Vec<_>>(), vec![&b"PING"[..]]);
/// assert_eq!(n + m, buf.len());
/// ```
#[derive(Debug, Clone)]
pub struct RequestParser {
    limits: RequestLimits,
    state: State,
    ranges: Vec<Range<usize>>,
    /// Inline arguments after unquoting; `ranges` index into it when `inline` is set.
    inline_buf: Vec<u8>,
    inline: bool,
    /// Bytes the current incomplete bulk needs in total (a hint to size reads).
    need: usize,
    /// Where the argument being received starts (its data once its length line
    /// is in) in an incomplete multibulk request.
    pending: usize,
}

impl Default for RequestParser {
    fn default() -> Self {
        RequestParser::new(RequestLimits::default())
    }
}

impl RequestParser {
    /// A parser enforcing `limits`.
    ///
    /// ```
    /// use ferrokv_resp::{RequestLimits, RequestParser};
    /// let p = RequestParser::new(RequestLimits::default());
    /// assert_eq!(p.argc(), 0);
    /// ```
    pub fn new(limits: RequestLimits) -> Self {
        RequestParser {
            limits,
            state: State::Start,
            ranges: Vec::new(),
            inline_buf: Vec::new(),
            inline: false,
            need: 0,
            pending: 0,
        }
    }

    /// Changes the limits (e.g. `CONFIG SET proto-max-bulk-len`).
    ///
    /// ```
    /// use ferrokv_resp::{RequestLimits, RequestParser};
    /// let mut p = RequestParser::default();
    /// p.set_limits(RequestLimits { max_bulk_len: 1024, ..RequestLimits::default() });
    /// ```
    pub fn set_limits(&mut self, limits: RequestLimits) {
        self.limits = limits;
    }

    /// Sets [`RequestLimits::unauthenticated`]: whether the connection has yet to
    /// authenticate while a password is required. Clear it after a successful AUTH or
    /// HELLO ... AUTH.
    ///
    /// ```
    /// use ferrokv_resp::{ProtocolError, RequestParser};
    /// let mut p = RequestParser::default();
    /// p.set_auth_required(true);
    /// assert_eq!(p.parse(b"*11\r\n"), Err(ProtocolError::UnauthenticatedMultibulkLength));
    /// p.set_auth_required(false);
    /// assert_eq!(p.parse(b"*11\r\n"), Ok(None));
    /// ```
    pub fn set_auth_required(&mut self, required: bool) {
        self.limits.unauthenticated = required;
    }

    /// Parses one request at the front of `buf`.
    ///
    /// - `Ok(Some(n))`: a complete request of `n` bytes; its arguments are
    ///   [`args`](Self::args) of the same `buf` until the next call. It may have no
    ///   arguments (an empty line or `*0`), which a server skips.
    /// - `Ok(None)`: the request is incomplete. What was parsed is kept: call again
    ///   with a buffer that starts at the same request and holds more bytes.
    /// - `Err(e)`: a protocol error; reply `-ERR {e}` and close the connection.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// assert_eq!(p.parse(b"*1\r\n$4\r\nPI").unwrap(), None);
    /// assert_eq!(p.parse(b"*1\r\n$4\r\nPING\r\n").unwrap(), Some(14));
    /// ```
    pub fn parse(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        if self.state == State::Start {
            if self.ranges.capacity() > ARGS_KEPT {
                // A big request's argument list is not kept for the next one
                // (Redis reallocates argv to the next request's size): 100k
                // arguments held 2 MB for as long as the connection lived.
                self.ranges = Vec::new();
            }
            self.ranges.clear();
            self.inline = false;
            self.need = 0;
            match buf.first() {
                None => return Ok(None),
                Some(b'*') => {}
                Some(_) => return self.parse_inline(buf),
            }
            let Some((line, next)) = find_line(buf, 1) else {
                if buf.len() > self.limits.max_inline_len {
                    return Err(ProtocolError::TooBigMultibulkCount);
                }
                return Ok(None);
            };
            let count = string2ll(line).ok_or(ProtocolError::InvalidMultibulkLength)?;
            if count > i32::MAX as i64 {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if self.limits.unauthenticated && count > RequestLimits::UNAUTHENTICATED_MAX_ARGS as i64
            {
                return Err(ProtocolError::UnauthenticatedMultibulkLength);
            }
            if count > self.limits.max_args as i64 {
                return Err(ProtocolError::InvalidMultibulkLength);
            }
            if count <= 0 {
                return Ok(Some(next));
            }
            // Reserve for what the peer declared only up to a small bound: the
            // arguments themselves have to arrive before we keep more.
            self.ranges.reserve((count as usize).min(1024));
            self.state = State::MultiBulk {
                remaining: count as usize,
                pos: next,
            };
        }
        let State::MultiBulk {
            mut remaining,
            mut pos,
        } = self.state
        else {
            return Ok(None);
        };
        while remaining > 0 {
            // Like Redis, look at the type byte only once the whole length line is
            // in: until then a wrong byte is not an error yet, just incomplete input.
            let Some((line, data_start)) = find_line(buf, pos) else {
                if buf.len().saturating_sub(pos) > self.limits.max_inline_len {
                    self.reset();
                    return Err(ProtocolError::TooBigBulkCount);
                }
                self.state = State::MultiBulk { remaining, pos };
                self.pending = pos;
                return Ok(None);
            };
            let line = match line.split_first() {
                Some((b'$', digits)) => digits,
                Some((&other, _)) => {
                    self.reset();
                    return Err(ProtocolError::ExpectedDollar(other));
                }
                None => {
                    self.reset();
                    return Err(ProtocolError::ExpectedDollar(b'\r'));
                }
            };
            let len = match string2ll(line) {
                Some(l) if l >= 0 && (l as u64) <= self.limits.max_bulk_len as u64 => l as usize,
                _ => {
                    self.reset();
                    return Err(ProtocolError::InvalidBulkLength);
                }
            };
            if self.limits.unauthenticated && len > RequestLimits::UNAUTHENTICATED_MAX_BULK_LEN {
                self.reset();
                return Err(ProtocolError::UnauthenticatedBulkLength);
            }
            let end = data_start.saturating_add(len);
            if buf.len() < end.saturating_add(2) {
                self.need = end.saturating_add(2);
                self.pending = data_start;
                self.state = State::MultiBulk { remaining, pos };
                return Ok(None);
            }
            self.ranges.push(data_start..end);
            pos = end + 2;
            remaining -= 1;
        }
        self.state = State::Start;
        self.need = 0;
        Ok(Some(pos))
    }

    /// How many bytes, counted from the start of the request, the parser needs before
    /// it can make progress on a large bulk argument; 0 when unknown. A server uses it
    /// to grow its read buffer once instead of many times.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// p.parse(b"*1\r\n$100\r\nab").unwrap();
    /// assert_eq!(p.bytes_needed(), 4 + 6 + 102);
    /// ```
    pub fn bytes_needed(&self) -> usize {
        self.need
    }

    /// After `Ok(None)` on a multibulk request: where the argument being received
    /// starts in the buffer (past its `$<len>` line once that is in), and the
    /// bytes of the arguments already complete. What Redis's CLIENT LIST shows as
    /// `qbuf` and `argv-mem` of a client sending a request in parts, since Redis
    /// moves each complete argument out of its query buffer. `(0, 0)` otherwise.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// assert_eq!(p.parse(b"*2\r\n$3\r\nSET\r\n$100\r\nab").unwrap(), None);
    /// assert_eq!(p.partial(), (19, 3));
    /// ```
    pub fn partial(&self) -> (usize, usize) {
        match self.state {
            State::MultiBulk { .. } => (
                self.pending,
                self.ranges.iter().map(|r| r.end - r.start).sum(),
            ),
            _ => (0, 0),
        }
    }

    /// Number of arguments of the last complete request.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// p.parse(b"SET a b\r\n").unwrap();
    /// assert_eq!(p.argc(), 3);
    /// ```
    pub fn argc(&self) -> usize {
        self.ranges.len()
    }

    /// Argument `i` of the last complete request parsed from `buf`.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// let buf = b"ECHO \"a b\"\r\n";
    /// p.parse(buf).unwrap();
    /// assert_eq!(p.arg(buf, 1), b"a b");
    /// ```
    pub fn arg<'a>(&'a self, buf: &'a [u8], i: usize) -> &'a [u8] {
        let r = self.ranges[i].clone();
        if self.inline {
            &self.inline_buf[r]
        } else {
            &buf[r]
        }
    }

    /// All arguments of the last complete request parsed from `buf`.
    ///
    /// ```
    /// use ferrokv_resp::RequestParser;
    /// let mut p = RequestParser::default();
    /// let buf = b"*1\r\n$4\r\nPING\r\n";
    /// p.parse(buf).unwrap();
    /// assert_eq!(p.args(buf).next(), Some(&b"PING"[..]));
    /// ```
    pub fn args<'a>(&'a self, buf: &'a [u8]) -> impl ExactSizeIterator<Item = &'a [u8]> + 'a {
        let base: &'a [u8] = if self.inline { &self.inline_buf } else { buf };
        self.ranges.iter().map(move |r| &base[r.clone()])
    }

    fn reset(&mut self) {
        self.state = State::Start;
        self.ranges.clear();
        self.need = 0;
    }

    fn parse_inline(&mut self, buf: &[u8]) -> Result<Option<usize>, ProtocolError> {
        // Redis looks for the newline with strchr, which stops at a NUL byte: a NUL
        // before the newline reads as "no newline yet".
        let Some(nl) = buf
            .iter()
            .position(|&b| b == b'\n' || b == 0)
            .filter(|&i| buf[i] == b'\n')
        else {
            if buf.len() > self.limits.max_inline_len {
                return Err(ProtocolError::TooBigInlineRequest);
            }
            return Ok(None);
        };
        let mut line = &buf[..nl];
        if let Some(l) = line.strip_suffix(b"\r") {
            line = l;
        }
        self.inline = true;
        self.inline_buf.clear();
        split_args(line, &mut self.inline_buf, &mut self.ranges)
            .map_err(|_| ProtocolError::UnbalancedQuotes)?;
        Ok(Some(nl + 1))
    }
}

/// Finds `\r` at or after `from`; Redis then needs one more byte (the `\n`, unchecked).
/// Returns the line between `from` and `\r`, and the offset after the two bytes.
/// Like Redis's strchr, a NUL byte before the `\r` hides it.
fn find_line(buf: &[u8], from: usize) -> Option<(&[u8], usize)> {
    let rel = buf
        .get(from..)?
        .iter()
        .position(|&b| b == b'\r' || b == 0)?;
    if buf[from + rel] == 0 {
        return None;
    }
    let cr = from + rel;
    if cr + 2 > buf.len() {
        return None;
    }
    Some((&buf[from..cr], cr + 2))
}

/// Splits an inline line into arguments as Redis's `sdssplitargs` does: spaces
/// separate, double quotes take `\n \r \t \b \a \xHH` escapes, single quotes take
/// `\'`, a closing quote must be followed by a space or the end. The line holds no
/// NUL: the caller stopped at one, as Redis's strchr does.
fn split_args(line: &[u8], out: &mut Vec<u8>, ranges: &mut Vec<Range<usize>>) -> Result<(), ()> {
    let is_space = |c: u8| matches!(c, b' ' | b'\n' | b'\r' | b'\t' | 0x0b | 0x0c);
    let mut p = 0;
    loop {
        while p < line.len() && is_space(line[p]) {
            p += 1;
        }
        if p >= line.len() {
            return Ok(());
        }
        let start = out.len();
        let (mut inq, mut insq, mut done) = (false, false, false);
        while !done {
            let c = line.get(p).copied();
            if inq {
                match c {
                    None => return Err(()),
                    Some(b'\\')
                        if line.get(p + 1) == Some(&b'x')
                            && line.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
                            && line.get(p + 3).is_some_and(u8::is_ascii_hexdigit) =>
                    {
                        let hex = |b: u8| (b as char).to_digit(16).unwrap_or(0) as u8;
                        out.push(hex(line[p + 2]) * 16 + hex(line[p + 3]));
                        p += 3;
                    }
                    Some(b'\\') if p + 1 < line.len() => {
                        p += 1;
                        out.push(match line[p] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 0x08,
                            b'a' => 0x07,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                            return Err(());
                        }
                        done = true;
                    }
                    Some(other) => out.push(other),
                }
            } else if insq {
                match c {
                    None => return Err(()),
                    Some(b'\\') if line.get(p + 1) == Some(&b'\'') => {
                        p += 1;
                        out.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(p + 1).is_some_and(|&n| !is_space(n)) {
                            return Err(());
                        }
                        done = true;
                    }
                    Some(other) => out.push(other),
                }
            } else {
                match c {
                    None | Some(b' ' | b'\n' | b'\r' | b'\t') => done = true,
                    Some(b'"') => inq = true,
                    Some(b'\'') => insq = true,
                    Some(other) => out.push(other),
                }
            }
            if p < line.len() {
                p += 1;
            }
        }
        ranges.push(start..out.len());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_big_request_does_not_pin_its_argument_list() {
        let mut p = RequestParser::default();
        let mut big = b"*5000\r\n".to_vec();
        for _ in 0..5000 {
            big.extend_from_slice(b"$1\r\nx\r\n");
        }
        assert_eq!(p.parse(&big).unwrap(), Some(big.len()));
        assert_eq!(p.args(&big).count(), 5000);
        assert!(p.ranges.capacity() >= 5000);
        let small = b"*1\r\n$4\r\nPING\r\n";
        assert_eq!(p.parse(small).unwrap(), Some(small.len()));
        assert_eq!(p.args(small).collect::<Vec<_>>(), [&b"PING"[..]]);
        assert!(p.ranges.capacity() <= ARGS_KEPT);
    }

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Vec<u8>>>, ProtocolError> {
        let mut p = RequestParser::default();
        let mut off = 0;
        let mut out = Vec::new();
        while let Some(n) = p.parse(&input[off..])? {
            out.push(p.args(&input[off..]).map(<[u8]>::to_vec).collect());
            off += n;
        }
        Ok(out)
    }

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    #[test]
    fn multibulk_and_inline() {
        assert_eq!(
            parse_all(b"*1\r\n$4\r\nPING\r\n").unwrap(),
            vec![v(&["PING"])]
        );
        assert_eq!(
            parse_all(b"PING\r\nECHO  hi\n").unwrap(),
            vec![v(&["PING"]), v(&["ECHO", "hi"])]
        );
        assert_eq!(
            parse_all(b"set \"a\\x41\\n\" 'b\\'c'\r\n").unwrap(),
            vec![v(&["set", "aA\n", "b'c"])]
        );
        assert_eq!(parse_all(b"\r\n*0\r\n").unwrap(), vec![v(&[]), v(&[])]);
        assert_eq!(
            parse_all(b"a\"b c\"d\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            parse_all(b"a\"b c\" d\r\n").unwrap(),
            vec![v(&["ab c", "d"])]
        );
    }

    #[test]
    fn errors_match_redis() {
        assert_eq!(
            parse_all(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n+x\r\n"),
            Err(ProtocolError::ExpectedDollar(b'+'))
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"*1\r\n$4611686018427387904\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            parse_all(b"\"abc\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        assert_eq!(
            ProtocolError::ExpectedDollar(b'x').to_string(),
            "Protocol error: expected '$', got 'x'"
        );
        let long = vec![b'a'; 70000];
        assert_eq!(parse_all(&long), Err(ProtocolError::TooBigInlineRequest));
    }

    #[test]
    fn resumes_at_every_split() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        for split in 0..input.len() {
            let mut p = RequestParser::default();
            assert_eq!(p.parse(&input[..split]).unwrap(), None, "split {split}");
            assert_eq!(p.parse(input).unwrap(), Some(input.len()));
            assert_eq!(
                p.args(input).collect::<Vec<_>>(),
                vec![&b"SET"[..], b"key", b"value"]
            );
        }
    }

    #[test]
    fn every_protocol_error() {
        let limits = RequestLimits {
            max_inline_len: 16,
            ..RequestLimits::default()
        };
        let parse_with = |input: &[u8]| RequestParser::new(limits).parse(input);
        assert_eq!(
            parse_with(&[b'x'; 17]),
            Err(ProtocolError::TooBigInlineRequest)
        );
        assert_eq!(parse_with(&[b'x'; 16]), Ok(None));
        assert_eq!(
            parse_with(b"*11111111111111111"),
            Err(ProtocolError::TooBigMultibulkCount)
        );
        assert_eq!(
            parse_with(b"*1\r\n$11111111111111111"),
            Err(ProtocolError::TooBigBulkCount)
        );
        assert_eq!(parse_with(b"'a\r\n"), Err(ProtocolError::UnbalancedQuotes));
        assert_eq!(
            parse_with(b"'a'b\r\n"),
            Err(ProtocolError::UnbalancedQuotes)
        );
        for bad in [
            &b"*+1\r\n"[..],
            b"*01\r\n",
            b"* 1\r\n",
            b"*\r\n",
            b"*2147483648\r\n",
        ] {
            assert_eq!(
                parse_all(bad),
                Err(ProtocolError::InvalidMultibulkLength),
                "{bad:?}"
            );
        }
        for bad in [
            &b"*1\r\n$x\r\n"[..],
            b"*1\r\n$\r\n",
            b"*1\r\n$-0\r\n",
            b"*1\r\n$+1\r\n",
        ] {
            assert_eq!(
                parse_all(bad),
                Err(ProtocolError::InvalidBulkLength),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_all(b"*2\r\n$1\r\na\r\n:1\r\n"),
            Err(ProtocolError::ExpectedDollar(b':'))
        );
        // The type byte is judged once its line is complete, as Redis does.
        assert_eq!(RequestParser::default().parse(b"*1\r\n+x"), Ok(None));
        assert_eq!(
            parse_all(b"*1\r\n\r\n"),
            Err(ProtocolError::ExpectedDollar(b'\r'))
        );
        assert_eq!(
            RequestParser::default().parse(b"*1\r\n\0$1\r\na\r\n"),
            Ok(None)
        );
        let small = RequestLimits {
            max_args: 2,
            max_bulk_len: 3,
            ..RequestLimits::default()
        };
        let mut p = RequestParser::new(small);
        assert_eq!(
            p.parse(b"*3\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$4\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(p.parse(b"*1\r\n$3\r\nabc\r\n"), Ok(Some(13)));
        // Every error text, as Redis 7.0 sends it after "-ERR ".
        let texts = [
            (ProtocolError::TooBigInlineRequest, "too big inline request"),
            (
                ProtocolError::UnbalancedQuotes,
                "unbalanced quotes in request",
            ),
            (
                ProtocolError::TooBigMultibulkCount,
                "too big mbulk count string",
            ),
            (
                ProtocolError::InvalidMultibulkLength,
                "invalid multibulk length",
            ),
            (
                ProtocolError::UnauthenticatedMultibulkLength,
                "unauthenticated multibulk length",
            ),
            (ProtocolError::TooBigBulkCount, "too big bulk count string"),
            (ProtocolError::ExpectedDollar(b'f'), "expected '$', got 'f'"),
            (ProtocolError::InvalidBulkLength, "invalid bulk length"),
            (
                ProtocolError::UnauthenticatedBulkLength,
                "unauthenticated bulk length",
            ),
        ];
        for (e, text) in texts {
            assert_eq!(e.to_string(), format!("Protocol error: {text}"));
        }
    }

    #[test]
    fn unauthenticated_limits() {
        let mut p = RequestParser::default();
        p.set_auth_required(true);
        assert_eq!(
            p.parse(b"*11\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*x\r\n"),
            Err(ProtocolError::InvalidMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$-1\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(p.parse(b"*10\r\n$16384\r\n"), Ok(None));
        // The same through the limits, which keep the other bounds.
        let small = RequestLimits {
            max_bulk_len: 100,
            ..RequestLimits::default()
        };
        let mut p = RequestParser::new(small.unauthenticated());
        assert_eq!(
            p.parse(b"*1\r\n$101\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        assert_eq!(
            p.parse(b"*100000\r\n"),
            Err(ProtocolError::UnauthenticatedMultibulkLength)
        );
        assert_eq!(
            p.parse(b"*1\r\n$100000\r\n"),
            Err(ProtocolError::InvalidBulkLength)
        );
        let mut p = RequestParser::new(RequestLimits::default().unauthenticated());
        assert_eq!(
            p.parse(b"*1\r\n$100000\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        // A split request: the limit applies once the length line is complete.
        assert_eq!(p.parse(b"*1\r\n$1638"), Ok(None));
        assert_eq!(
            p.parse(b"*1\r\n$16385\r\n"),
            Err(ProtocolError::UnauthenticatedBulkLength)
        );
        // Inline requests have no such limit in Redis.
        assert_eq!(p.parse(b"a b c d e f g h i j k l\r\n"), Ok(Some(25)));
    }

    #[test]
    fn nul_hides_the_line_end_like_strchr() {
        // Redis waits for more input (and finally hits the size limit).
        assert_eq!(RequestParser::default().parse(b"PING a\0b\n"), Ok(None));
        assert_eq!(RequestParser::default().parse(b"*1\0\r\n$1\r\n"), Ok(None));
        assert_eq!(RequestParser::default().parse(b"*1\r\n$1\0\r\n"), Ok(None));
        let mut big = b"PING \0".to_vec();
        big.resize(70000, b'a');
        big.push(b'\n');
        assert_eq!(
            RequestParser::default().parse(&big),
            Err(ProtocolError::TooBigInlineRequest)
        );
        // A NUL inside a bulk argument is data.
        assert_eq!(
            parse_all(b"*1\r\n$3\r\na\0b\r\n").unwrap(),
            vec![vec![b"a\0b".to_vec()]]
        );
    }

    #[test]
    fn redis_leniencies() {
        // The two bytes after a payload and after a length line's \r are not checked.
        assert_eq!(parse_all(b"*1\r\n$1\r\naXY").unwrap(), vec![v(&["a"])]);
        assert_eq!(parse_all(b"*1\rX$1\rXa\r\n").unwrap(), vec![v(&["a"])]);
        // Negative and zero counts are empty requests.
        assert_eq!(parse_all(b"*-10\r\n*0\r\n").unwrap(), vec![v(&[]), v(&[])]);
        // Inline: bare \n ends a line, tabs separate, escapes only inside quotes.
        assert_eq!(parse_all(b"a\tb\\n\n").unwrap(), vec![v(&["a", "b\\n"])]);
        assert_eq!(
            parse_all(b"\"\\t\\r\\b\\a\\q\\xzz\"\r\n").unwrap(),
            vec![v(&["\t\r\x08\x07qxzz"])]
        );
        assert_eq!(
            parse_all(b"'a\\nb' ''\r\n").unwrap(),
            vec![v(&["a\\nb", ""])]
        );
        assert_eq!(parse_all(b"  \r\n").unwrap(), vec![v(&[])]);
    }

    #[test]
    fn bytes_needed_and_resume_state() {
        let mut p = RequestParser::default();
        let buf = b"*2\r\n$1\r\na\r\n$10\r\n0123";
        assert_eq!(p.parse(buf), Ok(None));
        assert_eq!(p.bytes_needed(), buf.len() - 4 + 12);
        let mut full = buf.to_vec();
        full.extend_from_slice(b"456789\r\n");
        assert_eq!(p.parse(&full), Ok(Some(full.len())));
        assert_eq!(p.argc(), 2);
        assert_eq!(p.arg(&full, 1), b"0123456789");
        assert_eq!(p.bytes_needed(), 0);
        // After an error the parser starts afresh.
        assert!(p.parse(b"*1\r\n+\r\n").is_err());
        assert_eq!(p.parse(b"PING\r\n"), Ok(Some(6)));
    }
}
