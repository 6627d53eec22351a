//! Throughput of the RESP codec: request parsing (server side), frame decoding
//! (client side) and reply encoding, on a pipelined batch of small commands and on
//! one large bulk. Every workload is measured twice, once reported in bytes per
//! second and once in elements (requests or replies) per second.

use bytes::{Bytes, BytesMut};
use criterion::{black_box, criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ferrokv_resp::{Frame, FrameDecoder, Protocol, ReplyBuf, RequestParser};

const BATCH: usize = 1000;
const LARGE: usize = 1024 * 1024;

/// `SET key:N value` as multibulk requests, pipelined.
fn set_batch() -> Vec<u8> {
    let mut out = BytesMut::new();
    for i in 0..BATCH {
        Frame::array_of_bulks([&b"SET"[..], format!("key:{i}").as_bytes(), b"value"])
            .encode(&mut out);
    }
    out.to_vec()
}

fn parse_requests(p: &mut RequestParser, wire: &[u8]) -> usize {
    let mut off = 0;
    let mut args = 0;
    while let Ok(Some(n)) = p.parse(&wire[off..]) {
        args += p.argc();
        off += n;
    }
    args
}

fn decode_frames(buf: &mut BytesMut) -> usize {
    let mut dec = FrameDecoder::default();
    let mut frames = 0;
    while let Ok(Some(f)) = dec.decode(buf) {
        black_box(f);
        frames += 1;
    }
    frames
}

/// One workload: a name, its size in bytes and elements, and the routine.
struct Workload {
    name: &'static str,
    bytes: usize,
    elements: usize,
    run: Box<dyn Fn(&mut criterion::Bencher<'_>)>,
}

fn workloads() -> Vec<Workload> {
    let batch = set_batch();
    let batch_len = batch.len();
    let value = Bytes::from_static(b"value-of-sixteen");
    let bulk_replies_len = Frame::Bulk(value.clone()).to_bytes().len() * BATCH;
    let large = Bytes::from(vec![b'x'; LARGE]);
    let large_request = {
        let mut out = BytesMut::new();
        Frame::Array(vec![
            Frame::bulk("SET"),
            Frame::bulk("key"),
            Frame::Bulk(large.clone()),
        ])
        .encode(&mut out);
        out.to_vec()
    };
    let large_reply = Frame::Bulk(large.clone()).to_bytes();

    let mut w = Vec::new();
    {
        let wire = batch.clone();
        w.push(Workload {
            name: "parse_set_1000/request_parser",
            bytes: batch_len,
            elements: BATCH,
            run: Box::new(move |b| {
                let mut p = RequestParser::default();
                b.iter(|| black_box(parse_requests(&mut p, black_box(&wire))))
            }),
        });
    }
    {
        let wire = BytesMut::from(&batch[..]);
        w.push(Workload {
            name: "parse_set_1000/frame_decoder",
            bytes: batch_len,
            elements: BATCH,
            run: Box::new(move |b| {
                b.iter_batched_ref(
                    || wire.clone(),
                    |buf| black_box(decode_frames(buf)),
                    BatchSize::SmallInput,
                )
            }),
        });
    }
    {
        let value = value.clone();
        w.push(Workload {
            name: "encode_bulk_1000/reply_buf",
            bytes: bulk_replies_len,
            elements: BATCH,
            run: Box::new(move |b| {
                let mut r = ReplyBuf::with_capacity(Protocol::Resp2, bulk_replies_len);
                b.iter(|| {
                    r.buffer_mut().clear();
                    for _ in 0..BATCH {
                        r.bulk(black_box(&value));
                    }
                    black_box(r.len())
                })
            }),
        });
    }
    {
        let frames: Vec<Frame> = (0..BATCH).map(|_| Frame::Bulk(value.clone())).collect();
        w.push(Workload {
            name: "encode_bulk_1000/frame_encode",
            bytes: bulk_replies_len,
            elements: BATCH,
            run: Box::new(move |b| {
                let mut out = BytesMut::with_capacity(bulk_replies_len);
                b.iter(|| {
                    out.clear();
                    for f in &frames {
                        f.encode(&mut out);
                    }
                    black_box(out.len())
                })
            }),
        });
    }
    {
        let wire = large_request.clone();
        w.push(Workload {
            name: "large_bulk_1mib/request_parser",
            bytes: wire.len(),
            elements: 1,
            run: Box::new(move |b| {
                let mut p = RequestParser::default();
                b.iter(|| black_box(parse_requests(&mut p, black_box(&wire))))
            }),
        });
    }
    {
        let wire = large_reply.clone();
        w.push(Workload {
            name: "large_bulk_1mib/frame_decoder",
            bytes: wire.len(),
            elements: 1,
            run: Box::new(move |b| {
                b.iter_batched_ref(
                    || wire.clone(),
                    |buf| black_box(decode_frames(buf)),
                    BatchSize::LargeInput,
                )
            }),
        });
    }
    {
        let data = large.clone();
        w.push(Workload {
            name: "large_bulk_1mib/reply_buf",
            bytes: large_reply.len(),
            elements: 1,
            run: Box::new(move |b| {
                let mut r = ReplyBuf::with_capacity(Protocol::Resp2, LARGE + 32);
                b.iter(|| {
                    r.buffer_mut().clear();
                    r.bulk(black_box(&data));
                    black_box(r.len())
                })
            }),
        });
    }
    {
        let frame = Frame::Bulk(large);
        w.push(Workload {
            name: "large_bulk_1mib/frame_encode",
            bytes: large_reply.len(),
            elements: 1,
            run: Box::new(move |b| {
                let mut out = BytesMut::with_capacity(LARGE + 32);
                b.iter(|| {
                    out.clear();
                    frame.encode(&mut out);
                    black_box(out.len())
                })
            }),
        });
    }
    w
}

fn codec(c: &mut Criterion) {
    let all = workloads();
    let mut bytes = c.benchmark_group("bytes");
    for w in &all {
        bytes.throughput(Throughput::Bytes(w.bytes as u64));
        bytes.bench_function(w.name, |b| (w.run)(b));
    }
    bytes.finish();
    let mut elements = c.benchmark_group("elements");
    for w in &all {
        elements.throughput(Throughput::Elements(w.elements as u64));
        elements.bench_function(w.name, |b| (w.run)(b));
    }
    elements.finish();
}

criterion_group!(benches, codec);
criterion_main!(benches);
