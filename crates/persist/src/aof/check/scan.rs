//! One AOF file checked as redis-check-aof's checkSingleAof does: RESP commands,
//! `#` annotations, MULTI/EXEC pairing, and where the last good command ends.
//!
//! The offsets, the `ok_up_to_line` counter and the error texts follow the C code's
//! reads exactly (an `fgets` of at most 127 bytes per count line, an `fread` per
//! argument), because that is what users compare and what `--fix` cuts at.

use std::io::{self, BufRead};

use super::libc::{cstr, hex_char, strtol};
use super::stream::Stream;
use super::{Exit, Out};

/// redis-check-aof's buffer for a `*<n>` or `$<n>` line.
const COUNT_LINE: usize = 128;
/// AOF_ANNOTATION_LINE_MAX_LEN.
const ANNOTATION_LINE: usize = 1024;

/// State kept across the files of one run, as the C globals are: the line
/// counter is never reset between files, neither is the error text.
pub(crate) struct Scanner {
    /// `line`: 1 plus every CRLF consumed so far.
    pub line: i64,
    /// The error text (`0x<offset>: ...`), empty when none.
    pub error: Vec<u8>,
    /// `epos`: where the read that failed started.
    pub epos: u64,
    /// `--truncate-to-timestamp` (0: off).
    pub to_timestamp: i64,
    /// readLong's stack buffer for `*` lines. A line torn at the end of the
    /// file leaves the byte after its NUL terminator as the previous `*` line
    /// left it, and the error message shows that byte. (The one for `$` lines is
    /// overwritten by the argument reads in between: zeros, as observed.)
    star_buf: [u8; COUNT_LINE],
}

/// How the scan of a file's commands ended.
pub(crate) enum ScanEnd {
    /// At the end of the file or at the first bad record; `ok_up_to` is where
    /// the last whole command (or whole MULTI/EXEC block) ends.
    Stopped { ok_up_to: u64 },
    /// A `#TS:` annotation later than `--truncate-to-timestamp`: the file is to be
    /// cut at `at`.
    CutAtTimestamp { at: u64 },
}

impl Scanner {
    pub(crate) fn new(to_timestamp: i64) -> Scanner {
        Scanner {
            line: 1,
            error: Vec::new(),
            epos: 0,
            to_timestamp,
            star_buf: [0; COUNT_LINE],
        }
    }

    /// The ERROR macro: the message cut at its first NUL and at 1023 bytes, then
    /// prefixed with the offset, as its two snprintf calls do.
    fn set_error(&mut self, msg: Vec<u8>) {
        let msg = cstr(&msg);
        let msg = &msg[..msg.len().min(1023)];
        let mut e = format!("0x{:16x}: ", self.epos).into_bytes();
        e.extend_from_slice(msg);
        e.truncate(1043);
        self.error = e;
    }

