//! ZPOPMIN / ZPOPMAX / ZMPOP, their blocking forms, and ZRANDMEMBER.

use rand::seq::index::sample;
use rand::Rng;

use super::commands::{emit, finish_removal, read_zset, write_zset};
use crate::args::{is_kw, parse_i64};
use crate::blocking::{parse_timeout, Awaits, BlockRequest};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Min,
    Max,
}

/// How a pop reply is shaped (Redis's emitkey / use_nested_array /
/// reply_nil_when_empty).
#[derive(Clone, Copy)]
struct Shape {
    emit_key: bool,
    nested: bool,
    nil_when_empty: bool,
}

/// Redis's genericZpopCommand over `keys` (the first existing one is used).
/// `count` is `None` for a plain single pop.
fn zpop_generic(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    end: End,
    count: Option<u64>,
    shape: Shape,
) -> CmdResult {
    let mut found = None;
    for &key in keys {
        if write_zset(&mut ctx.keys, key)?.is_some() {
            found = Some(key);
            break;
        }
    }
    let Some(key) = found else {
        if shape.nil_when_empty {
            ctx.out.null_array();
        } else {
            ctx.out.empty_array();
        }
        return Ok(());
    };
    if count == Some(0) {
        ctx.out.empty_array();
        return Ok(());
    }
    let Some(mut z) = write_zset(&mut ctx.keys, key)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    let count = count.unwrap_or(1);
    let n = (z.len() as u64).min(count) as usize;
    let out = &mut *ctx.out;
    match (shape.emit_key, shape.nested) {
        (false, false) => out.array(n * 2),
        (false, true) => out.array(n),
        (true, false) => {
            out.array(n * 2 + 1);
            out.bulk(key);
        }
        (true, true) => {
            out.array(2);
            out.bulk(key);
            out.array(n);
        }
    }
    let mut popped = 0;
    for _ in 0..n {
        let rank = match end {
            End::Min => 0,
            End::Max => z.len() - 1,
        };
        let Some((m, s)) = z.remove_at(rank) else {
            break;
        };
        if shape.nested {
            out.array(2);
        }
        out.bulk(&m);
        out.double(s);
        popped += 1;
    }
    let empty = z.is_empty();
    drop(z);
    let event = match end {
        End::Min => crate::notify::events::ZPOPMIN,
        End::Max => crate::notify::events::ZPOPMAX,
    };
    finish_removal(&mut ctx.keys, key, empty, popped, event)?;
    // Every pop (ZMPOP, the blocking forms) is logged as ZPOPMIN/ZPOPMAX key n,
    // as Redis 7.0 does: a replay never blocks.
    let name: &[u8] = match end {
        End::Min => b"ZPOPMIN",
        End::Max => b"ZPOPMAX",
    };
    ctx.keys.propagate_as(vec![
        name.to_vec(),
        key.to_vec(),
        popped.to_string().into_bytes(),
    ]);
    Ok(())
}

/// getPositiveLongFromObjectOrReply: one error for a non-number and a negative.
fn positive(arg: &[u8]) -> CmdResult<u64> {
    match parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v as u64),
        _ => Err(CmdError::NotPositive),
    }
}

fn zpop_minmax(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], end: End) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let count = match args.get(2) {
        Some(a) => Some(positive(a)?),
        None => None,
    };
    let shape = Shape {
        emit_key: false,
        nested: ctx.out.is_resp3() && count.is_some(),
        nil_when_empty: false,
    };
    zpop_generic(ctx, &args[1..2], end, count, shape)
}

pub(crate) fn zpopmin(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zpop_minmax(ctx, args, End::Min)
}

pub(crate) fn zpopmax(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zpop_minmax(ctx, args, End::Max)
}

/// Redis's blockingGenericZpopCommand: pops from the first non-empty key, or (outside
/// MULTI / scripts) asks the server to block the client on `keys`.
fn blocking_zpop(
    ctx: &mut Ctx<'_, '_>,
    keys: &[&[u8]],
    timeout_arg: &[u8],
    end: End,
    count: Option<u64>,
    shape: Shape,
) -> CmdResult {
    let timeout_ms = parse_timeout(timeout_arg)?;
    // While a blocked client is served, only the key that became ready counts, and
    // another type there is nothing to take.
    let serving = ctx.client.serving_key.clone();
    for &key in keys {
        let zset = match &serving {
            Some(s) if s.as_slice() != key => continue,
            Some(_) => write_zset(&mut ctx.keys, key).unwrap_or(None),
            None => write_zset(&mut ctx.keys, key)?,
        };
        if zset.is_some_and(|z| !z.is_empty()) {
            return zpop_generic(ctx, &[key], end, count, shape);
        }
    }
    if ctx.client.in_exec {
        ctx.out.null_array();
        return Ok(());
    }
    ctx.client.block = Some(BlockRequest::on_keys(
        ctx.client.db,
        keys,
        Awaits::ZSetPop,
        timeout_ms,
    ));
    Ok(())
}

fn bzpop_minmax(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], end: End) -> CmdResult {
    let last = args.len() - 1;
    let shape = Shape {
        emit_key: true,
        nested: false,
        nil_when_empty: false,
    };
    blocking_zpop(ctx, &args[1..last], args[last], end, None, shape)
}

