//! `--intrinsic-latency <seconds>`: how long this machine stalls a busy process (no
//! server involved): the largest gap between two clock reads in a tight loop.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::session::Fatal;

pub fn run(seconds: i64) -> Result<ExitCode, Fatal> {
    let limit = Duration::from_secs(seconds.max(0) as u64);
    let mut out = std::io::stdout().lock();
    let start = Instant::now();
    let mut last = start;
    let (mut runs, mut max_us) = (0u64, 0u64);
    loop {
        let now = Instant::now();
        let gap = now.duration_since(last).as_micros() as u64;
        last = now;
        runs += 1;
        if gap > max_us {
            max_us = gap;
            let _ = writeln!(out, "Max latency so far: {max_us} microseconds.");
            let _ = out.flush();
        }
        if now.duration_since(start) >= limit {
            break;
        }
    }
    let total_us = last.duration_since(start).as_micros() as f64;
    let avg_us = if seconds <= 0 {
        0.0
    } else {
        total_us / runs as f64
    };
    let _ = writeln!(
        out,
        "\n{runs} total runs (avg latency: {avg_us:.4} microseconds / {:.2} nanoseconds per run).",
        avg_us * 1000.0
    );
    // With no measurable average the ratio is infinite, as printf says it.
    let worst = if avg_us == 0.0 {
        f64::INFINITY
    } else {
        max_us as f64 / avg_us
    };
    let _ = writeln!(
        out,
        "Worst run took {worst:.0}x longer than the average latency."
    );
    Ok(ExitCode::SUCCESS)
}
