//! Lua CJSON 2.1.0 (`cjson.*`) as Redis 7.0 builds it: `%.14g` numbers, "/" escaped,
//! sparse-array and depth rules, strtod's lenient number parsing, and the library's
//! error texts. Each module table (the global, and every `cjson.new()`) has its own
//! configuration, shared by its functions.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{Function, LightUserData, Lua, MultiValue, Table, Value};

use super::numfmt::{fmt_g, strtod};
use super::{
    arg, check_bytes, double_to_i32, double_to_i64, lib_function, one, string_value, to_number,
    type_error, Fail, LibResult,
};

/// Lua 5.1's LUAI_MAXCSTACK: the C library also stops when its Lua stack would pass it.
const MAX_C_STACK: usize = 8000;
/// Our own nesting ceiling, only reachable after raising `encode_max_depth` or
/// `decode_max_depth` past 2000: each open level holds mlua references (a table and a
/// key), and mlua cannot hold more than about 8000 at once. Past it we report the
/// library's usual nesting error where Redis would go on to its ~4000-8000 limit.
const MAX_SUPPORTED_DEPTH: i32 = 2000;

struct Config {
    sparse_convert: bool,
    sparse_ratio: i32,
    sparse_safe: i32,
    encode_max_depth: i32,
    /// 0 refuse, 1 allow ("nan", "inf"), 2 write null.
    encode_invalid_numbers: usize,
    encode_number_precision: i32,
    encode_keep_buffer: bool,
    decode_invalid_numbers: bool,
    decode_max_depth: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sparse_convert: false,
            sparse_ratio: 2,
            sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
            decode_max_depth: 1000,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

pub(super) fn open(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Rc::default();
    let t = lua.create_table()?;
    let c = cfg.clone();
    let next: Function = lua.globals().get("next")?;
    t.set(
        "encode",
        lib_function(lua, move |lua, a| encode(lua, &c.borrow(), &next, &a))?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        lib_function(lua, move |lua, a| decode(lua, &c.borrow(), &a))?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        lib_function(lua, move |lua, a| {
            check_arg_count(&a, 3)?;
            let mut cfg = c.borrow_mut();
            let convert = bool_option(lua, &a, 1, &mut cfg.sparse_convert)?;
            let ratio = int_option(lua, &a, 2, &mut cfg.sparse_ratio, 0, i32::MAX)?;
            let safe = int_option(lua, &a, 3, &mut cfg.sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_iter([convert, ratio, safe]))
        })?,
    )?;
    type IntField = fn(&mut Config) -> &mut i32;
    let int_settings: [(&str, IntField, i32); 3] = [
        ("encode_max_depth", |c| &mut c.encode_max_depth, 1),
        ("decode_max_depth", |c| &mut c.decode_max_depth, 1),
        (
            "encode_number_precision",
            |c| &mut c.encode_number_precision,
            1,
        ),
    ];
    for (name, field, min) in int_settings {
        let max = if name == "encode_number_precision" {
            14
        } else {
            i32::MAX
        };
        let c = cfg.clone();
        let f = lib_function(lua, move |lua, a| {
            check_arg_count(&a, 1)?;
            Ok(one(int_option(
                lua,
                &a,
                1,
                field(&mut c.borrow_mut()),
                min,
                max,
            )?))
        })?;
        t.set(name, f)?;
    }
    let c = cfg.clone();
    t.set(
        "encode_keep_buffer",
        lib_function(lua, move |lua, a| {
            check_arg_count(&a, 1)?;
            Ok(one(bool_option(
                lua,
                &a,
                1,
                &mut c.borrow_mut().encode_keep_buffer,
            )?))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_invalid_numbers",
        lib_function(lua, move |lua, a| {
            check_arg_count(&a, 1)?;
            let mut cfg = c.borrow_mut();
            Ok(one(enum_option(
                lua,
                &a,
                1,
                &mut cfg.encode_invalid_numbers,
                &["off", "on", "null"],
            )?))
        })?,
    )?;
    let c = cfg;
    t.set(
        "decode_invalid_numbers",
        lib_function(lua, move |lua, a| {
            check_arg_count(&a, 1)?;
            Ok(one(bool_option(
                lua,
                &a,
                1,
                &mut c.borrow_mut().decode_invalid_numbers,
            )?))
        })?,
    )?;
    t.set(
        "new",
        lib_function(lua, |lua, _| Ok(one(Value::Table(open(lua)?))))?,
    )?;
    t.set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ----- configuration functions -----

fn check_arg_count(args: &MultiValue, max: usize) -> LibResult<()> {
    if args.len() > max {
        return Err(Fail::Arg(max as i32 + 1, "found too many arguments".into()));
    }
    Ok(())
}

fn is_nil(v: Option<&Value>) -> bool {
    matches!(v, None | Some(Value::Nil))
}

/// An integer setting: nil leaves it, anything else must be a number in range (the
/// range error always names argument 1, as the C code does).
fn int_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    let v = arg(args, n);
    if !is_nil(v) {
        let x = to_number(lua, v)?.ok_or_else(|| type_error(n, "number", v))?;
        let value = double_to_i64(x) as i32;
        if !(min <= value && value <= max) {
            return Err(Fail::Arg(
                1,
                format!("expected integer between {min} and {max}"),
            ));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

fn bool_option(lua: &Lua, args: &MultiValue, n: usize, setting: &mut bool) -> LibResult<Value> {
    let mut index = usize::from(*setting);
    let v = enum_option(lua, args, n, &mut index, &["off", "on"])?;
    *setting = index == 1;
    Ok(v)
}

/// An option taking `true`/`false` or one of `names`; answers a boolean while the
/// setting is off/on and the name otherwise (only "null" for invalid numbers).
fn enum_option(
    lua: &Lua,
    args: &MultiValue,
    n: usize,
    setting: &mut usize,
    names: &[&str],
) -> LibResult<Value> {
    match arg(args, n) {
        None | Some(Value::Nil) => {}
        Some(Value::Boolean(b)) => *setting = usize::from(*b),
        Some(_) => {
            let name = check_bytes(lua, args, n)?;
            match names.iter().position(|o| o.as_bytes() == name.as_slice()) {
                Some(i) => *setting = i,
                None => {
                    let name = String::from_utf8_lossy(&name).into_owned();
                    return Err(Fail::Arg(n as i32, format!("invalid option '{name}'")));
                }
            }
        }
    }
    Ok(if *setting <= 1 {
        Value::Boolean(*setting == 1)
    } else {
        string_value(lua, names[*setting])?
    })
}

// ----- encoding -----

fn encode(lua: &Lua, cfg: &Config, next: &Function, args: &MultiValue) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(Fail::Arg(1, "expected 1 argument".into()));
    }
    let mut out = Vec::new();
    let value = arg(args, 1).cloned().unwrap_or(Value::Nil);
    Encoder { cfg, next }.run(&mut out, value)?;
    Ok(one(string_value(lua, &out)?))
}

struct Encoder<'a> {
    cfg: &'a Config,
    /// Lua's raw `next`, to walk objects one key at a time without recursion.
    next: &'a Function,
}

/// A table being written. The walk keeps these on a heap stack instead of recursing,
/// so deep nesting costs no native stack.
enum Open {
    Array { t: Table, len: i32, next: i32 },
    Object { t: Table, key: Value },
}

impl Open {
    /// Lua stack slots the C library holds for this level (value; or key and value).
    fn slots(&self) -> usize {
        match self {
            Open::Array { .. } => 1,
            Open::Object { .. } => 2,
        }
    }
}

fn cannot(type_name: &str, reason: &str) -> Fail {
    Fail::Error(format!("Cannot serialise {type_name}: {reason}"))
}

impl Encoder<'_> {
    fn run(&self, out: &mut Vec<u8>, root: Value) -> LibResult<()> {
        let mut stack: Vec<Open> = Vec::new();
        // The C library's own Lua stack use: its argument plus each open level.
        let mut used = 1;
        if let Some(open) = self.value(out, root, 0, used)? {
            used += open.slots();
            stack.push(open);
        }
        while let Some(top) = stack.last_mut() {
            let child = match top {
                Open::Array { t, len, next } => {
                    if *next > *len {
                        out.push(b']');
                        None
                    } else {
                        if *next > 1 {
                            out.push(b',');
                        }
                        let v: Value = t.raw_get(*next)?;
                        *next += 1;
                        Some(v)
                    }
                }
                Open::Object { t, key } => {
                    let had_key = !key.is_nil();
                    let (k, v): (Value, Value) = self.next.call((t.clone(), key.clone()))?;
                    if k.is_nil() {
                        out.push(b'}');
                        None
                    } else {
                        if had_key {
                            out.push(b',');
                        }
                        self.key(out, &k)?;
                        *key = k;
                        Some(v)
                    }
                }
            };
            match child {
                None => {
                    if let Some(done) = stack.pop() {
                        used -= done.slots();
                    }
                }
                Some(v) => {
                    if let Some(open) = self.value(out, v, stack.len() as i32, used)? {
                        used += open.slots();
                        stack.push(open);
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes a scalar, or opens a table (writing its bracket) for the caller to walk.
    fn value(
        &self,
        out: &mut Vec<u8>,
        v: Value,
        depth: i32,
        used: usize,
    ) -> LibResult<Option<Open>> {
        match v {
            Value::String(s) => append_string(out, &s.as_bytes()),
            Value::Integer(i) => self.number(out, i as f64)?,
            Value::Number(n) => self.number(out, n)?,
            Value::Boolean(true) => out.extend_from_slice(b"true"),
            Value::Boolean(false) => out.extend_from_slice(b"false"),
            Value::Nil => out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
            Value::Table(t) => {
                let depth = depth + 1;
                if depth > self.cfg.encode_max_depth
                    || used + 3 > MAX_C_STACK
                    || depth > MAX_SUPPORTED_DEPTH
                {
                    return Err(Fail::Error(format!(
                        "Cannot serialise, excessive nesting ({depth})"
                    )));
                }
                return Ok(Some(match self.array_length(&t)? {
                    Some(len) if len > 0 => {
                        out.push(b'[');
                        Open::Array { t, len, next: 1 }
                    }
                    _ => {
                        out.push(b'{');
                        Open::Object { t, key: Value::Nil }
                    }
                }));
            }
            other => return Err(cannot(super::type_name(Some(&other)), "type not supported")),
        }
        Ok(None)
    }

    fn key(&self, out: &mut Vec<u8>, k: &Value) -> LibResult<()> {
        match k {
            Value::Integer(_) | Value::Number(_) => {
                out.push(b'"');
                self.number(out, super::as_number(k).unwrap_or(0.0))?;
                out.extend_from_slice(b"\":");
            }
            Value::String(s) => {
                append_string(out, &s.as_bytes());
                out.push(b':');
            }
            other => {
                let name = super::type_name(Some(other));
                return Err(cannot(name, "table key must be a number or string"));
            }
        }
        Ok(())
    }

    fn number(&self, out: &mut Vec<u8>, n: f64) -> LibResult<()> {
        let invalid = n.is_nan() || n.is_infinite();
        match self.cfg.encode_invalid_numbers {
            0 if invalid => return Err(cannot("number", "must not be NaN or Inf")),
            // glibc could print "-nan"; the library always writes "nan".
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if invalid => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        out.extend_from_slice(fmt_g(n, self.cfg.encode_number_precision as usize).as_bytes());
        Ok(())
    }

    /// `Some(max index)` when every key is a positive integer (C's int arithmetic
    /// included), `None` for an object. Tables too sparse for the configuration are an
    /// error, or an object when conversion is on.
    fn array_length(&self, t: &Table) -> LibResult<Option<i32>> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in t.pairs::<Value, Value>() {
            let (k, _) = pair?;
            let k = match k {
                Value::Integer(i) => i as f64,
                Value::Number(n) => n,
                _ => return Ok(None),
            };
            if k == 0.0 || k.floor() != k || k < 1.0 {
                return Ok(None);
            }
            if k > f64::from(max) {
                max = double_to_i32(k);
            }
            items = items.wrapping_add(1);
        }
        let cfg = self.cfg;
        if cfg.sparse_ratio > 0
            && max > items.wrapping_mul(cfg.sparse_ratio)
            && max > cfg.sparse_safe
        {
            if !cfg.sparse_convert {
                return Err(cannot("table", "excessively sparse array"));
            }
            return Ok(None);
        }
        Ok(Some(max))
    }
}

fn append_string(out: &mut Vec<u8>, s: &[u8]) {
    out.reserve(s.len() + 2);
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(c >> 4)]);
                out.push(HEX[usize::from(c & 15)]);
            }
            _ => out.push(c),
        }
    }
    out.push(b'"');
}

// ----- decoding -----

fn decode(lua: &Lua, cfg: &Config, args: &MultiValue) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(Fail::Arg(1, "expected 1 argument".into()));
    }
    let data = check_bytes(lua, args, 1)?;
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Err(Fail::Error(
            "JSON parser does not support UTF-16 or UTF-32".into(),
        ));
    }
    let mut p = Parser {
        lua,
        cfg,
        data: &data,
        pos: 0,
        depth: 0,
    };
    let value = p.document()?;
    let token = p.next_token();
    if !matches!(token.kind, Kind::End) {
        return Err(p.unexpected("the end", &token));
    }
    Ok(one(value))
}

enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

struct Token {
    kind: Kind,
    /// 0-based offset of the token (or of the problem, for an error).
    index: usize,
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    data: &'a [u8],
    pos: usize,
    depth: i32,
}

impl Parser<'_> {
    /// The byte at `i`, with the NUL that ends every Lua string past the end.
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |kind| Token { kind, index };
        let c = self.at(self.pos);
        let simple = match c {
            b'{' => Some(Kind::ObjBegin),
            b'}' => Some(Kind::ObjEnd),
            b'[' => Some(Kind::ArrBegin),
            b']' => Some(Kind::ArrEnd),
            b',' => Some(Kind::Comma),
            b':' => Some(Kind::Colon),
            _ => None,
        };
        if let Some(kind) = simple {
            self.pos += 1;
            return single(kind);
        }
        match c {
            0 => single(Kind::End),
            b'"' => self.string_token(),
            b'-' | b'0'..=b'9' => {
                if !self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    return self.error("invalid number");
                }
                self.number_token()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                let rest = &self.data[self.pos..];
                for (word, kind) in [
                    (&b"true"[..], Kind::Boolean(true)),
                    (b"false", Kind::Boolean(false)),
                    (b"null", Kind::Null),
                ] {
                    if rest.starts_with(word) {
                        self.pos += word.len();
                        return single(kind);
                    }
                }
                if self.cfg.decode_invalid_numbers && self.is_invalid_number() {
                    return self.number_token();
                }
                self.error("invalid token")
            }
            _ => self.error("invalid token"),
        }
    }

    fn error(&self, what: &'static str) -> Token {
        Token {
            kind: Kind::Error(what),
            index: self.pos,
        }
    }

    /// Text strtod accepts but JSON does not: '+', hex, leading zeros, inf, nan.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        match self.at(p) {
            b'+' => return true,
            b'-' => p += 1,
            _ => {}
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return (c2 | 0x20) == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let rest = &self.data[p.min(self.data.len())..];
        let starts = |w: &[u8]| rest.len() >= 3 && rest[..3].eq_ignore_ascii_case(w);
        starts(b"inf") || starts(b"nan")
    }

    fn number_token(&mut self) -> Token {
        let (n, used) = strtod(&self.data[self.pos..]);
        if used == 0 {
            return self.error("invalid number");
        }
        let index = self.pos;
        self.pos += used;
        Token {
            kind: Kind::Number(n),
            index,
        }
    }

    fn string_token(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        let mut s = Vec::new();
        loop {
            let c = self.at(self.pos);
            match c {
                b'"' => break,
                0 => return self.error("unexpected end of string"),
                b'\\' => {
                    let plain = match self.at(self.pos + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => b'\x08',
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => b'\x0c',
                        b'r' => b'\r',
                        b'u' => {
                            if !self.unicode_escape(&mut s) {
                                return self.error("invalid unicode escape code");
                            }
                            continue;
                        }
                        _ => return self.error("invalid escape code"),
                    };
                    s.push(plain);
                    self.pos += 2;
                }
                _ => {
                    s.push(c);
                    self.pos += 1;
                }
            }
        }
        self.pos += 1;
        Token {
            kind: Kind::Str(s),
            index,
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let d = (self.at(at + i) as char).to_digit(16)?;
            Some(acc << 4 | d)
        })
    }

    /// `\uXXXX` (or a surrogate pair of them) at `pos` to UTF-8; false on a bad escape.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            // Only a high surrogate followed by an escaped low one is accepted.
            if cp & 0x400 != 0 || self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        // Every value reaching here is a valid scalar (surrogates were paired above).
        let Some(ch) = char::from_u32(cp) else {
            return false;
        };
        out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
        self.pos += len;
        true
    }

    fn unexpected(&self, expected: &str, token: &Token) -> Fail {
        let found = match token.kind {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::Str(_) => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        };
        Fail::Error(format!(
            "Expected {expected} but found {found} at character {}",
            token.index + 1
        ))
    }

    /// Entering an object or array; `used + slots` mirrors the C stack check.
    fn descend(&mut self, used: usize, slots: usize) -> LibResult<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth
            && used + slots <= MAX_C_STACK
            && self.depth <= MAX_SUPPORTED_DEPTH
        {
            return Ok(());
        }
        Err(Fail::Error(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.pos
        )))
    }

    /// After an object's '{' or ',': the key string and its colon.
    fn object_key(&mut self, token: Token) -> LibResult<Value> {
        let Kind::Str(key) = &token.kind else {
            return Err(self.unexpected("object key string", &token));
        };
        let key = string_value(self.lua, key)?;
        let colon = self.next_token();
        if !matches!(colon.kind, Kind::Colon) {
            return Err(self.unexpected("colon", &colon));
        }
        Ok(key)
    }

    /// The whole document. Open containers live on a heap stack rather than the
    /// native one, so nesting depth costs no recursion.
    fn document(&mut self) -> LibResult<Value> {
        let mut stack: Vec<Level> = Vec::new();
        // The C library's Lua stack use: its argument, then per open level the
        // table (and, in an object, the pending key).
        let mut used = 1;
        let mut token = self.next_token();
        loop {
            let mut value = match token.kind {
                Kind::Str(s) => string_value(self.lua, &s)?,
                Kind::Number(n) => Value::Number(n),
                Kind::Boolean(b) => Value::Boolean(b),
                Kind::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
                Kind::ObjBegin => {
                    self.descend(used, 3)?;
                    let t = self.lua.create_table()?;
                    let first = self.next_token();
                    if matches!(first.kind, Kind::ObjEnd) {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        let key = self.object_key(first)?;
                        stack.push(Level::Object { t, key });
                        used += 2;
                        token = self.next_token();
                        continue;
                    }
                }
                Kind::ArrBegin => {
                    self.descend(used, 2)?;
                    let t = self.lua.create_table()?;
                    let first = self.next_token();
                    if matches!(first.kind, Kind::ArrEnd) {
                        self.depth -= 1;
                        Value::Table(t)
                    } else {
                        stack.push(Level::Array { t, next: 1 });
                        used += 1;
                        token = first;
                        continue;
                    }
                }
                _ => return Err(self.unexpected("value", &token)),
            };
            // Store the value in its container; closing brackets may finish several.
            loop {
                let Some(level) = stack.last_mut() else {
                    return Ok(value);
                };
                let after = self.next_token();
                let closed = match level {
                    Level::Array { t, next } => {
                        t.raw_set(*next, value)?;
                        *next += 1;
                        match after.kind {
                            Kind::ArrEnd => true,
                            Kind::Comma => false,
                            _ => return Err(self.unexpected("comma or array end", &after)),
                        }
                    }
                    Level::Object { t, key } => {
                        t.raw_set(std::mem::replace(key, Value::Nil), value)?;
                        match after.kind {
                            Kind::ObjEnd => true,
                            Kind::Comma => {
                                let next_key = self.next_token();
                                *key = self.object_key(next_key)?;
                                false
                            }
                            _ => return Err(self.unexpected("comma or object end", &after)),
                        }
                    }
                };
                if !closed {
                    token = self.next_token();
                    break;
                }
                self.depth -= 1;
                let Some(done) = stack.pop() else {
                    return Ok(Value::Nil);
                };
                value = match done {
                    Level::Array { t, .. } => {
                        used -= 1;
                        Value::Table(t)
                    }
                    Level::Object { t, .. } => {
                        used -= 2;
                        Value::Table(t)
                    }
                };
            }
        }
    }
}

/// An object or array being filled by the decoder.
enum Level {
    Array { t: Table, next: i64 },
    Object { t: Table, key: Value },
}
