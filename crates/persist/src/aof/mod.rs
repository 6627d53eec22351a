//! The Redis 7.0 append-only file, multi-part layout.
//!
//! A folder (`appenddirname`, default `appendonlydir`) holds:
//!
//! - the manifest `<appendfilename>.manifest` ([`manifest`]), which lists the files
//!   in load order: one base file, then the incr files;
//! - the base file `<appendfilename>.<seq>.base.rdb` (an RDB file, when
//!   aof-use-rdb-preamble is yes) or `.base.aof` (commands);
//! - incr files `<appendfilename>.<seq>.incr.aof`: the write commands run since
//!   the base was taken, in RESP, with a `SELECT` whenever the database changes.
//!
//! This module is the file format only: encoding commands ([`encode_command`]),
//! reading them back with truncation and corruption told apart ([`reader`]), a
//! value as the commands that rebuild it ([`rebuild_commands`]). The server drives
//! writing, fsync, rewrites and loading.

pub mod check;
pub mod manifest;
pub mod reader;

pub use manifest::{AofFile, FileKind, Manifest, ManifestError};
pub use reader::{CommandReader, Step};

use crate::rdb::RdbValue;

/// How many elements Redis puts in one command of a rewritten AOF
/// (AOF_REWRITE_ITEMS_PER_CMD).
pub const ITEMS_PER_CMD: usize = 64;

