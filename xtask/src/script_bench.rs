//! `cargo xtask bench scripting`: EVALSHA and FCALL throughput of ferrokv against
//! redis-server, side by side in one run (the pinning, alternation and medians of
//! `bench pubsub`: each server on one core, redis-benchmark on the other).
//!
//! Workloads (redis-benchmark requests per second, pipeline 1 and 16, 50 clients,
//! keys drawn from 100,000):
//! - `EVALSHA return 1`: the cost of starting and finishing a script;
//! - `EVALSHA 1 INCR`: a script doing one INCR of its declared key;
//! - `EVALSHA 10 commands`: a read-modify-write of ten commands on keys the script
//!   builds from its declared key (HSET/HINCRBY/EXPIRE/GET/INCRBY ...);
//! - `FCALL 1 INCR`: the same single INCR as a function.

use std::io::{Read, Write};

use crate::pubsub_bench::{
    benchmark, build_and_pin_self, connect, ferrokv_target, median, redis_target, resp, start,
    table,
};
use crate::util::Result;

const RETURN_1: &str = "return 1";
const INCR: &str = "return redis.call('incr', KEYS[1])";
const TEN: &str = "local k = KEYS[1]
redis.call('set', k, 'v')
redis.call('get', k)
redis.call('hset', k .. ':h', 'f', 1)
redis.call('hincrby', k .. ':h', 'f', 2)
redis.call('hget', k .. ':h', 'f')
redis.call('incrby', k .. ':n', 3)
redis.call('expire', k .. ':n', 100)
redis.call('ttl', k .. ':n')
redis.call('exists', k, k .. ':h')
return redis.call('get', k .. ':n')";
const LIBRARY: &str = "#!lua name=bench
redis.register_function('bump', function(keys) return redis.call('incr', keys[1]) end)";

/// Loads the scripts and the library; returns the shas (same on every server).
fn prepare(port: u16) -> Result<Vec<String>> {
    let mut c = connect(port)?;
    let mut shas = Vec::new();
    for s in [RETURN_1, INCR, TEN] {
        c.write_all(&resp(&["SCRIPT", "LOAD", s]))
            .map_err(|e| e.to_string())?;
        let mut buf = [0u8; 64];
        let n = c.read(&mut buf).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&buf[..n]);
        let sha = text.lines().nth(1).unwrap_or_default().to_string();
        if sha.len() != 40 {
            return Err(format!("SCRIPT LOAD replied {text:?}"));
        }
        shas.push(sha);
    }
    c.write_all(&resp(&["FUNCTION", "LOAD", "REPLACE", LIBRARY]))
        .map_err(|e| e.to_string())?;
    let mut buf = [0u8; 64];
    c.read(&mut buf).map_err(|e| e.to_string())?;
    Ok(shas)
}

pub fn main(args: &[String]) -> Result {
    let (mut seconds, mut rounds, mut out) = (1.5f64, 3usize, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => seconds = value()?.parse().map_err(|_| "--seconds N")?,
            "--rounds" => rounds = value()?.parse().map_err(|_| "--rounds N")?,
            "--out" => out = Some(value()?),
            other => return Err(format!("bench scripting: unknown option {other}")),
        }
    }
    let server = build_and_pin_self()?;
    let targets = [redis_target(), ferrokv_target(&server, 1, true)];
    let workloads: [(&str, usize); 4] = [
        ("EVALSHA return 1", 0),
        ("EVALSHA 1 INCR", 1),
        ("EVALSHA 10 commands", 2),
        ("FCALL 1 INCR", 3),
    ];
    let mut rows = Vec::new();
    for (name, which) in workloads {
        for pipeline in [1usize, 16] {
            let mut samples: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
            for round in 0..rounds {
                for (i, t) in targets.iter().enumerate() {
                    let s = start(t)?;
                    let shas = prepare(s.port)?;
                    let cmd: Vec<&str> = if which == 3 {
                        vec!["FCALL", "bump", "1", "key:__rand_int__"]
                    } else {
                        vec!["EVALSHA", &shas[which], "1", "key:__rand_int__"]
                    };
                    let v = benchmark(s.port, seconds, pipeline, &cmd)?;
                    eprintln!("  {name} P{pipeline} round {round} {}: {v:.0}", t.name);
                    samples[i].push(v);
                }
            }
            rows.push((
                format!("{name} P{pipeline} rps"),
                samples.into_iter().map(median).collect(),
            ));
        }
    }
    let report = format!(
        "Scripting, one core each (rounds {rounds}, {seconds} s per run, median; \
         redis-benchmark, 50 clients, keys from 100,000):\n\n{}",
        table(&targets, &rows)
    );
    println!("{report}");
    if let Some(path) = out {
        std::fs::write(&path, &report).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
