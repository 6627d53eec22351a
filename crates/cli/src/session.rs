//! Running commands and printing their replies: the part shared by one-shot mode, the
//! stdin script mode and the REPL.

use std::io::Write;

use ferrokv_resp::Frame;

use crate::args::Config;
use crate::connection::{Connection, ReadError};
use crate::output::format::{format_reply, OutputMode};

/// What stops a run of commands.
#[derive(Debug)]
pub enum Fatal {
    /// Print this to stderr and exit 1.
    Message(String),
    /// Exit 1; the message was already printed.
    Silent,
}

/// A connection with everything redis-cli tracks about it.
pub struct Session {
    pub config: Config,
    pub conn: Option<Connection>,
    pub output: OutputMode,
    pub show_pushes: bool,
    pub interactive: bool,
    /// The selected database, for the prompt; follows SELECT.
    pub dbnum: i64,
    pub in_multi: bool,
    /// Set when a command replied with an error (for -e).
    pub had_error: bool,
}

/// Redirections followed for one command before the error is shown instead.
const MAX_REDIRECTS: u32 = 16;

/// Commands whose reply is a text meant to be read as is, even on a terminal.
fn prints_raw(args: &[Vec<u8>]) -> bool {
    let lc = |i: usize| {
        args.get(i)
            .map(|a| a.to_ascii_lowercase())
            .unwrap_or_default()
    };
    let (cmd, sub) = (lc(0), lc(1));
    let n = args.len();
    match cmd.as_slice() {
        b"info" | b"lolwut" => true,
        b"debug" => {
            n >= 2
                && matches!(
                    sub.as_slice(),
                    b"htstats" | b"htstats-key" | b"client-eviction"
                )
        }
        b"memory" => n >= 2 && matches!(sub.as_slice(), b"malloc-stats" | b"doctor"),
        b"cluster" => n == 2 && matches!(sub.as_slice(), b"nodes" | b"info"),
        b"client" => n >= 2 && matches!(sub.as_slice(), b"list" | b"info"),
        b"latency" => (n == 3 && sub == b"graph") || (n == 2 && sub == b"doctor"),
        b"proxy" => n >= 2 && sub == b"info",
        _ => false,
    }
}

/// Client-side caching invalidations print as one short line per key on a terminal.
fn print_invalidation(items: &[Frame]) -> bool {
    match items {
        [Frame::Bulk(kind) | Frame::Simple(kind), Frame::Array(keys)]
            if kind.eq_ignore_ascii_case(b"invalidate") =>
        {
            let mut out = std::io::stdout().lock();
            for key in keys {
                let _ = out.write_all(b"-> invalidate: '");
                let _ = out.write_all(key.as_bytes().unwrap_or_default());
                let _ = out.write_all(b"'\n");
            }
            true
        }
        _ => false,
    }
}

impl Session {
    pub fn new(
        config: Config,
        output: OutputMode,
        show_pushes: bool,
        interactive: bool,
    ) -> Session {
        let dbnum = config.dbnum;
        Session {
            config,
            conn: None,
            output,
            show_pushes,
            interactive,
            dbnum,
            in_multi: false,
            had_error: false,
        }
    }

    /// Connects if not connected.
    pub fn ensure_connected(&mut self) -> Result<&mut Connection, String> {
        if self.conn.is_none() {
            let mut cfg = self.config.clone();
            cfg.dbnum = self.dbnum;
            let conn = Connection::connect(&cfg)?;
            self.conn = Some(conn);
            self.in_multi = false;
        }
        match self.conn.as_mut() {
            Some(c) => Ok(c),
            None => Err("not connected".into()),
        }
    }

    /// Prints one reply in the session's format; `raw_override` is for commands
    /// like INFO whose text prints as is on a terminal.
    fn print_reply(&mut self, frame: &Frame, raw_override: bool) -> Result<(), Fatal> {
        // Texts like INFO print as they are, in every output mode, with no delimiter.
        let mode = if raw_override {
            OutputMode::Raw
        } else {
            self.output
        };
        if frame.is_error() {
            self.had_error = true;
            if self.config.exit_on_error && !self.interactive {
                // With -e an error is a failure: its text goes to stderr.
                let text = frame.as_bytes().unwrap_or_default();
                let mut err = std::io::stderr().lock();
                let _ = err.write_all(text);
                let _ = err.write_all(b"\n");
                return Ok(());
            }
        }
        let mut text =
            format_reply(frame, mode, &self.config.bulk_delim).map_err(|u| Fatal::Message(u.0))?;
        if mode == OutputMode::Raw && !raw_override {
            text.extend_from_slice(&self.config.cmd_delim);
        }
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(&text);
        let _ = out.flush();
        Ok(())
    }

    /// Reads replies until the one for the command, printing pushes that come first.
    fn read_reply(&mut self) -> Result<Frame, ReadError> {
        loop {
            let conn = match self.conn.as_mut() {
                Some(c) => c,
                None => return Err(ReadError::Closed),
            };
            let frame = conn.read_frame()?;
            if let Frame::Push(items) = &frame {
                if self.show_pushes && self.output == OutputMode::Tty && print_invalidation(items) {
                    continue;
                }
                if self.show_pushes {
                    match self.print_reply(&frame, false) {
                        Err(Fatal::Message(m)) => return Err(ReadError::Protocol(m)),
                        Err(Fatal::Silent) => return Err(ReadError::Closed),
                        Ok(()) => {}
                    }
                }
                continue;
            }
            return Ok(frame);
        }
    }

