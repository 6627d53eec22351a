//! The manifest read as redis-check-aof reads it (aofLoadManifestFromFile), with
//! its exact error texts: the checker must refuse what Redis refuses and say it
//! the same way. The server's own reader is [`crate::aof::Manifest`].

use std::io::{self, BufRead};

use super::libc::{atoll, cstr, is_c_space};
use super::stream::Stream;

/// MANIFEST_MAX_LINE.
const MAX_LINE: usize = 1024;

/// The files to check, in order.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Listed {
    pub base: Option<Vec<u8>>,
    pub incrs: Vec<Vec<u8>>,
}

/// Why the manifest was refused: the error text and, for most errors, the line
/// number and the trimmed line, which Redis logs too.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused {
    pub err: &'static str,
    pub at: Option<(usize, Vec<u8>)>,
}

/// Whether a file is a manifest as getInputFileType decides: some line (of at
/// most 1024 bytes, longer ones count as several) starts with `file`.
pub(crate) fn looks_like_manifest<S: BufRead>(src: S) -> io::Result<bool> {
    let mut s = Stream::new(src);
    let mut found = false;
    while let Some(chunk) = s.fgets(MAX_LINE + 1)? {
        found |= chunk.starts_with(b"file");
    }
    Ok(found)
}

/// Loads the manifest; `Err` with what Redis reports.
pub(crate) fn load<S: BufRead>(src: S) -> io::Result<Result<Listed, Refused>> {
    let mut s = Stream::new(src);
    let mut listed = Listed::default();
    let mut linenum = 0usize;
    let mut max_incr_seq = 0i64;
    let refuse = |err, at| Ok(Err(Refused { err, at }));
    loop {
        let Some(chunk) = s.fgets(MAX_LINE + 1)? else {
            if linenum == 0 {
                return refuse("Found an empty AOF manifest", None);
            }
            return Ok(Ok(listed));
        };
        linenum += 1;
        if chunk.first() == Some(&b'#') {
            continue;
        }
        let text = cstr(&chunk);
        if !text.contains(&b'\n') {
            return refuse("The AOF manifest file contains too long line", None);
        }
        let line = trim(text);
        let at = Some((linenum, line.to_vec()));
        if line.is_empty() {
            return refuse("Invalid AOF manifest file format", at);
        }
        let words = match split_args(line) {
            Some(w) if w.len() >= 6 && w.len() % 2 == 0 => w,
            _ => return refuse("Invalid AOF manifest file format", at),
        };
        let (mut name, mut seq, mut kind) = (None, 0i64, 0u8);
        for pair in words.chunks(2) {
            let [key, value] = pair else { continue };
            let key = cstr(key);
            if key.eq_ignore_ascii_case(b"file") {
                let n = cstr(value).to_vec();
                if n.contains(&b'/') || n.contains(&b'\\') {
                    return refuse("File can't be a path, just a filename", at);
                }
                name = Some(n);
            } else if key.eq_ignore_ascii_case(b"seq") {
                seq = atoll(value);
            } else if key.eq_ignore_ascii_case(b"type") {
                kind = value.first().copied().unwrap_or(0);
            }
        }
        let Some(name) = name.filter(|_| seq != 0 && kind != 0) else {
            return refuse("Invalid AOF manifest file format", at);
        };
        match kind {
            b'b' => {
                if listed.base.is_some() {
                    return refuse("Found duplicate base file information", at);
                }
                listed.base = Some(name);
            }
            b'h' => {}
            b'i' => {
                if seq <= max_incr_seq {
                    return refuse("Found a non-monotonic sequence number", at);
                }
                max_incr_seq = seq;
                listed.incrs.push(name);
            }
            _ => return refuse("Unknown AOF file type", at),
        }
    }
}

