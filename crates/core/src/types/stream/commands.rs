//! Stream commands without consumer groups (XADD, XLEN, XRANGE, XREVRANGE, XDEL,
//! XTRIM, XSETID) and XREAD / XREADGROUP, following Redis 7.0's t_stream.c: the
//! same argument checks in the same order, replies, events and propagation.

use ferrokv_resp::ReplyBuf;

use super::id::{parse_id_with, range_end, range_start, strict_id, IdRules, StreamId};
use super::{AppendError, EntryRef, Group, NodeLimits, StreamValue, Trim};
use crate::args::{c_str, int_arg, is_c_kw};
use crate::blocking::{Awaits, BlockReason, BlockRequest};
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys, Propagate};
use crate::error::{CmdError, CmdResult};
use crate::notify::events as ev;
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("xadd", xadd),
    CommandDef::new("xlen", xlen),
    CommandDef::new("xrange", xrange),
    CommandDef::new("xrevrange", xrevrange),
    CommandDef::new("xdel", xdel),
    CommandDef::new("xtrim", xtrim),
    CommandDef::new("xsetid", xsetid),
    CommandDef::new("xread", xread),
    CommandDef::new("xreadgroup", xreadgroup),
    CommandDef::new("xgroup|create", super::cgroups::xgroup_create),
    CommandDef::new("xgroup|setid", super::cgroups::xgroup_setid),
    CommandDef::new("xgroup|destroy", super::cgroups::xgroup_destroy),
    CommandDef::new(
        "xgroup|createconsumer",
        super::cgroups::xgroup_createconsumer,
    ),
    CommandDef::new("xgroup|delconsumer", super::cgroups::xgroup_delconsumer),
    CommandDef::new("xgroup|help", super::cgroups::xgroup_help),
    CommandDef::new("xack", super::cgroups::xack),
    CommandDef::new("xpending", super::cgroups::xpending),
    CommandDef::new("xclaim", super::cgroups::xclaim),
    CommandDef::new("xautoclaim", super::cgroups::xautoclaim),
    CommandDef::new("xinfo|stream", super::info::xinfo_stream),
    CommandDef::new("xinfo|groups", super::info::xinfo_groups),
    CommandDef::new("xinfo|consumers", super::info::xinfo_consumers),
    CommandDef::new("xinfo|help", super::info::xinfo_help),
];

