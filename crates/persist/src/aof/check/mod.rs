//! `ferrokv-check-aof`: redis-check-aof 7.0 (`[--fix|--truncate-to-timestamp
//! $timestamp] <file.manifest|file.aof>`), with the same output, prompt, exit
//! codes and truncation points, so that scripts and runbooks written for Redis
//! work unchanged.
//!
//! The input is a manifest (a file with a line starting with `file`: its base and
//! incr files are checked in order, only the last one may be cut), or a single
//! AOF, with an RDB preamble when it starts with `REDIS`. A file is scanned up to
//! its first bad record; `--fix` cuts it there after asking, and
//! `--truncate-to-timestamp` cuts it at the first `#TS:` annotation later than
//! the timestamp.

mod libc;
mod manifest;
mod scan;
mod stream;

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;

use crate::rdb::check::report_rdb;
use libc::{dirname, strerror, strtol};
use scan::{ScanEnd, Scanner};
use stream::Stream;

/// What the checker runs against: where it prints, where the `--fix` answer
/// comes from, the clock (for the RDB preamble's "already expired" count and log
/// lines) and the process id (log lines).
pub struct Env<'a> {
    /// Standard output.
    pub out: &'a mut dyn Write,
    /// Standard input.
    pub stdin: &'a mut dyn Read,
    /// Unix time in milliseconds.
    pub now_ms: i64,
    /// Process id shown in log lines.
    pub pid: u32,
}

/// Runs redis-check-aof's `main` on `args` (`args[0]` is the program name) and
/// returns the exit status.
pub fn run(args: &[Vec<u8>], env: Env<'_>) -> i32 {
    let mut out = Out(env.out);
    let program = args
        .first()
        .map_or(&b"ferrokv-check-aof"[..], Vec::as_slice);
    let (mode, path) = match args {
        [_, path] => (Mode::Check, path),
        [_, flag, path] if flag == b"--fix" => (Mode::Fix, path),
        [_, flag, ts, path] if flag == b"--truncate-to-timestamp" => {
            let (value, end, overflow) = strtol(ts);
            if overflow || end != ts.len() && end != 0 || end == 0 && !ts.is_empty() {
                out.say(&[b"Invalid timestamp, aborting...\n"]);
                return 1;
            }
            (Mode::TruncateToTimestamp(value), path)
        }
        _ => {
            out.say(&[
                b"Usage: ",
                program,
                b" [--fix|--truncate-to-timestamp $timestamp] <file.manifest|file.aof>\n",
            ]);
            return 1;
        }
    };
    let mut checker = Checker {
        scanner: Scanner::new(match mode {
            Mode::TruncateToTimestamp(ts) => ts,
            _ => 0,
        }),
        fix: mode == Mode::Fix,
        out,
        stdin: env.stdin,
        now_ms: env.now_ms,
        pid: env.pid,
    };
    let code = match checker.main(path) {
        Ok(()) => 0,
        Err(Exit(code)) => code,
    };
    let _ = checker.out.0.flush();
    code
}

/// How the checker was asked to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Report only.
    Check,
    /// `--fix`: offer to cut a bad tail.
    Fix,
    /// `--truncate-to-timestamp`: cut at the first later `#TS:` annotation.
    TruncateToTimestamp(i64),
}

/// Checks `data` as a single-file AOF (`redis-check-aof [mode] file.aof`),
/// cutting it in place where redis-check-aof would cut the file, with `answer`
/// as what is typed at the `--fix` prompt. Returns the exit status. For tests
/// and fuzzing: no file is touched.
pub fn check_bytes(
    data: &mut Vec<u8>,
    mode: Mode,
    answer: &[u8],
    now_ms: i64,
    out: &mut dyn Write,
) -> i32 {
    let preamble = data.len() >= 8 && data.starts_with(b"REDIS");
    let mut stdin = answer;
    let mut checker = Checker {
        scanner: Scanner::new(match mode {
            Mode::TruncateToTimestamp(ts) => ts,
            _ => 0,
        }),
        fix: mode == Mode::Fix,
        out: Out(out),
        stdin: &mut stdin,
        now_ms,
        pid: 0,
    };
    let name = b"file.aof";
    checker.out.say(&[b"Start checking Old-Style AOF\n"]);
    let mem = Mem { data, pos: 0 };
    match checker.single(name, name, mem, true, preamble) {
        Ok(outcome) => {
            checker.report(outcome, b"AOF ", name);
            0
        }
        Err(Exit(code)) => code,
    }
}

