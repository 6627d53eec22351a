//! Property tests for both parsers and the encoder: round trips, split input, a model
//! of the request parser, and no panics on arbitrary bytes.

#![allow(clippy::unwrap_used)] // helpers of a test: a panic is a failed test

use bytes::{Bytes, BytesMut};
use ferrokv_resp::{Frame, FrameDecoder, RequestParser};
use proptest::collection::vec;
use proptest::prelude::*;

/// Bytes that may sit in a simple string or error line: no CR or LF.
fn line_bytes() -> impl Strategy<Value = Bytes> {
    vec(
        any::<u8>().prop_filter("no CR/LF", |b| *b != b'\r' && *b != b'\n'),
        0..24,
    )
    .prop_map(Bytes::from)
}

fn blob() -> impl Strategy<Value = Bytes> {
    prop_oneof![
        vec(any::<u8>(), 0..48),
        // Payloads that look like protocol, to catch a parser that peeks into them.
        Just(b"\r\n$3\r\n*1\r\n".to_vec()),
    ]
    .prop_map(Bytes::from)
}

fn double() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>(),
        Just(f64::NAN),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
        Just(f64::MIN_POSITIVE / 3.0),
        (-1_000_000i64..1_000_000).prop_map(|i| i as f64 / 8.0),
    ]
}

fn leaf() -> impl Strategy<Value = Frame> {
    prop_oneof![
        line_bytes().prop_map(Frame::Simple),
        line_bytes().prop_map(Frame::Error),
        any::<i64>().prop_map(Frame::Integer),
        blob().prop_map(Frame::Bulk),
        Just(Frame::Null),
        Just(Frame::NullBulk),
        Just(Frame::NullArray),
        double().prop_map(Frame::Double),
        any::<bool>().prop_map(Frame::Boolean),
        "-?[0-9]{1,40}".prop_map(|s| Frame::BigNumber(Bytes::from(s))),
        (any::<[u8; 3]>(), blob()).prop_map(|(format, data)| Frame::Verbatim { format, data }),
        blob().prop_map(Frame::BlobError),
    ]
}

fn frame() -> impl Strategy<Value = Frame> {
    leaf().prop_recursive(4, 48, 5, |inner| {
        let pairs = vec((inner.clone(), inner.clone()), 0..4);
        prop_oneof![
            vec(inner.clone(), 0..5).prop_map(Frame::Array),
            vec(inner.clone(), 0..5).prop_map(Frame::Set),
            vec(inner.clone(), 0..5).prop_map(Frame::Push),
            pairs.clone().prop_map(Frame::Map),
            (pairs, inner).prop_map(|(attributes, data)| Frame::Attribute {
                attributes,
                data: Box::new(data)
            }),
        ]
    })
}

fn encode_all(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for f in frames {
        f.encode(&mut out);
    }
    out.to_vec()
}

/// Feeds `wire` to a FrameDecoder in the given chunks, decoding after each one.
fn decode_chunked(wire: &[u8], cuts: &[usize]) -> Vec<Frame> {
    let mut dec = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut frames = Vec::new();
    let mut start = 0;
    for &end in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[start..end]);
        start = end;
        while let Some(f) = dec.decode(&mut buf).unwrap() {
            frames.push(f);
        }
    }
    assert!(buf.is_empty(), "{} bytes left over", buf.len());
    frames
}

/// Sorted cut points from arbitrary numbers.
fn cuts_for(len: usize, raw: &[usize]) -> Vec<usize> {
    let mut cuts: Vec<usize> = raw.iter().map(|r| r % (len + 1)).collect();
    cuts.sort_unstable();
    cuts
}

/// One request and the arguments a correct parser must report for it.
#[derive(Debug, Clone)]
enum Request {
    Multibulk(Vec<Vec<u8>>),
    /// Words without blanks, quotes or NUL, joined by runs of blanks.
    Inline(Vec<Vec<u8>>, bool),
}

fn request() -> impl Strategy<Value = Request> {
    let word = vec(
        any::<u8>().prop_filter("plain", |b| !b" \t\r\n\"'\0*\x0b\x0c".contains(b)),
        1..12,
    );
    prop_oneof![
        vec(vec(any::<u8>(), 0..40), 1..6).prop_map(Request::Multibulk),
        (vec(word, 1..5), any::<bool>()).prop_map(|(w, crlf)| Request::Inline(w, crlf)),
    ]
}

impl Request {
    fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Request::Multibulk(args) => {
                out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
                for a in args {
                    out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
                    out.extend_from_slice(a);
                    out.extend_from_slice(b"\r\n");
                }
            }
            Request::Inline(words, crlf) => {
                out.extend_from_slice(&words.join(&b" \t "[..]));
                out.extend_from_slice(if *crlf { b"\r\n" } else { b"\n" });
            }
        }
    }

    fn args(&self) -> &[Vec<u8>] {
        match self {
            Request::Multibulk(a) | Request::Inline(a, _) => a,
        }
    }
}

/// Runs a RequestParser over `wire`, revealing it `cuts` at a time as a server would:
/// each call sees the current request from its start up to what has arrived.
fn parse_requests_chunked(wire: &[u8], cuts: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let mut p = RequestParser::default();
    let mut out = Vec::new();
    let mut off = 0;
    for &avail in cuts.iter().chain(std::iter::once(&wire.len())) {
        while off < avail {
            match p.parse(&wire[off..avail]).unwrap() {
                Some(n) => {
                    out.push(p.args(&wire[off..avail]).map(<[u8]>::to_vec).collect());
                    off += n;
                }
                None => break,
            }
        }
    }
    assert_eq!(off, wire.len());
    out
}

