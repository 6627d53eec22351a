//! FUNCTION and FCALL (Redis's functions.c and function_lua.c).
//!
//! The libraries (their code and what each registered) live here, shared by every
//! thread. Each worker thread's function interpreter loads every library once
//! (running its code, which calls `redis.register_function`) and is rebuilt when
//! the set of libraries changes (`generation`). FUNCTION LOAD first runs the code
//! in a fresh interpreter to check it and learn its functions.
//!
//! FUNCTION DUMP / RESTORE and the RDB/AOF forms of libraries are in the server
//! crate (they need the RDB format); they come through [`Libraries::load`] and
//! [`Libraries::codes`].

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{c_char, c_int};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mlua::ffi;
use parking_lot::RwLock;

use super::exec::{self, Call};
use super::vm::{self, Kind, Vm};
use super::ScriptFlags;
use crate::commands::{reply_help, Admit, CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

pub static COMMANDS: &[CommandDef] = &[
    CommandDef::with_locks("fcall", fcall, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::with_locks("fcall_ro", fcall_ro, Locks::Own).admit(Admit::SCRIPT),
    CommandDef::new("function|load", function_load),
    CommandDef::new("function|delete", function_delete),
    CommandDef::new("function|flush", function_flush),
    CommandDef::new("function|list", function_list),
    CommandDef::new("function|stats", function_stats),
    CommandDef::new("function|kill", function_kill),
    CommandDef::new("function|help", function_help),
];

/// How long a library's code may run while it loads.
const LOAD_TIMEOUT: Duration = Duration::from_millis(500);

/// A registered function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Vec<u8>>,
    pub flags: ScriptFlags,
}

/// A library: its code (with its `#!lua name=` line) and functions.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    pub code: Vec<u8>,
    pub functions: BTreeMap<String, FunctionInfo>,
}

#[derive(Default)]
struct State {
    libraries: BTreeMap<String, Arc<Library>>,
    /// Function name -> its library.
    functions: HashMap<String, Arc<Library>, foldhash::fast::RandomState>,
}

/// The loaded libraries.
#[derive(Default)]
pub struct Libraries {
    state: RwLock<State>,
    /// Bumped on every change: thread interpreters reload.
    generation: AtomicU64,
}

/// What to do with libraries that exist already (FUNCTION RESTORE's policy).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Policy {
    /// Fail on any name that exists.
    Append,
    /// Replace libraries of the same name.
    Replace,
    /// Drop everything first.
    Flush,
}

impl Libraries {
    /// Number of libraries and of functions.
    pub fn counts(&self) -> (usize, usize) {
        let s = self.state.read();
        let functions = s.libraries.values().map(|l| l.functions.len()).sum();
        (s.libraries.len(), functions)
    }

    /// Every library's code, by name (RDB, AOF rewrite, FUNCTION DUMP).
    pub fn codes(&self) -> Vec<Vec<u8>> {
        self.state
            .read()
            .libraries
            .values()
            .map(|l| l.code.clone())
            .collect()
    }

