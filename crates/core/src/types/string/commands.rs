//! String commands.

use crate::args::{int_arg, is_kw};
use crate::commands::CommandDef;
use crate::ctx::{Ctx, Keys};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Ttl;
use crate::notify::events as ev;
use crate::types::string::{float80, StrValue};
use crate::types::{Value, ValueType};

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("get", get),
    CommandDef::new("set", set),
    CommandDef::new("setnx", setnx),
    CommandDef::new("setex", setex),
    CommandDef::new("psetex", psetex),
    CommandDef::new("mget", mget),
    CommandDef::new("mset", mset),
    CommandDef::new("msetnx", msetnx),
    CommandDef::new("getset", getset),
    CommandDef::new("getdel", getdel),
    CommandDef::new("getex", getex),
    CommandDef::new("append", append),
    CommandDef::new("strlen", strlen),
    CommandDef::new("incr", incr),
    CommandDef::new("decr", decr),
    CommandDef::new("incrby", incrby),
    CommandDef::new("decrby", decrby),
    CommandDef::new("incrbyfloat", incrbyfloat),
    CommandDef::new("getrange", getrange),
    CommandDef::new("substr", getrange),
    CommandDef::new("setrange", setrange),
    CommandDef::new("lcs", lcs),
];

fn str_value(bytes: &[u8]) -> Value {
    Value::Str(StrValue::from_bytes(bytes))
}

/// Writes the string at `key` as a bulk reply, nil if missing; WRONGTYPE otherwise.
fn reply_get(ctx: &mut Ctx<'_, '_>, key: &[u8]) -> CmdResult {
    match ctx.keys.read_str(key)? {
        None => ctx.out.null(),
        Some(s) => {
            let mut b = itoa::Buffer::new();
            ctx.out.bulk(s.bytes(&mut b));
        }
    }
    Ok(())
}

fn get(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    reply_get(ctx, args[1])
}

/// The expiry options shared by SET and GETEX, as parsed (the time is not read yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expiry<'a> {
    None,
    KeepTtl,
    Persist,
    /// EX / PX / EXAT / PXAT with its argument.
    Time {
        arg: &'a [u8],
        unit: Unit,
        relative: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

/// Redis's getExpireMillisecondsOrReply: a positive value, converted to an absolute
/// time in ms; refused if it overflows.
fn expire_at(ctx: &Ctx<'_, '_>, arg: &[u8], unit: Unit, relative: bool) -> CmdResult<i64> {
    let v = int_arg(arg)?;
    let name = || CmdError::InvalidExpireTime(ctx.cmd.meta.name.clone());
    if v <= 0 || (unit == Unit::Seconds && v > i64::MAX / 1000) {
        return Err(name());
    }
    let mut ms = if unit == Unit::Seconds { v * 1000 } else { v };
    if relative {
        ms = ms.checked_add(ctx.now_ms()).ok_or_else(name)?;
    }
    if ms <= 0 {
        return Err(name());
    }
    Ok(ms)
}

struct SetOpts<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    expiry: Expiry<'a>,
}

