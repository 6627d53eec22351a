//! Loading an RDB file into the keyspace, in parallel.
//!
//! One thread reads and decodes the file (a stream: it cannot be split); the keys
//! go in batches to inserter threads, each owning a fixed subset of shards, which
//! convert values and insert them. Inserting is where loading spends its time (a
//! cache miss per key to check for duplicates, plus building the value), so it
//! scales with cores while the reader keeps them fed. A RESIZEDB hint presizes the
//! db's shard tables, as Redis expands its dict, so no table is rehashed while
//! loading.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use ferrokv_core::config::P;
use ferrokv_core::keyspace::{hash_key, shard_of, Access, Keyspace, LockId, SHARDS};
use ferrokv_core::Engine;
use ferrokv_persist::convert::{access_field, from_rdb, initial_access_field, AccessPolicy};
use ferrokv_persist::rdb::{RdbEntry, RdbReader, Record};
use parking_lot::Mutex;

/// What a load did.
#[derive(Debug, Default, Clone)]
pub struct LoadStats {
    /// Keys inserted.
    pub loaded: u64,
    /// Keys skipped because their expire time had passed.
    pub expired: u64,
    /// The file's replication position (repl-id / repl-offset / repl-stream-db).
    pub repl: Option<crate::repl_rdb::ReplAux>,
    /// The expired keys skipped, as (db, key), when
    /// [`LoadOptions::collect_expired`] asked for them.
    pub expired_keys: Vec<(usize, Vec<u8>)>,
}

/// What INFO persistence reports while a load runs (Redis's loading_* fields).
pub struct Progress {
    /// Unix seconds when the load began.
    pub start_time: AtomicI64,
    /// The size of what is loaded, when known (0 otherwise).
    pub total_bytes: AtomicU64,
    /// The `used-mem` AUX field of the file.
    pub rdb_used_mem: AtomicU64,
    /// Bytes read so far.
    pub loaded_bytes: AtomicU64,
}

/// The load in progress (one at a time: startup, DEBUG RELOAD or a full sync).
pub static PROGRESS: Progress = Progress {
    start_time: AtomicI64::new(0),
    total_bytes: AtomicU64::new(0),
    rdb_used_mem: AtomicU64::new(0),
    loaded_bytes: AtomicU64::new(0),
};

impl Progress {
    /// Starts counting a load of `total` bytes (0: unknown).
    pub fn begin(&self, total: u64) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        self.start_time.store(now, Relaxed);
        self.total_bytes.store(total, Relaxed);
        self.rdb_used_mem.store(0, Relaxed);
        self.loaded_bytes.store(0, Relaxed);
    }

    /// The loading_* lines of INFO persistence, computed as Redis does.
    pub fn info_lines(&self) -> String {
        let total = self.total_bytes.load(Relaxed);
        let used = self.rdb_used_mem.load(Relaxed);
        let loaded = self.loaded_bytes.load(Relaxed);
        let start = self.start_time.load(Relaxed);
        let (mut perc, mut remaining) = (0.0f64, 1i64);
        if total > 0 {
            perc = loaded as f64 / total as f64 * 100.0;
            remaining = total as i64 - loaded as i64;
        } else if used > 0 {
            // used-mem is only an estimate of the file's size: never 100%.
            perc = (loaded as f64 / used as f64 * 100.0).min(99.99);
            remaining = (used as i64 - loaded as i64).max(1);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64);
        let elapsed = now - start;
        let eta = if elapsed == 0 {
            1
        } else {
            elapsed * remaining / (loaded as i64 + 1)
        };
        format!(
            "loading_start_time:{start}\r\nloading_total_bytes:{total}\r\nloading_rdb_used_mem:{used}\r\nloading_loaded_bytes:{loaded}\r\nloading_loaded_perc:{perc:.2}\r\nloading_eta_seconds:{eta}\r\n"
        )
    }
}

/// Counts the bytes read into [`PROGRESS`].
struct Counting<R>(R);

impl<R: std::io::Read> std::io::Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        PROGRESS.loaded_bytes.fetch_add(n as u64, Relaxed);
        Ok(n)
    }
}

