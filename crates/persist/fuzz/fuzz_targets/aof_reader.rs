//! The AOF reading code on arbitrary bytes: the loader's command reader to the
//! end, the manifest parser, and ferrokv-check-aof's analysis of a file (with
//! and without `--fix`, and with `--truncate-to-timestamp`). Errors are fine;
//! panics, hangs and unbounded allocations are bugs.
//!
//! `cargo +nightly fuzz run aof_reader` from crates/persist.
#![no_main]

use ferrokv_persist::aof::check::{check_bytes, Mode};
use ferrokv_persist::aof::{CommandReader, Manifest, Step};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut r = CommandReader::new(data);
    loop {
        let before = r.offset();
        match r.next_step() {
            Step::Command(_) => assert!(r.offset() > before, "reader did not advance"),
            Step::End | Step::Truncated { .. } | Step::Corrupt { .. } => break,
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(m) = Manifest::parse(text) {
            // What we write must read back the same. Not for a manifest of
            // comments alone (no file): it writes as empty text, which Redis, as
            // we do, refuses as "Found an empty AOF manifest"; neither ever
            // writes such a manifest (regressions/aof_reader holds the input).
            if m != Manifest::default() {
                assert_eq!(Manifest::parse(&m.to_text()).as_ref(), Ok(&m));
            }
        }
    }
    let mut sink = std::io::sink();
    for (mode, answer) in [
        (Mode::Check, &b""[..]),
        (Mode::Fix, b"y"),
        (Mode::TruncateToTimestamp(1_700_000_000), b""),
    ] {
        let mut file = data.to_vec();
        let code = check_bytes(&mut file, mode, answer, 0, &mut sink);
        assert!(code == 0 || code == 1);
        assert!(file.len() <= data.len());
        assert_eq!(&data[..file.len()], &file[..]);
        // A file cut by --fix checks clean afterwards.
        if mode == Mode::Fix && code == 0 && file.len() < data.len() && !file.is_empty() {
            let mut again = file.clone();
            assert_eq!(check_bytes(&mut again, Mode::Check, b"", 0, &mut sink), 0);
        }
    }
});