/// `exit(code)` from deep inside the checker, after its message was printed.
#[derive(Debug)]
pub(crate) struct Exit(pub i32);

/// Standard output; like printf, write errors are ignored.
pub(crate) struct Out<'a>(&'a mut dyn Write);

impl Out<'_> {
    pub(crate) fn say(&mut self, parts: &[&[u8]]) {
        for p in parts {
            let _ = self.0.write_all(p);
        }
    }
}

/// A file being checked: read sequentially, possibly cut.
trait AofFile: BufRead {
    /// Size when opened.
    fn size(&self) -> u64;
    /// ftruncate.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

struct Disk {
    reader: BufReader<File>,
    size: u64,
}

impl Read for Disk {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Disk {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }
    fn consume(&mut self, n: usize) {
        self.reader.consume(n)
    }
}

impl AofFile for Disk {
    fn size(&self) -> u64 {
        self.size
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.reader.get_ref().set_len(len)
    }
}

struct Mem<'a> {
    data: &'a mut Vec<u8>,
    pos: usize,
}

impl Read for Mem<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.fill_buf()?.read(buf)?;
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Mem<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        Ok(self.data.get(self.pos..).unwrap_or(&[]))
    }
    fn consume(&mut self, n: usize) {
        self.pos += n;
    }
}

impl AofFile for Mem<'_> {
    fn size(&self) -> u64 {
        self.data.len() as u64
    }
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.data
            .truncate(usize::try_from(len).unwrap_or(usize::MAX));
        Ok(())
    }
}

/// How checkSingleAof ended when it did not exit.
enum Outcome {
    Valid,
    Empty,
    Truncated,
    TimestampTruncated,
}

struct Checker<'a> {
    scanner: Scanner,
    fix: bool,
    out: Out<'a>,
    stdin: &'a mut dyn Read,
    now_ms: i64,
    pid: u32,
}

fn os_path(p: &[u8]) -> &std::path::Path {
    std::path::Path::new(std::ffi::OsStr::from_bytes(p))
}

