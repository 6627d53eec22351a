//! `ferrokv-check-aof [--fix|--truncate-to-timestamp $timestamp]
//! <file.manifest|file.aof>`: checks (and with `--fix` repairs) an append-only
//! file exactly as redis-check-aof 7.0 does; see [`ferrokv_persist::aof::check`].

use std::os::unix::ffi::OsStringExt;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrokv_persist::aof::check::{run, Env};

fn main() -> ExitCode {
    let args: Vec<Vec<u8>> = std::env::args_os().map(|a| a.into_vec()).collect();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let code = run(
        &args,
        Env {
            out: &mut out,
            stdin: &mut input,
            now_ms,
            pid: std::process::id(),
        },
    );
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
