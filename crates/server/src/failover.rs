//! FAILOVER [TO host port [FORCE]] [TIMEOUT ms] | ABORT: a coordinated switch of
//! roles with one of this master's replicas (Redis 7.0's failoverCommand).
//!
//! The master pauses writes (CLIENT PAUSE WRITE semantics, the internal pause
//! purpose: a write waits, then runs or, once this server is a replica, is
//! refused with READONLY), waits until the target replica (or any
//! replica) has acknowledged the whole stream, then becomes a replica of it with
//! `PSYNC <replid> <offset> FAILOVER`, which makes the target promote itself
//! and continue from the same history. TIMEOUT aborts (or with FORCE, fails
//! over anyway); a PSYNC the target refuses aborts and turns this server back
//! into a master.

use std::sync::atomic::{AtomicU8, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::pause::{PauseKind, PausePurpose};
use ferrokv_core::{CmdError, CmdResult};
use parking_lot::Mutex;

use crate::cmds::state;
use crate::state::ServerState;

/// FAILOVER.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("failover", failover)];

const NONE: u8 = 0;
const WAITING: u8 = 1;
const IN_PROGRESS: u8 = 2;

/// The failover in progress, if any.
#[derive(Default)]
pub struct Failover {
    state: AtomicU8,
    target: Mutex<Option<(String, u16)>>,
}

impl Failover {
    /// INFO's master_failover_state.
    pub fn state_name(&self) -> &'static str {
        match self.state.load(Relaxed) {
            WAITING => "waiting-for-sync",
            IN_PROGRESS => "failover-in-progress",
            _ => "no-failover",
        }
    }

    /// Whether a failover is going on (writes refused, no pings).
    pub fn active(&self) -> bool {
        self.state.load(Relaxed) != NONE
    }

    /// Whether this server, now a replica, must send PSYNC ... FAILOVER.
    pub fn in_progress(&self) -> bool {
        self.state.load(Relaxed) == IN_PROGRESS
    }

    fn clear(&self) {
        *self.target.lock() = None;
        self.state.store(NONE, Relaxed);
    }
}

/// Writes wait while a failover goes on (Redis's PAUSE_DURING_FAILOVER).
fn pause_writes(st: &ServerState) {
    let pause = &st.engine.gates.pause;
    let now = st.engine.clock.now_ms();
    pause.pause(PausePurpose::Internal, PauseKind::Write, i64::MAX, now);
    st.pause_wake.changed(pause.generation());
}

/// The failover is over (done or aborted): no failover state, writes go on.
fn finish(st: &ServerState) {
    st.failover.clear();
    let pause = &st.engine.gates.pause;
    pause.unpause(PausePurpose::Internal, st.engine.clock.now_ms());
    st.pause_wake.changed(pause.generation());
}

/// The target's PSYNC answer arrived: the failover is over (`ok`) or aborted.
pub fn psync_answered(st: &ServerState, ok: bool) {
    if !st.failover.in_progress() {
        return;
    }
    if ok {
        finish(st);
    } else {
        abort(st, "Failover target rejected psync request");
    }
}

fn abort(st: &ServerState, why: &str) {
    if !st.failover.active() {
        return;
    }
    match st.failover.target.lock().clone() {
        Some((h, p)) => tracing::info!("FAILOVER to {h}:{p} aborted: {why}"),
        None => tracing::info!("FAILOVER to any replica aborted: {why}"),
    }
    if st.failover.in_progress() {
        crate::replica_link::unset_master(st);
    }
    finish(st);
}

