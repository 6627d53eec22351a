//! zset commands: ZADD and friends, lookups, ranges, range removal and ZSCAN.
//! Pops and ZRANDMEMBER are in [`super::pop`]; union / intersection / difference in
//! [`super::setops`].

use ferrokv_resp::ReplyBuf;

use super::range::{LexRange, ScoreRange};
use super::{AddOutcome, Limits, ZSetValue};
use crate::args::{int_arg, is_kw, parse_f64};
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::{TypedMut, TypedRef};
use crate::notify::{events as ev, Event};
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("zadd", zadd),
    CommandDef::new("zincrby", zincrby),
    CommandDef::new("zrem", zrem),
    CommandDef::new("zcard", zcard),
    CommandDef::new("zcount", zcount),
    CommandDef::new("zlexcount", zlexcount),
    CommandDef::new("zscore", zscore),
    CommandDef::new("zmscore", zmscore),
    CommandDef::new("zrank", zrank),
    CommandDef::new("zrevrank", zrevrank),
    CommandDef::new("zrange", zrange),
    CommandDef::new("zrangestore", zrangestore),
    CommandDef::new("zrevrange", zrevrange),
    CommandDef::new("zrangebyscore", zrangebyscore),
    CommandDef::new("zrevrangebyscore", zrevrangebyscore),
    CommandDef::new("zrangebylex", zrangebylex),
    CommandDef::new("zrevrangebylex", zrevrangebylex),
    CommandDef::new("zremrangebyrank", zremrangebyrank),
    CommandDef::new("zremrangebyscore", zremrangebyscore),
    CommandDef::new("zremrangebylex", zremrangebylex),
    CommandDef::new("zscan", zscan),
    CommandDef::new("zpopmin", super::pop::zpopmin),
    CommandDef::new("zpopmax", super::pop::zpopmax),
    CommandDef::new("bzpopmin", super::pop::bzpopmin),
    CommandDef::new("bzpopmax", super::pop::bzpopmax),
    CommandDef::new("zmpop", super::pop::zmpop),
    CommandDef::new("bzmpop", super::pop::bzmpop),
    CommandDef::new("zrandmember", super::pop::zrandmember),
    CommandDef::new("zunion", super::setops::zunion),
    CommandDef::new("zinter", super::setops::zinter),
    CommandDef::new("zdiff", super::setops::zdiff),
    CommandDef::new("zunionstore", super::setops::zunionstore),
    CommandDef::new("zinterstore", super::setops::zinterstore),
    CommandDef::new("zdiffstore", super::setops::zdiffstore),
    CommandDef::new("zintercard", super::setops::zintercard),
];

/// The thresholds in force.
pub(crate) fn limits(ctx: &Ctx<'_, '_>) -> Limits {
    Limits::from_config(&ctx.engine.config)
}

/// The zset at `key` for reading: `None` if missing, WRONGTYPE for other types.
pub(crate) fn read_zset<'a>(
    keys: &'a mut Keys<'_>,
    key: &[u8],
) -> CmdResult<Option<TypedRef<'a, ZSetValue>>> {
    keys.typed(key, crate::keyspace::Lookup::Read, Value::as_zset)
}

/// The zset at `key` without counting a hit or miss or touching its access time
/// (a second look at a key the command already read).
pub(crate) fn peek_zset<'a>(
    keys: &'a mut Keys<'_>,
    key: &[u8],
) -> CmdResult<Option<TypedRef<'a, ZSetValue>>> {
    keys.typed(key, crate::keyspace::Lookup::NoTouch, Value::as_zset)
}

/// The zset at `key` for writing.
pub(crate) fn write_zset<'a>(
    keys: &'a mut Keys<'_>,
    key: &[u8],
) -> CmdResult<Option<TypedMut<'a, ZSetValue>>> {
    match keys.write(key)? {
        None => Ok(None),
        Some(e) => e
            .write_as(Value::as_zset, Value::as_zset_mut)
            .map(Some)
            .ok_or(CmdError::WrongType),
    }
}

/// Counts `n` changes to `key` (Redis adds one to `server.dirty` per element
/// added, updated or removed).
pub(crate) fn add_dirty(keys: &mut Keys<'_>, key: &[u8], n: usize) -> CmdResult {
    let db = keys.db;
    for _ in 0..n {
        keys.mark_dirty(db, key)?;
    }
    Ok(())
}

