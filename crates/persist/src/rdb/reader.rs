//! Reading RDB files (streaming, one record at a time) and single values (DUMP).

use std::collections::HashSet;
use std::io::Read;

use crc::Digest;

use super::blobs::{self, BlobError, Elem};
use super::error::{corrupt, ErrorKind, RdbError};
use super::{
    i64_bytes, module_type_name, op, parse_score, sort_zset, ty, KeyMeta, Pairs, RdbEntry,
    RdbValue, CRC64, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RDB_VERSION,
};

/// Largest chunk reserved up front for a value whose length comes from the input:
/// the rest grows only as bytes actually arrive.
const PREALLOC_CAP: usize = 64 * 1024;
/// Largest element count reserved up front for a collection.
const PREALLOC_ELEMS: usize = 1024;
/// LZF expands at most ~88 times (a 3-byte back reference copies 264 bytes); a
/// larger announced length is corrupt and must not be allocated.
const LZF_MAX_RATIO: u64 = 100;

/// One thing an RDB file says, in file order.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// An AUX field (redis-ver, ctime, ...).
    Aux(Vec<u8>, Vec<u8>),
    /// The following keys belong to this database.
    SelectDb(u64),
    /// Size hints for the current database.
    ResizeDb {
        /// Number of keys.
        size: u64,
        /// Number of keys with an expire.
        expires: u64,
    },
    /// Module AUX data, skipped (ferrokv has no modules); the module type's name.
    ModuleAux(String),
    /// A key.
    Entry(RdbEntry),
    /// A function library's code (RDB_OPCODE_FUNCTION2, saved before the dbs).
    Function(Vec<u8>),
}

/// Bytes read from the source at a time.
const CHUNK: usize = 64 * 1024;

/// The byte source: buffers the input, counts the offset and feeds the checksum.
/// The checksum is computed over whole consumed stretches of the buffer (when it
/// is refilled, or when the checksum is needed) rather than per field: fields are
/// mostly a few bytes, and a CRC update per field cost more than the parsing.
struct Input<R> {
    r: R,
    buf: Vec<u8>,
    /// Next unread byte of `buf`.
    pos: usize,
    /// End of the valid data in `buf`.
    end: usize,
    /// `buf[..hashed]` is in `digest`; `hashed <= pos`.
    hashed: usize,
    /// Bytes consumed so far (error offsets).
    off: u64,
    digest: Digest<'static, u64, super::CrcTable>,
    /// Never read past what is consumed (the caller reads on after the RDB).
    exact: bool,
}

impl<R: Read> Input<R> {
    fn new(r: R, exact: bool) -> Input<R> {
        Input {
            r,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            hashed: 0,
            off: 0,
            digest: CRC64.digest(),
            exact,
        }
    }

    fn err<T>(&self, kind: ErrorKind) -> Result<T, RdbError> {
        Err(RdbError::new(self.off, kind))
    }

    /// The checksum of everything consumed so far.
    fn checksum(&mut self) -> u64 {
        self.digest.update(&self.buf[self.hashed..self.pos]);
        self.hashed = self.pos;
        self.digest.clone().finalize()
    }

    /// Makes unread bytes available (`want` of them are needed; in exact mode no
    /// more is read): `Ok(false)` at the end of the input.
    fn refill(&mut self, want: u64) -> Result<bool, RdbError> {
        if self.pos < self.end {
            return Ok(true);
        }
        self.digest.update(&self.buf[self.hashed..self.pos]);
        if self.buf.len() < CHUNK {
            self.buf.resize(CHUNK, 0);
        }
        let room = if self.exact {
            want.clamp(1, CHUNK as u64) as usize
        } else {
            CHUNK
        };
        loop {
            match self.r.read(&mut self.buf[..room]) {
                Ok(n) => {
                    (self.pos, self.end, self.hashed) = (0, n, 0);
                    return Ok(n > 0);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    (self.pos, self.end, self.hashed) = (0, 0, 0);
                    return self.err(ErrorKind::Io(e));
                }
            }
        }
    }