/// key-load-delay: microseconds to wait per key (negative: one microsecond once
/// in `-delay` keys, on average), as Redis's debugDelay, so tests can watch a
/// load in progress.
pub(crate) fn key_delay(delay: i64, count: &mut u64) {
    let us = if delay < 0 {
        *count += 1;
        u64::from(count.is_multiple_of(delay.unsigned_abs()))
    } else {
        delay as u64
    };
    if us > 0 {
        std::thread::sleep(std::time::Duration::from_micros(us));
    }
}

/// Keys per batch handed to an inserter: big enough to make the channel cost
/// nothing per key, small enough to keep every inserter busy.
const BATCH: usize = 256;

/// Most keys a RESIZEDB hint may presize for: a hostile file cannot make the
/// server allocate more than a few tens of MiB of empty tables this way.
const MAX_PRESIZE_KEYS: u64 = 4 << 20;

/// Inserter threads: one per core (the reader mostly waits for input), at most
/// 8; none on a single core, where the reader inserts itself rather than pay for
/// handing keys between threads that cannot run at once.
fn inserters() -> usize {
    match std::thread::available_parallelism().map_or(1, |n| n.get()) {
        1 => 0,
        n => n.min(8),
    }
}

/// A key on its way to an inserter.
struct Item {
    hash: u64,
    entry: RdbEntry,
}

/// What the inserters share.
struct Shared<'e> {
    engine: &'e Engine,
    /// Where the keys go: the engine's, or a staging keyspace.
    keyspace: &'e Keyspace,
    policy: AccessPolicy,
    now: i64,
    /// The first error any inserter met (the load fails with it).
    error: Mutex<Option<String>>,
    /// A key already present is replaced (DEBUG RELOAD MERGE) instead of failing
    /// the load.
    allow_dup: bool,
}

impl Shared<'_> {
    /// Inserts one key; `Err` ends the load.
    fn insert(&self, item: Item) -> Result<(), String> {
        let Item { hash, entry: e } = item;
        let db = e.db as usize;
        let value = from_rdb(e.value, &self.engine.config).map_err(|err| {
            format!(
                "Can't load key '{}' in DB {db}: {err}",
                String::from_utf8_lossy(&e.key)
            )
        })?;
        let field = access_field(self.policy, e.meta.idle_secs, e.meta.freq, self.now)
            .unwrap_or_else(|| initial_access_field(self.policy, self.now));
        let id = (db * SHARDS + shard_of(hash)) as LockId;
        let mut shard = self.keyspace.lock_one(id);
        if self.allow_dup {
            if let Some(old) = shard.remove(&e.key, hash) {
                ferrokv_core::lazyfree::free(old);
            }
        } else if shard.dict().get(&e.key, hash).is_some() {
            return Err(format!(
                "RDB has duplicated key '{}' in DB {db}",
                String::from_utf8_lossy(&e.key)
            ));
        }
        let entry = shard.insert_new(&e.key, hash, value, e.meta.expire_ms, Access::Lru(0));
        entry.node.set_lru(field);
        shard.stats.dirty += 1;
        Ok(())
    }

    /// An inserter thread: inserts every batch it receives; after an error it
    /// only drains (the reader stops at its next send).
    fn run(&self, rx: Receiver<Vec<Item>>) -> u64 {
        let mut loaded = 0;
        for batch in rx {
            if self.error.lock().is_some() {
                continue;
            }
            for item in batch {
                match self.insert(item) {
                    Ok(()) => loaded += 1,
                    Err(e) => {
                        self.error.lock().get_or_insert(e);
                        break;
                    }
                }
            }
        }
        loaded
    }

    fn failed(&self) -> bool {
        self.error.lock().is_some()
    }
}

/// Presizes every shard table of `db` for `keys` keys in all.
fn presize(keyspace: &Keyspace, db: usize, keys: u64) {
    let per_shard = (keys.min(MAX_PRESIZE_KEYS) as usize).div_ceil(SHARDS);
    if per_shard < 2 {
        return;
    }
    for s in 0..SHARDS {
        keyspace
            .lock_one((db * SHARDS + s) as LockId)
            .reserve(per_shard);
    }
}