    /// Removes every library.
    pub fn flush(&self) {
        let mut s = self.state.write();
        s.libraries.clear();
        s.functions.clear();
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    /// Checks and loads one library's code (FUNCTION LOAD); returns its name.
    pub fn load(&self, code: &[u8], replace: bool) -> Result<String, String> {
        let (engine, name, _) = metadata(code)?;
        if !valid_name(&name) {
            return Err(NAME_ERROR.into());
        }
        if !engine.eq_ignore_ascii_case("lua") {
            return Err(format!("Engine '{engine}' not found"));
        }
        if !replace && self.state.read().libraries.contains_key(&name) {
            return Err(format!("Library '{name}' already exists"));
        }
        let lib = compile_library(code)?;
        let mut s = self.state.write();
        let old = s.libraries.get(&lib.name).cloned();
        if old.is_some() && !replace {
            return Err(format!("Library '{}' already exists", lib.name));
        }
        for f in lib.functions.keys() {
            if let Some(owner) = s.functions.get(&f.to_ascii_lowercase()) {
                if owner.name != lib.name {
                    return Err(format!("Function {f} already exists"));
                }
            }
        }
        if let Some(old) = old {
            for f in old.functions.keys() {
                s.functions.remove(&f.to_ascii_lowercase());
            }
        }
        let lib = Arc::new(lib);
        for f in lib.functions.keys() {
            s.functions.insert(f.to_ascii_lowercase(), lib.clone());
        }
        let name = lib.name.clone();
        s.libraries.insert(name.clone(), lib);
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(name)
    }

    /// Loads several libraries at once with `policy` (FUNCTION RESTORE, RDB
    /// load): all or nothing.
    pub fn restore(&self, codes: &[Vec<u8>], policy: Policy) -> Result<(), String> {
        let mut new: Vec<Library> = Vec::with_capacity(codes.len());
        for code in codes {
            let lib = compile_library(code)?;
            if new.iter().any(|l| l.name == lib.name) {
                return Err(format!("Library {} already exists", lib.name));
            }
            new.push(lib);
        }
        let mut s = self.state.write();
        let mut next = match policy {
            Policy::Flush => State::default(),
            _ => State {
                libraries: s.libraries.clone(),
                functions: s.functions.clone(),
            },
        };
        for lib in &new {
            if let Some(old) = next.libraries.get(&lib.name).cloned() {
                if policy != Policy::Replace {
                    return Err(format!("Library {} already exists", lib.name));
                }
                next.libraries.remove(&lib.name);
                for f in old.functions.keys() {
                    next.functions.remove(&f.to_ascii_lowercase());
                }
            }
        }
        for lib in new {
            if let Some(f) = lib
                .functions
                .keys()
                .find(|f| next.functions.contains_key(&f.to_ascii_lowercase()))
            {
                return Err(format!("Function {f} already exists"));
            }
            let lib = Arc::new(lib);
            for f in lib.functions.keys() {
                next.functions.insert(f.to_ascii_lowercase(), lib.clone());
            }
            next.libraries.insert(lib.name.clone(), lib);
        }
        *s = next;
        self.generation.fetch_add(1, Ordering::AcqRel);
        Ok(())
    }

    fn delete(&self, name: &[u8]) -> bool {
        let name = String::from_utf8_lossy(name);
        let mut s = self.state.write();
        let Some(lib) = s.libraries.remove(name.as_ref()) else {
            return false;
        };
        for f in lib.functions.keys() {
            s.functions.remove(&f.to_ascii_lowercase());
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
        true
    }

    /// The flags of function `name` (any case), if it exists.
    pub fn flags_of(&self, name: &[u8]) -> Option<ScriptFlags> {
        let lib = self.function(name)?;
        lib.functions
            .values()
            .find(|f| f.name.as_bytes().eq_ignore_ascii_case(name))
            .map(|f| f.flags)
    }

    /// The library holding function `name` (any case).
    fn function(&self, name: &[u8]) -> Option<Arc<Library>> {
        // Lower-cased on the stack for the usual short names.
        let mut lower: smallvec::SmallVec<[u8; 64]> = name.into();
        lower.make_ascii_lowercase();
        let name = std::str::from_utf8(&lower).ok()?;
        let s = self.state.read();
        s.functions.get(name).cloned()
    }

    fn snapshot(&self) -> (u64, Vec<Arc<Library>>) {
        let s = self.state.read();
        (
            self.generation.load(Ordering::Acquire),
            s.libraries.values().cloned().collect(),
        )
    }
}

/// A library's `#!<engine> name=<name>` line: (engine, name, code after the line
/// start, newline kept).
fn metadata(code: &[u8]) -> Result<(String, String, usize), String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&b| b == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[..end]);
    // Split as sdssplitargs (`name="foo"` is `name=foo`).
    let parts = crate::config::file::split_line(&line).unwrap_or_default();
    let Some(first) = parts.first() else {
        return Err("Invalid library metadata".into());
    };
    let engine = first.get(2..).unwrap_or_default().to_string();
    let mut name = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_string());
            continue;
        }
        return Err(format!("Invalid metadata value given: {part}"));
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    Ok((engine, name, end))
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
}

const NAME_ERROR: &str = "Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

/// What a library registers while it loads.
struct LoadCtx {
    started: Instant,
    registered: Vec<FunctionInfo>,
}

thread_local! {
    static LOADING: RefCell<Option<LoadCtx>> = const { RefCell::new(None) };
}

/// Registry table holding this interpreter's functions by name.
const FUNCTIONS: &std::ffi::CStr = c"__FERROKV_FUNCTIONS__";

