//! One script run: what `redis.call` needs while a script executes (the caller's
//! client, the held shard locks, the propagation log, the script's RESP version),
//! published to the `redis.*` functions through a thread-local pointer for the
//! length of the run, and the execution of each command the script calls.
//!
//! Locking: the run holds the scripting gate (one script at a time in the server,
//! as in Redis) and the shards of its declared keys. A command on another key takes
//! that key's shard on the spot ([`LockSet::acquire`]): scripts build key names
//! (job queues do), so undeclared keys are served, never refused, and the script
//! stays atomic because nothing it locked is released before it ends.

use std::cell::Cell;

use ferrokv_resp::{Protocol, ReplyBuf};

use crate::client::Client;
use crate::commands::meta::Flags;
use crate::commands::{Command, Locks};
use crate::engine::Engine;
use crate::keyspace::{LockId, LockSet};
use crate::transaction::TxHooks;

/// The state of the running script.
pub(crate) struct RunCtx<'a, 'k> {
    pub engine: &'k Engine,
    pub client: &'a mut Client,
    pub hooks: &'a TxHooks<'a>,
    /// The shards held; `None` until the first command (then the declared keys'
    /// shards are locked) and while a command that locks by itself runs.
    pub locks: Option<LockSet<'k>>,
    /// The declared keys' shards, locked at the first command.
    pub declared: smallvec::SmallVec<[LockId; 4]>,
    /// Commands called so far.
    pub calls: u32,
    /// redis.setresp: the protocol of command replies inside the script.
    pub resp3: bool,
    /// EVAL_RO / FCALL_RO or a `no-writes` script: writes are refused.
    pub read_only: bool,
    /// A write command ran: SCRIPT KILL can no longer stop the script.
    pub wrote: bool,
    /// The script may use memory past maxmemory (`allow-oom`), or the server was
    /// not out of memory when it started (Redis's pre-command OOM state).
    pub allow_oom: bool,
    /// redis.set_repl: bit 0 AOF, bit 1 replicas.
    pub repl: u8,
    /// Keys that may serve blocked clients after the script.
    pub ready: Vec<(usize, Vec<u8>)>,
    /// Dbs whose every key may serve blocked clients (SWAPDB in a script).
    pub ready_dbs: Vec<usize>,
    pub flushed_all: bool,
    /// When the script started, its name and command, busy-reply-threshold (ms):
    /// for [`RunCtx::check_busy`].
    pub started: std::time::Instant,
    pub name: &'a str,
    pub command: &'a [&'a [u8]],
    /// The declared keys (what a tracking caller is remembered as reading).
    pub keys: &'a [&'a [u8]],
    /// The declared keys were remembered for the caller's client-side cache.
    pub tracked: bool,
    pub threshold_ms: i64,
    /// A reply buffer kept between the script's commands (no allocation each).
    pub spare: Option<ReplyBuf>,
}

thread_local! {
    static CURRENT: Cell<*mut ()> = const { Cell::new(std::ptr::null_mut()) };
}

/// Publishes `run` to the `redis.*` functions until the guard is dropped.
pub(crate) struct Published(*mut ());

impl Drop for Published {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

pub(crate) fn publish(run: &mut RunCtx<'_, '_>) -> Published {
    let p = run as *mut RunCtx<'_, '_> as *mut ();
    Published(CURRENT.with(|c| c.replace(p)))
}

/// Runs `f` with the running script's context, or returns `None` outside a run.
pub(crate) fn with_run<R>(f: impl FnOnce(&mut RunCtx<'_, '_>) -> R) -> Option<R> {
    let p = CURRENT.with(|c| c.get());
    if p.is_null() {
        return None;
    }
    // SAFETY: set by `publish` from a `&mut RunCtx` that outlives the guard, and
    // only used on this thread while the script (which owns that borrow) is
    // suspended inside a redis.* call.
    let run = unsafe { &mut *(p as *mut RunCtx<'_, '_>) };
    Some(f(run))
}

/// Why a command called from a script did not run (the error becomes the
/// script's `{err=...}`).
pub(crate) fn refuse(engine: &Engine, cmd: Option<&Command>, text: &str) -> String {
    engine
        .stats
        .rejected_calls
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    if let Some(cmd) = cmd {
        engine.cmdstats.rejected(cmd.id);
    }
    engine.count_error_reply(text);
    text.to_string()
}

impl RunCtx<'_, '_> {
    /// Gives a command's reply buffer back for the next command.
    pub fn recycle(&mut self, buf: ReplyBuf) {
        if buf.capacity() <= 64 * 1024 {
            self.spare = Some(buf);
        }
    }

