//! List commands, following Redis 7.0's t_list.c: the same argument validation
//! order, replies and error texts.

use ferrokv_resp::ReplyBuf;

use crate::args::{is_kw, parse_i64};
use crate::blocking::{parse_timeout, Awaits, BlockRequest};
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::notify::{events as ev, Event};
use crate::types::list::{Elem, ListValue, Needle};
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("lpush", lpush),
    CommandDef::new("rpush", rpush),
    CommandDef::new("lpushx", lpushx),
    CommandDef::new("rpushx", rpushx),
    CommandDef::new("lpop", lpop),
    CommandDef::new("rpop", rpop),
    CommandDef::new("llen", llen),
    CommandDef::new("lrange", lrange),
    CommandDef::new("lindex", lindex),
    CommandDef::new("lset", lset),
    CommandDef::new("linsert", linsert),
    CommandDef::new("lrem", lrem),
    CommandDef::new("ltrim", ltrim),
    CommandDef::new("lpos", lpos),
    CommandDef::new("lmove", lmove),
    CommandDef::new("rpoplpush", rpoplpush),
    CommandDef::new("lmpop", lmpop),
    CommandDef::new("blpop", blpop),
    CommandDef::new("brpop", brpop),
    CommandDef::new("blmove", blmove),
    CommandDef::new("brpoplpush", brpoplpush),
    CommandDef::new("blmpop", blmpop),
];

/// The list at `key` for writing: `None` if missing, WRONGTYPE if another type.
fn list_write<'a>(keys: &'a mut Keys<'_>, key: &[u8]) -> CmdResult<Option<&'a mut ListValue>> {
    match keys.write(key)? {
        None => Ok(None),
        Some(e) => match e.into_full_mut() {
            Some(Value::List(l)) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The list at `key` for reading (counts a hit/miss and touches the key).
fn list_read<'a>(keys: &'a mut Keys<'_>, key: &[u8]) -> CmdResult<Option<&'a ListValue>> {
    match keys.read(key)? {
        None => Ok(None),
        Some(e) => match e.into_full_mut() {
            Some(Value::List(l)) => Ok(Some(l)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// After elements were removed by `event`: the change goes through the funnel, and
/// an emptied list is deleted (Redis never keeps one) with a `del` event after it.
fn removed(keys: &mut Keys<'_>, key: &[u8], now_empty: bool, event: Event) -> CmdResult {
    let db = keys.db;
    keys.modified(db, key, event);
    if now_empty {
        keys.delete(key)?;
        keys.notify(db, key, ev::DEL);
    } else {
        keys.mark_dirty(db, key)?;
    }
    Ok(())
}

/// The event of a pop from the head (`left`) or the tail.
fn pop_event(left: bool) -> Event {
    if left {
        ev::LPOP
    } else {
        ev::RPOP
    }
}

/// The event of a push onto the head (`left`) or the tail.
fn push_event(left: bool) -> Event {
    if left {
        ev::LPUSH
    } else {
        ev::RPUSH
    }
}

/// Pushes `values` onto the list at `key`, creating it (through the keyspace, so
/// blocked clients hear of it) unless `only_existing`. Returns the new length, or
/// `None` when the key was missing and `only_existing`.
fn push_values(
    ctx: &mut Ctx<'_, '_>,
    key: &[u8],
    values: &[&[u8]],
    left: bool,
    only_existing: bool,
) -> CmdResult<Option<usize>> {
    let db = ctx.keys.db;
    if let Some(l) = list_write(&mut ctx.keys, key)? {
        for v in values {
            l.push(v, left);
        }
        let n = l.len();
        ctx.keys.mark_dirty(db, key)?;
        ctx.keys.modified(db, key, push_event(left));
        return Ok(Some(n));
    }
    if only_existing {
        return Ok(None);
    }
    let mut l = ListValue::new(&ctx.engine.config);
    for v in values {
        l.push(v, left);
    }
    let n = l.len();
    ctx.keys.insert_new(key, Value::List(Box::new(l)), None)?;
    ctx.keys.modified(db, key, push_event(left));
    Ok(Some(n))
}

fn push_cmd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], left: bool, only_existing: bool) -> CmdResult {
    let n = push_values(ctx, args[1], &args[2..], left, only_existing)?;
    ctx.out.int(n.unwrap_or(0) as i64);
    Ok(())
}

fn lpush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, false)
}

fn rpush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, false)
}

fn lpushx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, true, true)
}

