//! Consumer-group commands: XGROUP, XACK, XPENDING, XCLAIM, XAUTOCLAIM, as Redis
//! 7.0's t_stream.c implements them (argument checks in its order, replies,
//! events, and the XCLAIM / XGROUP SETID commands it propagates instead).

use super::commands::{emit_entry, read_stream, setid_argv, text, write_stream, xclaim_argv};
use super::id::{interval_id, loose_id, range_end, range_start, strict_id, StreamId};
use super::{Group, Nack, StreamValue, INVALID_ENTRIES_READ};
use crate::args::{c_str, int_arg, is_c_kw};
use crate::commands::reply_help;
use crate::ctx::{Ctx, Propagate};
use crate::error::{CmdError, CmdResult};
use crate::notify::events as ev;
use crate::types::Value;

// ---------------------------------------------------------------------------
// XGROUP

/// What every XGROUP subcommand but HELP checks first (xgroupCommand's common
/// part): options, the key (which must exist unless MKSTREAM), the group for
/// the subcommands that need it.
struct XgroupArgs {
    mkstream: bool,
    entries_read: i64,
}

fn xgroup_common(
    ctx: &mut Ctx<'_, '_>,
    args: &[&[u8]],
    needs_group: bool,
) -> CmdResult<XgroupArgs> {
    let create = is_c_kw(args[1], "create");
    let setid = is_c_kw(args[1], "setid");
    let mut a = XgroupArgs {
        mkstream: false,
        entries_read: INVALID_ENTRIES_READ,
    };
    let mut i = 5;
    while i < args.len() {
        if create && is_c_kw(args[i], "mkstream") {
            a.mkstream = true;
            i += 1;
        } else if (create || setid) && is_c_kw(args[i], "entriesread") && i + 1 < args.len() {
            a.entries_read = int_arg(args[i + 1])?;
            if a.entries_read < 0 && a.entries_read != INVALID_ENTRIES_READ {
                return Err(CmdError::EntriesReadNegative);
            }
            i += 2;
        } else {
            return Err(CmdError::subcommand_syntax(args));
        }
    }
    let (key, group) = (args[2], args[3]);
    let s = write_stream(&mut ctx.keys, key)?;
    if !a.mkstream {
        let Some(s) = s else {
            return Err(CmdError::XgroupNoKey);
        };
        if needs_group && !s.groups.contains_key(group) {
            return Err(CmdError::NoGroupForKey(text(group), text(key)));
        }
    }
    Ok(a)
}

pub(crate) fn xgroup_create(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let a = xgroup_common(ctx, args, false)?;
    if !(5..=8).contains(&args.len()) {
        return Err(CmdError::subcommand_syntax(args));
    }
    let (key, group) = (args[2], args[3]);
    let db = ctx.keys.db;
    let last = write_stream(&mut ctx.keys, key)?.map(|s| s.last_id);
    let id = if c_str(args[4]) == b"$" {
        last.unwrap_or(StreamId::ZERO)
    } else {
        strict_id(args[4])?
    };
    if last.is_none() {
        ctx.keys
            .add_new(key, Value::Stream(Box::new(StreamValue::new())))?;
        ctx.keys.touched(db, key);
    }
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    if s.groups.contains_key(group) {
        return Err(CmdError::BusyGroup);
    }
    s.groups
        .insert(group.to_vec(), Group::new(id, a.entries_read));
    ctx.out.ok();
    ctx.keys.counted(db, key, 1)?;
    ctx.keys.notify(db, key, ev::XGROUP_CREATE);
    Ok(())
}

pub(crate) fn xgroup_setid(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let a = xgroup_common(ctx, args, true)?;
    if args.len() != 5 && args.len() != 7 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let (key, group) = (args[2], args[3]);
    let db = ctx.keys.db;
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let id = if c_str(args[4]) == b"$" {
        s.last_id
    } else {
        loose_id(args[4], 0)?
    };
    if let Some(g) = s.groups.get_mut(group) {
        g.last_id = id;
        g.entries_read = a.entries_read;
    }
    ctx.out.ok();
    ctx.keys.counted(db, key, 1)?;
    ctx.keys.notify(db, key, ev::XGROUP_SETID);
    Ok(())
}

