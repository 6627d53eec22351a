//! A byte source read the way redis-check-aof reads its `FILE *`: `fgets` with a
//! size limit, `fread` of an announced length, one byte peeked, the offset
//! (`ftello`) and the end-of-file flag (`feof`), which decide what it prints.

use std::io::{self, BufRead};

/// What an `fread` of an argument got. The argument itself is not kept (it may
/// be gigabytes): only what the checker looks at.
pub(crate) struct Fread {
    /// Bytes actually read.
    pub got: u64,
    /// The first bytes (at most [`HEAD`]), to recognise MULTI and EXEC.
    pub head: Vec<u8>,
    /// The last two bytes read, the argument's CRLF when whole.
    pub tail: [u8; 2],
}

/// Enough of an argument's start to tell `MULTI` from `MULTIX` or `MULTI\0x`.
pub(crate) const HEAD: usize = 6;

/// The file being checked, with C stdio's offset and EOF flag.
pub(crate) struct Stream<S> {
    pub src: S,
    pub pos: u64,
    pub eof: bool,
}

impl<S: BufRead> Stream<S> {
    pub(crate) fn new(src: S) -> Stream<S> {
        Stream {
            src,
            pos: 0,
            eof: false,
        }
    }

    /// `fgets(buf, size, fp)`: up to `size - 1` bytes, stopping after a newline.
    /// `None` when nothing was left to read.
    pub(crate) fn fgets(&mut self, size: usize) -> io::Result<Option<Vec<u8>>> {
        let max = size.saturating_sub(1);
        let mut line = Vec::new();
        while line.len() < max {
            let buf = self.src.fill_buf()?;
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let want = (max - line.len()).min(buf.len());
            let (take, done) = match buf[..want].iter().position(|&b| b == b'\n') {
                Some(nl) => (nl + 1, true),
                None => (want, false),
            };
            line.extend_from_slice(&buf[..take]);
            self.src.consume(take);
            self.pos += take as u64;
            if done {
                break;
            }
        }
        Ok(if line.is_empty() { None } else { Some(line) })
    }

    /// `fgets(buf, 2, fp)` then `fseek(fp, -1, SEEK_CUR)`: the next byte, not
    /// consumed. The seek clears the EOF flag; reaching the end sets it.
    pub(crate) fn peek(&mut self) -> io::Result<Option<u8>> {
        let next = self.src.fill_buf()?.first().copied();
        self.eof = next.is_none();
        Ok(next)
    }

    /// `fread(buf, 1, n, fp)`.
    pub(crate) fn fread(&mut self, n: u64) -> io::Result<Fread> {
        let mut r = Fread {
            got: 0,
            head: Vec::new(),
            tail: [0; 2],
        };
        while r.got < n {
            let buf = self.src.fill_buf()?;
            if buf.is_empty() {
                self.eof = true;
                break;
            }
            let take = usize::try_from(n - r.got).map_or(buf.len(), |left| left.min(buf.len()));
            let chunk = &buf[..take];
            let room = HEAD.saturating_sub(r.head.len()).min(take);
            r.head.extend_from_slice(&chunk[..room]);
            match chunk {
                [.., a, b] => r.tail = [*a, *b],
                [b] => r.tail = [r.tail[1], *b],
                [] => {}
            }
            self.src.consume(take);
            r.got += take as u64;
            self.pos += take as u64;
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fgets_stops_at_newline_limit_or_end() {
        let mut s = Stream::new(&b"ab\ncdefg"[..]);
        assert_eq!(s.fgets(128).unwrap().unwrap(), b"ab\n");
        assert!(!s.eof);
        assert_eq!(s.fgets(3).unwrap().unwrap(), b"cd");
        assert!(!s.eof);
        assert_eq!(s.fgets(128).unwrap().unwrap(), b"efg");
        assert!(s.eof);
        assert_eq!(s.pos, 8);
        assert_eq!(s.fgets(128).unwrap(), None);
    }

    #[test]
    fn fread_keeps_head_and_tail_across_buffer_refills() {
        let data = b"MULTI\r\nrest";
        let mut s = Stream::new(std::io::BufReader::with_capacity(1, &data[..]));
        let r = s.fread(7).unwrap();
        assert_eq!(
            (r.got, r.head.as_slice(), r.tail),
            (7, &b"MULTI\r"[..], *b"\r\n")
        );
        assert!(!s.eof);
        let r = s.fread(10).unwrap();
        assert_eq!((r.got, r.tail), (4, *b"st"));
        assert!(s.eof);
        assert_eq!(s.peek().unwrap(), None);
    }
}