fn failover(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    if args.len() == 2 && args[1].eq_ignore_ascii_case(b"abort") {
        if !st.failover.active() {
            return Err(CmdError::Other("No failover in progress.".into()));
        }
        abort(st, "Failover manually aborted");
        ctx.out.ok();
        return Ok(());
    }
    let (mut timeout, mut force, mut target) = (0i64, false, None);
    let mut j = 1;
    while j < args.len() {
        let a = args[j];
        if a.eq_ignore_ascii_case(b"timeout") && j + 1 < args.len() && timeout == 0 {
            timeout = ferrokv_core::args::parse_i64(args[j + 1]).ok_or(CmdError::NotInteger)?;
            if timeout <= 0 {
                return Err(CmdError::Other(
                    "FAILOVER timeout must be greater than 0".into(),
                ));
            }
            j += 2;
        } else if a.eq_ignore_ascii_case(b"to") && j + 2 < args.len() && target.is_none() {
            let port = ferrokv_core::args::parse_i64(args[j + 2]).ok_or(CmdError::NotInteger)?;
            target = Some((String::from_utf8_lossy(args[j + 1]).into_owned(), port));
            j += 3;
        } else if a.eq_ignore_ascii_case(b"force") && !force {
            force = true;
            j += 1;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if st.failover.active() {
        return Err(CmdError::Other("FAILOVER already in progress.".into()));
    }
    if crate::replica_link::is_replica(st) {
        return Err(CmdError::Other(
            "FAILOVER is not valid when server is a replica.".into(),
        ));
    }
    if st.replicas.count() == 0 {
        return Err(CmdError::Other(
            "FAILOVER requires connected replicas.".into(),
        ));
    }
    if force && (timeout == 0 || target.is_none()) {
        return Err(CmdError::Other(
            "FAILOVER with force option requires both a timeout and target HOST and IP.".into(),
        ));
    }
    if let Some((host, port)) = &target {
        let found = st
            .replicas
            .list()
            .into_iter()
            .find(|r| r.ip().eq_ignore_ascii_case(host) && i64::from(r.conf.port) == *port);
        let Some(r) = found else {
            return Err(CmdError::Other(
                "FAILOVER target HOST and PORT is not a replica.".into(),
            ));
        };
        if r.state() != crate::replica::LinkState::Online {
            return Err(CmdError::Other(
                "FAILOVER target replica is not online.".into(),
            ));
        }
        tracing::info!("FAILOVER requested to {host}:{port}.");
    } else {
        tracing::info!("FAILOVER requested to any replica.");
    }
    *st.failover.target.lock() = target.map(|(h, p)| (h, p as u16));
    let me = st
        .me
        .get()
        .and_then(std::sync::Weak::upgrade)
        .ok_or_else(|| CmdError::Other("server is stopping".into()))?;
    st.failover.state.store(WAITING, Relaxed);
    pause_writes(st);
    let end = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout as u64));
    tokio::spawn(watch(me, end, force));
    ctx.out.ok();
    Ok(())
}

/// Waits for a replica to catch up (Redis's updateFailoverStatus).
async fn watch(st: Arc<ServerState>, end: Option<Instant>, force: bool) {
    // Ask for acks at once rather than at the replicas' next second.
    let mut getack = Vec::new();
    crate::replica::encode(&[b"REPLCONF", b"GETACK", b"*"], &mut getack);
    st.replicas.feed_raw(&getack);
    loop {
        if st.failover.state.load(Relaxed) != WAITING {
            return;
        }
        let target = st.failover.target.lock().clone();
        if end.is_some_and(|e| Instant::now() >= e) {
            if force {
                if let Some((h, p)) = target {
                    tracing::info!("FAILOVER to {h}:{p} time out exceeded, failing over.");
                    st.failover.state.store(IN_PROGRESS, Relaxed);
                    crate::replica_link::set_master(&st, h, p);
                }
            } else {
                abort(&st, "Replica never caught up before timeout");
            }
            return;
        }
        let offset = st.replicas.offset();
        let caught_up = st.replicas.list().into_iter().find(|r| {
            r.ack_off.load(Relaxed) == offset
                && target
                    .as_ref()
                    .is_none_or(|(h, p)| r.ip().eq_ignore_ascii_case(h) && r.conf.port == *p)
        });
        if let Some(r) = caught_up {
            let (h, p) = (r.ip(), r.conf.port);
            tracing::info!("Failover target {h}:{p} is synced, failing over.");
            *st.failover.target.lock() = Some((h.clone(), p));
            st.failover.state.store(IN_PROGRESS, Relaxed);
            crate::replica_link::set_master(&st, h, p);
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
