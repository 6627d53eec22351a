//! The server's AOF loader (`aof::load_files`, what runs at startup) on an
//! arbitrary incr file: commands replayed through a real engine, truncated
//! tails cut, MULTI/EXEC, RDB preambles. Errors are fine; panics are bugs.
//!
//! `cargo +nightly fuzz run aof_loader` from crates/server.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use ferrokv_core::config::Config;
use ferrokv_core::{Engine, NoHooks};
use ferrokv_persist::aof::Manifest;
use libfuzzer_sys::fuzz_target;

const INCR: &str = "appendonly.aof.1.incr.aof";

/// One folder per fuzzing process; the file is rewritten for every input.
fn dir() -> &'static PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("ferrokv-aof-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("fuzz folder");
        d
    })
}

fuzz_target!(|data: &[u8]| {
    let d = dir();
    if std::fs::write(d.join(INCR), data).is_err() {
        return;
    }
    let Ok(manifest) = Manifest::parse(&format!("file {INCR} seq 1 type i\n")) else {
        return;
    };
    let engine = Engine::new(Config::default(), &[]);
    let _ = ferrokv_server::aof::load_files(&engine, &NoHooks, d, &manifest);
});
