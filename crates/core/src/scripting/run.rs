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
    /// The shards held; `None` only while a command that locks by itself runs.
    pub locks: Option<LockSet<'k>>,
    /// redis.setresp: the protocol of command replies inside the script.
    pub resp3: bool,
    /// EVAL_RO / FCALL_RO or a `no-writes` script: writes are refused.
    pub read_only: bool,
    /// The script declared `allow-oom`: denyoom commands run over maxmemory.
    pub allow_oom: bool,
    /// A write command ran: SCRIPT KILL can no longer stop the script.
    pub wrote: bool,
    /// redis.set_repl: bit 0 AOF, bit 1 replicas.
    pub repl: u8,
    /// Keys that may serve blocked clients after the script.
    pub ready: Vec<(usize, Vec<u8>)>,
    /// Dbs whose every key may serve blocked clients (SWAPDB in a script).
    pub ready_dbs: Vec<usize>,
    pub flushed_all: bool,
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
        engine.scripting.check_busy(
            engine.config.int(crate::config::P::BusyReplyThreshold),
            self.hooks,
        );
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
        // Redis's scriptVerifyOOM: over maxmemory when the script started, a
        // denyoom command is refused until the script has written (then it must
        // run to its end).
        if flags.has(Flags::DENYOOM)
            && !self.wrote
            && !self.allow_oom
            && !self.client.loading
            && engine.config.int(crate::config::P::Maxmemory) > 0
            && engine
                .gates
                .out_of_memory
                .load(std::sync::atomic::Ordering::Relaxed)
        {
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
        let mut out = ReplyBuf::new(if self.resp3 {
            Protocol::Resp3
        } else {
            Protocol::Resp2
        });
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
        Ok(out)
    }
}
