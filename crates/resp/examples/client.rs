//! A tiny blocking client: sends one command to a Redis-compatible server and prints
//! the reply, redis-cli style.
//!
//! ```text
//! cargo run -p ferrokv-resp --example client -- 127.0.0.1:6379 SET greeting hello
//! cargo run -p ferrokv-resp --example client -- 127.0.0.1:6379 HELLO 3
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::ExitCode;

use bytes::BytesMut;
use ferrokv_resp::{Frame, FrameDecoder};

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let (Some(addr), command) = (args.next(), args.collect::<Vec<_>>()) else {
        eprintln!("usage: client HOST:PORT COMMAND [ARG...]");
        return ExitCode::from(2);
    };
    if command.is_empty() {
        eprintln!("usage: client HOST:PORT COMMAND [ARG...]");
        return ExitCode::from(2);
    }
    match run(&addr, &command) {
        Ok(reply) => {
            print!("{}", render(&reply, 0));
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Sends `command` as an array of bulk strings and reads one reply frame.
fn run(addr: &str, command: &[String]) -> Result<Frame, Box<dyn std::error::Error>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(&Frame::array_of_bulks(command).to_bytes())?;

    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::with_capacity(4096);
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(frame) = decoder.decode(&mut buf)? {
            return Ok(frame);
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err("connection closed before a full reply".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// A redis-cli-like rendering: one line per scalar, numbered aggregate elements.
fn render(frame: &Frame, indent: usize) -> String {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    let items = |kind: &str, elems: Vec<&Frame>| {
        if elems.is_empty() {
            return format!("({kind} empty)\n");
        }
        let mut out = String::new();
        for (i, f) in elems.iter().enumerate() {
            let pad = if i == 0 {
                String::new()
            } else {
                " ".repeat(indent)
            };
            let label = format!("{pad}{}) ", i + 1);
            out.push_str(&label);
            out.push_str(&render(f, indent + label.len() - pad.len()));
        }
        out
    };
    match frame {
        Frame::Simple(s) => format!("{}\n", text(s)),
        Frame::Error(s) | Frame::BlobError(s) => format!("(error) {}\n", text(s)),
        Frame::Integer(i) => format!("(integer) {i}\n"),
        Frame::Bulk(b) => format!("{:?}\n", text(b)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => "(nil)\n".to_string(),
        Frame::Double(d) => format!("(double) {d}\n"),
        Frame::Boolean(b) => format!("({b})\n"),
        Frame::BigNumber(n) => format!("(big number) {}\n", text(n)),
        Frame::Verbatim { data, .. } => format!("{}\n", text(data)),
        Frame::Array(v) => items("array", v.iter().collect()),
        Frame::Set(v) => items("set", v.iter().collect()),
        Frame::Push(v) => items("push", v.iter().collect()),
        Frame::Map(pairs) => items("map", pairs.iter().flat_map(|(k, v)| [k, v]).collect()),
        Frame::Attribute { data, .. } => render(data, indent),
    }
}
