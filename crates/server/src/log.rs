//! Logging through tracing, with Redis's `loglevel` names mapped onto tracing levels
//! (debug -> TRACE, verbose -> DEBUG, notice -> INFO, warning -> WARN).

use std::sync::OnceLock;

use tracing_subscriber::{filter::LevelFilter, reload, EnvFilter, Registry};

type Handle = reload::Handle<LevelFilter, Registry>;
static HANDLE: OnceLock<Handle> = OnceLock::new();

fn level(name: &str) -> LevelFilter {
    match name {
        "debug" => LevelFilter::TRACE,
        "verbose" => LevelFilter::DEBUG,
        "warning" => LevelFilter::WARN,
        _ => LevelFilter::INFO,
    }
}

/// Starts logging at `loglevel` to stdout, or appending to `logfile` if not empty.
pub fn init(loglevel: &str, logfile: &str) -> std::io::Result<()> {
    use tracing_subscriber::prelude::*;
    let (filter, handle) = reload::Layer::new(level(loglevel));
    let _ = HANDLE.set(handle);
    let env = EnvFilter::try_from_env("FERROKV_LOG").ok();
    let fmt = tracing_subscriber::fmt::layer().with_target(false);
    if logfile.is_empty() {
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(env)
            .with(fmt)
            .try_init();
    } else {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(logfile)?;
        let fmt = fmt
            .with_ansi(false)
            .with_writer(std::sync::Mutex::new(file));
        let _ = tracing_subscriber::registry()
            .with(filter)
            .with(env)
            .with(fmt)
            .try_init();
    }
    Ok(())
}

/// Changes the level (CONFIG SET loglevel).
pub fn set_level(loglevel: &str) {
    if let Some(h) = HANDLE.get() {
        let _ = h.modify(|f| *f = level(loglevel));
    }
}