    /// Copies up to `out.len()` bytes; returns how many (fewer only at the end).
    fn take_into(&mut self, out: &mut [u8]) -> Result<usize, RdbError> {
        let mut got = 0;
        while got < out.len() && self.refill((out.len() - got) as u64)? {
            let n = (out.len() - got).min(self.end - self.pos);
            out[got..got + n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
            self.pos += n;
            got += n;
        }
        self.off += got as u64;
        Ok(got)
    }

    fn fill(&mut self, out: &mut [u8]) -> Result<(), RdbError> {
        let start = self.off;
        if self.take_into(out)? < out.len() {
            return Err(RdbError::new(start, ErrorKind::Truncated));
        }
        Ok(())
    }

    fn u8(&mut self) -> Result<u8, RdbError> {
        if self.pos < self.end {
            let b = self.buf[self.pos];
            self.pos += 1;
            self.off += 1;
            return Ok(b);
        }
        let mut b = [0u8; 1];
        self.fill(&mut b)?;
        Ok(b[0])
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], RdbError> {
        let mut b = [0u8; N];
        self.fill(&mut b)?;
        Ok(b)
    }

    /// Reads exactly `n` bytes, growing the buffer only as data arrives.
    fn bytes(&mut self, n: u64) -> Result<Vec<u8>, RdbError> {
        // A short read is reported where it started, as Redis's rioRead does.
        let start = self.off;
        let mut out = Vec::with_capacity((n as usize).min(PREALLOC_CAP));
        let mut left = n;
        while left > 0 && self.refill(left)? {
            let take = (left.min((self.end - self.pos) as u64)) as usize;
            out.extend_from_slice(&self.buf[self.pos..self.pos + take]);
            self.pos += take;
            self.off += take as u64;
            left -= take as u64;
        }
        if left > 0 {
            return Err(RdbError::new(start, ErrorKind::Truncated));
        }
        Ok(out)
    }

    /// A length (rdbLoadLen): `Ok(Err(enc))` for an encoded-string marker.
    fn len_or_enc(&mut self) -> Result<Result<u64, u8>, RdbError> {
        let b = self.u8()?;
        Ok(match b >> 6 {
            0 => Ok(u64::from(b & 0x3F)),
            1 => Ok((u64::from(b & 0x3F) << 8) | u64::from(self.u8()?)),
            2 => match b {
                0x80 => Ok(u64::from(u32::from_be_bytes(self.array()?))),
                0x81 => Ok(u64::from_be_bytes(self.array()?)),
                _ => return self.err(ErrorKind::StringEncoding(u64::from(b))),
            },
            _ => Err(b & 0x3F),
        })
    }

    fn len(&mut self) -> Result<u64, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => Ok(n),
            Err(enc) => self.err(ErrorKind::StringEncoding(u64::from(enc))),
        }
    }

    /// A string in any of its encodings (rdbGenericLoadStringObject).
    fn string(&mut self) -> Result<Vec<u8>, RdbError> {
        match self.len_or_enc()? {
            Ok(n) => self.bytes(n),
            Err(0) => Ok(i64_bytes(i64::from(self.u8()? as i8))),
            Err(1) => Ok(i64_bytes(i64::from(i16::from_le_bytes(self.array()?)))),
            Err(2) => Ok(i64_bytes(i64::from(i32::from_le_bytes(self.array()?)))),
            Err(3) => {
                let clen = self.len()?;
                let len = self.len()?;
                if len == 0 || len > clen.saturating_mul(LZF_MAX_RATIO).saturating_add(64) {
                    return self.err(ErrorKind::Lzf);
                }
                let packed = self.bytes(clen)?;
                match super::lzf::decompress(&packed, len as usize) {
                    Some(v) => Ok(v),
                    None => self.err(ErrorKind::Lzf),
                }
            }
            Err(other) => self.err(ErrorKind::StringEncoding(u64::from(other))),
        }
    }

    /// A string-encoded double (the old ZSET type).
    fn string_double(&mut self) -> Result<f64, RdbError> {
        let v = match self.u8()? {
            253 => f64::NAN,
            254 => f64::INFINITY,
            255 => f64::NEG_INFINITY,
            n => {
                let s = self.bytes(u64::from(n))?;
                parse_score(&s).or_else(|k| self.err(k))?
            }
        };
        if v.is_nan() {
            return self.err(ErrorKind::NanScore);
        }
        Ok(v)
    }

    fn binary_double(&mut self) -> Result<f64, RdbError> {
        let v = f64::from_le_bytes(self.array()?);
        if v.is_nan() {
            return self.err(ErrorKind::NanScore);
        }
        Ok(v)
    }

    /// A blob string handed to an in-memory parser, errors placed at the blob.
    fn blob<T>(
        &mut self,
        parse: impl for<'a> FnOnce(&'a [u8]) -> Result<T, BlobError>,
    ) -> Result<T, RdbError> {
        let start = self.off;
        let blob = self.string()?;
        parse(&blob).map_err(|(pos, kind)| RdbError::new(start + pos as u64, kind))
    }

    /// Skips a module value serialized with typed opcodes, up to its EOF opcode.
    fn skip_module_opcodes(&mut self) -> Result<(), RdbError> {
        loop {
            match self.len()? {
                0 => return Ok(()),
                1 | 2 => {
                    self.len()?;
                }
                3 => {
                    self.array::<4>()?;
                }
                4 => {
                    self.array::<8>()?;
                }
                5 => {
                    self.string()?;
                }
                _ => return self.err(corrupt("module data", "unknown module opcode")),
            }
        }
    }

    /// A value of type `t` (rdbLoadObject).
    fn object(&mut self, t: u8, key: &[u8]) -> Result<RdbValue, RdbError> {
        let unsupported = |what: String| ErrorKind::Unsupported {
            what,
            key: String::from_utf8_lossy(key).into_owned(),
        };
        let value = match t {
            ty::STRING => RdbValue::String(self.string()?),
            ty::LIST => {
                let n = self.len()?;
                let mut items = Vec::with_capacity((n as usize).min(PREALLOC_ELEMS));
                for _ in 0..n {
                    items.push(self.string()?);
                }
                RdbValue::List(items)
            }
            ty::SET => {
                let n = self.len()?;
                let mut items = Vec::with_capacity((n as usize).min(PREALLOC_ELEMS));
                for _ in 0..n {
                    items.push(self.string()?);
                }
                RdbValue::Set(items)
            }
            ty::ZSET | ty::ZSET_2 => {
                let n = self.len()?;
                let mut pairs = Vec::with_capacity((n as usize).min(PREALLOC_ELEMS));
                for _ in 0..n {
                    let member = self.string()?;
                    let score = if t == ty::ZSET {
                        self.string_double()?
                    } else {
                        self.binary_double()?
                    };
                    pairs.push((member, score));
                }
                RdbValue::ZSet(pairs)
            }
            ty::HASH => {
                let n = self.len()?;
                let mut pairs = Vec::with_capacity((n as usize).min(PREALLOC_ELEMS));
                for _ in 0..n {
                    let f = self.string()?;
                    let v = self.string()?;
                    pairs.push((f, v));
                }
                RdbValue::Hash(pairs)
            }
            ty::HASH_ZIPMAP => RdbValue::Hash(self.blob(blobs::zipmap_pairs)?),
            ty::LIST_ZIPLIST => RdbValue::List(self.blob(|b| elems(blobs::ziplist_elems(b)?))?),
            ty::SET_INTSET => RdbValue::Set(
                self.blob(blobs::intset_members)?
                    .into_iter()
                    .map(i64_bytes)
                    .collect(),
            ),
            ty::ZSET_ZIPLIST => {
                RdbValue::ZSetListpack(self.blob(|b| zpairs(blobs::ziplist_elems(b)?))?)
            }
            ty::ZSET_LISTPACK => {
                RdbValue::ZSetListpack(self.blob(|b| zpairs(blobs::listpack_elems(b)?))?)
            }
            ty::HASH_ZIPLIST => {
                RdbValue::HashListpack(self.blob(|b| hpairs(blobs::ziplist_elems(b)?))?)
            }
            ty::HASH_LISTPACK => {
                RdbValue::HashListpack(self.blob(|b| hpairs(blobs::listpack_elems(b)?))?)
            }
            ty::LIST_QUICKLIST | ty::LIST_QUICKLIST_2 => {
                let nodes = self.len()?;
                let mut items = Vec::new();
                for _ in 0..nodes {
                    let container = if t == ty::LIST_QUICKLIST_2 {
                        self.len()?
                    } else {
                        QUICKLIST_NODE_PACKED
                    };
                    match container {
                        QUICKLIST_NODE_PLAIN => items.push(self.string()?),
                        QUICKLIST_NODE_PACKED => {
                            let parse = if t == ty::LIST_QUICKLIST_2 {
                                blobs::listpack_elems
                            } else {
                                blobs::ziplist_elems
                            };
                            let node = self.blob(|b| elems(parse(b)?))?;
                            // Redis skips empty nodes rather than failing.
                            items.extend(node);
                        }
                        _ => return self.err(corrupt("quicklist", "unknown node container")),
                    }
                }
                RdbValue::List(items)
            }
            ty::MODULE_PRE_GA | ty::MODULE_2 => {
                let id = self.len()?;
                return self.err(unsupported(format!(
                    "module value of type '{}' (RDB type {t})",
                    module_type_name(id)
                )));
            }
            ty::STREAM_LISTPACKS | ty::STREAM_LISTPACKS_2 => {
                RdbValue::Stream(Box::new(self.stream(t)?))
            }
            ty::STREAM_LISTPACKS_3 => {
                return self.err(unsupported(format!(
                    "stream (RDB type {t}, written by Redis 7.2+)"
                )));
            }
            ty::SET_LISTPACK => {
                return self.err(unsupported(format!(
                    "listpack-encoded set (RDB type {t}, written by Redis 7.2+)"
                )));
            }
            other => return self.err(ErrorKind::UnknownType(other)),
        };
        self.check_unique(&value)?;
        Ok(value)
    }

    /// A stream (rdbLoadObject's STREAM_LISTPACKS / _2 part, with its checks).
    fn stream(&mut self, t: u8) -> Result<ferrokv_core::types::stream::StreamValue, RdbError> {
        use ferrokv_core::types::stream::{
            Group, Nack, StreamId, StreamValue, INVALID_ENTRIES_READ,
        };
        let bad = |what: &'static str| corrupt("stream", what);
        let mut s = StreamValue::new();
        let nodes = self.len()?;
        let mut last_master: Option<StreamId> = None;
        for _ in 0..nodes {
            let key = self.string()?;
            let Some(master) = StreamId::decode(&key) else {
                return self.err(bad("node key is not the size of a stream ID"));
            };
            if last_master.is_some_and(|m| m >= master) {
                return self.err(bad("listpack re-added with existing key"));
            }
            last_master = Some(master);
            let node = self.blob(|lp| super::stream::node_from_listpack(master, lp))?;
            s.insert_node(master, node);
        }
        s.length = self.len()?;
        s.last_id = StreamId::new(self.len()?, self.len()?);
        if t == ty::STREAM_LISTPACKS_2 {
            s.first_id = StreamId::new(self.len()?, self.len()?);
            s.max_deleted_id = StreamId::new(self.len()?, self.len()?);
            s.entries_added = self.len()?;
        } else {
            s.entries_added = s.length;
            s.first_id = if s.length == 0 {
                StreamId::ZERO
            } else {
                s.edge_id(true, false)
            };
        }
        if s.length != 0 && s.node_count() == 0 {
            return self.err(bad("length inconsistent with rax entries"));
        }
        let groups = self.len()?;
        for _ in 0..groups {
            let name = self.string()?;
            let last = StreamId::new(self.len()?, self.len()?);
            let entries_read = if t == ty::STREAM_LISTPACKS_2 {
                self.len()? as i64
            } else {
                s.estimate_distance(last).unwrap_or(INVALID_ENTRIES_READ)
            };
            if s.groups.contains_key(&name) {
                return self.err(bad("duplicated consumer group name"));
            }
            let mut g = Group::new(last, entries_read);
            let pel = self.len()?;
            for _ in 0..pel {
                let id = StreamId::decode(&self.array::<16>()?).unwrap_or_default();
                let delivery_time = i64::from_le_bytes(self.array()?);
                let delivery_count = self.len()?;
                let nack = Nack {
                    consumer: Vec::new(),
                    delivery_time,
                    delivery_count,
                };
                if g.pel.insert(id, nack).is_some() {
                    return self.err(bad("duplicated global PEL entry"));
                }
            }
            let consumers = self.len()?;
            for _ in 0..consumers {
                let cname = self.string()?;
                let seen = i64::from_le_bytes(self.array()?);
                if !g.create_consumer(&cname, seen) {
                    return self.err(bad("duplicate stream consumer"));
                }
                let n = self.len()?;
                for _ in 0..n {
                    let id = StreamId::decode(&self.array::<16>()?).unwrap_or_default();
                    match g.pel.get_mut(&id) {
                        Some(nack) => nack.consumer = cname.clone(),
                        None => {
                            return self.err(bad("consumer entry not found in group global PEL"))
                        }
                    }
                    let fresh = g
                        .consumers
                        .get_mut(&cname)
                        .is_some_and(|c| c.pel.insert(id));
                    if !fresh {
                        return self.err(bad("duplicated consumer PEL entry"));
                    }
                }
            }
            if g.pel
                .values()
                .any(|n| !g.consumers.contains_key(&n.consumer))
            {
                return self.err(bad("PEL entry without consumer"));
            }
            s.groups.insert(name, g);
        }
        Ok(s)
    }

    /// Redis refuses duplicate set members, hash fields and zset members.
    fn check_unique(&self, v: &RdbValue) -> Result<(), RdbError> {
        let (what, dup) = match v {
            RdbValue::String(_) | RdbValue::List(_) | RdbValue::Stream(_) => return Ok(()),
            RdbValue::Set(m) => ("set members", has_dup(m.iter().map(Vec::as_slice))),
            RdbValue::ZSet(p) | RdbValue::ZSetListpack(p) => {
                ("zset members", has_dup(p.iter().map(|(m, _)| m.as_slice())))
            }
            RdbValue::Hash(p) | RdbValue::HashListpack(p) => {
                ("hash fields", has_dup(p.iter().map(|(f, _)| f.as_slice())))
            }
        };
        if dup {
            return self.err(ErrorKind::Duplicate(what));
        }
        Ok(())
    }
}