pub(crate) fn bzpopmin(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    bzpop_minmax(ctx, args, End::Min)
}

pub(crate) fn bzpopmax(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    bzpop_minmax(ctx, args, End::Max)
}

/// getRangeLongFromObjectOrReply(1, LONG_MAX) with a custom message for both a
/// non-number and an out-of-range value.
fn at_least_one(arg: &[u8], msg: &str) -> CmdResult<u64> {
    match parse_i64(arg) {
        Some(v) if v >= 1 => Ok(v as u64),
        _ => Err(CmdError::Other(msg.into())),
    }
}

/// Redis's zmpopGenericCommand; `numkeys_idx` is 1 for ZMPOP and 2 for BZMPOP.
fn zmpop_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[&[u8]],
    numkeys_idx: usize,
    block: bool,
) -> CmdResult {
    let numkeys = at_least_one(args[numkeys_idx], "numkeys should be greater than 0")?;
    let where_idx = (numkeys_idx as u64)
        .saturating_add(numkeys)
        .saturating_add(1);
    if where_idx >= args.len() as u64 {
        return Err(CmdError::Syntax);
    }
    let where_idx = where_idx as usize;
    let end = if is_kw(args[where_idx], "min") {
        End::Min
    } else if is_kw(args[where_idx], "max") {
        End::Max
    } else {
        return Err(CmdError::Syntax);
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < args.len() {
        let more = args.len() - 1 - j;
        if count.is_none() && is_kw(args[j], "count") && more > 0 {
            j += 1;
            count = Some(at_least_one(args[j], "count should be greater than 0")?);
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let count = Some(count.unwrap_or(1));
    let keys = &args[numkeys_idx + 1..where_idx];
    let shape = Shape {
        emit_key: true,
        nested: true,
        nil_when_empty: true,
    };
    if block {
        blocking_zpop(ctx, keys, args[1], end, count, shape)
    } else {
        zpop_generic(ctx, keys, end, count, shape)
    }
}

pub(crate) fn zmpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zmpop_generic(ctx, args, 1, false)
}

pub(crate) fn bzmpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zmpop_generic(ctx, args, 2, true)
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

pub(crate) fn zrandmember(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let Some(count_arg) = args.get(2) else {
        match read_zset(&mut ctx.keys, key)? {
            None => ctx.out.null(),
            Some(z) => {
                let r = rand::thread_rng().gen_range(0..z.len().max(1));
                match z.get(r) {
                    Some((m, _)) => ctx.out.bulk(m),
                    None => ctx.out.null(),
                }
            }
        }
        return Ok(());
    };
    let l = crate::args::range_arg(count_arg, -i64::MAX, i64::MAX)?;
    let withscores = match args.get(3) {
        None => false,
        Some(a) if args.len() == 4 && is_kw(a, "withscores") => true,
        Some(_) => return Err(CmdError::Syntax),
    };
    // Redis bounds the count only WITHSCORES (a bigger negative count without it
    // is refused below, past MAX_RANDOM_PICKS).
    if withscores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&l) {
        return Err(CmdError::OutOfRange);
    }
    let Some(z) = read_zset(&mut ctx.keys, key)? else {
        ctx.out.empty_array();
        return Ok(());
    };
    let size = z.len();
    if size == 0 {
        ctx.out.empty_array();
        return Ok(());
    }
    let (count, uniq) = if l >= 0 {
        (l as u64, true)
    } else {
        (l.unsigned_abs(), false)
    };
    if count == 0 {
        ctx.out.empty_array();
        return Ok(());
    }
    if !uniq && count > crate::args::MAX_RANDOM_PICKS && ctx.client.reply_limit == 0 {
        return Err(crate::args::too_many_picks());
    }
    let limit = ctx.client.reply_limit;
    let full = |out: &ferrokv_resp::ReplyBuf| limit > 0 && out.len() >= limit;
    let out = &mut *ctx.out;
    let mut rng = rand::thread_rng();
    let header = |out: &mut ferrokv_resp::ReplyBuf, n: u64| {
        if withscores && !out.is_resp3() {
            out.array((n * 2) as usize);
        } else {
            out.array(n as usize);
        }
    };
    if !uniq || count == 1 {
        header(out, count);
        if z.encoding() == "listpack" {
            // Rank lookups are linear in a listpack: index it once.
            let all = z.pairs();
            for _ in 0..count {
                if let Some(&(m, s)) = all.get(rng.gen_range(0..size)) {
                    emit(out, m, s, withscores);
                }
                if full(out) {
                    break;
                }
            }
        } else {
            for _ in 0..count {
                if let Some((m, s)) = z.get(rng.gen_range(0..size)) {
                    emit(out, m, s, withscores);
                }
                if full(out) {
                    break;
                }
            }
        }
        return Ok(());
    }
    if count >= size as u64 {
        header(out, size as u64);
        z.visit(0, size, false, &mut |m, s| {
            emit(out, m, s, withscores);
            true
        });
        return Ok(());
    }
    // Distinct members in random order.
    let count = count as usize;
    header(out, count as u64);
    for r in sample(&mut rng, size, count).into_iter() {
        if let Some((m, s)) = z.get(r) {
            emit(out, m, s, withscores);
        }
    }
    Ok(())
}