/// The stream at `key` for reading: `None` if missing, WRONGTYPE for other types.
pub(crate) fn read_stream<'a>(
    keys: &'a mut Keys<'_>,
    key: &[u8],
) -> CmdResult<Option<&'a mut StreamValue>> {
    match keys.read(key)? {
        None => Ok(None),
        Some(e) => match e.into_full_mut() {
            Some(Value::Stream(s)) => Ok(Some(&mut **s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// The stream at `key` for writing.
pub(crate) fn write_stream<'a>(
    keys: &'a mut Keys<'_>,
    key: &[u8],
) -> CmdResult<Option<&'a mut StreamValue>> {
    match keys.write(key)? {
        None => Ok(None),
        Some(e) => match e.into_full_mut() {
            Some(Value::Stream(s)) => Ok(Some(&mut **s)),
            _ => Err(CmdError::WrongType),
        },
    }
}

/// An argument as C's `%s` prints it in an error text: up to its first NUL.
pub(crate) fn text(arg: &[u8]) -> String {
    String::from_utf8_lossy(c_str(arg)).into_owned()
}

/// One entry as Redis replies it: `[id, [field, value, ...]]`.
pub(crate) fn emit_entry(out: &mut ReplyBuf, e: &EntryRef<'_>) {
    out.array(2);
    out.bulk(e.id.text().as_bytes());
    out.array(e.len());
    e.for_each(|f| out.bulk(f));
}

/// The entries in `start..=end` (at most `count`, 0: all) as an array.
pub(crate) fn reply_range(
    out: &mut ReplyBuf,
    s: &StreamValue,
    start: StreamId,
    end: StreamId,
    count: usize,
    rev: bool,
) -> usize {
    let d = out.deferred();
    let mut n = 0;
    s.visit(start, end, rev, false, |e| {
        emit_entry(out, e);
        n += 1;
        count == 0 || n < count
    });
    out.finish_array(d, n);
    n
}

// ---------------------------------------------------------------------------
// XADD / XTRIM options

/// What streamParseAddOrTrimArgsOrReply reads.
struct AddTrimArgs {
    /// XADD's explicit ID and whether its sequence was given.
    id: Option<(StreamId, bool)>,
    no_mkstream: bool,
    trim: Option<Trim>,
    /// Index of the MAXLEN / MINID value (for the propagation rewrite).
    trim_arg_idx: usize,
    approx: bool,
    limit: u64,
    /// Index of XADD's ID.
    idpos: usize,
}

fn parse_add_or_trim(ctx: &Ctx<'_, '_>, args: &[&[u8]], xadd: bool) -> CmdResult<AddTrimArgs> {
    let mut a = AddTrimArgs {
        id: None,
        no_mkstream: false,
        trim: None,
        trim_arg_idx: 0,
        approx: false,
        limit: 0,
        idpos: 0,
    };
    let mut limit: i64 = 0;
    let mut limit_given = false;
    let mut i = 2;
    while i < args.len() {
        let moreargs = args.len() - 1 - i;
        let opt = args[i];
        if xadd && c_str(opt) == b"*" {
            // The common auto-ID case.
            break;
        } else if (is_c_kw(opt, "maxlen") || is_c_kw(opt, "minid")) && moreargs > 0 {
            if a.trim.is_some() {
                return Err(CmdError::MaxlenMinid);
            }
            a.approx = false;
            let next = c_str(args[i + 1]);
            if moreargs >= 2 && next == b"~" {
                a.approx = true;
                i += 1;
            } else if moreargs >= 2 && next == b"=" {
                i += 1;
            }
            if is_c_kw(opt, "maxlen") {
                let max = int_arg(args[i + 1])?;
                if max < 0 {
                    return Err(CmdError::MaxlenNegative);
                }
                a.trim = Some(Trim::MaxLen(max as u64));
            } else {
                a.trim = Some(Trim::MinId(strict_id(args[i + 1])?));
            }
            i += 1;
            a.trim_arg_idx = i;
        } else if is_c_kw(opt, "limit") && moreargs > 0 {
            limit = int_arg(args[i + 1])?;
            if limit < 0 {
                return Err(CmdError::LimitNegative);
            }
            limit_given = true;
            i += 1;
        } else if xadd && is_c_kw(opt, "nomkstream") {
            a.no_mkstream = true;
        } else if xadd {
            let rules = IdRules {
                seq_star: true,
                ..IdRules::STRICT
            };
            a.id = Some(parse_id_with(opt, rules).ok_or(CmdError::InvalidStreamId)?);
            break;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    a.idpos = i;
    if limit != 0 && a.trim.is_none() {
        return Err(CmdError::LimitWithoutStrategy);
    }
    if !xadd && a.trim.is_none() {
        return Err(CmdError::XtrimWithoutStrategy);
    }
    if ctx.client.loading {
        // Replayed commands were rewritten to trim exactly what the original did.
        a.limit = 0;
    } else if limit_given {
        if !a.approx {
            return Err(CmdError::LimitWithoutApprox);
        }
        a.limit = limit as u64;
    } else if a.approx {
        // Bounds the work of one `~` trim to about 100 nodes.
        let per_node = ctx
            .engine
            .config
            .int(crate::config::P::StreamNodeMaxEntries);
        let mut l = per_node.saturating_mul(100);
        if l <= 0 {
            l = 10000;
        }
        a.limit = l.min(1_000_000) as u64;
    }
    Ok(a)
}

/// The trim value Redis propagates after a `~` trim (streamRewriteTrimArgument):
/// the resulting length, or the first ID left (tombstones included).
fn trim_rewrite(s: &StreamValue, trim: Trim) -> Vec<u8> {
    match trim {
        Trim::MaxLen(_) => s.len().to_string().into_bytes(),
        Trim::MinId(_) => s.edge_id(true, true).to_bytes(),
    }
}

fn owned(args: &[&[u8]]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.to_vec()).collect()
}

fn xadd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let a = parse_add_or_trim(ctx, args, true)?;
    let field_pos = a.idpos + 1;
    if args.len() < field_pos + 2 || (args.len() - field_pos) % 2 == 1 {
        return Err(CmdError::WrongArity(ctx.cmd.meta.name.clone()));
    }
    if let Some((id, true)) = a.id {
        if id.is_zero() {
            return Err(CmdError::XaddIdZero);
        }
    }
    let key = args[1];
    let limits = NodeLimits::from_config(&ctx.engine.config);
    let now = ctx.now_ms();
    let db = ctx.keys.db;
    if write_stream(&mut ctx.keys, key)?.is_none() {
        if a.no_mkstream {
            ctx.out.null();
            return Ok(());
        }
        ctx.keys
            .add_new(key, Value::Stream(Box::new(StreamValue::new())))?;
    }
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    if s.last_id == StreamId::MAX {
        return Err(CmdError::StreamExhausted);
    }
    let id = match s.append(&args[field_pos..], a.id, now, limits) {
        Ok(id) => id,
        Err(AppendError::IdTooSmall) => return Err(CmdError::XaddIdTooSmall),
        Err(AppendError::TooLarge) => return Err(CmdError::StreamElementsTooLarge),
    };
    let id_text = id.to_bytes();
    ctx.out.bulk(&id_text);
    let mut trimmed = false;
    let mut rewrite = None;
    if let Some(trim) = a.trim {
        trimmed = s.trim(trim, a.approx, a.limit) > 0;
        if a.approx {
            rewrite = Some(trim_rewrite(s, trim));
        }
    }
    ctx.keys.changed(key, ev::XADD);
    ctx.keys.mark_dirty(db, key)?;
    if trimmed {
        ctx.keys.notify(db, key, ev::XTRIM);
    }
    if ctx.keys.mode.propagating {
        let mut argv = owned(args);
        if let Some(v) = rewrite {
            argv[a.trim_arg_idx - 1] = b"=".to_vec();
            argv[a.trim_arg_idx] = v;
        }
        if !matches!(a.id, Some((_, true))) {
            argv[a.idpos] = id_text;
        }
        ctx.keys.propagate_as(argv);
    }
    ctx.keys.signal_ready(db, key);
    Ok(())
}

fn xtrim(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let a = parse_add_or_trim(ctx, args, false)?;
    let key = args[1];
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let Some(trim) = a.trim else {
        return Err(CmdError::XtrimWithoutStrategy);
    };
    let deleted = s.trim(trim, a.approx, a.limit);
    let rewrite = (deleted > 0 && a.approx).then(|| trim_rewrite(s, trim));
    if deleted > 0 {
        let db = ctx.keys.db;
        ctx.keys.modified(db, key, ev::XTRIM);
        ctx.keys.mark_dirty_by(db, key, deleted)?;
        if let Some(v) = rewrite {
            let mut argv = owned(args);
            argv[a.trim_arg_idx - 1] = b"=".to_vec();
            argv[a.trim_arg_idx] = v;
            ctx.keys.propagate_as(argv);
        }
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// XLEN, XRANGE, XREVRANGE, XDEL, XSETID

fn xlen(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = read_stream(&mut ctx.keys, args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn xrange_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], rev: bool) -> CmdResult {
    let (start_arg, end_arg) = if rev {
        (args[3], args[2])
    } else {
        (args[2], args[3])
    };
    let start = range_start(start_arg)?;
    let end = range_end(end_arg)?;
    let mut count: i64 = -1;
    let mut j = 4;
    while j < args.len() {
        if is_c_kw(args[j], "count") && args.len() - j > 1 {
            count = int_arg(args[j + 1])?.max(0);
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let out = &mut *ctx.out;
    let Some(s) = read_stream(&mut ctx.keys, args[1])? else {
        out.empty_array();
        return Ok(());
    };
    if count == 0 {
        out.null_array();
    } else {
        let count = if count < 0 { 0 } else { count as usize };
        reply_range(out, s, start, end, count, rev);
    }
    Ok(())
}

fn xrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, args, false)
}

fn xrevrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xrange_generic(ctx, args, true)
}

fn xdel(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    if write_stream(&mut ctx.keys, key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    let ids = args[2..]
        .iter()
        .map(|a| strict_id(a))
        .collect::<CmdResult<Vec<_>>>()?;
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Ok(());
    };
    let deleted = s.delete_ids(&ids);
    if deleted > 0 {
        let db = ctx.keys.db;
        ctx.keys.modified(db, key, ev::XDEL);
        ctx.keys.mark_dirty_by(db, key, deleted)?;
    }
    ctx.out.int(deleted as i64);
    Ok(())
}

fn xsetid(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let id = strict_id(args[2])?;
    let mut entries_added: i64 = -1;
    let mut max_xdel = StreamId::ZERO;
    let mut i = 3;
    while i < args.len() {
        let moreargs = args.len() - 1 - i;
        if is_c_kw(args[i], "entriesadded") && moreargs > 0 {
            entries_added = int_arg(args[i + 1])?;
            if entries_added < 0 {
                return Err(CmdError::EntriesAddedNegative);
            }
        } else if is_c_kw(args[i], "maxdeletedid") && moreargs > 0 {
            max_xdel = strict_id(args[i + 1])?;
            if id < max_xdel {
                return Err(CmdError::XsetidBelowMaxDeleted);
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let key = args[1];
    let Some(s) = write_stream(&mut ctx.keys, key)? else {
        return Err(CmdError::NoSuchKey);
    };
    if !s.is_empty() {
        if id < s.last_valid_id() {
            return Err(CmdError::XsetidTooSmall);
        }
        if entries_added != -1 && s.len() > entries_added as u64 {
            return Err(CmdError::XsetidEntriesAddedTooSmall);
        }
    }
    s.last_id = id;
    if entries_added != -1 {
        s.entries_added = entries_added as u64;
    }
    if !max_xdel.is_zero() {
        s.max_deleted_id = max_xdel;
    }
    ctx.out.ok();
    let db = ctx.keys.db;
    ctx.keys.counted(db, key, 1)?;
    ctx.keys.notify(db, key, ev::XSETID);
    Ok(())
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP

/// COUNT of a blocked read that gave none, so a low ID cannot make one served
/// client receive a huge reply (XREAD_BLOCKED_DEFAULT_COUNT).
const BLOCKED_DEFAULT_COUNT: i64 = 1000;

fn xread(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    xread_generic(ctx, args, false)
}

fn xreadgroup(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // What XREADGROUP changes is propagated as XCLAIM / XGROUP commands.
    ctx.keys.propagate = Propagate::Nothing;
    xread_generic(ctx, args, true)
}

/// The ms timeout of BLOCK (getTimeoutFromObjectOrReply in milliseconds): `None`
/// waits forever.
fn block_timeout(arg: &[u8]) -> CmdResult<Option<u64>> {
    let ms = crate::args::parse_i64(arg)
        .ok_or_else(|| CmdError::Other("timeout is not an integer or out of range".into()))?;
    if ms < 0 {
        return Err(CmdError::Other("timeout is negative".into()));
    }
    Ok(if ms == 0 { None } else { Some(ms as u64) })
}

/// A group read: the group, the consumer and NOACK.
pub(crate) struct GroupRead<'a> {
    pub group: &'a [u8],
    pub consumer: &'a [u8],
    pub noack: bool,
}

fn xread_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], xreadgroup: bool) -> CmdResult {
    let mut timeout: Option<Option<u64>> = None;
    let mut count: i64 = 0;
    let mut streams_arg = 0;
    let mut streams_count = 0;
    let mut group: Option<(&[u8], &[u8])> = None;
    let mut noack = false;
    let mut i = 1;
    while i < args.len() {
        let moreargs = args.len() - i - 1;
        let o = args[i];
        if is_c_kw(o, "block") && moreargs > 0 {
            if ctx.client.in_script {
                // No sense in blocking inside a script (Redis refuses it so).
                return Err(CmdError::BlockFromScript(
                    String::from_utf8_lossy(args[0]).into_owned(),
                ));
            }
            i += 1;
            timeout = Some(block_timeout(args[i])?);
        } else if is_c_kw(o, "count") && moreargs > 0 {
            i += 1;
            count = int_arg(args[i])?.max(0);
        } else if is_c_kw(o, "streams") && moreargs > 0 {
            streams_arg = i + 1;
            let n = args.len() - streams_arg;
            if !n.is_multiple_of(2) {
                return Err(CmdError::XreadUnbalanced);
            }
            streams_count = n / 2;
            break;
        } else if is_c_kw(o, "group") && moreargs >= 2 {
            if !xreadgroup {
                return Err(CmdError::XreadGroupOption);
            }
            group = Some((args[i + 1], args[i + 2]));
            i += 2;
        } else if is_c_kw(o, "noack") {
            if !xreadgroup {
                return Err(CmdError::XreadNoackOption);
            }
            noack = true;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if streams_arg == 0 {
        return Err(CmdError::Syntax);
    }
    if xreadgroup && group.is_none() {
        return Err(CmdError::XreadgroupMissingGroup);
    }
    let keys = &args[streams_arg..streams_arg + streams_count];
    let id_args = &args[streams_arg + streams_count..];
    // Re-run for a blocked client: only the key that became ready is looked at,
    // with the errors Redis gives a client whose stream or group went away.
    let serving = ctx.client.serving_key.clone();
    let served = |k: &[u8]| serving.as_deref().is_none_or(|s| s == k);
    let mut ids = vec![StreamId::ZERO; streams_count];
    for (idx, &key) in keys.iter().enumerate() {
        if !served(key) {
            continue;
        }
        let s = if serving.is_some() {
            match read_stream(&mut ctx.keys, key) {
                Ok(s) => s,
                Err(_) if group.is_some() => return Err(CmdError::BlockedStreamGone),
                Err(_) => None,
            }
        } else {
            read_stream(&mut ctx.keys, key)?
        };
        if let Some((g, _)) = group {
            let found = s.as_ref().and_then(|s| s.groups.get(g));
            match (found, serving.is_some(), s.is_some()) {
                (Some(_), _, _) => {}
                (None, false, _) => return Err(CmdError::XreadgroupNoGroup(text(key), text(g))),
                (None, true, true) => return Err(CmdError::BlockedGroupGone),
                (None, true, false) => return Err(CmdError::BlockedStreamGone),
            }
        }
        let id_arg = c_str(id_args[idx]);
        ids[idx] = if id_arg == b"$" {
            if xreadgroup {
                return Err(CmdError::XreadgroupDollar);
            }
            s.map_or(StreamId::ZERO, |s| s.last_id)
        } else if id_arg == b">" {
            if !xreadgroup {
                return Err(CmdError::XreadGreater);
            }
            StreamId::MAX
        } else {
            strict_id(id_args[idx])?
        };
    }
    let gr = group.map(|(g, c)| GroupRead {
        group: g,
        consumer: c,
        noack,
    });
    let count = if serving.is_some() && count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        count
    };
    let now = ctx.now_ms();
    let db = ctx.keys.db;
    let resp3 = ctx.out.is_resp3();
    let mut served_n = 0;
    let mut deferred = None;
    for (idx, &key) in keys.iter().enumerate() {
        if !served(key) {
            continue;
        }
        let out = &mut *ctx.out;
        let Ok(Some(s)) = read_stream(&mut ctx.keys, key) else {
            continue;
        };
        let mut gt = ids[idx];
        let mut history = false;
        // A woken reader is served only when an entry past its ID exists, as when
        // the command first ran (the server also re-runs a client right after
        // parking it; Redis, woken by a signal, would send an empty stream after
        // an XADD + XDEL in one transaction).

        let serve = match &gr {
            Some(gr) => {
                let last = s.groups.get(gr.group).map_or(StreamId::ZERO, |g| g.last_id);
                if gt != StreamId::MAX {
                    history = true;
                    true
                } else if !s.is_empty() && s.last_valid_id() > last {
                    gt = last;
                    true
                } else {
                    false
                }
            }
            None => !s.is_empty() && s.last_valid_id() > gt,
        };
        if !serve {
            continue;
        }
        served_n += 1;
        if served_n == 1 {
            deferred = Some(out.deferred());
        }
        let start = gt.next().unwrap_or(StreamId::ZERO);
        if !resp3 {
            out.array(2);
        }
        out.bulk(key);
        match &gr {
            None => {
                reply_range(out, s, start, StreamId::MAX, count as usize, false);
            }
            Some(gr) => {
                let mut props = Vec::new();
                let created = read_group(
                    s,
                    gr,
                    start,
                    count as usize,
                    history,
                    now,
                    key,
                    out,
                    &mut props,
                );
                if created {
                    ctx.keys.counted(db, key, 1)?;
                    ctx.keys.notify(db, key, ev::XGROUP_CREATECONSUMER);
                }
                for p in props {
                    ctx.keys.propagate_as(p);
                }
                ctx.keys.counted(db, key, 1)?;
            }
        }
    }
    if let Some(d) = deferred {
        if resp3 {
            ctx.out.finish_map(d, served_n);
        } else {
            ctx.out.finish_array(d, served_n);
        }
        return Ok(());
    }
    match timeout {
        Some(t) if !ctx.client.in_exec => {
            block(ctx, args, keys, &ids, count, gr.is_some(), t, streams_arg);
        }
        _ => ctx.out.null_array(),
    }
    Ok(())
}

/// Parks the client on `keys` with the command to re-run: `$` resolved to the
/// IDs it had now and the COUNT it will be served with.
#[allow(clippy::too_many_arguments)]
fn block(
    ctx: &mut Ctx<'_, '_>,
    args: &[&[u8]],
    keys: &[&[u8]],
    ids: &[StreamId],
    count: i64,
    group: bool,
    timeout: Option<u64>,
    streams_arg: usize,
) {
    let count = if count == 0 {
        BLOCKED_DEFAULT_COUNT
    } else {
        count
    };
    let mut rerun: Vec<Vec<u8>> = Vec::with_capacity(args.len() + 2);
    rerun.push(args[0].to_vec());
    // Options before STREAMS, COUNT replaced by the one to serve with.
    let mut i = 1;
    while i < streams_arg - 1 {
        if is_c_kw(args[i], "count") {
            i += 2;
            continue;
        }
        if is_c_kw(args[i], "block") {
            rerun.push(args[i].to_vec());
            rerun.push(args[i + 1].to_vec());
            i += 2;
            continue;
        }
        if is_c_kw(args[i], "group") {
            rerun.extend(args[i..i + 3].iter().map(|a| a.to_vec()));
            i += 3;
            continue;
        }
        rerun.push(args[i].to_vec());
        i += 1;
    }
    rerun.push(b"COUNT".to_vec());
    rerun.push(count.to_string().into_bytes());
    rerun.push(b"STREAMS".to_vec());
    rerun.extend(keys.iter().map(|k| k.to_vec()));
    for (idx, id) in ids.iter().enumerate() {
        if group {
            rerun.push(b">".to_vec());
        } else {
            let _ = idx;
            rerun.push(id.to_bytes());
        }
    }
    let awaits = if group {
        Awaits::StreamGroup
    } else {
        Awaits::Stream
    };
    let mut req = BlockRequest::on_keys(ctx.client.db, keys, awaits, timeout);
    if let BlockReason::Keys { rerun: r, .. } = &mut req.reason {
        *r = Some(rerun);
    }
    ctx.client.block = Some(req);
}

/// Serves a group read of one stream (streamReplyWithRange with a group, or
/// the consumer's history): writes the entries array and collects what to
/// propagate. Returns whether the consumer was created.
#[allow(clippy::too_many_arguments)]
fn read_group(
    s: &mut StreamValue,
    gr: &GroupRead<'_>,
    start: StreamId,
    count: usize,
    history: bool,
    now: i64,
    key: &[u8],
    out: &mut ReplyBuf,
    props: &mut Vec<Vec<Vec<u8>>>,
) -> bool {
    let Some((gname, mut g)) = s.groups.remove_entry(gr.group) else {
        out.empty_array();
        return false;
    };
    let created = match g.consumers.get_mut(gr.consumer) {
        Some(c) => {
            c.seen_time = now;
            false
        }
        None => {
            g.create_consumer(gr.consumer, now);
            if gr.noack {
                props.push(vec![
                    b"XGROUP".to_vec(),
                    b"CREATECONSUMER".to_vec(),
                    key.to_vec(),
                    gr.group.to_vec(),
                    gr.consumer.to_vec(),
                ]);
            }
            true
        }
    };
    if history {
        reply_history(s, &mut g, gr.consumer, start, count, now, out);
    } else {
        let d = out.deferred();
        let mut n = 0;
        let mut propagate_last_id = false;
        // Entries are emitted from a snapshot of their IDs: the group is updated
        // as each is delivered.
        let mut delivered: Vec<StreamId> = Vec::new();
        s.visit(start, StreamId::MAX, false, false, |e| {
            delivered.push(e.id);
            count == 0 || delivered.len() < count
        });
        for id in delivered {
            if id > g.last_id {
                s.advance_group(&mut g, id);
                if gr.noack {
                    propagate_last_id = true;
                }
            }
            if let Some(e) = s.get(id) {
                emit_entry(out, &e);
            }
            if !gr.noack {
                deliver(&mut g, id, gr.consumer, now);
                if let Some(nack) = g.pel.get(&id) {
                    props.push(xclaim_argv(key, gr.group, &g, id, nack));
                }
            }
            n += 1;
        }
        if propagate_last_id {
            props.push(setid_argv(key, gr.group, &g));
        }
        out.finish_array(d, n);
    }
    s.groups.insert(gname, g);
    created
}

/// Records a delivery of `id` to `consumer` in the group's PEL (a new NACK, or
/// one taken from its previous owner with its counters reset).
pub(crate) fn deliver(g: &mut Group, id: StreamId, consumer: &[u8], now: i64) {
    if let Some(n) = g.assign(id, consumer) {
        n.delivery_time = now;
        n.delivery_count = 1;
        return;
    }
    g.pel.insert(
        id,
        super::Nack {
            consumer: consumer.to_vec(),
            delivery_time: now,
            delivery_count: 1,
        },
    );
    if let Some(c) = g.consumers.get_mut(consumer) {
        c.pel.insert(id);
    }
}

/// A consumer's own pending entries from `start` (streamReplyWithRangeFromConsumerPEL):
/// deleted entries are reported with a null body; the others count a delivery.
fn reply_history(
    s: &StreamValue,
    g: &mut Group,
    consumer: &[u8],
    start: StreamId,
    count: usize,
    now: i64,
    out: &mut ReplyBuf,
) {
    let ids: Vec<StreamId> = match g.consumers.get(consumer) {
        Some(c) => c
            .pel
            .range(start..)
            .take(if count == 0 { usize::MAX } else { count })
            .copied()
            .collect(),
        None => Vec::new(),
    };
    out.array(ids.len());
    for id in ids {
        match s.get(id) {
            Some(e) => {
                emit_entry(out, &e);
                if let Some(n) = g.pel.get_mut(&id) {
                    n.delivery_time = now;
                    n.delivery_count += 1;
                }
            }
            None => {
                out.array(2);
                out.bulk(&id.to_bytes());
                out.null_array();
            }
        }
    }
}

/// The XCLAIM that replays a PEL entry exactly (streamPropagateXCLAIM).
pub(crate) fn xclaim_argv(
    key: &[u8],
    group: &[u8],
    g: &Group,
    id: StreamId,
    nack: &super::Nack,
) -> Vec<Vec<u8>> {
    vec![
        b"XCLAIM".to_vec(),
        key.to_vec(),
        group.to_vec(),
        nack.consumer.clone(),
        b"0".to_vec(),
        id.to_bytes(),
        b"TIME".to_vec(),
        nack.delivery_time.to_string().into_bytes(),
        b"RETRYCOUNT".to_vec(),
        nack.delivery_count.to_string().into_bytes(),
        b"FORCE".to_vec(),
        b"JUSTID".to_vec(),
        b"LASTID".to_vec(),
        g.last_id.to_bytes(),
    ]
}

/// The XGROUP SETID that replays a group's position (streamPropagateGroupID).
pub(crate) fn setid_argv(key: &[u8], group: &[u8], g: &Group) -> Vec<Vec<u8>> {
    vec![
        b"XGROUP".to_vec(),
        b"SETID".to_vec(),
        key.to_vec(),
        group.to_vec(),
        g.last_id.to_bytes(),
        b"ENTRIESREAD".to_vec(),
        g.entries_read.to_string().into_bytes(),
    ]
}
