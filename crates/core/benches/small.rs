//! Commands on listpack-sized collections (5 fields / members) through the
//! in-process engine, on 10k keys of each type: what the compact encodings cost per
//! read and write. Uses only the engine's public entry points so the same file
//! measures older revisions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrokv_core::client::Client;
use ferrokv_core::config::Config;
use ferrokv_core::hooks::NoHooks;
use ferrokv_core::Engine;
use ferrokv_resp::{Protocol, ReplyBuf};

const KEYS: usize = 10_000;

fn exec(e: &Engine, c: &mut Client, out: &mut ReplyBuf, args: &[&[u8]]) {
    out.buffer_mut().clear();
    e.execute(c, args, out, &NoHooks);
    black_box(out.as_bytes());
}

fn small(cr: &mut Criterion) {
    let e = Engine::new(Config::default(), &[]);
    let mut c = Client::new(1, true);
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let key = |t: &str, i: usize| format!("{t}:{i}").into_bytes();
    let (hk, zk, sk): (Vec<_>, Vec<_>, Vec<_>) = (
        (0..KEYS).map(|i| key("hash", i)).collect(),
        (0..KEYS).map(|i| key("zset", i)).collect(),
        (0..KEYS).map(|i| key("set", i)).collect(),
    );
    for i in 0..KEYS {
        let v = format!("val:{i}").into_bytes();
        let mut args: Vec<&[u8]> = vec![b"HSET", &hk[i]];
        let fields: Vec<Vec<u8>> = (1..=5).map(|j| format!("field{j}").into_bytes()).collect();
        for f in &fields {
            args.push(f);
            args.push(&v);
        }
        exec(&e, &mut c, &mut out, &args);
        let members: Vec<Vec<u8>> = (1..=5)
            .map(|j| format!("member:{j}").into_bytes())
            .collect();
        let scores: Vec<Vec<u8>> = (1..=5)
            .map(|j| ((i * 7 + j) % 10000).to_string().into_bytes())
            .collect();
        let mut args: Vec<&[u8]> = vec![b"ZADD", &zk[i]];
        for (s, m) in scores.iter().zip(&members) {
            args.push(s);
            args.push(m);
        }
        exec(&e, &mut c, &mut out, &args);
        let mut args: Vec<&[u8]> = vec![b"SADD", &sk[i]];
        args.extend(members.iter().map(Vec::as_slice));
        exec(&e, &mut c, &mut out, &args);
    }
    let mut g = cr.benchmark_group("small");
    let mut i = 0usize;
    let mut next = || {
        i = (i + 7919) % KEYS;
        i
    };
    g.bench_function("HSET update", |b| {
        b.iter(|| {
            exec(
                &e,
                &mut c,
                &mut out,
                &[b"HSET", &hk[next()], b"field3", b"val:x"],
            )
        })
    });
    g.bench_function("HGET", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"HGET", &hk[next()], b"field4"]))
    });
    g.bench_function("HSET+DEL new key", |b| {
        b.iter(|| {
            exec(
                &e,
                &mut c,
                &mut out,
                &[b"HSET", b"tmp", b"a", b"1", b"b", b"2", b"c", b"3"],
            );
            exec(&e, &mut c, &mut out, &[b"DEL", b"tmp"]);
        })
    });
    g.bench_function("ZADD update", |b| {
        let mut s = 0u32;
        b.iter(|| {
            s = (s + 1) % 10000;
            let sc = s.to_string();
            exec(
                &e,
                &mut c,
                &mut out,
                &[b"ZADD", &zk[next()], sc.as_bytes(), b"member:3"],
            )
        })
    });
    g.bench_function("ZSCORE", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"ZSCORE", &zk[next()], b"member:4"]))
    });
    g.bench_function("ZRANGE 0 -1", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"ZRANGE", &zk[next()], b"0", b"-1"]))
    });
    g.bench_function("SADD existing", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"SADD", &sk[next()], b"member:2"]))
    });
    g.bench_function("SISMEMBER", |b| {
        b.iter(|| {
            exec(
                &e,
                &mut c,
                &mut out,
                &[b"SISMEMBER", &sk[next()], b"member:5"],
            )
        })
    });
    g.bench_function("SISMEMBER miss", |b| {
        b.iter(|| {
            exec(
                &e,
                &mut c,
                &mut out,
                &[b"SISMEMBER", &sk[next()], b"member:9"],
            )
        })
    });
    g.bench_function("SADD+SREM", |b| {
        b.iter(|| {
            let k = &sk[next()];
            exec(&e, &mut c, &mut out, &[b"SADD", k, b"extra"]);
            exec(&e, &mut c, &mut out, &[b"SREM", k, b"extra"]);
        })
    });
    g.finish();
}

criterion_group!(benches, small);
criterion_main!(benches);
