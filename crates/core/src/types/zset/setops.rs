//! ZUNION / ZINTER / ZDIFF, their STORE forms and ZINTERCARD (Redis's
//! zunionInterDiffGenericCommand).
//!
//! Sources are visited one at a time (each lookup borrows the keyspace): the
//! intersection keeps the candidates from the smallest input and filters them
//! against each other input in turn, which aggregates every member's scores in the
//! same order as Redis (inputs sorted by size, then in argument order).

use std::collections::{HashMap, HashSet};

use super::big::cmp_key;
use super::commands::{emit, peek_zset, range_header, store_result};
use crate::args::{int_arg, is_kw, parse_f64};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::types::Value;

/// The members of a plain set used as a ZUNION/ZINTER/ZDIFF input (each with score
/// 1), or `None` when `value` is not a set.
fn set_members_as_zset_input(value: &Value) -> Option<Vec<Vec<u8>>> {
    match value {
        Value::Set(s) => {
            let mut members = Vec::with_capacity(s.len());
            s.for_each(|m| members.push(m.to_vec()));
            Some(members)
        }
        _ => None,
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

enum Input {
    Missing,
    ZSet(usize),
    Set(Vec<Vec<u8>>),
}

struct Src<'a> {
    key: &'a [u8],
    weight: f64,
    input: Input,
}

impl Src<'_> {
    fn len(&self) -> usize {
        match &self.input {
            Input::Missing => 0,
            Input::ZSet(n) => *n,
            Input::Set(v) => v.len(),
        }
    }
}

/// zunionInterAggregate.
fn aggregate(target: &mut f64, val: f64, agg: Aggregate) {
    match agg {
        Aggregate::Sum => {
            *target += val;
            // +inf + -inf: Redis's convention is 0.
            if target.is_nan() {
                *target = 0.0;
            }
        }
        Aggregate::Min => {
            if val < *target {
                *target = val;
            }
        }
        Aggregate::Max => {
            if val > *target {
                *target = val;
            }
        }
    }
}

/// Calls `f(member, score)` on every element of `src`.
fn for_each_src(ctx: &mut Ctx<'_, '_>, src: &Src<'_>, f: &mut dyn FnMut(&[u8], f64)) -> CmdResult {
    match &src.input {
        Input::Missing => {}
        Input::Set(v) => v.iter().for_each(|m| f(m, 1.0)),
        Input::ZSet(_) => {
            if let Some(z) = peek_zset(&mut ctx.keys, src.key)? {
                z.for_each(|m, s| f(m, s));
            }
        }
    }
    Ok(())
}

/// Looks the scores of `members` up in `src` (`None` where absent).
fn lookup_src(
    ctx: &mut Ctx<'_, '_>,
    src: &Src<'_>,
    members: &[&[u8]],
) -> CmdResult<Vec<Option<f64>>> {
    Ok(match &src.input {
        Input::Missing => vec![None; members.len()],
        Input::Set(v) => {
            let set: HashSet<&[u8]> = v.iter().map(|m| m.as_slice()).collect();
            members
                .iter()
                .map(|m| set.contains(m).then_some(1.0))
                .collect()
        }
        Input::ZSet(_) => match peek_zset(&mut ctx.keys, src.key)? {
            Some(z) => members.iter().map(|m| z.score(m)).collect(),
            None => vec![None; members.len()],
        },
    })
}

