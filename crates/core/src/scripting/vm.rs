//! The Lua interpreters scripts run in, set up as Redis 7.0 sets up its own: the
//! same libraries, the same `redis` API table, the same sandbox (no io/os/package,
//! no `print`/`dofile`/`loadfile`, reads of unknown globals are errors, every table
//! reachable from the globals is read-only).
//!
//! Each worker thread keeps its own interpreters (one for EVAL, one for
//! Functions, as Redis keeps two), created on first use and reused: a fresh Lua
//! state per call would cost more than the script. Compiled EVAL scripts stay in the
//! registry as `f_<sha>`, as in Redis. The interpreters are driven through the raw
//! C API: the `redis.*` functions must raise Lua errors whose value is a table
//! (`{err=...}`), and error locations must name the script's line, which a C
//! function (no Lua frame of its own) gives, as Redis's do.

use std::ffi::{c_char, c_int, CStr};
use std::ptr;

use mlua::ffi;

use super::api;

/// Which interpreter: they differ in what the globals hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// EVAL / EVALSHA: KEYS and ARGV are globals, scripts are compiled to `f_<sha>`.
    Eval,
    /// FUNCTION / FCALL: code runs against an empty read-only globals table that
    /// falls back to the real globals (or, while a library loads, to the load API).
    Function,
}

/// Registry name of the function-VM error handler.
pub(crate) const ERROR_HANDLER: &CStr = c"__ERROR_HANDLER__";
/// Registry name of the globals a library sees while it loads.
pub(crate) const LIBRARY_API: &CStr = c"__LIBRARY_API__";
/// Registry name of the real globals of the function VM.
pub(crate) const GLOBALS_API: &CStr = c"__GLOBALS_API__";

/// One Lua state, closed on drop.
pub(crate) struct Vm {
    pub state: *mut ffi::lua_State,
    /// Calls since the last incremental GC step (Redis steps every 50 calls).
    pub gc_calls: u32,
    /// Function interpreters: the error handler and each function called so far
    /// as registry references, so FCALL pushes them with an integer index
    /// instead of interning their names on every call (Redis keeps direct
    /// references too). A reloaded library set gets a new interpreter, so these
    /// never go stale.
    pub error_handler: c_int,
    pub function_refs: std::collections::HashMap<Box<[u8]>, c_int, foldhash::fast::RandomState>,
}

impl Drop for Vm {
    fn drop(&mut self) {
        // SAFETY: the state was created by `new` and is used by nobody else.
        unsafe { ffi::lua_close(self.state) };
    }
}

// The error handler Redis installs: adds the script's source and line to the error
// (skipping the C function that raised it, so that a failed redis.call is reported
// at the script line that called it) and turns plain errors into {err=...} tables.
const ERROR_HANDLER_CODE: &str = "local dbg = debug
debug = nil
local function handler(err)
  local info = dbg.getinfo(2, 'nSl')
  if info and info.what == 'C' then
    info = dbg.getinfo(3, 'nSl')
  end
  if type(err) ~= 'table' then
    err = {err = 'ERR ' .. tostring(err)}
  end
  if info then
    err['source'] = info.source
    err['line'] = info.currentline
  end
  return err
end
return handler
";

impl Vm {
    /// A new interpreter of `kind`.
    pub fn new(kind: Kind) -> Vm {
        // SAFETY: plain Lua C API use on a state owned here; every stack
        // manipulation below is balanced.
        unsafe {
            let l = ffi::lua_newstate(lua_alloc, ptr::null_mut());
            assert!(!l.is_null(), "out of memory creating a Lua state");
            let mut vm = Vm {
                state: l,
                gc_calls: 0,
                error_handler: ffi::LUA_NOREF,
                function_refs: Default::default(),
            };
            open_libraries(l);
            register_redis_api(l, kind);
            match kind {
                Kind::Eval => setup_eval_globals(l),
                Kind::Function => {
                    setup_function_globals(l);
                    ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, ERROR_HANDLER.as_ptr());
                    vm.error_handler = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                }
            }
            vm
        }
    }

    /// Lua's memory in bytes (INFO used_memory_lua).
    pub fn memory(&self) -> usize {
        // SAFETY: valid state.
        unsafe {
            (ffi::lua_gc(self.state, ffi::LUA_GCCOUNT, 0) as usize) * 1024
                + ffi::lua_gc(self.state, ffi::LUA_GCCOUNTB, 0) as usize
        }
    }

    /// After each call: an incremental GC step every 50 calls, as Redis does,
    /// instead of letting Lua run a full cycle in the middle of a script.
    /// Returns whether it stepped (a moment to read the memory figure too).
    pub fn after_call(&mut self) -> bool {
        self.gc_calls += 1;
        if self.gc_calls >= 50 {
            self.gc_calls = 0;
            // SAFETY: valid state.
            unsafe { ffi::lua_gc(self.state, ffi::LUA_GCSTEP, 50) };
            return true;
        }
        false
    }
}