pub(crate) fn xgroup_destroy(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xgroup_common(ctx, args, false)?;
    let (key, group) = (args[2], args[3]);
    let db = ctx.keys.db;
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    if s.groups.remove(group).is_some() {
        ctx.out.int(1);
        ctx.keys.counted(db, key, 1)?;
        ctx.keys.notify(db, key, ev::XGROUP_DESTROY);
        // Clients blocked in XREADGROUP on it get their NOGROUP error.
        ctx.keys.signal_ready(db, key);
    } else {
        ctx.out.int(0);
    }
    Ok(())
}

pub(crate) fn xgroup_createconsumer(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xgroup_common(ctx, args, true)?;
    let (key, group, consumer) = (args[2], args[3], args[4]);
    let db = ctx.keys.db;
    let now = ctx.now_ms();
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let created = s
        .groups
        .get_mut(group)
        .is_some_and(|g| g.create_consumer(consumer, now));
    ctx.out.int(i64::from(created));
    if created {
        ctx.keys.counted(db, key, 1)?;
        ctx.keys.notify(db, key, ev::XGROUP_CREATECONSUMER);
    }
    Ok(())
}

pub(crate) fn xgroup_delconsumer(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xgroup_common(ctx, args, true)?;
    let (key, group, consumer) = (args[2], args[3], args[4]);
    let db = ctx.keys.db;
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let pending = s
        .groups
        .get_mut(group)
        .and_then(|g| g.delete_consumer(consumer));
    ctx.out.int(pending.unwrap_or(0) as i64);
    if pending.is_some() {
        ctx.keys.counted(db, key, 1)?;
        ctx.keys.notify(db, key, ev::XGROUP_DELCONSUMER);
    }
    Ok(())
}