fn rpushx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    push_cmd(ctx, args, false, true)
}

fn bulk_elem(out: &mut ReplyBuf, e: Elem<'_>) {
    e.with_bytes(|b| out.bulk(b));
}

/// Redis's getPositiveLongFromObjectOrReply: `err` for a non-integer or a negative
/// value (Redis passes its message to both checks).
fn non_negative(arg: &[u8], err: impl FnOnce() -> CmdError) -> CmdResult<i64> {
    match parse_i64(arg) {
        Some(v) if v >= 0 => Ok(v),
        _ => Err(err()),
    }
}

fn lpos_error(text: &str) -> impl FnOnce() -> CmdError + '_ {
    move || CmdError::Other(text.into())
}

/// Redis's getRangeLongFromObjectOrReply with `1..=LONG_MAX`.
fn at_least_one(arg: &[u8], msg: &str) -> CmdResult<i64> {
    match parse_i64(arg) {
        Some(v) if v >= 1 => Ok(v),
        _ => Err(CmdError::Other(msg.into())),
    }
}

/// LEFT / RIGHT (getListPositionFromObjectOrReply); `true` for LEFT.
fn position(arg: &[u8]) -> CmdResult<bool> {
    if is_kw(arg, "left") {
        Ok(true)
    } else if is_kw(arg, "right") {
        Ok(false)
    } else {
        Err(CmdError::Syntax)
    }
}

fn pop_cmd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], left: bool) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::WrongArity(ctx.cmd.meta.name.clone()));
    }
    let count = match args.get(2) {
        Some(a) => Some(non_negative(a, || CmdError::NotPositive)? as usize),
        None => None,
    };
    let key = args[1];
    let out = &mut *ctx.out;
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        if count.is_some() {
            out.null_array();
        } else {
            out.null();
        }
        return Ok(());
    };
    match count {
        Some(0) => {
            out.empty_array();
            return Ok(());
        }
        None => match l.pop(left) {
            Some(v) => out.bulk(&v),
            None => out.null(),
        },
        Some(n) => {
            out.array(n.min(l.len()));
            l.drain(n, left, |e| bulk_elem(out, e));
        }
    }
    let empty = l.is_empty();
    removed(&mut ctx.keys, key, empty, pop_event(left))
}

fn lpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, true)
}

fn rpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    pop_cmd(ctx, args, false)
}

fn llen(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = list_read(&mut ctx.keys, args[1])?.map_or(0, ListValue::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn long_arg(arg: &[u8]) -> CmdResult<i64> {
    parse_i64(arg).ok_or(CmdError::NotInteger)
}

/// Redis's range rule (LRANGE, LTRIM): negative indexes from the tail, clamped;
/// `None` when the range is empty.
fn clamp_range(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return None;
    }
    Some((start as usize, end.min(len - 1) as usize))
}

fn lrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let start = long_arg(args[2])?;
    let end = long_arg(args[3])?;
    let out = &mut *ctx.out;
    let Some(l) = list_read(&mut ctx.keys, args[1])? else {
        out.empty_array();
        return Ok(());
    };
    match clamp_range(start, end, l.len()) {
        None => out.empty_array(),
        Some((s, e)) => {
            out.array(e - s + 1);
            for el in l.iter_from(s).take(e - s + 1) {
                bulk_elem(out, el);
            }
        }
    }
    Ok(())
}

fn lindex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let out = &mut *ctx.out;
    let Some(l) = list_read(&mut ctx.keys, args[1])? else {
        out.null();
        return Ok(());
    };
    let i = long_arg(args[2])?;
    match l.index(i).and_then(|i| l.get(i)) {
        Some(e) => bulk_elem(out, e),
        None => out.null(),
    }
    Ok(())
}

fn lset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    let i = long_arg(args[2])?;
    let Some(i) = l.index(i) else {
        return Err(CmdError::Other("index out of range".into()));
    };
    l.set(i, args[3]);
    ctx.keys.mark_dirty(ctx.keys.db, key)?;
    ctx.keys.changed(key, ev::LSET);
    ctx.out.ok();
    Ok(())
}