    /// The commands after `s`'s position (past any RDB preamble), until the end
    /// of the data or the first bad record; prints what the C loop prints on the
    /// way (format errors, the error line).
    pub(crate) fn scan<S: BufRead>(
        &mut self,
        s: &mut Stream<S>,
        name: &[u8],
        path: &[u8],
        last_file: bool,
        out: &mut Out<'_>,
    ) -> Result<ScanEnd, Exit> {
        let mut multi = 0i64;
        let mut pos = s.pos;
        let failed = |out: &mut Out<'_>| {
            out.say(&[b"Failed to read from AOF ", name, b", aborting...\n"]);
            Exit(1)
        };
        loop {
            if multi == 0 {
                pos = s.pos;
            }
            match s.peek().map_err(|_| failed(out))? {
                None => break,
                Some(b'#') => {
                    if let Some(at) = self.annotation(s, path, last_file, out)? {
                        return Ok(ScanEnd::CutAtTimestamp { at });
                    }
                }
                Some(b'*') => match self.command(s, path, &mut multi) {
                    Ok(true) => {}
                    Ok(false) => break,
                    Err(_) => return Err(failed(out)),
                },
                Some(_) => {
                    out.say(&[b"AOF ", name, b" format error\n"]);
                    break;
                }
            }
        }
        if s.eof && multi != 0 && self.error.is_empty() {
            self.set_error(b"Reached EOF before reading EXEC for MULTI".to_vec());
        }
        if !self.error.is_empty() {
            let e = self.error.clone();
            out.say(&[&e, b"\n"]);
        }
        Ok(ScanEnd::Stopped { ok_up_to: pos })
    }

    /// processAnnotations: `Some(offset)` when the file is to be cut there.
    fn annotation<S: BufRead>(
        &mut self,
        s: &mut Stream<S>,
        path: &[u8],
        last_file: bool,
        out: &mut Out<'_>,
    ) -> Result<Option<u64>, Exit> {
        self.epos = s.pos;
        let Ok(Some(buf)) = s.fgets(ANNOTATION_LINE) else {
            out.say(&[
                b"Failed to read annotations from AOF ",
                path,
                b", aborting...\n",
            ]);
            return Err(Exit(1));
        };
        if self.to_timestamp == 0 || !buf.starts_with(b"#TS:") {
            return Ok(None);
        }
        let (ts, end, overflow) = strtol(cstr(&buf[4..]));
        if overflow || buf.get(4 + end) != Some(&b'\r') {
            out.say(&[b"Invalid timestamp annotation\n"]);
            return Err(Exit(1));
        }
        if ts <= self.to_timestamp {
            return Ok(None);
        }
        let to = self.to_timestamp.to_string();
        if self.epos == 0 {
            out.say(&[
                b"AOF ",
                path,
                b" has nothing before timestamp ",
                to.as_bytes(),
                b", aborting...\n",
            ]);
            return Err(Exit(1));
        }
        if !last_file {
            let at = self.epos.to_string();
            out.say(&[
                b"Failed to truncate AOF ",
                path,
                b" to timestamp ",
                to.as_bytes(),
                b" to offset ",
                at.as_bytes(),
                b" because it is not the last file.\n",
            ]);
            out.say(&[b"If you insist, please delete all files after this file according to the manifest file and delete the corresponding records in manifest file manually. Then re-run redis-check-aof.\n"]);
            return Err(Exit(1));
        }
        Ok(Some(self.epos))
    }

    /// processRESP: one command; `false` (with the error text set, or at the end
    /// of the data) when it is not whole.
    fn command<S: BufRead>(
        &mut self,
        s: &mut Stream<S>,
        path: &[u8],
        multi: &mut i64,
    ) -> io::Result<bool> {
        let Some(argc) = self.count(s, b'*')? else {
            return Ok(false);
        };
        let mut i = 0i64;
        while i < argc {
            let Some(head) = self.argument(s)? else {
                return Ok(false);
            };
            if i == 0 {
                let name = cstr(&head);
                if name.eq_ignore_ascii_case(b"multi") {
                    *multi += 1;
                    if *multi != 1 {
                        self.set_error([&b"Unexpected MULTI in AOF "[..], path].concat());
                        return Ok(false);
                    }
                } else if name.eq_ignore_ascii_case(b"exec") {
                    *multi -= 1;
                    if *multi != 0 {
                        self.set_error([&b"Unexpected EXEC in AOF "[..], path].concat());
                        return Ok(false);
                    }
                }
            }
            i += 1;
        }
        Ok(true)
    }

    /// readLong: `<prefix><number>\r\n`. `None` at the end of the data (no error
    /// text) or when the line is bad (error text set).
    fn count<S: BufRead>(&mut self, s: &mut Stream<S>, prefix: u8) -> io::Result<Option<i64>> {
        self.epos = s.pos;
        let Some(buf) = s.fgets(COUNT_LINE)? else {
            return Ok(None);
        };
        let mut zeros = [0; COUNT_LINE];
        let stack = if prefix == b'*' {
            &mut self.star_buf
        } else {
            &mut zeros
        };
        stack[..buf.len()].copy_from_slice(&buf);
        if let Some(nul) = stack.get_mut(buf.len()) {
            *nul = 0;
        }
        let stack = *stack;
        let first = buf.first().copied().unwrap_or(0);
        if first != prefix {
            self.set_error(
                [
                    &b"Expected prefix '"[..],
                    &[prefix],
                    b"', got: '",
                    &[first],
                    b"'",
                ]
                .concat(),
            );
            return Ok(None);
        }
        let (n, end, _) = strtol(cstr(&buf[1..]));
        let at = |i: usize| stack.get(i).copied().unwrap_or(0);
        let end = 1 + end;
        if !self.newline(at(end), at(end + 1)) {
            return Ok(None);
        }
        Ok(Some(n))
    }

    /// readString: `$<len>\r\n<bytes>\r\n`; the argument's first bytes when whole.
    fn argument<S: BufRead>(&mut self, s: &mut Stream<S>) -> io::Result<Option<Vec<u8>>> {
        let Some(len) = self.count(s, b'$')? else {
            return Ok(None);
        };
        if !(0..=i64::MAX - 2).contains(&len) {
            self.set_error(
                format!(
                    "Expected to read string of {len} bytes, which is not in the suitable range"
                )
                .into_bytes(),
            );
            return Ok(None);
        }
        let want = len + 2;
        self.epos = s.pos;
        let r = s.fread(want as u64)?;
        if r.got != want as u64 {
            self.set_error(
                format!("Expected to read {want} bytes, got {} bytes", r.got).into_bytes(),
            );
            return Ok(None);
        }
        if !self.newline(r.tail[0], r.tail[1]) {
            return Ok(None);
        }
        let mut head = r.head;
        head.truncate(len.min(super::stream::HEAD as i64) as usize);
        Ok(Some(head))
    }

    /// consumeNewline on the two bytes at the expected CRLF.
    fn newline(&mut self, a: u8, b: u8) -> bool {
        if a == b'\r' && b == b'\n' {
            self.line += 1;
            return true;
        }
        self.set_error(
            format!("Expected \\r\\n, got: {}{}", hex_char(a), hex_char(b)).into_bytes(),
        );
        false
    }
}
