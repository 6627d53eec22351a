//! HyperLogLog commands, with Redis's checks in Redis's order
//! (src/hyperloglog.c).

use crate::args::{c_str, is_c_kw};
use crate::commands::CommandDef;
use crate::config::P;
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::notify::events as ev;
use crate::types::hll::{self, Corrupt, DENSE, REGISTERS, SPARSE};
use crate::types::string::StrValue;
use crate::types::{Value, ValueType};

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("pfadd", pfadd),
    CommandDef::new("pfcount", pfcount),
    CommandDef::new("pfmerge", pfmerge),
    CommandDef::new("pfdebug", pfdebug),
    CommandDef::new("pfselftest", pfselftest),
];

impl From<Corrupt> for CmdError {
    fn from(_: Corrupt) -> CmdError {
        CmdError::CorruptHll
    }
}

fn sparse_max_bytes(ctx: &Ctx<'_, '_>) -> usize {
    usize::try_from(ctx.engine.config.int(P::HllSparseMaxBytes)).unwrap_or(usize::MAX)
}

/// The bytes of a value that must be a HyperLogLog (Redis's isHLLObjectOrReply):
/// WRONGTYPE for another type, the HyperLogLog WRONGTYPE for a string that is not
/// one (an integer-encoded string never is).
fn hll_bytes(v: &Value) -> CmdResult<&[u8]> {
    match v {
        Value::Str(s) => match s.stored_bytes() {
            Some(b) if hll::is_valid(b) => Ok(b),
            _ => Err(CmdError::NotHll),
        },
        _ => Err(CmdError::WrongType),
    }
}

/// The HyperLogLog in `v` made writable in place (Redis's dbUnshareStringValue).
fn hll_mut(v: &mut Value) -> CmdResult<&mut Vec<u8>> {
    hll_bytes(v)?;
    match v {
        Value::Str(s) => Ok(s.make_raw()),
        _ => Err(CmdError::WrongType),
    }
}

/// Adds each element; how many changed a register.
fn add_all(s: &mut Vec<u8>, elements: &[&[u8]], max_bytes: usize) -> CmdResult<u64> {
    let mut updated = 0;
    for e in elements {
        if hll::add(s, e, max_bytes)? {
            updated += 1;
        }
    }
    Ok(updated)
}

fn pfadd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let max_bytes = sparse_max_bytes(ctx);
    let updated = match ctx.keys.write(key)? {
        Some(mut e) => {
            let s = hll_mut(e.value_of(ValueType::String).ok_or(CmdError::WrongType)?)?;
            let n = add_all(s, &args[2..], max_bytes)?;
            if n > 0 {
                hll::invalidate_cache(s);
            }
            n
        }
        None => {
            // Creating the key counts as an update even with no elements.
            let mut s = hll::create();
            let n = add_all(&mut s, &args[2..], max_bytes)? + 1;
            hll::invalidate_cache(&mut s);
            ctx.keys
                .add_new(key, Value::Str(StrValue::Raw(Box::new(s))))?;
            n
        }
    };
    if updated > 0 {
        let db = ctx.keys.db;
        ctx.keys.mark_dirty_by(db, key, updated)?;
        ctx.keys.changed(key, ev::PFADD);
    }
    ctx.out.int(i64::from(updated > 0));
    Ok(())
}

fn pfcount(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 2 {
        // The union of several: registers merged one per byte, nothing written.
        let mut max = [0u8; REGISTERS];
        for key in &args[1..] {
            if let Some(e) = ctx.keys.read(key)? {
                hll::merge(&mut max, hll_bytes(&e.node.value())?)?;
            }
        }
        ctx.out.int(hll::count_registers(&max) as i64);
        return Ok(());
    }
    let key = args[1];
    let (card, cached) = match ctx.keys.read(key)? {
        None => (0, true),
        Some(mut e) => {
            let s = hll_mut(e.value_of(ValueType::String).ok_or(CmdError::WrongType)?)?;
            match hll::cached_card(s) {
                Some(card) => (card, true),
                None => {
                    let card = hll::count(s)?;
                    hll::set_cached_card(s, card);
                    (card, false)
                }
            }
        }
    };
    if !cached {
        // Storing the estimate changes the string: WATCHers are told and it is
        // propagated, though PFCOUNT is a read (no event).
        let db = ctx.keys.db;
        ctx.keys.touched(db, key);
        ctx.keys.mark_dirty(db, key)?;
    }
    ctx.out.int(card as i64);
    Ok(())
}

