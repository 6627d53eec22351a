//! The streaming [`Frame`] parser.
//!
//! Parsing runs in two passes over the buffer. The first ([`measure`]) walks the frame
//! with nom's streaming combinators, validates it against the [`Limits`] and finds its
//! length without allocating for the payload; when the input is incomplete it stops and
//! nothing is consumed or copied. The second ([`build`]) runs only over a complete
//! frame, after it has been split off and frozen, and slices every payload out of that
//! one [`Bytes`].
//!
//! [`measure`] is a loop over an explicit stack of open aggregates rather than a
//! recursion, so hostile nesting costs heap bounded by [`Limits::max_depth`], never
//! stack. The stack and position are kept in a [`Progress`]: [`FrameDecoder::decode`]
//! starts from a fresh one on every call (so it re-walks a partly received frame each
//! time more bytes arrive; see its docs), while the tokio codec keeps its `Progress`
//! between calls and resumes where the last call stopped.

use bytes::{Bytes, BytesMut};
use nom::bytes::streaming::take_until;
use nom::Parser;

use crate::{Error, Frame, Limits};

/// Decodes [`Frame`]s from the front of a buffer.
///
/// ```
/// use bytes::BytesMut;
/// use ferrokv_resp::{Frame, FrameDecoder};
///
/// let mut dec = FrameDecoder::default();
/// let mut buf = BytesMut::from(&b"+OK\r\n:4"[..]);
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::simple("OK")));
/// assert_eq!(dec.decode(&mut buf).unwrap(), None); // ":4" needs its CRLF
/// buf.extend_from_slice(b"2\r\n");
/// assert_eq!(dec.decode(&mut buf).unwrap(), Some(Frame::Integer(42)));
/// ```
#[derive(Debug, Clone, Default)]
pub struct FrameDecoder {
    limits: Limits,
    /// Scratch stack reused across calls so that decoding an aggregate does not
    /// allocate a new one each time; reset at the start of every call.
    scratch: Progress,
}

impl FrameDecoder {
    /// A decoder with the given limits.
    ///
    /// ```
    /// use ferrokv_resp::{FrameDecoder, Limits};
    /// let dec = FrameDecoder::new(Limits { max_depth: 8, ..Limits::default() });
    /// assert_eq!(dec.limits().max_depth, 8);
    /// ```
    pub fn new(limits: Limits) -> Self {
        FrameDecoder {
            limits,
            scratch: Progress::default(),
        }
    }

    /// The limits this decoder enforces.
    ///
    /// ```
    /// use ferrokv_resp::{FrameDecoder, Limits};
    /// assert_eq!(FrameDecoder::default().limits(), &Limits::default());
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Removes one complete frame from the front of `buf` and returns it, or returns
    /// `Ok(None)` and leaves `buf` untouched when the frame is not complete yet.
    /// Bulk payloads of the returned frame share `buf`'s memory.
    ///
    /// Each call validates the frame from its first byte: a decoder keeps no state
    /// between calls, so any buffer may be passed. The price is that a large
    /// aggregate arriving in many small reads is re-walked on each call (quadratic in
    /// its element count; a single large bulk string is not, its length is known from
    /// its header). Clients reading big replies off a socket can use the `tokio`
    /// feature's `RespCodec`, which resumes where it stopped.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use ferrokv_resp::{Frame, FrameDecoder};
    /// let mut buf = BytesMut::from(&b"$5\r\nhello\r\n"[..]);
    /// assert_eq!(FrameDecoder::default().decode(&mut buf).unwrap(), Some(Frame::bulk("hello")));
    /// assert!(buf.is_empty());
    /// ```
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Frame>, Error> {
        self.scratch.reset();
        match measure(buf, &self.limits, &mut self.scratch)? {
            None => Ok(None),
            Some(len) => take_frame(buf, len).map(Some),
        }
    }