impl Checker<'_> {
    fn main(&mut self, path: &[u8]) -> Result<(), Exit> {
        let dir = dirname(path);
        let is_manifest = {
            let f = self.open_for_sniffing(path)?;
            match manifest::looks_like_manifest(BufReader::new(f)) {
                Ok(m) => m,
                Err(_) => {
                    self.out.say(&[b"Cannot read file: ", path, b"\n"]);
                    return Err(Exit(1));
                }
            }
        };
        if is_manifest {
            self.multi_part(&dir, path)
        } else {
            let preamble = self.is_rdb(path)?;
            self.out.say(&[b"Start checking Old-Style AOF\n"]);
            let file = self.open(path)?;
            let outcome = self.single(path, path, file, true, preamble)?;
            self.report(outcome, b"AOF ", path);
            Ok(())
        }
    }

    /// fopen(path, "r") in fileIsManifest / fileIsRDB, with their message.
    fn open_for_sniffing(&mut self, path: &[u8]) -> Result<File, Exit> {
        File::open(os_path(path)).map_err(|e| {
            self.out.say(&[
                b"Cannot open file ",
                path,
                b": ",
                strerror(&e).as_bytes(),
                b"\n",
            ]);
            Exit(1)
        })
    }

    /// fileIsRDB: at least 8 bytes, starting with `REDIS`.
    fn is_rdb(&mut self, path: &[u8]) -> Result<bool, Exit> {
        let mut f = self.open_for_sniffing(path)?;
        let size = f.metadata().map_or(0, |m| m.len());
        let mut sig = [0u8; 5];
        Ok(size >= 8 && f.read_exact(&mut sig).is_ok() && &sig == b"REDIS")
    }

    /// fopen(path, "r+") in checkSingleAof.
    fn open(&mut self, path: &[u8]) -> Result<Disk, Exit> {
        let opened = File::options()
            .read(true)
            .write(true)
            .open(os_path(path))
            .and_then(|f| Ok((f.metadata()?.len(), f)));
        match opened {
            Ok((size, f)) => Ok(Disk {
                reader: BufReader::with_capacity(1 << 16, f),
                size,
            }),
            Err(e) => {
                self.out.say(&[
                    b"Cannot open file ",
                    path,
                    b": ",
                    strerror(&e).as_bytes(),
                    b", aborting...\n",
                ]);
                Err(Exit(1))
            }
        }
    }

    /// checkMultiPartAof.
    fn multi_part(&mut self, dir: &[u8], manifest_path: &[u8]) -> Result<(), Exit> {
        self.out.say(&[b"Start checking Multi Part AOF\n"]);
        let listed = match File::open(os_path(manifest_path)) {
            Ok(f) => manifest::load(BufReader::new(f)),
            Err(e) => Err(e),
        };
        let listed = match listed {
            Ok(Ok(l)) => l,
            Ok(Err(refused)) => {
                self.log(b"\n*** FATAL AOF MANIFEST FILE ERROR ***\n");
                if let Some((n, line)) = &refused.at {
                    self.log(format!("Reading the manifest file, at line {n}\n").as_bytes());
                    self.log(&[&b">>> '"[..], line, b"'\n"].concat());
                }
                self.log(format!("{}\n", refused.err).as_bytes());
                return Err(Exit(1));
            }
            Err(e) => {
                let msg = [
                    &b"Fatal error: can't open the AOF manifest file "[..],
                    manifest_path,
                    b" for reading: ",
                    strerror(&e).as_bytes(),
                ]
                .concat();
                self.log(&msg);
                return Err(Exit(1));
            }
        };
        let total = usize::from(listed.base.is_some()) + listed.incrs.len();
        let mut done = 0;
        let path_of = |name: &[u8]| [dir, b"/", name].concat();
        if let Some(name) = &listed.base {
            let path = path_of(name);
            done += 1;
            let preamble = self.is_rdb(&path)?;
            let format: &[u8] = if preamble { b"RDB" } else { b"RESP" };
            self.out
                .say(&[b"Start to check BASE AOF (", format, b" format).\n"]);
            let file = self.open(&path)?;
            let outcome = self.single(name, &path, file, done == total, preamble)?;
            self.report(outcome, b"BASE AOF ", name);
        }
        if !listed.incrs.is_empty() {
            self.out.say(&[b"Start to check INCR files.\n"]);
            for name in &listed.incrs {
                let path = path_of(name);
                done += 1;
                let file = self.open(&path)?;
                let outcome = self.single(name, &path, file, done == total, false)?;
                self.report(outcome, b"INCR AOF ", name);
            }
        }
        self.out.say(&[b"All AOF files and manifest are valid\n"]);
        Ok(())
    }

    /// What the callers of checkSingleAof print for its result.
    fn report(&mut self, outcome: Outcome, what: &[u8], name: &[u8]) {
        match outcome {
            Outcome::Valid => self.out.say(&[what, name, b" is valid\n"]),
            Outcome::Empty => self.out.say(&[what, name, b" is empty\n"]),
            Outcome::TimestampTruncated => {
                let ts = self.scanner.to_timestamp.to_string();
                self.out.say(&[
                    b"Successfully truncated AOF ",
                    name,
                    b" to timestamp ",
                    ts.as_bytes(),
                    b"\n",
                ])
            }
            Outcome::Truncated => self.out.say(&[b"Successfully truncated AOF ", name, b"\n"]),
        }
    }

    /// A line of the server log, which redis-check-aof writes to stdout.
    fn log(&mut self, msg: &[u8]) {
        let line = libc::log_line(self.pid, self.now_ms, msg);
        self.out.say(&[&line]);
    }

    /// checkSingleAof: `name` in messages about the file, `path` (as opened) in
    /// those about its contents, as Redis does.
    fn single<F: AofFile>(
        &mut self,
        name: &[u8],
        path: &[u8],
        file: F,
        last_file: bool,
        preamble: bool,
    ) -> Result<Outcome, Exit> {
        let size = file.size();
        if size == 0 {
            return Ok(Outcome::Empty);
        }
        let mut s = Stream::new(file);
        if preamble {
            match report_rdb(&mut s.src, name, self.now_ms, self.out.0) {
                Ok(Some(len)) => {
                    s.pos = len;
                    self.out
                        .say(&[b"RDB preamble is OK, proceeding with AOF tail...\n"]);
                }
                _ => {
                    self.out
                        .say(&[b"RDB preamble of AOF file is not sane, aborting.\n"]);
                    return Err(Exit(1));
                }
            }
        }
        let ok_up_to = match self
            .scanner
            .scan(&mut s, name, path, last_file, &mut self.out)?
        {
            ScanEnd::CutAtTimestamp { at } => {
                if s.src.truncate(at).is_err() {
                    let ts = self.scanner.to_timestamp.to_string();
                    self.out.say(&[
                        b"Failed to truncate AOF ",
                        path,
                        b" to timestamp ",
                        ts.as_bytes(),
                        b"\n",
                    ]);
                    return Err(Exit(1));
                }
                return Ok(Outcome::TimestampTruncated);
            }
            ScanEnd::Stopped { ok_up_to } => ok_up_to,
        };
        let diff = size as i64 - ok_up_to as i64;
        if diff == 0 && self.scanner.to_timestamp != 0 {
            let ts = self.scanner.to_timestamp.to_string();
            self.out.say(&[
                b"Truncate nothing in AOF ",
                name,
                b" to timestamp ",
                ts.as_bytes(),
                b"\n",
            ]);
            return Ok(Outcome::Valid);
        }
        let analyzed = format!(
            ", size={size}, ok_up_to={ok_up_to}, ok_up_to_line={}, diff={diff}\n",
            self.scanner.line
        );
        self.out
            .say(&[b"AOF analyzed: filename=", name, analyzed.as_bytes()]);
        if diff <= 0 {
            return Ok(Outcome::Valid);
        }
        if !self.fix {
            self.out.say(&[
                b"AOF ",
                name,
                b" is not valid. Use the --fix option to try fixing it.\n",
            ]);
            return Err(Exit(1));
        }
        if !last_file {
            self.out.say(&[
                b"Failed to truncate AOF ",
                name,
                b" because it is not the last file\n",
            ]);
            return Err(Exit(1));
        }
        let sizes = format!(" from {size} bytes, with {diff} bytes, to {ok_up_to} bytes\n");
        self.out
            .say(&[b"This will shrink the AOF ", name, sizes.as_bytes()]);
        self.out.say(&[b"Continue? [y/N]: "]);
        let _ = self.out.0.flush();
        let mut answer = [0u8; 1];
        let yes =
            matches!(self.stdin.read(&mut answer), Ok(1) if answer[0].eq_ignore_ascii_case(&b'y'));
        if !yes {
            self.out.say(&[b"Aborting...\n"]);
            return Err(Exit(1));
        }
        if s.src.truncate(ok_up_to).is_err() {
            self.out.say(&[b"Failed to truncate AOF ", name, b"\n"]);
            return Err(Exit(1));
        }
        Ok(Outcome::Truncated)
    }
}
