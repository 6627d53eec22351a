//! The four C libraries Redis 7.0 links into its Lua 5.1 (`cjson`, `cmsgpack`, `bit`,
//! `struct`), rewritten in Rust on top of mlua with the same names, output bytes and
//! error texts.
//!
//! Errors are the delicate part. Redis's libraries raise plain strings with
//! `luaL_error`/`luaL_argerror` from a C function called straight by the script, and
//! Redis's error handler relies on that shape (a C frame at level 2, the script's line
//! at level 3). An mlua callback can only raise a userdata error, so every library
//! function is split in two: a Rust "core" that reports failure as ordinary return
//! values, and a tiny C trampoline (the function scripts actually see) that calls the
//! core and turns those values into a real Lua error from its own C frame. The
//! trampoline also gets `luaL_argerror`'s "bad argument #n to 'name'" naming for free,
//! since Lua looks the name up from the trampoline's call site.

use std::ffi::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Value};

mod bit;
mod cjson;
mod cmsgpack;
pub(crate) mod numfmt;
mod structlib;

#[cfg(test)]
mod tests;

/// Creates the globals `bit`, `cjson`, `cmsgpack` and `struct` as Redis 7.0 does.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("bit", bit::open(lua)?)?;
    globals.set("cjson", cjson::open(lua)?)?;
    globals.set("cmsgpack", cmsgpack::open(lua)?)?;
    globals.set("struct", structlib::open(lua)?)?;
    Ok(())
}

/// Why a library call failed, in the two shapes the C libraries use.
#[derive(Debug)]
pub(crate) enum Fail {
    /// `luaL_error`: the message, after the calling script's position if any.
    Error(String),
    /// An error Lua itself raises inside the C function (e.g. "table index is nil"):
    /// no position prefix, since the running function is C.
    Plain(String),
    /// `luaL_argerror`: "bad argument #n to 'f' (msg)", the name found by Lua.
    Arg(i32, String),
    /// Anything mlua itself reported (memory, a metamethod's error); re-raised as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for Fail {
    fn from(e: mlua::Error) -> Self {
        Fail::Lua(e)
    }
}

pub(crate) type LibResult<T> = Result<T, Fail>;

/// The C function scripts call: runs the core (upvalue 1) on all arguments; the core
/// answers `true, results...` on success (or a table of them and their count),
/// `nil, msg` for an error without position, `false, msg` for `luaL_error`, or
/// `n, msg` for `luaL_argerror`.
unsafe extern "C-unwind" fn trampoline(l: *mut ffi::lua_State) -> c_int {
    // SAFETY: called by Lua as a C closure created in `lib_function` with the core as
    // upvalue 1 and a spare slot as upvalue 2. No Rust value with a destructor lives in this frame, so the
    // longjmp of `lua_error`/`luaL_argerror` skips nothing that needs dropping.
    unsafe {
        let nargs = ffi::lua_gettop(l);
        ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
        ffi::lua_insert(l, 1);
        ffi::lua_call(l, nargs, ffi::LUA_MULTRET);
        match ffi::lua_type(l, 1) {
            ffi::LUA_TTABLE => {
                // Too many results for mlua to return directly: spread them here. The
                // table waits in upvalue 2 so that all of the C stack's slots are free
                // for results, as they are for the C library.
                let n = ffi::lua_tointeger(l, 2) as c_int;
                ffi::lua_settop(l, 1);
                ffi::lua_replace(l, ffi::lua_upvalueindex(2));
                // The plain C check (mlua's `luaL_checkstack` asks for 20 more slots).
                ffi::luaL_checkstack_(l, n, c"too many results".as_ptr());
                for i in 1..=n {
                    ffi::lua_rawgeti(l, ffi::lua_upvalueindex(2), i as _);
                }
                if ffi::lua_checkstack(l, 1) != 0 {
                    ffi::lua_pushnil(l);
                    ffi::lua_replace(l, ffi::lua_upvalueindex(2));
                }
                n
            }
            ffi::LUA_TBOOLEAN if ffi::lua_toboolean(l, 1) != 0 => {
                ffi::lua_remove(l, 1);
                ffi::lua_gettop(l)
            }
            ffi::LUA_TNUMBER => {
                let narg = ffi::lua_tointeger(l, 1) as c_int;
                let msg = ffi::lua_tolstring(l, 2, std::ptr::null_mut());
                ffi::luaL_argerror(l, narg, msg)
            }
            ffi::LUA_TNIL => {
                ffi::lua_settop(l, 2);
                ffi::lua_error(l)
            }
            _ => {
                // luaL_error's prefix: where the caller of this C function is, which is
                // "" when that caller is C (pcall) and "user_script:1: " from a script.
                ffi::lua_settop(l, 2);
                ffi::luaL_where(l, 1);
                ffi::lua_insert(l, 2);
                ffi::lua_concat(l, 2);
                ffi::lua_error(l)
            }
        }
    }
}

/// Beyond this many results the core's answer travels as a table that the trampoline
/// spreads: mlua's own stack checks would refuse the thousands `struct.unpack` may give.
const SPREAD_ABOVE: usize = 64;

