//! The append-only file in the server: logging propagated writes, fsync policies,
//! BGREWRITEAOF, turning the AOF on and off at runtime, and loading at startup.
//!
//! Writing. The engine calls [`Aof::propagate`] while the command still holds its
//! shard locks; that only appends RESP to an in-memory buffer (a short mutex) and
//! returns the log offset after it, which the engine stores in the client. Before
//! a connection writes replies, [`Aof::before_reply`] makes sure the log reached
//! the file up to that client's offset (one write(2) for everything buffered), and
//! with `appendfsync always` that it is fsynced that far: an acknowledged write
//! survives `kill -9` and power loss. The connection awaits that fsync without
//! holding its worker thread, and a dedicated fsync thread's one fsync covers
//! every connection waiting (group commit). With `everysec` a background thread fsyncs once a second;
//! with `no` the OS decides.
//!
//! Rewriting (BGREWRITEAOF, Redis 7.0's multi-part scheme). A new incr file is
//! created and listed in the manifest, then a fork-less snapshot begins; at the
//! snapshot instant (every shard lock held, no command running) the log switches
//! to the new incr file. The snapshot is written as the new base file (RDB when
//! aof-use-rdb-preamble is yes, commands otherwise) on a background thread while
//! commands go on. Then the manifest is replaced atomically (temp file, fsync,
//! rename, fsync of the folder) by base + the new incr file, and the old files are
//! deleted. A crash at any point leaves a manifest that loads every acknowledged
//! write.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrokv_core::commands::{CommandDef, Locks};
use ferrokv_core::config::P;
use ferrokv_core::ctx::{Ctx, Keys};
use ferrokv_core::keyspace::{LockSet, Node, SHARDS};
use ferrokv_core::snapshot::ShardVisitor;
use ferrokv_core::{Client, CmdError, CmdResult, Engine, ServerHooks};
use ferrokv_persist::aof::{encode_command, encode_select, rebuild_commands, Manifest, Step};
use ferrokv_persist::convert::{
    access_field, from_rdb, initial_access_field, key_meta, to_rdb, write_options, AccessPolicy,
};
use ferrokv_persist::rdb::{encode_entry, RdbReader, RdbWriter, Record};
use ferrokv_resp::{Protocol, ReplyBuf};
use parking_lot::Mutex;

use crate::cmds::state;
use crate::state::ServerState;

/// BGREWRITEAOF.
pub static COMMANDS: &[CommandDef] = &[CommandDef::with_locks(
    "bgrewriteaof",
    bgrewriteaof,
    Locks::Own,
)];

/// appendfsync values, as indexes of the config enum.
const FSYNC_ALWAYS: i64 = 0;
const FSYNC_EVERYSEC: i64 = 1;

/// Appends a `#TS:<secs>` annotation.
fn write_timestamp(secs: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("#TS:{secs}\r\n").as_bytes());
}

/// A base file in command form starts with a timestamp annotation when
/// aof-timestamp-enabled is on, as Redis's rewrite writes one.
fn commands_base<W: Write>(engine: &Engine, mut w: W) -> std::io::Result<W> {
    if engine.config.bool(P::AofTimestampEnabled) {
        let mut ts = Vec::new();
        write_timestamp(unix_secs(), &mut ts);
        w.write_all(&ts)?;
    }
    Ok(w)
}

fn unix_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Bytes logged but not yet written to the file.
struct Pending {
    buf: Vec<u8>,
    /// Log offset after `buf` (offsets count every byte ever logged, across files).
    end: u64,
    /// Database of the last command in the current incr file (`None`: a SELECT
    /// is needed first).
    db: Option<usize>,
    /// Second of the last `#TS:` annotation (aof_cur_timestamp).
    ts: i64,
}

/// The incr file being appended to.
struct Io {
    file: Option<File>,
    /// A second handle to the same file, fsynced without holding this lock.
    sync: Option<Arc<File>>,
    /// Size of the current incr file.
    incr_size: u64,
}

/// Rewrite and write bookkeeping (INFO persistence).
#[derive(Default)]
struct Stats {
    rewrite_in_progress: AtomicBool,
    rewrite_scheduled: AtomicBool,
    /// The scheduled rewrite is the one that turns the AOF on.
    enable_scheduled: AtomicBool,
    rewrite_started: AtomicI64,
    last_rewrite_secs: AtomicI64,
    last_rewrite_ok: AtomicBool,
    rewrites: AtomicU64,
    consecutive_failures: AtomicU64,
    last_write_ok: AtomicBool,
    /// strerror of the last failed write, while writes fail.
    last_write_error: Mutex<String>,
    base_size: AtomicU64,
    /// Size of base + incr files when the current incr file was opened.
    size_before_incr: AtomicU64,
}

/// The AOF of a running server.
pub struct Aof {
    /// aof_enabled: the AOF is on (or waiting for its first rewrite).
    enabled: AtomicBool,
    pending: Mutex<Pending>,
    io: Mutex<Io>,
    sync_lock: Mutex<()>,
    written: AtomicU64,
    fsynced: AtomicU64,
    /// Wakes connections waiting for an fsync (appendfsync always).
    synced: tokio::sync::Notify,
    /// Highest offset a connection waits to see fsynced; wakes the fsync thread.
    want_sync: Mutex<u64>,
    wake_fsync: parking_lot::Condvar,
    last_fsync: Mutex<Instant>,
    manifest: Mutex<Option<Manifest>>,
    stats: Stats,
    /// aof-timestamp-enabled, mirrored from the config at startup and by the
    /// cron (propagate has no access to the config).
    timestamps: AtomicBool,
}

impl Default for Aof {
    fn default() -> Aof {
        let stats = Stats::default();
        stats.last_rewrite_secs.store(-1, Relaxed);
        stats.last_rewrite_ok.store(true, Relaxed);
        stats.last_write_ok.store(true, Relaxed);
        Aof {
            enabled: AtomicBool::new(false),
            pending: Mutex::new(Pending {
                buf: Vec::new(),
                end: 0,
                db: None,
                ts: 0,
            }),
            io: Mutex::new(Io {
                file: None,
                sync: None,
                incr_size: 0,
            }),
            sync_lock: Mutex::new(()),
            written: AtomicU64::new(0),
            fsynced: AtomicU64::new(0),
            synced: tokio::sync::Notify::new(),
            want_sync: Mutex::new(0),
            wake_fsync: parking_lot::Condvar::new(),
            last_fsync: Mutex::new(Instant::now()),
            manifest: Mutex::new(None),
            stats,
            timestamps: AtomicBool::new(false),
        }
    }
}

