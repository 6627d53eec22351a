//! RDB persistence in the server: SAVE, BGSAVE, LASTSAVE, and loading
//! `dir/dbfilename` at startup (DUMP and RESTORE are in `dump.rs`).
//!
//! Saves use core's fork-less snapshot (crates/core/src/snapshot.rs): a visitor
//! serializes each shard as of the snapshot instant, either when the background
//! walk reaches it or when a write is about to change it. Shards are written to
//! the file in (db, shard) order; a shard serialized early waits in memory until
//! its turn. Files are written to a temp file, fsynced, renamed over the target,
//! and the directory fsynced, so a crash leaves either the old or the new file.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferrokv_core::args::is_kw;
use ferrokv_core::commands::{CommandDef, Locks};
use ferrokv_core::config::P;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::keyspace::{Node, SHARDS};
use ferrokv_core::snapshot::ShardVisitor;
use ferrokv_core::{CmdError, CmdResult, Engine};
use ferrokv_persist::convert::{key_meta, to_rdb, write_options, AccessPolicy};
use ferrokv_persist::rdb::{encode_entry, RdbWriter, WriteOptions};
use parking_lot::Mutex;

pub use crate::rdb_load::{load_from, LoadStats};

use crate::cmds::state;
use crate::state::ServerState;

/// The persistence commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("save", save),
    CommandDef::with_locks("bgsave", bgsave, Locks::Own),
    CommandDef::new("lastsave", lastsave),
];

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Save bookkeeping (INFO persistence, LASTSAVE).
#[derive(Debug)]
pub struct Shared {
    /// Unix seconds of the last successful save (start time before any).
    pub lastsave: AtomicI64,
    /// A BGSAVE is running.
    pub bgsave_in_progress: AtomicBool,
    /// Whether the last BGSAVE succeeded.
    pub last_bgsave_ok: AtomicBool,
    /// Save attempts since start (SAVE and BGSAVE, as Redis counts rdb_saves).
    pub saves: AtomicU64,
    /// Unix seconds of the last BGSAVE attempt (retry delay of save points).
    pub bgsave_try: AtomicI64,
    /// Unix seconds when the running BGSAVE started.
    pub bgsave_started: AtomicI64,
    /// Duration of the last BGSAVE in seconds (-1 before any).
    pub last_bgsave_secs: AtomicI64,
}

/// The server's persistence state; cheap to clone into a BGSAVE thread.
#[derive(Debug, Clone)]
pub struct Persistence(pub Arc<Shared>);

impl Default for Persistence {
    fn default() -> Persistence {
        Persistence(Arc::new(Shared {
            lastsave: AtomicI64::new(unix_secs()),
            bgsave_in_progress: AtomicBool::new(false),
            last_bgsave_ok: AtomicBool::new(true),
            saves: AtomicU64::new(0),
            bgsave_try: AtomicI64::new(0),
            bgsave_started: AtomicI64::new(0),
            last_bgsave_secs: AtomicI64::new(-1),
        }))
    }
}

// ------------------------------------------------------------------ saving

/// The file Redis would write: `dbfilename`, relative to the working directory
/// (the server chdirs to `dir`).
fn rdb_path(engine: &Engine) -> PathBuf {
    PathBuf::from(engine.config.string(P::Dbfilename))
}

/// Where a save's bytes go: its temporary file, or replicas' stream.
enum Sink {
    File(File),
    Stream(crate::rdb_stream::StreamSink),
}

impl std::io::Write for Sink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Sink::File(f) => f.write(buf),
            Sink::Stream(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Sink::File(f) => f.flush(),
            Sink::Stream(s) => s.flush(),
        }
    }
}

/// The file side of a save, touched only by the thread that runs the save.
struct Output {
    writer: Option<RdbWriter<BufWriter<Sink>>>,
    /// Shards written (or found empty) per db; a db is complete at `SHARDS`.
    written: Vec<usize>,
    /// The db being written: keys must be grouped by db after its SELECTDB.
    current: usize,
    selected: Option<usize>,
    error: Option<String>,
}

