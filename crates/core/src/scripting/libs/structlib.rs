//! Roberto Ierusalimschy's `struct` library (`struct.pack/unpack/size`) as Redis ships
//! it, with the sizes and alignment of the x86-64 Linux build Redis's behaviour comes
//! from: short 2, int 4, long and size_t 8, maximum alignment 8, native little endian.

use mlua::{Lua, MultiValue, Table, Value};

use super::{
    as_number, check_bytes, check_number, double_to_i64, lib_function, one, opt_integer,
    string_value, Fail, LibResult,
};

const MAX_INT_SIZE: usize = 32;
const MAX_ALIGN: usize = 8;
/// Lua 5.1's LUAI_MAXCSTACK: how many values a C function may hold on its stack.
const MAX_C_STACK: usize = 8000;

/// Endianness and alignment, changed by '<', '>' and '!' as the format goes.
struct Header {
    little: bool,
    align: usize,
}

impl Default for Header {
    fn default() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A cursor over the format string. C stops at the first NUL byte, and so do we.
struct Format<'a> {
    s: &'a [u8],
    pos: usize,
}

impl<'a> Format<'a> {
    fn new(s: &'a [u8]) -> Self {
        let end = s.iter().position(|&c| c == 0).unwrap_or(s.len());
        Format {
            s: &s[..end],
            pos: 0,
        }
    }

    fn next_opt(&mut self) -> Option<u8> {
        let c = *self.s.get(self.pos)?;
        self.pos += 1;
        Some(c)
    }

    /// An optional decimal count after an option, bounded like a C int.
    fn number(&mut self, default: usize) -> LibResult<usize> {
        if !self.s.get(self.pos).is_some_and(u8::is_ascii_digit) {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(&c) = self.s.get(self.pos).filter(|c| c.is_ascii_digit()) {
            let d = i32::from(c - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(Fail::Error("integral size overflow".into()));
            }
            a = a * 10 + d;
            self.pos += 1;
        }
        Ok(a as usize)
    }

    /// The size in bytes an option occupies (0 for those that take no room).
    fn size_of(&mut self, opt: u8) -> LibResult<usize> {
        Ok(match opt {
            b'B' | b'b' | b'x' => 1,
            b'H' | b'h' => 2,
            b'L' | b'l' | b'T' | b'd' => 8,
            b'f' => 4,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(Fail::Error(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    )));
                }
                size
            }
            _ => 0,
        })
    }

    /// The non-data options; anything else is a bad format.
    fn control(&mut self, opt: u8, h: &mut Header) -> LibResult<()> {
        match opt {
            b' ' => {}
            b'>' => h.little = false,
            b'<' => h.little = true,
            b'!' => {
                let a = self.number(MAX_ALIGN)?;
                if !a.is_power_of_two() {
                    return Err(Fail::Error(format!("alignment {a} is not a power of 2")));
                }
                h.align = a;
            }
            _ => {
                let opt = String::from_utf8_lossy(&[opt]).into_owned();
                return Err(Fail::Arg(1, format!("invalid format option '{opt}'")));
            }
        }
        Ok(())
    }
}

/// Padding needed before an item of `size` bytes at offset `len`. The arithmetic is
/// C's, including its odd results for sizes that are not powers of two.
fn padding(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    size.wrapping_sub(len & (size - 1)) & (size - 1)
}

fn is_integer_opt(opt: u8) -> bool {
    matches!(
        opt,
        b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I'
    )
}