    /// Like [`decode`](Self::decode) but over a slice: returns the frame (payloads
    /// copied) and how many bytes it took.
    ///
    /// ```
    /// use ferrokv_resp::{Frame, FrameDecoder};
    /// let (f, n) = FrameDecoder::default().decode_slice(b":1\r\nrest").unwrap().unwrap();
    /// assert_eq!((f, n), (Frame::Integer(1), 4));
    /// ```
    pub fn decode_slice(&self, input: &[u8]) -> Result<Option<(Frame, usize)>, Error> {
        match measure(input, &self.limits, &mut Progress::default())? {
            None => Ok(None),
            Some(len) => {
                let bytes = Bytes::copy_from_slice(&input[..len]);
                let mut pos = 0;
                Ok(Some((build(&bytes, &mut pos)?, len)))
            }
        }
    }
}

/// Splits the `len` bytes of a measured frame off `buf` and builds the frame.
pub(crate) fn take_frame(buf: &mut BytesMut, len: usize) -> Result<Frame, Error> {
    let frame_bytes = buf.split_to(len).freeze();
    let mut pos = 0;
    build(&frame_bytes, &mut pos)
}

/// How far [`measure`] got into a frame that is not complete yet.
#[derive(Debug, Clone, Default)]
pub(crate) struct Progress {
    /// Offset of the next element to measure, from the start of the frame.
    pos: usize,
    /// Elements still expected by each open aggregate, outermost first. Never longer
    /// than `Limits::max_depth`.
    open: Vec<usize>,
}

impl Progress {
    /// Forgets a partly measured frame (after an error, or to start on a new buffer).
    pub(crate) fn reset(&mut self) {
        self.pos = 0;
        self.open.clear();
    }
}

/// Finds the end of the line that starts `input`: the line (without CRLF) and the
/// bytes it takes with its CRLF. `None` when the CRLF has not arrived yet.
fn line(input: &[u8], max: usize) -> Result<Option<(&[u8], usize)>, Error> {
    let found: nom::IResult<&[u8], &[u8]> = take_until(&b"\r\n"[..]).parse(input);
    match found {
        Ok((_, l)) if l.len() > max => Err(Error::LineTooLong),
        Ok((_, l)) => Ok(Some((l, l.len() + 2))),
        Err(nom::Err::Incomplete(_)) if input.len() > max + 1 => Err(Error::LineTooLong),
        Err(nom::Err::Incomplete(_)) => Ok(None),
        Err(_) => Err(Error::ExpectedCrlf),
    }
}

fn parse_i64(s: &[u8], what: &'static str) -> Result<i64, Error> {
    let (neg, digits) = match s.first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(Error::InvalidNumber(what));
    }
    let mut v: i128 = 0;
    for d in digits {
        v = v * 10 + i128::from(d - b'0');
    }
    if neg {
        v = -v;
    }
    i64::try_from(v).map_err(|_| Error::InvalidNumber(what))
}

/// A length header: `-1` means null, otherwise a non-negative count.
fn parse_len(s: &[u8], what: &'static str) -> Result<Option<usize>, Error> {
    if s == b"?" {
        return Err(Error::Streamed);
    }
    match parse_i64(s, what)? {
        -1 => Ok(None),
        n if n < 0 => Err(Error::InvalidNumber(what)),
        n => usize::try_from(n)
            .map(Some)
            .map_err(|_| Error::InvalidNumber(what)),
    }
}

fn parse_f64(s: &[u8]) -> Result<f64, Error> {
    let text = std::str::from_utf8(s).map_err(|_| Error::Invalid("double"))?;
    match text {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ if text
            .bytes()
            .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b))
            && !text.is_empty() =>
        {
            text.parse().map_err(|_| Error::Invalid("double"))
        }
        _ => Err(Error::Invalid("double")),
    }
}

/// What one element header says.
enum Head {
    /// A whole element (scalar, string, or a null, `*-1` included) of this length.
    Whole(usize),
    /// An aggregate header of `hlen` bytes followed by `elems` elements (maybe 0:
    /// an empty aggregate still counts as a level of nesting).
    Open { hlen: usize, elems: usize },
}