/// Writes the registers `max` into the HyperLogLog `s` (dense first if `dense`).
fn store_registers(
    s: &mut Vec<u8>,
    max: &[u8; REGISTERS],
    dense: bool,
    max_bytes: usize,
) -> CmdResult<()> {
    if dense && s[4] == SPARSE {
        *s = hll::sparse_to_dense(s)?;
    }
    for (j, &m) in max.iter().enumerate() {
        if m == 0 {
            continue;
        }
        if s[4] == DENSE {
            hll::dense_raise(&mut s[hll::HDR..], j, m);
        } else {
            // The destination was checked with the sources: it decodes.
            let _ = hll::sparse_set(s, j, m, max_bytes);
        }
    }
    hll::invalidate_cache(s);
    Ok(())
}

fn pfmerge(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut max = [0u8; REGISTERS];
    let mut dense = false;
    // The destination is a source too (Redis starts at argv[1]).
    for key in &args[1..] {
        if let Some(e) = ctx.keys.read(key)? {
            let v = e.into_ref();
            let s = hll_bytes(&v)?;
            dense |= s[4] == DENSE;
            hll::merge(&mut max, s)?;
        }
    }
    let dest = args[1];
    let max_bytes = sparse_max_bytes(ctx);
    match ctx.keys.write(dest)? {
        Some(mut e) => store_registers(
            hll_mut(e.value_of(ValueType::String).ok_or(CmdError::WrongType)?)?,
            &max,
            dense,
            max_bytes,
        )?,
        None => {
            let mut s = hll::create();
            store_registers(&mut s, &max, dense, max_bytes)?;
            ctx.keys
                .add_new(dest, Value::Str(StrValue::Raw(Box::new(s))))?;
        }
    }
    let db = ctx.keys.db;
    ctx.keys.mark_dirty(db, dest)?;
    // Redis names a merge's event `pfadd`, a mass add.
    ctx.keys.changed(dest, ev::PFADD);
    ctx.out.ok();
    Ok(())
}

fn pfdebug(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (sub, key) = (args[1], args[2]);
    let name = || String::from_utf8_lossy(c_str(sub)).into_owned();
    let arity = || {
        if args.len() != 3 {
            Err(CmdError::PfdebugArity(name()))
        } else {
            Ok(())
        }
    };
    let mut converted = false;
    {
        let Some(mut e) = ctx.keys.write(key)? else {
            return Err(CmdError::PfdebugNoKey);
        };
        let s = hll_mut(e.value_of(ValueType::String).ok_or(CmdError::WrongType)?)?;
        let mut to_dense = |s: &mut Vec<u8>| -> CmdResult<()> {
            if s[4] == SPARSE {
                *s = hll::sparse_to_dense(s)?;
                converted = true;
            }
            Ok(())
        };
        if is_c_kw(sub, "getreg") {
            arity()?;
            to_dense(s)?;
            ctx.out.array(REGISTERS);
            for j in 0..REGISTERS {
                ctx.out.int(i64::from(hll::dense_get(&s[hll::HDR..], j)));
            }
        } else if is_c_kw(sub, "decode") {
            arity()?;
            if s[4] != SPARSE {
                return Err(CmdError::HllNotSparse);
            }
            ctx.out.bulk(hll::decode(s).as_bytes());
        } else if is_c_kw(sub, "encoding") {
            arity()?;
            ctx.out
                .simple(if s[4] == DENSE { b"dense" } else { b"sparse" });
        } else if is_c_kw(sub, "todense") {
            arity()?;
            to_dense(s)?;
            ctx.out.int(i64::from(converted));
        } else {
            return Err(CmdError::PfdebugUnknown(name()));
        }
    }
    if converted {
        // Redis propagates the new encoding without signalling the key.
        let db = ctx.keys.db;
        ctx.keys.reencoded(db, key)?;
    }
    Ok(())
}

fn pfselftest(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    hll::self_test(sparse_max_bytes(ctx)).map_err(CmdError::HllSelfTest)?;
    ctx.out.ok();
    Ok(())
}
