//! Arbitrary bytes into the client-side decoders. Besides not panicking, checks that
//! any frame decoded re-encodes to bytes that decode to the same frame, and that the
//! resumable tokio codec, fed one byte at a time, agrees with the stateless decoder.
#![no_main]

use bytes::BytesMut;
use ferrokv_resp::codec::RespCodec;
use ferrokv_resp::{Frame, FrameDecoder};
use libfuzzer_sys::fuzz_target;
use tokio_util::codec::Decoder;

fuzz_target!(|data: &[u8]| {
    let mut whole = Vec::new();
    let mut buf = BytesMut::from(data);
    let mut dec = FrameDecoder::default();
    let end = loop {
        match dec.decode(&mut buf) {
            Ok(Some(frame)) => whole.push(frame),
            Ok(None) => break Ok(()),
            Err(e) => break Err(e),
        }
    };

    for frame in &whole {
        let wire = frame.to_bytes();
        let again = FrameDecoder::default().decode_slice(&wire);
        assert_eq!(again, Ok(Some((frame.clone(), wire.len()))), "re-encoded {wire:?}");
    }

    let mut codec = RespCodec::default();
    let mut trickle = BytesMut::new();
    let mut got: Vec<Frame> = Vec::new();
    let mut codec_end = Ok(());
    'feed: for &b in data {
        trickle.extend_from_slice(&[b]);
        loop {
            match codec.decode(&mut trickle) {
                Ok(Some(frame)) => got.push(frame),
                Ok(None) => break,
                Err(e) => {
                    codec_end = Err(e);
                    break 'feed;
                }
            }
        }
    }
    assert_eq!(got, whole);
    assert_eq!(codec_end, end);
});
