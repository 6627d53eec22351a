//! Hash commands.

use std::collections::HashSet;

use rand::seq::SliceRandom;
use rand::Rng;

use crate::args::{int_arg, is_kw, parse_i64, range_arg};
use crate::commands::keys::parse_scan_opts;
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::keyspace::{TypedMut, TypedRef};
use crate::notify::{events as ev, Event};
use crate::types::hash::{HashLimits, HashValue};
use crate::types::string::float80;
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("hset", hset),
    CommandDef::new("hmset", hmset),
    CommandDef::new("hsetnx", hsetnx),
    CommandDef::new("hget", hget),
    CommandDef::new("hmget", hmget),
    CommandDef::new("hgetall", hgetall),
    CommandDef::new("hkeys", hkeys),
    CommandDef::new("hvals", hvals),
    CommandDef::new("hdel", hdel),
    CommandDef::new("hlen", hlen),
    CommandDef::new("hstrlen", hstrlen),
    CommandDef::new("hexists", hexists),
    CommandDef::new("hincrby", hincrby),
    CommandDef::new("hincrbyfloat", hincrbyfloat),
    CommandDef::new("hrandfield", hrandfield),
    CommandDef::new("hscan", hscan),
];

/// The hash at `key` for reading: `None` if missing, WRONGTYPE if another type.
fn read_hash<'c>(keys: &'c mut Keys<'_>, key: &[u8]) -> CmdResult<Option<TypedRef<'c, HashValue>>> {
    keys.typed(key, crate::keyspace::Lookup::Read, Value::as_hash)
}

/// The hash at `key` through a write lookup, for reading (a writer's first look).
fn peek_hash<'c>(keys: &'c mut Keys<'_>, key: &[u8]) -> CmdResult<Option<TypedRef<'c, HashValue>>> {
    keys.typed(key, crate::keyspace::Lookup::Write, Value::as_hash)
}

/// The hash at `key` for writing; created empty when missing and `create` (the
/// caller must then leave it non-empty).
fn write_hash<'c>(
    keys: &'c mut Keys<'_>,
    key: &[u8],
    create: bool,
) -> CmdResult<Option<TypedMut<'c, HashValue>>> {
    let exists = match keys.write(key)? {
        None => false,
        Some(e) if matches!(*e.get(), Value::Hash(_)) => true,
        Some(_) => return Err(CmdError::WrongType),
    };
    let entry = if exists {
        match keys.write(key)? {
            Some(e) => e,
            None => return Ok(None),
        }
    } else if create {
        keys.insert_new(key, Value::Hash(HashValue::default()), None)?
    } else {
        return Ok(None);
    };
    entry
        .write_as(Value::as_hash, Value::as_hash_mut)
        .map(Some)
        .ok_or(CmdError::WrongType)
}

fn limits(ctx: &Ctx<'_, '_>) -> HashLimits {
    HashLimits::from_config(&ctx.engine.config)
}

/// HSET/HMSET: sets the pairs, returns how many fields were new.
fn set_pairs(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult<i64> {
    if args.len() % 2 == 1 {
        return Err(CmdError::WrongArity(ctx.cmd.meta.name.clone()));
    }
    let lim = limits(ctx);
    let key = args[1];
    let Some(mut h) = write_hash(&mut ctx.keys, key, true)? else {
        return Ok(0);
    };
    // Redis checks every argument's length before inserting any (hashTypeTryConversion).
    for a in &args[2..] {
        h.fit_lengths(a.len(), 0, lim);
    }
    let mut created = 0;
    for pair in args[2..].chunks(2) {
        if h.insert(pair[0], pair[1], lim) {
            created += 1;
        }
    }
    drop(h);
    ctx.keys.mark_dirty(ctx.keys.db, key)?;
    ctx.keys.changed(key, ev::HSET);
    Ok(created)
}

fn hset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = set_pairs(ctx, args)?;
    ctx.out.int(n);
    Ok(())
}

fn hmset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    set_pairs(ctx, args)?;
    ctx.out.ok();
    Ok(())
}

fn hsetnx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let lim = limits(ctx);
    let (key, field, value) = (args[1], args[2], args[3]);
    let exists = match peek_hash(&mut ctx.keys, key)? {
        Some(h) => h.get(field).is_some(),
        None => false,
    };
    if exists {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(mut h) = write_hash(&mut ctx.keys, key, true)? {
        h.insert(field, value, lim);
    }
    ctx.keys.mark_dirty(ctx.keys.db, key)?;
    ctx.keys.changed(key, ev::HSET);
    ctx.out.int(1);
    Ok(())
}