fn has_dup<'a>(it: impl ExactSizeIterator<Item = &'a [u8]>) -> bool {
    // A fast seeded hash: SipHash showed up in loading big hashes and sets.
    let mut seen: HashSet<&[u8], foldhash::fast::RandomState> =
        HashSet::with_capacity_and_hasher(it.len(), Default::default());
    let mut dup = false;
    for s in it {
        dup |= !seen.insert(s);
    }
    dup
}

fn elems(e: Vec<Elem<'_>>) -> Result<Vec<Vec<u8>>, BlobError> {
    Ok(e.into_iter().map(Elem::to_vec).collect())
}

fn pairs_of<'a>(
    e: &'a [Elem<'a>],
    what: &'static str,
) -> Result<std::slice::ChunksExact<'a, Elem<'a>>, BlobError> {
    if e.len() & 1 == 1 {
        return Err((0, corrupt(what, "odd number of elements")));
    }
    Ok(e.chunks_exact(2))
}

fn hpairs(e: Vec<Elem<'_>>) -> Result<Pairs, BlobError> {
    Ok(pairs_of(&e, "hash")?
        .map(|c| (c[0].to_vec(), c[1].to_vec()))
        .collect())
}

fn zpairs(e: Vec<Elem<'_>>) -> Result<Vec<(Vec<u8>, f64)>, BlobError> {
    let mut out = Vec::with_capacity(e.len() / 2);
    for c in pairs_of(&e, "zset")? {
        let score = match c[1] {
            Elem::Int(v) => v as f64,
            Elem::Str(s) => parse_score(s).map_err(|k| (0, k))?,
        };
        out.push((c[0].to_vec(), score));
    }
    Ok(out)
}