proptest! {
    #[test]
    fn round_trip(f in frame()) {
        let wire = f.to_bytes();
        let mut buf = wire.clone();
        let back = FrameDecoder::default().decode(&mut buf).unwrap();
        prop_assert_eq!(back.as_ref(), Some(&f));
        prop_assert!(buf.is_empty());
        let (again, n) = FrameDecoder::default().decode_slice(&wire).unwrap().unwrap();
        prop_assert_eq!(again, f);
        prop_assert_eq!(n, wire.len());
    }

    #[test]
    fn random_chunks_give_the_same_frames(frames in vec(frame(), 1..4), raw in vec(any::<usize>(), 0..12)) {
        let wire = encode_all(&frames);
        prop_assert_eq!(decode_chunked(&wire, &cuts_for(wire.len(), &raw)), frames);
    }

    #[test]
    fn requests_match_the_model(reqs in vec(request(), 1..6), raw in vec(any::<usize>(), 0..8)) {
        let mut wire = Vec::new();
        for r in &reqs {
            r.encode(&mut wire);
        }
        let want: Vec<Vec<Vec<u8>>> = reqs.iter().map(|r| r.args().to_vec()).collect();
        prop_assert_eq!(parse_requests_chunked(&wire, &[]), want.clone());
        prop_assert_eq!(parse_requests_chunked(&wire, &cuts_for(wire.len(), &raw)), want);
    }

    #[test]
    fn frame_decoder_never_panics(input in vec(any::<u8>(), 0..256)) {
        let mut dec = FrameDecoder::default();
        let mut buf = BytesMut::from(&input[..]);
        while let Ok(Some(_)) = dec.decode(&mut buf) {}
        let _ = dec.decode_slice(&input);
    }

    #[test]
    fn frame_decoder_survives_corrupted_frames(f in frame(), flips in vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut wire = f.to_bytes().to_vec();
        for (at, byte) in flips {
            let i = at % wire.len();
            wire[i] = byte;
        }
        let mut buf = BytesMut::from(&wire[..]);
        while let Ok(Some(_)) = FrameDecoder::default().decode(&mut buf) {}
    }

    #[test]
    fn request_parser_never_panics(input in vec(any::<u8>(), 0..256), raw in vec(any::<usize>(), 0..4)) {
        let mut p = RequestParser::default();
        let mut off = 0;
        for avail in cuts_for(input.len(), &raw).into_iter().chain(std::iter::once(input.len())) {
            while off < avail {
                match p.parse(&input[off..avail]) {
                    Ok(Some(n)) => {
                        prop_assert!(n > 0 && off + n <= avail);
                        let _ = p.args(&input[off..avail]).count();
                        off += n;
                    }
                    Ok(None) => break,
                    Err(_) => {
                        p = RequestParser::default();
                        off = avail;
                    }
                }
            }
        }
    }

    #[test]
    fn request_parser_survives_corrupted_requests(reqs in vec(request(), 1..4), flips in vec((any::<usize>(), any::<u8>()), 1..4)) {
        let mut wire = Vec::new();
        for r in &reqs {
            r.encode(&mut wire);
        }
        for (at, byte) in flips {
            let i = at % wire.len();
            wire[i] = byte;
        }
        let mut p = RequestParser::default();
        let mut off = 0;
        while let Ok(Some(n)) = p.parse(&wire[off..]) {
            off += n;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Every way of cutting the input in two gives the same frames.
    #[test]
    fn every_two_chunk_split_gives_the_same_frames(frames in vec(frame(), 1..3)) {
        let wire = encode_all(&frames);
        for cut in 0..=wire.len() {
            prop_assert_eq!(&decode_chunked(&wire, &[cut]), &frames, "cut at {}", cut);
        }
    }

    #[test]
    fn every_two_chunk_split_gives_the_same_requests(reqs in vec(request(), 1..4)) {
        let mut wire = Vec::new();
        for r in &reqs {
            r.encode(&mut wire);
        }
        let want: Vec<Vec<Vec<u8>>> = reqs.iter().map(|r| r.args().to_vec()).collect();
        for cut in 0..=wire.len() {
            prop_assert_eq!(&parse_requests_chunked(&wire, &[cut]), &want, "cut at {}", cut);
        }
    }
}

#[cfg(feature = "tokio")]
mod codec {
    use super::*;
    use ferrokv_resp::codec::RespCodec;
    use tokio_util::codec::{Decoder, Encoder};

    proptest! {
        #[test]
        fn codec_resumes_over_random_chunks(frames in vec(frame(), 1..4), raw in vec(any::<usize>(), 0..16)) {
            let mut codec = RespCodec::default();
            let mut wire = BytesMut::new();
            for f in &frames {
                codec.encode(f, &mut wire).unwrap();
            }
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut start = 0;
            for end in cuts_for(wire.len(), &raw).into_iter().chain(std::iter::once(wire.len())) {
                buf.extend_from_slice(&wire[start..end]);
                start = end;
                while let Some(f) = codec.decode(&mut buf).unwrap() {
                    got.push(f);
                }
            }
            prop_assert_eq!(got, frames);
        }
    }
}
