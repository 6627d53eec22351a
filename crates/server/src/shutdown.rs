//! Shutting down without losing anything: SHUTDOWN, SIGTERM and SIGINT, after
//! Redis 7.0's prepareForShutdown / finishShutdown.
//!
//! A master first lets its replicas catch up: unless NOW is given (or
//! shutdown-timeout is 0), while some replica has not acknowledged the whole
//! stream, writes are paused, the replicas are asked for an ack, and the
//! shutdown waits up to shutdown-timeout seconds for them (SHUTDOWN blocks;
//! SHUTDOWN ABORT calls it off); the lagging ones are logged. Then:
//!
//! The order is the guarantee. First the server stops accepting connections and
//! halts the engine ([`Engine::halt`](ferrokv_core::Engine::halt)): a command
//! either ran before that cut, and what it wrote is already in the AOF buffer, or
//! it does not run at all (its connection keeps it, and closes when the process
//! exits). Then the AOF is written and fsynced whatever `appendfsync` says, then
//! the final RDB is saved when save points are configured (or SAVE was asked),
//! then the pid file and the unix socket go, and the process exits. So a write
//! whose reply reached a client is never lost by a shutdown.
//!
//! A shutdown that fails (the final save cannot be written, or the first AOF
//! rewrite has not finished) is called off unless FORCE was given, as in Redis:
//! the engine resumes, held commands run, connections are accepted again, and
//! SHUTDOWN replies with the error. A signal's shutdown runs on its own thread,
//! so a second SIGINT during it still exits at once ("You insist...").

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicI64, Ordering::*};
use std::sync::Arc;
use std::time::Duration;

use ferrokv_core::config::P;
use ferrokv_core::pause::{PauseKind, PausePurpose};
use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::state::ServerState;

/// SHUTDOWN SAVE: save even without save points.
pub const SAVE: i64 = 1;
/// SHUTDOWN NOSAVE: do not save even with save points.
pub const NOSAVE: i64 = 2;
/// SHUTDOWN NOW: do not wait for replicas to catch up.
pub const NOW: i64 = 4;
/// SHUTDOWN FORCE: errors writing the RDB or the first AOF do not stop it.
pub const FORCE: i64 = 8;

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

/// Where a shutdown stands.
#[derive(Default)]
pub struct ShutdownState {
    /// One attempt at a time (a signal's and SHUTDOWN's).
    attempt: Mutex<()>,
    /// shutdown_asap: a signal asked for a shutdown that has not ended (cleared
    /// by SHUTDOWN ABORT before it starts, and when it fails).
    asap: AtomicBool,
    /// A thread runs the signal's shutdown.
    started: AtomicBool,
    /// The signal asked last (for shutdown-on-sigint / -sigterm).
    last_signal: AtomicI32,
    /// The shutdown succeeded: the process is exiting.
    exiting: AtomicBool,
    /// Connections are not handed to a connection task while set.
    not_accepting: AtomicBool,
    /// Wakes connections and accepts waiting for the outcome of a shutdown.
    outcome: Notify,
    /// While the shutdown waits for lagging replicas: when it stops waiting
    /// (unix ms; Redis's shutdown_mstime). 0: no shutdown initiated.
    deadline_ms: AtomicI64,
    /// The flags of the shutdown that waits.
    wait_flags: AtomicI64,
}

/// The error of a SHUTDOWN that failed or was aborted while it waited.
pub const FAILED_TEXT: &str = "ERR Errors trying to SHUTDOWN. Check logs.";

/// What a shutdown request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The process exits.
    Exit,
    /// The shutdown failed and was called off (the reasons are logged).
    Failed,
    /// It waits for lagging replicas (up to shutdown-timeout), writes paused.
    Waiting,
}

impl ShutdownState {
    /// Whether the process is exiting after a successful shutdown.
    pub fn exiting(&self) -> bool {
        self.exiting.load(Acquire)
    }

    /// INFO's shutdown_in_milliseconds while a shutdown waits for replicas.
    pub fn remaining_ms(&self, now_ms: i64) -> Option<i64> {
        match self.deadline_ms.load(Acquire) {
            0 => None,
            d => Some(d - now_ms),
        }
    }
}

/// Runs the shutdown to its end, without waiting for replicas when it would
/// (see [`request`]). Returns true when the process must now exit.
pub fn prepare(st: &ServerState, flags: i64) -> bool {
    request(st, flags) == Outcome::Exit
}