/// Puts zsets in ascending (score, member) order whatever their encoding.
fn normalize(v: &mut RdbValue) {
    if let RdbValue::ZSet(p) | RdbValue::ZSetListpack(p) = v {
        sort_zset(p);
    }
}

/// Reads an RDB stream record by record.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let file = std::io::BufReader::new(std::fs::File::open("dump.rdb")?);
/// let mut reader = ferrokv_persist::RdbReader::new(file)?;
/// while let Some(record) = reader.next_record()? {
///     println!("{record:?}");
/// }
/// # Ok(()) }
/// ```
pub struct RdbReader<R> {
    input: Input<R>,
    version: u32,
    db: u64,
    done: bool,
    empty_keys_skipped: u64,
    checksum: Option<u64>,
    verify_checksum: bool,
}

impl<R: Read> RdbReader<R> {
    /// Reads and checks the `REDIS0010` header. Reads from `r` exactly the bytes
    /// it parses, so `r` can be read on after the RDB (an AOF's RDB preamble);
    /// [`buffered`](Self::buffered) is faster when nothing follows.
    pub fn new(r: R) -> Result<RdbReader<R>, RdbError> {
        Self::with_input(Input::new(r, true))
    }

    /// [`new`](Self::new), reading `r` ahead in 64 KiB chunks: for a source
    /// that holds nothing after the RDB, or whose rest the caller does not need
    /// ([`offset`](Self::offset) still counts the bytes parsed).
    pub fn buffered(r: R) -> Result<RdbReader<R>, RdbError> {
        Self::with_input(Input::new(r, false))
    }

