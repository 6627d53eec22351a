//! What EVAL and FCALL share: the checks before a script runs (Redis's
//! scriptPrepareForRun), the gate, the locks of the declared keys, the Lua call
//! with its timeout hook, the reply, and the propagation of what the script did
//! (its writes, as one MULTI/EXEC block when more than one, as Redis 7.0's
//! effects replication).

use std::cell::RefCell;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mlua::ffi;

use super::convert;
use super::run::{self, RunCtx};
use super::vm::{Kind, Vm};
use super::ScriptFlags;
use crate::config::P;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::lock_id;
use crate::transaction::TxHooks;

thread_local! {
    /// This thread's interpreters: EVAL's (with the flush count it was made at)
    /// and Functions' (with the engine and library generation it loaded).
    static VMS: RefCell<ThreadVms> = const { RefCell::new(ThreadVms { eval: None, function: None }) };
}

struct ThreadVms {
    eval: Option<(u64, Vm)>,
    function: Option<((usize, u64), Vm)>,
}

/// Runs `f` with this thread's EVAL interpreter (made anew after a SCRIPT FLUSH).
pub(crate) fn with_eval_vm<R>(flushes: u64, f: impl FnOnce(&mut Vm) -> R) -> R {
    let vm = VMS.with(|v| v.borrow_mut().eval.take());
    let mut vm = match vm {
        Some((gen, vm)) if gen == flushes => vm,
        _ => Vm::new(Kind::Eval),
    };
    let r = f(&mut vm);
    VMS.with(|v| v.borrow_mut().eval = Some((flushes, vm)));
    r
}

/// Runs `f` with this thread's function interpreter for `key` (engine, library
/// generation), building it with `init` when missing or stale.
pub(crate) fn with_function_vm<R>(
    key: (usize, u64),
    init: impl FnOnce(&mut Vm),
    f: impl FnOnce(&mut Vm) -> R,
) -> R {
    let vm = VMS.with(|v| v.borrow_mut().function.take());
    let mut vm = match vm {
        Some((k, vm)) if k == key => vm,
        _ => {
            let mut vm = Vm::new(Kind::Function);
            init(&mut vm);
            vm
        }
    };
    let r = f(&mut vm);
    VMS.with(|v| v.borrow_mut().function = Some((key, vm)));
    r
}

/// Redis's scriptPrepareForRun checks, for a script with `flags` (`ro`: called
/// as EVAL_RO / EVALSHA_RO / FCALL_RO).
pub(crate) fn prepare(ctx: &mut Ctx<'_, '_>, flags: ScriptFlags, ro: bool) -> CmdResult {
    let engine = ctx.engine;
    // The master's stream (and AOF loading) is obeyed whatever the state.
    let obey = ctx.client.loading;
    let running_stale = engine.gates.stale_replica.load(Ordering::Relaxed) && !obey;
    if flags.has(ScriptFlags::EVAL_COMPAT) {
        // A script without a shebang: Redis 6's rules, decided per command it
        // calls, except on a stale replica where none runs.
        if running_stale {
            return Err(CmdError::Raw(
                "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                    .into(),
            ));
        }
        return Ok(());
    }
    if running_stale && !flags.has(ScriptFlags::ALLOW_STALE) {
        return Err(CmdError::Raw(
            "MASTERDOWN Link with MASTER is down, replica-serve-stale-data is set to 'no' and 'allow-stale' flag is not set on the script.".into(),
        ));
    }
    if !flags.has(ScriptFlags::NO_WRITES) {
        if engine.gates.read_only_replica.load(Ordering::Relaxed) && !obey {
            return Err(CmdError::Raw(
                "READONLY Can not run script with write flag on readonly replica".into(),
            ));
        }
        // The hook answers the disk errors first, then NOREPLICAS (Redis checks
        // min-replicas-to-write after the *_ro refusal).
        let denied = if obey { None } else { ctx.hooks.deny_writes() };
        if let Some(e) = denied.as_deref().filter(|e| e.starts_with("MISCONF")) {
            let e = if e.contains("AOF") {
                format!("MISCONF Redis is configured to persist data to AOF, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts. AOF error: {}", e.rsplit("AOF error: ").next().unwrap_or(""))
            } else {
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Writable scripts are blocked. Use 'no-writes' flag for read only scripts.".into()
            };
            return Err(CmdError::Raw(e));
        }
        if ro {
            return Err(CmdError::Other(
                "Can not execute a script with write flag using *_ro command.".into(),
            ));
        }
        if let Some(e) = denied {
            return Err(CmdError::Raw(e));
        }
    }
    // no-writes implies allow-oom.
    if engine.gates.out_of_memory.load(Ordering::Relaxed)
        && !flags.has(ScriptFlags::ALLOW_OOM)
        && !flags.has(ScriptFlags::NO_WRITES)
    {
        return Err(CmdError::Raw(
            "OOM allow-oom flag is not set on the script, can not run it when used memory > 'maxmemory'".into(),
        ));
    }
    Ok(())
}

