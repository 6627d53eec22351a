//! The `redis.*` functions (and the replaced `pcall`, `math.random`), as raw Lua C
//! functions with Redis 7.0's arguments checks, errors and results.
//!
//! Errors are raised as Redis raises them: a table `{err="CODE message"}` (so
//! scripts can `pcall` and inspect it). Each function does its work in a Rust
//! helper that has dropped everything by the time `lua_error` unwinds (a Lua error
//! is a longjmp, which must not cross live Rust values).

use std::ffi::{c_char, c_int};

use mlua::ffi;

use super::convert;
use super::run::{with_run, RunCtx};
use super::vm::{bytes_at, to_string_lossy};

type L = *mut ffi::lua_State;

/// Pushes Redis's error table for `text`: a leading `-CODE ` gives the code,
/// else the code is ERR (luaPushErrorBuff).
pub(crate) unsafe fn push_error(l: L, text: &str) {
    let (code, msg) = match text.strip_prefix('-') {
        Some(rest) => match rest.split_once(' ') {
            Some((code, msg)) => (code.to_string(), msg.to_string()),
            None => ("ERR".to_string(), rest.to_string()),
        },
        None => ("ERR".to_string(), text.to_string()),
    };
    let msg = msg.trim_matches(|c| c == '\r' || c == '\n');
    let full = format!("{code} {msg}");
    // SAFETY: valid state.
    unsafe {
        ffi::lua_checkstack(l, 3);
        ffi::lua_newtable(l);
        ffi::lua_pushlstring(l, full.as_ptr() as *const c_char, full.len());
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
}

/// Marks the error table on top of the stack as already counted in the error
/// statistics (the command that failed counted it).
pub(crate) unsafe fn mark_counted(l: L) {
    // SAFETY: a table is on top.
    unsafe {
        ffi::lua_pushboolean(l, 1);
        ffi::lua_setfield(l, -2, c"ignore_error_stats_update".as_ptr());
    }
}

/// What a redis.* helper leaves for its C wrapper.
enum Outcome {
    /// Return this many values (already pushed).
    Return(c_int),
    /// Raise the value on top of the stack.
    Raise,
}

unsafe fn finish(l: L, o: Outcome) -> c_int {
    match o {
        Outcome::Return(n) => n,
        // SAFETY: the error value is on top; nothing Rust-owned is live here.
        Outcome::Raise => unsafe { ffi::lua_error(l) },
    }
}

/// Makes every argument of a redis.call a string on the stack, as Redis converts
/// them: numbers with `%.17g` (Lua's own conversion would lose precision), and
/// checks their types. The strings stay on the stack (borrowed by the caller)
/// until it clears it.
unsafe fn stringify_args(l: L) -> Result<c_int, &'static str> {
    // SAFETY: valid state.
    unsafe {
        let n = ffi::lua_gettop(l);
        if n == 0 {
            return Err("Please specify at least one argument for this redis lib call");
        }
        for i in 1..=n {
            match ffi::lua_type(l, i) {
                ffi::LUA_TNUMBER => {
                    let text = crate::scripting::convert::format_g17(ffi::lua_tonumber(l, i));
                    ffi::lua_pushlstring(l, text.as_ptr() as *const c_char, text.len());
                    ffi::lua_replace(l, i);
                }
                ffi::LUA_TSTRING => {}
                _ => return Err("Lua redis lib command arguments must be strings or integers"),
            }
        }
        Ok(n)
    }
}

/// The arguments as owned byte strings (the few helpers that keep them).
unsafe fn read_args(l: L) -> Result<Vec<Vec<u8>>, &'static str> {
    // SAFETY: valid state.
    unsafe {
        let n = stringify_args(l)?;
        let args = (1..=n)
            .map(|i| bytes_at(l, i).unwrap_or_default().to_vec())
            .collect();
        ffi::lua_settop(l, 0);
        Ok(args)
    }
}

