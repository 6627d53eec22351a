//! Set commands.

use std::collections::HashSet;

use rand::seq::SliceRandom;

use crate::args::{is_kw, parse_i64};
use crate::commands::keys::parse_scan_opts;
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::keyspace::Lookup;
use crate::notify::{events as ev, Event};
use crate::types::hash::commands::scan_reply;
use crate::types::set::{max_intset, Member, SetValue};
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("sadd", sadd),
    CommandDef::new("srem", srem),
    CommandDef::new("smembers", smembers),
    CommandDef::new("sismember", sismember),
    CommandDef::new("smismember", smismember),
    CommandDef::new("scard", scard),
    CommandDef::new("spop", spop),
    CommandDef::new("srandmember", srandmember),
    CommandDef::new("smove", smove),
    CommandDef::new("sinter", sinter),
    CommandDef::new("sintercard", sintercard),
    CommandDef::new("sinterstore", sinterstore),
    CommandDef::new("sunion", sunion),
    CommandDef::new("sunionstore", sunionstore),
    CommandDef::new("sdiff", sdiff),
    CommandDef::new("sdiffstore", sdiffstore),
    CommandDef::new("sscan", sscan),
];

fn as_set(node: Option<&mut crate::keyspace::Node>) -> CmdResult<Option<&mut SetValue>> {
    match node {
        None => Ok(None),
        Some(node) => match node.full_value_mut() {
            Some(Value::Set(s)) => Ok(Some(s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The set at `key` for reading: `None` if missing, WRONGTYPE if another type.
fn read_set<'c>(keys: &'c mut Keys<'_>, key: &[u8]) -> CmdResult<Option<&'c mut SetValue>> {
    as_set(keys.read(key)?.map(|e| e.node))
}

/// The set at `key` again, once [`read_set`] counted the access.
fn peek_set<'c>(keys: &'c mut Keys<'_>, key: &[u8]) -> CmdResult<Option<&'c mut SetValue>> {
    let db = keys.db;
    as_set(keys.lookup_in(db, key, Lookup::NoTouch)?.map(|e| e.node))
}

/// The set at `key` for writing.
fn write_set<'c>(keys: &'c mut Keys<'_>, key: &[u8]) -> CmdResult<Option<&'c mut SetValue>> {
    as_set(keys.write(key)?.map(|e| e.node))
}

/// Stores `set` at `dst` (any old value replaced, TTL cleared), or deletes `dst`
/// when the result is empty; replies with the size.
fn store_result(ctx: &mut Ctx<'_, '_>, dst: &[u8], set: SetValue, event: Event) -> CmdResult {
    let n = set.len();
    if n == 0 {
        if ctx.keys.delete(dst)? {
            ctx.keys.changed(dst, ev::DEL);
        }
    } else {
        ctx.keys.set(dst, Value::Set(Box::new(set)), false)?;
        ctx.keys.changed(dst, event);
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn reply_set(ctx: &mut Ctx<'_, '_>, set: &SetValue) {
    ctx.out.set(set.len());
    for m in set.iter() {
        m.reply(ctx.out);
    }
}

fn sadd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let max = max_intset(&ctx.engine.config);
    let key = args[1];
    let exists = write_set(&mut ctx.keys, key)?.is_some();
    if !exists {
        ctx.keys.insert_new(key, Value::Set(Box::default()), None)?;
    }
    let mut added = 0;
    if let Some(s) = write_set(&mut ctx.keys, key)? {
        for m in &args[2..] {
            if s.insert(m, max) {
                added += 1;
            }
        }
    }
    if exists && added > 0 {
        ctx.keys.mark_dirty(ctx.keys.db, key)?;
    }
    if added > 0 {
        ctx.keys.changed(key, ev::SADD);
    }
    ctx.out.int(added);
    Ok(())
}

fn srem(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (removed, empty) = match write_set(&mut ctx.keys, key)? {
        None => (0, false),
        Some(s) => {
            let mut n = 0;
            for m in &args[2..] {
                if s.remove(m) {
                    n += 1;
                    if s.is_empty() {
                        break;
                    }
                }
            }
            (n, s.is_empty())
        }
    };
    if removed > 0 {
        ctx.keys.changed(key, ev::SREM);
    }
    if empty {
        ctx.keys.delete(key)?;
        ctx.keys.notify(ctx.keys.db, key, ev::DEL);
    } else if removed > 0 {
        ctx.keys.mark_dirty(ctx.keys.db, key)?;
    }
    ctx.out.int(removed);
    Ok(())
}

fn smembers(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match read_set(&mut ctx.keys, args[1])? {
        None => ctx.out.set(0),
        Some(s) => {
            ctx.out.set(s.len());
            for m in s.iter() {
                m.reply(ctx.out);
            }
        }
    }
    Ok(())
}

fn sismember(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let found = read_set(&mut ctx.keys, args[1])?.is_some_and(|s| s.contains(args[2]));
    ctx.out.int(i64::from(found));
    Ok(())
}

fn smismember(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let s = read_set(&mut ctx.keys, args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        ctx.out
            .int(i64::from(s.as_ref().is_some_and(|s| s.contains(m))));
    }
    Ok(())
}

fn scard(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = read_set(&mut ctx.keys, args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn spop(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        2 => {}
        3 => return spop_count(ctx, args[1], args[2]),
        _ => return Err(CmdError::Syntax),
    }
    let key = args[1];
    let mut rng = rand::thread_rng();
    let (popped, empty) = match write_set(&mut ctx.keys, key)? {
        None => (None, false),
        Some(s) => (s.pop_random(&mut rng), s.is_empty()),
    };
    match popped {
        None => ctx.out.null(),
        Some(m) => {
            ctx.out.bulk(&m);
            // The random choice is not replayed: the member is (SREM).
            ctx.keys
                .propagate_as(vec![b"SREM".to_vec(), key.to_vec(), m.to_vec()]);
            ctx.keys.changed(key, ev::SPOP);
            if empty {
                ctx.keys.delete(key)?;
                ctx.keys.notify(ctx.keys.db, key, ev::DEL);
            } else {
                ctx.keys.mark_dirty(ctx.keys.db, key)?;
            }
        }
    }
    Ok(())
}

fn spop_count(ctx: &mut Ctx<'_, '_>, key: &[u8], count: &[u8]) -> CmdResult {
    let count = parse_i64(count)
        .filter(|&c| c >= 0)
        .ok_or(CmdError::NotPositive)?;
    let max = max_intset(&ctx.engine.config);
    let mut rng = rand::thread_rng();
    let record = ctx.keys.mode.propagating;
    let Some(s) = write_set(&mut ctx.keys, key)? else {
        ctx.out.set(0);
        return Ok(());
    };
    if count == 0 {
        ctx.out.set(0);
        return Ok(());
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    if count >= s.len() {
        // Redis replies with the union of the set alone (a fresh set, so an
        // all-integer result comes back in intset order) and deletes the key.
        let mut all = SetValue::new();
        for m in s.iter() {
            m.with_bytes(|b| all.insert(b, max));
        }
        reply_set(ctx, &all);
        ctx.keys.changed(key, ev::SPOP);
        ctx.keys.delete(key)?;
        ctx.keys.notify(ctx.keys.db, key, ev::DEL);
        ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        return Ok(());
    }
    let popped = s.pop_many(count, &mut rng);
    ctx.out.set(popped.len());
    for m in &popped {
        ctx.out.bulk(m);
    }
    ctx.keys.mark_dirty(ctx.keys.db, key)?;
    ctx.keys.changed(key, ev::SPOP);
    // Logged as SREM of the members popped, 1024 per command as Redis does.
    for chunk in popped.chunks(1024).filter(|_| record) {
        let mut argv = vec![b"SREM".to_vec(), key.to_vec()];
        argv.extend(chunk.iter().cloned());
        ctx.keys.propagate_as(argv);
    }
    Ok(())
}

fn srandmember(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match args.len() {
        2 => {}
        3 => return srandmember_count(ctx, args[1], args[2]),
        _ => return Err(CmdError::Syntax),
    }
    let mut rng = rand::thread_rng();
    match read_set(&mut ctx.keys, args[1])?.and_then(|s| s.random(&mut rng)) {
        Some(m) => m.reply(ctx.out),
        None => ctx.out.null(),
    }
    Ok(())
}

fn srandmember_count(ctx: &mut Ctx<'_, '_>, key: &[u8], count: &[u8]) -> CmdResult {
    let count = crate::args::range_arg(count, -i64::MAX, i64::MAX)?;
    let Some(s) = read_set(&mut ctx.keys, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let n = usize::try_from(count.unsigned_abs()).unwrap_or(usize::MAX);
    if n == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    if count < 0
        && count.unsigned_abs() > crate::args::MAX_RANDOM_PICKS
        && ctx.client.reply_limit == 0
    {
        return Err(crate::args::too_many_picks());
    }
    let mut rng = rand::thread_rng();
    if count < 0 || n == 1 {
        ctx.out.array(n);
        for _ in 0..n {
            if let Some(m) = s.random(&mut rng) {
                m.reply(ctx.out);
            }
            if ctx.client.reply_full(ctx.out) {
                break;
            }
        }
        return Ok(());
    }
    let size = s.len();
    if n >= size {
        ctx.out.array(size);
        for m in s.iter() {
            m.reply(ctx.out);
        }
        return Ok(());
    }
    ctx.out.array(n);
    if n * 3 > size {
        let mut all: Vec<Member<'_>> = s.iter().collect();
        let (chosen, _) = all.partial_shuffle(&mut rng, n);
        for m in chosen.iter() {
            m.reply(ctx.out);
        }
    } else {
        let mut seen: HashSet<Member<'_>> = HashSet::with_capacity(n);
        while seen.len() < n {
            let Some(m) = s.random(&mut rng) else { break };
            if seen.insert(m) {
                m.reply(ctx.out);
            }
        }
    }
    Ok(())
}

fn smove(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (src, dst, member) = (args[1], args[2], args[3]);
    let max = max_intset(&ctx.engine.config);
    // A missing source answers 0 before any type check (even of the destination).
    if ctx.keys.write(src)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    write_set(&mut ctx.keys, src)?;
    let dst_exists = write_set(&mut ctx.keys, dst)?.is_some();
    if src == dst {
        let found = write_set(&mut ctx.keys, src)?.is_some_and(|s| s.contains(member));
        ctx.out.int(i64::from(found));
        return Ok(());
    }
    let (removed, empty) = match write_set(&mut ctx.keys, src)? {
        Some(s) => (s.remove(member), s.is_empty()),
        None => (false, false),
    };
    if !removed {
        ctx.out.int(0);
        return Ok(());
    }
    let db = ctx.keys.db;
    ctx.keys.notify(db, src, ev::SREM);
    if empty {
        ctx.keys.delete(src)?;
        ctx.keys.notify(db, src, ev::DEL);
    } else {
        ctx.keys.mark_dirty(db, src)?;
    }
    if !dst_exists {
        ctx.keys.insert_new(dst, Value::Set(Box::default()), None)?;
    }
    ctx.keys.touched(db, src);
    let added = write_set(&mut ctx.keys, dst)?.is_some_and(|s| s.insert(member, max));
    if added {
        if dst_exists {
            ctx.keys.mark_dirty(db, dst)?;
        }
        ctx.keys.modified(db, dst, ev::SADD);
    }
    ctx.out.int(1);
    Ok(())
}

/// Looks every key up once (counting the access) and type-checks them all, as
/// Redis does before computing anything; returns each set's size (`None`: missing).
fn sizes(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]]) -> CmdResult<Vec<Option<usize>>> {
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        out.push(read_set(&mut ctx.keys, k)?.map(|s| s.len()));
    }
    Ok(out)
}

/// What SINTER and friends do with the intersection.
enum InterOut<'a> {
    Reply,
    Card(usize),
    Store(&'a [u8]),
}

fn inter_generic(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], out: InterOut<'_>) -> CmdResult {
    let sizes = sizes(ctx, keys)?;
    let max = max_intset(&ctx.engine.config);
    let mut members: Vec<Vec<u8>> = Vec::new();
    if sizes.iter().all(Option::is_some) {
        // Walk the smallest set, keep what every other set holds.
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| sizes[i]);
        if let Some((&first, rest)) = order.split_first() {
            if let Some(s) = peek_set(&mut ctx.keys, keys[first])? {
                members = s.members();
            }
            for &i in rest {
                if members.is_empty() {
                    break;
                }
                if let Some(s) = peek_set(&mut ctx.keys, keys[i])? {
                    members.retain(|m| s.contains(m));
                }
            }
        }
    }
    match out {
        InterOut::Card(limit) => {
            let n = if limit > 0 {
                members.len().min(limit)
            } else {
                members.len()
            };
            ctx.out.int(n as i64);
        }
        InterOut::Reply => {
            ctx.out.set(members.len());
            for m in &members {
                ctx.out.bulk(m);
            }
        }
        InterOut::Store(dst) => {
            let mut set = SetValue::new();
            for m in &members {
                set.insert(m, max);
            }
            store_result(ctx, dst, set, ev::SINTERSTORE)?;
        }
    }
    Ok(())
}

fn sinter(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    inter_generic(ctx, &args[1..], InterOut::Reply)
}

fn sinterstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    inter_generic(ctx, &args[2..], InterOut::Store(args[1]))
}

fn sintercard(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let bad_numkeys = || CmdError::Other("numkeys should be greater than 0".into());
    let numkeys = parse_i64(args[1]).ok_or_else(bad_numkeys)?;
    if numkeys < 1 {
        return Err(bad_numkeys());
    }
    let numkeys = usize::try_from(numkeys).unwrap_or(usize::MAX);
    if numkeys > args.len() - 2 {
        return Err(CmdError::Other(
            "Number of keys can't be greater than number of args".into(),
        ));
    }
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < args.len() {
        if is_kw(args[i], "limit") && i + 1 < args.len() {
            let bad = || CmdError::Other("LIMIT can't be negative".into());
            let l = parse_i64(args[i + 1]).ok_or_else(bad)?;
            if l < 0 {
                return Err(bad());
            }
            limit = usize::try_from(l).unwrap_or(usize::MAX);
            i += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    inter_generic(ctx, &args[2..2 + numkeys], InterOut::Card(limit))
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Diff,
}

fn union_diff(ctx: &mut Ctx<'_, '_>, keys: &[&[u8]], dst: Option<&[u8]>, op: Op) -> CmdResult {
    let sizes = sizes(ctx, keys)?;
    let max = max_intset(&ctx.engine.config);
    let mut result = SetValue::new();
    match op {
        Op::Union => {
            for k in keys {
                if let Some(s) = peek_set(&mut ctx.keys, k)? {
                    for m in s.iter() {
                        m.with_bytes(|b| result.insert(b, max));
                    }
                }
            }
        }
        Op::Diff => {
            let first = sizes.first().copied().flatten().unwrap_or(0);
            // Redis's choice between its two algorithms decides the result's
            // encoding (adding then removing may leave a hashtable that adding
            // only the survivors would not have produced), so it is made the same way.
            let present = sizes.iter().flatten().count();
            let algo_one = first * present / 2 <= sizes.iter().flatten().sum::<usize>();
            if first > 0 {
                if let Some(s) = peek_set(&mut ctx.keys, keys[0])? {
                    let mut survivors = s.members();
                    if algo_one {
                        for k in &keys[1..] {
                            if survivors.is_empty() {
                                break;
                            }
                            if let Some(o) = peek_set(&mut ctx.keys, k)? {
                                survivors.retain(|m| !o.contains(m));
                            }
                        }
                    }
                    for m in &survivors {
                        result.insert(m, max);
                    }
                }
                if !algo_one {
                    for k in &keys[1..] {
                        if result.is_empty() {
                            break;
                        }
                        if let Some(o) = peek_set(&mut ctx.keys, k)? {
                            for m in o.members() {
                                result.remove(&m);
                            }
                        }
                    }
                }
            }
        }
    }
    match dst {
        Some(dst) => store_result(
            ctx,
            dst,
            result,
            if op == Op::Union {
                ev::SUNIONSTORE
            } else {
                ev::SDIFFSTORE
            },
        ),
        None => {
            reply_set(ctx, &result);
            Ok(())
        }
    }
}

fn sunion(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[1..], None, Op::Union)
}

fn sunionstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[2..], Some(args[1]), Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[1..], None, Op::Diff)
}

fn sdiffstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    union_diff(ctx, &args[2..], Some(args[1]), Op::Diff)
}

fn sscan(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::args::scan_cursor(args[2])?;
    let Some(s) = read_set(&mut ctx.keys, args[1])? else {
        scan_reply(ctx, 0, &[]);
        return Ok(());
    };
    let o = parse_scan_opts(&args[3..], false)?;
    let keep = |m: &[u8]| o.pattern.is_none_or(|p| glob_match(p, m, false));
    let mut items: Vec<Vec<u8>> = Vec::new();
    let next = match &*s {
        SetValue::Intset(i) => {
            let mut b = itoa::Buffer::new();
            for v in i.iter() {
                let m = b.format(v).as_bytes();
                if keep(m) {
                    items.push(m.to_vec());
                }
            }
            0
        }
        SetValue::Packed(p) => {
            // Small enough to return whole, as Redis's scan of a small table does.
            items.extend(p.iter().filter(|m| keep(m)).map(<[u8]>::to_vec));
            0
        }
        SetValue::Table(t) => {
            // As Redis: visit buckets until COUNT members were gathered or 10*COUNT
            // buckets were visited; filter afterwards.
            let mut cursor = cursor;
            let mut budget = o.count.saturating_mul(10);
            let mut gathered: Vec<&[u8]> = Vec::new();
            loop {
                cursor = t.scan(cursor, |m| gathered.push(m.as_bytes()));
                budget = budget.saturating_sub(1);
                if cursor == 0 || budget == 0 || gathered.len() >= o.count {
                    break;
                }
            }
            items.extend(gathered.into_iter().filter(|m| keep(m)).map(<[u8]>::to_vec));
            cursor
        }
    };
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    scan_reply(ctx, next, &refs);
    Ok(())
}