/// Lua's allocator: the allocator's script arena when the server installed one
/// (`AllocHooks::script_realloc`), else the process allocator; either is faster
/// than the libc malloc luaL_newstate would use for a script's many small objects.
unsafe extern "C" fn lua_alloc(
    _ud: *mut std::ffi::c_void,
    ptr: *mut std::ffi::c_void,
    osize: usize,
    nsize: usize,
) -> *mut std::ffi::c_void {
    use std::alloc::{alloc, dealloc, realloc, Layout};
    const ALIGN: usize = 16;
    if let Some(h) = crate::defrag::hooks() {
        // SAFETY: Lua passes back blocks it got from here with their sizes
        // (blocks made before the hooks were installed are the global
        // allocator's, which the hooks' allocator is).
        return unsafe { h.script_realloc(ptr as *mut u8, osize, nsize) } as *mut _;
    }
    // SAFETY: Lua passes back blocks it got from here with their sizes.
    unsafe {
        if nsize == 0 {
            if !ptr.is_null() {
                dealloc(
                    ptr as *mut u8,
                    Layout::from_size_align_unchecked(osize, ALIGN),
                );
            }
            return ptr::null_mut();
        }
        if ptr.is_null() {
            return alloc(Layout::from_size_align_unchecked(nsize, ALIGN)) as *mut _;
        }
        realloc(
            ptr as *mut u8,
            Layout::from_size_align_unchecked(osize, ALIGN),
            nsize,
        ) as *mut _
    }
}

unsafe fn open_lib(l: *mut ffi::lua_State, name: &CStr, f: ffi::lua_CFunction) {
    // SAFETY: caller passes a valid state.
    unsafe {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_call(l, 1, 0);
    }
}

/// Redis's luaLoadLibraries: base, table, string, math, debug and the four
/// libraries Redis bundles; not io, os or package.
unsafe fn open_libraries(l: *mut ffi::lua_State) {
    // SAFETY: valid state.
    unsafe {
        open_lib(l, c"", ffi::luaopen_base);
        open_lib(l, c"table", ffi::luaopen_table);
        open_lib(l, c"string", ffi::luaopen_string);
        open_lib(l, c"math", ffi::luaopen_math);
        open_lib(l, c"debug", ffi::luaopen_debug);
        // Redis's allow list keeps the first three from ever being set; the
        // Redis 7.0.15 of Debian (with the 2025 Lua sandbox fixes), our oracle,
        // has no getfenv, setfenv or newproxy either (ways to reach a function's
        // environment or make userdata with metatables).
        for name in [
            c"print",
            c"dofile",
            c"loadfile",
            c"getfenv",
            c"setfenv",
            c"newproxy",
        ] {
            ffi::lua_pushnil(l);
            ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        }
        let lua = mlua::Lua::get_or_init_from_ptr(l);
        if let Err(e) = super::libs::register(lua) {
            tracing::warn!("Lua libraries failed to load: {e}");
        }
    }
}