/// Parses SET's (or GETEX's, when `getex`) options as Redis's
/// parseExtendedStringArgumentsOrReply, including which combinations it refuses.
/// Only the syntax: the time is read later, where Redis reads it (SET before
/// anything else, GETEX after the key lookup), and only the last one given.
fn parse_set_opts<'a>(opts: &[&'a [u8]], getex: bool) -> CmdResult<SetOpts<'a>> {
    let mut o = SetOpts {
        nx: false,
        xx: false,
        get: false,
        expiry: Expiry::None,
    };
    // Which of EX/PX/EXAT/PXAT was seen (they exclude each other but each may repeat).
    let mut kind: Option<&str> = None;
    let mut i = 0;
    while i < opts.len() {
        let opt = opts[i];
        let next = opts.get(i + 1).copied();
        let no_expiry = kind.is_none();
        if !getex && is_kw(opt, "nx") && !o.xx {
            o.nx = true;
        } else if !getex && is_kw(opt, "xx") && !o.nx {
            o.xx = true;
        } else if !getex && is_kw(opt, "get") {
            o.get = true;
        } else if !getex && is_kw(opt, "keepttl") && no_expiry && o.expiry != Expiry::Persist {
            o.expiry = Expiry::KeepTtl;
        } else if getex && is_kw(opt, "persist") && no_expiry {
            o.expiry = Expiry::Persist;
        } else if let Some((k, unit, relative)) = [
            ("ex", Unit::Seconds, true),
            ("px", Unit::Millis, true),
            ("exat", Unit::Seconds, false),
            ("pxat", Unit::Millis, false),
        ]
        .into_iter()
        .find(|(k, ..)| is_kw(opt, k))
        {
            let allowed = matches!(o.expiry, Expiry::None | Expiry::Time { .. })
                && kind.is_none_or(|seen| seen == k);
            match next {
                Some(arg) if allowed => {
                    kind = Some(k);
                    o.expiry = Expiry::Time {
                        arg,
                        unit,
                        relative,
                    };
                    i += 1;
                }
                _ => return Err(CmdError::Syntax),
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    Ok(o)
}

/// The absolute expire time of an EX/PX/EXAT/PXAT option, if one was given.
fn expiry_ms(ctx: &Ctx<'_, '_>, expiry: Expiry<'_>) -> CmdResult<Option<i64>> {
    match expiry {
        Expiry::Time {
            arg,
            unit,
            relative,
        } => expire_at(ctx, arg, unit, relative).map(Some),
        _ => Ok(None),
    }
}

fn set(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (key, val) = (args[1], args[2]);
    let o = parse_set_opts(&args[3..], false)?;
    let at = expiry_ms(ctx, o.expiry)?;
    if o.get {
        // Replies with the old value first; a non-string aborts the SET.
        reply_get(ctx, key)?;
    }
    if o.nx || o.xx {
        let found = ctx.keys.exists(key)?;
        if (o.nx && found) || (o.xx && !found) {
            if !o.get {
                ctx.out.null();
            }
            return Ok(());
        }
    }
    let ttl = match (o.expiry, at) {
        (_, Some(at)) => Ttl::At(at),
        (Expiry::KeepTtl, None) => Ttl::Keep,
        _ => Ttl::Clear,
    };
    ctx.keys.set_ttl(key, str_value(val), ttl)?;
    ctx.keys.changed(key, ev::SET);
    if at.is_some() {
        ctx.keys.notify(ctx.keys.db, key, ev::EXPIRE);
    }
    if let Some(at) = at {
        // Redis 7.0 logs any expiry (PXAT included, GET dropped) as `SET key val
        // PXAT <ms>` with its own argument spelling.
        propagate_set_pxat(&mut ctx.keys, key, val, at);
    } else if o.get {
        // GET is not replayed.
        let argv = args
            .iter()
            .enumerate()
            .filter(|(i, a)| *i < 3 || !a.eq_ignore_ascii_case(b"get"))
            .map(|(_, a)| a.to_vec())
            .collect();
        ctx.keys.propagate_as(argv);
    }
    if !o.get {
        ctx.out.ok();
    }
    Ok(())
}

/// Logs `SET key val PXAT at`.
fn propagate_set_pxat(keys: &mut Keys<'_>, key: &[u8], val: &[u8], at: i64) {
    keys.propagate_as(vec![
        b"SET".to_vec(),
        key.to_vec(),
        val.to_vec(),
        b"PXAT".to_vec(),
        at.to_string().into_bytes(),
    ]);
}

fn setnx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if ctx.keys.exists(args[1])? {
        ctx.out.int(0);
    } else {
        ctx.keys.set(args[1], str_value(args[2]), false)?;
        ctx.keys.changed(args[1], ev::SET);
        ctx.out.int(1);
    }
    Ok(())
}

fn set_with_expire(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], unit: Unit) -> CmdResult {
    let at = expire_at(ctx, args[2], unit, true)?;
    ctx.keys.set_ttl(args[1], str_value(args[3]), Ttl::At(at))?;
    ctx.keys.changed(args[1], ev::SET);
    ctx.keys.notify(ctx.keys.db, args[1], ev::EXPIRE);
    propagate_set_pxat(&mut ctx.keys, args[1], args[3], at);
    ctx.out.ok();
    Ok(())
}