fn linsert(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let after = if is_kw(args[2], "after") {
        true
    } else if is_kw(args[2], "before") {
        false
    } else {
        return Err(CmdError::Syntax);
    };
    let key = args[1];
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let pivot = Needle::new(args[3]);
    let Some(at) = l.iter().position(|e| e.matches(&pivot)) else {
        ctx.out.int(-1);
        return Ok(());
    };
    l.insert(at + usize::from(after), args[4]);
    let n = l.len();
    ctx.keys.mark_dirty(ctx.keys.db, key)?;
    ctx.keys.changed(key, ev::LINSERT);
    ctx.out.int(n as i64);
    Ok(())
}

fn lrem(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let count = long_arg(args[2])?;
    let key = args[1];
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let needle = Needle::new(args[3]);
    // 0 removes all; LONG_MIN's negation overflows in Redis and removes all too.
    let limit = if count == 0 || count == i64::MIN {
        usize::MAX
    } else {
        usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX)
    };
    let len = l.len();
    let mut hits: Vec<usize> = if count < 0 {
        l.iter_rev()
            .enumerate()
            .filter(|(_, e)| e.matches(&needle))
            .map(|(i, _)| len - 1 - i)
            .take(limit)
            .collect()
    } else {
        l.iter()
            .enumerate()
            .filter(|(_, e)| e.matches(&needle))
            .map(|(i, _)| i)
            .take(limit)
            .collect()
    };
    if count < 0 {
        hits.reverse();
    }
    let n = hits.len();
    if n > 0 {
        l.remove_positions(&hits);
        let empty = l.is_empty();
        removed(&mut ctx.keys, key, empty, ev::LREM)?;
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn ltrim(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let start = long_arg(args[2])?;
    let end = long_arg(args[3])?;
    let key = args[1];
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        ctx.out.ok();
        return Ok(());
    };
    match clamp_range(start, end, l.len()) {
        None => {
            let n = l.len();
            l.discard(n, true);
        }
        Some((s, e)) => l.keep_range(s, e),
    }
    let empty = l.is_empty();
    removed(&mut ctx.keys, key, empty, ev::LTRIM)?;
    ctx.out.ok();
    Ok(())
}

