//! Writing the log: the buffer commands append to, writes and fsyncs before
//! replies (group commit for appendfsync always), the background thread.

use std::fs::File;
use std::io::Write;
use std::sync::atomic::Ordering::*;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_core::config::P;
use ferrokv_core::Engine;
use ferrokv_persist::aof::{encode_command, encode_select};

use super::rewrite::{start_rewrite, start_rewrite_inner};
use super::*;
use crate::state::ServerState;

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
    pub(super) fn flush_to(&self, target: u64) -> std::io::Result<()> {
        if self.written.load(Acquire) >= target {
            return Ok(());
        }
        let mut io = self.io.lock();
        self.flush_locked(&mut io)
    }

    /// Writes the buffer out; the caller holds the io lock.
    pub(super) fn flush_locked(&self, io: &mut Io) -> std::io::Result<()> {
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
        let sleep = self.flush_sleep_us.load(Relaxed);
        let started = Instant::now();
        if sleep > 0 {
            std::thread::sleep(Duration::from_micros(sleep));
        }
        let res = file.write_all(&buf);
        // Redis's flushAppendOnlyFile events: why the write may have been slow,
        // then every write.
        let why = if self.fsyncing.load(Relaxed) {
            "aof-write-pending-fsync"
        } else if self.stats.rewrite_in_progress.load(Relaxed)
            || self.engine.get().is_some_and(|e| e.snapshot.active())
        {
            "aof-write-active-child"
        } else {
            "aof-write-alone"
        };
        self.latency(&[why, "aof-write"], started);
        match res {
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
    pub(super) fn sync_to(&self, target: u64) -> std::io::Result<()> {
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
            let started = Instant::now();
            self.fsyncing.store(true, Relaxed);
            let res = f.sync_data();
            self.fsyncing.store(false, Relaxed);
            let always = self
                .engine
                .get()
                .is_some_and(|e| e.config.int(P::Appendfsync) == FSYNC_ALWAYS);
            if always {
                self.latency(&["aof-fsync-always"], started);
            }
            res?;
        }
        self.mark_synced(upto);
        *self.last_fsync.lock() = Instant::now();
        Ok(())
    }

    /// Everything up to `upto` is on disk: wake the connections waiting for it.
    pub(super) fn mark_synced(&self, upto: u64) {
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
    pub(super) fn fsync_loop(&self, st: &ServerState) {
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
    pub(super) fn cron(&self, st: &Arc<ServerState>) {
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
        if engine.halted.load(Relaxed) {
            // A shutdown runs: no rewrite starts now.
            return;
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
    pub(super) fn current_size(&self) -> u64 {
        self.stats.size_before_incr.load(Relaxed) + self.io.lock().incr_size
    }

    /// Makes `file` (a new, empty incr file) the one appended to. Called at the
    /// snapshot instant of a rewrite (every shard lock held) or at startup: the
    /// old file is written out and fsynced first, so every offset already handed
    /// out is durable in the old file.
    pub(super) fn switch_to(&self, file: File, size_before: u64) -> std::io::Result<()> {
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
    pub(super) fn close(&self) {
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

/// The shutdown's step (Redis's flushAppendOnlyFile(1) + fsync in
/// finishShutdown): with commands halted, everything logged is written and
/// fsynced. Errors are logged, as Redis does, and do not stop the shutdown.
pub fn flush_for_shutdown(st: &ServerState) {
    let aof = &st.aof;
    if !aof.enabled() {
        return;
    }
    tracing::info!("Calling fsync() on the AOF file.");
    let target = aof.pending.lock().end;
    if let Err(e) = aof.sync_to(target) {
        tracing::warn!("Fail to fsync the AOF file: {e}.");
    }
}

/// Whether the running rewrite is the one that turns the AOF on (Redis's
/// AOF_WAIT_REWRITE with a rewrite child): the AOF files do not hold the dataset
/// until it ends. One only scheduled does not count, as in Redis.
pub fn writing_initial_aof(st: &ServerState) -> bool {
    let s = &st.aof.stats;
    s.rewrite_in_progress.load(Acquire) && s.enabling.load(Acquire)
}

/// At exit: removes the unfinished base of a rewrite cut short (Redis removes a
/// killed rewrite child's temp file).
pub fn remove_temp_files(st: &ServerState) {
    let tmp = dir(&st.engine).join(format!("temp-rewriteaof-bg-{}.aof", std::process::id()));
    let _ = std::fs::remove_file(tmp);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs::OpenOptions;

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