fn setex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    set_with_expire(ctx, args, Unit::Seconds)
}

fn psetex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    set_with_expire(ctx, args, Unit::Millis)
}

fn mget(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ctx.out.array(args.len() - 1);
    for key in &args[1..] {
        match ctx.keys.read(key)? {
            Some(e) => match &*e.node.value() {
                Value::Str(s) => {
                    let mut b = itoa::Buffer::new();
                    ctx.out.bulk(s.bytes(&mut b));
                }
                #[allow(unreachable_patterns)]
                _ => ctx.out.null(),
            },
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn mset_pairs(ctx: &Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::WrongArity(ctx.cmd.meta.name.clone()));
    }
    Ok(())
}

fn mset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    mset_pairs(ctx, args)?;
    for pair in args[1..].chunks(2) {
        ctx.keys.set(pair[0], str_value(pair[1]), false)?;
        ctx.keys.changed(pair[0], ev::SET);
    }
    ctx.out.ok();
    Ok(())
}

fn msetnx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    mset_pairs(ctx, args)?;
    for pair in args[1..].chunks(2) {
        if ctx.keys.exists(pair[0])? {
            ctx.out.int(0);
            return Ok(());
        }
    }
    for pair in args[1..].chunks(2) {
        ctx.keys.set(pair[0], str_value(pair[1]), false)?;
        ctx.keys.changed(pair[0], ev::SET);
    }
    ctx.out.int(1);
    Ok(())
}

fn getset(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    reply_get(ctx, args[1])?;
    ctx.keys.set(args[1], str_value(args[2]), false)?;
    ctx.keys.changed(args[1], ev::SET);
    // Redis 7.0 propagates GETSET as SET.
    ctx.keys
        .propagate_as(vec![b"SET".to_vec(), args[1].to_vec(), args[2].to_vec()]);
    Ok(())
}

fn getdel(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    reply_get(ctx, args[1])?;
    if ctx.keys.delete(args[1])? {
        ctx.keys.changed(args[1], ev::DEL);
    }
    ctx.keys
        .propagate_as(vec![b"DEL".to_vec(), args[1].to_vec()]);
    Ok(())
}

fn getex(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let o = parse_set_opts(&args[2..], true)?;
    let key = args[1];
    // Redis looks the key up (nil, WRONGTYPE) before it reads the time.
    if ctx.keys.read_str(key)?.is_none() {
        ctx.out.null();
        return Ok(());
    }
    let at = expiry_ms(ctx, o.expiry)?;
    reply_get(ctx, key)?;
    match (o.expiry, at) {
        (_, Some(at)) if ctx.keys.already_expired(at) => {
            ctx.keys.delete(key)?;
            ctx.keys.changed(key, ev::DEL);
            ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
        }
        (_, Some(at)) => {
            if let Some(mut e) = ctx.keys.write(key)? {
                e.set_expire(Some(at));
            }
            ctx.keys.mark_dirty(ctx.keys.db, key)?;
            ctx.keys.changed(key, ev::EXPIRE);
            ctx.keys.propagate_as(vec![
                b"PEXPIREAT".to_vec(),
                key.to_vec(),
                at.to_string().into_bytes(),
            ]);
        }
        (Expiry::Persist, _) => {
            let removed = match ctx.keys.write(key)? {
                Some(mut e) if e.node.expire().is_some() => {
                    e.set_expire(None);
                    true
                }
                _ => false,
            };
            if removed {
                // Like Redis: only a removed TTL counts as a change.
                ctx.keys.mark_dirty(ctx.keys.db, key)?;
                ctx.keys.changed(key, ev::PERSIST);
                ctx.keys
                    .propagate_as(vec![b"PERSIST".to_vec(), key.to_vec()]);
            }
        }
        _ => {}
    }
    Ok(())
}

fn max_len(ctx: &Ctx<'_, '_>) -> usize {
    ctx.engine
        .config
        .int(crate::config::P::ProtoMaxBulkLen)
        .max(0) as usize
}