/// C's `(unsigned long)d` for d >= 0 as gcc compiles it on x86-64: values from 2^63
/// on go through a subtraction, and anything past 2^64 comes out as 0 (NaN takes the
/// signed path and gives 2^63).
fn double_to_u64(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        (double_to_i64(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        double_to_i64(d) as u64
    }
}

fn pack(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let fmt_bytes = check_bytes(lua, args, 1)?;
    // C pushes a nil right after the arguments, so a missing first value reads "nil".
    let mut args = args.clone();
    args.push_back(Value::Nil);
    let args = &args;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    let mut out = Vec::new();
    let mut argn = 2;
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size_of(opt)?;
        let pad = padding(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            _ if is_integer_opt(opt) => {
                let n = check_number(lua, args, argn)?;
                argn += 1;
                let mut value = if n < 0.0 {
                    double_to_i64(n) as u64
                } else {
                    double_to_u64(n)
                };
                let mut bytes = [0u8; MAX_INT_SIZE];
                for i in 0..size {
                    let slot = if h.little { i } else { size - 1 - i };
                    bytes[slot] = value as u8;
                    value >>= 8;
                }
                out.extend_from_slice(&bytes[..size]);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = check_number(lua, args, argn)? as f32;
                argn += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = check_number(lua, args, argn)?;
                argn += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = check_bytes(lua, args, argn)?;
                argn += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // C reports the argument after the string, having already moved on.
                    return Err(Fail::Arg(argn as i32, "string too short".into()));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(opt, &mut h)?,
        }
    }
    Ok(one(string_value(lua, &out)?))
}

/// Reads `buf` as an integer the way the C code does on a 64-bit long: bytes past the
/// eighth shift out, and the sign mask's shift count wraps at 64 like x86's `shl`.
fn read_integer(buf: &[u8], little: bool, signed: bool) -> f64 {
    let mut l: u64 = 0;
    let mut push = |b: u8| l = l << 8 | u64::from(b);
    if little {
        buf.iter().rev().for_each(|&b| push(b));
    } else {
        buf.iter().for_each(|&b| push(b));
    }
    if !signed {
        return l as f64;
    }
    let shift = ((buf.len() as i64) * 8 - 1) & 63;
    let mask = u64::MAX << shift;
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

fn unpack(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let fmt_bytes = check_bytes(lua, args, 1)?;
    let data = check_bytes(lua, args, 2)?;
    // A negative offset wraps to a huge size_t in C: it passes the "1 or greater"
    // check and fails as a too-short string instead.
    let start = opt_integer(lua, args, 3, 1)? as u64 as usize;
    if start == 0 {
        return Err(Fail::Arg(3, "offset must be 1 or greater".into()));
    }
    let mut pos = start - 1;
    let ld = data.len();
    let too_short = || Fail::Arg(2, "data string too short".into());
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    let mut results: Vec<Value> = Vec::new();
    while let Some(opt) = fmt.next_opt() {
        let mut size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        if args.len() + results.len() + 2 > MAX_C_STACK {
            return Err(Fail::Error("stack overflow (too many results)".into()));
        }
        match opt {
            _ if is_integer_opt(opt) => {
                let signed = opt.is_ascii_lowercase();
                results.push(Value::Number(read_integer(
                    &data[pos..pos + size],
                    h.little,
                    signed,
                )));
            }
            b'x' => {}
            b'f' => {
                let raw: [u8; 4] = data[pos..pos + 4].try_into().map_err(|_| too_short())?;
                let f = if h.little {
                    f32::from_le_bytes(raw)
                } else {
                    f32::from_be_bytes(raw)
                };
                results.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let raw: [u8; 8] = data[pos..pos + 8].try_into().map_err(|_| too_short())?;
                let d = if h.little {
                    f64::from_le_bytes(raw)
                } else {
                    f64::from_be_bytes(raw)
                };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    // "c0" takes its length from the previous result, which must be a
                    // number or a string Lua can read as one; that result is consumed.
                    let prev = match results.last() {
                        Some(v) => previous_number(lua, v)?,
                        None => None,
                    };
                    let Some(n) = prev else {
                        return Err(Fail::Error("format 'c0' needs a previous size".into()));
                    };
                    results.pop();
                    size = if n < 0.0 {
                        double_to_i64(n) as u64 as usize
                    } else {
                        double_to_u64(n) as usize
                    };
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                results.push(string_value(lua, &data[pos..pos + size])?);
            }
            b's' => {
                let Some(nul) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(Fail::Error("unfinished string in data".into()));
                };
                results.push(string_value(lua, &data[pos..pos + nul])?);
                size = nul + 1;
            }
            _ => fmt.control(opt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_iter(results))
}

/// `lua_isnumber` + `lua_tonumber` on an earlier result.
fn previous_number(lua: &Lua, v: &Value) -> LibResult<Option<f64>> {
    match v {
        Value::String(_) => Ok(lua.coerce_number(v.clone())?),
        v => Ok(as_number(v)),
    }
}

fn size(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let fmt_bytes = check_bytes(lua, args, 1)?;
    let mut fmt = Format::new(&fmt_bytes);
    let mut h = Header::default();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_opt() {
        let size = fmt.size_of(opt)?;
        pos = pos.wrapping_add(padding(pos, &h, opt, size));
        if opt == b's' {
            return Err(Fail::Arg(1, "option 's' has no fixed size".into()));
        }
        if opt == b'c' && size == 0 {
            return Err(Fail::Arg(1, "option 'c0' has no fixed size".into()));
        }
        // Unknown letters and digits are silently sized 0 here, unlike in pack.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(opt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(one(Value::Number(pos as i64 as f64)))
}

pub(super) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set("pack", lib_function(lua, |lua, a| pack(lua, &a))?)?;
    t.set("unpack", lib_function(lua, |lua, a| unpack(lua, &a))?)?;
    t.set("size", lib_function(lua, |lua, a| size(lua, &a))?)?;
    Ok(t)
}