unsafe fn generic_call(l: L, raise: bool) -> Outcome {
    // SAFETY: valid state throughout; the argument slices borrow strings that
    // stay on the stack until the command has run.
    unsafe {
        let n = match stringify_args(l) {
            Ok(n) => n,
            Err(e) => {
                ffi::lua_settop(l, 0);
                if super::ldb::logging() {
                    super::ldb::log_error(e);
                }
                push_error(l, e);
                return if raise {
                    Outcome::Raise
                } else {
                    Outcome::Return(1)
                };
            }
        };
        let argv: smallvec::SmallVec<[&[u8]; 8]> = (1..=n)
            .map(|i| bytes_at(l, i).unwrap_or_default())
            .collect();
        let debugging = super::ldb::logging();
        if debugging {
            super::ldb::log_command(&argv);
        }
        let result = with_run(|run: &mut RunCtx<'_, '_>| {
            let before = run.hooks.log.lock().len();
            let r = run.call(&argv);
            // redis.set_repl: what this command logged goes to the chosen
            // targets only (REPL_NONE: nowhere).
            let target = run.repl & (crate::transaction::AOF | crate::transaction::REPLICAS);
            if target == 0 {
                run.hooks.log.lock().truncate(before);
            } else if target != crate::transaction::AOF | crate::transaction::REPLICAS {
                let len = run.hooks.log.lock().len();
                run.hooks
                    .only
                    .lock()
                    .extend((before..len).map(|i| (i, target)));
            }
            r
        });
        drop(argv);
        ffi::lua_settop(l, 0);
        match result {
            None => {
                push_error(
                    l,
                    "redis.call/pcall can only be called inside a script invocation",
                );
                Outcome::Raise
            }
            Some(Err(text)) => {
                if debugging {
                    super::ldb::log_error(text.strip_prefix("ERR ").unwrap_or(&text));
                }
                push_error(l, &format!("-{text}"));
                mark_counted(l);
                if raise {
                    Outcome::Raise
                } else {
                    Outcome::Return(1)
                }
            }
            Some(Ok(reply)) => {
                let bytes = reply.as_bytes();
                let is_err = bytes.first() == Some(&b'-');
                convert::push_reply(l, bytes);
                if debugging {
                    if is_err {
                        // Redis logs the error as it turns it into a Lua error.
                        let end = bytes
                            .iter()
                            .position(|&b| b == b'\r')
                            .unwrap_or(bytes.len());
                        super::ldb::log_error(&String::from_utf8_lossy(&bytes[..end]));
                    }
                    super::ldb::log_reply(bytes);
                }
                with_run(|run| run.recycle(reply));
                if is_err && raise {
                    Outcome::Raise
                } else {
                    Outcome::Return(1)
                }
            }
        }
    }
}

/// `redis.call(...)`: errors raise.
pub(crate) unsafe extern "C-unwind" fn call(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let o = generic_call(l, true);
        finish(l, o)
    }
}

/// `redis.pcall(...)`: errors are returned as `{err=...}`.
pub(crate) unsafe extern "C-unwind" fn redis_pcall(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let o = generic_call(l, false);
        finish(l, o)
    }
}

/// The global `pcall`: Lua's, but an error that is an `{err=...}` table comes back
/// as its message, as scripts written for Redis 6 expect.
pub(crate) unsafe extern "C-unwind" fn pcall(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state; mirrors Lua's own pcall.
    unsafe {
        let argc = ffi::lua_gettop(l);
        ffi::lua_pushboolean(l, 1);
        ffi::lua_insert(l, 1);
        if ffi::lua_pcall(l, argc - 1, ffi::LUA_MULTRET, 0) != 0 {
            ffi::lua_remove(l, 1);
            if ffi::lua_istable(l, -1) != 0 {
                ffi::lua_getfield(l, -1, c"err".as_ptr());
                if ffi::lua_isstring(l, -1) != 0 {
                    ffi::lua_replace(l, -2);
                } else {
                    ffi::lua_pop(l, 1);
                }
            }
            ffi::lua_pushboolean(l, 0);
            ffi::lua_insert(l, 1);
        }
        ffi::lua_gettop(l)
    }
}

/// `redis.sha1hex(s)`.
pub(crate) unsafe extern "C-unwind" fn sha1hex(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let o = if ffi::lua_gettop(l) != 1 {
            push_error(l, "wrong number of arguments");
            Outcome::Raise
        } else {
            let data = bytes_at(l, 1).unwrap_or_default();
            let hex = super::sha1_hex(data);
            ffi::lua_pushlstring(l, hex.as_ptr() as *const c_char, hex.len());
            Outcome::Return(1)
        };
        finish(l, o)
    }
}

/// `redis.error_reply(msg)`: `{err=msg}` with a code (ERR when `msg` has none).
pub(crate) unsafe extern "C-unwind" fn error_reply(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
            push_error(l, "wrong number or type of arguments");
            return 1;
        }
        let text = to_string_lossy(l, -1);
        let text = if text.starts_with('-') {
            text
        } else {
            format!("-{text}")
        };
        push_error(l, &text);
        1
    }
}

