//! Reading AOF commands back, telling a torn tail (the process died mid-write:
//! the file ends inside a record) from corruption (bytes that are no record).

/// What [`CommandReader::next_step`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A complete command.
    Command(Vec<Vec<u8>>),
    /// The data ends exactly after the last record.
    End,
    /// The data ends inside a record; everything before `valid_up_to` is whole.
    Truncated {
        /// Offset where the incomplete record starts.
        valid_up_to: usize,
    },
    /// No valid record at `offset`.
    Corrupt {
        /// Offset of the bad record.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
}

/// Reads RESP-array commands from a buffer holding one AOF file.
pub struct CommandReader<'a> {
    data: &'a [u8],
    pos: usize,
}

/// Longest count line accepted (Redis reads lines of at most 128 bytes).
const MAX_LINE: usize = 128;

enum Line {
    Value(i64),
    Eof,
    Bad(&'static str),
}

impl<'a> CommandReader<'a> {
    /// A reader at the start of `data`.
    pub fn new(data: &'a [u8]) -> CommandReader<'a> {
        CommandReader { data, pos: 0 }
    }

    /// Offset of the next record.
    pub fn offset(&self) -> usize {
        self.pos
    }

    /// Reads `<prefix><digits>\r\n` at `at`.
    fn count_line(&self, at: usize, prefix: u8) -> (Line, usize) {
        let rest = &self.data[at.min(self.data.len())..];
        if rest.is_empty() {
            return (Line::Eof, at);
        }
        if rest[0] != prefix {
            return (
                Line::Bad(if prefix == b'*' {
                    "expected '*' (start of a command)"
                } else {
                    "expected '$' (start of an argument)"
                }),
                at,
            );
        }
        let Some(nl) = rest.iter().take(MAX_LINE).position(|&b| b == b'\n') else {
            if rest.len() < MAX_LINE {
                return (Line::Eof, at);
            }
            return (Line::Bad("count line too long"), at);
        };
        let digits = &rest[1..nl];
        let Some(digits) = digits.strip_suffix(b"\r") else {
            return (Line::Bad("count line not ended by CRLF"), at);
        };
        let n = std::str::from_utf8(digits)
            .ok()
            .filter(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<i64>().ok());
        match n {
            Some(n) => (Line::Value(n), at + nl + 1),
            None => (Line::Bad("invalid count"), at),
        }
    }

    /// The next command, or why there is none.
    pub fn next_step(&mut self) -> Step {
        // Annotations (`#TS:...` with aof-timestamp-enabled) are skipped, as Redis
        // does when loading.
        while self.data.get(self.pos) == Some(&b'#') {
            match self.data[self.pos..].iter().position(|&b| b == b'\n') {
                Some(nl) => self.pos += nl + 1,
                None => {
                    return Step::Truncated {
                        valid_up_to: self.pos,
                    }
                }
            }
        }
        let start = self.pos;
        let truncated = Step::Truncated { valid_up_to: start };
        let corrupt = |reason| Step::Corrupt {
            offset: start,
            reason,
        };
        let (argc, mut at) = match self.count_line(start, b'*') {
            (Line::Eof, _) if start >= self.data.len() => return Step::End,
            (Line::Eof, _) => return truncated,
            (Line::Bad(r), _) => return corrupt(r),
            (Line::Value(n), at) => (n, at),
        };
        if argc < 1 {
            return corrupt("command with no arguments");
        }
        let mut argv = Vec::with_capacity(argc.min(1024) as usize);
        for _ in 0..argc {
            let (len, after) = match self.count_line(at, b'$') {
                (Line::Eof, _) => return truncated,
                (Line::Bad(r), _) => return corrupt(r),
                (Line::Value(n), after) => (n as usize, after),
            };
            let Some(end) = after
                .checked_add(len)
                .filter(|e| e.checked_add(2).is_some())
            else {
                return corrupt("invalid length");
            };
            if end + 2 > self.data.len() {
                // A prefix of "\r\n" is still a torn tail; anything else is not.
                let tail = &self.data[end.min(self.data.len())..];
                if !b"\r\n".starts_with(tail) {
                    return corrupt("argument not ended by CRLF");
                }
                return truncated;
            }
            if &self.data[end..end + 2] != b"\r\n" {
                return corrupt("argument not ended by CRLF");
            }
            argv.push(self.data[after..end].to_vec());
            at = end + 2;
        }
        self.pos = at;
        Step::Command(argv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aof::encode_command;

    fn sample() -> Vec<u8> {
        let mut v = Vec::new();
        encode_command(&[&b"SET"[..], b"key", b"va\r\nlue"], &mut v);
        encode_command(&[&b"INCR"[..], b"counter"], &mut v);
        v
    }

    #[test]
    fn reads_commands_then_end() {
        let data = sample();
        let mut r = CommandReader::new(&data);
        assert_eq!(
            r.next_step(),
            Step::Command(vec![
                b"SET".to_vec(),
                b"key".to_vec(),
                b"va\r\nlue".to_vec()
            ])
        );
        assert!(matches!(r.next_step(), Step::Command(_)));
        assert_eq!(r.next_step(), Step::End);
        assert_eq!(r.offset(), data.len());
        let mut with_ts = b"#TS:1700000000\r\n".to_vec();
        with_ts.extend_from_slice(&data);
        let mut r = CommandReader::new(&with_ts);
        assert!(matches!(r.next_step(), Step::Command(_)));
    }

    #[test]
    fn every_torn_tail_is_truncated_never_corrupt() {
        let data = sample();
        let mut first = CommandReader::new(&data);
        first.next_step();
        let boundary = first.offset();
        for cut in boundary + 1..data.len() {
            let mut r = CommandReader::new(&data[..cut]);
            assert!(matches!(r.next_step(), Step::Command(_)));
            assert_eq!(
                r.next_step(),
                Step::Truncated {
                    valid_up_to: boundary
                },
                "cut at {cut}"
            );
        }
        for cut in 1..boundary {
            let mut r = CommandReader::new(&data[..cut]);
            assert_eq!(
                r.next_step(),
                Step::Truncated { valid_up_to: 0 },
                "cut at {cut}"
            );
        }
    }

    proptest::proptest! {
        /// Any bytes: the reader ends (whole, truncated or corrupt) without
        /// panicking, and only ever moves forward.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200)) {
            let mut r = CommandReader::new(&data);
            let mut last = 0;
            for _ in 0..data.len() + 1 {
                match r.next_step() {
                    Step::Command(_) => {
                        proptest::prop_assert!(r.offset() > last);
                        last = r.offset();
                    }
                    _ => break,
                }
            }
        }

        /// Valid commands cut anywhere: every whole command is read, then the
        /// cut one is a truncation, never corruption.
        #[test]
        fn cut_commands_are_truncated(
            cmds in proptest::collection::vec(proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..12), 1..4), 1..5),
            cut in 0usize..400,
        ) {
            let mut data = Vec::new();
            let mut ends = Vec::new();
            for c in &cmds {
                encode_command(c, &mut data);
                ends.push(data.len());
            }
            let cut = cut.min(data.len());
            let mut r = CommandReader::new(&data[..cut]);
            let whole = ends.iter().filter(|&&e| e <= cut).count();
            for c in cmds.iter().take(whole) {
                proptest::prop_assert_eq!(r.next_step(), Step::Command(c.clone()));
            }
            let step = r.next_step();
            if ends.contains(&cut) || cut == 0 {
                proptest::prop_assert_eq!(step, Step::End);
            } else {
                proptest::prop_assert_eq!(step, Step::Truncated { valid_up_to: r.offset() });
            }
        }
    }

    #[test]
    fn garbage_is_corrupt_with_its_offset() {
        let mut data = sample();
        let len = data.len();
        data.extend_from_slice(b"hello\r\n");
        let mut r = CommandReader::new(&data);
        r.next_step();
        r.next_step();
        assert!(matches!(r.next_step(), Step::Corrupt { offset, .. } if offset == len));
        for bad in [
            &b"*0\r\n"[..],
            b"*1\r\n$3\r\nabcXY",
            b"*1\r\n+3\r\nabc\r\n",
            b"*x\r\n",
            b"*1\n",
            b"*1\r\n$99999999999999999999999\r\n",
            b"*1\r\n$3\r\nabcX",
        ] {
            let mut r = CommandReader::new(bad);
            assert!(matches!(r.next_step(), Step::Corrupt { .. }), "{bad:?}");
        }
    }
}
