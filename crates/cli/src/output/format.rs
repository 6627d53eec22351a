//! The output formats of redis-cli: the human (tty) form, raw, CSV, JSON and quoted
//! JSON. Each formatter writes one reply; the caller adds the delimiter after it.

use ferrokv_resp::{format_double, Frame};

use super::repr::push_repr;

/// Which form replies are printed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// `1) "a"`, `(integer) 1`: the default on a terminal.
    Tty,
    /// Bare payloads: the default when stdout is not a terminal.
    Raw,
    /// `--csv`
    Csv,
    /// `--json`
    Json,
    /// `--quoted-json`
    QuotedJson,
}

/// A reply redis-cli 7.0 cannot print (it exits with this message).
#[derive(Debug)]
pub struct Unprintable(pub String);

/// Formats `frame` in `mode`. `bulk_delim` separates the elements of an aggregate in
/// raw mode (`-d`).
pub fn format_reply(
    frame: &Frame,
    mode: OutputMode,
    bulk_delim: &[u8],
) -> Result<Vec<u8>, Unprintable> {
    check_printable(frame)?;
    let mut out = Vec::new();
    match mode {
        OutputMode::Tty => tty(frame, b"", &mut out),
        OutputMode::Raw => raw(frame, bulk_delim, &mut out),
        OutputMode::Csv => {
            csv(frame, &mut out);
            out.push(b'\n');
        }
        OutputMode::Json | OutputMode::QuotedJson => {
            json(frame, mode == OutputMode::QuotedJson, &mut out);
            out.push(b'\n');
        }
    }
    Ok(out)
}

/// redis-cli's reply parser knows no RESP3 big numbers or attributes; it stops there.
fn check_printable(frame: &Frame) -> Result<(), Unprintable> {
    match frame {
        Frame::BigNumber(_) => Err(Unprintable("Unknown reply type: 13".into())),
        Frame::Attribute { .. } => Err(Unprintable(
            "Error: Protocol error, got \"|\" as reply type byte".into(),
        )),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            items.iter().try_for_each(check_printable)
        }
        Frame::Map(pairs) => pairs.iter().try_for_each(|(k, v)| {
            check_printable(k)?;
            check_printable(v)
        }),
        _ => Ok(()),
    }
}

fn double_text(v: f64) -> Vec<u8> {
    let mut s = Vec::new();
    format_double(v, &mut s);
    s
}

/// The elements of an aggregate as redis-cli's reply library flattens them (a map is
/// its keys and values in turn), with the character that follows each index.
fn aggregate(frame: &Frame) -> Option<(Vec<&Frame>, u8, &'static str)> {
    match frame {
        Frame::Array(items) => Some((items.iter().collect(), b')', "(empty array)")),
        Frame::Push(items) => Some((items.iter().collect(), b')', "(empty push)")),
        Frame::Set(items) => Some((items.iter().collect(), b'~', "(empty set)")),
        Frame::Map(pairs) => Some((
            pairs.iter().flat_map(|(k, v)| [k, v]).collect(),
            b'#',
            "(empty hash)",
        )),
        _ => None,
    }
}

