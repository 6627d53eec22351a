//! EVAL, EVALSHA, EVAL_RO, EVALSHA_RO and SCRIPT (Redis's eval.c).

use mlua::ffi;

use super::exec::{self, Call};
use super::ldb::DebugMode;
use super::vm::{self, Kind, Vm};
use super::{sha1_hex, shebang, Script};
use crate::commands::{reply_help, Admit, CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::with_locks("eval", eval, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::with_locks("evalsha", evalsha, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::with_locks("eval_ro", eval_ro, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::with_locks("evalsha_ro", evalsha_ro, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::new("script|load", script_load),
    CommandDef::new("script|exists", script_exists),
    CommandDef::new("script|flush", script_flush),
    CommandDef::new("script|kill", script_kill),
    CommandDef::new("script|help", script_help),
    CommandDef::new("script|debug", script_debug),
];

fn eval(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, false, false)
}

fn evalsha(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, true, false)
}

fn eval_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, false, true)
}

fn evalsha_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    eval_generic(ctx, args, true, true)
}

/// The number of keys of EVAL / FCALL (`args[2]`), checked as Redis does.
pub(crate) fn numkeys(args: &[&[u8]]) -> CmdResult<usize> {
    let n = crate::args::int_arg(args[2])?;
    if n > (args.len() - 3) as i64 {
        return Err(CmdError::Other(
            "Number of keys can't be greater than number of args".into(),
        ));
    }
    if n < 0 {
        return Err(CmdError::Other("Number of keys can't be negative".into()));
    }
    Ok(n as usize)
}

/// The registry name of a compiled script, `f_<sha>` NUL-terminated, on the stack.
struct FunctionName([u8; 43]);

impl FunctionName {
    fn new(sha: &str) -> FunctionName {
        let mut b = [0u8; 43];
        b[0] = b'f';
        b[1] = b'_';
        for (d, s) in b[2..42].iter_mut().zip(sha.bytes()) {
            *d = s;
        }
        FunctionName(b)
    }

    fn as_ptr(&self) -> *const std::ffi::c_char {
        self.0.as_ptr() as *const std::ffi::c_char
    }
}

/// Pushes the compiled `f_<sha>`, compiling `body` into `vm`'s registry first when
/// it is not there.
fn push_compiled(vm: &mut Vm, sha: &str, body: &[u8]) -> Result<(), String> {
    let name = FunctionName::new(sha);
    let l = vm.state;
    // SAFETY: this thread's interpreter; one value pushed on success, none on error.
    unsafe {
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
        if ffi::lua_isnil(l, -1) == 0 {
            return Ok(());
        }
        ffi::lua_pop(l, 1);
        let (_, shebang_len) = shebang::parse(body)?;
        vm::compile(l, &body[shebang_len..], c"@user_script")
            .map_err(|e| format!("Error compiling script (new function): {e}"))?;
        ffi::lua_pushvalue(l, -1);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
    }
    Ok(())
}

/// Compiles `body` into `vm`'s registry as `f_<sha>` unless it is there.
fn ensure_compiled(vm: &mut Vm, sha: &str, body: &[u8]) -> Result<(), String> {
    push_compiled(vm, sha, body)?;
    // SAFETY: push_compiled left the function on the stack.
    unsafe { ffi::lua_pop(vm.state, 1) };
    Ok(())
}

/// Adds `body` to the cache, compiling it in this thread's interpreter first (a
/// script that does not compile is not cached): Redis's luaCreateFunction.
fn create(ctx: &mut Ctx<'_, '_>, body: &[u8]) -> CmdResult<(String, std::sync::Arc<Script>)> {
    let sha = sha1_hex(body);
    let scripting = &ctx.engine.scripting;
    if let Some(s) = scripting.get(sha.as_bytes()) {
        return Ok((sha, s));
    }
    let (flags, _) = shebang::parse(body).map_err(CmdError::Other)?;
    let flushes = scripting.flushes.load(std::sync::atomic::Ordering::Acquire);
    exec::with_eval_vm(flushes, |vm| {
        ensure_compiled(vm, &sha, body)?;
        // INFO used_memory_lua counts compiled scripts as Redis's does after
        // SCRIPT LOAD, not only once a script has run.
        scripting.vm_bytes[0].store(vm.memory() as u64, std::sync::atomic::Ordering::Relaxed);
        Ok::<(), String>(())
    })
    .map_err(CmdError::Other)?;
    let script = scripting.insert(&sha, body.to_vec(), flags);
    Ok((sha, script))
}