    fn with_input(mut input: Input<R>) -> Result<RdbReader<R>, RdbError> {
        let magic: [u8; 9] = input.array()?;
        if &magic[..5] != b"REDIS" {
            return Err(RdbError::new(0, ErrorKind::BadMagic));
        }
        let version = std::str::from_utf8(&magic[5..])
            .ok()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(u32::MAX);
        if !(1..=u32::from(RDB_VERSION)).contains(&version) {
            return Err(RdbError::new(5, ErrorKind::Version(version)));
        }
        Ok(RdbReader {
            input,
            version,
            db: 0,
            done: false,
            empty_keys_skipped: 0,
            checksum: None,
            verify_checksum: true,
        })
    }

    /// Whether a wrong footer checksum is an error (Redis skips the check under
    /// `rdbchecksum no`). On by default.
    pub fn verify_checksum(mut self, verify: bool) -> RdbReader<R> {
        self.verify_checksum = verify;
        self
    }

    /// The file's RDB version.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Keys whose collection was empty, skipped as Redis does.
    pub fn empty_keys_skipped(&self) -> u64 {
        self.empty_keys_skipped
    }

    /// The checksum in the footer, once the end was reached (0: saved without one).
    pub fn checksum(&self) -> Option<u64> {
        self.checksum
    }

