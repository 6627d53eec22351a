//! `--scan [--pattern p]`: every key, one per reply line.

use std::process::ExitCode;

use ferrokv_resp::Frame;

use crate::args::Config;
use crate::output::format::{format_reply, OutputMode};
use crate::session::Fatal;

pub fn run(config: &Config, output: OutputMode) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let mut cursor = b"0".to_vec();
    // Keys print like bulk replies: quoted on a terminal, bare otherwise.
    let mode = match output {
        OutputMode::Tty => OutputMode::Tty,
        _ => OutputMode::Raw,
    };
    loop {
        let mut cmd = vec![b"SCAN".to_vec(), cursor.clone()];
        if let Some(p) = &config.pattern {
            cmd.push(b"MATCH".to_vec());
            cmd.push(p.clone());
        }
        let reply = conn
            .call(&cmd)
            .map_err(|e| Fatal::Message(format!("Error: {e}")))?;
        let (next, keys) = match reply {
            Frame::Array(mut parts) if parts.len() == 2 => {
                let keys = parts.pop();
                let next = parts.pop();
                match (next, keys) {
                    (Some(Frame::Bulk(n)), Some(Frame::Array(k))) => (n.to_vec(), k),
                    _ => return Err(Fatal::Message("Error: unexpected SCAN reply".into())),
                }
            }
            Frame::Error(e) => {
                return Err(Fatal::Message(format!(
                    "Error: {}",
                    String::from_utf8_lossy(&e)
                )))
            }
            _ => return Err(Fatal::Message("Error: unexpected SCAN reply".into())),
        };
        let mut out = Vec::new();
        for k in &keys {
            if let Ok(t) = format_reply(k, mode, b"\n") {
                out.extend_from_slice(&t);
                if mode == OutputMode::Raw {
                    out.push(b'\n');
                }
            }
        }
        use std::io::Write;
        let mut so = std::io::stdout().lock();
        if so.write_all(&out).and_then(|_| so.flush()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        cursor = next;
        if cursor == b"0" {
            return Ok(ExitCode::SUCCESS);
        }
        if !config.interval.is_zero() {
            std::thread::sleep(config.interval);
        }
    }
}