/// Checks a library in a fresh interpreter: metadata, name, code, and that it
/// registers functions (Redis's functionsCreateWithLibraryCtx).
fn compile_library(code: &[u8]) -> Result<Library, String> {
    let (engine, name, _) = metadata(code)?;
    if !valid_name(&name) {
        return Err(NAME_ERROR.into());
    }
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    let mut vm = Vm::new(Kind::Function);
    let functions = load_into(&mut vm, code)?;
    if functions.is_empty() {
        return Err("No functions registered".into());
    }
    let mut map = BTreeMap::new();
    for f in functions {
        map.insert(f.name.clone(), f);
    }
    Ok(Library {
        name,
        code: code.to_vec(),
        functions: map,
    })
}

/// Runs a library's code in `vm` with the load API as globals; its functions end
/// up in the registry table.
fn load_into(vm: &mut Vm, code: &[u8]) -> Result<Vec<FunctionInfo>, String> {
    let (_, _, line_end) = metadata(code)?;
    let l = vm.state;
    // SAFETY: a function interpreter of this thread; balanced stack.
    unsafe {
        let top = ffi::lua_gettop(l);
        vm::set_globals_fallback(l, vm::LIBRARY_API);
        let compiled = vm::compile(l, &code[line_end..], c"@user_function");
        let result = match compiled {
            Err(e) => Err(format!("Error compiling function: {e}")),
            Ok(()) => {
                LOADING.with(|c| {
                    *c.borrow_mut() = Some(LoadCtx {
                        started: Instant::now(),
                        registered: Vec::new(),
                    })
                });
                ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKCOUNT, 100_000);
                let status = ffi::lua_pcall(l, 0, 0, 0);
                ffi::lua_sethook(l, None, 0, 0);
                let ctx = LOADING.with(|c| c.borrow_mut().take());
                if status != 0 {
                    let info = super::convert::error_info(l);
                    ffi::lua_pop(l, 1);
                    Err(format!(
                        "Error registering functions: {}",
                        info.msg.unwrap_or_default()
                    ))
                } else {
                    Ok(ctx.map(|c| c.registered).unwrap_or_default())
                }
            }
        };
        vm::set_globals_fallback(l, vm::GLOBALS_API);
        ffi::lua_settop(l, top);
        result
    }
}

unsafe extern "C-unwind" fn load_hook(l: *mut ffi::lua_State, _ar: *mut ffi::lua_Debug) {
    let late = LOADING.with(|c| {
        c.borrow()
            .as_ref()
            .is_some_and(|ctx| ctx.started.elapsed() > LOAD_TIMEOUT)
    });
    if late {
        // SAFETY: valid state; nothing Rust-owned is live past this point.
        unsafe {
            ffi::lua_sethook(l, Some(load_hook), ffi::LUA_MASKLINE, 0);
            super::api::push_error(l, "FUNCTION LOAD timeout");
            ffi::lua_error(l);
        }
    }
}

unsafe fn string_arg(l: *mut ffi::lua_State, idx: c_int) -> Option<Vec<u8>> {
    // SAFETY: valid state.
    unsafe {
        if ffi::lua_isstring(l, idx) == 0 {
            return None;
        }
        vm::bytes_at(l, idx).map(<[u8]>::to_vec)
    }
}