/// After removing `n` members: deletes the key if the zset became empty, and counts
/// `n` changes in all (the deletion being one of them).
pub(crate) fn finish_removal(
    keys: &mut Keys<'_>,
    key: &[u8],
    now_empty: bool,
    n: usize,
    event: Event,
) -> CmdResult {
    let db = keys.db;
    keys.modified(db, key, event);
    if now_empty && keys.delete(key)? {
        keys.notify(db, key, ev::DEL);
        add_dirty(keys, key, n.saturating_sub(1))
    } else {
        add_dirty(keys, key, n)
    }
}

/// Stores a computed result at `dst` (ZRANGESTORE, ZUNIONSTORE, ...): an empty result
/// deletes `dst`. Replies with the number of members.
pub(crate) fn store_result(
    ctx: &mut Ctx<'_, '_>,
    dst: &[u8],
    pairs: Vec<(Vec<u8>, f64)>,
    event: Event,
) -> CmdResult {
    let n = pairs.len();
    if n == 0 {
        delete_destination(&mut ctx.keys, dst)?;
        ctx.out.int(0);
        return Ok(());
    }
    let z = ZSetValue::from_sorted_result(pairs, limits(ctx));
    ctx.keys.set(dst, Value::ZSet(z), false)?;
    ctx.keys.changed(dst, event);
    ctx.out.int(n as i64);
    Ok(())
}

/// ZRANGESTORE's destination as Redis 7.0 builds it: a listpack (unless a rank
/// range is known to be too long), filled in emission order and converted to a
/// skiplist at the first member that does not fit. Members added while it is a
/// listpack keep their score as the listpack stores it: an integral score,
/// negative zero included, becomes an integer, so `-0` reads back as `0`.
/// Members added after the conversion keep `-0`.
fn listpack_phase_scores(pairs: &mut [(Vec<u8>, f64)], rank_hint: Option<usize>, l: Limits) {
    if rank_hint.is_some_and(|n| n > l.entries) {
        return;
    }
    for (i, (m, s)) in pairs.iter_mut().enumerate() {
        if i + 1 > l.entries || m.len() > l.value {
            return;
        }
        if *s == 0.0 {
            *s = 0.0;
        }
    }
}

/// An empty result deletes the destination of a STORE command: `del` if it existed.
pub(crate) fn delete_destination(keys: &mut Keys<'_>, dst: &[u8]) -> CmdResult {
    if keys.delete(dst)? {
        keys.changed(dst, ev::DEL);
    }
    Ok(())
}

/// One member with its score as Redis's range replies write it: RESP2 flat, RESP3 a
/// `[member, double]` pair when scores are asked for.
pub(crate) fn emit(out: &mut ReplyBuf, m: &[u8], s: f64, withscores: bool) {
    if withscores && out.is_resp3() {
        out.array(2);
    }
    out.bulk(m);
    if withscores {
        out.double(s);
    }
}

/// The array header for `n` members of a range reply.
pub(crate) fn range_header(out: &mut ReplyBuf, n: usize, withscores: bool) {
    if withscores && !out.is_resp3() {
        out.array(n * 2);
    } else {
        out.array(n);
    }
}

fn nan_error() -> CmdError {
    CmdError::Other("resulting score is not a number (NaN)".into())
}

// ---------------------------------------------------------------------------
// ZADD / ZINCRBY

/// ZADD (also GEOADD's back end).
pub(crate) fn zadd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, args, false)
}

fn zincrby(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zadd_generic(ctx, args, true)
}