fn lpos(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        let value = args.get(i + 1).copied();
        match value {
            Some(v) if is_kw(opt, "rank") => {
                rank = long_arg(v)?;
                if rank == 0 {
                    return Err(CmdError::Other(
                        "RANK can't be zero: use 1 to start from the first match, 2 from \
                         the second ... or use negative to start from the end of the list"
                            .into(),
                    ));
                }
            }
            Some(v) if is_kw(opt, "count") => {
                count = Some(non_negative(v, lpos_error("COUNT can't be negative"))?);
            }
            Some(v) if is_kw(opt, "maxlen") => {
                maxlen = non_negative(v, lpos_error("MAXLEN can't be negative"))?;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    // Negative ranks search from the tail. Redis negates a long, so LONG_MIN stays
    // negative (every match then counts as past the rank); wrapping keeps that.
    let from_tail = rank < 0;
    if from_tail {
        rank = rank.wrapping_neg();
    }
    let out = &mut *ctx.out;
    let Some(l) = list_read(&mut ctx.keys, args[1])? else {
        if count.is_some() {
            out.empty_array();
        } else {
            out.null();
        }
        return Ok(());
    };
    let needle = Needle::new(args[2]);
    let len = l.len();
    let limit = if maxlen == 0 {
        len
    } else {
        (maxlen as usize).min(len)
    };
    let elems: Box<dyn Iterator<Item = Elem<'_>>> = if from_tail {
        Box::new(l.iter_rev())
    } else {
        Box::new(l.iter())
    };
    let mut matches: i64 = 0;
    let mut found: Vec<usize> = Vec::new();
    for (index, e) in elems.take(limit).enumerate() {
        if !e.matches(&needle) {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        found.push(if from_tail { len - index - 1 } else { index });
        match count {
            None => break,
            Some(c) => {
                if c != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= c {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => {
            out.array(found.len());
            for f in found {
                out.int(f as i64);
            }
        }
        None => match found.first() {
            Some(&f) => out.int(f as i64),
            None => out.null(),
        },
    }
    Ok(())
}

/// LMOVE's body (lmoveGenericCommand): pops from `src` and pushes onto `dst`,
/// replying with the element, or nil when `src` is missing.
fn move_element(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
) -> CmdResult {
    let db = ctx.keys.db;
    if src == dst {
        // Rotating within one list: the key is never emptied, so it keeps its TTL.
        let Some(l) = list_write(&mut ctx.keys, src)? else {
            ctx.out.null();
            return Ok(());
        };
        let Some(v) = l.pop(from_left) else {
            ctx.out.null();
            return Ok(());
        };
        l.push(&v, to_left);
        ctx.keys.mark_dirty(db, src)?;
        ctx.keys.modified(db, src, push_event(to_left));
        ctx.keys.modified(db, src, pop_event(from_left));
        ctx.out.bulk(&v);
        return Ok(());
    }
    if list_write(&mut ctx.keys, src)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    // The destination's type is checked before anything is popped.
    list_write(&mut ctx.keys, dst)?;
    let Some(l) = list_write(&mut ctx.keys, src)? else {
        ctx.out.null();
        return Ok(());
    };
    let Some(v) = l.pop(from_left) else {
        ctx.out.null();
        return Ok(());
    };
    let empty = l.is_empty();
    push_values(ctx, dst, &[&v], to_left, false)?;
    removed(&mut ctx.keys, src, empty, pop_event(from_left))?;
    ctx.out.bulk(&v);
    Ok(())
}

fn lmove(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let from = position(args[3])?;
    let to = position(args[4])?;
    move_element(ctx, args[1], args[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    move_element(ctx, args[1], args[2], false, true)
}

/// Pops up to `count` elements from the list at `key` (known non-empty) and replies
/// `[key, [elements]]` (listPopRangeAndReplyWithKey).
fn pop_range_with_key(ctx: &mut Ctx<'_, '_>, key: &[u8], left: bool, count: usize) -> CmdResult {
    let out = &mut *ctx.out;
    let Some(l) = list_write(&mut ctx.keys, key)? else {
        return Ok(());
    };
    out.array(2);
    out.bulk(key);
    let n = count.min(l.len());
    out.array(n);
    l.drain(count, left, |e| bulk_elem(out, e));
    let empty = l.is_empty();
    removed(&mut ctx.keys, key, empty, pop_event(left))?;
    // LMPOP / BLMPOP are logged as [LR]POP key count (never blocking on replay).
    ctx.keys.propagate_as(vec![
        if left {
            b"LPOP".to_vec()
        } else {
            b"RPOP".to_vec()
        },
        key.to_vec(),
        n.to_string().into_bytes(),
    ]);
    Ok(())
}

/// Parsed `numkeys key [key ...] LEFT|RIGHT [COUNT count]`.
struct MpopArgs<'a> {
    keys: Vec<&'a [u8]>,
    left: bool,
    count: usize,
}

/// lmpopGenericCommand's parsing; `args` starts at numkeys.
fn parse_mpop<'a>(args: &[&'a [u8]]) -> CmdResult<MpopArgs<'a>> {
    let numkeys = at_least_one(
        args.first().copied().unwrap_or(b""),
        "numkeys should be greater than 0",
    )?;
    let rest = &args[1..];
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys >= rest.len() {
        return Err(CmdError::Syntax);
    }
    let keys = rest[..numkeys].to_vec();
    let left = position(rest[numkeys])?;
    let mut count: Option<i64> = None;
    let mut i = numkeys + 1;
    while i < rest.len() {
        match rest.get(i + 1) {
            Some(v) if count.is_none() && is_kw(rest[i], "count") => {
                count = Some(at_least_one(v, "count should be greater than 0")?);
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 2;
    }
    Ok(MpopArgs {
        keys,
        left,
        count: count.map_or(1, |c| usize::try_from(c).unwrap_or(usize::MAX)),
    })
}

/// The first non-empty list among `keys` (WRONGTYPE stops the search, as in Redis).
/// While a blocked client is being served, only the key that became ready counts,
/// and another type there is nothing to take.
fn first_nonempty<'k>(ctx: &mut Ctx<'_, '_>, keys: &[&'k [u8]]) -> CmdResult<Option<&'k [u8]>> {
    let serving = ctx.client.serving_key.take();
    let found = (|| {
        for &key in keys {
            let list = match &serving {
                Some(s) if s.as_slice() != key => continue,
                Some(_) => list_write(&mut ctx.keys, key).unwrap_or(None),
                None => list_write(&mut ctx.keys, key)?,
            };
            if list.is_some_and(|l| !l.is_empty()) {
                return Ok(Some(key));
            }
        }
        Ok(None)
    })();
    ctx.client.serving_key = serving;
    found
}

fn lmpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let m = parse_mpop(&args[1..])?;
    match first_nonempty(ctx, &m.keys)? {
        Some(key) => pop_range_with_key(ctx, key, m.left, m.count),
        None => {
            ctx.out.null_array();
            Ok(())
        }
    }
}

/// Nothing to serve: inside MULTI/EXEC (or a script) reply `null` as Redis does;
/// otherwise ask the server to park the client on `keys` (no reply now).
fn block_or_null(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], timeout_ms: Option<u64>, null_array: bool) {
    if ctx.client.in_exec {
        if null_array {
            ctx.out.null_array();
        } else {
            ctx.out.null();
        }
        return;
    }
    ctx.client.block = Some(BlockRequest::on_keys(
        ctx.client.db,
        keys,
        Awaits::ListPop,
        timeout_ms,
    ));
}