/// A dataset loaded beside the live one, which stays served meanwhile
/// (repl-diskless-load swapdb: Redis's temp db and functions context), swapped in
/// once the whole stream has loaded.
pub struct Staging {
    /// The keys, in as many dbs as the engine has.
    pub keyspace: Keyspace,
    /// The libraries' code, compiled when swapped in.
    pub functions: Mutex<Vec<Vec<u8>>>,
}

impl Staging {
    /// An empty staging dataset shaped like `engine`'s.
    pub fn new(engine: &Engine) -> Staging {
        Staging {
            keyspace: Keyspace::new(engine.keyspace.db_count()),
            functions: Mutex::new(Vec::new()),
        }
    }
}

/// How a load treats what it finds.
#[derive(Default, Clone, Copy)]
pub struct LoadOptions<'a> {
    /// Load into this staging dataset instead of the engine's.
    pub into: Option<&'a Staging>,
    /// Keys already present are replaced by the file's (RDBFLAGS_ALLOW_DUP).
    pub allow_dup: bool,
    /// The CRC-64 at the end is not checked (DEBUG SET-SKIP-CHECKSUM-VALIDATION).
    pub skip_checksum: bool,
    /// The expired keys skipped are kept (a master at startup propagates
    /// their DELs).
    pub collect_expired: bool,
}

/// Loads an RDB stream into `engine` (keys expired by now are skipped).
pub fn load_from(engine: &Engine, r: impl std::io::Read) -> Result<LoadStats, String> {
    load_from_opts(engine, r, LoadOptions::default())
}

/// Logs the AUX fields Redis's rdbLoad reports as it reads them.
fn log_aux(key: &[u8], value: &[u8], now_ms: i64) {
    let text = String::from_utf8_lossy(value);
    match key {
        b"redis-ver" => tracing::info!("Loading RDB produced by version {text}"),
        b"ctime" => {
            if let Ok(t) = text.parse::<i64>() {
                tracing::info!("RDB age {} seconds", (now_ms / 1000 - t).max(0));
            }
        }
        b"used-mem" => {
            if let Ok(m) = text.parse::<u64>() {
                tracing::info!(
                    "RDB memory usage when created {:.2} Mb",
                    m as f64 / (1024.0 * 1024.0)
                );
            }
        }
        _ => {}
    }
}

