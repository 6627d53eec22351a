//! `--rdb <file>` / `--functions-rdb <file>`: ask the server for a snapshot the way a
//! replica does (SYNC) and save the payload. `-` writes to stdout.

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;

use ferrokv_resp::Frame;

use crate::args::Config;
use crate::connection::{strerror, Connection};
use crate::session::Fatal;

/// The marker length of a diskless (`$EOF:<mark>`) transfer.
const EOF_MARK_LEN: usize = 40;

fn io_fail(e: std::io::Error) -> Fatal {
    Fatal::Message(format!("Error: {}", strerror(&e)))
}

/// Sends a REPLCONF, saying so on stderr as redis-cli does; a refusal is reported
/// and the transfer goes on (older servers lack some of these).
fn replconf(conn: &mut Connection, args: &[&str]) -> Result<(), Fatal> {
    eprintln!("sending REPLCONF {}", args.join(" "));
    let mut cmd = vec![b"REPLCONF".to_vec()];
    cmd.extend(args.iter().map(|a| a.as_bytes().to_vec()));
    match conn.call(&cmd) {
        Ok(Frame::Error(e)) => {
            eprintln!(
                "REPLCONF {} error: {}",
                args.join(" "),
                String::from_utf8_lossy(&e)
            );
            Ok(())
        }
        Ok(_) => Ok(()),
        Err(e) => Err(Fatal::Message(format!("Error: {e}"))),
    }
}

/// Reads one `\n`-terminated line of the SYNC preamble, raw.
fn read_line(conn: &mut Connection) -> Result<Vec<u8>, Fatal> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        let n = conn.read_raw(&mut b).map_err(io_fail)?;
        if n == 0 {
            return Err(Fatal::Message(
                "Error reading bulk length while SYNCing".into(),
            ));
        }
        if b[0] == b'\n' {
            if line.last() == Some(&b'\r') {
                line.pop();
            }
            return Ok(line);
        }
        line.push(b[0]);
    }
}

pub fn run(config: &Config, (file, functions_only): (&str, bool)) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    replconf(&mut conn, &["capa", "eof"])?;
    replconf(&mut conn, &["rdb-only", "1"])?;
    if functions_only {
        replconf(&mut conn, &["rdb-filter-only", "functions"])?;
    }
    conn.send(&[b"SYNC".to_vec()]).map_err(io_fail)?;
    // Newlines are keepalives while the server prepares the snapshot.
    let header = loop {
        let line = read_line(&mut conn)?;
        if !line.is_empty() {
            break line;
        }
    };
    if header.first() == Some(&b'-') {
        return Err(Fatal::Message(format!(
            "SYNC with master failed: {}",
            String::from_utf8_lossy(&header)
        )));
    }
    let header = header.strip_prefix(b"$").unwrap_or(&header).to_vec();
    let eof_mark = header.strip_prefix(b"EOF:").map(<[u8]>::to_vec);
    let to_stdout = file == "-";
    let mut sink: Box<dyn Write> = if to_stdout {
        Box::new(std::io::stdout().lock())
    } else {
        Box::new(
            File::create(file)
                .map_err(|e| Fatal::Message(format!("Error opening '{file}': {}", strerror(&e))))?,
        )
    };
    let mut payload: u64 = 0;
    let mut buf = vec![0u8; 64 * 1024];
    match eof_mark {
        Some(mark) if mark.len() == EOF_MARK_LEN => {
            eprintln!(
                "SYNC sent to master, writing bytes of bulk transfer until EOF marker to '{file}'"
            );
            // The last bytes seen, to spot the marker across reads.
            let mut tail: Vec<u8> = Vec::with_capacity(EOF_MARK_LEN * 2);
            loop {
                let n = conn.read_raw(&mut buf).map_err(io_fail)?;
                if n == 0 {
                    return Err(Fatal::Message(
                        "Error reading RDB payload while SYNCing".into(),
                    ));
                }
                sink.write_all(&buf[..n]).map_err(io_fail)?;
                payload += n as u64;
                tail.extend_from_slice(&buf[..n]);
                if tail.len() > EOF_MARK_LEN {
                    tail.drain(..tail.len() - EOF_MARK_LEN);
                }
                if tail == mark {
                    break;
                }
            }
            payload -= EOF_MARK_LEN as u64;
        }
        _ => {
            let len: u64 = String::from_utf8_lossy(&header).parse().unwrap_or(0);
            eprintln!("SYNC sent to master, writing {len} bytes to '{file}'");
            while payload < len {
                let want = buf.len().min((len - payload) as usize);
                let n = conn.read_raw(&mut buf[..want]).map_err(io_fail)?;
                if n == 0 {
                    return Err(Fatal::Message(
                        "Error reading RDB payload while SYNCing".into(),
                    ));
                }
                sink.write_all(&buf[..n]).map_err(io_fail)?;
                payload += n as u64;
            }
        }
    }
    sink.flush().map_err(io_fail)?;
    drop(sink);
    if !to_stdout {
        // The marker was written with the payload; a file is cut back to the payload.
        if let Ok(f) = std::fs::OpenOptions::new().write(true).open(file) {
            let _ = f.set_len(payload);
        }
    }
    eprintln!("Transfer finished with success after {payload} bytes");
    Ok(ExitCode::SUCCESS)
}
