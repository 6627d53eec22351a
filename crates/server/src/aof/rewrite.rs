//! BGREWRITEAOF (Redis 7.0's multi-part scheme, with a fork-less snapshot) and
//! turning the AOF on and off at runtime.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_core::commands::{CommandDef, Locks};
use ferrokv_core::config::P;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::keyspace::{Node, SHARDS};
use ferrokv_core::snapshot::ShardVisitor;
use ferrokv_core::{CmdError, CmdResult, Engine};
use ferrokv_persist::aof::{encode_select, rebuild_commands};
use ferrokv_persist::convert::{key_meta, to_rdb, write_options, AccessPolicy};
use ferrokv_persist::rdb::{encode_entry, RdbWriter};
use parking_lot::Mutex;

use super::*;
use crate::cmds::state;
use crate::state::ServerState;

/// BGREWRITEAOF.
pub static COMMANDS: &[CommandDef] = &[CommandDef::with_locks(
    "bgrewriteaof",
    bgrewriteaof,
    Locks::Own,
)];

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
    /// rdb-key-save-delay (µs per key; negative: one µs every -N keys), paid
    /// holding no lock, as Redis's rewrite child sleeps per key.
    key_delay: i64,
    /// Keys written since the delay was last paid.
    undelayed: std::sync::atomic::AtomicU64,
    /// The AOF was turned off: the delay is not paid any more.
    cancel: Arc<std::sync::atomic::AtomicBool>,
}

impl BaseVisitor {
    fn new(
        engine: &Engine,
        sink: Sink,
        rdb: bool,
        opts: ferrokv_persist::WriteOptions,
        key_delay: i64,
        cancel: Arc<std::sync::atomic::AtomicBool>,
    ) -> BaseVisitor {
        BaseVisitor {
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
            key_delay,
            undelayed: std::sync::atomic::AtomicU64::new(0),
            cancel,
        }
    }

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
            if self.key_delay != 0 {
                self.undelayed
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
            match to_rdb(&node.value()) {
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

    fn after_visit(&self) {
        crate::persistence::pay_key_delay(self.key_delay, &self.undelayed, Some(&self.cancel));
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
    /// The AOF is on (or being turned on): the log switches to a new incr file.
    /// Off (BGREWRITEAOF with appendonly no), only a base is written, as Redis does.
    logging: bool,
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
    let logging = enabling || aof.enabled();
    let mut manifest = aof.manifest.lock();
    let mut m = manifest.clone().unwrap_or_default();
    let incr_name = if logging {
        m.add_incr(&name)
    } else {
        String::new()
    };
    let (base_name, base_seq) = m.next_base_name(&name, rdb);
    let incr = if logging {
        let incr = OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join(&incr_name))
            .map_err(|e| format!("Can't open the append-only file {incr_name}: {e}"))?;
        Some(incr)
    } else {
        None
    };
    if logging && !enabling {
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
        for code in engine.scripting.functions.codes() {
            writer.function(&code).map_err(|e| e.to_string())?;
        }
        Sink::Rdb(writer)
    } else {
        Sink::Commands(commands_base(engine, w).map_err(|e| e.to_string())?)
    };
    aof.rewrite_cancel.store(false, Release);
    let visitor = Arc::new(BaseVisitor::new(
        engine,
        sink,
        rdb,
        opts,
        engine.config.int_named("rdb-key-save-delay"),
        aof.rewrite_cancel.clone(),
    ));
    let mut switched = Ok(());
    let begun = engine.snapshot_begin_with(visitor.clone(), || {
        let Some(incr) = incr else { return };
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
        logging,
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
        if self.logging && !aof.enabled() {
            return Err("the AOF was turned off during the rewrite".into());
        }
        let d = dir(engine);
        let started = std::time::Instant::now();
        std::fs::rename(&self.tmp, d.join(&self.base_name)).map_err(io)?;
        super::latency(engine, "aof-rename", started);
        let mut guard = aof.manifest.lock();
        let m = guard.get_or_insert_with(Default::default);
        m.install_base(self.base_name.clone(), self.base_seq, &self.incr_name);
        if !self.logging {
            // Nothing is logged after the base: every incr file is covered by it.
            for mut f in m.incrs.drain(..) {
                f.kind = ferrokv_persist::aof::FileKind::History;
                m.history.push(f);
            }
        }
        persist_manifest(engine, m).map_err(io)?;
        // The new manifest is durable: the files it no longer lists can go.
        for old in m.history.drain(..) {
            let _ = std::fs::remove_file(d.join(&old.name));
            tracing::info!("Removing the history file {} in the background", old.name);
        }
        persist_manifest(engine, m).map_err(io)?;
        let base_size = file_size(engine, &d.join(&self.base_name));
        aof.stats.base_size.store(base_size, Relaxed);
        aof.stats.size_before_incr.store(base_size, Relaxed);
        Ok(())
    }
}

/// Starts a background rewrite (BGREWRITEAOF, auto rewrite).
pub fn start_rewrite(st: &Arc<ServerState>) -> Result<(), String> {
    start_rewrite_inner(st, false)
}

pub(super) fn start_rewrite_inner(st: &Arc<ServerState>, enabling: bool) -> Result<(), String> {
    let aof = &st.aof;
    if aof.stats.rewrite_in_progress.swap(true, AcqRel) {
        return Err("Background append only file rewriting already in progress".into());
    }
    aof.stats.rewrite_started.store(unix_secs(), Relaxed);
    aof.stats.enabling.store(enabling, Release);
    let pending = match begin_rewrite(&st.engine, aof, enabling) {
        Ok(p) => p,
        Err(e) => {
            aof.stats.enabling.store(false, Release);
            aof.stats.rewrite_in_progress.store(false, Release);
            return Err(e);
        }
    };
    tracing::info!(
        "Background append only file rewriting started by pid {}",
        std::process::id()
    );
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
                    tracing::info!("Background AOF rewrite terminated with success");
                    tracing::info!("Background AOF rewrite finished successfully");
                }
                Err(e) => {
                    aof.stats.last_rewrite_ok.store(false, Relaxed);
                    aof.stats.consecutive_failures.fetch_add(1, Relaxed);
                    tracing::warn!("Background AOF rewrite failed: {e}");
                    tracing::warn!("Background AOF rewrite terminated with error");
                    if enabling {
                        // Redis turns the AOF back off when its first rewrite fails.
                        stop(&st2.engine, aof);
                    }
                }
            }
            aof.stats.enabling.store(false, Release);
            aof.stats.rewrite_in_progress.store(false, Release);
        });
    if let Err(e) = spawned {
        aof.stats.enabling.store(false, Release);
        aof.stats.rewrite_in_progress.store(false, Release);
        return Err(format!("can't start the rewrite thread: {e}"));
    }
    Ok(())
}

