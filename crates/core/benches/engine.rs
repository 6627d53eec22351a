//! One command through the in-process engine (resolve, admission, locks, lookups,
//! reply), on a db of 100k keys: the dispatch path without the network. Uses only
//! the engine's public entry points so the same file measures older revisions.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrokv_core::client::Client;
use ferrokv_core::config::Config;
use ferrokv_core::hooks::NoHooks;
use ferrokv_core::Engine;
use ferrokv_resp::{Protocol, ReplyBuf};

const KEYS: usize = 100_000;

fn exec(e: &Engine, c: &mut Client, out: &mut ReplyBuf, args: &[&[u8]]) {
    out.buffer_mut().clear();
    e.execute(c, args, out, &NoHooks);
    black_box(out.as_bytes());
}

fn commands(cr: &mut Criterion) {
    let e = Engine::new(Config::default(), &[]);
    let mut c = Client::new(1, true);
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let names: Vec<Vec<u8>> = (0..KEYS).map(|i| format!("key:{i}").into_bytes()).collect();
    for k in &names {
        exec(&e, &mut c, &mut out, &[b"SET", k, b"value"]);
    }
    let mut g = cr.benchmark_group("engine");
    let mut i = 0usize;
    let mut next = || {
        i = (i + 7919) % KEYS;
        i
    };
    g.bench_function("GET", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"GET", &names[next()]]))
    });
    g.bench_function("SET", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"SET", &names[next()], b"value"]))
    });
    g.bench_function("INCR", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"INCR", b"counter"]))
    });
    g.bench_function("MSET x10", |b| {
        b.iter(|| {
            let ks: Vec<usize> = (0..10).map(|_| next()).collect();
            let mut args: Vec<&[u8]> = vec![b"MSET"];
            for &k in &ks {
                args.push(&names[k]);
                args.push(b"v");
            }
            exec(&e, &mut c, &mut out, &args)
        })
    });
    g.bench_function("SADD", |b| {
        b.iter(|| exec(&e, &mut c, &mut out, &[b"SADD", b"set", &names[next()]]))
    });
    g.finish();
}

criterion_group!(benches, commands);
criterion_main!(benches);