/// `redis.register_function(name, callback)` or `({function_name=, callback=,
/// flags=, description=})`, stored in the interpreter's function table.
pub(crate) unsafe fn register_from_lua(l: *mut ffi::lua_State) -> Result<(), String> {
    if !LOADING.with(|c| c.borrow().is_some()) {
        return Err("redis.register_function can only be called on FUNCTION LOAD command".into());
    }
    // SAFETY: valid state; arguments read in place.
    unsafe {
        let argc = ffi::lua_gettop(l);
        if !(1..=2).contains(&argc) {
            return Err("wrong number of arguments to redis.register_function".into());
        }
        let (name, desc, flags) = if argc == 1 {
            if ffi::lua_istable(l, 1) == 0 {
                return Err("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).".into());
            }
            let (mut name, mut desc, mut flags, mut callback) = (None, None, ScriptFlags(0), false);
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, 1) != 0 {
                if ffi::lua_isstring(l, -2) == 0 {
                    return Err(
                        "named argument key given to redis.register_function is not a string"
                            .into(),
                    );
                }
                let key = vm::to_string_lossy(l, -2).to_ascii_lowercase();
                match key.as_str() {
                    "function_name" => {
                        name = Some(string_arg(l, -1).ok_or(
                            "function_name argument given to redis.register_function must be a string",
                        )?);
                    }
                    "description" => {
                        desc = Some(string_arg(l, -1).ok_or(
                            "description argument given to redis.register_function must be a string",
                        )?);
                    }
                    "callback" => {
                        if ffi::lua_isfunction(l, -1) == 0 {
                            return Err("callback argument given to redis.register_function must be a function".into());
                        }
                        // Kept at index 2 for storing below.
                        callback = true;
                        ffi::lua_pushvalue(l, -1);
                        ffi::lua_setfield(
                            l,
                            ffi::LUA_REGISTRYINDEX,
                            c"__FERROKV_PENDING__".as_ptr(),
                        );
                    }
                    "flags" => {
                        if ffi::lua_istable(l, -1) == 0 {
                            return Err("flags argument to redis.register_function must be a table representing function flags".into());
                        }
                        flags = read_flags(l)?;
                    }
                    _ => return Err("unknown argument given to redis.register_function".into()),
                }
                ffi::lua_pop(l, 1);
            }
            let Some(name) = name else {
                return Err("redis.register_function must get a function name argument".into());
            };
            if !callback {
                return Err("redis.register_function must get a callback argument".into());
            }
            ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, c"__FERROKV_PENDING__".as_ptr());
            (name, desc, flags)
        } else {
            let Some(name) = string_arg(l, 1) else {
                return Err("first argument to redis.register_function must be a string".into());
            };
            if ffi::lua_isfunction(l, 2) == 0 {
                return Err("second argument to redis.register_function must be a function".into());
            }
            ffi::lua_pushvalue(l, 2);
            (name, None, ScriptFlags(0))
        };
        // The callback is on top.
        let name = String::from_utf8_lossy(&name).into_owned();
        if !valid_name(&name) {
            return Err(NAME_ERROR.into());
        }
        let duplicate = LOADING.with(|c| {
            c.borrow()
                .as_ref()
                .is_some_and(|ctx| ctx.registered.iter().any(|f| f.name == name))
        });
        if duplicate {
            return Err("Function already exists in the library".into());
        }
        ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, FUNCTIONS.as_ptr());
        if ffi::lua_istable(l, -1) == 0 {
            ffi::lua_pop(l, 1);
            ffi::lua_newtable(l);
            ffi::lua_pushvalue(l, -1);
            ffi::lua_setfield(l, ffi::LUA_REGISTRYINDEX, FUNCTIONS.as_ptr());
        }
        ffi::lua_pushlstring(l, name.as_ptr() as *const c_char, name.len());
        ffi::lua_pushvalue(l, -3);
        ffi::lua_rawset(l, -3);
        ffi::lua_pop(l, 2);
        LOADING.with(|c| {
            if let Some(ctx) = c.borrow_mut().as_mut() {
                ctx.registered.push(FunctionInfo {
                    name,
                    description: desc,
                    flags,
                });
            }
        });
        Ok(())
    }
}

/// The flags table of a named registration (on top of the stack).
unsafe fn read_flags(l: *mut ffi::lua_State) -> Result<ScriptFlags, String> {
    let mut flags = ScriptFlags(0);
    let mut j = 1;
    // SAFETY: a table on top; balanced.
    unsafe {
        loop {
            ffi::lua_rawgeti(l, -1, j);
            j += 1;
            if ffi::lua_isnil(l, -1) != 0 {
                ffi::lua_pop(l, 1);
                break;
            }
            if ffi::lua_isstring(l, -1) == 0 {
                ffi::lua_pop(l, 1);
                return Err("unknown flag given".into());
            }
            let name = vm::to_string_lossy(l, -1).to_ascii_lowercase();
            ffi::lua_pop(l, 1);
            match ScriptFlags::named(&name) {
                Some(f) => flags = flags.with(f),
                None => return Err("unknown flag given".into()),
            }
        }
    }
    Ok(flags)
}

fn fcall(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, false)
}

fn fcall_ro(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    fcall_generic(ctx, args, true)
}

