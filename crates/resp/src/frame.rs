use bytes::Bytes;

/// One RESP2 or RESP3 value.
///
/// Bulk payloads are [`Bytes`] slices of the buffer they were parsed from.
/// RESP2 has two null forms (`$-1` and `*-1`), RESP3 one (`_`); all three are kept so
/// that a frame encodes back to the bytes it came from.
///
/// ```
/// use ferrokv_resp::Frame;
///
/// let reply = Frame::Map(vec![
///     (Frame::simple("server"), Frame::bulk("ferrokv")),
///     (Frame::simple("proto"), Frame::Integer(3)),
/// ]);
/// let wire = reply.to_bytes();
/// assert_eq!(&wire[..], b"%2\r\n+server\r\n$7\r\nferrokv\r\n+proto\r\n:3\r\n");
/// assert_eq!(Frame::Double(f64::NAN), Frame::Double(f64::NAN)); // compares by bits
/// ```
#[derive(Debug, Clone)]
pub enum Frame {
    /// `+OK`
    Simple(Bytes),
    /// `-ERR message`: the text after `-`.
    Error(Bytes),
    /// `:42`
    Integer(i64),
    /// `$3\r\nfoo`
    Bulk(Bytes),
    /// RESP3 null `_`.
    Null,
    /// RESP2 null bulk string `$-1`.
    NullBulk,
    /// RESP2 null array `*-1`.
    NullArray,
    /// `*N`
    Array(Vec<Frame>),
    /// RESP3 map `%N` of N key/value pairs.
    Map(Vec<(Frame, Frame)>),
    /// RESP3 set `~N`.
    Set(Vec<Frame>),
    /// RESP3 attribute `|N`, with the reply it annotates.
    Attribute {
        /// The attribute pairs.
        attributes: Vec<(Frame, Frame)>,
        /// The frame that follows the attribute.
        data: Box<Frame>,
    },
    /// RESP3 push `>N` (out-of-band data such as pub/sub messages).
    Push(Vec<Frame>),
    /// RESP3 double `,1.5` (also `inf`, `-inf`, `nan`).
    Double(f64),
    /// RESP3 boolean `#t` / `#f`.
    Boolean(bool),
    /// RESP3 big number `(123...`: the digits as sent.
    BigNumber(Bytes),
    /// RESP3 verbatim string `=N\r\ntxt:...`: a three-byte format and the text.
    Verbatim {
        /// Format such as `txt` or `mkd`.
        format: [u8; 3],
        /// The text after `fmt:`.
        data: Bytes,
    },
    /// RESP3 blob error `!N`.
    BlobError(Bytes),
}

impl PartialEq for Frame {
    /// Structural equality; doubles compare by bit pattern so that `nan == nan`
    /// (a round trip must compare equal).
    fn eq(&self, other: &Self) -> bool {
        use Frame::*;
        match (self, other) {
            (Simple(a), Simple(b)) | (Error(a), Error(b)) | (Bulk(a), Bulk(b)) => a == b,
            (BigNumber(a), BigNumber(b)) | (BlobError(a), BlobError(b)) => a == b,
            (Integer(a), Integer(b)) => a == b,
            (Null, Null) | (NullBulk, NullBulk) | (NullArray, NullArray) => true,
            (Array(a), Array(b)) | (Set(a), Set(b)) | (Push(a), Push(b)) => a == b,
            (Map(a), Map(b)) => a == b,
            (
                Attribute {
                    attributes: a,
                    data: x,
                },
                Attribute {
                    attributes: b,
                    data: y,
                },
            ) => a == b && x == y,
            (Double(a), Double(b)) => a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan()),
            (Boolean(a), Boolean(b)) => a == b,
            (Verbatim { format: f, data: a }, Verbatim { format: g, data: b }) => f == g && a == b,
            _ => false,
        }
    }
}

impl Frame {
    /// A bulk string frame copied from `data`.
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert_eq!(Frame::bulk("hi"), Frame::Bulk("hi".into()));
    /// ```
    pub fn bulk(data: impl AsRef<[u8]>) -> Frame {
        Frame::Bulk(Bytes::copy_from_slice(data.as_ref()))
    }

    /// A simple string frame copied from `s`.
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert_eq!(Frame::simple("OK"), Frame::Simple("OK".into()));
    /// ```
    pub fn simple(s: impl AsRef<[u8]>) -> Frame {
        Frame::Simple(Bytes::copy_from_slice(s.as_ref()))
    }

    /// An error frame copied from `s` (the text after `-`).
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert!(Frame::error("ERR nope").is_error());
    /// ```
    pub fn error(s: impl AsRef<[u8]>) -> Frame {
        Frame::Error(Bytes::copy_from_slice(s.as_ref()))
    }

    /// An array of bulk strings: the shape of a client request.
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// let f = Frame::array_of_bulks(["SET", "k", "v"]);
    /// assert_eq!(f, Frame::Array(vec![Frame::bulk("SET"), Frame::bulk("k"), Frame::bulk("v")]));
    /// ```
    pub fn array_of_bulks<I, T>(items: I) -> Frame
    where
        I: IntoIterator<Item = T>,
        T: AsRef<[u8]>,
    {
        Frame::Array(items.into_iter().map(Frame::bulk).collect())
    }

    /// Whether this is an error (`-` or RESP3 blob error `!`).
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert!(!Frame::Integer(1).is_error());
    /// ```
    pub fn is_error(&self) -> bool {
        matches!(self, Frame::Error(_) | Frame::BlobError(_))
    }

    /// Whether this is any of the null forms.
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert!(Frame::NullBulk.is_null() && Frame::Null.is_null());
    /// ```
    pub fn is_null(&self) -> bool {
        matches!(self, Frame::Null | Frame::NullBulk | Frame::NullArray)
    }

    /// The payload of a string-like frame (simple, bulk, error, verbatim, big number).
    ///
    /// ```
    /// use ferrokv_resp::Frame;
    /// assert_eq!(Frame::bulk("x").as_bytes(), Some(&b"x"[..]));
    /// assert_eq!(Frame::Integer(3).as_bytes(), None);
    /// ```
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Frame::Simple(b)
            | Frame::Error(b)
            | Frame::Bulk(b)
            | Frame::BigNumber(b)
            | Frame::BlobError(b)
            | Frame::Verbatim { data: b, .. } => Some(b),
            _ => None,
        }
    }
}