fn tty(frame: &Frame, prefix: &[u8], out: &mut Vec<u8>) {
    match frame {
        Frame::Error(e) | Frame::BlobError(e) => {
            out.extend_from_slice(b"(error) ");
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) | Frame::Verbatim { data: s, .. } | Frame::BigNumber(s) => {
            out.extend_from_slice(s);
            out.push(b'\n');
        }
        Frame::Integer(i) => out.extend_from_slice(format!("(integer) {i}\n").as_bytes()),
        Frame::Double(d) => {
            out.extend_from_slice(b"(double) ");
            out.extend_from_slice(&double_text(*d));
            out.push(b'\n');
        }
        Frame::Bulk(b) => {
            push_repr(out, b);
            out.push(b'\n');
        }
        Frame::Null | Frame::NullBulk | Frame::NullArray => out.extend_from_slice(b"(nil)\n"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)\n" } else { b"(false)\n" }),
        Frame::Attribute { data, .. } => tty(data, prefix, out),
        Frame::Array(_) | Frame::Set(_) | Frame::Map(_) | Frame::Push(_) => {
            let Some((items, sep, empty)) = aggregate(frame) else {
                return;
            };
            if items.is_empty() {
                out.extend_from_slice(empty.as_bytes());
                out.push(b'\n');
                return;
            }
            let is_map = matches!(frame, Frame::Map(_));
            let count = if is_map { items.len() / 2 } else { items.len() };
            let width = count.to_string().len();
            let mut child_prefix = prefix.to_vec();
            child_prefix.resize(child_prefix.len() + width + 2, b' ');
            let mut i = 0;
            while i < items.len() {
                let index = if is_map { i / 2 } else { i } + 1;
                // The first element follows its parent's index on the same line.
                if i > 0 {
                    out.extend_from_slice(prefix);
                }
                out.extend_from_slice(format!("{index:>width$}").as_bytes());
                out.push(sep);
                out.push(b' ');
                tty(items[i], &child_prefix, out);
                if is_map {
                    i += 1;
                    out.pop();
                    out.extend_from_slice(b" => ");
                    let mut value = Vec::new();
                    tty(items[i], &child_prefix, &mut value);
                    // A value of several lines starts on a line of its own, indented
                    // like the lines after it.
                    if value[..value.len().saturating_sub(1)].contains(&b'\n') {
                        out.push(b'\n');
                        out.extend_from_slice(&child_prefix);
                    }
                    out.extend_from_slice(&value);
                }
                i += 1;
            }
        }
    }
}

fn raw(frame: &Frame, bulk_delim: &[u8], out: &mut Vec<u8>) {
    match frame {
        Frame::Error(e) | Frame::BlobError(e) => {
            out.extend_from_slice(e);
            out.push(b'\n');
        }
        Frame::Simple(s) | Frame::Bulk(s) | Frame::BigNumber(s) => out.extend_from_slice(s),
        Frame::Verbatim { data, .. } => out.extend_from_slice(data),
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(&double_text(*d)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => {}
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"(true)" } else { b"(false)" }),
        Frame::Attribute { data, .. } => raw(data, bulk_delim, out),
        Frame::Map(pairs) => {
            for (n, (k, v)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.extend_from_slice(bulk_delim);
                }
                raw(k, bulk_delim, out);
                out.push(b' ');
                raw(v, bulk_delim, out);
            }
        }
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.extend_from_slice(bulk_delim);
                }
                raw(item, bulk_delim, out);
            }
        }
    }
}