/// Paths of the AOF: the folder, the manifest.
fn dir(engine: &Engine) -> PathBuf {
    PathBuf::from(engine.config.string(P::Appenddirname))
}

fn filename(engine: &Engine) -> String {
    engine.config.string(P::Appendfilename)
}

fn manifest_path(engine: &Engine) -> PathBuf {
    dir(engine).join(format!("{}.manifest", filename(engine)))
}

fn fsync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Writes the manifest atomically: temp file, fsync, rename, fsync of the folder.
fn persist_manifest(engine: &Engine, m: &Manifest) -> std::io::Result<()> {
    let d = dir(engine);
    let tmp = d.join(format!("temp-{}.manifest", filename(engine)));
    let mut f = File::create(&tmp)?;
    f.write_all(m.to_text().as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, manifest_path(engine))?;
    fsync_dir(&d)
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl Aof {
    /// While writing the AOF fails: the error refusing writes, as Redis words it.
    pub fn write_error(&self) -> Option<String> {
        if self.stats.last_write_ok.load(Relaxed) {
            return None;
        }
        Some(format!(
            "MISCONF Errors writing to the AOF file: {}",
            self.stats.last_write_error.lock()
        ))
    }

    /// Whether the AOF is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Acquire)
    }

    /// Appends propagated commands to the log buffer; returns the offset after them.
    pub fn propagate(&self, cmds: &[(usize, &[&[u8]])]) -> u64 {
        let mut p = self.pending.lock();
        let before = p.buf.len();
        if self.timestamps.load(Relaxed) {
            // As Redis: `#TS:<unix seconds>` before the commands of a new second,
            // for redis-check-aof --truncate-to-timestamp.
            let now = unix_secs();
            if p.ts < now {
                p.ts = now;
                write_timestamp(now, &mut p.buf);
            }
        }
        for (db, argv) in cmds {
            if p.db != Some(*db) {
                encode_select(*db, &mut p.buf);
                p.db = Some(*db);
            }
            encode_command(argv, &mut p.buf);
        }
        let added = (p.buf.len() - before) as u64;
        p.end += added;
        p.end
    }

    /// Writes everything buffered to the current incr file, if the file is behind
    /// `target`.
    fn flush_to(&self, target: u64) -> std::io::Result<()> {
        if self.written.load(Acquire) >= target {
            return Ok(());
        }
        let mut io = self.io.lock();
        self.flush_locked(&mut io)
    }

    /// Writes the buffer out; the caller holds the io lock.
    fn flush_locked(&self, io: &mut Io) -> std::io::Result<()> {
        let (buf, end) = {
            let mut p = self.pending.lock();
            if p.buf.is_empty() {
                return Ok(());
            }
            (std::mem::take(&mut p.buf), p.end)
        };
        let Some(file) = io.file.as_mut() else {
            // The AOF is off: what a command logged while it was turned off goes.
            self.written.store(end, Release);
            return Ok(());
        };
        match file.write_all(&buf) {
            Ok(()) => {
                io.incr_size += buf.len() as u64;
                self.written.store(end, Release);
                self.stats.last_write_ok.store(true, Relaxed);
                Ok(())
            }
            Err(e) => {
                // Kept for the next try, in front of what arrived since.
                let mut p = self.pending.lock();
                let mut again = buf;
                again.extend_from_slice(&p.buf);
                p.buf = again;
                let text = e.to_string();
                *self.stats.last_write_error.lock() =
                    text.split(" (os error").next().unwrap_or(&text).to_string();
                self.stats.last_write_ok.store(false, Relaxed);
                Err(e)
            }
        }
    }

    /// Writes and fsyncs the log up to `target` (group commit).
    fn sync_to(&self, target: u64) -> std::io::Result<()> {
        self.flush_to(target)?;
        if self.fsynced.load(Acquire) >= target {
            return Ok(());
        }
        let _one = self.sync_lock.lock();
        if self.fsynced.load(Acquire) >= target {
            return Ok(());
        }
        let (upto, file) = {
            let io = self.io.lock();
            (self.written.load(Acquire), io.sync.clone())
        };
        if let Some(f) = file {
            f.sync_data()?;
        }
        self.mark_synced(upto);
        *self.last_fsync.lock() = Instant::now();
        Ok(())
    }

    /// Everything up to `upto` is on disk: wake the connections waiting for it.
    fn mark_synced(&self, upto: u64) {
        self.fsynced.fetch_max(upto, AcqRel);
        self.synced.notify_waiters();
    }

    /// Called by a connection before it writes replies: its last write (log
    /// offset `offset`) must be in the file, and with appendfsync always fsynced
    /// that far. The wait for an fsync does not hold the worker thread: other
    /// connections run their commands meanwhile, and the fsync thread's next
    /// fsync covers all of them (group commit, like Redis's one fsync per event
    /// loop iteration).
    pub async fn before_reply(&self, engine: &Engine, offset: u64) {
        if offset == 0 || self.fsynced.load(Acquire) >= offset || !self.enabled() {
            return;
        }
        if engine.config.int(P::Appendfsync) != FSYNC_ALWAYS {
            if let Err(e) = self.flush_to(offset) {
                tracing::warn!("Error writing to the AOF file: {e}");
            }
            return;
        }
        loop {
            let notified = self.synced.notified();
            tokio::pin!(notified);
            // Registered before the check, so an fsync finishing in between is seen.
            notified.as_mut().enable();
            if self.fsynced.load(Acquire) >= offset || !self.enabled() {
                return;
            }
            {
                let mut want = self.want_sync.lock();
                if *want < offset {
                    *want = offset;
                }
                self.wake_fsync.notify_one();
            }
            notified.await;
        }
    }

    /// The fsync thread of appendfsync always: whenever a connection waits, writes
    /// and fsyncs everything logged so far.
    fn fsync_loop(&self, st: &ServerState) {
        while !st.shutting_down.load(Relaxed) {
            {
                let mut want = self.want_sync.lock();
                while (*want <= self.fsynced.load(Acquire) || !self.enabled())
                    && !st.shutting_down.load(Relaxed)
                {
                    self.wake_fsync
                        .wait_for(&mut want, Duration::from_millis(100));
                }
            }
            let target = self.pending.lock().end;
            if let Err(e) = self.sync_to(target) {
                // Redis exits too: an acknowledged write must not be lost.
                tracing::error!(
                    "Can't recover from AOF write error when the AOF fsync policy is 'always'. Exiting... ({e})"
                );
                std::process::exit(1);
            }
        }
    }

    /// Background work, every 100 ms: write what is buffered (active expiry's
    /// DELs), fsync once a second with everysec, run a scheduled or automatic
    /// rewrite.
    fn cron(&self, st: &Arc<ServerState>) {
        let engine = &st.engine;
        self.timestamps
            .store(engine.config.bool(P::AofTimestampEnabled), Relaxed);
        if self.enabled() {
            let target = self.pending.lock().end;
            if let Err(e) = self.flush_to(target) {
                tracing::warn!("Error writing to the AOF file: {e}");
            }
            let policy = engine.config.int(P::Appendfsync);
            let due = self.last_fsync.lock().elapsed() >= Duration::from_secs(1);
            let behind = self.written.load(Acquire) > self.fsynced.load(Acquire);
            if policy == FSYNC_EVERYSEC && due && behind {
                let w = self.written.load(Acquire);
                if let Err(e) = self.sync_to(w) {
                    tracing::warn!("AOF fsync failed: {e}");
                }
            }
        }
        let in_progress = self.stats.rewrite_in_progress.load(Acquire);
        if !in_progress
            && !engine.snapshot.active()
            && self.stats.rewrite_scheduled.swap(false, AcqRel)
        {
            let enabling = self.stats.enable_scheduled.swap(false, AcqRel);
            if enabling && !engine.config.bool(P::Appendonly) {
                // Turned off again before it could start.
            } else if let Err(e) = start_rewrite_inner(st, enabling) {
                tracing::warn!("Scheduled AOF rewrite could not start: {e}");
            }
        } else if !in_progress && self.enabled() && !engine.snapshot.active() {
            let pct = engine.config.int(P::AutoAofRewritePercentage);
            let min = engine.config.int(P::AutoAofRewriteMinSize).max(0) as u64;
            let size = self.current_size();
            let base = self.stats.base_size.load(Relaxed).max(1);
            if pct > 0 && size > min && (size - base.min(size)) * 100 / base >= pct as u64 {
                tracing::info!(
                    "Starting automatic rewriting of AOF on {}% growth",
                    (size - base.min(size)) * 100 / base
                );
                if let Err(e) = start_rewrite(st) {
                    tracing::warn!("Automatic AOF rewrite could not start: {e}");
                }
            }
        }
    }

    /// aof_current_size: base and incr files.
    fn current_size(&self) -> u64 {
        self.stats.size_before_incr.load(Relaxed) + self.io.lock().incr_size
    }

    /// Makes `file` (a new, empty incr file) the one appended to. Called at the
    /// snapshot instant of a rewrite (every shard lock held) or at startup: the
    /// old file is written out and fsynced first, so every offset already handed
    /// out is durable in the old file.
    fn switch_to(&self, file: File, size_before: u64) -> std::io::Result<()> {
        let mut io = self.io.lock();
        let flushed = self.flush_locked(&mut io);
        if let Some(f) = io.file.as_ref() {
            f.sync_data()?;
        }
        flushed?;
        self.mark_synced(self.written.load(Acquire));
        let sync = Arc::new(file.try_clone()?);
        io.file = Some(file);
        io.sync = Some(sync);
        io.incr_size = 0;
        self.stats.size_before_incr.store(size_before, Relaxed);
        self.pending.lock().db = None;
        Ok(())
    }

    /// Writes out, fsyncs and closes the incr file (AOF turned off, shutdown).
    fn close(&self) {
        let mut io = self.io.lock();
        if let Err(e) = self.flush_locked(&mut io) {
            tracing::warn!("Error writing to the AOF file: {e}");
        }
        if let Some(f) = io.file.take() {
            if let Err(e) = f.sync_all() {
                tracing::warn!("AOF fsync failed: {e}");
            }
        }
        io.sync = None;
        self.mark_synced(self.written.load(Acquire));
    }
}