/// Redis's prepareForShutdown: unless NOW (or shutdown-timeout 0), a master
/// whose replicas have not acknowledged its whole stream pauses writes, asks
/// them for an ack and waits up to shutdown-timeout seconds for them (a thread
/// of its own watches), then finishes; a request while one waits joins it.
pub fn request(st: &ServerState, flags: i64) -> Outcome {
    let sd = &st.shutdown_state;
    if sd.deadline_ms.load(Acquire) != 0 {
        return Outcome::Waiting;
    }
    let _one = sd.attempt.lock();
    if sd.exiting() {
        return Outcome::Exit;
    }
    if sd.deadline_ms.load(Acquire) != 0 {
        return Outcome::Waiting;
    }
    let timeout = st.engine.config.int_named("shutdown-timeout");
    if flags & NOW == 0 && timeout != 0 && !replicas_in_sync(st) {
        if let Some(me) = st.me.get().and_then(std::sync::Weak::upgrade) {
            let now = st.engine.clock.now_ms();
            // Initiated first: a SHUTDOWN right behind this one joins the wait
            // at once instead of queueing on the attempt lock.
            sd.wait_flags.store(flags, Release);
            sd.deadline_ms.store(now + timeout * 1000, Release);
            let pause = &st.engine.gates.pause;
            if !pause.active(now) {
                let mut getack = Vec::new();
                crate::replica::encode(&[b"REPLCONF", b"GETACK", b"*"], &mut getack);
                st.replicas.feed_raw(&getack);
            }
            pause.pause(PausePurpose::Shutdown, PauseKind::Write, i64::MAX, now);
            st.pause_wake.changed(pause.generation());
            if start_waiter(me) {
                return Outcome::Waiting;
            }
            // No thread to wait with: shut down now, as with NOW.
            sd.deadline_ms.store(0, Release);
            tracing::warn!("User requested shutdown...");
            return if finish_now(st, flags) {
                Outcome::Exit
            } else {
                Outcome::Failed
            };
        }
    }
    tracing::warn!("User requested shutdown...");
    if finish_now(st, flags) {
        Outcome::Exit
    } else {
        Outcome::Failed
    }
}

/// Redis's isReadyToShutdown: every replica acknowledged the whole stream.
fn replicas_in_sync(st: &ServerState) -> bool {
    let offset = st.replicas.offset();
    st.replicas
        .list()
        .iter()
        .all(|r| r.ack_off.load(Relaxed) >= offset)
}

/// The waiting shutdown's watch (Redis checks in serverCron): finishes it once
/// the replicas are in sync or the time is up; leaves when it is aborted. A task
/// of the runtime when there is one (a SHUTDOWN must block at once, before the
/// next command of another client: a thread's start-up takes longer).
fn start_waiter(st: Arc<ServerState>) -> bool {
    let watch = move || {
        tracing::warn!("User requested shutdown...");
        tracing::info!("Waiting for replicas before shutting down.");
        loop {
            std::thread::sleep(Duration::from_millis(10));
            if !waiter_step(&st) {
                return;
            }
        }
    };
    match tokio::runtime::Handle::try_current() {
        Ok(rt) => {
            rt.spawn_blocking(watch);
            true
        }
        Err(_) => std::thread::Builder::new()
            .name("shutdown-wait".into())
            .spawn(watch)
            .is_ok(),
    }
}

/// One look of the watch: false once the wait is over (finished or aborted).
fn waiter_step(st: &ServerState) -> bool {
    let sd = &st.shutdown_state;
    let deadline = sd.deadline_ms.load(Acquire);
    if deadline == 0 {
        return false;
    }
    if st.engine.clock.now_ms() < deadline && !replicas_in_sync(st) {
        return true;
    }
    let _one = sd.attempt.lock();
    if sd.deadline_ms.load(Acquire) != 0 {
        finish_now(st, sd.wait_flags.load(Acquire));
    }
    false
}

/// Stops accepting and executing, then finishes (the attempt lock is held).
/// True when the process must now exit; false when the shutdown was called off.
fn finish_now(st: &ServerState, flags: i64) -> bool {
    let sd = &st.shutdown_state;
    // Stop accepting, stop executing: from here on the data only goes to disk.
    sd.not_accepting.store(true, Release);
    st.engine.halt();
    if finish(st, flags) {
        // Stop listening before anyone hears back: a client that connects now is
        // refused, as by Redis's exited process, rather than accepted by the
        // kernel and then dropped.
        for task in std::mem::take(&mut *st.tcp_accept.lock()) {
            task.abort();
        }
        sd.exiting.store(true, Release);
        sd.outcome.notify_waiters();
        st.request_shutdown();
        return true;
    }
    tracing::warn!("Errors trying to shut down the server. Check the logs for more information.");
    cancel(st);
    false
}

