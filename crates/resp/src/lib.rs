//! `ferrokv-resp`: a codec for RESP2 and RESP3, the Redis serialization protocol.
//!
//! Three layers, usable on their own:
//! - [`Frame`] with [`FrameDecoder`] and [`Frame::encode`]: every RESP2/RESP3 type, a
//!   streaming zero-copy parser over [`bytes::BytesMut`] and an encoder. For clients,
//!   proxies and tests.
//! - [`RequestParser`]: the server side of the protocol. It parses requests (arrays of
//!   bulk strings, and telnet-style inline commands) into argument ranges of the read
//!   buffer without copying, resumes where it stopped when input is incomplete, and
//!   reports protocol errors with the exact text Redis 7 sends.
//! - [`ReplyBuf`]: writes replies straight into an output buffer, choosing the RESP2 or
//!   RESP3 form of each type from the connection's protocol.
//!
//! ```
//! use bytes::BytesMut;
//! use ferrokv_resp::{Frame, FrameDecoder};
//!
//! let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"[..]);
//! let frame = FrameDecoder::default().decode(&mut buf).unwrap().unwrap();
//! assert_eq!(frame, Frame::array_of_bulks([&b"GET"[..], b"k"]));
//! let mut out = BytesMut::new();
//! frame.encode(&mut out);
//! assert_eq!(&out[..], b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\n");
//! ```
//!
//! The default build depends on no async runtime; the `tokio` feature adds
//! [`codec::RespCodec`], a `tokio_util::codec` Decoder/Encoder.
#![warn(missing_docs)]

mod double;
mod encode;
mod error;
mod frame;
mod limits;
mod parse;
mod reply;
mod request;

#[cfg(feature = "tokio")]
pub mod codec;

pub use double::format_double;
pub use error::{Error, ProtocolError};
pub use frame::Frame;
pub use limits::Limits;
pub use parse::FrameDecoder;
pub use reply::{Deferred, Protocol, ReplyBuf};
pub use request::{RequestLimits, RequestParser};
