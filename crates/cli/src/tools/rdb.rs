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

/// Passes the payload of a diskless transfer to `sink`, up to and including the
/// marker (redis-cli writes it too; a file is cut back afterwards), and returns the
/// payload length without the marker. Bytes after the marker are the start of the
/// replication stream and go back to the connection.
fn read_until_marker(
    conn: &mut Connection,
    mark: &[u8],
    mut sink: impl FnMut(&[u8]) -> std::io::Result<()>,
) -> Result<u64, Fatal> {
    let mut buf = vec![0u8; 64 * 1024];
    // The last bytes seen, so that a marker split across reads is found.
    let mut window: Vec<u8> = Vec::new();
    let mut total: u64 = 0;
    loop {
        let n = conn.read_raw(&mut buf).map_err(io_fail)?;
        if n == 0 {
            return Err(Fatal::Message(
                "Error reading RDB payload while SYNCing".into(),
            ));
        }
        let carried = window.len();
        window.extend_from_slice(&buf[..n]);
        if let Some(pos) = window.windows(mark.len()).position(|w| w == mark) {
            let end = pos + mark.len();
            sink(&window[carried.min(end)..end]).map_err(io_fail)?;
            conn.unread(&window[end..]);
            return Ok(total + (end - carried) as u64 - mark.len() as u64);
        }
        sink(&buf[..n]).map_err(io_fail)?;
        total += n as u64;
        let keep = window.len().min(mark.len() - 1);
        window.drain(..window.len() - keep);
    }
}

/// Sends SYNC and returns the payload header without its `$`: `EOF:<mark>` or a length.
fn sync(conn: &mut Connection) -> Result<Vec<u8>, Fatal> {
    conn.send(&[b"SYNC".to_vec()]).map_err(io_fail)?;
    // Newlines are keepalives while the server prepares the snapshot.
    let header = loop {
        let line = read_line(conn)?;
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
    Ok(header.strip_prefix(b"$").unwrap_or(&header).to_vec())
}

/// `--replica`: sync like a replica, skip the snapshot, then print every command
/// the master streams, CSV-style.
pub fn replica(config: &Config) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    replconf(&mut conn, &["capa", "eof"])?;
    replconf(&mut conn, &["rdb-filter-only", ""])?;
    let header = sync(&mut conn)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut payload: u64 = 0;
    match header.strip_prefix(b"EOF:") {
        Some(mark) if mark.len() == EOF_MARK_LEN => {
            eprintln!("SYNC with master, discarding bytes of bulk transfer until EOF marker...");
            // redis-cli counts the marker in this figure.
            payload = read_until_marker(&mut conn, mark, |_| Ok(()))? + EOF_MARK_LEN as u64;
        }
        _ => {
            let len: u64 = String::from_utf8_lossy(&header).parse().unwrap_or(0);
            eprintln!("SYNC with master, discarding {len} bytes of bulk transfer...");
            while payload < len {
                let want = buf.len().min((len - payload) as usize);
                let n = conn.read_raw(&mut buf[..want]).map_err(io_fail)?;
                if n == 0 {
                    return Err(Fatal::Message(
                        "Error reading RDB payload while SYNCing".into(),
                    ));
                }
                payload += n as u64;
            }
        }
    }
    eprintln!("SYNC done after {payload} bytes. Logging commands from master.");
    eprintln!("sending REPLCONF ACK 0");
    conn.send(&[b"REPLCONF".to_vec(), b"ACK".to_vec(), b"0".to_vec()])
        .map_err(io_fail)?;
    let mut out = std::io::stdout().lock();
    // A master that was still finishing the transfer when the ACK arrived waits for
    // another ACK before it streams commands: repeat it (silently) while idle.
    let _ = conn.set_read_timeout(Some(std::time::Duration::from_secs(1)));
    loop {
        let frame = match conn.read_frame() {
            Ok(f) => f,
            Err(crate::connection::ReadError::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                conn.send(&[b"REPLCONF".to_vec(), b"ACK".to_vec(), b"0".to_vec()])
                    .map_err(io_fail)?;
                continue;
            }
            Err(e) => return Err(Fatal::Message(format!("Error: {e}"))),
        };
        let line = crate::output::format::format_reply(
            &frame,
            crate::output::format::OutputMode::Csv,
            b"\n",
        )
        .map_err(|u| Fatal::Message(u.0))?;
        if out.write_all(&line).and_then(|_| out.flush()).is_err() {
            return Ok(ExitCode::SUCCESS);
        }
    }
}

pub fn run(config: &Config, (file, functions_only): (&str, bool)) -> Result<ExitCode, Fatal> {
    let mut conn = super::connect(config)?;
    replconf(&mut conn, &["capa", "eof"])?;
    replconf(&mut conn, &["rdb-only", "1"])?;
    if functions_only {
        replconf(&mut conn, &["rdb-filter-only", "functions"])?;
    }
    let header = sync(&mut conn)?;
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
            payload = read_until_marker(&mut conn, &mark, |chunk| sink.write_all(chunk))?;
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