/// Redis's zaddGenericCommand, shared with ZINCRBY (which parses its increment
/// position for options too, as Redis does).
fn zadd_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], mut incr: bool) -> CmdResult {
    let key = args[1];
    let (mut nx, mut xx, mut ch, mut gt, mut lt) = (false, false, false, false, false);
    let mut idx = 2;
    while let Some(opt) = args.get(idx) {
        if is_kw(opt, "nx") {
            nx = true;
        } else if is_kw(opt, "xx") {
            xx = true;
        } else if is_kw(opt, "ch") {
            ch = true;
        } else if is_kw(opt, "incr") {
            incr = true;
        } else if is_kw(opt, "gt") {
            gt = true;
        } else if is_kw(opt, "lt") {
            lt = true;
        } else {
            break;
        }
        idx += 1;
    }
    let rest = &args[idx..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    if nx && xx {
        return Err(CmdError::Other(
            "XX and NX options at the same time are not compatible".into(),
        ));
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Err(CmdError::Other(
            "GT, LT, and/or NX options at the same time are not compatible".into(),
        ));
    }
    if incr && rest.len() > 2 {
        return Err(CmdError::Other(
            "INCR option supports a single increment-element pair".into(),
        ));
    }
    let mut scores = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks(2) {
        scores.push(parse_f64(pair[0]).ok_or(CmdError::NotFloat)?);
    }
    let limits = limits(ctx);
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last_score = 0.0;
    let mut nan = false;
    let mut apply = |z: &mut ZSetValue| {
        for (pair, &score) in rest.chunks(2).zip(&scores) {
            let member = pair[1];
            match z.score(member) {
                Some(cur) => {
                    if nx {
                        continue;
                    }
                    let mut score = score;
                    if incr {
                        score += cur;
                        if score.is_nan() {
                            nan = true;
                            return;
                        }
                    }
                    if (lt && score >= cur) || (gt && score <= cur) {
                        continue;
                    }
                    last_score = score;
                    processed += 1;
                    if let AddOutcome::Updated(_) = z.add(member, score, limits) {
                        updated += 1;
                    }
                }
                None if xx => {}
                None => {
                    z.add(member, score, limits);
                    last_score = score;
                    added += 1;
                    processed += 1;
                }
            }
        }
    };
    let existed = match write_zset(&mut ctx.keys, key)? {
        Some(mut z) => {
            apply(&mut z);
            true
        }
        None => false,
    };
    match existed {
        true => add_dirty(&mut ctx.keys, key, (added + updated) as usize)?,
        false if xx => {}
        false => {
            let mut z = ZSetValue::new();
            apply(&mut z);
            if !z.is_empty() {
                ctx.keys.insert_new(key, Value::ZSet(z), None)?;
                add_dirty(
                    &mut ctx.keys,
                    key,
                    (added + updated).saturating_sub(1) as usize,
                )?;
            }
        }
    }
    if added + updated > 0 {
        ctx.keys
            .changed(key, if incr { ev::ZINCR } else { ev::ZADD });
    }
    if nan {
        return Err(nan_error());
    }
    if incr {
        if processed > 0 {
            ctx.out.double(last_score);
        } else {
            ctx.out.null();
        }
    } else {
        ctx.out.int(if ch { added + updated } else { added });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZCOUNT, ZLEXCOUNT

fn zrem(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let Some(mut z) = write_zset(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let mut n = 0;
    for m in &args[2..] {
        if z.remove(m).is_some() {
            n += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    let empty = z.is_empty();
    drop(z);
    if n > 0 {
        finish_removal(&mut ctx.keys, key, empty, n as usize, ev::ZREM)?;
    }
    ctx.out.int(n);
    Ok(())
}

fn zcard(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = read_zset(&mut ctx.keys, args[1])?.map_or(0, |z| z.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn zscore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match read_zset(&mut ctx.keys, args[1])?.and_then(|z| z.score(args[2])) {
        Some(s) => ctx.out.double(s),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zmscore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let z = read_zset(&mut ctx.keys, args[1])?;
    ctx.out.array(args.len() - 2);
    for m in &args[2..] {
        match z.as_ref().and_then(|z| z.score(m)) {
            Some(s) => ctx.out.double(s),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn rank_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], rev: bool) -> CmdResult {
    let z = read_zset(&mut ctx.keys, args[1])?;
    match z.and_then(|z| z.rank(args[2]).map(|(r, _)| (r, z.len()))) {
        Some((r, len)) => ctx.out.int(if rev { len - 1 - r } else { r } as i64),
        None => ctx.out.null(),
    }
    Ok(())
}

fn zrank(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, false)
}

fn zrevrank(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    rank_generic(ctx, args, true)
}

fn score_range_arg(min: &[u8], max: &[u8]) -> CmdResult<ScoreRange> {
    ScoreRange::parse(min, max).ok_or_else(|| CmdError::Other("min or max is not a float".into()))
}

fn lex_range_arg(min: &[u8], max: &[u8]) -> CmdResult<LexRange> {
    LexRange::parse(min, max)
        .ok_or_else(|| CmdError::Other("min or max not valid string range item".into()))
}

fn zcount(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let r = score_range_arg(args[2], args[3])?;
    let n = read_zset(&mut ctx.keys, args[1])?.map_or(0, |z| z.count_in_score_range(&r));
    ctx.out.int(n as i64);
    Ok(())
}

fn zlexcount(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let r = lex_range_arg(args[2], args[3])?;
    let n = read_zset(&mut ctx.keys, args[1])?.map_or(0, |z| z.count_in_lex_range(&r));
    ctx.out.int(n as i64);
    Ok(())
}

// ---------------------------------------------------------------------------
// ZRANGE and its older forms

#[derive(Clone, Copy, PartialEq, Eq)]
enum RangeType {
    Auto,
    Rank,
    Score,
    Lex,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Direction {
    Auto,
    Forward,
    Reverse,
}

enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Sanitises a rank range as Redis does; `None` when it selects nothing.
pub(crate) fn rank_bounds(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

/// Redis's zrangeGenericCommand: `args[first]` is the source key, followed by min,
/// max and the options. With `store`, the result goes to that key.
fn zrange_generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[&[u8]],
    first: usize,
    store: Option<&[u8]>,
    mut rtype: RangeType,
    mut dir: Direction,
) -> CmdResult {
    let key = args[first];
    let (mut minidx, mut maxidx) = (first + 1, first + 2);
    let mut withscores = false;
    let (mut offset, mut limit) = (0i64, -1i64);
    let mut j = first + 3;
    while j < args.len() {
        let left = args.len() - j - 1;
        let a = args[j];
        if store.is_none() && is_kw(a, "withscores") {
            withscores = true;
        } else if is_kw(a, "limit") && left >= 2 {
            offset = int_arg(args[j + 1])?;
            limit = int_arg(args[j + 2])?;
            j += 2;
        } else if dir == Direction::Auto && is_kw(a, "rev") {
            dir = Direction::Reverse;
        } else if rtype == RangeType::Auto && is_kw(a, "bylex") {
            rtype = RangeType::Lex;
        } else if rtype == RangeType::Auto && is_kw(a, "byscore") {
            rtype = RangeType::Score;
        } else {
            return Err(CmdError::Syntax);
        }
        j += 1;
    }
    let rev = dir == Direction::Reverse;
    if rtype == RangeType::Auto {
        rtype = RangeType::Rank;
    }
    if limit != -1 && rtype == RangeType::Rank {
        return Err(CmdError::Other(
            "syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
                .into(),
        ));
    }
    if withscores && rtype == RangeType::Lex {
        return Err(CmdError::Other(
            "syntax error, WITHSCORES not supported in combination with BYLEX".into(),
        ));
    }
    if rev && rtype != RangeType::Rank {
        std::mem::swap(&mut minidx, &mut maxidx);
    }
    let spec = match rtype {
        RangeType::Score => Spec::Score(score_range_arg(args[minidx], args[maxidx])?),
        RangeType::Lex => Spec::Lex(lex_range_arg(args[minidx], args[maxidx])?),
        _ => Spec::Rank(int_arg(args[minidx])?, int_arg(args[maxidx])?),
    };
    let Some(z) = read_zset(&mut ctx.keys, key)? else {
        match store {
            Some(dst) => store_result(ctx, dst, Vec::new(), ev::ZRANGESTORE)?,
            None => ctx.out.empty_array(),
        }
        return Ok(());
    };
    // The ascending ranks selected, visited descending when `rev`.
    let (s, e) = match spec {
        Spec::Rank(start, end) => match rank_bounds(start, end, z.len()) {
            None => (0, 0),
            Some((a, b)) if rev => (z.len() - 1 - b, z.len() - a),
            Some((a, b)) => (a, b + 1),
        },
        Spec::Score(_) | Spec::Lex(_) => {
            let (lo, hi) = match &spec {
                Spec::Score(r) => z.score_range_ranks(r),
                Spec::Lex(r) => z.lex_range_ranks(r, rev),
                Spec::Rank(..) => (0, 0),
            };
            if offset < 0 || (offset > 0 && offset as u64 >= z.len() as u64) {
                (0, 0)
            } else {
                let offset = offset as usize;
                let take = if limit < 0 {
                    usize::MAX
                } else {
                    limit as usize
                };
                if rev {
                    let e = hi.saturating_sub(offset).max(lo);
                    (e.saturating_sub(take).max(lo), e)
                } else {
                    let s = lo.saturating_add(offset).min(hi);
                    (s, s.saturating_add(take).min(hi))
                }
            }
        }
    };
    if let Some(dst) = store {
        let mut pairs = z.collect_range(s, e, rev);
        let rank_hint = matches!(spec, Spec::Rank(..)).then_some(pairs.len());
        listpack_phase_scores(&mut pairs, rank_hint, limits(ctx));
        return store_result(ctx, dst, pairs, ev::ZRANGESTORE);
    }
    let out = &mut *ctx.out;
    range_header(out, e.saturating_sub(s), withscores);
    z.visit(s, e, rev, &mut |m, sc| {
        emit(out, m, sc, withscores);
        true
    });
    Ok(())
}

fn zrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Auto, Direction::Auto)
}

fn zrangestore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(
        ctx,
        args,
        2,
        Some(args[1]),
        RangeType::Auto,
        Direction::Auto,
    )
}

fn zrevrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Rank, Direction::Reverse)
}

fn zrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Forward)
}

fn zrevrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Score, Direction::Reverse)
}

