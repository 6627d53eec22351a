//! `--latency`, `--latency-history`, `--latency-dist`: PING in a loop and report the
//! round trips in milliseconds.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use crate::args::{Config, Mode};
use crate::output::format::OutputMode;
use crate::session::Fatal;

/// Time between two samples, as redis-cli waits.
const SAMPLE_GAP: Duration = Duration::from_millis(10);

#[derive(Default)]
struct Window {
    min: Option<u64>,
    max: u64,
    total: u64,
    count: u64,
}

impl Window {
    fn add(&mut self, ms: u64) {
        self.min = Some(self.min.map_or(ms, |m| m.min(ms)));
        self.max = self.max.max(ms);
        self.total += ms;
        self.count += 1;
    }

    fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.total as f64 / self.count as f64
        }
    }

    fn line(&self) -> String {
        format!(
            "min: {}, max: {}, avg: {:.2} ({} samples)",
            self.min.unwrap_or(0),
            self.max,
            self.avg(),
            self.count
        )
    }
}

fn ping(conn: &mut crate::connection::Connection) -> Result<(), Fatal> {
    match conn.call(&[b"PING".to_vec()]) {
        Ok(f) if f.is_error() => Err(Fatal::Message(format!(
            "\nI/O error\n{}",
            String::from_utf8_lossy(f.as_bytes().unwrap_or_default())
        ))),
        Ok(_) => Ok(()),
        Err(e) => Err(Fatal::Message(format!("\nI/O error\nError: {e}"))),
    }
}

/// One min/max/avg/count line in the output's form (no newline on a terminal,
/// where the line is rewritten in place).
fn window_line(window: &Window, output: OutputMode) -> String {
    let (min, max, avg, n) = (
        window.min.unwrap_or(0),
        window.max,
        window.avg(),
        window.count,
    );
    match output {
        OutputMode::Tty => window.line(),
        OutputMode::Csv => format!("{min},{max},{avg:.2},{n}\n"),
        _ => format!("{min} {max} {avg:.2} {n}\n"),
    }
}

pub fn run(config: &Config, output: OutputMode) -> Result<ExitCode, Fatal> {
    if config.mode == Mode::LatencyDist {
        return run_dist(config);
    }
    let mut conn = super::connect(config)?;
    let history = config.mode == Mode::LatencyHistory;
    let tty = output == OutputMode::Tty;
    let interval = if !config.interval.is_zero() {
        config.interval
    } else if history {
        Duration::from_secs(15)
    } else {
        Duration::from_secs(1)
    };
    let mut out = std::io::stdout().lock();
    let mut window = Window::default();
    let mut started = Instant::now();
    loop {
        let t0 = Instant::now();
        ping(&mut conn)?;
        window.add(t0.elapsed().as_millis() as u64);
        if tty {
            let _ = write!(out, "\x1b[0G\x1b[2K{}", window_line(&window, output));
        } else if history {
            // Not on a terminal, --latency-history prints every sample's running line.
            let _ = write!(out, "{}", window_line(&window, output));
        } else if started.elapsed() >= interval {
            // Plain --latency off a terminal: one line after the interval, then exit.
            let _ = write!(out, "{}", window_line(&window, output));
            let _ = out.flush();
            return Ok(ExitCode::SUCCESS);
        }
        if history && started.elapsed() >= interval {
            let _ = writeln!(
                out,
                " -- {:.2} seconds range",
                started.elapsed().as_secs_f64()
            );
            window = Window::default();
            started = Instant::now();
        }
        if out.flush().is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(SAMPLE_GAP);
    }
}

/// The xterm-256 background colours of the spectrum, from 0% to 100% of samples.
const PALETTE: [u8; 19] = [
    0, 233, 234, 235, 237, 239, 241, 243, 245, 247, 144, 143, 142, 184, 226, 214, 208, 202, 196,
];