/// Appends `argv` as a RESP array of bulk strings (the AOF's record format).
pub fn encode_command<A: AsRef<[u8]>>(argv: &[A], out: &mut Vec<u8>) {
    let mut b = itoa::Buffer::new();
    out.push(b'*');
    out.extend_from_slice(b.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        let a = a.as_ref();
        out.reserve(a.len() + 16);
        out.push(b'$');
        out.extend_from_slice(b.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Appends `SELECT db`.
pub fn encode_select(db: usize, out: &mut Vec<u8>) {
    encode_command(&[b"SELECT".to_vec(), db.to_string().into_bytes()], out);
}

/// The commands a rewrite writes for one key (Redis's rewriteAppendOnlyFileRio):
/// SET / RPUSH / SADD / ZADD / HMSET with at most [`ITEMS_PER_CMD`] elements each,
/// then `PEXPIREAT` if the key has a TTL.
pub fn rebuild_commands(key: &[u8], value: &RdbValue, expire_ms: Option<i64>, out: &mut Vec<u8>) {
    let mut argv: Vec<Vec<u8>> = Vec::new();
    let flush = |argv: &mut Vec<Vec<u8>>, out: &mut Vec<u8>| {
        if argv.len() > 2 {
            encode_command(argv, out);
        }
        argv.clear();
    };
    let start = |argv: &mut Vec<Vec<u8>>, name: &[u8]| {
        if argv.is_empty() {
            argv.push(name.to_vec());
            argv.push(key.to_vec());
        }
    };
    match value {
        RdbValue::String(s) => encode_command(&[&b"SET"[..], key, s], out),
        RdbValue::List(items) => {
            for chunk in items.chunks(ITEMS_PER_CMD) {
                start(&mut argv, b"RPUSH");
                argv.extend(chunk.iter().cloned());
                flush(&mut argv, out);
            }
        }
        RdbValue::Set(members) => {
            for chunk in members.chunks(ITEMS_PER_CMD) {
                start(&mut argv, b"SADD");
                argv.extend(chunk.iter().cloned());
                flush(&mut argv, out);
            }
        }
        RdbValue::ZSet(pairs) | RdbValue::ZSetListpack(pairs) => {
            for chunk in pairs.chunks(ITEMS_PER_CMD) {
                start(&mut argv, b"ZADD");
                for (m, score) in chunk {
                    argv.push(format_score(*score).into_bytes());
                    argv.push(m.clone());
                }
                flush(&mut argv, out);
            }
        }
        RdbValue::Stream(st) => stream_commands(key, st, out),
        RdbValue::Hash(pairs) | RdbValue::HashListpack(pairs) => {
            for chunk in pairs.chunks(ITEMS_PER_CMD) {
                start(&mut argv, b"HMSET");
                for (f, v) in chunk {
                    argv.push(f.clone());
                    argv.push(v.clone());
                }
                flush(&mut argv, out);
            }
        }
    }
    if let Some(at) = expire_ms {
        encode_command(&[&b"PEXPIREAT"[..], key, at.to_string().as_bytes()], out);
    }
}

/// The commands that rebuild a stream exactly (aof.c's rewriteStreamObject):
/// its entries, its counters, its groups with their consumers and PELs.
fn stream_commands(key: &[u8], st: &ferrokv_core::types::stream::StreamValue, out: &mut Vec<u8>) {
    use ferrokv_core::types::stream::StreamId;
    let id = |i: StreamId| i.to_bytes();
    if st.length > 0 {
        st.visit(StreamId::ZERO, StreamId::MAX, false, false, |e| {
            let mut argv: Vec<&[u8]> = vec![b"XADD", key];
            let idb = id(e.id);
            argv.push(&idb);
            let fields = e.fields();
            argv.extend(fields.iter().map(Vec::as_slice));
            encode_command(&argv, out);
            true
        });
    } else {
        // An empty stream is made by adding an entry and trimming it away.
        encode_command(
            &[&b"XADD"[..], key, b"MAXLEN", b"0", b"0-1", b"x", b"y"],
            out,
        );
    }
    encode_command(
        &[
            &b"XSETID"[..],
            key,
            &id(st.last_id),
            b"ENTRIESADDED",
            st.entries_added.to_string().as_bytes(),
            b"MAXDELETEDID",
            &id(st.max_deleted_id),
        ],
        out,
    );
    for (name, g) in &st.groups {
        encode_command(
            &[
                &b"XGROUP"[..],
                b"CREATE",
                key,
                name,
                &id(g.last_id),
                b"ENTRIESREAD",
                g.entries_read.to_string().as_bytes(),
            ],
            out,
        );
        for (cname, c) in &g.consumers {
            if c.pel.is_empty() {
                encode_command(&[&b"XGROUP"[..], b"CREATECONSUMER", key, name, cname], out);
                continue;
            }
            for pid in &c.pel {
                let (time, count) = g
                    .pel
                    .get(pid)
                    .map_or((0, 0), |n| (n.delivery_time, n.delivery_count));
                encode_command(
                    &[
                        &b"XCLAIM"[..],
                        key,
                        name,
                        cname,
                        b"0",
                        &id(*pid),
                        b"TIME",
                        time.to_string().as_bytes(),
                        b"RETRYCOUNT",
                        count.to_string().as_bytes(),
                        b"JUSTID",
                        b"FORCE",
                    ],
                    out,
                );
            }
        }
    }
}

/// A score as Redis writes it in a rewrite (`%.17g`, `inf` / `-inf`): exact when
/// read back.
fn format_score(score: f64) -> String {
    if score.is_infinite() {
        return if score > 0.0 { "inf" } else { "-inf" }.to_string();
    }
    // Rust's shortest round-trip form is exact too, and ZADD accepts it.
    format!("{score}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_resp_arrays() {
        let mut out = Vec::new();
        encode_command(&[&b"SET"[..], b"k", b""], &mut out);
        encode_select(3, &mut out);
        assert_eq!(
            out,
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n3\r\n"
        );
    }

    #[test]
    fn rebuild_splits_big_values_and_adds_the_ttl() {
        let items: Vec<Vec<u8>> = (0..130).map(|i| i.to_string().into_bytes()).collect();
        let mut out = Vec::new();
        rebuild_commands(b"l", &RdbValue::List(items.clone()), Some(42), &mut out);
        let mut r = CommandReader::new(&out);
        let mut cmds = Vec::new();
        while let Step::Command(argv) = r.next_step() {
            cmds.push(argv);
        }
        assert_eq!(cmds.len(), 4);
        assert_eq!(cmds[0].len(), 2 + 64);
        assert_eq!(cmds[2].len(), 2 + 2);
        let back: Vec<Vec<u8>> = cmds[..3].iter().flat_map(|c| c[2..].to_vec()).collect();
        assert_eq!(back, items);
        assert_eq!(cmds[3], [&b"PEXPIREAT"[..], b"l", b"42"]);
        let mut out = Vec::new();
        rebuild_commands(
            b"z",
            &RdbValue::ZSet(vec![
                (b"a".to_vec(), 1.5),
                (b"b".to_vec(), f64::NEG_INFINITY),
            ]),
            None,
            &mut out,
        );
        let mut r = CommandReader::new(&out);
        assert_eq!(
            r.next_step(),
            Step::Command(vec![
                b"ZADD".to_vec(),
                b"z".to_vec(),
                b"1.5".to_vec(),
                b"a".to_vec(),
                b"-inf".to_vec(),
                b"b".to_vec()
            ])
        );
        assert_eq!(r.next_step(), Step::End);
    }
}