// ------------------------------------------------------------------ rewriting

/// Where the base file's bytes go.
enum Sink {
    Rdb(RdbWriter<BufWriter<File>>),
    Commands(BufWriter<File>),
}

struct Order {
    sink: Option<Sink>,
    next: usize,
    waiting: BTreeMap<usize, Vec<u8>>,
    current_db: Option<usize>,
    error: Option<String>,
}

/// Serializes each shard of the snapshot as base-file bytes and writes them in
/// (db, shard) order.
struct BaseVisitor {
    order: Mutex<Order>,
    rdb: bool,
    opts: ferrokv_persist::WriteOptions,
    policy: AccessPolicy,
    now_ms: i64,
    sizes: Vec<(usize, usize)>,
}

impl BaseVisitor {
    fn drain(&self, o: &mut Order) {
        while let Some(buf) = o.waiting.remove(&o.next) {
            let db = o.next / SHARDS;
            o.next += 1;
            if buf.is_empty() || o.error.is_some() {
                continue;
            }
            let new_db = o.current_db != Some(db);
            o.current_db = Some(db);
            let res = match o.sink.as_mut() {
                None => Ok(()),
                Some(Sink::Rdb(w)) => {
                    let (size, expires) = self.sizes.get(db).copied().unwrap_or_default();
                    let sel = if new_db {
                        w.select_db(db as u64, size as u64, expires as u64)
                    } else {
                        Ok(())
                    };
                    sel.and_then(|()| w.raw(&buf))
                }
                Some(Sink::Commands(w)) => {
                    let mut sel = Vec::new();
                    if new_db {
                        encode_select(db, &mut sel);
                    }
                    w.write_all(&sel).and_then(|()| w.write_all(&buf))
                }
            };
            if let Err(e) = res {
                o.error = Some(format!("write error: {e}"));
            }
        }
    }
}

