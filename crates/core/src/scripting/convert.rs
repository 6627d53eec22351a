//! Conversions between command replies and Lua values, exactly as Redis 7.0 makes
//! them.
//!
//! Reply to Lua (what `redis.call` returns): integer -> number, bulk -> string,
//! null bulk / null array -> false, status -> `{ok=s}`, error -> `{err=s}`, array
//! -> table; in RESP3 also null -> nil, boolean -> boolean, double ->
//! `{double=n}`, map -> `{map={...}}`, set -> `{set={k=true}}`, big number ->
//! `{big_number=s}`, verbatim -> `{verbatim_string={format=f, string=s}}`,
//! attributes skipped.
//!
//! Lua to reply (what a script returns): string -> bulk, number -> integer
//! (truncated), boolean -> 1/null in RESP2 scripts, a boolean in RESP3 ones, table
//! -> error / status / double / big number / verbatim / map / set when it has that
//! field, else an array cut at the first nil; anything else -> null.

use std::ffi::{c_char, c_int};

use ferrokv_resp::ReplyBuf;
use mlua::ffi;

use super::vm::bytes_at;

type L = *mut ffi::lua_State;

/// `%.17g`, as Redis formats numbers passed to redis.call.
pub(crate) fn format_g17(v: f64) -> String {
    // Integers (what scripts pass almost always) print as themselves under %.17g
    // up to 17 digits; exact float formatting is slow, so it is kept for the rest.
    if v.fract() == 0.0 && v.abs() < 1e17 && !(v == 0.0 && v.is_sign_negative()) {
        return itoa::Buffer::new().format(v as i64).to_string();
    }
    if v.is_nan() {
        return if v.is_sign_negative() { "-nan" } else { "nan" }.into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "inf" } else { "-inf" }.into();
    }
    if v == 0.0 {
        return if v.is_sign_negative() { "-0" } else { "0" }.into();
    }
    // %g: scientific when the exponent is < -4 or >= the precision.
    let exp = v.abs().log10().floor() as i32;
    let sci = format!("{:.16e}", v);
    let (mantissa, e) = sci.split_once('e').unwrap_or((&sci, "0"));
    let e: i32 = e.parse().unwrap_or(exp);
    if !(-4..17).contains(&e) {
        let m = trim_zeros(mantissa);
        let sign = if e < 0 { '-' } else { '+' };
        format!("{m}e{sign}{:02}", e.abs())
    } else {
        let decimals = (16 - e).max(0) as usize;
        let s = format!("{:.*}", decimals, v);
        trim_zeros(&s).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// A cursor over a well-formed reply (one our own encoder wrote).
struct Cursor<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn line(&mut self) -> &'a [u8] {
        let start = self.pos;
        let rel = self.b[start..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .unwrap_or(self.b.len() - start);
        self.pos = (start + rel + 2).min(self.b.len());
        &self.b[start..start + rel]
    }

    fn int(&mut self) -> i64 {
        let l = self.line();
        std::str::from_utf8(l)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    fn take(&mut self, n: usize) -> &'a [u8] {
        let start = self.pos.min(self.b.len());
        let end = (start + n).min(self.b.len());
        self.pos = (end + 2).min(self.b.len());
        &self.b[start..end]
    }
}

unsafe fn push_bytes(l: L, b: &[u8]) {
    // SAFETY: valid state.
    unsafe { ffi::lua_pushlstring(l, b.as_ptr() as *const c_char, b.len()) };
}

/// Pushes `{name = s}` (status replies, big numbers).
unsafe fn push_field_table(l: L, name: &std::ffi::CStr, s: &[u8]) {
    // SAFETY: valid state.
    unsafe {
        ffi::lua_newtable(l);
        push_bytes(l, s);
        ffi::lua_setfield(l, -2, name.as_ptr());
    }
}

/// Pushes the Lua form of the reply in `bytes` (one value).
pub(crate) unsafe fn push_reply(l: L, bytes: &[u8]) {
    let mut c = Cursor { b: bytes, pos: 0 };
    // SAFETY: valid state.
    unsafe { push_value(l, &mut c, true) };
}