fn append(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let limit = max_len(ctx);
    let key = args[1];
    let len = match ctx.keys.write(key)? {
        None => None,
        Some(mut e) => match e.value_of(ValueType::String).ok_or(CmdError::WrongType)? {
            Value::Str(s) => {
                if s.len() + args[2].len() > limit {
                    return Err(CmdError::StringTooLong);
                }
                let buf = s.make_raw();
                buf.extend_from_slice(args[2]);
                Some(buf.len())
            }
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    };
    let len = match len {
        Some(l) => {
            ctx.keys.mark_dirty(ctx.keys.db, key)?;
            l
        }
        None => {
            ctx.keys.set(key, str_value(args[2]), false)?;
            args[2].len()
        }
    };
    ctx.keys.changed(key, ev::APPEND);
    ctx.out.int(len as i64);
    Ok(())
}

fn strlen(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = ctx.keys.read_str(args[1])?.map_or(0, |s| s.len());
    ctx.out.int(n as i64);
    Ok(())
}

/// INCR/DECR family: reads an integer, adds with overflow check, stores it back
/// int-encoded keeping the TTL.
fn incr_by(ctx: &mut Ctx<'_, '_>, key: &[u8], by: i64) -> CmdResult {
    let db = ctx.keys.db;
    // Update in place when the key exists (keeps its TTL, one lookup).
    let updated = match ctx.keys.write(key)? {
        None => None,
        Some(mut e) => match e.value_of(ValueType::String).ok_or(CmdError::WrongType)? {
            Value::Str(s) => {
                let current = s.as_int().ok_or(CmdError::NotInteger)?;
                let new = current.checked_add(by).ok_or(CmdError::Overflow)?;
                *s = StrValue::Int(new);
                Some(new)
            }
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    };
    let new = match updated {
        Some(new) => {
            ctx.keys.mark_dirty(db, key)?;
            new
        }
        None => {
            ctx.keys
                .insert_new(key, Value::Str(StrValue::Int(by)), None)?;
            by
        }
    };
    ctx.keys.modified(db, key, ev::INCRBY);
    ctx.out.int(new);
    Ok(())
}

fn incr(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], 1)
}

fn decr(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    incr_by(ctx, args[1], -1)
}

fn incrby(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[2])?;
    incr_by(ctx, args[1], by)
}

fn decrby(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let by = int_arg(args[2])?;
    if by == i64::MIN {
        return Err(CmdError::DecrementOverflow);
    }
    incr_by(ctx, args[1], -by)
}

fn incrbyfloat(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let current = match ctx.keys.write(key)? {
        None => float80::from_i64(0),
        Some(mut e) => match e.value_of(ValueType::String).ok_or(CmdError::WrongType)? {
            Value::Str(StrValue::Int(i)) => float80::from_i64(*i),
            Value::Str(s) => {
                let mut b = itoa::Buffer::new();
                float80::parse(s.bytes(&mut b)).ok_or(CmdError::NotFloat)?
            }
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    };
    let by = float80::parse(args[2]).ok_or(CmdError::NotFloat)?;
    let sum = float80::add(&current, &by).ok_or(CmdError::NanOrInfinity)?;
    if float80::is_inf(&sum) {
        return Err(CmdError::NanOrInfinity);
    }
    let text = float80::format_human(&sum);
    ctx.keys.set(
        key,
        Value::Str(StrValue::from_bytes_no_int(text.as_bytes())),
        true,
    )?;
    ctx.keys.changed(key, ev::INCRBYFLOAT);
    // The float arithmetic is not replayed: the result is.
    ctx.keys.propagate_as(vec![
        b"SET".to_vec(),
        key.to_vec(),
        text.as_bytes().to_vec(),
        b"KEEPTTL".to_vec(),
    ]);
    ctx.out.bulk(text.as_bytes());
    Ok(())
}

fn getrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let start = int_arg(args[2])?;
    let end = int_arg(args[3])?;
    let Some(s) = ctx.keys.read_str(args[1])? else {
        ctx.out.bulk(b"");
        return Ok(());
    };
    let mut b = itoa::Buffer::new();
    let bytes = s.bytes(&mut b);
    let len = bytes.len() as i64;
    // Redis: negative start and end both beyond the start give an empty string.
    if start < 0 && end < 0 && start > end {
        ctx.out.bulk(b"");
        return Ok(());
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    if start < 0 {
        start = 0;
    }
    if end < 0 {
        end = 0;
    }
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        ctx.out.bulk(b"");
    } else {
        let r = bytes[start as usize..=end as usize].to_vec();
        ctx.out.bulk(&r);
    }
    Ok(())
}