fn fcall_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], ro: bool) -> CmdResult {
    let libs = &ctx.engine.scripting.functions;
    let lib = libs.function(args[1]);
    let info = lib.as_ref().and_then(|lib| {
        // The name as registered (the usual call), else in another case.
        std::str::from_utf8(args[1])
            .ok()
            .and_then(|n| lib.functions.get(n))
            .or_else(|| {
                lib.functions
                    .values()
                    .find(|f| f.name.as_bytes().eq_ignore_ascii_case(args[1]))
            })
    });
    let Some(info) = info else {
        return Err(CmdError::Other("Function not found".into()));
    };
    let nkeys = match crate::args::int_arg(args[2]) {
        Ok(n) => n,
        Err(_) => return Err(CmdError::Other("Bad number of keys provided".into())),
    };
    if nkeys > (args.len() - 3) as i64 {
        return Err(CmdError::Other(
            "Number of keys can't be greater than number of args".into(),
        ));
    }
    if nkeys < 0 {
        return Err(CmdError::Other("Number of keys can't be negative".into()));
    }
    let nkeys = nkeys as usize;
    exec::prepare(ctx, info.flags, ro)?;
    let engine_id = ctx.engine as *const _ as usize;
    // The libraries are only read (and copied) when this thread's VM must load
    // them again.
    let generation = libs.generation.load(Ordering::Acquire);
    let call = Call {
        kind: Kind::Function,
        name: &info.name,
        flags: info.flags,
        ro,
        keys: &args[3..3 + nkeys],
        args: &args[3 + nkeys..],
        command: args,
    };
    let fname = info.name.as_str();
    exec::run(
        ctx,
        call,
        |vm| {
            let l = vm.state;
            // SAFETY: this thread's function interpreter: handler then function.
            unsafe {
                ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, vm.error_handler.into());
                if let Some(&r) = vm.function_refs.get(fname.as_bytes()) {
                    ffi::lua_rawgeti(l, ffi::LUA_REGISTRYINDEX, r.into());
                    return Ok(());
                }
                // First call in this interpreter: found by name, then remembered.
                ffi::lua_getfield(l, ffi::LUA_REGISTRYINDEX, FUNCTIONS.as_ptr());
                if ffi::lua_istable(l, -1) != 0 {
                    ffi::lua_pushlstring(l, fname.as_ptr() as *const c_char, fname.len());
                    ffi::lua_rawget(l, -2);
                    ffi::lua_remove(l, -2);
                }
                if ffi::lua_isfunction(l, -1) == 0 {
                    ffi::lua_pop(l, 2);
                    return Err(CmdError::Other("Function not found".into()));
                }
                ffi::lua_pushvalue(l, -1);
                let r = ffi::luaL_ref(l, ffi::LUA_REGISTRYINDEX);
                vm.function_refs.insert(fname.as_bytes().into(), r);
            }
            Ok(())
        },
        |body| {
            exec::with_function_vm(
                (engine_id, generation),
                |vm| {
                    let (_, all) = libs.snapshot();
                    for lib in &all {
                        if let Err(e) = load_into(vm, &lib.code) {
                            tracing::warn!("Library {} failed to load again: {e}", lib.name);
                        }
                    }
                },
                |vm| body(vm),
            )
        },
    )
}

/// Counts a change of the function set (propagated, counted for save points).
fn changed(ctx: &mut Ctx<'_, '_>) {
    ctx.keys.dirty += 1;
    ctx.keys.signalled += 1;
}

fn function_load(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut replace = false;
    let mut pos = 2;
    while pos < args.len() - 1 {
        let a = args[pos];
        pos += 1;
        if a.eq_ignore_ascii_case(b"replace") {
            replace = true;
            continue;
        }
        return Err(CmdError::Other(format!(
            "Unknown option given: {}",
            String::from_utf8_lossy(a)
        )));
    }
    if pos >= args.len() {
        return Err(CmdError::Other("Function code is missing".into()));
    }
    let name = ctx
        .engine
        .scripting
        .functions
        .load(args[pos], replace)
        .map_err(CmdError::Other)?;
    changed(ctx);
    ctx.out.bulk(name.as_bytes());
    Ok(())
}

fn function_delete(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if !ctx.engine.scripting.functions.delete(args[2]) {
        return Err(CmdError::Other("Library not found".into()));
    }
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn function_flush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    if args.len() == 3
        && !args[2].eq_ignore_ascii_case(b"sync")
        && !args[2].eq_ignore_ascii_case(b"async")
    {
        return Err(CmdError::Other(
            "FUNCTION FLUSH only supports SYNC|ASYNC option".into(),
        ));
    }
    ctx.engine.scripting.functions.flush();
    changed(ctx);
    ctx.out.ok();
    Ok(())
}

