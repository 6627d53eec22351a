//! Writing RDB files and values with the encodings Redis 7.0 writes.

use std::io::Write;

use crc::Digest;

use super::blobs::{intset_build, ListpackBuilder};
use super::{
    op, sort_zset, strict_i64, ty, KeyMeta, RdbValue, CRC64, QUICKLIST_NODE_PACKED,
    QUICKLIST_NODE_PLAIN, RDB_VERSION,
};

/// Encoding thresholds and switches, with Redis 7.0's defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// `rdbcompression`: LZF-compress strings longer than 20 bytes.
    pub compression: bool,
    /// `rdbchecksum`: write the CRC64 footer (zero otherwise).
    pub checksum: bool,
    /// `hash-max-listpack-entries`.
    pub hash_max_listpack_entries: usize,
    /// `hash-max-listpack-value`.
    pub hash_max_listpack_value: usize,
    /// `zset-max-listpack-entries`.
    pub zset_max_listpack_entries: usize,
    /// `zset-max-listpack-value`.
    pub zset_max_listpack_value: usize,
    /// `set-max-intset-entries`.
    pub set_max_intset_entries: usize,
    /// `list-max-listpack-size`: positive, entries per quicklist node; negative,
    /// -1..-5 for 4, 8, 16, 32, 64 KiB nodes.
    pub list_max_listpack_size: i64,
    /// Elements at least this long get a PLAIN quicklist node (Redis: 1 GiB).
    pub list_plain_threshold: usize,
}

impl Default for WriteOptions {
    fn default() -> WriteOptions {
        WriteOptions {
            compression: true,
            checksum: true,
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            zset_max_listpack_entries: 128,
            zset_max_listpack_value: 64,
            set_max_intset_entries: 512,
            list_max_listpack_size: -2,
            list_plain_threshold: 1 << 30,
        }
    }
}

/// Quicklist nodes with a count limit still stop at this size (SIZE_SAFETY_LIMIT).
const SIZE_SAFETY_LIMIT: usize = 8192;
/// What quicklist adds to an element's length to estimate its listpack entry
/// (SIZE_ESTIMATE_OVERHEAD): Redis decides whether a node takes one more
/// element by that estimate, not by the entry's exact size.
const SIZE_ESTIMATE_OVERHEAD: usize = 8;

