//! The report redis-check-rdb prints while it reads an RDB file, shared by
//! `ferrokv-check-rdb` and by `ferrokv-check-aof` (which checks an AOF's RDB
//! preamble the same way, as redis-check-aof does).

use std::io::{Read, Write};

use super::{ErrorKind, RdbError, RdbReader, Record};

/// Reads an RDB from `r` (positioned at its `REDIS` header), printing what
/// redis-check-rdb prints for it under the name `name`. `Some(bytes read)` when
/// the RDB is whole and sane, `None` after an error report. Keys whose expire is
/// before `now_ms` count as already expired. `r` is left just after the checksum
/// footer, so an AOF tail can be read from there.
pub fn report_rdb<R: Read>(
    r: R,
    name: &[u8],
    now_ms: i64,
    out: &mut dyn Write,
) -> std::io::Result<Option<u64>> {
    out.write_all(b"[offset 0] Checking RDB file ")?;
    out.write_all(name)?;
    out.write_all(b"\n")?;
    let mut counts = Counts::default();
    let mut reader = match RdbReader::new(r) {
        Ok(reader) => reader,
        Err(e) => return error(&e, &counts, out).map(|()| None),
    };
    loop {
        match reader.next_record() {
            Ok(None) => break,
            Ok(Some(Record::Aux(k, v))) => {
                write!(out, "[offset {}] AUX FIELD ", reader.offset())?;
                out.write_all(&k)?;
                out.write_all(b" = '")?;
                out.write_all(&v)?;
                out.write_all(b"'\n")?;
            }
            Ok(Some(Record::SelectDb(db))) => {
                writeln!(out, "[offset {}] Selecting DB ID {db}", reader.offset())?
            }
            // redis-check-rdb reads the size hints and libraries silently.
            Ok(Some(Record::ResizeDb { .. } | Record::Function(_))) => {}
            Ok(Some(Record::ModuleAux(name))) => writeln!(
                out,
                "[offset {}] MODULE AUX for module '{name}' skipped",
                reader.offset()
            )?,
            Ok(Some(Record::Entry(e))) => {
                counts.keys += 1;
                if let Some(at) = e.meta.expire_ms {
                    counts.expires += 1;
                    counts.expired += u64::from(at < now_ms);
                }
            }
            Err(e) => return error(&e, &counts, out).map(|()| None),
        }
    }
    match reader.checksum() {
        Some(0) => writeln!(
            out,
            "[offset {}] RDB file was saved with checksum disabled: no check performed.",
            reader.offset()
        )?,
        Some(_) => writeln!(out, "[offset {}] Checksum OK", reader.offset())?,
        None => {}
    }
    writeln!(out, "[offset {}] \\o/ RDB looks OK! \\o/", reader.offset())?;
    counts.show(out)?;
    if reader.empty_keys_skipped() > 0 {
        writeln!(
            out,
            "[info] {} empty keys skipped",
            reader.empty_keys_skipped()
        )?;
    }
    Ok(Some(reader.offset()))
}

#[derive(Default)]
struct Counts {
    keys: u64,
    expires: u64,
    expired: u64,
}

impl Counts {
    fn show(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(out, "[info] {} keys read", self.keys)?;
        writeln!(out, "[info] {} expires", self.expires)?;
        writeln!(out, "[info] {} already expired", self.expired)
    }
}

/// redis-check-rdb's error report, with its texts for a torn file and a wrong
/// checksum. Its `[additional info]` lines (what the loader was doing, the key
/// and type) are not given: the reader does not expose them.
fn error(e: &RdbError, counts: &Counts, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(out, "--- RDB ERROR DETECTED ---")?;
    match &e.kind {
        ErrorKind::Truncated => {
            writeln!(out, "[offset {}] Unexpected EOF reading RDB file", e.offset)?
        }
        ErrorKind::Checksum { .. } => writeln!(out, "[offset {}] RDB CRC error", e.offset)?,
        kind => writeln!(out, "[offset {}] {kind}", e.offset)?,
    }
    counts.show(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::{RdbValue, RdbWriter, WriteOptions};
    use crate::KeyMeta;

    fn sample() -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), WriteOptions::default()).unwrap();
        w.select_db(0, 2, 1).unwrap();
        w.entry(b"a", &RdbValue::String(b"1".to_vec()), &KeyMeta::default())
            .unwrap();
        let meta = KeyMeta {
            expire_ms: Some(5),
            ..KeyMeta::default()
        };
        w.entry(b"b", &RdbValue::String(b"2".to_vec()), &meta)
            .unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn reports_a_sane_file_and_stops_after_the_footer() {
        let mut data = sample();
        let len = data.len() as u64;
        data.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let mut cursor = std::io::Cursor::new(&data);
        let mut out = Vec::new();
        assert_eq!(
            report_rdb(&mut cursor, b"x.rdb", 10, &mut out).unwrap(),
            Some(len)
        );
        assert_eq!(cursor.position(), len);
        let text = String::from_utf8(out).unwrap();
        assert!(
            text.starts_with("[offset 0] Checking RDB file x.rdb\n"),
            "{text}"
        );
        assert!(text.contains("Selecting DB ID 0\n"), "{text}");
        assert!(
            text.ends_with(
                "\\o/ RDB looks OK! \\o/\n[info] 2 keys read\n[info] 1 expires\n[info] 1 already expired\n"
            ),
            "{text}"
        );
    }

    #[test]
    fn reports_errors_with_the_counts_so_far() {
        let data = sample();
        let mut out = Vec::new();
        let cut = &data[..data.len() - 3];
        assert_eq!(report_rdb(cut, b"x", 0, &mut out).unwrap(), None);
        let text = String::from_utf8(out).unwrap();
        assert!(text.contains("--- RDB ERROR DETECTED ---\n"), "{text}");
        assert!(
            text.ends_with("[info] 2 keys read\n[info] 1 expires\n[info] 0 already expired\n"),
            "{text}"
        );
    }
}