fn function_list(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (mut with_code, mut pattern): (bool, Option<&[u8]>) = (false, None);
    let mut i = 2;
    while i < args.len() {
        let a = args[i];
        if !with_code && a.eq_ignore_ascii_case(b"withcode") {
            with_code = true;
            i += 1;
            continue;
        }
        if pattern.is_none() && a.eq_ignore_ascii_case(b"libraryname") {
            if i >= args.len() - 1 {
                return Err(CmdError::Other(
                    "library name argument was not given".into(),
                ));
            }
            pattern = Some(args[i + 1]);
            i += 2;
            continue;
        }
        return Err(CmdError::Other(format!(
            "Unknown argument {}",
            String::from_utf8_lossy(a)
        )));
    }
    let (_, libs) = ctx.engine.scripting.functions.snapshot();
    let libs: Vec<_> = libs
        .into_iter()
        .filter(|l| pattern.is_none_or(|p| crate::glob::glob_match(p, l.name.as_bytes(), true)))
        .collect();
    let out = &mut *ctx.out;
    out.array(libs.len());
    for lib in libs {
        out.map(if with_code { 4 } else { 3 });
        out.bulk(b"library_name");
        out.bulk(lib.name.as_bytes());
        out.bulk(b"engine");
        out.bulk(b"LUA");
        out.bulk(b"functions");
        out.array(lib.functions.len());
        for f in lib.functions.values() {
            out.map(3);
            out.bulk(b"name");
            out.bulk(f.name.as_bytes());
            out.bulk(b"description");
            match &f.description {
                Some(d) => out.bulk(d),
                None => out.null(),
            }
            out.bulk(b"flags");
            let names: Vec<&str> = ScriptFlags::NAMES
                .iter()
                .filter(|(_, fl)| f.flags.has(*fl))
                .map(|(n, _)| *n)
                .collect();
            out.set(names.len());
            for n in names {
                out.simple(n.as_bytes());
            }
        }
        if with_code {
            out.bulk(b"library_code");
            out.bulk(&lib.code);
        }
    }
    Ok(())
}

fn function_stats(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let scripting = &ctx.engine.scripting;
    let r = &scripting.running;
    let active = r.active.load(Ordering::Acquire);
    if active && r.eval.load(Ordering::Acquire) {
        return Err(CmdError::Raw(
            "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.".into(),
        ));
    }
    let (nlibs, nfuncs) = scripting.functions.counts();
    let out = &mut *ctx.out;
    out.map(2);
    out.bulk(b"running_script");
    let info = r.info.lock().clone();
    match (active, info) {
        (
            true,
            Some(super::BusyInfo {
                started: t,
                name,
                command: cmd,
            }),
        ) => {
            out.map(3);
            out.bulk(b"name");
            out.bulk(name.as_bytes());
            out.bulk(b"command");
            out.array(cmd.len());
            for a in &cmd {
                out.bulk(a);
            }
            out.bulk(b"duration_ms");
            out.int(t.elapsed().as_millis() as i64);
        }
        _ => out.null(),
    }
    out.bulk(b"engines");
    out.map(1);
    out.bulk(b"LUA");
    out.map(2);
    out.bulk(b"libraries_count");
    out.int(nlibs as i64);
    out.bulk(b"functions_count");
    out.int(nfuncs as i64);
    Ok(())
}

fn function_kill(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.engine.scripting.kill(false).map_err(CmdError::Raw)?;
    ctx.out.ok();
    Ok(())
}

const HELP: &[&str] = &[
    "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "LOAD [REPLACE] <FUNCTION CODE>",
    "    Create a new library with the given library name and code.",
    "DELETE <LIBRARY NAME>",
    "    Delete the given library.",
    "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
    "    Return general information on all the libraries:",
    "    * Library name",
    "    * The engine used to run the Library",
    "    * Library description",
    "    * Functions list",
    "    * Library code (if WITHCODE is given)",
    "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
    "STATS",
    "    Return information about the current function running:",
    "    * Function name",
    "    * Command used to run the function",
    "    * Duration in MS that the function is running",
    "    If no function is running, return nil",
    "    In addition, returns a list of available engines.",
    "KILL",
    "    Kill the current running function.",
    "FLUSH [ASYNC|SYNC]",
    "    Delete all the libraries.",
    "    When called without the optional mode argument, the behavior is determined by the",
    "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
    "    * ASYNC: Asynchronously flush the libraries.",
    "    * SYNC: Synchronously flush the libraries.",
    "DUMP",
    "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
    "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
    "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
    "    control how to handle existing libraries (default APPEND):",
    "    * FLUSH: delete all existing libraries.",
    "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
    "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
    "      libraries with the new libraries (notice that even on this option there is a chance of failure",
    "      in case of functions name collision with another library).",
    "HELP",
    "    Prints this help.",
];

fn function_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
