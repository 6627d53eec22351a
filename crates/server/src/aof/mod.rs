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
//!
//! Files: `writer.rs` (the log buffer, writes, fsync policies, the background
//! thread), `rewrite.rs` (BGREWRITEAOF, turning the AOF on and off), `load.rs`
//! (loading at startup). This file holds the shared state and path helpers.

mod load;
mod rewrite;
mod writer;

pub use load::{debug_loadaof, load_at_startup, load_files, LoadReport};
pub use rewrite::{config_changed, start_rewrite, COMMANDS};
pub use writer::{flush_for_shutdown, remove_temp_files, start_cron, writing_initial_aof};

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering::*};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ferrokv_core::config::P;
use ferrokv_core::Engine;
use ferrokv_persist::aof::Manifest;
use parking_lot::Mutex;

use crate::state::ServerState;

/// appendfsync values, as indexes of the config enum.
pub(super) const FSYNC_ALWAYS: i64 = 0;
pub(super) const FSYNC_EVERYSEC: i64 = 1;

/// Appends a `#TS:<secs>` annotation.
pub(super) fn write_timestamp(secs: i64, out: &mut Vec<u8>) {
    out.extend_from_slice(format!("#TS:{secs}\r\n").as_bytes());
}

/// A base file in command form starts with a timestamp annotation when
/// aof-timestamp-enabled is on, as Redis's rewrite writes one.
pub(super) fn commands_base<W: Write>(engine: &Engine, mut w: W) -> std::io::Result<W> {
    if engine.config.bool(P::AofTimestampEnabled) {
        let mut ts = Vec::new();
        write_timestamp(unix_secs(), &mut ts);
        w.write_all(&ts)?;
    }
    // The function libraries first, as FUNCTION LOAD commands (Redis's
    // rewriteFunctions).
    for code in engine.scripting.functions.codes() {
        let mut cmd =
            format!("*3\r\n$8\r\nFUNCTION\r\n$4\r\nLOAD\r\n${}\r\n", code.len()).into_bytes();
        cmd.extend_from_slice(&code);
        cmd.extend_from_slice(b"\r\n");
        w.write_all(&cmd)?;
    }
    Ok(w)
}

impl Aof {
    /// aof-timestamp-enabled changed (CONFIG SET): the next command logged
    /// already follows it.
    pub fn set_timestamps(&self, on: bool) {
        self.timestamps.store(on, Relaxed);
    }
}

pub(super) fn unix_secs() -> i64 {
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
    /// The running rewrite is the one that turns the AOF on (Redis's
    /// AOF_WAIT_REWRITE: the AOF is not complete until it finishes).
    enabling: AtomicBool,
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
    /// Something besides the AOF needs propagation (a replica attached): turning
    /// the AOF off leaves it on.
    pub keep_propagating: AtomicBool,
    /// DEBUG AOF-FLUSH-SLEEP (µs): each write of the buffer takes that much
    /// longer, a slow disk for tests (it counts in the aof-write latency).
    pub flush_sleep_us: AtomicU64,
    /// An fsync is running (aof-write-pending-fsync).
    fsyncing: AtomicBool,
    /// Set when the AOF is turned off during a rewrite: the rewrite stops its
    /// rdb-key-save-delay and its result is thrown away (Redis kills the child).
    pub(crate) rewrite_cancel: Arc<AtomicBool>,
    /// The engine, for the latency monitor's AOF events (set by [`init`]).
    engine: std::sync::OnceLock<Arc<Engine>>,
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
            keep_propagating: AtomicBool::new(false),
            rewrite_cancel: Arc::new(AtomicBool::new(false)),
            flush_sleep_us: AtomicU64::new(0),
            fsyncing: AtomicBool::new(false),
            engine: std::sync::OnceLock::new(),
        }
    }
}

/// Paths of the AOF: the folder, the manifest.
pub(super) fn dir(engine: &Engine) -> PathBuf {
    PathBuf::from(engine.config.string(P::Appenddirname))
}

pub(super) fn filename(engine: &Engine) -> String {
    engine.config.string(P::Appendfilename)
}

pub(super) fn manifest_path(engine: &Engine) -> PathBuf {
    dir(engine).join(format!("{}.manifest", filename(engine)))
}

pub(super) fn fsync_dir(path: &Path) -> std::io::Result<()> {
    File::open(path)?.sync_all()
}

/// Writes the manifest atomically: temp file, fsync, rename, fsync of the folder.
pub(super) fn persist_manifest(engine: &Engine, m: &Manifest) -> std::io::Result<()> {
    let d = dir(engine);
    let tmp = d.join(format!("temp-{}.manifest", filename(engine)));
    let mut f = File::create(&tmp)?;
    f.write_all(m.to_text().as_bytes())?;
    f.sync_all()?;
    drop(f);
    std::fs::rename(&tmp, manifest_path(engine))?;
    fsync_dir(&d)
}

/// A file's size (Redis's getAppendOnlyFileSize: the stat is an `aof-fstat`
/// latency event).
pub(super) fn file_size(engine: &Engine, path: &Path) -> u64 {
    let started = Instant::now();
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    latency(engine, "aof-fstat", started);
    size
}

/// Records `event` in the latency monitor if the step since `started` reached
/// latency-monitor-threshold (Redis's latencyAddSampleIfNeeded).
pub(super) fn latency(engine: &Engine, event: &str, started: Instant) {
    let ms = started.elapsed().as_millis() as u64;
    engine.latency.sample(engine, event, ms);
}

impl Aof {
    /// [`latency`] for the writer, which has no engine at hand.
    fn latency(&self, events: &[&str], started: Instant) {
        if let Some(e) = self.engine.get() {
            for ev in events {
                latency(e, ev, started);
            }
        }
    }
}

/// At startup: reads the manifest (if any) even with the AOF off, so turning
/// it on later continues its sequence numbers and removes its files. A manifest
/// that does not parse stops the server, as Redis's aofLoadManifestFromDisk (it
/// logs the reason first).
pub fn init(st: &ServerState) -> Result<(), String> {
    let _ = st.aof.engine.set(st.engine.clone());
    st.aof
        .timestamps
        .store(st.engine.config.bool(P::AofTimestampEnabled), Relaxed);
    if let Ok(text) = std::fs::read_to_string(manifest_path(&st.engine)) {
        match Manifest::parse(&text) {
            Ok(m) => *st.aof.manifest.lock() = Some(m),
            Err(e) => {
                tracing::warn!("*** FATAL AOF MANIFEST FILE ERROR ***");
                tracing::warn!("{e}");
                return Err(e.to_string());
            }
        }
    }
    Ok(())
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
