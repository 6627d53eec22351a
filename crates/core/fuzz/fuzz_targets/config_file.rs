//! redis.conf parsing (`config::file::apply`, what runs at startup on the config
//! file and the `--name value` options) on arbitrary text, then the split into
//! words (`split_line`, Redis's sdssplitargs) on every line, then CONFIG GET of
//! everything. Errors are fine; panics are bugs.
//!
//! `cargo xtask fuzz` runs it (`cargo fuzz run config_file` from crates/core).
#![no_main]

use ferrokv_core::config::{file, Config};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    for line in text.lines() {
        let _ = file::split_line(line);
    }
    let cfg = Config::default();
    let _ = file::apply(&cfg, &text);
    let mut out = Vec::new();
    cfg.get("*", &mut out);
});
