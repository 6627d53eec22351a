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
//! A server reads requests with [`RequestParser`] and answers with [`ReplyBuf`]:
//!
//! ```
//! use ferrokv_resp::{Protocol, ReplyBuf, RequestParser};
//!
//! let input = b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n";
//! let mut parser = RequestParser::default();
//! let mut out = ReplyBuf::new(Protocol::Resp2);
//! let mut at = 0;
//! while let Some(n) = parser.parse(&input[at..]).unwrap() {
//!     let req = &input[at..at + n];
//!     match parser.arg(req, 0) {
//!         b"ECHO" => out.bulk(parser.arg(req, 1)),
//!         b"PING" => out.simple(b"PONG"),
//!         _ => out.error("ERR unknown command"),
//!     }
//!     at += n;
//! }
//! assert_eq!(out.as_bytes(), b"$2\r\nhi\r\n+PONG\r\n");
//! ```
//!
//! Both parsers take input from the network, so neither panics, loops or allocates
//! beyond what arrived on any input: declared lengths are checked against [`Limits`] /
//! [`RequestLimits`] before anything is reserved, nesting is bounded by
//! [`Limits::max_depth`], and they are fuzzed (`crates/resp/fuzz`) and property-tested.
//! Streamed RESP3 types (`$?`, `*?`, `;`, `.`) are refused with [`Error::Streamed`].
//!
//! The default build depends on no async runtime; the `tokio` feature adds
//! `codec::RespCodec`, a `tokio_util::codec` Decoder/Encoder that resumes partly
//! received frames.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod double;
mod encode;
mod error;
mod frame;
mod limits;
mod number;
mod parse;
mod reply;
mod repr;
mod request;

#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub mod codec;

pub use double::format_double;
pub use error::{Error, ProtocolError};
pub use frame::Frame;
pub use limits::Limits;
pub use number::string2ll;
pub use parse::FrameDecoder;
pub use reply::{Deferred, Protocol, ReplyBuf};
pub use repr::{push_repr, repr};
pub use request::{RequestLimits, RequestParser};

/// Runs the README's examples as doc tests so they stay correct.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
