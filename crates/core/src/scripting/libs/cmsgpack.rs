//! lua-cmsgpack 0.4.0 (`cmsgpack.*`) as Redis 7.0 ships it: Lua 5.1 numbers become
//! integers when a 64-bit integer holds them exactly, otherwise a float when a float
//! holds them exactly, otherwise a double; tables with keys 1..n become arrays.

use mlua::{Lua, MultiValue, Table, Value};

use super::{
    check_bytes, check_number, double_to_i32, double_to_i64, lib_function, opt_integer,
    string_value, Fail, LibResult,
};

/// Tables nested deeper than this are written as nil (cycles end there too).
const MAX_NESTING: usize = 16;
/// Lua 5.1's LUAI_MAXCSTACK, the C library's limit on values it holds while decoding.
const MAX_C_STACK: usize = 8000;
const TOO_MANY: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

pub(super) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lib_function(lua, |lua, a| pack(lua, &a))?)?;
    t.set(
        "unpack",
        lib_function(lua, |lua, a| unpack_full(lua, &a, a.len(), 0, 0))?,
    )?;
    t.set(
        "unpack_one",
        lib_function(lua, |lua, a| {
            let offset = opt_integer(lua, &a, 2, 0)?;
            unpack_full(lua, &a, 1, 1, offset)
        })?,
    )?;
    t.set(
        "unpack_limit",
        lib_function(lua, |lua, a| {
            let limit = double_to_i64(check_number(lua, &a, 2)?);
            let offset = opt_integer(lua, &a, 3, 0)?;
            unpack_full(lua, &a, 1, limit, offset)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(t)
}

// ----- packing -----

fn pack(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    if args.is_empty() {
        return Err(Fail::Arg(0, "MessagePack pack needs input.".into()));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        encode(&mut out, v, 0)?;
    }
    Ok(super::one(string_value(lua, &out)?))
}

/// Recursion is bounded by MAX_NESTING, so it is safe here.
fn encode(out: &mut Vec<u8>, v: &Value, level: usize) -> LibResult<()> {
    match v {
        Value::String(s) => encode_bytes(out, &s.as_bytes()),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(t) if level < MAX_NESTING => {
            if is_array(t)? {
                let len = t.raw_len();
                encode_len(out, len as u64, 0x90, 0xdc, 0xdd);
                for i in 1..=len {
                    let item: Value = t.raw_get(i)?;
                    encode(out, &item, level + 1)?;
                }
            } else {
                let mut count: u64 = 0;
                for pair in t.pairs::<Value, Value>() {
                    pair?;
                    count += 1;
                }
                encode_len(out, count, 0x80, 0xde, 0xdf);
                for pair in t.pairs::<Value, Value>() {
                    let (k, item) = pair?;
                    encode(out, &k, level + 1)?;
                    encode(out, &item, level + 1)?;
                }
            }
        }
        // nil, functions, userdata, threads, and tables past the nesting limit.
        _ => out.push(0xc0),
    }
    Ok(())
}

/// Keys are exactly 1..n (checked as C ints, the way the library does).
fn is_array(t: &Table) -> LibResult<bool> {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let Some(n) = super::as_number(&k) else {
            return Ok(false);
        };
        if n <= 0.0 || f64::from(double_to_i32(n)) != n {
            return Ok(false);
        }
        if n > f64::from(max) {
            max = double_to_i32(n);
        }
        count += 1;
    }
    Ok(max == count)
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    if !n.is_infinite() && double_to_i64(n) as f64 == n {
        encode_int(out, double_to_i64(n));
    } else if n == f64::from(n as f32) {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn encode_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        match n {
            0..=127 => out.push(n as u8),
            128..=0xff => out.extend_from_slice(&[0xcc, n as u8]),
            0x100..=0xffff => {
                out.push(0xcd);
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            0x1_0000..=0xffff_ffff => {
                out.push(0xce);
                out.extend_from_slice(&(n as u32).to_be_bytes());
            }
            _ => {
                out.push(0xcf);
                out.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
    } else {
        match n {
            -32..=-1 => out.push(n as i8 as u8),
            -128..=-33 => out.extend_from_slice(&[0xd0, n as i8 as u8]),
            -32768..=-129 => {
                out.push(0xd1);
                out.extend_from_slice(&(n as i16).to_be_bytes());
            }
            -2_147_483_648..=-32769 => {
                out.push(0xd2);
                out.extend_from_slice(&(n as i32).to_be_bytes());
            }
            _ => {
                out.push(0xd3);
                out.extend_from_slice(&n.to_be_bytes());
            }
        }
    }
}

fn encode_bytes(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// Array and map headers: fix form up to 15, then 16-bit, then 32-bit lengths.
fn encode_len(out: &mut Vec<u8>, n: u64, fix: u8, b16: u8, b32: u8) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

// ----- unpacking -----

/// Why decoding stopped.
enum Stop {
    Eof,
    BadFormat,
    Fail(Fail),
}

impl From<mlua::Error> for Stop {
    fn from(e: mlua::Error) -> Self {
        Stop::Fail(Fail::Lua(e))
    }
}

/// `base` is how many arguments stay on the C stack (all for `unpack`, one for the
/// others), which matters only for the "too many return values" limit.
fn unpack_full(
    lua: &Lua,
    args: &MultiValue,
    base: usize,
    limit: i64,
    offset: i64,
) -> LibResult<MultiValue> {
    let data = check_bytes(lua, args, 1)?;
    let len = data.len();
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        return Err(Fail::Error(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(Fail::Error(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut d = Decoder {
        lua,
        data: &data,
        pos: offset as usize,
    };
    let mut values = Vec::new();
    let mut count: i64 = 0;
    while d.pos < len && count < limit {
        match d.value(base + values.len()) {
            Ok(v) => values.push(v),
            Err(Stop::Eof) => return Err(Fail::Error("Missing bytes in input.".into())),
            Err(Stop::BadFormat) => return Err(Fail::Error("Bad data format in input.".into())),
            Err(Stop::Fail(f)) => return Err(f),
        }
        count += 1;
    }
    if !decode_all {
        let next = if d.pos == len { -1.0 } else { d.pos as f64 };
        values.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_iter(values))
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
}

/// A container being filled; kept on a heap stack so nesting costs no recursion.
enum Level {
    Array {
        t: Table,
        next: i64,
        left: u64,
    },
    Map {
        t: Table,
        key: Option<Value>,
        left: u64,
    },
}

impl Decoder<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], Stop> {
        if self.data.len() - self.pos < n {
            return Err(Stop::Eof);
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// Peeks `n` bytes after the type byte without consuming (C checks the whole
    /// item's size before moving).
    fn peek(&self, n: usize) -> Result<&[u8], Stop> {
        if self.data.len() - self.pos < n + 1 {
            return Err(Stop::Eof);
        }
        Ok(&self.data[self.pos + 1..self.pos + 1 + n])
    }

    fn be(bytes: &[u8]) -> u64 {
        bytes.iter().fold(0, |a, &b| a << 8 | u64::from(b))
    }

    fn string(&mut self, header: usize, len: usize) -> Result<Value, Stop> {
        if self.data.len() - self.pos < header + len {
            return Err(Stop::Eof);
        }
        let s = &self.data[self.pos + header..self.pos + header + len];
        let v = string_value(self.lua, s).map_err(Stop::Fail)?;
        self.pos += header + len;
        Ok(v)
    }

    /// One complete value. `used` counts the values the C code would hold on its Lua
    /// stack at this point, for its stack limit.
    fn value(&mut self, mut used: usize) -> Result<Value, Stop> {
        let mut stack: Vec<Level> = Vec::new();
        loop {
            if self.pos >= self.data.len() {
                return Err(Stop::Eof);
            }
            if used + 1 > MAX_C_STACK {
                return Err(Stop::Fail(Fail::Error(TOO_MANY.into())));
            }
            let b = self.data[self.pos];
            let num = |x: f64| Ok::<_, Stop>(Value::Number(x));
            let mut value = match b {
                0xcc => num(Self::be(self.peek(1)?) as f64),
                0xcd => num(Self::be(self.peek(2)?) as f64),
                0xce => num(Self::be(self.peek(4)?) as f64),
                // lua_pushinteger of a uint64: values from 2^63 come out negative.
                0xcf => num(Self::be(self.peek(8)?) as i64 as f64),
                0xd0 => num(f64::from(self.peek(1)?[0] as i8)),
                0xd1 => num(f64::from(Self::be(self.peek(2)?) as u16 as i16)),
                0xd2 => num(f64::from(Self::be(self.peek(4)?) as u32 as i32)),
                0xd3 => num(Self::be(self.peek(8)?) as i64 as f64),
                0xca => num(f64::from(f32::from_bits(Self::be(self.peek(4)?) as u32))),
                0xcb => num(f64::from_bits(Self::be(self.peek(8)?))),
                0xc0 => Ok(Value::Nil),
                0xc2 => Ok(Value::Boolean(false)),
                0xc3 => Ok(Value::Boolean(true)),
                _ => Err(Stop::BadFormat),
            };
            let width = match b {
                0xcc | 0xd0 => 2,
                0xcd | 0xd1 => 3,
                0xce | 0xd2 | 0xca => 5,
                0xcf | 0xd3 | 0xcb => 9,
                0xc0 | 0xc2 | 0xc3 => 1,
                _ => 0,
            };
            if width > 0 {
                self.pos += width;
            } else {
                // Strings, containers and fixnums.
                let mut open = None;
                value = match b {
                    0xd9 => {
                        let l = self.peek(1)?[0] as usize;
                        self.string(2, l)
                    }
                    0xda => {
                        let l = Self::be(self.peek(2)?) as usize;
                        self.string(3, l)
                    }
                    0xdb => {
                        let l = Self::be(self.take(5)?.get(1..).unwrap_or_default()) as usize;
                        self.string(0, l)
                    }
                    0xdc | 0xde => {
                        let l = Self::be(self.take(3)?.get(1..).unwrap_or_default());
                        open = Some((b == 0xdc, l));
                        Ok(Value::Nil)
                    }
                    0xdd | 0xdf => {
                        let l = Self::be(self.take(5)?.get(1..).unwrap_or_default());
                        open = Some((b == 0xdd, l));
                        Ok(Value::Nil)
                    }
                    _ if b & 0x80 == 0 => {
                        self.pos += 1;
                        num(f64::from(b))
                    }
                    _ if b & 0xe0 == 0xe0 => {
                        self.pos += 1;
                        num(f64::from(b as i8))
                    }
                    _ if b & 0xe0 == 0xa0 => self.string(1, usize::from(b & 0x1f)),
                    _ if b & 0xf0 == 0x90 => {
                        self.pos += 1;
                        open = Some((true, u64::from(b & 0xf)));
                        Ok(Value::Nil)
                    }
                    _ if b & 0xf0 == 0x80 => {
                        self.pos += 1;
                        open = Some((false, u64::from(b & 0xf)));
                        Ok(Value::Nil)
                    }
                    _ => Err(Stop::BadFormat),
                };
                if let Some((is_array, left)) = open {
                    let t = self.lua.create_table()?;
                    if is_array && used + 2 > MAX_C_STACK {
                        let msg = "stack overflow (in function mp_decode_to_lua_array)";
                        return Err(Stop::Fail(Fail::Error(msg.into())));
                    }
                    if left > 0 {
                        if is_array {
                            stack.push(Level::Array { t, next: 1, left });
                            used += 2;
                        } else {
                            stack.push(Level::Map { t, key: None, left });
                            used += 1;
                        }
                        continue;
                    }
                    value = Ok(Value::Table(t));
                }
            }
            let mut value = value?;
            // Store the value; a finished container becomes the value for its parent.
            loop {
                let finished = match stack.last_mut() {
                    None => return Ok(value),
                    Some(Level::Array { t, next, left }) => {
                        t.raw_set(*next, value)?;
                        *next += 1;
                        *left -= 1;
                        *left == 0
                    }
                    Some(Level::Map { t, key, left }) => match key.take() {
                        None => {
                            *key = Some(value);
                            used += 1;
                            false
                        }
                        Some(k) => {
                            match &k {
                                Value::Nil => {
                                    return Err(Stop::Fail(Fail::Plain(
                                        "table index is nil".into(),
                                    )));
                                }
                                Value::Number(n) if n.is_nan() => {
                                    return Err(Stop::Fail(Fail::Plain(
                                        "table index is NaN".into(),
                                    )));
                                }
                                _ => {}
                            }
                            t.raw_set(k, value)?;
                            used -= 1;
                            *left -= 1;
                            *left == 0
                        }
                    },
                };
                if !finished {
                    break;
                }
                match stack.pop() {
                    Some(Level::Array { t, .. }) => {
                        used -= 2;
                        value = Value::Table(t);
                    }
                    Some(Level::Map { t, .. }) => {
                        used -= 1;
                        value = Value::Table(t);
                    }
                    None => return Ok(Value::Nil),
                }
            }
        }
    }
}