/// BLPOP / BRPOP: the timeout is the last argument and is validated first.
fn blocking_pop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], left: bool) -> CmdResult {
    let (last, keys) = match args[1..].split_last() {
        Some(x) => x,
        None => return Err(CmdError::WrongArity(ctx.cmd.meta.name.clone())),
    };
    let timeout = parse_timeout(last)?;
    if let Some(key) = first_nonempty(ctx, keys)? {
        let out = &mut *ctx.out;
        if let Some(l) = list_write(&mut ctx.keys, key)? {
            if let Some(v) = l.pop(left) {
                out.array(2);
                out.bulk(key);
                out.bulk(&v);
            }
            let empty = l.is_empty();
            removed(&mut ctx.keys, key, empty, pop_event(left))?;
            let pop: &[u8] = if left { b"LPOP" } else { b"RPOP" };
            ctx.keys.propagate_as(vec![pop.to_vec(), key.to_vec()]);
        }
        return Ok(());
    }
    block_or_null(ctx, keys, timeout, true);
    Ok(())
}

fn blpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    blocking_pop(ctx, args, true)
}

fn brpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    blocking_pop(ctx, args, false)
}

/// blmoveGenericCommand: moves now when `src` has data; otherwise blocks on `src`.
fn blocking_move(
    ctx: &mut Ctx<'_, '_>,
    src: &[u8],
    dst: &[u8],
    from_left: bool,
    to_left: bool,
    timeout: Option<u64>,
) -> CmdResult {
    if first_nonempty(ctx, &[src])?.is_some() {
        return move_element(ctx, src, dst, from_left, to_left);
    }
    block_or_null(ctx, &[src], timeout, false);
    Ok(())
}

fn blmove(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let from = position(args[3])?;
    let to = position(args[4])?;
    let timeout = parse_timeout(args[5])?;
    blocking_move(ctx, args[1], args[2], from, to, timeout)?;
    // Logged without the timeout, as LMOVE.
    let mut argv = vec![b"LMOVE".to_vec()];
    argv.extend(args[1..5].iter().map(|a| a.to_vec()));
    ctx.keys.propagate_as(argv);
    Ok(())
}

fn brpoplpush(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let timeout = parse_timeout(args[3])?;
    blocking_move(ctx, args[1], args[2], false, true, timeout)?;
    ctx.keys.propagate_as(vec![
        b"RPOPLPUSH".to_vec(),
        args[1].to_vec(),
        args[2].to_vec(),
    ]);
    Ok(())
}