/// Turns the AOF off: no more propagation, the file is written out and closed.
pub(super) fn stop(engine: &Engine, aof: &Aof) {
    if aof.stats.rewrite_in_progress.load(Acquire) {
        // Its result is thrown away when it ends (`finish`); it ends now.
        tracing::info!("Killing running AOF rewrite child: {}", std::process::id());
        aof.rewrite_cancel.store(true, Release);
    }
    if !aof.keep_propagating.load(Acquire) {
        engine.propagating.store(false, Release);
    }
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

/// AOF turned on while another snapshot runs: the first rewrite starts when it
/// ends (Redis's aof_rewrite_scheduled).
fn schedule_enable(st: &ServerState) {
    tracing::info!("AOF was enabled but there is already another background operation. An AOF background was scheduled to start when possible.");
    st.aof.stats.enable_scheduled.store(true, Release);
    st.aof.stats.rewrite_scheduled.store(true, Release);
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
        schedule_enable(st);
        return Ok(());
    }
    // The snapshot takes every shard lock: from a thread of its own, since this
    // may run inside a transaction that holds some until it ends.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(start_rewrite_inner(&me, true));
    });
    match rx.recv_timeout(Duration::from_secs(2)) {
        // A save began in between (a replicated FLUSHALL's): scheduled, as above.
        Ok(Err(_)) if st.engine.snapshot.active() => {
            schedule_enable(st);
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::warn!("{e}");
            Err("Unable to turn on AOF. Check server logs.".to_string())
        }
        // Started, or waiting for the transaction to end.
        _ => Ok(()),
    }
}

/// Writes a base file of the current dataset synchronously (startup).
pub(super) fn write_base_now(engine: &Engine, path: &Path) -> Result<(), String> {
    let rdb = engine.config.bool(P::AofUseRdbPreamble);
    let file = File::create(path).map_err(|e| format!("Can't create {}: {e}", path.display()))?;
    let w = BufWriter::new(file);
    let opts = write_options(&engine.config);
    let sink = if rdb {
        let mut writer = RdbWriter::new(w, opts.clone()).map_err(|e| e.to_string())?;
        writer
            .standard_aux(unix_secs(), crate::alloc::stats().allocated, true)
            .map_err(|e| e.to_string())?;
        for code in engine.scripting.functions.codes() {
            writer.function(&code).map_err(|e| e.to_string())?;
        }
        Sink::Rdb(writer)
    } else {
        Sink::Commands(commands_base(engine, w).map_err(|e| e.to_string())?)
    };
    let visitor = Arc::new(BaseVisitor::new(
        engine,
        sink,
        rdb,
        opts,
        0,
        Arc::new(std::sync::atomic::AtomicBool::new(false)),
    ));
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