fn csv(frame: &Frame, out: &mut Vec<u8>) {
    match frame {
        Frame::Error(e) | Frame::BlobError(e) => {
            out.extend_from_slice(b"ERROR,");
            push_repr(out, e);
        }
        Frame::Simple(s) | Frame::Bulk(s) | Frame::Verbatim { data: s, .. } => push_repr(out, s),
        Frame::BigNumber(s) => out.extend_from_slice(s),
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(&double_text(*d)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => out.extend_from_slice(b"NULL"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Frame::Attribute { data, .. } => csv(data, out),
        Frame::Array(_) | Frame::Set(_) | Frame::Map(_) | Frame::Push(_) => {
            if let Some((items, _, _)) = aggregate(frame) {
                for (n, item) in items.into_iter().enumerate() {
                    if n > 0 {
                        out.push(b',');
                    }
                    csv(item, out);
                }
            }
        }
    }
}

/// A JSON string. Plain JSON passes bytes through and escapes what JSON requires;
/// quoted JSON is redis-cli's quoted form with its backslashes doubled, so that it is
/// pure ASCII.
fn json_string(data: &[u8], quoted: bool, out: &mut Vec<u8>) {
    if quoted {
        let mut r = Vec::new();
        push_repr(&mut r, data);
        out.push(b'"');
        for &c in &r[1..r.len() - 1] {
            if c == b'\\' {
                out.extend_from_slice(b"\\\\");
            } else {
                out.push(c);
            }
        }
        out.push(b'"');
        return;
    }
    out.push(b'"');
    for &c in data {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            8 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..=0x1f => out.extend_from_slice(format!("\\u{c:04x}").as_bytes()),
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

fn json(frame: &Frame, quoted: bool, out: &mut Vec<u8>) {
    match frame {
        Frame::Error(e) | Frame::BlobError(e) => {
            out.extend_from_slice(b"error:");
            json_string(e, quoted, out);
        }
        Frame::Simple(s) | Frame::Bulk(s) | Frame::Verbatim { data: s, .. } => {
            json_string(s, quoted, out)
        }
        Frame::BigNumber(s) => out.extend_from_slice(s),
        Frame::Integer(i) => out.extend_from_slice(i.to_string().as_bytes()),
        Frame::Double(d) => out.extend_from_slice(&double_text(*d)),
        Frame::Null | Frame::NullBulk | Frame::NullArray => out.extend_from_slice(b"null"),
        Frame::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Frame::Attribute { data, .. } => json(data, quoted, out),
        Frame::Array(items) | Frame::Set(items) | Frame::Push(items) => {
            out.push(b'[');
            for (n, item) in items.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                json(item, quoted, out);
            }
            out.push(b']');
        }
        Frame::Map(pairs) => {
            out.push(b'{');
            for (n, (k, v)) in pairs.iter().enumerate() {
                if n > 0 {
                    out.push(b',');
                }
                // JSON keys must be strings: other key types are quoted as raw text.
                match k {
                    Frame::Simple(s) | Frame::Bulk(s) | Frame::Verbatim { data: s, .. } => {
                        json_string(s, quoted, out)
                    }
                    other => {
                        let mut r = Vec::new();
                        raw(other, b"\n", &mut r);
                        json_string(&r, quoted, out);
                    }
                }
                out.push(b':');
                json(v, quoted, out);
            }
            out.push(b'}');
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn fmt(f: &Frame, m: OutputMode) -> String {
        String::from_utf8(format_reply(f, m, b"\n").unwrap()).unwrap()
    }

    #[test]
    fn tty_nesting() {
        let f = Frame::Array(vec![
            Frame::Array(vec![Frame::bulk("m"), Frame::Double(1.5)]),
            Frame::Integer(3),
        ]);
        assert_eq!(
            fmt(&f, OutputMode::Tty),
            "1) 1) \"m\"\n   2) (double) 1.5\n2) (integer) 3\n"
        );
        let m = Frame::Map(vec![(
            Frame::bulk("k"),
            Frame::Map(vec![(Frame::bulk("a"), Frame::Integer(1))]),
        )]);
        assert_eq!(
            fmt(&m, OutputMode::Tty),
            "1# \"k\" => 1# \"a\" => (integer) 1\n"
        );
        let two = Frame::Map(vec![(
            Frame::bulk("k"),
            Frame::Array(vec![Frame::Integer(1), Frame::Integer(2)]),
        )]);
        assert_eq!(
            fmt(&two, OutputMode::Tty),
            "1# \"k\" => \n   1) (integer) 1\n   2) (integer) 2\n"
        );
    }

    #[test]
    fn other_modes() {
        let m = Frame::Map(vec![(Frame::Integer(0), Frame::Boolean(false))]);
        assert_eq!(fmt(&m, OutputMode::Raw), "0 (false)");
        assert_eq!(fmt(&m, OutputMode::Csv), "0,false\n");
        assert_eq!(fmt(&m, OutputMode::Json), "{\"0\":false}\n");
        assert!(format_reply(&Frame::BigNumber("1".into()), OutputMode::Raw, b"\n").is_err());
    }
}