fn push_len(out: &mut Vec<u8>, n: u64) {
    if n < 64 {
        out.push(n as u8);
    } else if n < 16384 {
        out.push(0x40 | (n >> 8) as u8);
        out.push((n & 0xFF) as u8);
    } else if n <= u64::from(u32::MAX) {
        out.push(0x80);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// rdbSaveRawString: integer encoding for short canonical integers that fit in 32
/// bits, LZF for longer strings when compression is on, raw otherwise.
fn push_string(out: &mut Vec<u8>, s: &[u8], opts: &WriteOptions) {
    if s.len() <= 11 {
        if let Some(v) = strict_i64(s) {
            if let Ok(v) = i8::try_from(v) {
                out.push(0xC0);
                out.push(v as u8);
                return;
            }
            if let Ok(v) = i16::try_from(v) {
                out.push(0xC1);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
            if let Ok(v) = i32::try_from(v) {
                out.push(0xC2);
                out.extend_from_slice(&v.to_le_bytes());
                return;
            }
        }
    }
    if opts.compression && s.len() > 20 {
        // Redis gives LZF an output buffer of len-4 bytes and stores the string raw
        // when the compressed form does not fit.
        if let Some(packed) = super::lzf::compress(s, s.len() - 4) {
            out.push(0xC3);
            push_len(out, packed.len() as u64);
            push_len(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
    push_len(out, s.len() as u64);
    out.extend_from_slice(s);
}

fn push_score(out: &mut Vec<u8>, score: f64) {
    out.extend_from_slice(&score.to_le_bytes());
}

/// Score text as zzlInsertAt writes it into a listpack (d2string: integers
/// without a fraction, otherwise `%.17g`).
fn score_text(score: f64) -> Vec<u8> {
    let mut s = Vec::with_capacity(24);
    ferrokv_resp::format_double(score, &mut s);
    s
}

/// Whether a node may take one more element of `next_len` bytes, by
/// _quicklistNodeAllowInsert's rule.
fn node_fits(lp: &ListpackBuilder, next_len: usize, fill: i64) -> bool {
    let size = lp.bytes() + next_len + SIZE_ESTIMATE_OVERHEAD;
    if fill >= 0 {
        lp.len() < fill.max(1) as usize && size <= SIZE_SAFETY_LIMIT
    } else {
        let limit = 4096usize << ((-fill).min(5) - 1);
        size <= limit
    }
}

/// Appends the value's encoding (without its type byte) and returns the type byte.
pub fn encode_value(v: &RdbValue, opts: &WriteOptions, out: &mut Vec<u8>) -> u8 {
    match v {
        RdbValue::Stream(st) => {
            push_len(out, st.node_count() as u64);
            for (master, node) in st.nodes() {
                push_string(out, &master.encode(), opts);
                push_string(out, &super::stream::node_listpack(*master, node), opts);
            }
            push_len(out, st.length);
            for id in [st.last_id, st.first_id, st.max_deleted_id] {
                push_len(out, id.ms);
                push_len(out, id.seq);
            }
            push_len(out, st.entries_added);
            super::stream::write_groups(st, out, push_len, &|o, b| push_string(o, b, opts));
            ty::STREAM_LISTPACKS_2
        }
        RdbValue::String(s) => {
            push_string(out, s, opts);
            ty::STRING
        }
        RdbValue::List(items) => {
            // Nodes are built first: the node count precedes them.
            let mut nodes: Vec<(u64, Vec<u8>)> = Vec::new();
            let mut lp = ListpackBuilder::new();
            for it in items {
                if it.len() >= opts.list_plain_threshold {
                    if lp.len() > 0 {
                        let full = std::mem::replace(&mut lp, ListpackBuilder::new());
                        nodes.push((QUICKLIST_NODE_PACKED, full.finish()));
                    }
                    nodes.push((QUICKLIST_NODE_PLAIN, it.clone()));
                    continue;
                }
                if lp.len() > 0 && !node_fits(&lp, it.len(), opts.list_max_listpack_size) {
                    let full = std::mem::replace(&mut lp, ListpackBuilder::new());
                    nodes.push((QUICKLIST_NODE_PACKED, full.finish()));
                }
                lp.push(it);
            }
            if lp.len() > 0 {
                nodes.push((QUICKLIST_NODE_PACKED, lp.finish()));
            }
            push_len(out, nodes.len() as u64);
            for (container, blob) in &nodes {
                push_len(out, *container);
                push_string(out, blob, opts);
            }
            ty::LIST_QUICKLIST_2
        }
        RdbValue::Set(members) => {
            let ints: Option<Vec<i64>> = if members.len() <= opts.set_max_intset_entries {
                members.iter().map(|m| strict_i64(m)).collect()
            } else {
                None
            };
            match ints {
                Some(mut ints) => {
                    ints.sort_unstable();
                    ints.dedup();
                    push_string(out, &intset_build(&ints), opts);
                    ty::SET_INTSET
                }
                None => {
                    push_len(out, members.len() as u64);
                    for m in members {
                        push_string(out, m, opts);
                    }
                    ty::SET
                }
            }
        }
        RdbValue::ZSet(pairs) | RdbValue::ZSetListpack(pairs) => {
            let mut sorted = pairs.clone();
            sort_zset(&mut sorted);
            // A listpack is saved as one, like Redis saves the current encoding.
            let small = matches!(v, RdbValue::ZSetListpack(_))
                || pairs.len() <= opts.zset_max_listpack_entries
                    && pairs
                        .iter()
                        .all(|(m, _)| m.len() <= opts.zset_max_listpack_value);
            if small {
                let mut lp = ListpackBuilder::new();
                for (m, s) in &sorted {
                    lp.push(m);
                    lp.push(&score_text(*s));
                }
                push_string(out, &lp.finish(), opts);
                ty::ZSET_LISTPACK
            } else {
                // Redis saves skiplists from the greatest element down, so that
                // loading inserts each at the head.
                push_len(out, sorted.len() as u64);
                for (m, s) in sorted.iter().rev() {
                    push_string(out, m, opts);
                    push_score(out, *s);
                }
                ty::ZSET_2
            }
        }
        RdbValue::Hash(pairs) | RdbValue::HashListpack(pairs) => {
            let small = matches!(v, RdbValue::HashListpack(_))
                || pairs.len() <= opts.hash_max_listpack_entries
                    && pairs.iter().all(|(f, v)| {
                        f.len() <= opts.hash_max_listpack_value
                            && v.len() <= opts.hash_max_listpack_value
                    });
            if small {
                let mut lp = ListpackBuilder::new();
                for (f, v) in pairs {
                    lp.push(f);
                    lp.push(v);
                }
                push_string(out, &lp.finish(), opts);
                ty::HASH_LISTPACK
            } else {
                push_len(out, pairs.len() as u64);
                for (f, v) in pairs {
                    push_string(out, f, opts);
                    push_string(out, v, opts);
                }
                ty::HASH
            }
        }
    }
}

/// Appends one key with its metadata as rdbSaveKeyValuePair writes it: expire,
/// idle time or frequency, type, key, value.
pub fn encode_entry(
    key: &[u8],
    value: &RdbValue,
    meta: &KeyMeta,
    opts: &WriteOptions,
    out: &mut Vec<u8>,
) {
    if let Some(ms) = meta.expire_ms {
        out.push(op::EXPIRETIME_MS);
        out.extend_from_slice(&ms.to_le_bytes());
    }
    if let Some(idle) = meta.idle_secs {
        out.push(op::IDLE);
        push_len(out, idle);
    }
    if let Some(freq) = meta.freq {
        out.push(op::FREQ);
        out.push(freq);
    }
    let type_at = out.len();
    out.push(0);
    push_string(out, key, opts);
    let t = encode_value(value, opts, out);
    out[type_at] = t;
}

/// Writes an RDB file: header on creation, then AUX fields, databases and keys,
/// then [`RdbWriter::finish`] for the EOF opcode and checksum.
/// A function library record (RDB_OPCODE_FUNCTION2 and the code), as RDB files
/// and FUNCTION DUMP payloads hold it.
pub fn encode_function(code: &[u8], opts: &WriteOptions, out: &mut Vec<u8>) {
    out.push(op::FUNCTION2);
    push_string(out, code, opts);
}

pub struct RdbWriter<W: Write> {
    w: W,
    digest: Digest<'static, u64, super::CrcTable>,
    opts: WriteOptions,
    buf: Vec<u8>,
}

impl<W: Write> RdbWriter<W> {
    /// Starts a file with the `REDIS0010` header.
    pub fn new(w: W, opts: WriteOptions) -> std::io::Result<RdbWriter<W>> {
        let mut wr = RdbWriter {
            w,
            digest: CRC64.digest(),
            opts,
            buf: Vec::with_capacity(4096),
        };
        let header = format!("REDIS{RDB_VERSION:04}");
        wr.buf.extend_from_slice(header.as_bytes());
        wr.flush_buf()?;
        Ok(wr)
    }

    fn flush_buf(&mut self) -> std::io::Result<()> {
        self.digest.update(&self.buf);
        self.w.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }

    /// An AUX field.
    pub fn aux(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.buf.push(op::AUX);
        push_string(&mut self.buf, key, &self.opts);
        push_string(&mut self.buf, value, &self.opts);
        self.flush_buf()
    }

    /// The AUX fields Redis 7.0.15 writes first: redis-ver, redis-bits, ctime
    /// (Unix seconds), used-mem, aof-base.
    pub fn standard_aux(
        &mut self,
        ctime: i64,
        used_mem: u64,
        aof_base: bool,
    ) -> std::io::Result<()> {
        self.aux(b"redis-ver", b"7.0.15")?;
        self.aux(b"redis-bits", b"64")?;
        self.aux(b"ctime", ctime.to_string().as_bytes())?;
        self.aux(b"used-mem", used_mem.to_string().as_bytes())?;
        self.aux(b"aof-base", if aof_base { b"1" } else { b"0" })
    }

    /// A function library (RDB_OPCODE_FUNCTION2 and its code), written before the
    /// databases as Redis 7.0 does.
    pub fn function(&mut self, code: &[u8]) -> std::io::Result<()> {
        encode_function(code, &self.opts, &mut self.buf);
        self.flush_buf()
    }

    /// SELECTDB followed by RESIZEDB, as Redis writes before each non-empty db.
    pub fn select_db(&mut self, db: u64, size: u64, expires: u64) -> std::io::Result<()> {
        self.buf.push(op::SELECTDB);
        push_len(&mut self.buf, db);
        self.buf.push(op::RESIZEDB);
        push_len(&mut self.buf, size);
        push_len(&mut self.buf, expires);
        self.flush_buf()
    }

    /// One key with its metadata (rdbSaveKeyValuePair).
    pub fn entry(&mut self, key: &[u8], value: &RdbValue, meta: &KeyMeta) -> std::io::Result<()> {
        encode_entry(key, value, meta, &self.opts, &mut self.buf);
        self.flush_buf()
    }

    /// Bytes produced by [`encode_entry`] (serialized elsewhere, e.g. by a
    /// snapshot visitor under a shard lock).
    pub fn raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.digest.update(bytes);
        self.w.write_all(bytes)
    }

    /// The options this writer encodes with.
    pub fn options(&self) -> &WriteOptions {
        &self.opts
    }

    /// The EOF opcode and the checksum (zero when checksums are off); returns the
    /// inner writer.
    pub fn finish(mut self) -> std::io::Result<W> {
        self.buf.push(op::EOF);
        self.flush_buf()?;
        let crc = if self.opts.checksum {
            self.digest.clone().finalize()
        } else {
            0
        };
        self.w.write_all(&crc.to_le_bytes())?;
        self.w.flush()?;
        Ok(self.w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_use_the_smallest_form() {
        for (n, len) in [
            (0u64, 1usize),
            (63, 1),
            (64, 2),
            (16383, 2),
            (16384, 5),
            (1 << 32, 9),
        ] {
            let mut v = Vec::new();
            push_len(&mut v, n);
            assert_eq!(v.len(), len, "{n}");
        }
    }

    #[test]
    fn strings_int_encode_like_redis() {
        let o = WriteOptions::default();
        let enc = |s: &[u8]| {
            let mut v = Vec::new();
            push_string(&mut v, s, &o);
            v
        };
        assert_eq!(enc(b"-1"), vec![0xC0, 0xFF]);
        assert_eq!(enc(b"1000"), vec![0xC1, 0xE8, 0x03]);
        assert_eq!(enc(b"100000"), vec![0xC2, 0xA0, 0x86, 0x01, 0x00]);
        assert_eq!(enc(b"01"), vec![0x02, b'0', b'1']);
        assert_eq!(enc(b"4294967296")[0], 10);
        assert_eq!(enc(&[b'a'; 100])[0], 0xC3);
    }
}