impl ShardVisitor for BaseVisitor {
    fn visit(&self, db: usize, shard_index: usize, entries: &mut dyn Iterator<Item = &Node>) {
        let mut buf = Vec::new();
        let mut error = None;
        let failed = self.order.lock().error.is_some();
        for node in entries.take(if failed { 0 } else { usize::MAX }) {
            match to_rdb(&node.value) {
                Ok(v) if self.rdb => {
                    let meta = key_meta(node, self.policy, self.now_ms);
                    encode_entry(node.key(), &v, &meta, &self.opts, &mut buf);
                }
                Ok(v) => rebuild_commands(node.key(), &v, node.expire(), &mut buf),
                Err(e) => {
                    error = Some(format!("can't rewrite key in DB {db}: {e}"));
                    break;
                }
            }
        }
        let mut o = self.order.lock();
        if o.error.is_none() {
            o.error = error;
        }
        o.waiting.insert(db * SHARDS + shard_index, buf);
        self.drain(&mut o);
    }
}

/// A rewrite begun at its snapshot instant.
struct PendingRewrite {
    visitor: Arc<BaseVisitor>,
    tmp: PathBuf,
    base_name: String,
    base_seq: u64,
    incr_name: String,
    /// The rewrite turns the AOF on (CONFIG SET appendonly yes).
    enabling: bool,
    started: Instant,
}

/// Starts a rewrite: new incr file, snapshot, switch at the snapshot instant.
/// The base is written by [`PendingRewrite::run`].
fn begin_rewrite(engine: &Engine, aof: &Aof, enabling: bool) -> Result<PendingRewrite, String> {
    let d = dir(engine);
    std::fs::create_dir_all(&d)
        .map_err(|e| format!("Can't open or create append-only dir {}: {e}", d.display()))?;
    let name = filename(engine);
    let rdb = engine.config.bool(P::AofUseRdbPreamble);
    let mut manifest = aof.manifest.lock();
    let mut m = manifest.clone().unwrap_or_default();
    let incr_name = m.add_incr(&name);
    let (base_name, base_seq) = m.next_base_name(&name, rdb);
    let incr_path = d.join(&incr_name);
    let incr = OpenOptions::new()
        .create(true)
        .append(true)
        .open(&incr_path)
        .map_err(|e| format!("Can't open the append-only file {incr_name}: {e}"))?;
    if !enabling {
        // The new incr file is in the manifest before anything is written to it.
        persist_manifest(engine, &m).map_err(|e| format!("Can't persist the manifest: {e}"))?;
    }
    let tmp = d.join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let file = File::create(&tmp).map_err(|e| format!("Can't create {}: {e}", tmp.display()))?;
    let opts = write_options(&engine.config);
    let w = BufWriter::with_capacity(1 << 16, file);
    let sink = if rdb {
        let mut writer = RdbWriter::new(w, opts.clone()).map_err(|e| e.to_string())?;
        writer
            .standard_aux(unix_secs(), crate::alloc::stats().allocated, true)
            .map_err(|e| e.to_string())?;
        Sink::Rdb(writer)
    } else {
        Sink::Commands(commands_base(engine, w).map_err(|e| e.to_string())?)
    };
    let visitor = Arc::new(BaseVisitor {
        order: Mutex::new(Order {
            sink: Some(sink),
            next: 0,
            waiting: BTreeMap::new(),
            current_db: None,
            error: None,
        }),
        rdb,
        opts,
        policy: AccessPolicy::of(&engine.config),
        now_ms: engine.clock.now_ms(),
        sizes: (0..engine.keyspace.db_count())
            .map(|db| engine.db_sizes(db))
            .collect(),
    });
    let mut switched = Ok(());
    let begun = engine.snapshot_begin_with(visitor.clone(), || {
        switched = aof.switch_to(incr, 0);
        if enabling && switched.is_ok() {
            engine.propagating.store(true, Release);
            aof.enabled.store(true, Release);
        }
    });
    if begun.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return Err("Background save already in progress".into());
    }
    if let Err(e) = switched {
        // The snapshot runs anyway (it must end); its result is thrown away.
        engine.snapshot_run();
        let _ = std::fs::remove_file(&tmp);
        return Err(format!("Can't switch to the new incr file: {e}"));
    }
    *manifest = Some(m);
    Ok(PendingRewrite {
        visitor,
        tmp,
        base_name,
        base_seq,
        incr_name,
        enabling,
        started: Instant::now(),
    })
}

impl PendingRewrite {
    /// Writes the base, installs it in the manifest, deletes the old files.
    fn run(self, engine: &Engine, aof: &Aof) -> Result<(), String> {
        engine.snapshot_run();
        let res = self.finish(engine, aof);
        if res.is_err() {
            let _ = std::fs::remove_file(&self.tmp);
        }
        res
    }

    fn finish(&self, engine: &Engine, aof: &Aof) -> Result<(), String> {
        let sink = {
            let mut o = self.visitor.order.lock();
            if let Some(e) = o.error.take() {
                return Err(e);
            }
            if o.next != engine.keyspace.db_count() * SHARDS {
                return Err("snapshot ended before every shard was written".into());
            }
            o.sink.take().ok_or("base already finished")?
        };
        let io = |e: std::io::Error| format!("write error: {e}");
        let w = match sink {
            Sink::Rdb(w) => w.finish().map_err(io)?,
            Sink::Commands(w) => w,
        };
        let file = w.into_inner().map_err(|e| io(e.into_error()))?;
        file.sync_all().map_err(io)?;
        drop(file);
        if !aof.enabled() {
            return Err("the AOF was turned off during the rewrite".into());
        }
        let d = dir(engine);
        std::fs::rename(&self.tmp, d.join(&self.base_name)).map_err(io)?;
        let mut guard = aof.manifest.lock();
        let m = guard.as_mut().ok_or("no manifest")?;
        m.install_base(self.base_name.clone(), self.base_seq, &self.incr_name);
        persist_manifest(engine, m).map_err(io)?;
        // The new manifest is durable: the files it no longer lists can go.
        for old in m.history.drain(..) {
            let _ = std::fs::remove_file(d.join(&old.name));
            tracing::info!("Removing the history file {} in the background", old.name);
        }
        persist_manifest(engine, m).map_err(io)?;
        let base_size = file_size(&d.join(&self.base_name));
        aof.stats.base_size.store(base_size, Relaxed);
        aof.stats.size_before_incr.store(base_size, Relaxed);
        Ok(())
    }
}

