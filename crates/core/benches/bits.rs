//! Bitmap and HyperLogLog commands run in process through `Engine::execute`, as a
//! connection runs them (lookup, command, reply encoding), without the network:
//! BITCOUNT, BITPOS and BITOP on 1 MB strings, SETBIT/GETBIT, PFADD into a dense
//! HyperLogLog, PFCOUNT of one key (cached) and of a three-key union, and the
//! estimate of a dense HyperLogLog (what PFCOUNT pays after a change).

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use ferrokv_core::config::Config;
use ferrokv_core::types::hll;
use ferrokv_core::{Client, Engine, NoHooks};
use ferrokv_resp::{Protocol, ReplyBuf};

const MB: usize = 1024 * 1024;

struct Bench {
    engine: Engine,
    client: Client,
}

impl Bench {
    fn new() -> Bench {
        Bench {
            engine: Engine::new(Config::default(), &[]),
            client: Client::new(1, true),
        }
    }

    fn run(&mut self, args: &[&[u8]]) -> usize {
        let mut out = ReplyBuf::new(Protocol::Resp2);
        self.engine
            .execute(&mut self.client, args, &mut out, &NoHooks);
        out.as_bytes().len()
    }

    fn line(&mut self, line: &str) -> usize {
        let args: Vec<&[u8]> = line.split(' ').map(str::as_bytes).collect();
        self.run(&args)
    }
}

/// Bytes that look random (xorshift), so popcounts are not trivial.
fn noise(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed as u8
        })
        .collect()
}

fn bitmaps(c: &mut Criterion) {
    let mut b = Bench::new();
    for (i, key) in ["r1", "r2", "r3", "r4"].iter().enumerate() {
        let v = noise(MB, i as u64 + 1);
        b.run(&[b"SET", key.as_bytes(), &v]);
    }
    b.line("SETBIT zeros 8388607 1");
    let mut g = c.benchmark_group("bitmap 1MB");
    g.throughput(Throughput::Bytes(MB as u64));
    g.bench_function("BITCOUNT", |x| x.iter(|| black_box(b.line("BITCOUNT r1"))));
    g.bench_function("BITCOUNT BIT range", |x| {
        x.iter(|| black_box(b.line("BITCOUNT r1 1000 -1000 BIT")))
    });
    g.bench_function("BITPOS to the end", |x| {
        x.iter(|| black_box(b.line("BITPOS zeros 1")))
    });
    g.throughput(Throughput::Bytes(4 * MB as u64));
    g.bench_function("BITOP AND of 4", |x| {
        x.iter(|| black_box(b.line("BITOP AND dest r1 r2 r3 r4")))
    });
    g.bench_function("BITOP XOR of 4", |x| {
        x.iter(|| black_box(b.line("BITOP XOR dest r1 r2 r3 r4")))
    });
    g.finish();
    let mut g = c.benchmark_group("bitmap bits");
    g.bench_function("SETBIT", |x| {
        let mut i = 0u64;
        x.iter(|| {
            i = (i + 7919) % (8 * MB as u64);
            black_box(b.line(&format!("SETBIT r1 {i} 1")))
        })
    });
    g.bench_function("GETBIT", |x| {
        x.iter(|| black_box(b.line("GETBIT r1 4194303")))
    });
    g.finish();
}

fn hyperloglogs(c: &mut Criterion) {
    let mut b = Bench::new();
    for h in ["h1", "h2", "h3"] {
        for chunk in 0..20 {
            let els: Vec<String> = (0..1000).map(|i| format!("{h}-{chunk}-{i}")).collect();
            let mut args: Vec<&[u8]> = vec![b"PFADD", h.as_bytes()];
            args.extend(els.iter().map(|e| e.as_bytes()));
            b.run(&args);
        }
    }
    let mut g = c.benchmark_group("hyperloglog");
    g.bench_function("PFADD dense", |x| {
        let mut i = 0u64;
        x.iter(|| {
            i += 1;
            black_box(b.line(&format!("PFADD h1 el:{i}")))
        })
    });
    g.bench_function("PFCOUNT cached", |x| {
        x.iter(|| black_box(b.line("PFCOUNT h2")))
    });
    g.bench_function("PFCOUNT union of 3", |x| {
        x.iter(|| black_box(b.line("PFCOUNT h1 h2 h3")))
    });
    let mut dense = hll::sparse_to_dense(&hll::create()).expect("empty HLL decodes");
    for i in 0..20_000u32 {
        let _ = hll::add(&mut dense, &i.to_le_bytes(), 3000);
    }
    g.bench_function("estimate of a dense HLL", |x| {
        x.iter(|| black_box(hll::count(&dense)))
    });
    g.finish();
}

criterion_group!(benches, bitmaps, hyperloglogs);
criterion_main!(benches);