/// Reads one value; pushes it when `push` (attributes are read and dropped).
unsafe fn push_value(l: L, c: &mut Cursor<'_>, push: bool) {
    // SAFETY: valid state; every branch pushes exactly one value when `push`.
    unsafe {
        if c.pos >= c.b.len() {
            if push {
                ffi::lua_pushnil(l);
            }
            return;
        }
        let kind = c.b[c.pos];
        c.pos += 1;
        ffi::lua_checkstack(l, 4);
        match kind {
            b':' => {
                let v = c.int();
                if push {
                    ffi::lua_pushnumber(l, v as f64);
                }
            }
            b'$' => {
                let n = c.int();
                if n < 0 {
                    if push {
                        ffi::lua_pushboolean(l, 0);
                    }
                } else {
                    let data = c.take(n as usize);
                    if push {
                        push_bytes(l, data);
                    }
                }
            }
            b'+' => {
                let s = c.line();
                if push {
                    push_field_table(l, c"ok", s);
                }
            }
            b'-' => {
                let s = c.line();
                if push {
                    let text = format!("-{}", String::from_utf8_lossy(s));
                    super::api::push_error(l, &text);
                    super::api::mark_counted(l);
                }
            }
            // Push data is not a command reply; it reads as an array.
            b'*' | b'>' => {
                let n = c.int();
                if n < 0 {
                    if push {
                        ffi::lua_pushboolean(l, 0);
                    }
                } else {
                    if push {
                        ffi::lua_createtable(l, n as c_int, 0);
                    }
                    for j in 0..n {
                        push_value(l, c, push);
                        if push {
                            ffi::lua_rawseti(l, -2, (j + 1) as ffi::lua_Integer);
                        }
                    }
                }
            }
            b'%' => {
                let n = c.int();
                if push {
                    ffi::lua_newtable(l);
                    ffi::lua_newtable(l);
                }
                for _ in 0..n {
                    push_value(l, c, push);
                    push_value(l, c, push);
                    if push {
                        ffi::lua_settable(l, -3);
                    }
                }
                if push {
                    ffi::lua_setfield(l, -2, c"map".as_ptr());
                }
            }
            b'~' => {
                let n = c.int();
                if push {
                    ffi::lua_newtable(l);
                    ffi::lua_newtable(l);
                }
                for _ in 0..n {
                    push_value(l, c, push);
                    if push {
                        ffi::lua_pushboolean(l, 1);
                        ffi::lua_settable(l, -3);
                    }
                }
                if push {
                    ffi::lua_setfield(l, -2, c"set".as_ptr());
                }
            }
            b'|' => {
                let n = c.int();
                for _ in 0..n {
                    push_value(l, c, false);
                    push_value(l, c, false);
                }
                push_value(l, c, push);
            }
            b'_' => {
                c.line();
                if push {
                    ffi::lua_pushnil(l);
                }
            }
            b'#' => {
                let v = c.line() == b"t";
                if push {
                    ffi::lua_pushboolean(l, v as c_int);
                }
            }
            b',' => {
                let s = c.line();
                if push {
                    let v = parse_double(s);
                    ffi::lua_newtable(l);
                    ffi::lua_pushnumber(l, v);
                    ffi::lua_setfield(l, -2, c"double".as_ptr());
                }
            }
            b'(' => {
                let s = c.line();
                if push {
                    push_field_table(l, c"big_number", s);
                }
            }
            b'=' => {
                let n = c.int();
                let data = c.take(n.max(0) as usize);
                if push {
                    let (format, text) = if data.len() >= 4 {
                        (&data[..3], &data[4..])
                    } else {
                        (&b"txt"[..], data)
                    };
                    ffi::lua_newtable(l);
                    ffi::lua_newtable(l);
                    push_bytes(l, text);
                    ffi::lua_setfield(l, -2, c"string".as_ptr());
                    push_bytes(l, format);
                    ffi::lua_setfield(l, -2, c"format".as_ptr());
                    ffi::lua_setfield(l, -2, c"verbatim_string".as_ptr());
                }
            }
            _ => {
                c.line();
                if push {
                    ffi::lua_pushnil(l);
                }
            }
        }
    }
}