/// Sets `t[name] = f` on the table at the top of the stack.
unsafe fn set_fn(l: *mut ffi::lua_State, name: &CStr, f: ffi::lua_CFunction) {
    // SAFETY: a table is on top of the stack.
    unsafe {
        ffi::lua_pushcfunction(l, f);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Sets `t[name] = n` on the table at the top of the stack.
unsafe fn set_num(l: *mut ffi::lua_State, name: &CStr, n: f64) {
    // SAFETY: a table is on top of the stack.
    unsafe {
        ffi::lua_pushnumber(l, n);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// `redis.log` and its level constants, `redis.REDIS_VERSION[_NUM]`: shared by the
/// full API and the library-load API.
unsafe fn register_log_and_version(l: *mut ffi::lua_State) {
    // SAFETY: a table is on top of the stack.
    unsafe {
        set_fn(l, c"log", api::log);
        set_num(l, c"LOG_DEBUG", 0.0);
        set_num(l, c"LOG_VERBOSE", 1.0);
        set_num(l, c"LOG_NOTICE", 2.0);
        set_num(l, c"LOG_WARNING", 3.0);
        set_num(l, c"REDIS_VERSION_NUM", crate::REDIS_VERSION_NUM as f64);
        let v = std::ffi::CString::new(crate::REDIS_VERSION).unwrap_or_default();
        ffi::lua_pushstring(l, v.as_ptr());
        ffi::lua_setfield(l, -2, c"REDIS_VERSION".as_ptr());
    }
}

/// Redis's luaRegisterRedisAPI (plus, for EVAL, what scriptingInit adds).
unsafe fn register_redis_api(l: *mut ffi::lua_State, kind: Kind) {
    // SAFETY: valid state; balanced stack.
    unsafe {
        ffi::lua_pushcfunction(l, api::pcall);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"pcall".as_ptr());

        ffi::lua_newtable(l);
        set_fn(l, c"call", api::call);
        set_fn(l, c"pcall", api::redis_pcall);
        register_log_and_version(l);
        set_fn(l, c"setresp", api::setresp);
        set_fn(l, c"sha1hex", api::sha1hex);
        set_fn(l, c"error_reply", api::error_reply);
        set_fn(l, c"status_reply", api::status_reply);
        set_fn(l, c"set_repl", api::set_repl);
        set_num(l, c"REPL_NONE", 0.0);
        set_num(l, c"REPL_AOF", 1.0);
        set_num(l, c"REPL_SLAVE", 2.0);
        set_num(l, c"REPL_REPLICA", 2.0);
        set_num(l, c"REPL_ALL", 3.0);
        set_fn(l, c"acl_check_cmd", api::acl_check_cmd);
        if kind == Kind::Eval {
            set_fn(l, c"breakpoint", api::breakpoint);
            set_fn(l, c"debug", api::debug);
            set_fn(l, c"replicate_commands", api::replicate_commands);
        }
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"redis".as_ptr());

        ffi::lua_getfield(l, ffi::LUA_GLOBALSINDEX, c"math".as_ptr());
        set_fn(l, c"random", api::math_random);
        set_fn(l, c"randomseed", api::math_randomseed);
        ffi::lua_pop(l, 1);
    }
}

/// Runs Lua source that returns one value and leaves it on the stack.
unsafe fn run_snippet(l: *mut ffi::lua_State, code: &str, name: &CStr) {
    // SAFETY: valid state.
    unsafe {
        let loaded =
            ffi::luaL_loadbuffer(l, code.as_ptr() as *const c_char, code.len(), name.as_ptr());
        if loaded != 0 || ffi::lua_pcall(l, 0, 1, 0) != 0 {
            // Our own constant code: cannot fail but for memory.
            ffi::lua_pop(l, 1);
            ffi::lua_pushnil(l);
        }
    }
}

/// Sets, on the table at the top of the stack, a metatable whose `__index`
/// raises "Script attempted to access nonexistent global variable".
unsafe fn set_error_metatable(l: *mut ffi::lua_State) {
    // SAFETY: a table is on top of the stack.
    unsafe {
        ffi::lua_newtable(l);
        ffi::lua_pushcfunction(l, api::nonexistent_global);
        ffi::lua_setfield(l, -2, c"__index".as_ptr());
        ffi::lua_setmetatable(l, -2);
    }
}

/// Makes the table at the top of the stack read-only, with every table reachable
/// from it and their metatables (Redis's luaSetTableProtectionRecursively).
unsafe fn protect_recursively(l: *mut ffi::lua_State) {
    // SAFETY: a table is on top of the stack.
    unsafe {
        if lua_isreadonlytable(l, -1) != 0 {
            return;
        }
        lua_enablereadonlytable(l, -1, 1);
        ffi::lua_checkstack(l, 2);
        ffi::lua_pushnil(l);
        while ffi::lua_next(l, -2) != 0 {
            if ffi::lua_type(l, -1) == ffi::LUA_TTABLE {
                protect_recursively(l);
            }
            ffi::lua_pop(l, 1);
        }
        if ffi::lua_getmetatable(l, -1) != 0 {
            protect_recursively(l);
            ffi::lua_pop(l, 1);
        }
    }
}

unsafe fn setup_eval_globals(l: *mut ffi::lua_State) {
    // SAFETY: valid state.
    unsafe {
        run_snippet(l, ERROR_HANDLER_CODE, c"@err_handler_def");
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, c"__redis__err__handler".as_ptr());
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_pop(l, 1);
    }
}

unsafe fn setup_function_globals(l: *mut ffi::lua_State) {
    // SAFETY: valid state.
    unsafe {
        // What a library sees while it loads: `redis` with register_function, log
        // and the version, nothing else.
        ffi::lua_newtable(l);
        ffi::lua_newtable(l);
        set_fn(l, c"register_function", api::register_function);
        register_log_and_version(l);
        set_error_metatable(l);
        ffi::lua_setfield(l, -2, c"redis".as_ptr());
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, LIBRARY_API.as_ptr());

        run_snippet(l, ERROR_HANDLER_CODE, c"@err_handler_def");
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, ERROR_HANDLER.as_ptr());

        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        set_error_metatable(l);
        protect_recursively(l);
        ffi::lua_pop(l, 1);
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, GLOBALS_API.as_ptr());

        // The globals code runs with: empty, read-only, falling back to the real
        // globals through a read-only metatable that loading swaps.
        ffi::lua_newtable(l);
        ffi::lua_newtable(l);
        ffi::lua_pushvalue(l, ffi::LUA_GLOBALSINDEX);
        ffi::lua_setfield(l, -2, c"__index".as_ptr());
        lua_enablereadonlytable(l, -1, 1);
        ffi::lua_setmetatable(l, -2);
        lua_enablereadonlytable(l, -1, 1);
        ffi::lua_replace(l, ffi::LUA_GLOBALSINDEX);
    }
}