/// Validates the frame at the front of `input`, resuming from `st`; returns its length,
/// or `None` if more input is needed (then `st` records how far it got and the next
/// call must pass the same bytes and more). Allocates only the depth stack.
/// After an error `st` is left mid-frame: [`Progress::reset`] it before reuse.
pub(crate) fn measure(
    input: &[u8],
    limits: &Limits,
    st: &mut Progress,
) -> Result<Option<usize>, Error> {
    loop {
        let rest = input.get(st.pos..).unwrap_or_default();
        match head(rest, limits)? {
            None => return Ok(None),
            Some(Head::Whole(len)) => st.pos += len,
            Some(Head::Open { hlen, elems }) => {
                if st.open.len() >= limits.max_depth {
                    return Err(Error::TooDeep);
                }
                st.pos += hlen;
                if elems > 0 {
                    st.open.push(elems);
                    continue;
                }
            }
        }
        // An element is complete: it may complete its parent, and so on outwards.
        loop {
            match st.open.last_mut() {
                None => {
                    let len = st.pos;
                    st.reset();
                    return Ok(Some(len));
                }
                Some(left) => {
                    *left -= 1;
                    if *left > 0 {
                        break;
                    }
                    st.open.pop();
                }
            }
        }
    }
}

/// Validates the header (and for strings, the payload) of the element at the front of
/// `input`. `None` when it is incomplete.
fn head(input: &[u8], limits: &Limits) -> Result<Option<Head>, Error> {
    let Some(&kind) = input.first() else {
        return Ok(None);
    };
    if matches!(kind, b';' | b'.') {
        // Streamed string chunks and the end marker of streamed aggregates.
        return Err(Error::Streamed);
    }
    if !b"+-:_#,($!=*~>%|".contains(&kind) {
        return Err(Error::InvalidType(kind));
    }
    let Some((hdr, hlen)) = line(&input[1..], limits.max_inline_len)? else {
        return Ok(None);
    };
    let hlen = hlen + 1;
    match kind {
        b'+' | b'-' => Ok(Some(Head::Whole(hlen))),
        b':' => parse_i64(hdr, "integer").map(|_| Some(Head::Whole(hlen))),
        b'_' if hdr.is_empty() => Ok(Some(Head::Whole(hlen))),
        b'_' => Err(Error::Invalid("null")),
        b'#' if hdr == b"t" || hdr == b"f" => Ok(Some(Head::Whole(hlen))),
        b'#' => Err(Error::Invalid("boolean")),
        b',' => parse_f64(hdr).map(|_| Some(Head::Whole(hlen))),
        b'(' => {
            let digits = hdr
                .strip_prefix(b"-")
                .or_else(|| hdr.strip_prefix(b"+"))
                .unwrap_or(hdr);
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return Err(Error::Invalid("big number"));
            }
            Ok(Some(Head::Whole(hlen)))
        }
        b'$' | b'!' | b'=' => {
            let Some(n) = parse_len(hdr, "bulk length")? else {
                return if kind == b'$' {
                    Ok(Some(Head::Whole(hlen)))
                } else {
                    Err(Error::InvalidNumber("bulk length"))
                };
            };
            if n > limits.max_bulk_len {
                return Err(Error::BulkTooLong);
            }
            if kind == b'=' && n < 4 {
                return Err(Error::Invalid("verbatim string"));
            }
            let total = hlen
                .checked_add(n)
                .and_then(|t| t.checked_add(2))
                .ok_or(Error::BulkTooLong)?;
            if input.len() < total {
                return Ok(None);
            }
            if &input[total - 2..total] != b"\r\n" {
                return Err(Error::ExpectedCrlf);
            }
            if kind == b'=' && input[hlen + 3] != b':' {
                return Err(Error::Invalid("verbatim string"));
            }
            Ok(Some(Head::Whole(total)))
        }
        _ => {
            // Aggregates: * ~ > % |
            let Some(n) = parse_len(hdr, "multibulk length")? else {
                return if kind == b'*' {
                    Ok(Some(Head::Whole(hlen)))
                } else {
                    Err(Error::InvalidNumber("multibulk length"))
                };
            };
            let pairs = matches!(kind, b'%' | b'|');
            let elems = if pairs {
                n.checked_mul(2).ok_or(Error::AggregateTooLong)?
            } else {
                n
            };
            if elems > limits.max_aggregate_len {
                return Err(Error::AggregateTooLong);
            }
            // An attribute annotates the frame that follows it: one more element.
            let elems = if kind == b'|' { elems + 1 } else { elems };
            // Empty aggregates are `Open` too: they count as a level of nesting.
            Ok(Some(Head::Open { hlen, elems }))
        }
    }
}