fn zrangebylex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Forward)
}

fn zrevrangebylex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zrange_generic(ctx, args, 1, None, RangeType::Lex, Direction::Reverse)
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrange_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], rtype: RangeType) -> CmdResult {
    let key = args[1];
    let spec = match rtype {
        RangeType::Score => Spec::Score(score_range_arg(args[2], args[3])?),
        RangeType::Lex => Spec::Lex(lex_range_arg(args[2], args[3])?),
        _ => Spec::Rank(int_arg(args[2])?, int_arg(args[3])?),
    };
    let Some(mut z) = write_zset(&mut ctx.keys, key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let (s, e) = match &spec {
        Spec::Rank(a, b) => rank_bounds(*a, *b, z.len()).map_or((0, 0), |(a, b)| (a, b + 1)),
        Spec::Score(r) => z.score_range_ranks(r),
        Spec::Lex(r) => z.lex_range_ranks(r, false),
    };
    let n = if e > s { z.remove_range(s, e) } else { 0 };
    let empty = z.is_empty();
    drop(z);
    if n > 0 {
        let event = match rtype {
            RangeType::Score => ev::ZREMRANGEBYSCORE,
            RangeType::Lex => ev::ZREMRANGEBYLEX,
            _ => ev::ZREMRANGEBYRANK,
        };
        finish_removal(&mut ctx.keys, key, empty, n, event)?;
    }
    ctx.out.int(n as i64);
    Ok(())
}

fn zremrangebyrank(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zremrange_generic(ctx, args, RangeType::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zremrange_generic(ctx, args, RangeType::Score)
}

fn zremrangebylex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    zremrange_generic(ctx, args, RangeType::Lex)
}

// ---------------------------------------------------------------------------
// ZSCAN

/// Redis's double2ll: the integer a listpack stores for an integral score within
/// ±LLONG_MAX/2 (so -0 becomes 0).
fn listpack_integer(d: f64) -> Option<i64> {
    let lim = (i64::MAX / 2) as f64;
    if !(-lim..=lim).contains(&d) {
        return None;
    }
    let i = d as i64;
    (i as f64 == d).then_some(i)
}

fn zscan(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::args::scan_cursor(args[2])?;
    let Some(z) = read_zset(&mut ctx.keys, args[1])? else {
        ctx.out.array(2);
        ctx.out.bulk(b"0");
        ctx.out.array(0);
        return Ok(());
    };
    let o = crate::commands::keys::parse_scan_opts(&args[3..], false)?;
    let packed = z.encoding() == "listpack";
    let mut found: Vec<(Vec<u8>, f64)> = Vec::new();
    let next = z.scan(cursor, o.count, &mut |m, s| {
        if o.pattern
            .is_none_or(|p| crate::glob::glob_match(p, m, false))
        {
            found.push((m.to_vec(), s));
        }
    });
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len() * 2);
    let mut text = Vec::with_capacity(24);
    for (m, s) in &found {
        ctx.out.bulk(m);
        text.clear();
        match listpack_integer(*s) {
            // A listpack keeps such scores as integers and ZSCAN returns them as is.
            Some(i) if packed => text.extend_from_slice(itoa::Buffer::new().format(i).as_bytes()),
            _ => ferrokv_resp::format_double(*s, &mut text),
        }
        ctx.out.bulk(&text);
    }
    Ok(())
}
