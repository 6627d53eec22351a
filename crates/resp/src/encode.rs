use bytes::{BufMut, BytesMut};

use crate::double::format_double;
use crate::Frame;

fn header(dst: &mut BytesMut, kind: u8, n: usize) {
    let mut b = itoa::Buffer::new();
    dst.put_u8(kind);
    dst.put_slice(b.format(n).as_bytes());
    dst.put_slice(b"\r\n");
}

impl Frame {
    /// Appends the wire form of this frame to `dst`.
    ///
    /// Frames are written as they are: a CR LF inside a [`Frame::Simple`] or
    /// [`Frame::Error`], or a big number that is not digits, yields bytes that do not
    /// decode back to the same frame. [`ReplyBuf`](crate::ReplyBuf) is the safe way
    /// to write replies from untrusted text.
    ///
    /// ```
    /// use bytes::BytesMut;
    /// use ferrokv_resp::Frame;
    /// let mut out = BytesMut::new();
    /// Frame::Map(vec![(Frame::simple("a"), Frame::Double(0.5))]).encode(&mut out);
    /// assert_eq!(&out[..], b"%1\r\n+a\r\n,0.5\r\n");
    /// ```
    pub fn encode(&self, dst: &mut BytesMut) {
        match self {
            Frame::Simple(s) => line(dst, b'+', s),
            Frame::Error(s) => line(dst, b'-', s),
            Frame::Integer(i) => {
                let mut b = itoa::Buffer::new();
                line(dst, b':', b.format(*i).as_bytes())
            }
            Frame::Bulk(b) => blob(dst, b'$', b),
            Frame::BlobError(b) => blob(dst, b'!', b),
            Frame::Null => dst.put_slice(b"_\r\n"),
            Frame::NullBulk => dst.put_slice(b"$-1\r\n"),
            Frame::NullArray => dst.put_slice(b"*-1\r\n"),
            Frame::Array(items) => aggregate(dst, b'*', items),
            Frame::Set(items) => aggregate(dst, b'~', items),
            Frame::Push(items) => aggregate(dst, b'>', items),
            Frame::Map(pairs) => pairs_out(dst, b'%', pairs),
            Frame::Attribute { attributes, data } => {
                pairs_out(dst, b'|', attributes);
                data.encode(dst);
            }
            Frame::Double(d) => {
                let mut s = Vec::with_capacity(24);
                format_double(*d, &mut s);
                line(dst, b',', &s)
            }
            Frame::Boolean(b) => dst.put_slice(if *b { b"#t\r\n" } else { b"#f\r\n" }),
            Frame::BigNumber(n) => line(dst, b'(', n),
            Frame::Verbatim { format, data } => {
                header(dst, b'=', data.len() + 4);
                dst.put_slice(format);
                dst.put_u8(b':');
                dst.put_slice(data);
                dst.put_slice(b"\r\n");
            }
        }
    }

    /// The wire form of this frame as a new buffer.
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert_eq!(&Frame::Integer(7).to_bytes()[..], b":7\r\n");
    /// ```
    pub fn to_bytes(&self) -> BytesMut {
        let mut out = BytesMut::new();
        self.encode(&mut out);
        out
    }
}

fn line(dst: &mut BytesMut, kind: u8, s: &[u8]) {
    dst.reserve(s.len() + 3);
    dst.put_u8(kind);
    dst.put_slice(s);
    dst.put_slice(b"\r\n");
}

fn blob(dst: &mut BytesMut, kind: u8, b: &[u8]) {
    dst.reserve(b.len() + 16);
    header(dst, kind, b.len());
    dst.put_slice(b);
    dst.put_slice(b"\r\n");
}

fn aggregate(dst: &mut BytesMut, kind: u8, items: &[Frame]) {
    header(dst, kind, items.len());
    for f in items {
        f.encode(dst);
    }
}

fn pairs_out(dst: &mut BytesMut, kind: u8, pairs: &[(Frame, Frame)]) {
    header(dst, kind, pairs.len());
    for (k, v) in pairs {
        k.encode(dst);
        v.encode(dst);
    }
}