/// [`load_from`] with options.
pub fn load_from_opts(
    engine: &Engine,
    r: impl std::io::Read,
    opts: LoadOptions<'_>,
) -> Result<LoadStats, String> {
    let corrupt = |e: ferrokv_persist::RdbError| {
        match e.kind {
        // Redis's wording (rdbLoad, then rdbReportError's "RDB CRC error"), which
        // tools and its tests look for: the computed sum is "expected", the
        // file's "got".
        ferrokv_persist::ErrorKind::Checksum { expected, actual } => format!(
            "Wrong RDB checksum expected: ({actual:016x}) but got ({expected:016x}). Aborting now. (offset {}: RDB CRC error)",
            e.offset
        ),
        _ => format!("Short read or corrupt RDB loading DB ({e}). Unrecoverable error, aborting now."),
    }
    };
    let mut reader = RdbReader::buffered(Counting(r))
        .map_err(corrupt)?
        .verify_checksum(engine.config.bool(P::Rdbchecksum) && !opts.skip_checksum);
    let keyspace = opts.into.map_or(&engine.keyspace, |s| &s.keyspace);
    let shared = Shared {
        engine,
        keyspace,
        policy: AccessPolicy::of(&engine.config),
        now: engine.clock.now_ms(),
        error: Mutex::new(None),
        allow_dup: opts.allow_dup,
    };
    let dbs = engine.keyspace.db_count();
    let n = inserters();
    let mut expired = 0u64;
    let mut expired_keys = Vec::new();
    let mut repl = crate::repl_rdb::AuxReader::default();
    let mut inline_loaded = 0u64;
    let delay = engine.config.int_named("key-load-delay");
    let mut delayed = 0u64;
    let (read_result, loaded) = std::thread::scope(|scope| {
        let mut senders: Vec<SyncSender<Vec<Item>>> = Vec::with_capacity(n);
        let mut handles = Vec::with_capacity(n);
        for _ in 0..n {
            let (tx, rx) = sync_channel::<Vec<Item>>(4);
            senders.push(tx);
            let shared = &shared;
            handles.push(scope.spawn(move || shared.run(rx)));
        }
        let mut pending: Vec<Vec<Item>> = (0..n).map(|_| Vec::with_capacity(BATCH)).collect();
        let mut current_db = 0usize;
        let read_result = (|| -> Result<(), String> {
            while let Some(rec) = reader.next_record().map_err(corrupt)? {
                let e = match rec {
                    Record::Entry(e) => e,
                    Record::ModuleAux(name) => {
                        return Err(format!(
                            "The RDB file contains AUX module data I can't load: no matching module '{name}'"
                        ))
                    }
                    Record::SelectDb(db) => {
                        current_db = usize::try_from(db).unwrap_or(usize::MAX);
                        continue;
                    }
                    Record::ResizeDb { size, .. } => {
                        if current_db < dbs {
                            presize(keyspace, current_db, size);
                        }
                        continue;
                    }
                    Record::Aux(k, v) => {
                        log_aux(&k, &v, shared.now);
                        if k == b"used-mem" {
                            if let Ok(m) = String::from_utf8_lossy(&v).parse::<u64>() {
                                PROGRESS.rdb_used_mem.store(m, Relaxed);
                            }
                        }
                        repl.field(&k, &v);
                        continue;
                    }
                    Record::Function(code) => {
                        if let Some(staging) = opts.into {
                            staging.functions.lock().push(code);
                            continue;
                        }
                        engine
                            .scripting
                            .functions
                            // A library that exists stops the load unless
                            // duplicates are allowed (DEBUG RELOAD MERGE).
                            .load(&code, opts.allow_dup)
                            .map_err(|e| format!("Failed loading library, {e}"))?;
                        continue;
                    }
                };
                if delay != 0 {
                    key_delay(delay, &mut delayed);
                }
                let db = usize::try_from(e.db).unwrap_or(usize::MAX);
                if db >= dbs {
                    return Err(format!(
                        "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
                    ));
                }
                if e.meta.expire_ms.is_some_and(|t| t < shared.now) {
                    expired += 1;
                    if opts.collect_expired {
                        expired_keys.push((db, e.key));
                    }
                    continue;
                }
                let hash = hash_key(&e.key);
                if n == 0 {
                    shared.insert(Item { hash, entry: e })?;
                    inline_loaded += 1;
                    continue;
                }
                // Shards are dealt to inserters by index: one shard, one thread, so
                // inserters never wait on each other's locks.
                let w = shard_of(hash) % n;
                pending[w].push(Item { hash, entry: e });
                if pending[w].len() >= BATCH {
                    let batch = std::mem::replace(&mut pending[w], Vec::with_capacity(BATCH));
                    if senders[w].send(batch).is_err() || shared.failed() {
                        return Ok(());
                    }
                }
            }
            Ok(())
        })();
        for (w, batch) in pending.into_iter().enumerate() {
            if !batch.is_empty() {
                let _ = senders[w].send(batch);
            }
        }
        drop(senders);
        let loaded: u64 = handles.into_iter().map(|h| h.join().unwrap_or(0)).sum();
        (read_result, loaded)
    });
    read_result?;
    if let Some(e) = shared.error.into_inner() {
        return Err(e);
    }
    Ok(LoadStats {
        loaded: loaded + inline_loaded,
        expired,
        repl: repl.finish(),
        expired_keys,
    })
}