/// Starts a background rewrite (BGREWRITEAOF, auto rewrite).
pub fn start_rewrite(st: &Arc<ServerState>) -> Result<(), String> {
    start_rewrite_inner(st, false)
}

fn start_rewrite_inner(st: &Arc<ServerState>, enabling: bool) -> Result<(), String> {
    let aof = &st.aof;
    if aof.stats.rewrite_in_progress.swap(true, AcqRel) {
        return Err("Background append only file rewriting already in progress".into());
    }
    aof.stats.rewrite_started.store(unix_secs(), Relaxed);
    let pending = match begin_rewrite(&st.engine, aof, enabling) {
        Ok(p) => p,
        Err(e) => {
            aof.stats.rewrite_in_progress.store(false, Release);
            return Err(e);
        }
    };
    tracing::info!("Background append only file rewriting started");
    let st2 = st.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-rewrite".into())
        .spawn(move || {
            let aof = &st2.aof;
            let (enabling, started) = (pending.enabling, pending.started);
            let res = pending.run(&st2.engine, aof);
            aof.stats
                .last_rewrite_secs
                .store(started.elapsed().as_secs() as i64, Relaxed);
            aof.stats.rewrites.fetch_add(1, Relaxed);
            match res {
                Ok(()) => {
                    aof.stats.last_rewrite_ok.store(true, Relaxed);
                    aof.stats.consecutive_failures.store(0, Relaxed);
                    tracing::info!("Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    aof.stats.last_rewrite_ok.store(false, Relaxed);
                    aof.stats.consecutive_failures.fetch_add(1, Relaxed);
                    tracing::warn!("Background AOF rewrite failed: {e}");
                    if enabling {
                        // Redis turns the AOF back off when its first rewrite fails.
                        stop(&st2.engine, aof);
                    }
                }
            }
            aof.stats.rewrite_in_progress.store(false, Release);
        });
    if let Err(e) = spawned {
        aof.stats.rewrite_in_progress.store(false, Release);
        return Err(format!("can't start the rewrite thread: {e}"));
    }
    Ok(())
}

/// Turns the AOF off: no more propagation, the file is written out and closed.
fn stop(engine: &Engine, aof: &Aof) {
    engine.propagating.store(false, Release);
    aof.enabled.store(false, Release);
    aof.close();
}

fn bgrewriteaof(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let me = st
        .me
        .get()
        .and_then(std::sync::Weak::upgrade)
        .ok_or_else(|| CmdError::Other("server is stopping".into()))?;
    if st.aof.stats.rewrite_in_progress.load(Acquire) {
        return Err(CmdError::Other(
            "Background append only file rewriting already in progress".into(),
        ));
    }
    // Inside EXEC Redis always schedules it (server.in_exec); so do we.
    if ctx.engine.snapshot.active() || ctx.client.in_exec || !ctx.keys.locks().is_empty() {
        st.aof.stats.rewrite_scheduled.store(true, Release);
        ctx.out
            .simple(b"Background append only file rewriting scheduled");
        return Ok(());
    }
    match start_rewrite(&me) {
        Ok(()) => {
            ctx.out
                .simple(b"Background append only file rewriting started");
            Ok(())
        }
        Err(e) => {
            tracing::warn!("{e}");
            Err(CmdError::Other(
                "Can't execute an AOF background rewriting. Please check the server logs for more information.".into(),
            ))
        }
    }
}

/// CONFIG SET appendonly: `yes` starts a rewrite that turns the AOF on when it
/// begins; `no` turns it off.
pub fn config_changed(st: &ServerState) -> Result<(), String> {
    let want = st.engine.config.bool(P::Appendonly);
    if want == st.aof.enabled() {
        return Ok(());
    }
    if !want {
        stop(&st.engine, &st.aof);
        return Ok(());
    }
    let me = st
        .me
        .get()
        .and_then(std::sync::Weak::upgrade)
        .ok_or("server is stopping")?;
    if st.engine.snapshot.active() || st.aof.stats.rewrite_in_progress.load(Acquire) {
        tracing::info!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
        st.aof.stats.enable_scheduled.store(true, Release);
        st.aof.stats.rewrite_scheduled.store(true, Release);
        return Ok(());
    }
    // The snapshot takes every shard lock: from a thread of its own, since this
    // may run inside a transaction that holds some until it ends.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(start_rewrite_inner(&me, true));
    });
    match rx.recv_timeout(Duration::from_secs(2)) {
        Ok(Err(e)) => {
            tracing::warn!("{e}");
            Err("Unable to turn on AOF. Check server logs.".to_string())
        }
        // Started, or waiting for the transaction to end.
        _ => Ok(()),
    }
}

/// At startup: reads the manifest (if any) even with the AOF off, so turning
/// it on later continues its sequence numbers and removes its files.
pub fn init(st: &ServerState) {
    st.aof
        .timestamps
        .store(st.engine.config.bool(P::AofTimestampEnabled), Relaxed);
    if let Ok(text) = std::fs::read_to_string(manifest_path(&st.engine)) {
        match Manifest::parse(&text) {
            Ok(m) => *st.aof.manifest.lock() = Some(m),
            Err(e) => tracing::warn!("Ignoring the AOF manifest: {e}"),
        }
    }
}

/// Starts the background thread (writes, everysec fsync, scheduled and automatic
/// rewrites).
pub fn start_cron(st: Arc<ServerState>) {
    let st2 = st.clone();
    let spawned = std::thread::Builder::new()
        .name("aof-fsync".into())
        .spawn(move || st2.aof.fsync_loop(&st2));
    if let Err(e) = spawned {
        tracing::error!("could not start the AOF fsync thread: {e}");
    }
    let spawned = std::thread::Builder::new()
        .name("aof".into())
        .spawn(move || {
            while !st.shutting_down.load(Relaxed) {
                st.aof.cron(&st);
                std::thread::sleep(Duration::from_millis(100));
            }
        });
    if let Err(e) = spawned {
        tracing::error!("could not start the AOF thread: {e}");
    }
}

/// At exit: everything logged reaches the disk.
pub fn shutdown(st: &ServerState) {
    if st.aof.enabled() {
        st.aof.close();
    }
}

