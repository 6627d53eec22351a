//! `cargo xtask bench streams`: stream commands of ferrokv (`--threads 1`) against
//! redis-server, side by side in one run, one core each, as `bench pubsub` runs
//! them (server on core 0, load on core 1, rounds alternating A B A B, medians).
//!
//! Scenarios, each at pipeline 1 and 16:
//! - `XADD` of a five-field entry with `*` IDs, and the same with `MAXLEN ~ 1000`
//!   (redis-benchmark, 50 connections);
//! - `XRANGE` of 10 and of 100 entries from a random start in a stream of
//!   100,000 five-field entries (redis-benchmark);
//! - `XREADGROUP + XACK`: a stream of five-field entries consumed by
//!   [`CONSUMERS`] connections of one group, each sending `PIPELINE` times
//!   `XREADGROUP ... COUNT 1 STREAMS s >`, then the `XACK`s of the IDs received;
//!   messages consumed and acknowledged per second.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::time::Instant;

use crate::pubsub_bench::{
    benchmark, build_and_pin_self, connect, ferrokv_target, median, redis_target, resp, start,
    table,
};
use crate::util::Result;

const CONSUMERS: usize = 8;
const FIELDS: [&str; 10] = [
    "user",
    "user:__rand_int__",
    "action",
    "click",
    "amount",
    "12345",
    "ts",
    "1700000000000",
    "payload",
    "0123456789abcdef",
];

struct Options {
    seconds: f64,
    rounds: usize,
    out: Option<String>,
    only: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        seconds: 1.0,
        rounds: 3,
        out: None,
        only: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().cloned().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--seconds" => o.seconds = value()?.parse().map_err(|_| "--seconds N")?,
            "--rounds" => o.rounds = value()?.parse().map_err(|_| "--rounds N")?,
            "--out" => o.out = Some(value()?),
            "--only" => o.only = value()?.split(',').map(String::from).collect(),
            other => return Err(format!("bench streams: unknown option {other}")),
        }
    }
    Ok(o)
}

/// Reads one reply, collecting its bulk strings (flattened) into `bulks`.
fn read_reply(r: &mut BufReader<TcpStream>, bulks: &mut Vec<Vec<u8>>) -> Result {
    let mut line = Vec::new();
    r.read_until(b'\n', &mut line).map_err(|e| e.to_string())?;
    if line.len() < 3 {
        return Err("connection closed".into());
    }
    let n: i64 = std::str::from_utf8(&line[1..line.len() - 2])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match line[0] {
        b'*' => {
            for _ in 0..n.max(0) {
                read_reply(r, bulks)?;
            }
        }
        b'$' if n >= 0 => {
            let mut b = vec![0u8; n as usize + 2];
            std::io::Read::read_exact(r, &mut b).map_err(|e| e.to_string())?;
            b.truncate(n as usize);
            bulks.push(b);
        }
        b'-' => return Err(String::from_utf8_lossy(&line).into_owned()),
        _ => {}
    }
    Ok(())
}

/// Adds `n` five-field entries with IDs `1-0` .. `n-0` to stream `s`.
fn fill(port: u16, n: usize) -> Result {
    let c = connect(port)?;
    let mut w = c.try_clone().map_err(|e| e.to_string())?;
    let mut r = BufReader::new(c);
    let mut bulks = Vec::new();
    for chunk in (1..=n).collect::<Vec<_>>().chunks(1000) {
        let mut batch = Vec::new();
        for i in chunk {
            let id = format!("{i}-0");
            let user = format!("user:{i}");
            let mut args = vec!["XADD", "s", &id];
            args.extend(FIELDS);
            args[4] = &user;
            batch.extend(resp(&args));
        }
        w.write_all(&batch).map_err(|e| e.to_string())?;
        for _ in chunk {
            read_reply(&mut r, &mut bulks)?;
        }
    }
    Ok(())
}