fn hget(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let h = read_hash(&mut ctx.keys, args[1])?;
    match h.as_deref().and_then(|h| h.get(args[2])) {
        Some(v) => ctx.out.bulk(v),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hmget(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let h = read_hash(&mut ctx.keys, args[1])?;
    ctx.out.array(args.len() - 2);
    for f in &args[2..] {
        match h.as_ref().and_then(|h| h.get(f)) {
            Some(v) => ctx.out.bulk(v),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn hgetall(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match read_hash(&mut ctx.keys, args[1])? {
        None => ctx.out.map(0),
        Some(h) => {
            ctx.out.map(h.len());
            for (f, v) in h.iter() {
                ctx.out.bulk(f);
                ctx.out.bulk(v);
            }
        }
    }
    Ok(())
}

fn hkeys_or_vals(ctx: &mut Ctx<'_, '_>, key: &[u8], keys: bool) -> CmdResult {
    match read_hash(&mut ctx.keys, key)? {
        None => ctx.out.array(0),
        Some(h) => {
            ctx.out.array(h.len());
            for (f, v) in h.iter() {
                ctx.out.bulk(if keys { f } else { v });
            }
        }
    }
    Ok(())
}

fn hkeys(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    hkeys_or_vals(ctx, args[1], true)
}

fn hvals(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    hkeys_or_vals(ctx, args[1], false)
}

fn hdel(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let (deleted, empty) = match write_hash(&mut ctx.keys, key, false)? {
        None => (0, false),
        Some(mut h) => {
            let mut n = 0;
            for f in &args[2..] {
                if h.remove(f) {
                    n += 1;
                    if h.is_empty() {
                        break;
                    }
                }
            }
            (n, h.is_empty())
        }
    };
    if deleted > 0 {
        ctx.keys.changed(key, ev::HDEL);
    }
    if empty {
        ctx.keys.delete(key)?;
        ctx.keys.notify(ctx.keys.db, key, ev::DEL);
    } else if deleted > 0 {
        ctx.keys.mark_dirty(ctx.keys.db, key)?;
    }
    ctx.out.int(deleted);
    Ok(())
}

fn hlen(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = read_hash(&mut ctx.keys, args[1])?.map_or(0, |h| h.len());
    ctx.out.int(n as i64);
    Ok(())
}

fn hstrlen(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let h = read_hash(&mut ctx.keys, args[1])?;
    let n = h
        .as_deref()
        .and_then(|h| h.get(args[2]))
        .map_or(0, <[u8]>::len);
    ctx.out.int(n as i64);
    Ok(())
}

fn hexists(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let found = read_hash(&mut ctx.keys, args[1])?.is_some_and(|h| h.get(args[2]).is_some());
    ctx.out.int(i64::from(found));
    Ok(())
}

/// The current value of `field` for an increment (no key is created).
fn current(ctx: &mut Ctx<'_, '_>, key: &[u8], field: &[u8]) -> CmdResult<Option<Vec<u8>>> {
    Ok(peek_hash(&mut ctx.keys, key)?.and_then(|h| h.get(field).map(<[u8]>::to_vec)))
}

fn store(ctx: &mut Ctx<'_, '_>, key: &[u8], field: &[u8], value: &[u8], event: Event) -> CmdResult {
    let lim = limits(ctx);
    if let Some(mut h) = write_hash(&mut ctx.keys, key, true)? {
        h.insert(field, value, lim);
    }
    ctx.keys.changed(key, event);
    ctx.keys.mark_dirty(ctx.keys.db, key)
}

fn hincrby(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (key, field) = (args[1], args[2]);
    let by = int_arg(args[3])?;
    let cur = match current(ctx, key, field)? {
        None => 0,
        Some(v) => {
            parse_i64(&v).ok_or_else(|| CmdError::Other("hash value is not an integer".into()))?
        }
    };
    let new = cur.checked_add(by).ok_or(CmdError::Overflow)?;
    store(
        ctx,
        key,
        field,
        itoa::Buffer::new().format(new).as_bytes(),
        ev::HINCRBY,
    )?;
    ctx.out.int(new);
    Ok(())
}

fn hincrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (key, field) = (args[1], args[2]);
    let by = parse_long_double(args[3]).ok_or(CmdError::NotFloat)?;
    if float80::is_inf(&by) {
        return Err(CmdError::Other("value is NaN or Infinity".into()));
    }
    let cur = match current(ctx, key, field)? {
        None => float80::from_i64(0),
        Some(v) => parse_long_double(&v)
            .ok_or_else(|| CmdError::Other("hash value is not a float".into()))?,
    };
    let sum = float80::add(&cur, &by).ok_or(CmdError::NanOrInfinity)?;
    if float80::is_inf(&sum) {
        return Err(CmdError::NanOrInfinity);
    }
    let text = float80::format_human(&sum);
    store(ctx, key, field, text.as_bytes(), ev::HINCRBYFLOAT)?;
    // The float arithmetic is not replayed: the result is.
    ctx.keys.propagate_as(vec![
        b"HSET".to_vec(),
        key.to_vec(),
        field.to_vec(),
        text.as_bytes().to_vec(),
    ]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn hrandfield(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() >= 3 {
        let count = range_arg(args[2], -i64::MAX, i64::MAX)?;
        let withvalues = match args.len() {
            3 => false,
            4 if is_kw(args[3], "withvalues") => true,
            _ => return Err(CmdError::Syntax),
        };
        if withvalues && !(-i64::MAX / 2..=i64::MAX / 2).contains(&count) {
            return Err(CmdError::OutOfRange);
        }
        return hrandfield_count(ctx, args[1], count, withvalues);
    }
    let mut rng = rand::thread_rng();
    let h = read_hash(&mut ctx.keys, args[1])?;
    match h.as_deref().and_then(|h| h.random(&mut rng)) {
        Some((f, _)) => ctx.out.bulk(f),
        None => ctx.out.null(),
    }
    Ok(())
}

fn hrandfield_count(ctx: &mut Ctx<'_, '_>, key: &[u8], count: i64, withvalues: bool) -> CmdResult {
    let Some(h) = read_hash(&mut ctx.keys, key)? else {
        ctx.out.array(0);
        return Ok(());
    };
    let resp3 = ctx.out.is_resp3();
    let emit = |out: &mut ferrokv_resp::ReplyBuf, f: &[u8], v: &[u8]| {
        if withvalues && resp3 {
            out.array(2);
        }
        out.bulk(f);
        if withvalues {
            out.bulk(v);
        }
    };
    let header = |n: usize| if withvalues && !resp3 { n * 2 } else { n };
    let size = h.len();
    let mut rng = rand::thread_rng();
    let n = count.unsigned_abs();
    if n == 0 {
        ctx.out.array(0);
        return Ok(());
    }
    // Past the cap only a client with an output limit asks for it: the reply stops
    // at the limit and the client is closed, as in Redis.
    if count < 0 && n > crate::args::MAX_RANDOM_PICKS && ctx.client.reply_limit == 0 {
        return Err(crate::args::too_many_picks());
    }
    // The pairs of a compact hash, gathered once so that sampling is O(1) per pick.
    let packed: Vec<(&[u8], &[u8])> = match &*h {
        HashValue::Packed(p) => p.iter().collect(),
        HashValue::Table(_) => Vec::new(),
    };
    let pick = |rng: &mut rand::rngs::ThreadRng| -> Option<(&[u8], &[u8])> {
        if packed.is_empty() {
            h.random(rng)
        } else {
            packed.get(rng.gen_range(0..packed.len())).copied()
        }
    };
    if count < 0 || n == 1 {
        // Repetitions allowed: n independent picks.
        let n = usize::try_from(n).unwrap_or(usize::MAX);
        ctx.out.array(header(n));
        for _ in 0..n {
            if let Some((f, v)) = pick(&mut rng) {
                emit(ctx.out, f, v);
            }
            if ctx.client.reply_full(ctx.out) {
                break;
            }
        }
        return Ok(());
    }
    let n = usize::try_from(n).unwrap_or(usize::MAX);
    if n >= size {
        ctx.out.array(header(size));
        for (f, v) in h.iter() {
            emit(ctx.out, f, v);
        }
        return Ok(());
    }
    ctx.out.array(header(n));
    if n * 3 > size {
        // Many of the elements: shuffle them all and keep n.
        let mut all: Vec<(&[u8], &[u8])> = h.iter().collect();
        let (chosen, _) = all.partial_shuffle(&mut rng, n);
        for (f, v) in chosen.iter() {
            emit(ctx.out, f, v);
        }
    } else {
        let mut seen: HashSet<&[u8]> = HashSet::with_capacity(n);
        while seen.len() < n {
            let Some((f, v)) = pick(&mut rng) else { break };
            if seen.insert(f) {
                emit(ctx.out, f, v);
            }
        }
    }
    Ok(())
}

/// Writes a *SCAN reply: the next cursor and the flat list of items.
pub(crate) fn scan_reply(ctx: &mut Ctx<'_, '_>, cursor: u64, items: &[&[u8]]) {
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(cursor).as_bytes());
    ctx.out.array(items.len());
    for i in items {
        ctx.out.bulk(i);
    }
}

fn hscan(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::args::scan_cursor(args[2])?;
    let Some(h) = read_hash(&mut ctx.keys, args[1])? else {
        scan_reply(ctx, 0, &[]);
        return Ok(());
    };
    let o = parse_scan_opts(&args[3..], false)?;
    let keep = |f: &[u8]| o.pattern.is_none_or(|p| glob_match(p, f, false));
    let mut items: Vec<&[u8]> = Vec::new();
    let next = match &*h {
        HashValue::Packed(p) => {
            for (f, v) in p.iter() {
                if keep(f) {
                    items.push(f);
                    items.push(v);
                }
            }
            0
        }
        HashValue::Table(t) => {
            // As Redis: visit buckets until COUNT items (fields and values both count)
            // were gathered or 10*COUNT buckets were visited; filter afterwards.
            let mut cursor = cursor;
            let mut budget = o.count.saturating_mul(10);
            let mut gathered: Vec<(&[u8], &[u8])> = Vec::new();
            loop {
                cursor = t.scan(cursor, |p| gathered.push((p.field(), p.value())));
                budget = budget.saturating_sub(1);
                if cursor == 0 || budget == 0 || gathered.len() * 2 >= o.count {
                    break;
                }
            }
            for (f, v) in gathered {
                if keep(f) {
                    items.push(f);
                    items.push(v);
                }
            }
            cursor
        }
    };
    let items: Vec<Vec<u8>> = items.into_iter().map(<[u8]>::to_vec).collect();
    let refs: Vec<&[u8]> = items.iter().map(Vec::as_slice).collect();
    scan_reply(ctx, next, &refs);
    Ok(())
}

/// Redis's string2ld: strtold's decimal forms (float80::parse) and its hexadecimal
/// form (`0x1.8p3`), which INCRBYFLOAT-style commands accept too.
fn parse_long_double(s: &[u8]) -> Option<float80::F80> {
    float80::parse(s).or_else(|| parse_hex_long_double(s))
}

/// strtold's hexadecimal float, rounded once to the 80-bit format.
fn parse_hex_long_double(s: &[u8]) -> Option<float80::F80> {
    use float80::F80;
    let (neg, rest) = match s.first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if rest.len() < 3 || !rest[..2].eq_ignore_ascii_case(b"0x") {
        return None;
    }
    let rest = &rest[2..];
    let (mant, exp_text) = match rest.iter().position(|&b| b == b'p' || b == b'P') {
        Some(i) => (&rest[..i], Some(&rest[i + 1..])),
        None => (rest, None),
    };
    let mut exp: i64 = match exp_text {
        None => 0,
        Some(t) => {
            let (eneg, digits) = match t.first()? {
                b'-' => (true, &t[1..]),
                b'+' => (false, &t[1..]),
                _ => (false, t),
            };
            if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            // Saturate: anything this large is an overflow or underflow anyway.
            let mut v: i64 = 0;
            for &d in digits {
                v = (v * 10 + i64::from(d - b'0')).min(1 << 40);
            }
            if eneg {
                -v
            } else {
                v
            }
        }
    };
    // Accumulate up to ~124 significant bits exactly; beyond that only whether
    // anything non-zero follows matters (a sticky bit far below the rounding point).
    let mut acc: u128 = 0;
    let mut digits = 0;
    let mut seen_dot = false;
    for &b in mant {
        if b == b'.' {
            if seen_dot {
                return None;
            }
            seen_dot = true;
            continue;
        }
        let d = u128::from((b as char).to_digit(16)?);
        digits += 1;
        if acc >> 120 == 0 {
            acc = acc * 16 + d;
            if seen_dot {
                exp -= 4;
            }
        } else {
            acc |= u128::from(d != 0);
            if !seen_dot {
                exp += 4;
            }
        }
    }
    if digits == 0 {
        return None;
    }
    if acc == 0 {
        return Some(F80::Finite {
            neg,
            mant: 0,
            exp: 0,
        });
    }
    if exp > 17000 {
        return None;
    }
    if exp < -17000 - 128 {
        return None;
    }
    let hi = F80::Finite {
        neg,
        mant: (acc >> 64) as u64,
        exp: exp + 64,
    };
    let lo = F80::Finite {
        neg,
        mant: acc as u64,
        exp,
    };
    match float80::add(&hi, &lo)? {
        F80::Inf { .. } | F80::Finite { mant: 0, .. } => None,
        v => Some(v),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(s: &str) -> Option<String> {
        parse_long_double(s.as_bytes()).map(|v| float80::format_human(&v))
    }

    #[test]
    fn hex_floats_like_strtold() {
        assert_eq!(text("0x10").as_deref(), Some("16"));
        assert_eq!(text("-0x1.8p1").as_deref(), Some("-3"));
        assert_eq!(text("0x.8").as_deref(), Some("0.5"));
        assert_eq!(text("0X1P-2").as_deref(), Some("0.25"));
        assert_eq!(text("0x0").as_deref(), Some("0"));
        assert_eq!(text("0x"), None);
        assert_eq!(text("0x1p"), None);
        assert_eq!(text("0xg"), None);
        assert_eq!(text("0x1p99999"), None);
        assert_eq!(text("0x1p-99999"), None);
        assert_eq!(
            text("0x123456789abcdef0123456789").as_deref(),
            Some("90144042682896311826211930112")
        );
    }
}