/// Latency buckets of the spectrum: upper bound in microseconds (0 = anything
/// larger) and the character that stands for it.
const BUCKETS: [(u64, u8); 31] = [
    (10, b'.'),
    (125, b'-'),
    (250, b'*'),
    (500, b'#'),
    (1_000, b'1'),
    (2_000, b'2'),
    (3_000, b'3'),
    (4_000, b'4'),
    (5_000, b'5'),
    (6_000, b'6'),
    (7_000, b'7'),
    (8_000, b'8'),
    (9_000, b'9'),
    (10_000, b'A'),
    (20_000, b'B'),
    (30_000, b'C'),
    (40_000, b'D'),
    (50_000, b'E'),
    (100_000, b'F'),
    (200_000, b'G'),
    (300_000, b'H'),
    (400_000, b'I'),
    (500_000, b'J'),
    (1_000_000, b'K'),
    (2_000_000, b'L'),
    (4_000_000, b'M'),
    (8_000_000, b'N'),
    (16_000_000, b'O'),
    (30_000_000, b'P'),
    (60_000_000, b'Q'),
    (0, b'?'),
];

fn dist_legend() -> String {
    let mut s = String::from(
        "---------------------------------------------\n\
         . - * #          .01 .125 .25 .5 milliseconds\n\
         1,2,3,...,9      from 1 to 9     milliseconds\n\
         A,B,C,D,E        10,20,30,40,50  milliseconds\n\
         F,G,H,I,J        .1,.2,.3,.4,.5       seconds\n\
         K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds\n\
         From 0 to 100%: ",
    );
    for c in PALETTE {
        s.push_str(&format!("\x1b[48;5;{c}m "));
    }
    s.push_str("\x1b[0m\n---------------------------------------------\n");
    s
}

/// One spectrum line: each bucket's character on a background whose intensity is
/// the bucket's share of the samples.
fn dist_line(counts: &[u64; BUCKETS.len()], total: u64) -> String {
    let mut s = String::from("\x1b[38;5;0m");
    for (i, (_, ch)) in BUCKETS.iter().enumerate() {
        let share = counts[i] as f64 / total.max(1) as f64;
        let idx = ((share * (PALETTE.len() - 1) as f64).ceil() as usize).min(PALETTE.len() - 1);
        s.push_str(&format!("\x1b[48;5;{}m{}", PALETTE[idx], *ch as char));
    }
    s.push_str("\x1b[0m\n");
    s
}

/// `--latency-dist`: a coloured spectrum of PING latencies per interval (default
/// one second), with the legend every 20 lines, as redis-cli draws it.
fn run_dist(config: &Config) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let interval = if config.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        config.interval
    };
    let mut out = std::io::stdout().lock();
    let mut counts = [0u64; BUCKETS.len()];
    let mut total = 0u64;
    let mut outputs = 0u64;
    let mut started = Instant::now();
    loop {
        let t0 = Instant::now();
        ping(&mut conn)?;
        let us = t0.elapsed().as_micros() as u64;
        let bucket = BUCKETS
            .iter()
            .position(|&(max, _)| max == 0 || us <= max)
            .unwrap_or(BUCKETS.len() - 1);
        counts[bucket] += 1;
        total += 1;
        if started.elapsed() > interval {
            if outputs.is_multiple_of(20) {
                let _ = write!(out, "{}", dist_legend());
            }
            outputs += 1;
            let _ = write!(out, "{}", dist_line(&counts, total));
            if out.flush().is_err() {
                return Ok(ExitCode::SUCCESS);
            }
            counts = [0; BUCKETS.len()];
            total = 0;
            started = Instant::now();
        }
        std::thread::sleep(SAMPLE_GAP);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spectrum_line_colours_by_share() {
        let mut counts = [0u64; BUCKETS.len()];
        counts[1] = 3;
        counts[0] = 1;
        let line = dist_line(&counts, 4);
        assert!(line.starts_with("\x1b[38;5;0m\x1b[48;5;239m.\x1b[48;5;226m-\x1b[48;5;0m*"));
        assert!(line.ends_with("\x1b[48;5;0m?\x1b[0m\n"));
    }

    #[test]
    fn legend_has_every_palette_colour() {
        let l = dist_legend();
        assert_eq!(l.matches("\x1b[48;5;").count(), PALETTE.len());
        assert!(l.contains("K,L,M,N,O,P,Q,?  1,2,4,8,16,30,60,>60 seconds\n"));
    }
}