/// The shared implementation. `dst`: the STORE destination; `numkeys_idx`: where
/// numkeys is; `card_only`: ZINTERCARD.
fn generic(
    ctx: &mut Ctx<'_, '_>,
    args: &[&[u8]],
    dst: Option<&[u8]>,
    numkeys_idx: usize,
    op: Op,
    card_only: bool,
) -> CmdResult {
    let setnum = int_arg(args[numkeys_idx])?;
    if setnum < 1 {
        return Err(CmdError::Other(format!(
            "at least 1 input key is needed for '{}' command",
            ctx.cmd.meta.name
        )));
    }
    if setnum as u64 > (args.len() - (numkeys_idx + 1)) as u64 {
        return Err(CmdError::Syntax);
    }
    let setnum = setnum as usize;
    let mut srcs: Vec<Src<'_>> = Vec::with_capacity(setnum);
    for &key in &args[numkeys_idx + 1..numkeys_idx + 1 + setnum] {
        let input = match ctx.keys.read(key)? {
            None => Input::Missing,
            Some(e) => match &*e.node.value() {
                Value::ZSet(z) => Input::ZSet(z.len()),
                other => match set_members_as_zset_input(other) {
                    Some(members) => Input::Set(members),
                    None => return Err(CmdError::WrongType),
                },
            },
        };
        srcs.push(Src {
            key,
            weight: 1.0,
            input,
        });
    }
    let mut agg = Aggregate::Sum;
    let mut withscores = false;
    let mut limit = 0u64;
    let mut j = numkeys_idx + 1 + setnum;
    while j < args.len() {
        let remaining = args.len() - j;
        let a = args[j];
        if op != Op::Diff && !card_only && remaining > setnum && is_kw(a, "weights") {
            j += 1;
            for src in srcs.iter_mut() {
                src.weight = parse_f64(args[j])
                    .ok_or_else(|| CmdError::Other("weight value is not a float".into()))?;
                j += 1;
            }
        } else if op != Op::Diff && !card_only && remaining >= 2 && is_kw(a, "aggregate") {
            let v = args[j + 1];
            agg = if is_kw(v, "sum") {
                Aggregate::Sum
            } else if is_kw(v, "min") {
                Aggregate::Min
            } else if is_kw(v, "max") {
                Aggregate::Max
            } else {
                return Err(CmdError::Syntax);
            };
            j += 2;
        } else if dst.is_none() && !card_only && is_kw(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && is_kw(a, "limit") {
            let v = int_arg(args[j + 1])
                .ok()
                .filter(|v| *v >= 0)
                .ok_or_else(|| CmdError::Other("LIMIT can't be negative".into()))?;
            limit = v as u64;
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if op != Op::Diff {
        // Smallest inputs first (a stable sort, like glibc's merge-sorting qsort).
        srcs.sort_by_key(Src::len);
    }
    let result: Vec<(Vec<u8>, f64)> = match op {
        Op::Union => {
            let mut acc: HashMap<Vec<u8>, f64> = HashMap::new();
            for src in &srcs {
                let w = src.weight;
                for_each_src(ctx, src, &mut |m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    match acc.get_mut(m) {
                        Some(t) => aggregate(t, score, agg),
                        None => {
                            acc.insert(m.to_vec(), score);
                        }
                    }
                })?;
            }
            acc.into_iter().collect()
        }
        Op::Inter => {
            let mut cand: Vec<(Vec<u8>, f64)> = Vec::new();
            if srcs.first().is_some_and(|s| s.len() > 0) {
                let w = srcs[0].weight;
                for_each_src(ctx, &srcs[0], &mut |m, s| {
                    let mut score = w * s;
                    if score.is_nan() {
                        score = 0.0;
                    }
                    cand.push((m.to_vec(), score));
                })?;
                for src in &srcs[1..] {
                    if cand.is_empty() {
                        break;
                    }
                    let members: Vec<&[u8]> = cand.iter().map(|(m, _)| m.as_slice()).collect();
                    let found = lookup_src(ctx, src, &members)?;
                    let mut keep = Vec::with_capacity(cand.len());
                    for ((m, mut score), v) in cand.into_iter().zip(found) {
                        if let Some(v) = v {
                            aggregate(&mut score, v * src.weight, agg);
                            keep.push((m, score));
                        }
                    }
                    cand = keep;
                }
            }
            cand
        }
        Op::Diff => {
            let mut cand: Vec<(Vec<u8>, f64)> = Vec::new();
            if srcs[0].len() > 0 {
                for_each_src(ctx, &srcs[0], &mut |m, s| cand.push((m.to_vec(), s)))?;
                for src in &srcs[1..] {
                    if cand.is_empty() {
                        break;
                    }
                    let members: Vec<&[u8]> = cand.iter().map(|(m, _)| m.as_slice()).collect();
                    let found = lookup_src(ctx, src, &members)?;
                    cand = cand
                        .into_iter()
                        .zip(found)
                        .filter(|(_, v)| v.is_none())
                        .map(|(c, _)| c)
                        .collect();
                }
            }
            cand
        }
    };
    if card_only {
        let n = result.len() as u64;
        let n = if limit > 0 { n.min(limit) } else { n };
        ctx.out.int(n as i64);
        return Ok(());
    }
    let mut result = result;
    result.sort_by(|a, b| cmp_key(a.1, &a.0, b.1, &b.0));
    if let Some(dst) = dst {
        let event = match op {
            Op::Union => crate::notify::events::ZUNIONSTORE,
            Op::Inter => crate::notify::events::ZINTERSTORE,
            Op::Diff => crate::notify::events::ZDIFFSTORE,
        };
        return store_result(ctx, dst, result, event);
    }
    range_header(ctx.out, result.len(), withscores);
    for (m, s) in &result {
        emit(ctx.out, m, *s, withscores);
    }
    Ok(())
}

pub(crate) fn zunion(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, None, 1, Op::Union, false)
}

pub(crate) fn zinter(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, None, 1, Op::Inter, false)
}

pub(crate) fn zdiff(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, None, 1, Op::Diff, false)
}

pub(crate) fn zunionstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, Some(args[1]), 2, Op::Union, false)
}

pub(crate) fn zinterstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, Some(args[1]), 2, Op::Inter, false)
}

pub(crate) fn zdiffstore(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, Some(args[1]), 2, Op::Diff, false)
}

pub(crate) fn zintercard(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    generic(ctx, args, None, 1, Op::Inter, true)
}