    /// Runs `args` `repeat` times (forever when negative), as `-r`/`-i` ask.
    pub fn run_command(&mut self, args: &[Vec<u8>], repeat: i64) -> Result<(), Fatal> {
        if args.is_empty() {
            return Ok(());
        }
        let name = args[0].to_ascii_lowercase();
        let raw_override = prints_raw(args);
        let mut left = repeat;
        while left != 0 {
            if left > 0 {
                left -= 1;
            }
            let mut redirects = 0;
            let mut asking = false;
            let reply = loop {
                self.ensure_connected().map_err(Fatal::Message)?;
                let sent = match self.conn.as_mut() {
                    Some(c) if asking => {
                        c.call(&[b"ASKING".to_vec()])
                            .map(|_| ())
                            .map_err(|e| match e {
                                ReadError::Io(io) => io,
                                other => std::io::Error::other(other.to_string()),
                            })
                    }
                    _ => Ok(()),
                }
                .and_then(|()| match self.conn.as_mut() {
                    Some(c) => c.send(args),
                    None => Ok(()),
                });
                if let Err(e) = sent {
                    self.conn = None;
                    return Err(Fatal::Message(format!(
                        "Error: {}",
                        crate::connection::strerror(&e)
                    )));
                }
                match name.as_slice() {
                    b"subscribe" | b"psubscribe" | b"ssubscribe" => {
                        return self.stream_messages(true)
                    }
                    b"monitor" => return self.stream_messages(false),
                    _ => {}
                }
                let reply = match self.read_reply() {
                    Ok(f) => f,
                    // SHUTDOWN succeeds by closing the connection: nothing to report.
                    Err(ReadError::Closed) if name == b"shutdown" => {
                        self.conn = None;
                        return Ok(());
                    }
                    Err(e) => {
                        self.conn = None;
                        return Err(Fatal::Message(format!("Error: {e}")));
                    }
                };
                match self.redirect_target(&reply) {
                    Some((ask, slot, host, port)) if redirects < MAX_REDIRECTS => {
                        redirects += 1;
                        asking = ask;
                        if self.interactive {
                            println!("-> Redirected to slot [{slot}] located at {host}:{port}");
                        }
                        self.config.host = host;
                        self.config.port = port;
                        self.config.socket = None;
                        self.conn = None;
                    }
                    _ => break reply,
                }
            };
            self.track_state(&name, args, &reply);
            self.print_reply(&reply, raw_override)?;
            if !self.config.interval.is_zero() && left != 0 {
                std::thread::sleep(self.config.interval);
            }
        }
        Ok(())
    }

    /// With -c, where a `MOVED`/`ASK` error sends the command: (is ASK, slot, host,
    /// port).
    fn redirect_target(&self, reply: &Frame) -> Option<(bool, String, String, u16)> {
        if !self.config.cluster_mode {
            return None;
        }
        let Frame::Error(e) = reply else { return None };
        let text = std::str::from_utf8(e).ok()?;
        let mut parts = text.split(' ');
        let ask = match parts.next()? {
            "MOVED" => false,
            "ASK" => true,
            _ => return None,
        };
        let slot = parts.next()?.to_string();
        let (host, port) = parts.next()?.rsplit_once(':')?;
        // A node that does not know its own address announces an empty host.
        let host = if host.is_empty() {
            self.config.host.clone()
        } else {
            host.to_string()
        };
        Some((ask, slot, host, port.parse().ok()?))
    }

    /// Keeps what the prompt shows in step with the server.
    fn track_state(&mut self, name: &[u8], args: &[Vec<u8>], reply: &Frame) {
        if reply.is_error() {
            if name == b"exec" || name == b"discard" {
                self.in_multi = false;
            }
            return;
        }
        match name {
            b"select" if args.len() == 2 => {
                self.dbnum = crate::args::atoi(&String::from_utf8_lossy(&args[1]));
            }
            b"multi" => self.in_multi = true,
            b"exec" | b"discard" => self.in_multi = false,
            b"hello" if args.len() >= 2 => {
                let v = crate::args::atoi(&String::from_utf8_lossy(&args[1]));
                if v == 2 || v == 3 {
                    self.config.resp = Some(v as u8);
                }
            }
            b"auth" if args.len() >= 2 => {
                // Reconnects must authenticate the same way.
                self.config.password = args.last().cloned();
                self.config.user = if args.len() == 3 {
                    Some(args[1].clone())
                } else {
                    None
                };
            }
            _ => {}
        }
    }

    /// SUBSCRIBE and MONITOR: print everything the server sends until it closes.
    fn stream_messages(&mut self, pubsub: bool) -> Result<(), Fatal> {
        if pubsub && self.output != OutputMode::Raw {
            println!("Reading messages... (press Ctrl-C to quit)");
        }
        loop {
            let frame = match self.conn.as_mut() {
                Some(c) => c.read_frame(),
                None => Err(ReadError::Closed),
            };
            match frame {
                Ok(f) => self.print_reply(&f, false)?,
                Err(e) => {
                    self.conn = None;
                    return Err(Fatal::Message(format!("Error: {e}")));
                }
            }
        }
    }
}