fn setrange(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let offset = int_arg(args[2])?;
    let value = args[3];
    if offset < 0 {
        return Err(CmdError::OffsetOutOfRange);
    }
    let limit = max_len(ctx) as i64;
    let exists = match ctx.keys.write(key)? {
        None => false,
        Some(mut e) => match e.value_of(ValueType::String).ok_or(CmdError::WrongType)? {
            Value::Str(_) => true,
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
    };
    if !exists {
        if value.is_empty() {
            ctx.out.int(0);
            return Ok(());
        }
        if too_long(offset, value.len(), limit) {
            return Err(CmdError::StringTooLong);
        }
        // Exactly sized: extending a zeroed Vec would double its capacity (a
        // 100 kB SETRANGE would hold 200 kB, against maxmemory too).
        let mut buf = Vec::with_capacity(offset as usize + value.len());
        buf.resize(offset as usize, 0);
        buf.extend_from_slice(value);
        ctx.keys
            .set(key, Value::Str(StrValue::Raw(Box::new(buf))), false)?;
        ctx.keys.changed(key, ev::SETRANGE);
        ctx.out.int(offset + value.len() as i64);
        return Ok(());
    }
    let new_len = write_range(&mut ctx.keys, key, offset, value, limit)?;
    ctx.out.int(new_len as i64);
    Ok(())
}

/// Redis's checkStringLength: whether `offset + len` bytes pass the limit (an
/// overflowing sum does: SETRANGE k 9223372036854775807 x must not allocate).
fn too_long(offset: i64, len: usize, limit: i64) -> bool {
    i64::try_from(len)
        .ok()
        .and_then(|len| offset.checked_add(len))
        .is_none_or(|total| total > limit)
}

fn write_range(
    keys: &mut Keys<'_>,
    key: &[u8],
    offset: i64,
    value: &[u8],
    limit: i64,
) -> CmdResult<usize> {
    let db = keys.db;
    let mut changed = false;
    let len = match keys.write(key)? {
        Some(mut e) => match e.value_of(ValueType::String).ok_or(CmdError::WrongType)? {
            Value::Str(s) => {
                if value.is_empty() {
                    s.len()
                } else {
                    if too_long(offset, value.len(), limit) {
                        return Err(CmdError::StringTooLong);
                    }
                    let buf = s.make_raw();
                    let end = offset as usize + value.len();
                    if buf.len() < end {
                        buf.resize(end, 0);
                    }
                    buf[offset as usize..end].copy_from_slice(value);
                    changed = true;
                    buf.len()
                }
            }
            #[allow(unreachable_patterns)]
            _ => return Err(CmdError::WrongType),
        },
        None => 0,
    };
    if changed {
        keys.mark_dirty(db, key)?;
        keys.modified(db, key, ev::SETRANGE);
    }
    Ok(len)
}

/// An inclusive byte range `(start, end)` of one LCS match.
type Span = (usize, usize);

fn lcs(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // Redis checks both keys' types before it parses the options.
    let a = match ctx.keys.read(args[1])? {
        None => Vec::new(),
        Some(e) => match &*e.node.value() {
            Value::Str(s) => s.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(CmdError::Other(
                    "The specified keys must contain string values".into(),
                ))
            }
        },
    };
    let b = match ctx.keys.read(args[2])? {
        None => Vec::new(),
        Some(e) => match &*e.node.value() {
            Value::Str(s) => s.to_vec(),
            #[allow(unreachable_patterns)]
            _ => {
                return Err(CmdError::Other(
                    "The specified keys must contain string values".into(),
                ))
            }
        },
    };
    let (mut want_len, mut want_idx, mut with_match_len) = (false, false, false);
    let mut min_match_len: i64 = 0;
    let mut i = 3;
    while i < args.len() {
        let opt = args[i];
        if is_kw(opt, "idx") {
            want_idx = true;
        } else if is_kw(opt, "len") {
            want_len = true;
        } else if is_kw(opt, "withmatchlen") {
            with_match_len = true;
        } else if is_kw(opt, "minmatchlen") && i + 1 < args.len() {
            min_match_len = int_arg(args[i + 1])?;
            if min_match_len < 0 {
                min_match_len = 0;
            }
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if want_idx && want_len {
        return Err(CmdError::Other(
            "If you want both the length and indexes, please just use IDX.".into(),
        ));
    }
    // Dynamic programming table of LCS lengths of suffixes, as Redis (O(n*m) space,
    // bounded by the string sizes the client stored).
    let (n, m) = (a.len(), b.len());
    let cells = (n + 1).checked_mul(m + 1).ok_or(CmdError::Other(
        "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
    ))?;
    if cells > usize::MAX / 4 || cells as u64 * 4 > max_len(ctx) as u64 * 8 {
        return Err(CmdError::Other(
            "Insufficient memory, transient memory for LCS exceeds proto-max-bulk-len".into(),
        ));
    }
    let mut dp = vec![0u32; cells];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in 1..=n {
        for j in 1..=m {
            dp[at(i, j)] = if a[i - 1] == b[j - 1] {
                dp[at(i - 1, j - 1)] + 1
            } else {
                dp[at(i - 1, j)].max(dp[at(i, j - 1)])
            };
        }
    }
    let total = dp[at(n, m)] as usize;
    if want_len {
        ctx.out.int(total as i64);
        return Ok(());
    }
    // Walk back from the end, collecting the LCS and (for IDX) the matched ranges.
    let mut result = vec![0u8; total];
    let mut idx = total;
    let (mut i, mut j) = (n, m);
    let mut ranges: Vec<(Span, Span, usize)> = Vec::new();
    let mut cur: Option<(Span, Span)> = None;
    let flush = |cur: &mut Option<(Span, Span)>, ranges: &mut Vec<_>| {
        if let Some((ra, rb)) = cur.take() {
            let len = ra.1 - ra.0 + 1;
            if len as i64 >= min_match_len {
                ranges.push((ra, rb, len));
            }
        }
    };
    while i > 0 && j > 0 {
        if a[i - 1] == b[j - 1] {
            idx -= 1;
            result[idx] = a[i - 1];
            let (ai, bj) = (i - 1, j - 1);
            match &mut cur {
                Some((ra, rb)) if ra.0 == ai + 1 && rb.0 == bj + 1 => {
                    ra.0 = ai;
                    rb.0 = bj;
                }
                _ => {
                    flush(&mut cur, &mut ranges);
                    cur = Some(((ai, ai), (bj, bj)));
                }
            }
            i -= 1;
            j -= 1;
        } else if dp[at(i - 1, j)] > dp[at(i, j - 1)] {
            i -= 1;
        } else {
            j -= 1;
        }
    }
    flush(&mut cur, &mut ranges);
    if !want_idx {
        ctx.out.bulk(&result);
        return Ok(());
    }
    ctx.out.map(2);
    ctx.out.bulk(b"matches");
    ctx.out.array(ranges.len());
    for (ra, rb, len) in &ranges {
        ctx.out.array(if with_match_len { 3 } else { 2 });
        ctx.out.array(2);
        ctx.out.int(ra.0 as i64);
        ctx.out.int(ra.1 as i64);
        ctx.out.array(2);
        ctx.out.int(rb.0 as i64);
        ctx.out.int(rb.1 as i64);
        if with_match_len {
            ctx.out.int(*len as i64);
        }
    }
    ctx.out.bulk(b"len");
    ctx.out.int(total as i64);
    Ok(())
}