/// Builds the frame at `pos` of a buffer already validated by [`measure`].
///
/// Recursion depth is the frame's nesting, which `measure` bounded by
/// `Limits::max_depth`. Every element takes at least 3 bytes of the validated frame,
/// so each `Vec::with_capacity(n)` below is bounded by bytes that really arrived, never
/// by a count a peer merely declared.
fn build(buf: &Bytes, pos: &mut usize) -> Result<Frame, Error> {
    let input = &buf[*pos..];
    let kind = *input.first().ok_or(Error::ExpectedCrlf)?;
    let (hdr, hlen) = line(&input[1..], usize::MAX)?.ok_or(Error::ExpectedCrlf)?;
    let start = *pos + 1;
    let hdr_range = start..start + hdr.len();
    *pos += hlen + 1;
    let frame = match kind {
        b'+' => Frame::Simple(buf.slice(hdr_range)),
        b'-' => Frame::Error(buf.slice(hdr_range)),
        b':' => Frame::Integer(parse_i64(hdr, "integer")?),
        b'_' => Frame::Null,
        b'#' => Frame::Boolean(hdr == b"t"),
        b',' => Frame::Double(parse_f64(hdr)?),
        b'(' => Frame::BigNumber(buf.slice(hdr_range)),
        b'$' | b'!' | b'=' => match parse_len(hdr, "bulk length")? {
            None => Frame::NullBulk,
            Some(n) => {
                let data = buf.slice(*pos..*pos + n);
                *pos += n + 2;
                match kind {
                    b'$' => Frame::Bulk(data),
                    b'!' => Frame::BlobError(data),
                    _ => {
                        let mut format = [0u8; 3];
                        format.copy_from_slice(&data[..3]);
                        Frame::Verbatim {
                            format,
                            data: data.slice(4..),
                        }
                    }
                }
            }
        },
        b'*' | b'~' | b'>' => match parse_len(hdr, "multibulk length")? {
            None => Frame::NullArray,
            Some(n) => {
                let mut items = Vec::with_capacity(n);
                for _ in 0..n {
                    items.push(build(buf, pos)?);
                }
                match kind {
                    b'*' => Frame::Array(items),
                    b'~' => Frame::Set(items),
                    _ => Frame::Push(items),
                }
            }
        },
        b'%' | b'|' => {
            let n = parse_len(hdr, "multibulk length")?.unwrap_or(0);
            let mut pairs = Vec::with_capacity(n);
            for _ in 0..n {
                let k = build(buf, pos)?;
                let v = build(buf, pos)?;
                pairs.push((k, v));
            }
            if kind == b'%' {
                Frame::Map(pairs)
            } else {
                Frame::Attribute {
                    attributes: pairs,
                    data: Box::new(build(buf, pos)?),
                }
            }
        }
        other => return Err(Error::InvalidType(other)),
    };
    Ok(frame)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dec(input: &[u8]) -> Result<Option<Frame>, Error> {
        FrameDecoder::default().decode(&mut BytesMut::from(input))
    }

    #[test]
    fn every_type() {
        assert_eq!(dec(b"+OK\r\n").unwrap(), Some(Frame::simple("OK")));
        assert_eq!(dec(b"-ERR x\r\n").unwrap(), Some(Frame::error("ERR x")));
        assert_eq!(dec(b":-12\r\n").unwrap(), Some(Frame::Integer(-12)));
        assert_eq!(dec(b"$-1\r\n").unwrap(), Some(Frame::NullBulk));
        assert_eq!(dec(b"*-1\r\n").unwrap(), Some(Frame::NullArray));
        assert_eq!(dec(b"_\r\n").unwrap(), Some(Frame::Null));
        assert_eq!(dec(b"$0\r\n\r\n").unwrap(), Some(Frame::bulk("")));
        assert_eq!(dec(b"#t\r\n").unwrap(), Some(Frame::Boolean(true)));
        assert_eq!(
            dec(b",-inf\r\n").unwrap(),
            Some(Frame::Double(f64::NEG_INFINITY))
        );
        assert_eq!(dec(b",1.5\r\n").unwrap(), Some(Frame::Double(1.5)));
        assert_eq!(
            dec(b"(123\r\n").unwrap(),
            Some(Frame::BigNumber("123".into()))
        );
        assert_eq!(
            dec(b"=8\r\ntxt:abcd\r\n").unwrap(),
            Some(Frame::Verbatim {
                format: *b"txt",
                data: "abcd".into()
            })
        );
        assert_eq!(
            dec(b"!3\r\nERR\r\n").unwrap(),
            Some(Frame::BlobError("ERR".into()))
        );
        assert_eq!(
            dec(b"%1\r\n+a\r\n:1\r\n").unwrap(),
            Some(Frame::Map(vec![(Frame::simple("a"), Frame::Integer(1))]))
        );
        assert_eq!(
            dec(b"~1\r\n:1\r\n").unwrap(),
            Some(Frame::Set(vec![Frame::Integer(1)]))
        );
        assert_eq!(
            dec(b">1\r\n:1\r\n").unwrap(),
            Some(Frame::Push(vec![Frame::Integer(1)]))
        );
        assert_eq!(
            dec(b"|1\r\n+k\r\n+v\r\n:5\r\n").unwrap(),
            Some(Frame::Attribute {
                attributes: vec![(Frame::simple("k"), Frame::simple("v"))],
                data: Box::new(Frame::Integer(5)),
            })
        );
    }

    #[test]
    fn errors() {
        assert_eq!(dec(b"?x\r\n"), Err(Error::InvalidType(b'?')));
        assert_eq!(dec(b"*?\r\n"), Err(Error::Streamed));
        assert_eq!(dec(b"$3\r\nabcd\r\n"), Err(Error::ExpectedCrlf));
        assert_eq!(dec(b"$4611686018427387904\r\n"), Err(Error::BulkTooLong));
        let deep = b"*1\r\n".repeat(200);
        assert_eq!(dec(&deep), Err(Error::TooDeep));
    }

    #[test]
    fn every_error() {
        let cases: &[(&[u8], Error)] = &[
            (b"x\r\n", Error::InvalidType(b'x')),
            (b"\r\n", Error::InvalidType(b'\r')),
            (b":1.5\r\n", Error::InvalidNumber("integer")),
            (b":\r\n", Error::InvalidNumber("integer")),
            (b":9223372036854775808\r\n", Error::InvalidNumber("integer")),
            (b"$-2\r\n", Error::InvalidNumber("bulk length")),
            (b"$x\r\n", Error::InvalidNumber("bulk length")),
            (b"!-1\r\n", Error::InvalidNumber("bulk length")),
            (b"=-1\r\n", Error::InvalidNumber("bulk length")),
            (b"*-2\r\n", Error::InvalidNumber("multibulk length")),
            (b"%-1\r\n", Error::InvalidNumber("multibulk length")),
            (b"~-1\r\n", Error::InvalidNumber("multibulk length")),
            (b"$536870913\r\n", Error::BulkTooLong),
            (b"*2147483648\r\n", Error::AggregateTooLong),
            (b"*4611686018427387904\r\n", Error::AggregateTooLong),
            (b"%1073741824\r\n", Error::AggregateTooLong),
            (b"%9223372036854775807\r\n", Error::AggregateTooLong),
            (b"$3\r\nabcXY", Error::ExpectedCrlf),
            (b"_x\r\n", Error::Invalid("null")),
            (b"#x\r\n", Error::Invalid("boolean")),
            (b"#tt\r\n", Error::Invalid("boolean")),
            (b",abc\r\n", Error::Invalid("double")),
            (b",\r\n", Error::Invalid("double")),
            (b",1..2\r\n", Error::Invalid("double")),
            (b",infinity\r\n", Error::Invalid("double")),
            (b"(12a\r\n", Error::Invalid("big number")),
            (b"(-\r\n", Error::Invalid("big number")),
            (b"=3\r\ntxt\r\n", Error::Invalid("verbatim string")),
            (b"=5\r\ntxtxy\r\n", Error::Invalid("verbatim string")),
            (b"$?\r\n", Error::Streamed),
            (b"*?\r\n", Error::Streamed),
            (b"%?\r\n", Error::Streamed),
            (b"~?\r\n", Error::Streamed),
            (b">?\r\n", Error::Streamed),
            (b";4\r\nHell\r\n", Error::Streamed),
            (b".\r\n", Error::Streamed),
            (b"*1\r\n;0\r\n", Error::Streamed),
        ];
        for (input, want) in cases {
            assert_eq!(
                dec(input).as_ref(),
                Err(want),
                "{}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn lines_are_bounded() {
        let dec = FrameDecoder::new(Limits {
            max_inline_len: 8,
            ..Limits::default()
        });
        assert_eq!(
            dec.decode_slice(b"+12345678\r\n").map(|f| f.map(|f| f.1)),
            Ok(Some(11))
        );
        assert_eq!(dec.decode_slice(b"+123456789\r\n"), Err(Error::LineTooLong));
        // Without its CRLF, a line longer than the limit is refused before it ends.
        assert_eq!(dec.decode_slice(b"+1234567890"), Err(Error::LineTooLong));
        assert_eq!(dec.decode_slice(b"+123456789"), Ok(None));
        // Bulk payloads are not lines.
        assert!(dec.decode_slice(b"$10\r\n0123456789\r\n").is_ok());
    }

    #[test]
    fn depth_is_bounded() {
        let dec = FrameDecoder::new(Limits {
            max_depth: 3,
            ..Limits::default()
        });
        assert!(dec
            .decode_slice(b"*1\r\n*1\r\n*1\r\n:1\r\n")
            .unwrap()
            .is_some());
        assert!(dec.decode_slice(b"*1\r\n*1\r\n*0\r\n").unwrap().is_some());
        assert_eq!(
            dec.decode_slice(b"*1\r\n*1\r\n*1\r\n*0\r\n"),
            Err(Error::TooDeep)
        );
        assert_eq!(
            dec.decode_slice(b"|1\r\n+a\r\n%1\r\n+k\r\n*1\r\n*0\r\n"),
            Err(Error::TooDeep)
        );
        // Null aggregates are not aggregates.
        assert!(dec
            .decode_slice(b"*1\r\n*1\r\n*1\r\n*-1\r\n")
            .unwrap()
            .is_some());
        // A huge nesting is refused at the limit without walking the rest.
        let deep = b"~1\r\n".repeat(1_000_000);
        assert_eq!(
            FrameDecoder::default().decode_slice(&deep),
            Err(Error::TooDeep)
        );
    }

    #[test]
    fn huge_declared_sizes_reserve_nothing() {
        let dec = FrameDecoder::new(Limits {
            max_bulk_len: usize::MAX,
            max_aggregate_len: usize::MAX,
            ..Limits::default()
        });
        for input in [
            &b"$4611686018427387904\r\n"[..],
            b"*4611686018427387904\r\n",
            b"%4611686018427387903\r\n",
            b"|4611686018427387903\r\n",
            b"=9223372036854775807\r\n",
            b"*9223372036854775807\r\n:1\r\n:2\r\n",
        ] {
            assert_eq!(dec.decode_slice(input), Ok(None));
        }
        // Pairs count double: i64::MAX pairs still fit a usize, so this only waits.
        assert_eq!(dec.decode_slice(b"%9223372036854775807\r\n"), Ok(None));
    }

    #[test]
    fn lenient_numbers_and_doubles() {
        assert_eq!(dec(b":+7\r\n").unwrap(), Some(Frame::Integer(7)));
        assert_eq!(
            dec(b":-9223372036854775808\r\n").unwrap(),
            Some(Frame::Integer(i64::MIN))
        );
        assert_eq!(
            dec(b",inf\r\n").unwrap(),
            Some(Frame::Double(f64::INFINITY))
        );
        assert_eq!(dec(b",nan\r\n").unwrap(), Some(Frame::Double(f64::NAN)));
        assert_eq!(dec(b",1e3\r\n").unwrap(), Some(Frame::Double(1000.0)));
        assert_eq!(dec(b",-0\r\n").unwrap(), Some(Frame::Double(-0.0)));
        assert_eq!(
            dec(b"(-12\r\n").unwrap(),
            Some(Frame::BigNumber("-12".into()))
        );
        assert_eq!(dec(b"#f\r\n").unwrap(), Some(Frame::Boolean(false)));
        assert_eq!(dec(b"!-1\r\n").ok(), None);
        assert_eq!(dec(b"~0\r\n").unwrap(), Some(Frame::Set(vec![])));
        assert_eq!(dec(b"%0\r\n").unwrap(), Some(Frame::Map(vec![])));
        assert_eq!(dec(b">0\r\n").unwrap(), Some(Frame::Push(vec![])));
        // A lone CR inside a simple string is data.
        assert_eq!(dec(b"+a\rb\r\n").unwrap(), Some(Frame::simple("a\rb")));
    }

    #[test]
    fn error_texts() {
        assert_eq!(
            Error::InvalidType(b'?').to_string(),
            "Protocol error: invalid type byte '?'"
        );
        assert_eq!(
            Error::InvalidNumber("integer").to_string(),
            "Protocol error: invalid integer"
        );
        assert_eq!(
            Error::BulkTooLong.to_string(),
            "Protocol error: invalid bulk length"
        );
        assert_eq!(
            Error::AggregateTooLong.to_string(),
            "Protocol error: invalid multibulk length"
        );
        assert_eq!(
            Error::TooDeep.to_string(),
            "Protocol error: nesting too deep"
        );
        assert_eq!(
            Error::LineTooLong.to_string(),
            "Protocol error: too big inline request"
        );
        assert_eq!(
            Error::ExpectedCrlf.to_string(),
            "Protocol error: expected CRLF"
        );
        assert_eq!(
            Error::Invalid("double").to_string(),
            "Protocol error: invalid double"
        );
        assert_eq!(
            Error::Streamed.to_string(),
            "Protocol error: streamed types are not supported"
        );
        assert_eq!(Error::Io("eof".into()).to_string(), "I/O error: eof");
    }

    #[test]
    fn payloads_share_the_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n=7\r\nmkd:bar\r\n"[..]);
        let base = buf.as_ptr() as usize;
        let Some(Frame::Array(items)) = FrameDecoder::default().decode(&mut buf).unwrap() else {
            panic!("not an array")
        };
        let Frame::Bulk(foo) = &items[0] else {
            panic!("not a bulk")
        };
        assert_eq!(foo.as_ptr() as usize, base + 8);
        assert_eq!(
            items[1],
            Frame::Verbatim {
                format: *b"mkd",
                data: "bar".into()
            }
        );
    }

    #[test]
    fn decoder_is_stateless_between_buffers() {
        let mut d = FrameDecoder::default();
        let mut partial = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
        assert_eq!(d.decode(&mut partial), Ok(None));
        let mut other = BytesMut::from(&b":9\r\n"[..]);
        assert_eq!(d.decode(&mut other), Ok(Some(Frame::Integer(9))));
        assert_eq!(d.decode(&mut BytesMut::new()), Ok(None));
    }

    #[test]
    fn incomplete_consumes_nothing() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nba"[..]);
        assert_eq!(FrameDecoder::default().decode(&mut buf).unwrap(), None);
        assert_eq!(buf.len(), 19);
    }
}