// ------------------------------------------------------------------ INFO

/// The aof_* fields of INFO persistence.
pub fn info_fields(st: &ServerState) -> String {
    let a = &st.aof;
    let s = &a.stats;
    let in_progress = s.rewrite_in_progress.load(Relaxed);
    let current = if in_progress {
        unix_secs() - s.rewrite_started.load(Relaxed)
    } else {
        -1
    };
    let mut t = format!(
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{current}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_rewrites_consecutive_failures:{}\r\naof_last_write_status:{}\r\naof_last_cow_size:0\r\nmodule_fork_in_progress:0\r\nmodule_fork_last_cow_size:0\r\n",
        u8::from(a.enabled()),
        u8::from(in_progress),
        u8::from(s.rewrite_scheduled.load(Relaxed)),
        s.last_rewrite_secs.load(Relaxed),
        if s.last_rewrite_ok.load(Relaxed) { "ok" } else { "err" },
        s.rewrites.load(Relaxed),
        s.consecutive_failures.load(Relaxed),
        if s.last_write_ok.load(Relaxed) { "ok" } else { "err" },
    );
    if a.enabled() {
        let pending = a.pending.lock().buf.len();
        t.push_str(&format!(
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_pending_rewrite:{}\r\naof_buffer_length:{pending}\r\naof_pending_bio_fsync:0\r\naof_delayed_fsync:0\r\n",
            a.current_size(),
            s.base_size.load(Relaxed),
            u8::from(s.rewrite_scheduled.load(Relaxed)),
        ));
    }
    t
}

// ------------------------------------------------------------------ loading

/// What loading found.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct LoadReport {
    /// Commands replayed.
    pub commands: u64,
    /// Keys loaded from an RDB base.
    pub rdb_keys: u64,
    /// Bytes dropped from a truncated last file.
    pub truncated_bytes: u64,
}

/// At startup with appendonly yes: loads the AOF named by the manifest (creating
/// an empty one if there is none) and opens its last incr file for appending.
/// An error means the server must not start.
pub fn load_at_startup(st: &ServerState) -> Result<LoadReport, String> {
    let engine = &st.engine;
    let d = dir(engine);
    let mpath = manifest_path(engine);
    let report;
    let mut m = match std::fs::read_to_string(&mpath) {
        Ok(text) => {
            let m = Manifest::parse(&text)
                .map_err(|e| format!("Failed to load the AOF manifest {}: {e}", mpath.display()))?;
            let started = Instant::now();
            report = load_files(engine, st, &d, &m)?;
            tracing::info!(
                "DB loaded from append only file: {:.3} seconds",
                started.elapsed().as_secs_f64()
            );
            m
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match upgrade_old_style(engine, &d)? {
                Some(m) => {
                    report = load_files(engine, st, &d, &m)?;
                    m
                }
                None => {
                    report = LoadReport::default();
                    Manifest::default()
                }
            }
        }
        Err(e) => {
            return Err(format!(
                "Can't read the AOF manifest {}: {e}",
                mpath.display()
            ))
        }
    };
    std::fs::create_dir_all(&d)
        .map_err(|e| format!("Can't open or create append-only dir {}: {e}", d.display()))?;
    let name = filename(engine);
    let mut size_before = 0;
    if m.base.is_none() && m.incrs.is_empty() {
        // Redis writes a base for the (empty) dataset on a first start.
        let (base, seq) = m.next_base_name(&name, engine.config.bool(P::AofUseRdbPreamble));
        tracing::info!("Creating AOF base file {base} on server start");
        *st.aof.manifest.lock() = Some(m.clone());
        write_base_now(engine, &d.join(&base))?;
        m.install_base(base, seq, "");
    }
    if let Some(b) = &m.base {
        let size = file_size(&d.join(&b.name));
        st.aof.stats.base_size.store(size, Relaxed);
        size_before += size;
    }
    // Appends go to the last incr file (a new one if there is none).
    let last = match m.incrs.last() {
        Some(f) => f.name.clone(),
        None => {
            let n = m.add_incr(&name);
            tracing::info!("Creating AOF incr file {n} on server start");
            n
        }
    };
    for f in &m.incrs[..m.incrs.len() - 1] {
        size_before += file_size(&d.join(&f.name));
    }
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(d.join(&last))
        .map_err(|e| format!("Can't open the append-only file {last}: {e}"))?;
    let incr_size = file.metadata().map_or(0, |md| md.len());
    // Leftovers of a rewrite that finished just before a crash.
    for old in m.history.drain(..) {
        tracing::info!("Removing the history file {} in the background", old.name);
        let _ = std::fs::remove_file(d.join(&old.name));
    }
    persist_manifest(engine, &m).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    st.aof
        .switch_to(file, size_before)
        .map_err(|e| e.to_string())?;
    st.aof.io.lock().incr_size = incr_size;
    *st.aof.manifest.lock() = Some(m);
    engine.propagating.store(true, Release);
    st.aof.enabled.store(true, Release);
    Ok(report)
}

/// A Redis < 7.0 single-file AOF (`appendfilename` in the working directory, no
/// manifest) becomes the base of a multi-part AOF, as Redis 7.0 does on start
/// (aofUpgradePrepare): moved into the folder and named by a new manifest.
fn upgrade_old_style(engine: &Engine, d: &Path) -> Result<Option<Manifest>, String> {
    let name = filename(engine);
    let old = PathBuf::from(&name);
    if !old.is_file() {
        return Ok(None);
    }
    std::fs::create_dir_all(d)
        .map_err(|e| format!("Can't open or create append-only dir {}: {e}", d.display()))?;
    let m = Manifest {
        base: Some(ferrokv_persist::aof::AofFile {
            name: name.clone(),
            seq: 1,
            kind: ferrokv_persist::aof::FileKind::Base,
        }),
        base_seq: 1,
        ..Manifest::default()
    };
    std::fs::rename(&old, d.join(&name)).map_err(|e| {
        format!(
            "Error moving the old AOF file {name} into {}: {e}",
            d.display()
        )
    })?;
    persist_manifest(engine, &m).map_err(|e| format!("Can't persist the AOF manifest: {e}"))?;
    tracing::info!("Successfully migrated an old-style AOF into the AOF directory");
    Ok(Some(m))
}