    /// Past busy-reply-threshold: marks the script busy (others get BUSY from
    /// now on), logs it once and lets the server move this thread's other work
    /// elsewhere. Called by the Lua count hook and before each command the script
    /// calls (a loop of commands runs few Lua instructions).
    pub fn check_busy(&mut self) {
        let s = &self.engine.scripting;
        if self.threshold_ms <= 0 || s.busy() {
            return;
        }
        let elapsed = self.started.elapsed().as_millis();
        if elapsed < self.threshold_ms as u128 {
            return;
        }
        *s.running.info.lock() = Some(super::BusyInfo {
            started: self.started,
            name: self.name.to_string(),
            command: self.command.iter().map(|a| a.to_vec()).collect(),
        });
        let kill_cmd = if s.running.eval.load(std::sync::atomic::Ordering::Acquire) {
            "SCRIPT KILL"
        } else {
            "FUNCTION KILL"
        };
        tracing::warn!(
            "Slow script detected: still in execution after {elapsed} milliseconds. You can try killing the script using the {kill_cmd} command. Script name is: {}.",
            self.name
        );
        s.running
            .busy
            .store(true, std::sync::atomic::Ordering::Release);
        crate::hooks::ServerHooks::long_running(self.hooks);
    }

    /// Runs one command for the script (Redis's scriptCall) and returns its reply
    /// in the script's protocol, or the text of the error that refused it.
    pub fn call(&mut self, args: &[&[u8]]) -> Result<ReplyBuf, String> {
        let engine = self.engine;
        let cmd = match engine.lookup_command(args) {
            Some(c) if c.meta.arity_ok(args.len()) && c.handler.is_some() => c,
            Some(c) => {
                return Err(refuse(
                    engine,
                    Some(c),
                    "ERR Wrong number of args calling Redis command from script",
                ))
            }
            None => {
                // A command Redis has and ferrokv does not yet: refused for what
                // Redis refuses it for first (no script) where that applies.
                let noscript = crate::commands::meta::lookup(args)
                    .is_some_and(|m| m.flags.has(Flags::NOSCRIPT));
                return Err(refuse(
                    engine,
                    None,
                    if noscript {
                        "ERR This Redis command is not allowed from script"
                    } else {
                        "ERR Unknown Redis command called from script"
                    },
                ));
            }
        };
        // Every 16th command (the count hook covers Lua code): a clock read per
        // command would cost more than the check is worth.
        if self.calls % 16 == 15 {
            self.check_busy();
        }
        self.calls = self.calls.wrapping_add(1);
        if self.locks.is_none() {
            self.locks = Some(LockSet::lock(&engine.keyspace, &mut self.declared));
        }
        let flags = cmd.meta.flags;
        if flags.has(Flags::NOSCRIPT)
            && !engine
                .scripting
                .disable_deny
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(refuse(
                engine,
                Some(cmd),
                "ERR This Redis command is not allowed from script",
            ));
        }
        // scriptVerifyAllowStale: a script allowed to run on a stale replica may
        // call only what is flagged stale.
        if !flags.has(Flags::STALE)
            && !self.client.loading
            && engine
                .gates
                .stale_replica
                .load(std::sync::atomic::Ordering::Relaxed)
        {
            return Err(refuse(
                engine,
                Some(cmd),
                "ERR Can not execute the command on a stale replica",
            ));
        }
        if !self.client.acl_free() {
            if let Err(d) =
                crate::acl::check::check_id(&self.client.user, cmd.acl_id, cmd.meta, args)
            {
                crate::acl::cmds::log_check(
                    engine,
                    self.client,
                    self.hooks,
                    d,
                    crate::acl::log::Context::Lua,
                    &cmd.meta.name,
                    args,
                );
                return Err(refuse(
                    engine,
                    Some(cmd),
                    &format!("ERR The user executing the script {}", d.message()),
                ));
            }
        }
        if self.read_only && (flags.has(Flags::WRITE) || flags.has(Flags::MAY_REPLICATE)) {
            return Err(refuse(
                engine,
                Some(cmd),
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        if flags.has(Flags::WRITE) && !self.wrote {
            // Until the first write the script can still be refused for the
            // server's state; after it, it must run to its end.
            if let Some(e) = engine.write_refusal(self.client, self.hooks) {
                return Err(refuse(engine, Some(cmd), &e));
            }
        }
        // Out of memory when the script started (Redis's pre-command OOM state): no
        // command that may grow memory until it has written (it cannot stop half
        // way then).
        if !self.allow_oom && !self.wrote && !self.client.loading && flags.has(Flags::DENYOOM) {
            return Err(refuse(
                engine,
                Some(cmd),
                "OOM command not allowed when used memory > 'maxmemory'.",
            ));
        }
        if flags.has(Flags::WRITE) {
            self.wrote = true;
            engine.scripting.mark_wrote();
        }
        let proto = if self.resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        };
        let mut out = match self.spare.take() {
            Some(mut b) => {
                b.truncate(0);
                b.set_proto(proto);
                b
            }
            None => ReplyBuf::new(proto),
        };
        let db = self.client.db;
        let last_cmd = self.client.last_cmd;
        if matches!(cmd.locks, Locks::Own) {
            // It locks shards one at a time by itself (SCAN, INFO): the script's
            // shards are let go around it and taken back in order.
            let ids: Vec<LockId> = self
                .locks
                .take()
                .map(|mut l| l.held().map(|(id, _)| id).collect())
                .unwrap_or_default();
            let (result, locks, ready, after) =
                engine.run_locked(cmd, self.client, args, &mut out, self.hooks, None);
            drop(locks);
            let mut ids = ids;
            self.locks = Some(LockSet::lock(&engine.keyspace, &mut ids));
            if let Err(e) = result {
                engine.reply_error(&e, &mut out);
            }
            self.ready.extend(ready);
            self.ready_dbs.extend(after.ready_dbs);
            self.flushed_all |= after.flushed_all;
        } else {
            let mut locks = self
                .locks
                .take()
                .unwrap_or_else(|| LockSet::empty(&engine.keyspace));
            engine.lock_ids_for(cmd, args, db, None, |id| locks.acquire(id));
            let (result, locks, ready, after) =
                engine.run_locked(cmd, self.client, args, &mut out, self.hooks, Some(locks));
            self.locks = Some(locks);
            if let Err(e) = result {
                engine.reply_error(&e, &mut out);
            }
            self.ready.extend(ready);
            self.ready_dbs.extend(after.ready_dbs);
            self.flushed_all |= after.flushed_all;
        }
        self.client.last_cmd = last_cmd;
        // A read-only command in a script: the caller, if it tracks keys, is
        // remembered as reading the script's declared keys (Redis's
        // trackingRememberKeys of the script's caller), under the script's locks.
        // EVAL_RO / FCALL_RO themselves never remember anything.
        if !self.tracked
            && flags.has(Flags::READONLY)
            && !flags.has(Flags::PUBSUB)
            && self.client.tracking.is_some_and(|m| m.remembers())
        {
            self.tracked = true;
            for key in self.keys {
                engine.tracking.remember(self.client.id, key);
            }
        }
        Ok(out)
    }
}
