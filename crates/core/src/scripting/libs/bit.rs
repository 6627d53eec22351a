//! LuaBitOp 1.0.2 (`bit.*`): 32-bit operations on Lua 5.1 numbers, results signed.

use mlua::{Lua, MultiValue, Table, Value};

use super::{arg, lib_function, one, to_number, type_error, LibResult};

/// LuaBitOp's conversion: adding 2^52+2^51 puts the integer part, rounded to nearest
/// even and wrapped modulo 2^32, in the low 32 bits of the double's representation.
fn bits(lua: &Lua, args: &MultiValue, n: usize) -> LibResult<u32> {
    let v = arg(args, n);
    match to_number(lua, v)? {
        Some(x) => Ok((x + 6_755_399_441_055_744.0).to_bits() as u32),
        None => Err(type_error(n, "number", v)),
    }
}

fn ret(b: u32) -> MultiValue {
    one(Value::Number(f64::from(b as i32)))
}

/// `band`/`bor`/`bxor` fold over every argument (at least one).
fn fold(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let mut acc = bits(lua, args, 1)?;
    // C walks the arguments from the last one down, which decides which bad argument
    // is reported first.
    let mut others = Vec::with_capacity(args.len().saturating_sub(1));
    for n in (2..=args.len()).rev() {
        others.push(bits(lua, args, n)?);
    }
    for b in others {
        acc = op(acc, b);
    }
    Ok(ret(acc))
}

fn shift(lua: &Lua, args: &MultiValue, op: fn(u32, u32) -> u32) -> LibResult<MultiValue> {
    let b = bits(lua, args, 1)?;
    let n = bits(lua, args, 2)? & 31;
    Ok(ret(op(b, n)))
}

fn tohex(lua: &Lua, args: &MultiValue) -> LibResult<MultiValue> {
    let mut b = bits(lua, args, 1)?;
    let mut n = match arg(args, 2) {
        None => 8,
        Some(_) => bits(lua, args, 2)? as i32,
    };
    // Redis's build prints i32::MIN (whose negation overflows in C) as 8 lowercase digits.
    let digits: &[u8; 16] = if n < 0 && n != i32::MIN {
        n = -n;
        b"0123456789ABCDEF"
    } else {
        if n == i32::MIN {
            n = 8;
        }
        b"0123456789abcdef"
    };
    let n = n.min(8) as usize;
    let mut out = vec![0u8; n];
    for slot in out.iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(one(Value::String(lua.create_string(&out)?)))
}

pub(super) fn open(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.set(
        "tobit",
        lib_function(lua, |lua, a| Ok(ret(bits(lua, &a, 1)?)))?,
    )?;
    t.set(
        "bnot",
        lib_function(lua, |lua, a| Ok(ret(!bits(lua, &a, 1)?)))?,
    )?;
    t.set(
        "band",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x & y))?,
    )?;
    t.set(
        "bor",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x | y))?,
    )?;
    t.set(
        "bxor",
        lib_function(lua, |lua, a| fold(lua, &a, |x, y| x ^ y))?,
    )?;
    t.set(
        "lshift",
        lib_function(lua, |lua, a| shift(lua, &a, |b, n| b << n))?,
    )?;
    t.set(
        "rshift",
        lib_function(lua, |lua, a| shift(lua, &a, |b, n| b >> n))?,
    )?;
    t.set(
        "arshift",
        lib_function(lua, |lua, a| {
            shift(lua, &a, |b, n| ((b as i32) >> n) as u32)
        })?,
    )?;
    t.set(
        "rol",
        lib_function(lua, |lua, a| shift(lua, &a, u32::rotate_left))?,
    )?;
    t.set(
        "ror",
        lib_function(lua, |lua, a| shift(lua, &a, u32::rotate_right))?,
    )?;
    t.set(
        "bswap",
        lib_function(lua, |lua, a| Ok(ret(bits(lua, &a, 1)?.swap_bytes())))?,
    )?;
    t.set("tohex", lib_function(lua, |lua, a| tohex(lua, &a))?)?;
    Ok(t)
}