/// What to call, once the gate and the locks are held.
pub(crate) struct Call<'s> {
    pub kind: Kind,
    /// The script's name in errors and logs (sha for EVAL, function name).
    pub name: &'s str,
    pub flags: ScriptFlags,
    pub ro: bool,
    pub keys: &'s [&'s [u8]],
    pub args: &'s [&'s [u8]],
    /// The whole command (FUNCTION STATS shows it).
    pub command: &'s [&'s [u8]],
}

/// Runs a script: `push` leaves the error handler and the function (and, for
/// functions, nothing else) on the stack of the interpreter it is given, or
/// fails with an error reply.
pub(crate) fn run(
    ctx: &mut Ctx<'_, '_>,
    call: Call<'_>,
    push: impl FnOnce(&mut Vm) -> Result<(), CmdError>,
    vm_for: impl FnOnce(&mut dyn FnMut(&mut Vm) -> CmdResult) -> CmdResult,
) -> CmdResult {
    let engine = ctx.engine;
    let scripting = &engine.scripting;
    // The script command is shown to MONITOR before the commands it runs (its
    // table entry is skip_monitor for the usual place, after it).
    if engine.monitoring.load(Ordering::Relaxed) {
        ctx.hooks.monitor(ctx.client, ctx.client.db, call.command);
    }
    // One script at a time. While another one runs past the threshold, this one
    // is refused with BUSY like any command.
    let gate = loop {
        if let Some(g) = scripting.gate.try_lock_for(Duration::from_millis(1)) {
            break g;
        }
        if scripting.busy() {
            return Err(CmdError::Raw(scripting.busy_error()));
        }
    };
    // The declared keys' shards, locked when the script calls its first command
    // (nothing is read before that; a script that calls nothing locks nothing).
    let db = ctx.client.db;
    let declared: smallvec::SmallVec<[crate::keyspace::LockId; 4]> =
        call.keys.iter().map(|k| lock_id(db, k)).collect();
    let read_only = call.ro
        || (!call.flags.has(ScriptFlags::EVAL_COMPAT) && call.flags.has(ScriptFlags::NO_WRITES));
    let r = &scripting.running;
    r.busy.store(false, Ordering::Release);
    r.kill.store(false, Ordering::Release);
    r.wrote.store(false, Ordering::Release);
    r.eval.store(call.kind == Kind::Eval, Ordering::Release);
    r.client.store(ctx.client.id, Ordering::Release);
    r.active.store(true, Ordering::Release);

    let hooks = TxHooks::new(ctx.hooks);
    let saved_db = ctx.client.db;
    let saved_in_exec = ctx.client.in_exec;
    ctx.client.in_exec = true;
    ctx.client.in_script = true;
    let started = Instant::now();
    ctx.client.script_time = Some(engine.clock.ms_at(started));
    let threshold = engine.config.int(P::BusyReplyThreshold);
    // The result is written straight into the client's reply; one that is an
    // error is taken back out and returned as the command's error.
    let out = &mut *ctx.out;
    let out_start = out.len();
    let mut outcome: CmdResult = Ok(());
    let mut written = convert::Written { errors: Vec::new() };
    let (ready, ready_dbs, flushed_all, locks_back);
    {
        let mut runctx = RunCtx {
            engine,
            client: &mut *ctx.client,
            hooks: &hooks,
            locks: None,
            declared,
            calls: 0,
            resp3: false,
            read_only,
            wrote: false,
            allow_oom: !engine.gates.out_of_memory.load(Ordering::Relaxed)
                || (!call.flags.has(ScriptFlags::EVAL_COMPAT)
                    && call.flags.has(ScriptFlags::ALLOW_OOM)),
            repl: 3,
            ready: Vec::new(),
            ready_dbs: Vec::new(),
            flushed_all: false,
            started,
            name: call.name,
            command: call.command,
            keys: call.keys,
            tracked: false,
            threshold_ms: threshold,
            spare: None,
        };
        let published = run::publish(&mut runctx);
        let mut push = Some(push);
        let mut body = |vm: &mut Vm| -> CmdResult {
            let l = vm.state;
            // SAFETY: this thread's interpreter; the stack is balanced below.
            unsafe {
                let top = ffi::lua_gettop(l);
                let Some(push) = push.take() else {
                    return Ok(());
                };
                if let Err(e) = push(vm) {
                    ffi::lua_settop(l, top);
                    return Err(e);
                }
                let nargs = match call.kind {
                    Kind::Eval => {
                        super::vm::set_global_array(l, c"KEYS", call.keys);
                        super::vm::set_global_array(l, c"ARGV", call.args);
                        0
                    }
                    Kind::Function => {
                        super::vm::push_array(l, call.keys);
                        super::vm::push_array(l, call.args);
                        2
                    }
                };
                let debugging = call.kind == Kind::Eval && super::ldb::active();
                if debugging {
                    ffi::lua_sethook(
                        l,
                        Some(super::ldb::hook),
                        ffi::LUA_MASKLINE | ffi::LUA_MASKCOUNT,
                        100_000,
                    );
                } else if threshold > 0 {
                    ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKCOUNT, 100_000);
                }
                let status = ffi::lua_pcall(l, nargs, 1, -(nargs + 2));
                if threshold > 0 || debugging {
                    ffi::lua_sethook(l, None, 0, 0);
                }
                let resp3_script = run::with_run(|r| r.resp3).unwrap_or(false);
                if status != 0 {
                    if ffi::lua_istable(l, -1) == 0 {
                        let msg = if ffi::lua_isstring(l, -1) != 0 {
                            super::vm::to_string_lossy(l, -1)
                        } else {
                            "execution failure".into()
                        };
                        let msg: String = msg.chars().take(100).collect();
                        outcome = Err(CmdError::Other(format!(
                            "Error running script {}, {msg}",
                            call.name
                        )));
                    } else {
                        let info = convert::error_info(l);
                        // A table without `err` (`error({})`): redis-server 7.0.15
                        // crashes on it; it gets a plain error here.
                        let mut text = info.msg.unwrap_or_else(|| "ERR unknown error".into());
                        if let (Some(line), Some(source)) = (&info.line, &info.source) {
                            text.push_str(&format!(" script: {}, on {source}:{line}.", call.name));
                        }
                        outcome = Err(if info.counted {
                            CmdError::Counted(text)
                        } else {
                            CmdError::Raw(text)
                        });
                    }
                    ffi::lua_pop(l, 1);
                } else {
                    convert::write_reply(l, out, resp3_script, &mut written);
                }
                ffi::lua_settop(l, top);
                if vm.after_call() {
                    let slot = (call.kind == Kind::Function) as usize;
                    engine.scripting.vm_bytes[slot].store(vm.memory() as u64, Ordering::Relaxed);
                }
            }
            Ok(())
        };
        let prepared = vm_for(&mut body);
        drop(published);
        if let Err(e) = prepared {
            outcome = Err(e);
        }
        ready = std::mem::take(&mut runctx.ready);
        ready_dbs = std::mem::take(&mut runctx.ready_dbs);
        flushed_all = runctx.flushed_all;
        locks_back = runctx.locks.take();
    }
    ctx.client.db = saved_db;
    ctx.client.in_exec = saved_in_exec;
    ctx.client.in_script = false;
    ctx.client.script_time = None;
    // Still under the script's locks: its effects reach the log in order.
    // Inside EXEC the transaction's own MULTI/EXEC wraps it already.
    let offset = hooks.flush(!saved_in_exec);
    if offset > 0 {
        ctx.client.aof_offset = offset;
    }
    r.active.store(false, Ordering::Release);
    r.busy.store(false, Ordering::Release);
    *r.info.lock() = None;
    drop(locks_back);
    drop(gate);
    ctx.keys.ready.extend(ready);
    ctx.keys.ready_dbs.extend(ready_dbs);
    ctx.keys.flushed_all |= flushed_all;
    outcome?;
    if ctx.out.as_bytes().get(out_start) == Some(&b'-') {
        // The script returned an error: the command's own error reply (counted
        // unless the command that raised it counted it).
        ctx.out.truncate(out_start);
        let (text, counted) = written.errors.pop().unwrap_or_default();
        return Err(if counted {
            CmdError::Counted(text)
        } else {
            CmdError::Raw(text)
        });
    }
    // Errors nested in the result count as error replies too.
    for (text, counted) in &written.errors {
        if !counted {
            engine.count_error_reply(text);
        }
    }
    Ok(())
}

/// The count hook (every 100,000 instructions): past busy-reply-threshold the
/// script is marked busy (others get BUSY) and logged once; a kill request
/// raises an error the script cannot catch (the hook then fires on every line).
unsafe extern "C-unwind" fn hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let kill = run::with_run(|r| {
        r.check_busy();
        r.engine.scripting.running.kill.load(Ordering::Acquire)
    })
    .unwrap_or(false);
    if kill {
        tracing::warn!("Lua script killed by user with SCRIPT KILL.");
        // SAFETY: valid state; nothing Rust-owned is live past this point.
        unsafe {
            ffi::lua_sethook(l, Some(hook), ffi::LUA_MASKLINE, 0);
            super::api::push_error(l, "Script killed by user with SCRIPT KILL...");
            ffi::lua_error(l);
        }
    }
}
