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

pub fn run(config: &Config, output: OutputMode) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let history = config.mode == Mode::LatencyHistory;
    let dist = config.mode == Mode::LatencyDist;
    // Not on a terminal, or asked for raw/CSV: sample once for the interval and print
    // one line.
    let one_shot = output != OutputMode::Tty;
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
        match conn.call(&[b"PING".to_vec()]) {
            Ok(f) if f.is_error() => {
                return Err(Fatal::Message(format!(
                    "\nI/O error\n{}",
                    String::from_utf8_lossy(f.as_bytes().unwrap_or_default())
                )))
            }
            Ok(_) => {}
            Err(e) => return Err(Fatal::Message(format!("\nI/O error\nError: {e}"))),
        }
        let ms = t0.elapsed().as_millis() as u64;
        window.add(ms);
        if one_shot {
            if started.elapsed() >= interval {
                let sep = if output == OutputMode::Csv { "," } else { " " };
                let _ = writeln!(
                    out,
                    "{}{sep}{}{sep}{:.2}{sep}{}",
                    window.min.unwrap_or(0),
                    window.max,
                    window.avg(),
                    window.count
                );
                return Ok(ExitCode::SUCCESS);
            }
        } else if dist {
            // The spectrum needs a 256-colour terminal; a plain rolling line is shown.
            let _ = write!(out, "\x1b[0G\x1b[2K{}", window.line());
        } else {
            let _ = write!(out, "\x1b[0G\x1b[2K{}", window.line());
            if history && started.elapsed() >= interval {
                let _ = writeln!(
                    out,
                    " -- {:.2} seconds range",
                    started.elapsed().as_secs_f64()
                );
                window = Window::default();
                started = Instant::now();
            }
        }
        if out.flush().is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(SAMPLE_GAP);
    }
}
