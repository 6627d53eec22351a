//! oom-score-adj: the process's /proc/self/oom_score_adj follows the role, as
//! Redis's setOOMScoreAdj. With `relative` (or `yes`) the class's value is added
//! to the score the process had before ferrokv first changed it; `absolute` sets
//! it; `no` puts the original score back. The background-child class (the third
//! value) has no process here: ferrokv saves without forking.

use parking_lot::Mutex;

use ferrokv_core::config::Config;

/// The score before ferrokv first changed it, while it is in control.
static BASE: Mutex<Option<i64>> = Mutex::new(None);

const PROC_FILE: &str = "/proc/self/oom_score_adj";

/// Applies the configuration for a master (`replica` false) or a replica. Errors
/// are logged and returned as CONFIG SET reports them.
pub fn apply(cfg: &Config, replica: bool) -> Result<(), String> {
    let mode = cfg.string_named("oom-score-adj");
    let mut base = BASE.lock();
    let value = if mode != "no" {
        let b = match *base {
            Some(b) => b,
            None => {
                let read = std::fs::read_to_string(PROC_FILE).map_err(|e| {
                    tracing::warn!("Unable to read oom_score_adj: {}", strerror(&e));
                    "Failed to set current oom_score_adj. Check server logs.".to_string()
                })?;
                let b = read.trim().parse::<i64>().unwrap_or(0);
                *base = Some(b);
                b
            }
        };
        let values: Vec<i64> = cfg
            .string_named("oom-score-adj-values")
            .split_whitespace()
            .filter_map(|w| w.parse().ok())
            .collect();
        let own = values.get(usize::from(replica)).copied().unwrap_or(0);
        let v = if mode == "absolute" { own } else { own + b };
        v.clamp(-1000, 1000)
    } else if let Some(b) = base.take() {
        b
    } else {
        return Ok(());
    };
    std::fs::write(PROC_FILE, format!("{value}\n")).map_err(|e| {
        tracing::warn!("Unable to write oom_score_adj: {}", strerror(&e));
        "Failed to set current oom_score_adj. Check server logs.".to_string()
    })
}

/// strerror's text, as Redis logs it (without Rust's "(os error N)").
fn strerror(e: &std::io::Error) -> String {
    let text = e.to_string();
    text.split(" (os error").next().unwrap_or(&text).to_string()
}