fn eval_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], evalsha: bool, ro: bool) -> CmdResult {
    if ctx.client.script_debug == DebugMode::Off || super::ldb::active() {
        return eval_plain(ctx, args, evalsha, ro);
    }
    // A debugging client: EVAL runs as a debugger session (Redis's
    // evalGenericCommandWithDebugging), then the connection closes.
    if evalsha {
        if args[1].len() != 40 {
            return Err(CmdError::Raw(
                "NOSCRIPT No matching script. Please use EVAL.".into(),
            ));
        }
        return Err(CmdError::Other(
            "Please use EVAL instead of EVALSHA for debugging".into(),
        ));
    }
    let Some(chan) = ctx.hooks.debug_channel(ctx.client.id) else {
        ctx.client.script_debug = DebugMode::Off;
        return Err(CmdError::Other(
            "The Lua debugger is not available on this connection".into(),
        ));
    };
    // Fork-less: YES runs as SYNC (changes are kept).
    tracing::warn!("Redis synchronous debugging eval session started");
    // The session may wait long for its client: the worker's other connections
    // are handed to another thread first.
    ctx.hooks.long_running();
    super::ldb::start(chan, args[1]);
    let r = eval_plain(ctx, args, evalsha, ro);
    super::ldb::end();
    tracing::warn!("Redis synchronous debugging eval session ended");
    ctx.client.close_after_reply = true;
    r
}

fn eval_plain(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], evalsha: bool, ro: bool) -> CmdResult {
    let nkeys = numkeys(args)?;
    let mut key = [0u8; 40];
    let (sha, script): (&str, _) = if evalsha {
        let found =
            super::sha_key(args[1]).and_then(|k| ctx.engine.scripting.get(&k).map(|s| (k, s)));
        match found {
            Some((k, s)) => {
                key = k;
                (std::str::from_utf8(&key).unwrap_or_default(), s)
            }
            None => {
                return Err(CmdError::Raw(
                    "NOSCRIPT No matching script. Please use EVAL.".into(),
                ))
            }
        }
    } else {
        let (sha, s) = create(ctx, args[1])?;
        key.copy_from_slice(&sha.as_bytes()[..40]);
        (std::str::from_utf8(&key).unwrap_or_default(), s)
    };
    exec::prepare(ctx, script.flags, ro)?;
    let flushes = ctx
        .engine
        .scripting
        .flushes
        .load(std::sync::atomic::Ordering::Acquire);
    let keys = &args[3..3 + nkeys];
    let argv = &args[3 + nkeys..];
    let call = Call {
        kind: Kind::Eval,
        name: sha,
        flags: script.flags,
        ro,
        keys,
        args: argv,
        command: args,
    };
    exec::run(
        ctx,
        call,
        |vm| {
            // SAFETY: this thread's interpreter: handler, then the function.
            unsafe {
                ffi::lua_getfield(
                    vm.state,
                    ffi::LUA_GLOBALSINDEX,
                    c"__redis__err__handler".as_ptr(),
                );
            }
            push_compiled(vm, sha, &script.body).map_err(CmdError::Other)
        },
        |body| exec::with_eval_vm(flushes, |vm| body(vm)),
    )
}

fn script_load(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (sha, _) = create(ctx, args[2])?;
    ctx.out.bulk(sha.as_bytes());
    Ok(())
}

fn script_exists(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ctx.out.array(args.len() - 2);
    for sha in &args[2..] {
        let present = ctx.engine.scripting.get(sha).is_some();
        ctx.out.int(present as i64);
    }
    Ok(())
}

fn script_flush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let valid = match args.len() {
        2 => true,
        3 => args[2].eq_ignore_ascii_case(b"sync") || args[2].eq_ignore_ascii_case(b"async"),
        _ => false,
    };
    if !valid {
        return Err(CmdError::Other(
            "SCRIPT FLUSH only support SYNC|ASYNC option".into(),
        ));
    }
    let scripting = &ctx.engine.scripting;
    scripting.flush();
    // This thread's interpreter starts anew now (the others when they next run
    // a script): INFO used_memory_lua drops to a fresh interpreter's, as Redis's.
    let flushes = scripting.flushes.load(std::sync::atomic::Ordering::Acquire);
    let fresh = exec::with_eval_vm(flushes, |vm| vm.memory());
    scripting.vm_bytes[0].store(fresh as u64, std::sync::atomic::Ordering::Relaxed);
    ctx.out.ok();
    Ok(())
}

fn script_kill(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.engine.scripting.kill(true).map_err(CmdError::Raw)?;
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DEBUG (YES|SYNC|NO)",
    "    Set the debug mode for subsequent scripts executed.",
    "EXISTS <sha1> [<sha1> ...]",
    "    Return information about the existence of the scripts in the script cache.",
    "FLUSH [ASYNC|SYNC]",
    "    Flush the Lua scripts cache. Very dangerous on replicas.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the scripts cache.",
    "    * SYNC: Synchronously flush the scripts cache.",
    "KILL",
    "    Kill the currently executing Lua script.",
    "LOAD <script>",
    "    Load a script into the scripts cache without executing it.",
    "HELP",
    "    Prints this help.",
];

fn script_debug(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if !ctx.out.is_empty() {
        return Err(CmdError::Other(
            "SCRIPT DEBUG must be called outside a pipeline".into(),
        ));
    }
    let mode = args[2];
    ctx.client.script_debug = if mode.eq_ignore_ascii_case(b"no") {
        DebugMode::Off
    } else if mode.eq_ignore_ascii_case(b"yes") {
        DebugMode::Yes
    } else if mode.eq_ignore_ascii_case(b"sync") {
        DebugMode::Sync
    } else {
        return Err(CmdError::Other("Use SCRIPT DEBUG YES/SYNC/NO".into()));
    };
    ctx.out.ok();
    Ok(())
}

fn script_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