/// sdstrim(line, " \t\r\n").
fn trim(b: &[u8]) -> &[u8] {
    let strip = |c: &u8| matches!(c, b' ' | b'\t' | b'\r' | b'\n');
    let start = b.iter().position(|c| !strip(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !strip(c)).map_or(start, |i| i + 1);
    &b[start..end]
}

/// sdssplitargs: words separated by blanks, `"..."` with C escapes (`\xHH` only
/// with two hex digits), `'...'` with only `\'`; a closing quote must be followed
/// by a blank or the end. `None` for unbalanced quotes.
pub(crate) fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut words = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(words);
        }
        let (mut in_dq, mut in_sq) = (false, false);
        let mut w = Vec::new();
        loop {
            let c = at(p);
            if in_dq {
                if c == b'\\'
                    && at(p + 1) == b'x'
                    && at(p + 2).is_ascii_hexdigit()
                    && at(p + 3).is_ascii_hexdigit()
                {
                    let hex = [at(p + 2), at(p + 3)];
                    let v = std::str::from_utf8(&hex)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())?;
                    w.push(v);
                    p += 3;
                } else if c == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    w.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    w.push(c);
                }
            } else if in_sq {
                if c == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    w.push(b'\'');
                } else if c == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    p += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    w.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => {
                        if c != 0 {
                            p += 1;
                        }
                        break;
                    }
                    b'"' => in_dq = true,
                    b'\'' => in_sq = true,
                    _ => w.push(c),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        words.push(w);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load_str(s: &str) -> Result<Listed, Refused> {
        load(s.as_bytes()).unwrap()
    }

    #[test]
    fn loads_what_redis_writes() {
        let m = load_str(
            "file appendonly.aof.2.base.rdb seq 2 type b\n\
             file appendonly.aof.1.incr.aof seq 1 type h\n\
             file appendonly.aof.2.incr.aof seq 2 type i\n\
             # a comment\n\
             file \"x y\" seq 3 type i extra 1\n",
        )
        .unwrap();
        assert_eq!(m.base.as_deref(), Some(&b"appendonly.aof.2.base.rdb"[..]));
        assert_eq!(
            m.incrs,
            [b"appendonly.aof.2.incr.aof".to_vec(), b"x y".to_vec()]
        );
    }

    #[test]
    fn refuses_like_redis() {
        for (text, err, line) in [
            ("", "Found an empty AOF manifest", None),
            (
                "file a seq 1 type b",
                "The AOF manifest file contains too long line",
                None,
            ),
            ("\n", "Invalid AOF manifest file format", Some(1)),
            (
                "file a seq 1\n",
                "Invalid AOF manifest file format",
                Some(1),
            ),
            (
                "file a seq 0 type b\n",
                "Invalid AOF manifest file format",
                Some(1),
            ),
            (
                "file d/a seq 1 type b\n",
                "File can't be a path, just a filename",
                Some(1),
            ),
            ("file a seq 1 type x\n", "Unknown AOF file type", Some(1)),
            (
                "#c\nfile a seq 1 type b\nfile b seq 1 type b\n",
                "Found duplicate base file information",
                Some(3),
            ),
            (
                "file a seq 2 type i\nfile b seq 2 type i\n",
                "Found a non-monotonic sequence number",
                Some(2),
            ),
            (
                "file \"a seq 1 type b\n",
                "Invalid AOF manifest file format",
                Some(1),
            ),
        ] {
            let r = load_str(text).unwrap_err();
            assert_eq!(r.err, err, "{text:?}");
            assert_eq!(r.at.map(|(n, _)| n), line, "{text:?}");
        }
    }

    #[test]
    fn split_args_like_sds() {
        let w = split_args(br#"a "b c\x41\n" 'd\'e' f"g""#).unwrap();
        assert_eq!(w, [&b"a"[..], b"b cA\n", b"d'e", b"fg"]);
        assert_eq!(split_args(br#"f"g"h"#), None);
        assert_eq!(split_args(br#""a"b"#), None);
        assert_eq!(split_args(b"'a"), None);
        assert_eq!(split_args(b"  "), Some(vec![]));
    }

    #[test]
    fn manifest_detection_looks_at_line_starts() {
        assert!(looks_like_manifest(&b"*3\r\n$4\r\nfile\r\n"[..]).unwrap());
        assert!(!looks_like_manifest(&b"*3\r\n$4\r\nxfile\r\n"[..]).unwrap());
        assert!(!looks_like_manifest(&b""[..]).unwrap());
    }
}