fn blmpop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // BLMPOP timeout numkeys ...: numkeys, keys, direction and COUNT are validated
    // before the timeout.
    let m = parse_mpop(&args[2..])?;
    let timeout = parse_timeout(args[1])?;
    match first_nonempty(ctx, &m.keys)? {
        Some(key) => pop_range_with_key(ctx, key, m.left, m.count),
        None => {
            block_or_null(ctx, &m.keys, timeout, true);
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::blocking::{Awaits, BlockRequest};
    use crate::client::Client;
    use crate::engine::Engine;
    use crate::hooks::NoHooks;
    use crate::testkit::{run, run_with, setup};
    use ferrokv_resp::Protocol;

    fn run_in(e: &Engine, c: &mut Client, proto: Protocol, line: &str) -> String {
        run_with(e, c, &NoHooks, proto, line)
    }

    #[test]
    fn blocking_pops_serve_data_at_once() {
        let (e, mut c) = setup();
        run(&e, &mut c, "RPUSH a 1 2 3");
        run(&e, &mut c, "RPUSH b x");
        assert_eq!(
            run(&e, &mut c, "BLPOP nx a 0"),
            "*2\r\n$1\r\na\r\n$1\r\n1\r\n"
        );
        assert_eq!(
            run(&e, &mut c, "BRPOP nx b a 1"),
            "*2\r\n$1\r\nb\r\n$1\r\nx\r\n"
        );
        assert_eq!(run(&e, &mut c, "EXISTS b"), ":0\r\n");
        assert_eq!(
            run(&e, &mut c, "BLMPOP 0 2 nx a RIGHT COUNT 5"),
            "*2\r\n$1\r\na\r\n*2\r\n$1\r\n3\r\n$1\r\n2\r\n"
        );
        assert_eq!(run(&e, &mut c, "EXISTS a"), ":0\r\n");
        run(&e, &mut c, "RPUSH s p q");
        assert_eq!(run(&e, &mut c, "BLMOVE s d LEFT RIGHT 0"), "$1\r\np\r\n");
        assert_eq!(run(&e, &mut c, "BRPOPLPUSH s d 0"), "$1\r\nq\r\n");
        assert_eq!(
            run(&e, &mut c, "LRANGE d 0 -1"),
            "*2\r\n$1\r\nq\r\n$1\r\np\r\n"
        );
        assert!(c.block.is_none());
    }

    #[test]
    fn blocking_commands_in_exec_reply_nil() {
        let (e, mut c) = setup();
        c.in_exec = true;
        for (proto, arr, bulk) in [
            (Protocol::Resp2, "*-1\r\n", "$-1\r\n"),
            (Protocol::Resp3, "_\r\n", "_\r\n"),
        ] {
            assert_eq!(run_in(&e, &mut c, proto, "BLPOP nx 0"), arr);
            assert_eq!(run_in(&e, &mut c, proto, "BRPOP nx nx2 1"), arr);
            assert_eq!(run_in(&e, &mut c, proto, "BLMPOP 0 1 nx LEFT"), arr);
            assert_eq!(run_in(&e, &mut c, proto, "BLMOVE nx d LEFT RIGHT 0"), bulk);
            assert_eq!(run_in(&e, &mut c, proto, "BRPOPLPUSH nx d 0"), bulk);
        }
        assert!(c.block.is_none());
    }

    #[test]
    fn blocking_commands_park_without_reply() {
        let (e, mut c) = setup();
        let cases: [(&str, &[&str], Option<u64>); 5] = [
            ("BLPOP k1 k2 k1 0", &["k1", "k2"], None),
            ("BRPOP k1 1.5", &["k1"], Some(1500)),
            ("BLMOVE k1 d LEFT RIGHT 0.25", &["k1"], Some(250)),
            ("BRPOPLPUSH k2 d 0", &["k2"], None),
            ("BLMPOP 2 2 k1 k2 LEFT COUNT 3", &["k1", "k2"], Some(2000)),
        ];
        for (line, keys, timeout_ms) in cases {
            c.block = None;
            assert_eq!(run(&e, &mut c, line), "", "{line}");
            let keys: Vec<&[u8]> = keys.iter().map(|k| k.as_bytes()).collect();
            let want = BlockRequest::on_keys(0, &keys, Awaits::ListPop, timeout_ms);
            assert_eq!(c.block.as_ref(), Some(&want), "{line}");
        }
        // Errors are replied and never park.
        c.block = None;
        run(&e, &mut c, "SET s v");
        assert!(run(&e, &mut c, "BLPOP nx s 0").starts_with("-WRONGTYPE"));
        assert!(run(&e, &mut c, "BLPOP nx -1").starts_with("-ERR timeout is negative"));
        assert!(run(&e, &mut c, "BLMPOP x 1 nx LEFT").starts_with("-ERR timeout"));
        assert!(c.block.is_none());
    }
}
