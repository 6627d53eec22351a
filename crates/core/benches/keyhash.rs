//! What placing a key costs, step by step: its hash slot (CRC16 of the key or its
//! tag), the seeded bucket hash, both together (what a command's lock step pays
//! once per key), and finding a remembered hash again (what each further lookup of
//! the key by the command pays).

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrokv_core::keyspace::{bucket_hash, hash_key, key_slot, KeyHashes};

const KEYS: &[(&str, &[u8])] = &[
    ("10B key:123456", b"key:123456"),
    (
        "16B key:000000123456 (redis-benchmark's)",
        b"key:000000123456",
    ),
    ("22B tagged", b"{user:1000}:followers:"),
    (
        "64B",
        b"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    ),
];

fn steps(c: &mut Criterion) {
    for &(name, key) in KEYS {
        let mut g = c.benchmark_group(name);
        g.bench_function("slot (crc16)", |b| b.iter(|| key_slot(black_box(key))));
        g.bench_function("bucket hash (foldhash)", |b| {
            b.iter(|| bucket_hash(black_box(key)))
        });
        g.bench_function("hash_key (both)", |b| b.iter(|| hash_key(black_box(key))));
        let mut remembered = KeyHashes::default();
        remembered.add(key);
        g.bench_function("remembered hash", |b| {
            b.iter(|| remembered.get(black_box(key)))
        });
        g.finish();
    }
}

criterion_group!(benches, steps);
criterion_main!(benches);