    /// Bytes read so far.
    pub fn offset(&self) -> u64 {
        self.input.off
    }

    /// The next record, or `None` after the EOF opcode (checksum verified).
    pub fn next_record(&mut self) -> Result<Option<Record>, RdbError> {
        if self.done {
            return Ok(None);
        }
        let mut meta = KeyMeta::default();
        loop {
            let t = self.input.u8()?;
            match t {
                op::EXPIRETIME => {
                    let secs = i32::from_le_bytes(self.input.array()?);
                    meta.expire_ms = Some(i64::from(secs) * 1000);
                }
                op::EXPIRETIME_MS => meta.expire_ms = Some(i64::from_le_bytes(self.input.array()?)),
                op::IDLE => meta.idle_secs = Some(self.input.len()?),
                op::FREQ => meta.freq = Some(self.input.u8()?),
                op::SELECTDB => {
                    self.db = self.input.len()?;
                    return Ok(Some(Record::SelectDb(self.db)));
                }
                op::RESIZEDB => {
                    let size = self.input.len()?;
                    let expires = self.input.len()?;
                    return Ok(Some(Record::ResizeDb { size, expires }));
                }
                op::AUX => {
                    let k = self.input.string()?;
                    let v = self.input.string()?;
                    return Ok(Some(Record::Aux(k, v)));
                }
                op::MODULE_AUX => {
                    let id = self.input.len()?;
                    let when_opcode = self.input.len()?;
                    if when_opcode != 2 {
                        return self.input.err(corrupt("module aux", "bad when opcode"));
                    }
                    self.input.len()?;
                    self.input.skip_module_opcodes()?;
                    return Ok(Some(Record::ModuleAux(module_type_name(id))));
                }
                op::FUNCTION2 => {
                    let code = self.input.string()?;
                    return Ok(Some(Record::Function(code)));
                }
                op::FUNCTION => {
                    return self.input.err(ErrorKind::Unsupported {
                        what: format!("function library (opcode {t})"),
                        key: String::new(),
                    });
                }
                op::EOF => {
                    self.done = true;
                    if self.version >= 5 {
                        let actual = self.input.checksum();
                        let expected = u64::from_le_bytes(self.input.array()?);
                        self.checksum = Some(expected);
                        if self.verify_checksum && expected != 0 && expected != actual {
                            return self.input.err(ErrorKind::Checksum { expected, actual });
                        }
                    }
                    return Ok(None);
                }
                _ => {
                    let key = self.input.string()?;
                    let mut value = self.input.object(t, &key)?;
                    if value.is_empty_collection() {
                        self.empty_keys_skipped += 1;
                        meta = KeyMeta::default();
                        continue;
                    }
                    normalize(&mut value);
                    return Ok(Some(Record::Entry(RdbEntry {
                        db: self.db,
                        key,
                        value,
                        meta,
                    })));
                }
            }
        }
    }
}