/// Wraps a Rust core into the function scripts see (see the module comment).
pub(crate) fn lib_function<F>(lua: &Lua, core: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, MultiValue) -> LibResult<MultiValue> + 'static,
{
    let core = lua.create_function(move |lua, args: MultiValue| match core(lua, args) {
        Ok(mut values) if values.len() <= SPREAD_ABOVE => {
            values.push_front(Value::Boolean(true));
            Ok(values)
        }
        Ok(values) => {
            let n = values.len();
            let spread = lua.create_table_with_capacity(n, 0)?;
            for (i, v) in values.into_iter().enumerate() {
                spread.raw_set(i + 1, v)?;
            }
            Ok(MultiValue::from_iter([
                Value::Table(spread),
                Value::Number(n as f64),
            ]))
        }
        Err(Fail::Error(msg)) => Ok(MultiValue::from_iter([
            Value::Boolean(false),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Fail::Plain(msg)) => Ok(MultiValue::from_iter([
            Value::Nil,
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Fail::Arg(n, msg)) => Ok(MultiValue::from_iter([
            Value::Number(f64::from(n)),
            Value::String(lua.create_string(msg)?),
        ])),
        Err(Fail::Lua(e)) => Err(e),
    })?;
    // SAFETY: the closure only pops the core and the spare upvalue we pushed and
    // pushes one C closure.
    unsafe {
        lua.exec_raw::<Function>((core, Value::Nil), |l| {
            ffi::lua_pushcclosure(l, trampoline, 2);
        })
    }
}

/// The value at 1-based argument `n`, `None` when the call has fewer (Lua's "none").
pub(crate) fn arg(args: &MultiValue, n: usize) -> Option<&Value> {
    args.get(n - 1)
}

/// `luaL_typename`, including "no value" for a missing argument.
pub(crate) fn type_name(v: Option<&Value>) -> &'static str {
    match v {
        None => "no value",
        Some(Value::Nil) => "nil",
        Some(Value::Boolean(_)) => "boolean",
        Some(Value::LightUserData(_)) | Some(Value::UserData(_)) => "userdata",
        Some(Value::Integer(_)) | Some(Value::Number(_)) => "number",
        Some(Value::String(_)) => "string",
        Some(Value::Table(_)) => "table",
        Some(Value::Function(_)) => "function",
        Some(Value::Thread(_)) => "thread",
        Some(_) => "userdata",
    }
}

/// `luaL_typerror`'s argument error.
pub(crate) fn type_error(n: usize, expected: &str, got: Option<&Value>) -> Fail {
    Fail::Arg(
        n as i32,
        format!("{expected} expected, got {}", type_name(got)),
    )
}

/// A number value as Lua 5.1 sees it (mlua hands integral numbers over as integers).
pub(crate) fn as_number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => Some(*n),
        Value::Integer(i) => Some(*i as f64),
        _ => None,
    }
}

/// `lua_tonumber`: numbers, and strings Lua can convert.
pub(crate) fn to_number(lua: &Lua, v: Option<&Value>) -> LibResult<Option<f64>> {
    match v {
        None => Ok(None),
        Some(v) => match as_number(v) {
            Some(n) => Ok(Some(n)),
            None if matches!(v, Value::String(_)) => Ok(lua.coerce_number(v.clone())?),
            None => Ok(None),
        },
    }
}

/// `luaL_checknumber`.
pub(crate) fn check_number(lua: &Lua, args: &MultiValue, n: usize) -> LibResult<f64> {
    let v = arg(args, n);
    to_number(lua, v)?.ok_or_else(|| type_error(n, "number", v))
}

/// `luaL_checklstring`: strings, and numbers formatted the way Lua does.
pub(crate) fn check_bytes(lua: &Lua, args: &MultiValue, n: usize) -> LibResult<Vec<u8>> {
    let v = arg(args, n);
    match v {
        Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
        Some(v @ (Value::Integer(_) | Value::Number(_))) => match lua.coerce_string(v.clone())? {
            Some(s) => Ok(s.as_bytes().to_vec()),
            None => Err(type_error(n, "string", Some(v))),
        },
        _ => Err(type_error(n, "string", v)),
    }
}

/// `luaL_optinteger`: nil or none give the default.
pub(crate) fn opt_integer(lua: &Lua, args: &MultiValue, n: usize, default: i64) -> LibResult<i64> {
    match arg(args, n) {
        None | Some(Value::Nil) => Ok(default),
        _ => Ok(double_to_i64(check_number(lua, args, n)?)),
    }
}

/// C's `(int64_t)d` as x86-64 computes it: truncation, and the "integer indefinite"
/// value `i64::MIN` for NaN and anything out of range (Rust's `as` would saturate).
pub(crate) fn double_to_i64(d: f64) -> i64 {
    // 2^63: the first double past i64's range, and -2^63 the last one inside it.
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d.is_nan() || !(-TWO_63..TWO_63).contains(&d) {
        i64::MIN
    } else {
        d as i64
    }
}

/// C's `(int)d` on x86-64 (`cvttsd2si` into 32 bits): `i32::MIN` when out of range.
pub(crate) fn double_to_i32(d: f64) -> i32 {
    if d.is_nan() || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 {
        i32::MIN
    } else {
        d as i32
    }
}

/// A one-result return.
pub(crate) fn one(v: Value) -> MultiValue {
    MultiValue::from_iter([v])
}

/// Builds a Lua string value.
pub(crate) fn string_value(lua: &Lua, bytes: impl AsRef<[u8]>) -> LibResult<Value> {
    Ok(Value::String(lua.create_string(bytes)?))
}
