//! `ferrokv-check-rdb <file>`: reads an RDB file the way the server loads it and
//! reports what it holds, or where and why it is broken (like redis-check-rdb).
//! Exit status 0 when the file loads, 1 otherwise.

use std::io::BufReader;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use ferrokv_persist::{RdbReader, Record};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let [_, path] = args.as_slice() else {
        eprintln!("Usage: ferrokv-check-rdb <rdb-file-name>");
        return ExitCode::from(1);
    };
    println!("[offset 0] Checking RDB file {path}");
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            println!("--- RDB ERROR DETECTED ---");
            println!("[offset 0] Cannot open RDB file: {e}");
            return ExitCode::from(1);
        }
    };
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    let (mut keys, mut expires, mut expired) = (0u64, 0u64, 0u64);
    let mut reader = match RdbReader::new(BufReader::with_capacity(1 << 16, file)) {
        Ok(r) => r,
        Err(e) => return report(&e),
    };
    println!(
        "[offset {}] RDB version {}",
        reader.offset(),
        reader.version()
    );
    loop {
        match reader.next_record() {
            Ok(None) => break,
            Ok(Some(Record::Aux(k, v))) => println!(
                "[offset {}] AUX FIELD {} = '{}'",
                reader.offset(),
                String::from_utf8_lossy(&k),
                String::from_utf8_lossy(&v)
            ),
            Ok(Some(Record::SelectDb(db))) => {
                println!("[offset {}] Selecting DB ID {db}", reader.offset())
            }
            Ok(Some(Record::ResizeDb { size, expires })) => println!(
                "[offset {}] Resize DB: {size} keys, {expires} expires",
                reader.offset()
            ),
            Ok(Some(Record::ModuleAux(name))) => println!(
                "[offset {}] MODULE AUX for module '{name}' skipped",
                reader.offset()
            ),
            Ok(Some(Record::Entry(e))) => {
                keys += 1;
                if let Some(at) = e.meta.expire_ms {
                    expires += 1;
                    expired += u64::from(at < now_ms);
                }
            }
            Err(e) => return report(&e),
        }
    }
    match reader.checksum() {
        Some(0) => println!(
            "[offset {}] RDB file was saved with checksum disabled: no check performed.",
            reader.offset()
        ),
        Some(_) => println!("[offset {}] Checksum OK", reader.offset()),
        None => {}
    }
    println!("[offset {}] \\o/ RDB looks OK! \\o/", reader.offset());
    println!("[info] {keys} keys read");
    println!("[info] {expires} expires");
    println!("[info] {expired} already expired");
    if reader.empty_keys_skipped() > 0 {
        println!("[info] {} empty keys skipped", reader.empty_keys_skipped());
    }
    ExitCode::SUCCESS
}

fn report(e: &ferrokv_persist::RdbError) -> ExitCode {
    println!("--- RDB ERROR DETECTED ---");
    println!("[offset {}] {}", e.offset, e.kind);
    ExitCode::from(1)
}
