//! A [`tokio_util::codec`] Decoder/Encoder for [`Frame`]s (feature `tokio`).
//!
//! ```
//! use bytes::BytesMut;
//! use ferrokv_resp::codec::RespCodec;
//! use ferrokv_resp::Frame;
//! use tokio_util::codec::{Decoder, Encoder};
//!
//! let mut codec = RespCodec::default();
//! let mut wire = BytesMut::new();
//! codec.encode(Frame::array_of_bulks(["PING"]), &mut wire).unwrap();
//! assert_eq!(&wire[..], b"*1\r\n$4\r\nPING\r\n");
//! let frame = codec.decode(&mut wire).unwrap();
//! assert_eq!(frame, Some(Frame::array_of_bulks(["PING"])));
//! ```

use bytes::BytesMut;
use tokio_util::codec::{Decoder, Encoder};

use crate::parse::{measure, take_frame, Progress};
use crate::{Error, Frame, Limits};

/// Frames in, frames out: wrap a socket in `tokio_util::codec::Framed` with it.
///
/// Unlike [`FrameDecoder::decode`](crate::FrameDecoder::decode), the codec remembers how
/// far it validated a frame that is still incomplete, and goes on from there when more
/// bytes arrive, so a reply with millions of elements read in small pieces costs
/// linear time. That is sound because `Framed` always hands it the same buffer.
///
/// ```
/// use bytes::BytesMut;
/// use ferrokv_resp::codec::RespCodec;
/// use ferrokv_resp::Frame;
/// use tokio_util::codec::Decoder;
///
/// let mut codec = RespCodec::default();
/// let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
/// assert_eq!(codec.decode(&mut buf).unwrap(), None);
/// buf.extend_from_slice(b":2\r\n");
/// assert_eq!(
///     codec.decode(&mut buf).unwrap(),
///     Some(Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]))
/// );
/// ```
#[derive(Debug, Clone, Default)]
pub struct RespCodec {
    limits: Limits,
    progress: Progress,
}

impl RespCodec {
    /// A codec whose decoder enforces `limits`.
    ///
    /// ```
    /// use ferrokv_resp::codec::RespCodec;
    /// use ferrokv_resp::Limits;
    /// let codec = RespCodec::new(Limits { max_depth: 4, ..Limits::default() });
    /// assert_eq!(codec.limits().max_depth, 4);
    /// ```
    pub fn new(limits: Limits) -> Self {
        RespCodec {
            limits,
            progress: Progress::default(),
        }
    }

    /// The limits the decoder enforces.
    ///
    /// ```
    /// use ferrokv_resp::codec::RespCodec;
    /// use ferrokv_resp::Limits;
    /// assert_eq!(RespCodec::default().limits(), &Limits::default());
    /// ```
    pub fn limits(&self) -> &Limits {
        &self.limits
    }
}

impl Decoder for RespCodec {
    type Item = Frame;
    type Error = Error;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, Error> {
        match measure(src, &self.limits, &mut self.progress) {
            Ok(None) => Ok(None),
            Ok(Some(len)) => take_frame(src, len).map(Some),
            Err(e) => {
                self.progress.reset();
                Err(e)
            }
        }
    }
}

impl Encoder<Frame> for RespCodec {
    type Error = Error;

    fn encode(&mut self, item: Frame, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}

impl Encoder<&Frame> for RespCodec {
    type Error = Error;

    fn encode(&mut self, item: &Frame, dst: &mut BytesMut) -> Result<(), Error> {
        item.encode(dst);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resumes_across_small_reads() {
        let mut wire = BytesMut::new();
        let frame = Frame::Array((0..100).map(Frame::Integer).collect());
        frame.encode(&mut wire);
        Frame::simple("OK").encode(&mut wire);
        let mut codec = RespCodec::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for b in wire.iter() {
            buf.extend_from_slice(&[*b]);
            while let Some(f) = codec.decode(&mut buf).unwrap() {
                got.push(f);
            }
        }
        assert_eq!(got, vec![frame, Frame::simple("OK")]);
        assert!(buf.is_empty());
    }

    #[test]
    fn error_resets_progress() {
        let mut codec = RespCodec::default();
        let mut buf = BytesMut::from(&b"*2\r\n:1\r\n"[..]);
        assert_eq!(codec.decode(&mut buf).unwrap(), None);
        buf.extend_from_slice(b"?\r\n");
        assert_eq!(codec.decode(&mut buf), Err(Error::InvalidType(b'?')));
        let mut fresh = BytesMut::from(&b":5\r\n"[..]);
        assert_eq!(codec.decode(&mut fresh).unwrap(), Some(Frame::Integer(5)));
    }

    #[test]
    fn encodes_borrowed_frames() {
        let mut codec = RespCodec::default();
        let mut dst = BytesMut::new();
        codec.encode(&Frame::Null, &mut dst).unwrap();
        assert_eq!(&dst[..], b"_\r\n");
    }

    #[test]
    fn io_errors_convert() {
        let e: Error = std::io::Error::other("boom").into();
        assert_eq!(e, Error::Io("boom".into()));
    }
}