/// XREADGROUP + XACK: consumes a stream of `entries` entries with
/// [`CONSUMERS`] connections pipelining `pipeline` reads then their acks;
/// messages per second.
fn consume(port: u16, seconds: f64, pipeline: usize) -> Result<f64> {
    // Enough entries for about `seconds` at a generous rate.
    let entries = ((seconds * 60_000.0) as usize * if pipeline > 1 { 4 } else { 1 }).max(20_000);
    fill(port, entries)?;
    let mut c = connect(port)?;
    c.write_all(&resp(&["XGROUP", "CREATE", "s", "g", "0"]))
        .map_err(|e| e.to_string())?;
    read_reply(&mut BufReader::new(c), &mut Vec::new())?;
    let start = Instant::now();
    let mut threads = Vec::new();
    for k in 0..CONSUMERS {
        let c = connect(port)?;
        threads.push(std::thread::spawn(move || -> Result<usize> {
            let mut w = c.try_clone().map_err(|e| e.to_string())?;
            let mut r = BufReader::new(c);
            let name = format!("c{k}");
            let read = resp(&[
                "XREADGROUP",
                "GROUP",
                "g",
                &name,
                "COUNT",
                "1",
                "STREAMS",
                "s",
                ">",
            ]);
            let batch: Vec<u8> = (0..pipeline).flat_map(|_| read.clone()).collect();
            let mut done = 0;
            loop {
                w.write_all(&batch).map_err(|e| e.to_string())?;
                let mut ids = Vec::new();
                for _ in 0..pipeline {
                    let mut bulks = Vec::new();
                    read_reply(&mut r, &mut bulks)?;
                    if let Some(id) = bulks.get(1) {
                        ids.push(String::from_utf8_lossy(id).into_owned());
                    }
                }
                if ids.is_empty() {
                    return Ok(done);
                }
                let acks: Vec<u8> = ids
                    .iter()
                    .flat_map(|id| resp(&["XACK", "s", "g", id]))
                    .collect();
                w.write_all(&acks).map_err(|e| e.to_string())?;
                for _ in &ids {
                    read_reply(&mut r, &mut Vec::new())?;
                }
                done += ids.len();
            }
        }));
    }
    let mut total = 0;
    for t in threads {
        total += t.join().map_err(|_| "consumer panicked")??;
    }
    if total != entries {
        return Err(format!("consumed {total} of {entries} entries"));
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

type Scenario = (String, Box<dyn Fn(u16, f64) -> Result<f64>>);

/// redis-benchmark sizes a run as `seconds` x 100,000 x pipeline requests; the
/// slower commands get a share of that so one run stays near `seconds`.
fn share(seconds: f64, weight: f64, pipeline: usize) -> f64 {
    seconds * weight / if pipeline > 1 { 4.0 } else { 1.0 }
}

fn scenarios() -> Vec<Scenario> {
    let mut v: Vec<Scenario> = Vec::new();
    for pipeline in [1, 16] {
        v.push((
            format!("XADD P{pipeline} rps"),
            Box::new(move |p, s| {
                let mut cmd = vec!["XADD", "s", "*"];
                cmd.extend(FIELDS);
                benchmark(p, share(s, 1.0, pipeline), pipeline, &cmd)
            }),
        ));
        v.push((
            format!("XADD MAXLEN ~ 1000 P{pipeline} rps"),
            Box::new(move |p, s| {
                let mut cmd = vec!["XADD", "s", "MAXLEN", "~", "1000", "*"];
                cmd.extend(FIELDS);
                benchmark(p, share(s, 1.0, pipeline), pipeline, &cmd)
            }),
        ));
        for (count, weight) in [("10", 0.5), ("100", 0.1)] {
            v.push((
                format!("XRANGE COUNT {count} P{pipeline} rps"),
                Box::new(move |p, s| {
                    fill(p, 100_000)?;
                    benchmark(
                        p,
                        share(s, weight, pipeline),
                        pipeline,
                        &["XRANGE", "s", "__rand_int__", "+", "COUNT", count],
                    )
                }),
            ));
        }
        v.push((
            format!("XREADGROUP + XACK P{pipeline} msgs/s"),
            Box::new(move |p, s| consume(p, s, pipeline)),
        ));
    }
    v
}

pub fn main(args: &[String]) -> Result {
    let o = parse(args)?;
    let server = build_and_pin_self()?;
    let targets = [redis_target(), ferrokv_target(&server, 1, true)];
    let mut rows = Vec::new();
    for (name, f) in scenarios() {
        if !o.only.is_empty() && !o.only.iter().any(|k| name.starts_with(k.as_str())) {
            continue;
        }
        let mut samples: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
        for round in 0..o.rounds {
            for (i, t) in targets.iter().enumerate() {
                let server = start(t)?;
                let v = f(server.port, o.seconds)?;
                eprintln!("  {name} round {round} {}: {v:.0}", t.name);
                samples[i].push(v);
            }
        }
        rows.push((name, samples.into_iter().map(median).collect()));
    }
    let report = format!(
        "Streams, one core each (rounds {}, {} s per run, median; redis-benchmark -c 50 for \
         XADD/XRANGE, {CONSUMERS} consumer connections for XREADGROUP + XACK):\n\n{}",
        o.rounds,
        o.seconds,
        table(&targets, &rows)
    );
    println!("{report}");
    if let Some(path) = &o.out {
        std::fs::write(path, &report).map_err(|e| format!("{path}: {e}"))?;
    }
    Ok(())
}