/// Serializes shards as the snapshot hands them over. Serializing happens on
/// the saver thread (only FLUSHDB/FLUSHALL/SWAPDB during a save visit the shards
/// they hold themselves); only the saver thread writes to the file, between shards
/// and holding no shard lock, so a client never waits for disk I/O. Shards of the
/// db being written go out as soon as they are serialized, in any order (RDB only
/// needs a db's keys together): little is ever buffered.
struct SaveVisitor {
    ready: Mutex<Vec<(usize, Vec<u8>)>>,
    output: Mutex<Output>,
    failed: std::sync::atomic::AtomicBool,
    opts: WriteOptions,
    policy: AccessPolicy,
    now_ms: i64,
    sizes: Vec<(usize, usize)>,
    /// rdb-key-save-delay (microseconds per key; negative: one microsecond
    /// every -N keys), Redis's test knob for a slow save.
    key_delay: i64,
    /// Keys serialized since the saver thread last paid the delay.
    undelayed: AtomicU64,
    /// Set to stop the save (Redis kills its child): a full sync no replica
    /// waits for any more.
    cancel: Arc<AtomicBool>,
}

/// Sleeps rdb-key-save-delay `delay` (µs per key; negative: one µs every -N
/// keys) for the keys counted in `undelayed` since the last call, and resets it.
/// The sleep ends early once `cancel` is set (an AOF rewrite whose AOF was turned off).
pub(crate) fn pay_key_delay(delay: i64, undelayed: &AtomicU64, cancel: Option<&AtomicBool>) {
    if delay == 0 {
        return;
    }
    let keys = undelayed.swap(0, Relaxed);
    let micros = if delay > 0 {
        keys.saturating_mul(delay as u64)
    } else {
        keys / delay.unsigned_abs()
    };
    let until = Instant::now() + std::time::Duration::from_micros(micros);
    loop {
        if cancel.is_some_and(|c| c.load(Relaxed)) {
            return;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(std::time::Duration::from_millis(10)));
    }
}

impl SaveVisitor {
    /// rdb-key-save-delay for the keys serialized since the last call, paid
    /// by the saver thread holding no lock (Redis's child sleeps per key).
    fn pay_key_delay(&self) {
        pay_key_delay(self.key_delay, &self.undelayed, Some(&self.cancel));
    }

    /// Writes every serialized shard the file can take now (saver thread only).
    fn write_ready(&self) {
        let mut out = self.output.lock();
        let out = &mut *out;
        loop {
            if out.current >= out.written.len() {
                return;
            }
            if out.written[out.current] >= SHARDS {
                out.current += 1;
                continue;
            }
            let db = out.current;
            let batch: Vec<Vec<u8>> = {
                let mut ready = self.ready.lock();
                let mut taken = Vec::new();
                let mut i = 0;
                while i < ready.len() {
                    if ready[i].0 == db {
                        taken.push(ready.swap_remove(i).1);
                    } else {
                        i += 1;
                    }
                }
                taken
            };
            if batch.is_empty() {
                return;
            }
            for buf in batch {
                out.written[db] += 1;
                if buf.is_empty() || out.error.is_some() {
                    continue;
                }
                let Some(w) = out.writer.as_mut() else {
                    continue;
                };
                let mut res = Ok(());
                if out.selected != Some(db) {
                    let (size, expires) = self.sizes.get(db).copied().unwrap_or_default();
                    res = w.select_db(db as u64, size as u64, expires as u64);
                    out.selected = Some(db);
                }
                if let Err(e) = res.and_then(|()| w.raw(&buf)) {
                    out.error = Some(format!("write error: {e}"));
                    self.failed.store(true, Relaxed);
                }
            }
        }
    }
}

impl ShardVisitor for SaveVisitor {
    fn visit(&self, db: usize, _shard_index: usize, entries: &mut dyn Iterator<Item = &Node>) {
        let mut buf = Vec::new();
        if self.cancel.load(Relaxed) && !self.failed.swap(true, Relaxed) {
            self.output
                .lock()
                .error
                .get_or_insert("the save was cancelled".into());
        }
        // After a failure the save is lost anyway: skip the serializing.
        if !self.failed.load(Relaxed) {
            for node in entries {
                if self.key_delay != 0 {
                    self.undelayed.fetch_add(1, Relaxed);
                }
                match to_rdb(&node.value()) {
                    Ok(v) => {
                        let meta = key_meta(node, self.policy, self.now_ms);
                        encode_entry(node.key(), &v, &meta, &self.opts, &mut buf);
                    }
                    Err(e) => {
                        let mut out = self.output.lock();
                        out.error.get_or_insert(format!(
                            "{e} (key '{}')",
                            String::from_utf8_lossy(node.key())
                        ));
                        self.failed.store(true, Relaxed);
                        buf.clear();
                        break;
                    }
                }
            }
        }
        self.ready.lock().push((db, buf));
    }