/// Logs the replicas that have not acknowledged the whole stream, as Redis's
/// finishShutdown does.
fn log_replica_lag(st: &ServerState) {
    let offset = st.replicas.offset();
    let replicas = st.replicas.list();
    if replicas.is_empty() {
        return;
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut lagging = 0;
    for r in &replicas {
        let acked = r.ack_off.load(Relaxed);
        if acked >= offset {
            continue;
        }
        lagging += 1;
        let state = r.state();
        let lag = if state == crate::replica::LinkState::Online {
            now.saturating_sub(r.ack_time.load(Relaxed))
        } else {
            0
        };
        tracing::warn!(
            "Lagging replica {}:{} reported offset {} behind master, lag={lag}, state={}.",
            r.ip(),
            r.conf.port,
            offset - acked,
            state.name()
        );
    }
    tracing::info!(
        "{} of {} replicas are in sync when shutting down.",
        replicas.len() - lagging,
        replicas.len()
    );
}

/// finishShutdown: flush and fsync the AOF, save, remove the pid file and the
/// unix socket. False when an error calls the shutdown off.
fn finish(st: &ServerState, flags: i64) -> bool {
    let engine = &st.engine;
    let force = flags & FORCE != 0;
    log_replica_lag(st);
    if engine.scripting.aborted_for_shutdown() {
        // A busy script held shards the first AOF rewrite had to read; it is
        // stopped now, so the rewrite ends within moments (Redis's forked child
        // was never held up by the script).
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while crate::aof::writing_initial_aof(st) && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }
    if crate::aof::writing_initial_aof(st) {
        // Until its first rewrite ends, the AOF does not hold the dataset.
        if force {
            tracing::warn!("Writing initial AOF. Exit anyway.");
        } else {
            tracing::warn!("Writing initial AOF, can't exit.");
            return false;
        }
    }
    crate::aof::flush_for_shutdown(st);
    if crate::persistence::shutdown_wants_save(engine, flags & SAVE != 0, flags & NOSAVE != 0) {
        tracing::info!("Saving the final RDB snapshot before exiting.");
        if crate::persistence::save_for_shutdown(engine, &st.persistence.0).is_err() {
            if force {
                tracing::warn!("Error trying to save the DB. Exit anyway.");
            } else {
                tracing::warn!("Error trying to save the DB, can't exit.");
                return false;
            }
        }
    }
    let pidfile = engine.config.string(P::Pidfile);
    if !pidfile.is_empty() {
        tracing::info!("Removing the pid file.");
        let _ = std::fs::remove_file(&pidfile);
    }
    let unixsocket = engine.config.string(P::Unixsocket);
    if !unixsocket.is_empty() {
        tracing::info!("Removing the unix socket file.");
        if let Err(e) = std::fs::remove_file(&unixsocket) {
            tracing::warn!("Error removing the unix socket file: {e}");
        }
    }
    tracing::warn!("ferrokv is now ready to exit, bye bye...");
    true
}

/// cancelShutdown: the server goes on as before.
fn cancel(st: &ServerState) {
    let sd = &st.shutdown_state;
    sd.asap.store(false, Release);
    end_wait(st);
    st.engine.resume();
    sd.not_accepting.store(false, Release);
    sd.outcome.notify_waiters();
    // Clients parked on keys that became ready while commands were held.
    let dbs: Vec<usize> = (0..st.engine.keyspace.db_count()).collect();
    let keys = st.blocked.keys_in(&dbs);
    if !keys.is_empty() {
        st.blocked.serve(&st.engine, st, keys);
    }
}

/// Ends a wait for replicas (aborted, or its shutdown failed): writes resume and
/// the SHUTDOWNs waiting get the error (Redis's cancelShutdown).
fn end_wait(st: &ServerState) {
    let sd = &st.shutdown_state;
    if sd.deadline_ms.swap(0, AcqRel) == 0 {
        return;
    }
    let pause = &st.engine.gates.pause;
    pause.unpause(PausePurpose::Shutdown, st.engine.clock.now_ms());
    st.pause_wake.changed(pause.generation());
    st.blocked.unblock_shutdowns(&st.engine, FAILED_TEXT);
}

/// SHUTDOWN ABORT: calls off a shutdown a signal asked for that has not begun.
/// False when there is none.
pub fn abort(st: &ServerState) -> bool {
    if st.shutdown_state.deadline_ms.load(Acquire) != 0 {
        st.shutdown_state.asap.store(false, Release);
        end_wait(st);
        tracing::info!("Shutdown manually aborted.");
        return true;
    }
    if st.shutdown_state.asap.swap(false, AcqRel) {
        tracing::info!("Shutdown manually aborted.");
        return true;
    }
    false
}

/// Waits while a shutdown is in progress (a held command, a new connection).
/// True when the server goes on; false when it is exiting.
pub async fn wait_outcome(st: &ServerState) -> bool {
    let sd = &st.shutdown_state;
    loop {
        let notified = sd.outcome.notified();
        tokio::pin!(notified);
        // Registered before the checks, so an outcome in between is not missed.
        notified.as_mut().enable();
        if sd.exiting() {
            return false;
        }
        if !st.engine.halted.load(Acquire) && !sd.not_accepting.load(Acquire) {
            return true;
        }
        notified.await;
    }
}

/// Whether a new connection must wait for the outcome of a shutdown first.
#[inline]
pub fn accept_paused(st: &ServerState) -> bool {
    st.shutdown_state.not_accepting.load(Acquire)
}

/// The flags a signal's shutdown uses: shutdown-on-sigint / shutdown-on-sigterm.
fn signal_flags(st: &ServerState) -> i64 {
    let param = match st.shutdown_state.last_signal.load(Acquire) {
        SIGINT => P::ShutdownOnSigint,
        _ => P::ShutdownOnSigterm,
    };
    st.engine.config.int(param)
}

/// DEBUG PAUSE-CRON stops the cron that acts on a signal (Redis checks
/// shutdown_asap in serverCron), which lets SHUTDOWN ABORT cancel a SIGTERM.
fn cron_paused(_st: &ServerState) -> bool {
    false
}

/// A signal arrived: Redis's sigShutdownHandler.
fn on_signal(st: &ServerState, sig: i32) {
    let sd = &st.shutdown_state;
    if sig == SIGINT && sd.asap.load(Acquire) {
        // A second Ctrl+C: quit now, without persisting.
        tracing::warn!("You insist... exiting now.");
        crate::persistence::remove_temp_files(&st.engine);
        crate::aof::remove_temp_files(st);
        std::process::exit(1);
    }
    tracing::warn!(
        "Received {} scheduling shutdown...",
        if sig == SIGINT { "SIGINT" } else { "SIGTERM" }
    );
    sd.last_signal.store(sig, Release);
    sd.asap.store(true, Release);
}

/// The cron's part: starts the shutdown a signal asked for, on a thread of its
/// own (the signal task must stay free to hear a second SIGINT).
fn start_if_asked(st: &Arc<ServerState>) {
    let sd = &st.shutdown_state;
    if !sd.asap.load(Acquire)
        || sd.deadline_ms.load(Acquire) != 0
        || cron_paused(st)
        || sd.started.swap(true, AcqRel)
    {
        return;
    }
    let me = st.clone();
    let spawned = std::thread::Builder::new()
        .name("shutdown".into())
        .spawn(move || {
            let flags = signal_flags(&me);
            prepare(&me, flags);
            me.shutdown_state.started.store(false, Release);
        });
    if let Err(e) = spawned {
        tracing::warn!("can't start the shutdown thread: {e}");
        sd.started.store(false, Release);
    }
}

/// Serves SIGTERM and SIGINT until the server must exit (a shutdown succeeded).
pub async fn run_until_exit(st: &Arc<ServerState>) {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).ok();
    let mut int = signal(SignalKind::interrupt()).ok();
    // Redis acts on a signal in its cron; this one also runs right away.
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        let got = tokio::select! {
            _ = recv(&mut term) => Some(SIGTERM),
            _ = recv(&mut int) => Some(SIGINT),
            _ = st.shutdown.notified() => None,
            _ = tick.tick() => None,
        };
        if let Some(sig) = got {
            on_signal(st, sig);
        }
        if st.shutting_down.load(Acquire) {
            return;
        }
        start_if_asked(st);
    }
}

async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
    match s.as_mut() {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending::<()>().await,
    }
}