fn parse_double(s: &[u8]) -> f64 {
    match s {
        b"inf" => f64::INFINITY,
        b"-inf" => f64::NEG_INFINITY,
        b"nan" => f64::NAN,
        _ => std::str::from_utf8(s)
            .ok()
            .and_then(|t| t.parse().ok())
            .unwrap_or(0.0),
    }
}

/// C's `(long long)` cast of a double as x86-64 does it: out of range (and NaN)
/// gives the minimum.
pub(crate) fn double_to_ll(v: f64) -> i64 {
    if v.is_nan() || !(-9.223_372_036_854_776e18..9.223_372_036_854_776e18).contains(&v) {
        i64::MIN
    } else {
        v as i64
    }
}

/// A raw field of the table at `idx` (no metamethods), pushed.
unsafe fn raw_field(l: L, idx: c_int, name: &std::ffi::CStr) -> c_int {
    // SAFETY: a table at `idx`.
    unsafe {
        ffi::lua_pushstring(l, name.as_ptr());
        ffi::lua_rawget(l, if idx < 0 { idx - 1 } else { idx });
        ffi::lua_type(l, -1)
    }
}

/// What the script's error table says: the reply text, and whether it was
/// already counted in the error statistics.
pub(crate) struct ErrorInfo {
    pub msg: Option<String>,
    pub source: Option<String>,
    pub line: Option<String>,
    pub counted: bool,
}

/// Redis's luaExtractErrorInformation for the value on top of the stack.
pub(crate) unsafe fn error_info(l: L) -> ErrorInfo {
    // SAFETY: valid state; balanced stack.
    unsafe {
        let mut info = ErrorInfo {
            msg: None,
            source: None,
            line: None,
            counted: false,
        };
        if ffi::lua_isstring(l, -1) != 0 {
            info.msg = Some(format!("ERR {}", super::vm::to_string_lossy(l, -1)));
        }
        if ffi::lua_istable(l, -1) == 0 {
            return info;
        }
        let text = |l: L| {
            if ffi::lua_isstring(l, -1) != 0 {
                Some(super::vm::to_string_lossy(l, -1))
            } else {
                None
            }
        };
        ffi::lua_getfield(l, -1, c"err".as_ptr());
        if let Some(t) = text(l) {
            info.msg = Some(t);
        }
        ffi::lua_pop(l, 1);
        ffi::lua_getfield(l, -1, c"source".as_ptr());
        info.source = text(l);
        ffi::lua_pop(l, 1);
        ffi::lua_getfield(l, -1, c"line".as_ptr());
        info.line = text(l);
        ffi::lua_pop(l, 1);
        ffi::lua_getfield(l, -1, c"ignore_error_stats_update".as_ptr());
        if ffi::lua_type(l, -1) == ffi::LUA_TBOOLEAN {
            info.counted = ffi::lua_toboolean(l, -1) != 0;
        }
        ffi::lua_pop(l, 1);
        info
    }
}

/// What converting a script's result wrote.
pub(crate) struct Written {
    /// Error replies written, with whether each was counted already.
    pub errors: Vec<(String, bool)>,
}

/// Writes the value on top of the stack as a reply (consuming it). `resp3_script`:
/// the script switched to RESP3 (booleans stay booleans).
pub(crate) unsafe fn write_reply(l: L, out: &mut ReplyBuf, resp3_script: bool, w: &mut Written) {
    // SAFETY: valid state; consumes exactly the top value.
    unsafe {
        if ffi::lua_checkstack(l, 4) == 0 {
            out.error("ERR reached lua stack limit");
            ffi::lua_pop(l, 1);
            return;
        }
        match ffi::lua_type(l, -1) {
            ffi::LUA_TSTRING => out.bulk(bytes_at(l, -1).unwrap_or_default()),
            ffi::LUA_TBOOLEAN => {
                let b = ffi::lua_toboolean(l, -1) != 0;
                if resp3_script {
                    out.boolean(b);
                } else if b {
                    out.int(1);
                } else {
                    out.null();
                }
            }
            ffi::LUA_TNUMBER => out.int(double_to_ll(ffi::lua_tonumber(l, -1))),
            ffi::LUA_TTABLE => {
                write_table(l, out, resp3_script, w);
                return;
            }
            _ => out.null(),
        }
        ffi::lua_pop(l, 1);
    }
}