/// A whole RDB file read into memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RdbFile {
    /// The RDB version from the header.
    pub version: u32,
    /// AUX fields in file order.
    pub aux: Vec<(Vec<u8>, Vec<u8>)>,
    /// The keys in file order.
    pub entries: Vec<RdbEntry>,
    /// Module types whose AUX data was skipped.
    pub module_aux: Vec<String>,
    /// Function libraries' code, in file order.
    pub functions: Vec<Vec<u8>>,
    /// The footer checksum (0 when saved without one; `None` before version 5).
    pub checksum: Option<u64>,
    /// Keys skipped because their collection was empty.
    pub empty_keys_skipped: u64,
}

/// Reads a complete RDB file from memory.
pub fn read_rdb(data: &[u8]) -> Result<RdbFile, RdbError> {
    let mut r = RdbReader::buffered(data)?;
    let mut file = RdbFile {
        version: r.version(),
        ..RdbFile::default()
    };
    while let Some(rec) = r.next_record()? {
        match rec {
            Record::Aux(k, v) => file.aux.push((k, v)),
            Record::Entry(e) => file.entries.push(e),
            Record::ModuleAux(name) => file.module_aux.push(name),
            Record::Function(code) => file.functions.push(code),
            Record::SelectDb(_) | Record::ResizeDb { .. } => {}
        }
    }
    file.checksum = r.checksum();
    file.empty_keys_skipped = r.empty_keys_skipped();
    Ok(file)
}

/// The libraries of a FUNCTION DUMP payload's body (`body`: the payload without
/// its 10-byte footer): a FUNCTION2 opcode and the code, repeated. Errors are
/// FUNCTION RESTORE's texts.
pub fn read_functions(body: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut input = Input::new(body, false);
    let mut codes = Vec::new();
    while input.off < body.len() as u64 {
        let t = input
            .u8()
            .map_err(|_| "can not read data type".to_string())?;
        if t != super::op::FUNCTION2 && t != super::op::FUNCTION {
            return Err("given type is not a function".into());
        }
        if t == super::op::FUNCTION {
            return Err("Pre-GA function format not supported".into());
        }
        let code = input
            .string()
            .map_err(|_| "failed loading the given functions payload".to_string())?;
        codes.push(code);
    }
    Ok(codes)
}

/// Reads one value: a type byte and the value (a DUMP payload's body). Trailing
/// bytes are ignored, as RESTORE does. Empty collections are errors.
pub(crate) fn read_value(data: &[u8]) -> Result<RdbValue, RdbError> {
    let mut input = Input::new(data, false);
    let t = input.u8()?;
    let mut value = input.object(t, b"")?;
    if value.is_empty_collection() {
        return input.err(ErrorKind::Empty(value.type_name()));
    }
    normalize(&mut value);
    Ok(value)
}