    fn after_visit(&self) {
        self.pay_key_delay();
        self.write_ready();
    }
}

/// A save begun at a snapshot instant: run [`PendingSave::run`] (on any thread)
/// to write it out.
struct PendingSave {
    engine: Arc<Engine>,
    visitor: Arc<SaveVisitor>,
    tmp: PathBuf,
    target: PathBuf,
    dirty: u64,
}

/// Why a save could not begin.
enum BeginError {
    /// Another snapshot is running.
    InProgress,
    /// The temp file could not be created or written (logged).
    Io,
}

impl From<BeginError> for CmdError {
    fn from(e: BeginError) -> CmdError {
        match e {
            BeginError::InProgress => CmdError::Other("Background save already in progress".into()),
            // Redis answers a failed SAVE with a bare "-ERR"; the reason is logged.
            BeginError::Io => CmdError::Raw("ERR".into()),
        }
    }
}

fn begin_save(engine: &Arc<Engine>) -> Result<PendingSave, BeginError> {
    begin_save_at(engine, rdb_path(engine), None, Arc::default(), || {})
}

/// A save of the dataset as of now into `target`, running `at_instant` at the
/// snapshot instant (every shard lock held).
fn begin_save_at(
    engine: &Arc<Engine>,
    target: PathBuf,
    stream: Option<Arc<crate::rdb_stream::RdbStream>>,
    cancel: Arc<AtomicBool>,
    at_instant: impl FnOnce(),
) -> Result<PendingSave, BeginError> {
    if engine.snapshot.active() {
        return Err(BeginError::InProgress);
    }
    // A counter keeps names unique when two saves race to start.
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let tmp = target.with_file_name(format!(
        "temp-{}-{}.rdb",
        std::process::id(),
        SEQ.fetch_add(1, Relaxed)
    ));
    let fail = |e: std::io::Error| {
        tracing::warn!(
            "Failed opening the temp RDB file {} (in server root dir {}) for saving: {e}",
            tmp.display(),
            std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        );
        let _ = std::fs::remove_file(&tmp);
        BeginError::Io
    };
    let sink = match stream {
        Some(s) => Sink::Stream(crate::rdb_stream::StreamSink(s)),
        None => Sink::File(File::create(&tmp).map_err(fail)?),
    };
    let opts = write_options(&engine.config);
    let mut writer =
        RdbWriter::new(BufWriter::with_capacity(1 << 16, sink), opts.clone()).map_err(fail)?;
    writer
        .standard_aux(unix_secs(), crate::alloc::stats().allocated, false)
        .map_err(fail)?;
    for code in engine.scripting.functions.codes() {
        writer.function(&code).map_err(fail)?;
    }
    let sizes = (0..engine.keyspace.db_count())
        .map(|db| engine.db_sizes(db))
        .collect();
    let dirty = engine.shard_totals().dirty;
    let visitor = Arc::new(SaveVisitor {
        ready: Mutex::new(Vec::new()),
        output: Mutex::new(Output {
            writer: Some(writer),
            written: vec![0; engine.keyspace.db_count()],
            current: 0,
            selected: None,
            error: None,
        }),
        failed: std::sync::atomic::AtomicBool::new(false),
        opts,
        policy: AccessPolicy::of(&engine.config),
        now_ms: engine.clock.now_ms(),
        sizes,
        key_delay: engine.config.int_named("rdb-key-save-delay"),
        undelayed: AtomicU64::new(0),
        cancel,
    });
    // The replication position is the one of the data cut (Redis's rdbSaveInfo).
    let aux_out = visitor.clone();
    let with_repl_aux = move || {
        at_instant();
        if let Some(aux) = crate::repl_rdb::save_info() {
            let mut o = aux_out.output.lock();
            let res = o
                .writer
                .as_mut()
                .map(|w| crate::repl_rdb::write_fields(w, &aux));
            if let Some(Err(e)) = res {
                o.error.get_or_insert(format!("write error: {e}"));
                aux_out.failed.store(true, Relaxed);
            }
        }
    };
    if engine
        .snapshot_begin_with(visitor.clone(), with_repl_aux)
        .is_err()
    {
        let _ = std::fs::remove_file(&tmp);
        return Err(BeginError::InProgress);
    }
    Ok(PendingSave {
        engine: engine.clone(),
        visitor,
        tmp,
        target,
        dirty,
    })
}

