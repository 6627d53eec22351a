//! SLOWLOG: the commands whose execution took at least slowlog-log-slower-than µs,
//! newest first, at most slowlog-max-len of them (Redis 7.0's slowlog.c).
//!
//! A command pays nothing for it below the threshold: the engine compares the
//! duration it already measures for INFO commandstats with one cached gate
//! ([`crate::Engine::ops_gate`], the lowest of the slowlog and latency-monitor
//! thresholds) and only past it looks at either (see `Engine::after_call`).

use std::collections::VecDeque;

use parking_lot::Mutex;

use crate::commands::{reply_help, CommandDef};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

/// Arguments kept per entry; the last slot then says how many more there were.
pub const MAX_ARGC: usize = 32;
/// Bytes kept per argument; the rest is counted.
pub const MAX_STRING: usize = 128;

/// One logged command.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Unique, increasing over the life of the server (RESET does not restart it).
    pub id: u64,
    /// Unix time (seconds) when it was logged.
    pub time: i64,
    /// Execution time, µs.
    pub duration: u64,
    /// The arguments, trimmed as Redis trims them.
    pub args: Vec<Vec<u8>>,
    /// The client's address (`ip:port`).
    pub peer: String,
    /// The client's name (empty when none).
    pub name: Vec<u8>,
}

/// The log.
#[derive(Default)]
pub struct Slowlog {
    inner: Mutex<Log>,
}

#[derive(Default)]
struct Log {
    entries: VecDeque<Entry>,
    next_id: u64,
}

/// The arguments as Redis keeps them: at most [`MAX_ARGC`], the last of which is
/// `... (N more arguments)` when some were dropped; each at most [`MAX_STRING`]
/// bytes followed by `... (N more bytes)`; the ones in `redact` (a bit per
/// argument index) as `(redacted)`.
pub fn trim_args(args: &[&[u8]], redact: u64) -> Vec<Vec<u8>> {
    let kept = args.len().min(MAX_ARGC);
    (0..kept)
        .map(|j| {
            if kept != args.len() && j == kept - 1 {
                format!("... ({} more arguments)", args.len() - kept + 1).into_bytes()
            } else if j < 64 && redact & (1 << j) != 0 {
                b"(redacted)".to_vec()
            } else if args[j].len() > MAX_STRING {
                let mut s = args[j][..MAX_STRING].to_vec();
                s.extend_from_slice(
                    format!("... ({} more bytes)", args[j].len() - MAX_STRING).as_bytes(),
                );
                s
            } else {
                args[j].to_vec()
            }
        })
        .collect()
}

impl Slowlog {
    /// Adds an entry (its id is assigned here) and trims the log to `max_len`.
    pub fn push(&self, mut e: Entry, max_len: usize) {
        let mut log = self.inner.lock();
        e.id = log.next_id;
        log.next_id += 1;
        log.entries.push_front(e);
        log.entries.truncate(max_len);
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.inner.lock().entries.len()
    }

    /// Whether the log is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Empties the log (ids go on from where they were).
    pub fn reset(&self) {
        self.inner.lock().entries.clear();
    }

    /// The newest `count` entries, newest first.
    pub fn newest(&self, count: usize) -> Vec<Entry> {
        self.inner
            .lock()
            .entries
            .iter()
            .take(count)
            .cloned()
            .collect()
    }
}

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("slowlog|get", get),
    CommandDef::new("slowlog|len", len),
    CommandDef::new("slowlog|reset", reset),
    CommandDef::new("slowlog|help", help),
];

fn get(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::SubcommandSyntax {
            sub: String::from_utf8_lossy(args[1]).into_owned(),
            cmd: "SLOWLOG".into(),
        });
    }
    let log = &ctx.engine.slowlog;
    let count = match args.get(2) {
        None => 10,
        Some(a) => match crate::args::parse_i64(a) {
            Some(-1) => usize::MAX,
            Some(n) if n >= 0 => n as usize,
            _ => {
                return Err(CmdError::Other(
                    "count should be greater than or equal to -1".into(),
                ))
            }
        },
    };
    let entries = log.newest(count);
    ctx.out.array(entries.len());
    for e in &entries {
        ctx.out.array(6);
        ctx.out.int(e.id as i64);
        ctx.out.int(e.time);
        ctx.out.int(e.duration as i64);
        ctx.out.array(e.args.len());
        for a in &e.args {
            ctx.out.bulk(a);
        }
        ctx.out.bulk(e.peer.as_bytes());
        ctx.out.bulk(&e.name);
    }
    Ok(())
}

fn len(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let n = ctx.engine.slowlog.len();
    ctx.out.int(n as i64);
    Ok(())
}

fn reset(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.engine.slowlog.reset();
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "SLOWLOG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_like_redis() {
        let many: Vec<Vec<u8>> = (0..34).map(|i| i.to_string().into_bytes()).collect();
        let refs: Vec<&[u8]> = many.iter().map(Vec::as_slice).collect();
        let t = trim_args(&refs, 0);
        assert_eq!(t.len(), 32);
        assert_eq!(t[30], b"30");
        assert_eq!(t[31], b"... (3 more arguments)");

        let long = vec![b'A'; 129];
        let t = trim_args(&[b"set", &long], 0);
        let mut want = vec![b'A'; 128];
        want.extend_from_slice(b"... (1 more bytes)");
        assert_eq!(t[1], want);

        let t = trim_args(&[b"auth", b"secret"], 0b10);
        assert_eq!(t[1], b"(redacted)");
    }

    #[test]
    fn ids_go_on_after_reset_and_length_is_capped() {
        let log = Slowlog::default();
        let e = || Entry {
            id: 0,
            time: 0,
            duration: 1,
            args: vec![],
            peer: String::new(),
            name: vec![],
        };
        for _ in 0..5 {
            log.push(e(), 3);
        }
        assert_eq!(log.len(), 3);
        assert_eq!(log.newest(1)[0].id, 4);
        log.reset();
        log.push(e(), 3);
        assert_eq!(log.newest(10)[0].id, 5);
    }
}