/// `redis.status_reply(msg)`: `{ok=msg}`.
pub(crate) unsafe extern "C-unwind" fn status_reply(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        if ffi::lua_gettop(l) != 1 || ffi::lua_type(l, -1) != ffi::LUA_TSTRING {
            push_error(l, "wrong number or type of arguments");
            return 1;
        }
        ffi::lua_newtable(l);
        ffi::lua_pushvalue(l, -2);
        ffi::lua_setfield(l, -2, c"ok".as_ptr());
        1
    }
}

/// `redis.setresp(2|3)`.
pub(crate) unsafe extern "C-unwind" fn setresp(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let argc = ffi::lua_gettop(l);
        let resp = if argc == 1 {
            ffi::lua_tonumber(l, -1) as i64
        } else {
            0
        };
        let o = match with_run(|run| {
            if argc != 1 {
                Err("redis.setresp() requires one argument.")
            } else if resp != 2 && resp != 3 {
                Err("RESP version must be 2 or 3.")
            } else {
                run.resp3 = resp == 3;
                Ok(())
            }
        }) {
            None => {
                push_error(
                    l,
                    "redis.setresp can only be called inside a script invocation",
                );
                Outcome::Raise
            }
            Some(Err(e)) => {
                push_error(l, e);
                Outcome::Raise
            }
            Some(Ok(())) => Outcome::Return(0),
        };
        finish(l, o)
    }
}

/// `redis.set_repl(flags)`.
pub(crate) unsafe extern "C-unwind" fn set_repl(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let argc = ffi::lua_gettop(l);
        let flags = if argc >= 1 {
            ffi::lua_tonumber(l, -1) as i64
        } else {
            0
        };
        let o = match with_run(|run| {
            if argc != 1 {
                Err("redis.set_repl() requires two arguments.")
            } else if flags & !3 != 0 {
                Err("Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.")
            } else {
                run.repl = flags as u8;
                Ok(())
            }
        }) {
            None => {
                push_error(
                    l,
                    "redis.set_repl can only be called inside a script invocation",
                );
                Outcome::Raise
            }
            Some(Err(e)) => {
                push_error(l, e);
                Outcome::Raise
            }
            Some(Ok(())) => Outcome::Return(0),
        };
        finish(l, o)
    }
}

/// `redis.acl_check_cmd(...)`: whether the script's user may run the command with
/// these arguments (the admission's check, [`crate::acl::check`]).
pub(crate) unsafe extern "C-unwind" fn acl_check_cmd(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let args = read_args(l);
        let o = match with_run(|run| match &args {
            Err(e) => Err(*e),
            Ok(a) => {
                let argv: Vec<&[u8]> = a.iter().map(Vec::as_slice).collect();
                match crate::acl::cmds::lookup(run.engine, &argv) {
                    Some(meta) => {
                        Ok(crate::acl::check::check(&run.client.user, meta, &argv).is_ok())
                    }
                    _ => Err("Invalid command passed to redis.acl_check_cmd()"),
                }
            }
        }) {
            None => {
                push_error(
                    l,
                    "redis.acl_check_cmd can only be called inside a script invocation",
                );
                Outcome::Raise
            }
            Some(Err(e)) => {
                ffi::lua_settop(l, 0);
                push_error(l, e);
                Outcome::Raise
            }
            Some(Ok(b)) => {
                ffi::lua_pushboolean(l, b as c_int);
                Outcome::Return(1)
            }
        };
        finish(l, o)
    }
}

/// `redis.log(level, ...)`.
pub(crate) unsafe extern "C-unwind" fn log(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let argc = ffi::lua_gettop(l);
        let o = if argc < 2 {
            push_error(l, "redis.log() requires two arguments or more.");
            Outcome::Raise
        } else if ffi::lua_isnumber(l, 1) == 0 {
            push_error(l, "First argument must be a number (log level).");
            Outcome::Raise
        } else {
            let level = ffi::lua_tonumber(l, 1) as i64;
            if !(0..=3).contains(&level) {
                push_error(l, "Invalid debug level.");
                Outcome::Raise
            } else {
                let mut parts = Vec::new();
                for i in 2..=argc {
                    if let Some(b) = bytes_at(l, i) {
                        parts.push(String::from_utf8_lossy(b).into_owned());
                    }
                }
                let text = parts.join(" ");
                match level {
                    0 => tracing::trace!("{text}"),
                    1 => tracing::debug!("{text}"),
                    2 => tracing::info!("{text}"),
                    _ => tracing::warn!("{text}"),
                }
                Outcome::Return(0)
            }
        };
        finish(l, o)
    }
}