/// Writes a base file of the current dataset synchronously (startup).
fn write_base_now(engine: &Engine, path: &Path) -> Result<(), String> {
    let rdb = engine.config.bool(P::AofUseRdbPreamble);
    let file = File::create(path).map_err(|e| format!("Can't create {}: {e}", path.display()))?;
    let w = BufWriter::new(file);
    let opts = write_options(&engine.config);
    let sink = if rdb {
        let mut writer = RdbWriter::new(w, opts.clone()).map_err(|e| e.to_string())?;
        writer
            .standard_aux(unix_secs(), crate::alloc::stats().allocated, true)
            .map_err(|e| e.to_string())?;
        Sink::Rdb(writer)
    } else {
        Sink::Commands(commands_base(engine, w).map_err(|e| e.to_string())?)
    };
    let visitor = Arc::new(BaseVisitor {
        order: Mutex::new(Order {
            sink: Some(sink),
            next: 0,
            waiting: BTreeMap::new(),
            current_db: None,
            error: None,
        }),
        rdb,
        opts,
        policy: AccessPolicy::of(&engine.config),
        now_ms: engine.clock.now_ms(),
        sizes: (0..engine.keyspace.db_count())
            .map(|db| engine.db_sizes(db))
            .collect(),
    });
    engine
        .snapshot_begin(visitor.clone())
        .map_err(|_| "a snapshot is already running".to_string())?;
    engine.snapshot_run();
    let sink = {
        let mut o = visitor.order.lock();
        if let Some(e) = o.error.take() {
            return Err(e);
        }
        o.sink.take().ok_or("base already finished")?
    };
    let io = |e: std::io::Error| format!("write error: {e}");
    let w = match sink {
        Sink::Rdb(w) => w.finish().map_err(io)?,
        Sink::Commands(w) => w,
    };
    let f = w.into_inner().map_err(|e| io(e.into_error()))?;
    f.sync_all().map_err(io)
}

/// Replays the files of `m` (base, then incrs) into the engine.
pub fn load_files(
    engine: &Engine,
    hooks: &dyn ServerHooks,
    d: &Path,
    m: &Manifest,
) -> Result<LoadReport, String> {
    let files: Vec<_> = m.load_order().collect();
    let mut report = LoadReport::default();
    let truncated_ok = engine.config.bool(P::AofLoadTruncated);
    for (i, f) in files.iter().enumerate() {
        let path = d.join(&f.name);
        let data = match std::fs::read(&path) {
            Ok(d) => d,
            Err(e) => return Err(format!("Can't open the append-only file {}: {e}", f.name)),
        };
        let last = i + 1 == files.len();
        let mut start = 0;
        if data.starts_with(b"REDIS") {
            let (keys, end) = load_rdb_part(engine, &data, &f.name)?;
            report.rdb_keys += keys;
            start = end;
        }
        let outcome = replay(engine, hooks, &data[start..], start)
            .map_err(|e| format!("{e} reading the append only file {}", f.name))?;
        report.commands += outcome.commands;
        if let Some(valid) = outcome.truncated_at {
            let dropped = data.len() - valid;
            if !last {
                return Err(format!(
                    "Fatal error: the truncated file is not the last file ({}, offset {valid})",
                    f.name
                ));
            }
            if !truncated_ok {
                return Err(format!(
                    "Unexpected end of file reading the append only file {} (offset {valid}, {dropped} bytes after it). You can: 1) Make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>. 2) Alternatively you can set the 'aof-load-truncated' configuration option to yes and restart the server.",
                    f.name
                ));
            }
            tracing::warn!(
                "!!! Warning: short read while loading the AOF file {}!!! Dropping the last {dropped} bytes (incomplete command from offset {valid}).",
                f.name
            );
            // Appends must follow whole records.
            OpenOptions::new()
                .write(true)
                .open(&path)
                .and_then(|file| file.set_len(valid as u64).and_then(|()| file.sync_all()))
                .map_err(|e| format!("Error truncating the AOF file {}: {e}", f.name))?;
            tracing::warn!(
                "AOF {} loaded anyway because aof-load-truncated is enabled",
                f.name
            );
            report.truncated_bytes += dropped as u64;
        }
    }
    Ok(report)
}

/// Loads the RDB at the start of `data` (a `.base.rdb`, or an old AOF with an
/// RDB preamble). Keys past their TTL are kept, as Redis does for a preamble:
/// later commands in the AOF may refer to them. Returns the keys loaded and where
/// the RDB ends.
fn load_rdb_part(engine: &Engine, data: &[u8], name: &str) -> Result<(u64, usize), String> {
    let corrupt = |e: ferrokv_persist::RdbError| {
        format!("Bad file format reading the append only file {name} (RDB preamble: {e}), make a backup of your AOF file, then use ./redis-check-aof --fix <filename.manifest>")
    };
    let mut reader = RdbReader::buffered(data).map_err(corrupt)?;
    let now = engine.clock.now_ms();
    let policy = AccessPolicy::of(&engine.config);
    let dbs = engine.keyspace.db_count();
    let mut keys: Option<Keys<'_>> = None;
    let mut loaded = 0u64;
    while let Some(rec) = reader.next_record().map_err(corrupt)? {
        let e = match rec {
            Record::Entry(e) => e,
            Record::ModuleAux(m) => {
                return Err(format!(
                    "The AOF file {name} contains AUX module data I can't load: no matching module '{m}'"
                ))
            }
            _ => continue,
        };
        let db = usize::try_from(e.db).unwrap_or(usize::MAX);
        if db >= dbs {
            return Err(format!(
                "FATAL: Data file was created with a Redis server configured to handle more than {dbs} databases. Exiting"
            ));
        }
        if keys.as_ref().map(|k| k.db) != Some(db) {
            drop(keys.take());
            let mut k = Keys::new(LockSet::lock_dbs(&engine.keyspace, [db]), db, now);
            k.mode.loading = true;
            keys = Some(k);
        }
        let Some(k) = keys.as_mut() else { continue };
        let key = e.key;
        let value = from_rdb(e.value, &engine.config).map_err(|err| {
            format!(
                "Can't load key '{}' in DB {db}: {err}",
                String::from_utf8_lossy(&key)
            )
        })?;
        if k.exists(&key).map_err(|err| err.to_string())? {
            return Err(format!(
                "Duplicated key '{}' in DB {db} of {name}",
                String::from_utf8_lossy(&key)
            ));
        }
        let field = access_field(policy, e.meta.idle_secs, e.meta.freq, now)
            .unwrap_or_else(|| initial_access_field(policy, now));
        let entry = k
            .insert_new(&key, value, e.meta.expire_ms)
            .map_err(|err| err.to_string())?;
        entry.node.set_lru(field);
        loaded += 1;
    }
    let end = usize::try_from(reader.offset())
        .unwrap_or(data.len())
        .min(data.len());
    Ok((loaded, end))
}