impl PendingSave {
    /// Writes the save out; `background`: a BGSAVE, whose lines are logged with
    /// the role of Redis's saving child (`C`).
    fn run(self, background: bool) -> Result<(), String> {
        let started = Instant::now();
        self.engine.snapshot_run();
        self.visitor.write_ready();
        let res = self.finish();
        match &res {
            Ok(()) => {
                self.engine.stats.dirty_at_save.store(self.dirty, Relaxed);
                if background {
                    tracing::info!(role = "C", "DB saved on disk");
                } else {
                    tracing::info!("DB saved on disk");
                }
                tracing::debug!("saved in {:.3} seconds", started.elapsed().as_secs_f64());
            }
            Err(e) => {
                let _ = std::fs::remove_file(&self.tmp);
                tracing::warn!("Error saving DB on disk: {e}");
            }
        }
        res
    }

    fn finish(&self) -> Result<(), String> {
        // The save's serializing is over on this thread (snapshot_run ran here):
        // its 512 KiB LZF table goes now, not when the thread exits.
        ferrokv_persist::rdb::release_compression_table();
        let mut o = self.visitor.output.lock();
        if let Some(e) = o.error.take() {
            return Err(e);
        }
        if o.written.iter().any(|&n| n != SHARDS) {
            return Err("snapshot ended before every shard was written".into());
        }
        let writer = o.writer.take().ok_or("writer already finished")?;
        let io = |e: std::io::Error| format!("write error: {e}");
        let sink = writer
            .finish()
            .map_err(io)?
            .into_inner()
            .map_err(|e| io(e.into_error()))?;
        let file = match sink {
            Sink::File(f) => f,
            Sink::Stream(_) => return Ok(()),
        };
        file.sync_all().map_err(io)?;
        drop(file);
        std::fs::rename(&self.tmp, &self.target).map_err(|e| {
            format!(
                "Error moving temp DB file {} on the final destination {}: {e}",
                self.tmp.display(),
                self.target.display()
            )
        })?;
        let dir = match self.target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
    }
}

/// The RDB of the dataset as of one instant, as bytes (a full synchronization's
/// payload), with `at_instant` run at that instant (every shard lock held). Waits
/// for a snapshot in progress to end first. Neither `dbfilename` nor the save
/// bookkeeping is touched: the file is a temporary one.
/// `cancel` stops it (an error then).
pub fn snapshot_rdb(
    engine: &Arc<Engine>,
    cancel: Arc<AtomicBool>,
    at_instant: impl FnOnce(),
) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while engine.snapshot.active() {
        if Instant::now() > deadline {
            return Err("a snapshot in progress did not end".into());
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let target = PathBuf::from(format!(
        "temp-sync-{}-{}.rdb",
        std::process::id(),
        SEQ.fetch_add(1, Relaxed)
    ));
    let pending =
        begin_save_at(engine, target.clone(), None, cancel, at_instant).map_err(|e| match e {
            BeginError::InProgress => "Background save already in progress".to_string(),
            BeginError::Io => "can't create the temp file".to_string(),
        })?;
    pending.engine.snapshot_run();
    pending.visitor.write_ready();
    let res = pending.finish();
    let _ = std::fs::remove_file(&pending.tmp);
    res?;
    let data = std::fs::read(&target).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&target);
    data
}