unsafe fn write_table(l: L, out: &mut ReplyBuf, resp3_script: bool, w: &mut Written) {
    // SAFETY: a table on top; consumes it.
    unsafe {
        if raw_field(l, -1, c"err") == ffi::LUA_TSTRING {
            ffi::lua_pop(l, 1);
            let info = error_info(l);
            let msg = info.msg.unwrap_or_default();
            out.error(&msg);
            w.errors.push((msg, info.counted));
            ffi::lua_pop(l, 1);
            return;
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"ok") == ffi::LUA_TSTRING {
            let s = bytes_at(l, -1).unwrap_or_default().to_vec();
            out.simple(&s);
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"double") == ffi::LUA_TNUMBER {
            out.double(ffi::lua_tonumber(l, -1));
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"big_number") == ffi::LUA_TSTRING {
            let s: Vec<u8> = bytes_at(l, -1)
                .unwrap_or_default()
                .iter()
                .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c })
                .collect();
            out.big_number(&s);
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"verbatim_string") == ffi::LUA_TTABLE {
            if raw_field(l, -1, c"format") == ffi::LUA_TSTRING {
                let format = bytes_at(l, -1).unwrap_or_default().to_vec();
                if raw_field(l, -2, c"string") == ffi::LUA_TSTRING {
                    let s = bytes_at(l, -1).unwrap_or_default().to_vec();
                    let mut f = [b' '; 3];
                    for (i, b) in format.iter().take(3).enumerate() {
                        f[i] = *b;
                    }
                    out.verbatim(&f, &s);
                    ffi::lua_pop(l, 4);
                    return;
                }
                ffi::lua_pop(l, 1);
            }
            ffi::lua_pop(l, 1);
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"map") == ffi::LUA_TTABLE {
            let d = out.deferred();
            let mut n = 0;
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                ffi::lua_pushvalue(l, -2);
                write_reply(l, out, resp3_script, w);
                write_reply(l, out, resp3_script, w);
                n += 1;
            }
            out.finish_map(d, n);
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        if raw_field(l, -1, c"set") == ffi::LUA_TTABLE {
            let d = out.deferred();
            let mut n = 0;
            ffi::lua_pushnil(l);
            while ffi::lua_next(l, -2) != 0 {
                ffi::lua_pop(l, 1);
                ffi::lua_pushvalue(l, -1);
                write_reply(l, out, resp3_script, w);
                n += 1;
            }
            out.finish_set(d, n);
            ffi::lua_pop(l, 2);
            return;
        }
        ffi::lua_pop(l, 1);
        let d = out.deferred();
        let mut n = 0;
        let mut j = 1;
        loop {
            ffi::lua_rawgeti(l, -1, j);
            j += 1;
            if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
                ffi::lua_pop(l, 1);
                break;
            }
            write_reply(l, out, resp3_script, w);
            n += 1;
        }
        out.finish_array(d, n);
        ffi::lua_pop(l, 1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(clippy::approx_constant)] // 3.14 is a printf case, not pi
    fn numbers_format_as_printf_g17() {
        for (v, s) in [
            (1.0, "1"),
            (-3.0, "-3"),
            (0.1, "0.10000000000000001"),
            (1e17, "1e+17"),
            (1e16, "10000000000000000"),
            (99999999999999984.0, "99999999999999984"),
            (-0.0, "-0"),
            (12345.0, "12345"),
            (123456789012.5, "123456789012.5"),
            (1e-5, "1.0000000000000001e-05"),
            (0.0001, "0.0001"),
            (2.5, "2.5"),
            (0.3, "0.29999999999999999"),
            (f64::INFINITY, "inf"),
        ] {
            assert_eq!(format_g17(v), s, "{v}");
        }
    }

    #[test]
    fn doubles_cast_like_c() {
        assert_eq!(double_to_ll(3.9), 3);
        assert_eq!(double_to_ll(-3.9), -3);
        assert_eq!(double_to_ll(f64::NAN), i64::MIN);
        assert_eq!(double_to_ll(1e30), i64::MIN);
    }
}
