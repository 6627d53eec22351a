//! `--pipe`: mass insertion. A thread copies stdin (raw RESP) to the server while the
//! main thread reads and counts replies; an ECHO of a random marker sent after the
//! data tells when the server has answered everything.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use ferrokv_resp::Frame;

use crate::args::Config;
use crate::connection::ReadError;
use crate::session::Fatal;

/// 20 bytes no real reply will echo back: time and pid, hex.
fn marker() -> Vec<u8> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let mixed = t.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (u128::from(std::process::id()) << 32);
    let mut s = format!("{mixed:032x}").into_bytes();
    s.truncate(20);
    s
}

pub fn run(config: &Config) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    let Some(mut writer) = conn.writer() else {
        return Err(Fatal::Message(
            "--pipe over TLS is not supported by ferrokv-cli".into(),
        ));
    };
    let mark = marker();
    let done = Arc::new(AtomicBool::new(false));
    let done_w = Arc::clone(&done);
    let mark_w = mark.clone();
    let sender = std::thread::spawn(move || -> Result<(), String> {
        let mut stdin = std::io::stdin().lock();
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            let n = stdin.read(&mut chunk).map_err(|e| e.to_string())?;
            if n == 0 {
                break;
            }
            writer.write_all(&chunk[..n]).map_err(|e| {
                format!(
                    "Error writing to the server: {}",
                    crate::connection::strerror(&e)
                )
            })?;
        }
        let mut echo = BytesMut::new();
        Frame::array_of_bulks([&b"ECHO"[..], &mark_w]).encode(&mut echo);
        writer
            .write_all(&echo)
            .and_then(|_| writer.flush())
            .map_err(|e| {
                format!(
                    "Error writing to the server: {}",
                    crate::connection::strerror(&e)
                )
            })?;
        println!("All data transferred. Waiting for the last reply...");
        done_w.store(true, Ordering::SeqCst);
        Ok(())
    });
    let timeout = Duration::from_secs(config.pipe_timeout);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(250)));
    let (mut errors, mut replies) = (0u64, 0u64);
    let mut last_reply = Instant::now();
    let mut done_at: Option<Instant> = None;
    loop {
        match conn.read_frame() {
            Ok(f) => {
                last_reply = Instant::now();
                if matches!(&f, Frame::Bulk(b) if b[..] == mark[..]) {
                    break;
                }
                if let Frame::Error(e) = &f {
                    errors += 1;
                    eprintln!("{}", String::from_utf8_lossy(e));
                }
                replies += 1;
            }
            Err(ReadError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                if done.load(Ordering::SeqCst) {
                    let since = *done_at.get_or_insert_with(Instant::now);
                    let quiet = since.max(last_reply);
                    if !timeout.is_zero() && quiet.elapsed() >= timeout {
                        return Err(Fatal::Message(format!(
                            "No replies for {} seconds: exiting.",
                            config.pipe_timeout
                        )));
                    }
                } else if sender.is_finished() {
                    break;
                }
            }
            Err(e) => {
                return Err(Fatal::Message(format!(
                    "Error reading from the server: {e}"
                )))
            }
        }
    }
    match sender.join() {
        Ok(Ok(())) => {}
        Ok(Err(m)) => return Err(Fatal::Message(m)),
        Err(_) => return Err(Fatal::Message("the stdin reader failed".into())),
    }
    println!("Last reply received from server.");
    println!("errors: {errors}, replies: {replies}");
    Ok(if errors > 0 {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