/// Points the function VM's globals fallback at the registry table `name`
/// (LIBRARY_API while a library loads, GLOBALS_API otherwise).
pub(crate) unsafe fn set_globals_fallback(l: *mut ffi::lua_State, name: &CStr) {
    // SAFETY: a function VM.
    unsafe {
        ffi::lua_getmetatable(l, ffi::LUA_GLOBALSINDEX);
        lua_enablereadonlytable(l, -1, 0);
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
        ffi::lua_setfield(l, -2, c"__index".as_ptr());
        lua_enablereadonlytable(l, -1, 1);
        ffi::lua_pop(l, 1);
    }
}

/// Sets global `name` to an array of `items` (KEYS, ARGV), lifting the globals'
/// protection for the assignment.
pub(crate) unsafe fn set_global_array(l: *mut ffi::lua_State, name: &CStr, items: &[&[u8]]) {
    // SAFETY: valid state.
    unsafe {
        push_array(l, items);
        lua_enablereadonlytable(l, ffi::LUA_GLOBALSINDEX, 0);
        ffi::lua_setfield(l, ffi::LUA_GLOBALSINDEX, name.as_ptr());
        lua_enablereadonlytable(l, ffi::LUA_GLOBALSINDEX, 1);
    }
}

/// Pushes a new array of strings.
pub(crate) unsafe fn push_array(l: *mut ffi::lua_State, items: &[&[u8]]) {
    // SAFETY: valid state.
    unsafe {
        ffi::lua_checkstack(l, 2);
        ffi::lua_createtable(l, items.len() as c_int, 0);
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring(l, item.as_ptr() as *const c_char, item.len());
            ffi::lua_rawseti(l, -2, (i + 1) as ffi::lua_Integer);
        }
    }
}

/// Compiles `code` as chunk `name`; on success the function is on the stack, on
/// failure the error text is returned (and nothing is left on the stack).
pub(crate) unsafe fn compile(
    l: *mut ffi::lua_State,
    code: &[u8],
    name: &CStr,
) -> Result<(), String> {
    // SAFETY: valid state.
    unsafe {
        if ffi::luaL_loadbuffer(l, code.as_ptr() as *const c_char, code.len(), name.as_ptr()) != 0 {
            let msg = to_string_lossy(l, -1);
            ffi::lua_pop(l, 1);
            return Err(msg);
        }
        Ok(())
    }
}

/// The value at `idx` as text (strings and numbers), else "".
pub(crate) unsafe fn to_string_lossy(l: *mut ffi::lua_State, idx: c_int) -> String {
    // SAFETY: valid state and index.
    unsafe {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        if p.is_null() {
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(p as *const u8, len)).into_owned()
    }
}

/// The string (or number, as Lua converts it) at `idx`, borrowed from the stack.
pub(crate) unsafe fn bytes_at<'a>(l: *mut ffi::lua_State, idx: c_int) -> Option<&'a [u8]> {
    // SAFETY: valid state; the slice lives while the value stays on the stack.
    unsafe {
        let mut len = 0usize;
        let p = ffi::lua_tolstring(l, idx, &mut len);
        if p.is_null() {
            None
        } else {
            Some(std::slice::from_raw_parts(p as *const u8, len))
        }
    }
}

/// Sets a registry field to a light pointer (null clears it).
#[allow(dead_code)]
pub(crate) unsafe fn null_registry(l: *mut ffi::lua_State, name: &CStr) {
    // SAFETY: valid state.
    unsafe {
        ffi::lua_pushlightuserdata(l, ptr::null_mut());
        ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, name.as_ptr());
    }
}

unsafe extern "C-unwind" {
    /// Added to Lua by build.rs (Redis's read-only tables).
    pub(crate) fn lua_enablereadonlytable(l: *mut ffi::lua_State, idx: c_int, enabled: c_int);
    /// Added to Lua by build.rs.
    pub(crate) fn lua_isreadonlytable(l: *mut ffi::lua_State, idx: c_int) -> c_int;
}
