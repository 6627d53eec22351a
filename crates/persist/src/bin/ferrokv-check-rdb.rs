//! `ferrokv-check-rdb <file>`: reads an RDB file the way the server loads it and
//! reports what it holds, or where and why it is broken (like redis-check-rdb).
//! Exit status 0 when the file loads, 1 otherwise.

use std::io::{BufReader, Write};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrokv_persist::rdb::check::report_rdb;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path] = args.as_slice() else {
        eprintln!("Usage: ferrokv-check-rdb <rdb-file-name>");
        return ExitCode::from(1);
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            println!("[offset 0] Checking RDB file {path}");
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset 0] Cannot open RDB file: {e}");
            return ExitCode::from(1);
        }
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let reader = BufReader::with_capacity(1 << 16, file);
    let sane = report_rdb(reader, path.as_bytes(), now_ms, &mut out);
    let _ = out.flush();
    match sane {
        Ok(Some(_)) => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    }
}