struct Replayed {
    commands: u64,
    /// Offset (in the file) up to which the data is whole, when the rest is an
    /// incomplete record or an unfinished MULTI.
    truncated_at: Option<usize>,
}

/// Runs the commands in `data` (which starts at file offset `base`) through the
/// engine as a loading client: nothing expires meanwhile and nothing is logged.
/// MULTI ... EXEC blocks run when their EXEC is read; one without EXEC at the end
/// counts as a truncated tail, as in Redis.
fn replay(
    engine: &Engine,
    hooks: &dyn ServerHooks,
    data: &[u8],
    base: usize,
) -> Result<Replayed, String> {
    let mut reader = ferrokv_persist::aof::CommandReader::new(data);
    let mut client = Client::new(0, true);
    client.loading = true;
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let mut multi: Option<(usize, Vec<Vec<Vec<u8>>>)> = None;
    let mut n = 0u64;
    let run = |client: &mut Client, out: &mut ReplyBuf, argv: &[Vec<u8>]| -> Result<(), String> {
        let args: Vec<&[u8]> = argv.iter().map(Vec::as_slice).collect();
        if args[0].eq_ignore_ascii_case(b"select") {
            let db = std::str::from_utf8(args.get(1).copied().unwrap_or_default())
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .filter(|&d| d < engine.keyspace.db_count())
                .ok_or("Invalid SELECT in the AOF")?;
            client.db = db;
            return Ok(());
        }
        if let Err(CmdError::UnknownCommand { .. }) = engine.resolve(&args) {
            return Err(format!(
                "Unknown command '{}'",
                String::from_utf8_lossy(args[0])
            ));
        }
        engine.execute(client, &args, out, hooks);
        out.buffer_mut().clear();
        Ok(())
    };
    loop {
        let at = reader.offset();
        match reader.next_step() {
            Step::Command(argv) => {
                n += 1;
                if argv[0].eq_ignore_ascii_case(b"multi") {
                    multi = Some((at, Vec::new()));
                } else if argv[0].eq_ignore_ascii_case(b"exec") {
                    if let Some((_, queued)) = multi.take() {
                        for cmd in &queued {
                            run(&mut client, &mut out, cmd)?;
                        }
                    }
                } else if let Some((_, queued)) = multi.as_mut() {
                    queued.push(argv);
                } else {
                    run(&mut client, &mut out, &argv)?;
                }
            }
            Step::End => {
                return Ok(Replayed {
                    commands: n,
                    truncated_at: multi.map(|(at, _)| base + at),
                })
            }
            Step::Truncated { valid_up_to } => {
                let at = multi.map_or(valid_up_to, |(m, _)| m);
                return Ok(Replayed {
                    commands: n,
                    truncated_at: Some(base + at),
                });
            }
            Step::Corrupt { offset, reason } => {
                return Err(format!(
                    "Bad file format ({reason}) at offset {}",
                    base + offset
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_errors_refuse_writes_until_a_write_succeeds() {
        let aof = Aof::default();
        let full = OpenOptions::new()
            .append(true)
            .open("/dev/full")
            .expect("/dev/full");
        aof.switch_to(full, 0).expect("switch");
        aof.enabled.store(true, Release);
        assert_eq!(aof.write_error(), None);
        let off = aof.propagate(&[(0, &[&b"SET"[..], b"k", b"v"][..])]);
        assert!(aof.flush_to(off).is_err());
        assert_eq!(
            aof.write_error().as_deref(),
            Some("MISCONF Errors writing to the AOF file: No space left on device")
        );
        // The data is kept and written once a write works again.
        let path = std::env::temp_dir().join(format!("ferrokv-aof-test-{}", std::process::id()));
        let good = File::create(&path).expect("temp file");
        aof.io.lock().file = Some(good);
        aof.flush_to(off).expect("retry");
        assert_eq!(aof.write_error(), None);
        let data = std::fs::read(&path).expect("read back");
        let _ = std::fs::remove_file(&path);
        assert_eq!(
            data,
            b"*2\r\n$6\r\nSELECT\r\n$1\r\n0\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        assert_eq!(aof.written.load(Acquire), off);
    }

    #[test]
    fn always_replies_wait_for_the_fsync_thread() {
        let config = ferrokv_core::config::Config::default();
        assert!(config.set("appendfsync", "always", true).is_ok());
        let engine = Arc::new(Engine::new(config, &[]));
        let st = Arc::new(ServerState::new(engine.clone(), None, 1));
        let path = std::env::temp_dir().join(format!("ferrokv-aof-always-{}", std::process::id()));
        let file = File::create(&path).expect("temp file");
        st.aof.switch_to(file, 0).expect("switch");
        st.aof.enabled.store(true, Release);
        let off = st.aof.propagate(&[(0, &[&b"INCR"[..], b"n"][..])]);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            // No fsync thread yet: the reply must wait.
            let early = tokio::time::timeout(
                Duration::from_millis(100),
                st.aof.before_reply(&engine, off),
            )
            .await;
            assert!(early.is_err(), "replied before the fsync");
            assert!(st.aof.fsynced.load(Acquire) < off);
            let st2 = st.clone();
            std::thread::spawn(move || st2.aof.fsync_loop(&st2));
            tokio::time::timeout(Duration::from_secs(10), st.aof.before_reply(&engine, off))
                .await
                .expect("fsynced in time");
        });
        assert!(st.aof.fsynced.load(Acquire) >= off);
        st.shutting_down.store(true, Relaxed);
        let data = std::fs::read(&path).expect("read back");
        let _ = std::fs::remove_file(&path);
        assert!(data.ends_with(b"$4\r\nINCR\r\n$1\r\nn\r\n"));
    }
}