pub(crate) fn xgroup_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(
        ctx,
        &[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Prints this help.",
        ],
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// XACK

pub(crate) fn xack(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (key, group) = (args[1], args[2]);
    let has_group = read_stream(&mut ctx.keys, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[3..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let db = ctx.keys.db;
    let Some(g) = read_stream(&mut ctx.keys, key)?.and_then(|s| s.groups.get_mut(group)) else {
        return Ok(());
    };
    let acked = ids.iter().filter(|&&id| g.ack(id)).count();
    ctx.out.int(acked as i64);
    if acked > 0 {
        ctx.keys.counted(db, key, acked as u64)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// XPENDING

pub(crate) fn xpending(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let argc = args.len();
    let (key, group) = (args[1], args[2]);
    if argc != 3 && !(6..=9).contains(&argc) {
        return Err(CmdError::Syntax);
    }
    let mut range = None;
    if argc >= 6 {
        let mut startidx = 3;
        let mut minidle = 0;
        if is_c_kw(args[3], "idle") {
            minidle = int_arg(args[4])?;
            if argc < 8 {
                return Err(CmdError::Syntax);
            }
            startidx += 2;
        }
        let count = int_arg(args[startidx + 2])?.max(0);
        let start = range_start(args[startidx])?;
        let end = range_end(args[startidx + 1])?;
        let consumer = args.get(startidx + 3).copied();
        range = Some((minidle, start, end, count, consumer));
    }
    let now = ctx.now_ms();
    let out = &mut *ctx.out;
    let g = match read_stream(&mut ctx.keys, key)? {
        Some(s) => s.groups.get(group),
        None => None,
    };
    let Some(g) = g else {
        return Err(CmdError::NoKeyOrGroup(text(key), text(group)));
    };
    let Some((minidle, start, end, count, consumer)) = range else {
        out.array(4);
        out.int(g.pel.len() as i64);
        match (g.pel.first_key_value(), g.pel.last_key_value()) {
            (Some((first, _)), Some((last, _))) => {
                out.bulk(&first.to_bytes());
                out.bulk(&last.to_bytes());
                let owners: Vec<_> = g
                    .consumers
                    .iter()
                    .filter(|(_, c)| !c.pel.is_empty())
                    .collect();
                out.array(owners.len());
                for (name, c) in owners {
                    out.array(2);
                    out.bulk(name);
                    out.bulk_int(c.pel.len() as i64);
                }
            }
            _ => {
                out.null();
                out.null();
                out.null_array();
            }
        }
        return Ok(());
    };
    let ids: Vec<StreamId> = match consumer {
        Some(name) => match g.consumers.get(name) {
            Some(c) => c
                .pel
                .range(start..)
                .take_while(|&&id| id <= end)
                .copied()
                .collect(),
            None => {
                out.array(0);
                return Ok(());
            }
        },
        None => g
            .pel
            .range(start..)
            .take_while(|(&id, _)| id <= end)
            .map(|(id, _)| *id)
            .collect(),
    };
    let d = out.deferred();
    let mut n = 0;
    let mut left = count;
    for id in ids {
        if left == 0 {
            break;
        }
        let Some(nack) = g.pel.get(&id) else {
            continue;
        };
        if minidle != 0 && now.wrapping_sub(nack.delivery_time) < minidle {
            continue;
        }
        n += 1;
        left -= 1;
        out.array(4);
        out.bulk(&id.to_bytes());
        out.bulk(&nack.consumer);
        out.int(now.wrapping_sub(nack.delivery_time).max(0));
        out.int(nack.delivery_count as i64);
    }
    out.finish_array(d, n);
    Ok(())
}

// ---------------------------------------------------------------------------
// XCLAIM / XAUTOCLAIM

/// Looks the consumer up for a claim, creating it (with its event) the first
/// time; Redis refreshes its seen time either way.
fn claim_consumer(g: &mut Group, name: &[u8], now: i64, created: &mut bool) {
    match g.consumers.get_mut(name) {
        Some(c) => c.seen_time = now,
        None => {
            g.create_consumer(name, now);
            *created = true;
        }
    }
}

/// Hands pending entry `id` (present in the PEL) to `consumer`.
fn take_over(g: &mut Group, id: StreamId, consumer: &[u8]) {
    let Some(nack) = g.pel.get_mut(&id) else {
        return;
    };
    if nack.consumer.as_slice() != consumer {
        let old = std::mem::replace(&mut nack.consumer, consumer.to_vec());
        if let Some(c) = g.consumers.get_mut(&old) {
            c.pel.remove(&id);
        }
    }
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.pel.insert(id);
    }
}

fn no_group(key: &[u8], group: &[u8]) -> CmdError {
    CmdError::NoKeyOrGroup(text(key), text(group))
}

pub(crate) fn xclaim(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ctx.keys.propagate = Propagate::Nothing;
    let (key, group, consumer) = (args[1], args[2], args[3]);
    let has_group = read_stream(&mut ctx.keys, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        return Err(no_group(key, group));
    }
    let minidle = int_arg(args[4])
        .map_err(|_| CmdError::XclaimInvalid("min-idle-time", "XCLAIM"))?
        .max(0);
    let mut ids = Vec::new();
    let mut j = 5;
    while j < args.len() {
        match super::id::parse_id_with(args[j], super::id::IdRules::STRICT) {
            Some((id, _)) => ids.push((id, args[j])),
            None => break,
        }
        j += 1;
    }
    let now = ctx.now_ms();
    let mut last_id = StreamId::ZERO;
    let mut deliverytime: i64 = -1;
    let mut retrycount: i64 = -1;
    let (mut force, mut justid) = (false, false);
    while j < args.len() {
        let moreargs = args.len() - 1 - j;
        let opt = args[j];
        if is_c_kw(opt, "force") {
            force = true;
        } else if is_c_kw(opt, "justid") {
            justid = true;
        } else if is_c_kw(opt, "idle") && moreargs > 0 {
            j += 1;
            let idle =
                int_arg(args[j]).map_err(|_| CmdError::XclaimInvalid("IDLE option", "XCLAIM"))?;
            deliverytime = now.wrapping_sub(idle);
        } else if is_c_kw(opt, "time") && moreargs > 0 {
            j += 1;
            deliverytime =
                int_arg(args[j]).map_err(|_| CmdError::XclaimInvalid("TIME option", "XCLAIM"))?;
        } else if is_c_kw(opt, "retrycount") && moreargs > 0 {
            j += 1;
            retrycount = int_arg(args[j])
                .map_err(|_| CmdError::XclaimInvalid("RETRYCOUNT option", "XCLAIM"))?;
        } else if is_c_kw(opt, "lastid") && moreargs > 0 {
            j += 1;
            last_id = strict_id(args[j])?;
        } else {
            return Err(CmdError::XclaimUnknownOption(text(opt)));
        }
        j += 1;
    }
    if deliverytime < 0 || deliverytime > now {
        deliverytime = now;
    }
    let db = ctx.keys.db;
    let out = &mut *ctx.out;
    let Some(s) = read_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let Some((gname, mut g)) = s.groups.remove_entry(group) else {
        return Ok(());
    };
    let mut propagate_last_id = false;
    if last_id > g.last_id {
        g.last_id = last_id;
        propagate_last_id = true;
    }
    let mut props = Vec::new();
    let mut dirty = 0u64;
    let mut created = false;
    let mut consumer_ready = false;
    let d = out.deferred();
    let mut n = 0;
    for (id, id_arg) in ids {
        let pending = g.pel.contains_key(&id);
        if !s.exists(id) {
            if let Some(nack) = g.pel.get(&id) {
                props.push(xclaim_argv_raw(key, group, &g, id_arg, nack));
                propagate_last_id = false;
                dirty += 1;
                g.ack(id);
            }
            continue;
        }
        let mut fresh = false;
        if force && !pending {
            fresh = true;
        } else if !pending {
            continue;
        }
        if !fresh && minidle != 0 {
            if let Some(nack) = g.pel.get(&id) {
                if now.wrapping_sub(nack.delivery_time) < minidle {
                    continue;
                }
            }
        }
        if !consumer_ready {
            claim_consumer(&mut g, consumer, now, &mut created);
            consumer_ready = true;
        }
        if fresh {
            g.pel.insert(
                id,
                Nack {
                    consumer: consumer.to_vec(),
                    delivery_time: now,
                    delivery_count: 1,
                },
            );
        }
        take_over(&mut g, id, consumer);
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = deliverytime;
            if retrycount >= 0 {
                nack.delivery_count = retrycount as u64;
            } else if !justid {
                nack.delivery_count += 1;
            }
        }
        if justid {
            out.bulk(&id.to_bytes());
        } else if let Some(e) = s.get(id) {
            emit_entry(out, &e);
        }
        n += 1;
        if let Some(nack) = g.pel.get(&id) {
            props.push(xclaim_argv_raw(key, group, &g, id_arg, nack));
        }
        propagate_last_id = false;
        dirty += 1;
    }
    if propagate_last_id {
        props.push(setid_argv(key, group, &g));
        dirty += 1;
    }
    out.finish_array(d, n);
    s.groups.insert(gname, g);
    if created {
        ctx.keys.counted(db, key, 1)?;
        ctx.keys.notify(db, key, ev::XGROUP_CREATECONSUMER);
    }
    if dirty > 0 {
        ctx.keys.counted(db, key, dirty)?;
    }
    for p in props {
        ctx.keys.propagate_as(p);
    }
    Ok(())
}

/// [`xclaim_argv`] with the ID as the client wrote it (XCLAIM propagates its
/// own argument).
fn xclaim_argv_raw(
    key: &[u8],
    group: &[u8],
    g: &Group,
    id_arg: &[u8],
    nack: &Nack,
) -> Vec<Vec<u8>> {
    let mut v = xclaim_argv(key, group, g, StreamId::ZERO, nack);
    v[5] = id_arg.to_vec();
    v
}

pub(crate) fn xautoclaim(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ctx.keys.propagate = Propagate::Nothing;
    let (key, group, consumer) = (args[1], args[2], args[3]);
    let minidle = int_arg(args[4])
        .map_err(|_| CmdError::XclaimInvalid("min-idle-time", "XAUTOCLAIM"))?
        .max(0);
    let (start, ex) = interval_id(args[5], 0)?;
    let start = if ex {
        start.next().ok_or(CmdError::InvalidStartId)?
    } else {
        start
    };
    let mut count: i64 = 100;
    let mut justid = false;
    let mut j = 6;
    while j < args.len() {
        let moreargs = args.len() - 1 - j;
        if is_c_kw(args[j], "count") && moreargs > 0 {
            let max = i64::MAX / 16;
            count = match int_arg(args[j + 1]) {
                Ok(c) if (1..=max).contains(&c) => c,
                _ => return Err(CmdError::XautoclaimCount),
            };
            j += 1;
        } else if is_c_kw(args[j], "justid") {
            justid = true;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let has_group = read_stream(&mut ctx.keys, key)?.is_some_and(|s| s.groups.contains_key(group));
    if !has_group {
        return Err(no_group(key, group));
    }
    // Redis allocates the deleted-IDs array up front and fails on huge counts.
    if count > (1 << 36) {
        return Err(CmdError::Other(
            "Insufficient memory, failed allocating transient memory, COUNT too high.".into(),
        ));
    }
    let now = ctx.now_ms();
    let db = ctx.keys.db;
    let Some(s) = read_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let Some((gname, mut g)) = s.groups.remove_entry(group) else {
        return Ok(());
    };
    let mut attempts = count.saturating_mul(10) as u64;
    let scan: Vec<StreamId> = g
        .pel
        .range(start..)
        .take(
            usize::try_from(attempts)
                .unwrap_or(usize::MAX)
                .saturating_add(1),
        )
        .map(|(id, _)| *id)
        .collect();
    let mut pos = 0;
    let mut eof = false;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut props = Vec::new();
    let mut dirty = 0u64;
    let mut created = false;
    let mut consumer_ready = false;
    loop {
        if attempts == 0 || count == 0 {
            break;
        }
        attempts -= 1;
        let Some(&id) = scan.get(pos) else {
            eof = true;
            break;
        };
        pos += 1;
        if !s.exists(id) {
            if let Some(nack) = g.pel.get(&id) {
                props.push(xclaim_argv(key, group, &g, id, nack));
            }
            dirty += 1;
            g.ack(id);
            deleted.push(id);
            count -= 1;
            continue;
        }
        if minidle != 0 {
            if let Some(nack) = g.pel.get(&id) {
                if now.wrapping_sub(nack.delivery_time) < minidle {
                    continue;
                }
            }
        }
        if !consumer_ready {
            claim_consumer(&mut g, consumer, now, &mut created);
            consumer_ready = true;
        }
        take_over(&mut g, id, consumer);
        if let Some(nack) = g.pel.get_mut(&id) {
            nack.delivery_time = now;
            if !justid {
                nack.delivery_count += 1;
            }
        }
        claimed.push(id);
        count -= 1;
        if let Some(nack) = g.pel.get(&id) {
            props.push(xclaim_argv(key, group, &g, id, nack));
        }
        dirty += 1;
    }
    let cursor = if eof {
        StreamId::ZERO
    } else {
        match scan.get(pos) {
            Some(id) => *id,
            None => StreamId::ZERO,
        }
    };
    let out = &mut *ctx.out;
    out.array(3);
    out.bulk(&cursor.to_bytes());
    out.array(claimed.len());
    for id in &claimed {
        if justid {
            out.bulk(&id.to_bytes());
        } else if let Some(e) = s.get(*id) {
            emit_entry(out, &e);
        }
    }
    out.array(deleted.len());
    for id in &deleted {
        out.bulk(&id.to_bytes());
    }
    s.groups.insert(gname, g);
    if created {
        ctx.keys.counted(db, key, 1)?;
        ctx.keys.notify(db, key, ev::XGROUP_CREATECONSUMER);
    }
    if dirty > 0 {
        ctx.keys.counted(db, key, dirty)?;
    }
    for p in props {
        ctx.keys.propagate_as(p);
    }
    Ok(())
}