/// `redis.breakpoint()`: in a debugging session, stops at the next line (true);
/// false outside one.
pub(crate) unsafe extern "C-unwind" fn breakpoint(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        ffi::lua_pushboolean(l, super::ldb::breakpoint() as c_int);
        1
    }
}

/// `redis.debug(...)`: logs its arguments in a debugging session; nothing outside
/// one.
pub(crate) unsafe extern "C-unwind" fn debug(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe { super::ldb::debug(l) };
    0
}

/// `redis.replicate_commands()`: effects replication is the only mode in 7.0.
pub(crate) unsafe extern "C-unwind" fn replicate_commands(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        ffi::lua_pushboolean(l, 1);
        1
    }
}

/// `__index` of the protected globals: reading an unknown global is an error.
pub(crate) unsafe extern "C-unwind" fn nonexistent_global(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let name = if ffi::lua_gettop(l) == 2
            && (ffi::lua_isstring(l, -1) != 0 || ffi::lua_isnumber(l, -1) != 0)
        {
            to_string_lossy(l, -1)
        } else {
            String::new()
        };
        let msg = format!("Script attempted to access nonexistent global variable '{name}'");
        // luaL_error adds the location of the running Lua code, as Redis's does.
        ffi::lua_settop(l, 0);
        ffi::luaL_where(l, 1);
        ffi::lua_pushlstring(l, msg.as_ptr() as *const c_char, msg.len());
        drop(msg);
        drop(name);
        ffi::lua_concat(l, 2);
        ffi::lua_error(l)
    }
}

/// `math.random([m [, n]])` over the server's one generator.
pub(crate) unsafe extern "C-unwind" fn math_random(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let Some(r) = with_run(|run| run.engine.scripting.random()) else {
            return raise_message(
                l,
                "math.random can only be called inside a script invocation",
            );
        };
        let r = (r % super::rand::LRAND48_MAX) as f64 / super::rand::LRAND48_MAX as f64;
        match ffi::lua_gettop(l) {
            0 => ffi::lua_pushnumber(l, r),
            1 => {
                let u = ffi::luaL_checkinteger(l, 1) as i32;
                if u < 1 {
                    return ffi::luaL_argerror(l, 1, c"interval is empty".as_ptr());
                }
                ffi::lua_pushnumber(l, (r * u as f64).floor() + 1.0);
            }
            2 => {
                let lo = ffi::luaL_checkinteger(l, 1) as i32;
                let hi = ffi::luaL_checkinteger(l, 2) as i32;
                if lo > hi {
                    return ffi::luaL_argerror(l, 2, c"interval is empty".as_ptr());
                }
                let span = (hi as f64) - (lo as f64) + 1.0;
                ffi::lua_pushnumber(l, (r * span).floor() + lo as f64);
            }
            _ => return raise_message(l, "wrong number of arguments"),
        }
        1
    }
}

/// `math.randomseed(n)`.
pub(crate) unsafe extern "C-unwind" fn math_randomseed(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let seed = ffi::luaL_checkinteger(l, 1) as i32;
        if with_run(|run| run.engine.scripting.seed(seed)).is_none() {
            return raise_message(
                l,
                "math.randomseed can only be called inside a script invocation",
            );
        }
        0
    }
}

/// `redis.register_function(...)` while a library loads.
pub(crate) unsafe extern "C-unwind" fn register_function(l: L) -> c_int {
    // SAFETY: called by Lua with a valid state.
    unsafe {
        let o = match super::function::register_from_lua(l) {
            Ok(()) => Outcome::Return(0),
            Err(e) => {
                ffi::lua_settop(l, 0);
                push_error(l, &e);
                Outcome::Raise
            }
        };
        finish(l, o)
    }
}

/// luaL_error: a string error with the caller's location.
unsafe fn raise_message(l: L, msg: &str) -> c_int {
    // SAFETY: valid state.
    unsafe {
        ffi::luaL_where(l, 1);
        ffi::lua_pushlstring(l, msg.as_ptr() as *const c_char, msg.len());
        ffi::lua_concat(l, 2);
        ffi::lua_error(l)
    }
}