/// DEBUG RELOAD's load: `dbfilename` from the working directory into the
/// (flushed, or with `merge` merged-into) dataset, logged as Redis's rdbLoad.
pub fn reload(engine: &Engine, merge: bool, skip_checksum: bool) -> Result<LoadStats, String> {
    let path = engine.config.string(P::Dbfilename);
    let file = std::fs::File::open(&path)
        .map_err(|e| format!("Fatal error loading the DB: {e}. Exiting."))?;
    PROGRESS.begin(file.metadata().map_or(0, |m| m.len()));
    let opts = LoadOptions {
        allow_dup: merge,
        skip_checksum,
        ..Default::default()
    };
    let stats = load_from_opts(engine, file, opts)?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.loaded,
        stats.expired
    );
    Ok(stats)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferrokv_core::config::Config;
    use ferrokv_persist::rdb::{RdbWriter, WriteOptions};
    use ferrokv_persist::{KeyMeta, RdbValue};

    /// An RDB file of `keys` `(db, key, expire)` with string values `v-<key>`.
    fn file(keys: &[(u64, String, Option<i64>)], hint: u64) -> Vec<u8> {
        let mut w = RdbWriter::new(Vec::new(), WriteOptions::default()).unwrap();
        let mut db = None;
        for (d, k, exp) in keys {
            if db != Some(*d) {
                w.select_db(*d, hint, 0).unwrap();
                db = Some(*d);
            }
            let meta = KeyMeta {
                expire_ms: *exp,
                ..KeyMeta::default()
            };
            let v = RdbValue::String(format!("v-{k}").into_bytes());
            w.entry(k.as_bytes(), &v, &meta).unwrap();
        }
        w.finish().unwrap()
    }

    #[test]
    fn every_key_lands_in_its_db_once() {
        let engine = Engine::new(Config::default(), &[]);
        let mut keys = Vec::new();
        for db in [0u64, 3, 15] {
            for i in 0..20_000 {
                let exp = match i % 10 {
                    0 => Some(1_000),             // long past: skipped
                    1 => Some(4_102_444_800_000), // 2100
                    _ => None,
                };
                keys.push((db, format!("key:{i}"), exp));
            }
        }
        // A hostile size hint must not matter.
        let data = file(&keys, u64::MAX);
        let stats = load_from(&engine, &data[..]).unwrap();
        assert_eq!(stats.loaded, 3 * 18_000);
        assert_eq!(stats.expired, 3 * 2_000);
        for db in [0usize, 3, 15] {
            assert_eq!(engine.db_sizes(db), (18_000, 2_000));
        }
        assert_eq!(engine.db_sizes(1), (0, 0));
        let id = |db: usize, k: &[u8]| (db * SHARDS + shard_of(hash_key(k))) as LockId;
        let shard = engine.keyspace.lock_one(id(3, b"key:11"));
        let node = shard.dict().get(b"key:11", hash_key(b"key:11")).unwrap();
        assert_eq!(
            node.value().as_str().unwrap().to_vec(),
            b"v-key:11".to_vec()
        );
        assert_eq!(node.expire(), Some(4_102_444_800_000));
        drop(shard);
        // The inserters keep the per-slot key counts.
        for id in 0..engine.keyspace.db_count() * SHARDS {
            let (kept, recount) = engine
                .keyspace
                .lock_one(id as LockId)
                .slot_counts_and_recount();
            assert_eq!(kept, recount, "shard {id}");
        }
        let slot = ferrokv_core::keyspace::key_slot(b"key:11");
        let in_slot = (0..20_000)
            .filter(|i| i % 10 != 0)
            .filter(|i| ferrokv_core::keyspace::key_slot(format!("key:{i}").as_bytes()) == slot)
            .count();
        assert!(in_slot > 0);
        assert_eq!(engine.count_keys_in_slot(3, slot), in_slot);
    }

    #[test]
    fn duplicates_and_unknown_dbs_fail_the_load() {
        let engine = Engine::new(Config::default(), &[]);
        let mut keys: Vec<_> = (0..5_000).map(|i| (0, format!("k{i}"), None)).collect();
        keys.push((0, "k4321".into(), None));
        let err = load_from(&engine, &file(&keys, 0)[..]).unwrap_err();
        assert_eq!(err, "RDB has duplicated key 'k4321' in DB 0");

        let engine = Engine::new(Config::default(), &[]);
        let err = load_from(&engine, &file(&[(16, "x".into(), None)], 1)[..]).unwrap_err();
        assert!(err.contains("more than 16 databases"), "{err}");

        let engine = Engine::new(Config::default(), &[]);
        let mut data = file(&[(0, "x".into(), None)], 1);
        let n = data.len();
        data.truncate(n - 12);
        let err = load_from(&engine, &data[..]).unwrap_err();
        assert!(err.starts_with("Short read or corrupt RDB"), "{err}");
    }
}
