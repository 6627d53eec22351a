//! `--stat`: a line of server figures per interval (default one second), with the
//! header again every 20 lines.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use ferrokv_resp::Frame;

use crate::args::Config;
use crate::session::Fatal;

/// A byte count the way redis-cli shortens it: `512B`, `1.06M`.
pub fn bytes_to_human(n: u64) -> String {
    let n = n as f64;
    const K: f64 = 1024.0;
    if n < K {
        format!("{}B", n as u64)
    } else if n < K * K {
        format!("{:.2}K", n / K)
    } else if n < K * K * K {
        format!("{:.2}M", n / (K * K))
    } else if n < K * K * K * K {
        format!("{:.2}G", n / (K * K * K))
    } else if n < K * K * K * K * K {
        format!("{:.2}T", n / (K * K * K * K))
    } else {
        format!("{:.2}P", n / (K * K * K * K * K))
    }
}

/// The value of `field:` in an INFO text.
fn info_field<'a>(info: &'a str, field: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .map(str::trim_end)
}

fn info_u64(info: &str, field: &str) -> u64 {
    info_field(info, field)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Keys in all databases (`db0:keys=3,expires=0,...`).
fn total_keys(info: &str) -> u64 {
    info.lines()
        .filter(|l| l.starts_with("db"))
        .filter_map(|l| {
            l.split_once("keys=")?
                .1
                .split(',')
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum()
}

pub fn run(config: &Config, _: ()) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let interval = if config.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        config.interval
    };
    let mut out = std::io::stdout().lock();
    let mut previous_requests: Option<u64> = None;
    let mut lines = 0u64;
    loop {
        let info = match conn.call(&[b"INFO".to_vec()]) {
            Ok(Frame::Bulk(b)) | Ok(Frame::Verbatim { data: b, .. }) => {
                String::from_utf8_lossy(&b).into_owned()
            }
            Ok(Frame::Error(e)) => {
                return Err(Fatal::Message(format!(
                    "ERROR: {}",
                    String::from_utf8_lossy(&e)
                )))
            }
            Ok(_) => String::new(),
            Err(e) => return Err(Fatal::Message(format!("Error: {e}"))),
        };
        if lines.is_multiple_of(20) {
            let _ = writeln!(
                out,
                "------- data ------ --------------------- load -------------------- - child -"
            );
            let _ = writeln!(
                out,
                "keys       mem      clients blocked requests            connections          "
            );
        }
        lines += 1;
        let requests = info_u64(&info, "total_commands_processed");
        let delta = previous_requests.map_or(0, |p| requests.saturating_sub(p));
        previous_requests = Some(requests);
        let child = if info_u64(&info, "rdb_bgsave_in_progress") == 1 {
            "SAVE"
        } else if info_u64(&info, "aof_rewrite_in_progress") == 1 {
            "AOF"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{:<11}{:<9}{:<8}{:<8}{:<20}{:<12}{child}",
            total_keys(&info),
            bytes_to_human(info_u64(&info, "used_memory")),
            info_u64(&info, "connected_clients"),
            info_u64(&info, "blocked_clients"),
            format!("{requests} (+{delta})"),
            info_u64(&info, "total_connections_received"),
        );
        if out.flush().is_err() {
            return Ok(ExitCode::SUCCESS);
        }
        std::thread::sleep(interval);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes_to_human(512), "512B");
        assert_eq!(bytes_to_human(1_111_000), "1.06M");
    }

    #[test]
    fn info_parsing() {
        let info = "# Keyspace\r\ndb0:keys=3,expires=0,avg_ttl=0\r\ndb2:keys=4,expires=0\r\nconnected_clients:2\r\n";
        assert_eq!(total_keys(info), 7);
        assert_eq!(info_u64(info, "connected_clients"), 2);
    }
}