/// Like [`snapshot_rdb`], the RDB written into `stream` as it is serialized
/// (repl-diskless-sync); the stream is finished either way.
pub fn snapshot_stream(
    engine: &Arc<Engine>,
    stream: &Arc<crate::rdb_stream::RdbStream>,
    at_instant: impl FnOnce(),
) -> Result<(), String> {
    let res = (|| {
        let deadline = Instant::now() + std::time::Duration::from_secs(60);
        while engine.snapshot.active() {
            if Instant::now() > deadline {
                return Err("a snapshot in progress did not end".to_string());
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let pending = begin_save_at(
            engine,
            PathBuf::new(),
            Some(stream.clone()),
            stream.cancel_flag(),
            at_instant,
        )
        .map_err(|e| match e {
            BeginError::InProgress => "Background save already in progress".to_string(),
            BeginError::Io => "can't write the RDB".to_string(),
        })?;
        pending.engine.snapshot_run();
        pending.visitor.write_ready();
        pending.finish()
    })();
    stream.finish(res.is_ok());
    res
}

/// The refusal of writes after a failed background save, Redis's text.
pub const MISCONF_RDB: &str = "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.";

/// Whether writes are refused because the last background save failed: only
/// while stop-writes-on-bgsave-error is on and save points are configured, as
/// Redis decides it.
pub fn bgsave_error_stops_writes(engine: &Engine, p: &Shared) -> bool {
    !p.last_bgsave_ok.load(Relaxed)
        && engine.config.bool(P::StopWritesOnBgsaveError)
        && !save_points(engine).is_empty()
}

/// Records the outcome of a save for INFO and for the write gate
/// ([`Engine::bgsave_failed`]).
fn set_bgsave_status(engine: &Engine, p: &Shared, ok: bool) {
    p.last_bgsave_ok.store(ok, Relaxed);
    engine.bgsave_failed.store(!ok, Relaxed);
}

/// SAVE's work: a snapshot written out on the calling thread.
pub fn save_blocking(engine: &Arc<Engine>, p: &Shared) -> Result<(), CmdError> {
    if p.bgsave_in_progress.load(Relaxed) {
        return Err(CmdError::Other(
            "Background save already in progress".into(),
        ));
    }
    // rdb_saves counts attempts, as Redis's stat_rdb_saves does.
    p.saves.fetch_add(1, Relaxed);
    let pending = begin_save(engine)?;
    // Redis answers a failed SAVE with a bare "-ERR"; the reason is in the log.
    pending
        .run(false)
        .map_err(|_| CmdError::Raw("ERR".into()))?;
    p.lastsave.store(unix_secs(), Relaxed);
    // A successful SAVE clears a failed BGSAVE's status, as Redis's rdbSave does.
    set_bgsave_status(engine, p, true);
    Ok(())
}

/// BGSAVE's work: the snapshot instant is now, the writing on a new thread.
pub fn start_bgsave(engine: &Arc<Engine>, p: &Arc<Shared>) -> Result<(), CmdError> {
    if p.bgsave_in_progress.swap(true, Relaxed) {
        return Err(CmdError::Other(
            "Background save already in progress".into(),
        ));
    }
    p.bgsave_try.store(unix_secs(), Relaxed);
    p.bgsave_started.store(unix_secs(), Relaxed);
    p.saves.fetch_add(1, Relaxed);
    let pending = match begin_save(engine) {
        Ok(s) => s,
        Err(BeginError::InProgress) => {
            p.bgsave_in_progress.store(false, Relaxed);
            return Err(BeginError::InProgress.into());
        }
        Err(BeginError::Io) => {
            // Redis's fork succeeds and its child fails: the reply still says
            // started, and the status turns to err.
            set_bgsave_status(engine, p, false);
            p.last_bgsave_secs.store(0, Relaxed);
            p.bgsave_in_progress.store(false, Relaxed);
            tracing::warn!("Background saving error");
            return Ok(());
        }
    };
    let shared = p.clone();
    let saver_engine = engine.clone();
    let spawned = std::thread::Builder::new()
        .name("bgsave".into())
        .spawn(move || {
            // Normal priority, on purpose: the saver holds a shard lock while it
            // serializes that shard, and a reniced saver preempted under CPU
            // contention would keep request threads waiting on it (priority
            // inversion). Redis's forked child is not reniced either.
            let ok = pending.run(true).is_ok();
            if ok {
                shared.lastsave.store(unix_secs(), Relaxed);
                tracing::info!("Background saving terminated with success");
            }
            set_bgsave_status(&saver_engine, &shared, ok);
            shared
                .last_bgsave_secs
                .store(unix_secs() - shared.bgsave_started.load(Relaxed), Relaxed);
            shared.bgsave_in_progress.store(false, Relaxed);
        });
    if let Err(e) = spawned {
        p.bgsave_in_progress.store(false, Relaxed);
        tracing::warn!("Can't save in background: {e}");
        return Err(CmdError::Other(format!("Can't save in background: {e}")));
    }
    // Redis names its child; the save runs on a thread of this process.
    tracing::info!("Background saving started by pid {}", std::process::id());
    Ok(())
}

/// Whether the running command holds shard locks (a transaction): a snapshot
/// would then wait for them forever.
fn holds_locks(ctx: &mut Ctx<'_, '_>) -> bool {
    !ctx.keys.locks().is_empty()
}

fn save(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    if holds_locks(ctx) {
        return Err(CmdError::Other(
            "Command not allowed inside a transaction".into(),
        ));
    }
    let st = state(ctx)?;
    save_blocking(&st.engine, &st.persistence.0)?;
    ctx.out.ok();
    Ok(())
}

fn bgsave(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 || (args.len() == 2 && !is_kw(args[1], "schedule")) {
        return Err(CmdError::Syntax);
    }
    let st = state(ctx)?;
    let p = st.persistence.0.clone();
    if ctx.client.in_exec || holds_locks(ctx) {
        // Inside a transaction Redis schedules the save for after it
        // (server.in_exec); the thread below starts it once EXEC is done.
        if p.bgsave_in_progress.load(Relaxed) {
            return Err(CmdError::Other(
                "Background save already in progress".into(),
            ));
        }
        let engine = st.engine.clone();
        let spawned = std::thread::Builder::new()
            .name("bgsave-scheduled".into())
            .spawn(move || {
                if let Err(e) = start_bgsave(&engine, &p) {
                    tracing::warn!("scheduled BGSAVE failed: {e}");
                }
            });
        if spawned.is_err() {
            return Err(CmdError::Other("Can't save in background".into()));
        }
        ctx.out.simple(b"Background saving scheduled");
        return Ok(());
    }
    start_bgsave(&st.engine, &p)?;
    ctx.out.simple(b"Background saving started");
    Ok(())
}

/// The `save` directive's points: (seconds, changes).
pub fn save_points(engine: &Engine) -> Vec<(i64, u64)> {
    let text = engine.config.string(P::Save);
    let nums: Vec<u64> = text
        .split_whitespace()
        .filter_map(|n| n.parse().ok())
        .collect();
    nums.chunks_exact(2)
        .map(|c| (i64::try_from(c[0]).unwrap_or(i64::MAX), c[1]))
        .collect()
}

/// Seconds Redis waits before retrying a failed automatic BGSAVE.
const BGSAVE_RETRY_DELAY: i64 = 5;

/// Starts the thread that triggers BGSAVE when a save point is reached (Redis's
/// serverCron check): at least `changes` writes and `seconds` since the last save.
pub fn start_save_points(state: Arc<ServerState>) {
    let engine = state.engine.clone();
    let p = state.persistence.0.clone();
    let spawned = std::thread::Builder::new()
        .name("save-points".into())
        .spawn(move || {
            while !state.shutting_down.load(Relaxed) {
                // Summing the dirty counters locks every shard: once a second.
                std::thread::sleep(std::time::Duration::from_secs(1));
                let points = save_points(&engine);
                // Not while a shutdown runs: its own save comes next.
                if points.is_empty()
                    || p.bgsave_in_progress.load(Relaxed)
                    || engine.halted.load(Relaxed)
                {
                    continue;
                }
                let now = unix_secs();
                let retry_ok = p.last_bgsave_ok.load(Relaxed)
                    || now - p.bgsave_try.load(Relaxed) > BGSAVE_RETRY_DELAY;
                if !retry_ok {
                    continue;
                }
                let since = now - p.lastsave.load(Relaxed);
                if !points.iter().any(|(secs, _)| since > *secs) {
                    continue;
                }
                let dirty = engine
                    .shard_totals()
                    .dirty
                    .saturating_sub(engine.stats.dirty_at_save.load(Relaxed));
                if let Some((secs, changes)) = points
                    .iter()
                    .find(|(secs, changes)| dirty >= *changes && since > *secs)
                {
                    tracing::info!("{changes} changes in {secs} seconds. Saving...");
                    let _ = start_bgsave(&engine, &p);
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the save-point thread: {e}");
    }
}

/// Whether SHUTDOWN (or a signal) should save first: SAVE asked, or save points
/// configured and NOSAVE not given.
pub fn shutdown_wants_save(engine: &Engine, save: bool, nosave: bool) -> bool {
    save || (!nosave && !save_points(engine).is_empty())
}

/// Removes this process's unfinished temp files (a BGSAVE cut short by the exit),
/// as Redis removes its child's.
pub fn remove_temp_files(engine: &Engine) {
    let target = rdb_path(engine);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let prefix = format!("temp-{}-", std::process::id());
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(".rdb") {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The save before exiting (the commands are halted): waits for a running
/// snapshot (BGSAVE or AOF rewrite; Redis kills its child instead, ferrokv has
/// no child to kill and lets it finish), then saves on this thread. The caller
/// logs the outcome.
pub fn save_for_shutdown(engine: &Arc<Engine>, p: &Shared) -> Result<(), CmdError> {
    let deadline = Instant::now() + std::time::Duration::from_secs(60);
    while (p.bgsave_in_progress.load(Relaxed) || engine.snapshot.active())
        && Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    save_blocking(engine, p)
}

fn lastsave(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    ctx.out.int(st.persistence.0.lastsave.load(Relaxed));
    Ok(())
}

// ------------------------------------------------------------------ loading

// The startup load happens before the server state exists; one server per process.
static LAST_LOAD_LOADED: AtomicU64 = AtomicU64::new(0);
static LAST_LOAD_EXPIRED: AtomicU64 = AtomicU64::new(0);

/// The INFO persistence figures that saving and loading maintain.
#[derive(Debug, Clone, Copy)]
pub struct InfoFields {
    /// rdb_bgsave_in_progress
    pub bgsave_in_progress: bool,
    /// rdb_last_save_time
    pub lastsave: i64,
    /// rdb_last_bgsave_status
    pub last_bgsave_ok: bool,
    /// rdb_last_bgsave_time_sec
    pub last_bgsave_secs: i64,
    /// rdb_current_bgsave_time_sec
    pub current_bgsave_secs: i64,
    /// rdb_saves
    pub saves: u64,
    /// rdb_last_load_keys_loaded
    pub load_loaded: u64,
    /// rdb_last_load_keys_expired
    pub load_expired: u64,
}

impl InfoFields {
    /// The current figures.
    pub fn of(state: &ServerState) -> InfoFields {
        let p = &state.persistence.0;
        let bg = p.bgsave_in_progress.load(Relaxed);
        InfoFields {
            // A snapshot for replicas counts, as Redis's replication child.
            bgsave_in_progress: bg || state.replicas.snapshotting(),
            lastsave: p.lastsave.load(Relaxed),
            last_bgsave_ok: p.last_bgsave_ok.load(Relaxed),
            last_bgsave_secs: p.last_bgsave_secs.load(Relaxed),
            current_bgsave_secs: if bg {
                unix_secs() - p.bgsave_started.load(Relaxed)
            } else {
                -1
            },
            saves: p.saves.load(Relaxed),
            load_loaded: LAST_LOAD_LOADED.load(Relaxed),
            load_expired: LAST_LOAD_EXPIRED.load(Relaxed),
        }
    }
}

/// Loads `dbfilename` from the working directory if it exists. An unreadable or
/// corrupt file is an error: Redis refuses to start rather than lose data.
pub fn load_at_startup(engine: &Engine) -> Result<Option<LoadStats>, String> {
    let path = rdb_path(engine);
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(format!("Fatal error loading the DB: {e}. Exiting.")),
    };
    let started = Instant::now();
    crate::rdb_load::PROGRESS.begin(file.metadata().map_or(0, |m| m.len()));
    // A master propagates the DELs of the keys found expired (Redis's
    // RDBFLAGS_FEED_REPL), kept until its backlog exists.
    let opts = crate::rdb_load::LoadOptions {
        collect_expired: engine.config.string_named("replicaof").trim().is_empty(),
        ..Default::default()
    };
    let mut stats = crate::rdb_load::load_from_opts(engine, file, opts)?;
    crate::repl_rdb::set_restored(crate::repl_rdb::Restored {
        aux: stats.repl,
        expired: std::mem::take(&mut stats.expired_keys),
    });
    LAST_LOAD_LOADED.store(stats.loaded, Relaxed);
    LAST_LOAD_EXPIRED.store(stats.expired, Relaxed);
    engine
        .stats
        .dirty_at_save
        .store(engine.shard_totals().dirty, Relaxed);
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.loaded,
        stats.expired
    );
    tracing::info!(
        "DB loaded from disk: {:.3} seconds",
        started.elapsed().as_secs_f64()
    );
    Ok(Some(stats))
}
