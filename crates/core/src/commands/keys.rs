//! Generic key commands: DEL, UNLINK, EXISTS, TYPE, RENAME(NX), COPY, MOVE, KEYS,
//! SCAN, RANDOMKEY, TOUCH and the EXPIRE / TTL / PERSIST family.

use rand::Rng;

use crate::args::{i32_arg, int_arg, is_kw, parse_i64};
use crate::commands::{CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;
use crate::keyspace::{lock_id, LockId, Lookup, SHARDS, SHARD_BITS};
use crate::notify::events as ev;
use crate::types::ValueType;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("del", del),
    CommandDef::new("unlink", del),
    CommandDef::new("exists", exists),
    CommandDef::new("type", type_cmd),
    CommandDef::new("rename", rename),
    CommandDef::new("renamenx", renamenx),
    CommandDef::with_locks("copy", copy, Locks::Custom(copy_locks)),
    CommandDef::with_locks("move", move_cmd, Locks::Custom(move_locks)),
    CommandDef::with_locks("keys", keys, Locks::LiveDb),
    CommandDef::with_locks("scan", scan, Locks::Own),
    CommandDef::with_locks("randomkey", randomkey, Locks::Db),
    CommandDef::new("touch", touch),
    CommandDef::new("expire", expire),
    CommandDef::new("pexpire", pexpire),
    CommandDef::new("expireat", expireat),
    CommandDef::new("pexpireat", pexpireat),
    CommandDef::new("ttl", ttl),
    CommandDef::new("pttl", pttl),
    CommandDef::new("expiretime", expiretime),
    CommandDef::new("pexpiretime", pexpiretime),
    CommandDef::new("persist", persist),
];

fn del(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        if ctx.keys.delete(key)? {
            ctx.keys.changed(key, ev::DEL);
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn exists(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        if ctx
            .keys
            .lookup_in(ctx.keys.db, key, Lookup::ReadNoTouch)?
            .is_some()
        {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

fn type_cmd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let name = match ctx
        .keys
        .lookup_in(ctx.keys.db, args[1], Lookup::ReadNoTouch)?
    {
        Some(e) => e.node.value().value_type().name(),
        None => "none",
    };
    ctx.out.simple(name.as_bytes());
    Ok(())
}

fn rename_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], nx: bool) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let db = ctx.keys.db;
    if ctx.keys.write(src)?.is_none() {
        return Err(CmdError::NoSuchKey);
    }
    if src == dst {
        if nx {
            ctx.out.int(0);
        } else {
            ctx.out.ok();
        }
        return Ok(());
    }
    if ctx.keys.write(dst)?.is_some() && nx {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(node) = ctx.keys.take_in(db, src)? {
        ctx.keys.put_in(db, dst, node)?;
        ctx.keys.modified(db, src, ev::RENAME_FROM);
        ctx.keys.modified(db, dst, ev::RENAME_TO);
    }
    if nx {
        ctx.out.int(1);
    } else {
        ctx.out.ok();
    }
    Ok(())
}

fn rename(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    rename_generic(ctx, args, true)
}

/// Finds COPY's `DB n` (for locking); the handler validates everything again.
fn copy_target_db(args: &[&[u8]], db: usize) -> usize {
    let mut target = db;
    let mut i = 3;
    while i < args.len() {
        if is_kw(args[i], "db") && i + 1 < args.len() {
            if let Some(n) = parse_i64(args[i + 1]) {
                if n >= 0 {
                    target = n as usize;
                }
            }
            i += 1;
        }
        i += 1;
    }
    target
}

fn copy_locks(args: &[&[u8]], db: usize, dbs: usize) -> Vec<LockId> {
    let target = copy_target_db(args, db).min(dbs.saturating_sub(1));
    vec![lock_id(db, args[1]), lock_id(target, args[2])]
}

fn copy(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (src, dst) = (args[1], args[2]);
    let db = ctx.keys.db;
    let mut target = db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if is_kw(args[i], "replace") {
            replace = true;
        } else if is_kw(args[i], "db") && i + 1 < args.len() {
            let n = i32_arg(args[i + 1])?;
            if n < 0 || n as usize >= ctx.engine.keyspace.db_count() {
                return Err(CmdError::DbIndexOutOfRange);
            }
            target = n as usize;
            i += 1;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if target == db && src == dst {
        return Err(CmdError::SameObject);
    }
    let (value, expire) = match ctx.keys.read(src)? {
        None => {
            ctx.out.int(0);
            return Ok(());
        }
        Some(e) => (e.node.value().clone(), e.node.expire()),
    };
    if ctx.keys.lookup_in(target, dst, Lookup::Write)?.is_some() {
        if !replace {
            ctx.out.int(0);
            return Ok(());
        }
        ctx.keys.delete_in(target, dst)?;
    }
    ctx.keys.set_in(target, dst, value, false)?;
    if expire.is_some() {
        if let Some(mut e) = ctx.keys.lookup_in(target, dst, Lookup::NoTouch)? {
            e.set_expire(expire);
        }
    }
    ctx.keys.modified(target, dst, ev::COPY_TO);
    ctx.out.int(1);
    Ok(())
}

fn move_locks(args: &[&[u8]], db: usize, dbs: usize) -> Vec<LockId> {
    let mut ids = vec![lock_id(db, args[1])];
    if let Some(n) = parse_i64(args[2]) {
        if n >= 0 && (n as usize) < dbs {
            ids.push(lock_id(n as usize, args[1]));
        }
    }
    ids
}

fn move_cmd(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let target = i32_arg(args[2])?;
    if target < 0 || target as usize >= ctx.engine.keyspace.db_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    let (db, target) = (ctx.keys.db, target as usize);
    if db == target {
        return Err(CmdError::SameObject);
    }
    if ctx.keys.write(key)?.is_none() {
        ctx.out.int(0);
        return Ok(());
    }
    if ctx.keys.lookup_in(target, key, Lookup::Write)?.is_some() {
        ctx.out.int(0);
        return Ok(());
    }
    if let Some(node) = ctx.keys.take_in(db, key)? {
        ctx.keys.put_in(target, key, node)?;
        ctx.keys.modified(db, key, ev::MOVE_FROM);
        ctx.keys.modified(target, key, ev::MOVE_TO);
    }
    ctx.out.int(1);
    Ok(())
}

fn keys(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let pattern = args[1];
    let all = pattern == b"*";
    let now = ctx.now_ms();
    let db = ctx.keys.db;
    let d = ctx.out.deferred();
    let mut n = 0;
    let mut found: Vec<Vec<u8>> = Vec::new();
    for shard in ctx.keys.locks().db_shards(db) {
        for node in shard.dict().iter() {
            let k = node.key();
            if node.expire_at() != 0 && node.expire_at() < now {
                continue;
            }
            if all || glob_match(pattern, k, false) {
                found.push(k.to_vec());
            }
        }
    }
    for k in &found {
        ctx.out.bulk(k);
        n += 1;
    }
    ctx.out.finish_array(d, n);
    Ok(())
}

/// Options shared by SCAN, HSCAN, SSCAN and ZSCAN.
pub struct ScanOpts<'a> {
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
    /// COUNT.
    pub count: usize,
    /// TYPE filter (SCAN only); `Err` holds an unknown type name.
    pub type_filter: Option<Option<ValueType>>,
}

/// Parses `[MATCH p] [COUNT n] [TYPE t]` (TYPE only when `allow_type`).
pub fn parse_scan_opts<'a>(opts: &[&'a [u8]], allow_type: bool) -> CmdResult<ScanOpts<'a>> {
    let mut o = ScanOpts {
        pattern: None,
        count: 10,
        type_filter: None,
    };
    let mut i = 0;
    while i < opts.len() {
        let has_next = i + 1 < opts.len();
        if is_kw(opts[i], "count") && has_next {
            let c = int_arg(opts[i + 1])?;
            if c < 1 {
                return Err(CmdError::Syntax);
            }
            o.count = c as usize;
        } else if is_kw(opts[i], "match") && has_next {
            let p = opts[i + 1];
            o.pattern = if p == b"*" { None } else { Some(p) };
        } else if allow_type && is_kw(opts[i], "type") && has_next {
            o.type_filter = Some(ValueType::from_name(opts[i + 1]));
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    Ok(o)
}

fn scan(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let cursor = crate::args::scan_cursor(args[1])?;
    let o = parse_scan_opts(&args[2..], true)?;
    let db = ctx.keys.db;
    let now = ctx.now_ms();
    let mut shard_idx = (cursor & (SHARDS as u64 - 1)) as usize;
    let mut inner = cursor >> SHARD_BITS;
    let mut found: Vec<Vec<u8>> = Vec::new();
    // Expired keys met on the way are deleted afterwards, as Redis's SCAN
    // deletes (and propagates) those it filters out.
    let mut expired: Vec<Vec<u8>> = Vec::new();
    let mut visited = 0usize;
    let max_visits = o.count.saturating_mul(10);
    let next = loop {
        let shard = ctx
            .engine
            .keyspace
            .lock_one((db * SHARDS + shard_idx) as LockId);
        // Empty shards cost nothing to skip and do not count as visited buckets.
        if shard.is_empty() {
            inner = 0;
        }
        while !shard.is_empty() {
            inner = shard.dict().scan(inner, |n| {
                let k = n.key();
                if n.expire_at() != 0 && n.expire_at() < now {
                    expired.push(k.to_vec());
                    return;
                }
                if let Some(p) = o.pattern {
                    if !glob_match(p, k, false) {
                        return;
                    }
                }
                if let Some(t) = o.type_filter {
                    if t != Some(n.value().value_type()) {
                        return;
                    }
                }
                found.push(k.to_vec());
            });
            visited += 1;
            if inner == 0 || found.len() >= o.count || visited >= max_visits {
                break;
            }
        }
        drop(shard);
        if inner == 0 {
            shard_idx += 1;
            if shard_idx == SHARDS {
                break 0;
            }
        }
        if found.len() >= o.count || visited >= max_visits {
            break (inner << SHARD_BITS) | shard_idx as u64;
        }
    };
    delete_expired(ctx, db, expired)?;
    ctx.out.array(2);
    ctx.out.bulk(itoa::Buffer::new().format(next).as_bytes());
    ctx.out.array(found.len());
    for k in &found {
        ctx.out.bulk(k);
    }
    Ok(())
}

/// Deletes those of `keys` (of `db`) that are expired, through the lookup that
/// deletes and propagates them (one DEL each, ahead of the command's own
/// effects), locking their shards in ascending order.
fn delete_expired(ctx: &mut Ctx<'_, '_>, db: usize, mut keys: Vec<Vec<u8>>) -> CmdResult<()> {
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort_by_key(|k| crate::keyspace::lock_id(db, k));
    for k in &keys {
        ctx.keys.locks().acquire(crate::keyspace::lock_id(db, k));
    }
    for k in &keys {
        ctx.keys
            .lookup_in(db, k, crate::keyspace::Lookup::NoTouch)?;
    }
    Ok(())
}

fn randomkey(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let db = ctx.keys.db;
    let now = ctx.now_ms();
    let mut rng = rand::thread_rng();
    let mut sizes: Vec<usize> = ctx.keys.locks().db_shards(db).map(|s| s.len()).collect();
    let mut total: usize = sizes.iter().sum();
    let mut tries = total.min(100) + 1;
    while total > 0 && tries > 0 {
        tries -= 1;
        let mut pick = rng.gen_range(0..total);
        let idx = sizes.iter().position(|&n| {
            if pick < n {
                true
            } else {
                pick -= n;
                false
            }
        });
        let Some(idx) = idx else { break };
        let (key, expired) = {
            let shard = ctx.keys.locks().db_shards(db).nth(idx);
            let Some(shard) = shard else { break };
            match shard.dict().random(&mut rng) {
                Some(n) if n.expire_at() != 0 && n.expire_at() < now => {
                    (None, Some(n.key().to_vec()))
                }
                Some(n) => (Some(n.key().to_vec()), None),
                None => (None, None),
            }
        };
        if let Some(k) = key {
            ctx.out.bulk(&k);
            return Ok(());
        }
        // An expired pick is deleted (and propagated), as Redis's dbRandomKey
        // does, then another is drawn.
        if let Some(k) = expired {
            delete_expired(ctx, db, vec![k])?;
        }
        sizes = ctx.keys.locks().db_shards(db).map(|s| s.len()).collect();
        total = sizes.iter().sum();
    }
    ctx.out.null();
    Ok(())
}

fn touch(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut n = 0;
    for key in &args[1..] {
        if ctx.keys.read(key)?.is_some() {
            n += 1;
        }
    }
    ctx.out.int(n);
    Ok(())
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Seconds,
    Millis,
}

fn expire_generic(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], base: i64, unit: Unit) -> CmdResult {
    let (mut nx, mut xx, mut gt, mut lt) = (false, false, false, false);
    for opt in &args[3..] {
        if is_kw(opt, "nx") {
            nx = true;
        } else if is_kw(opt, "xx") {
            xx = true;
        } else if is_kw(opt, "gt") {
            gt = true;
        } else if is_kw(opt, "lt") {
            lt = true;
        } else {
            return Err(CmdError::Other(format!(
                "Unsupported option {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    if nx && (xx || gt || lt) {
        return Err(CmdError::ExpireNxXxGtLt);
    }
    if gt && lt {
        return Err(CmdError::ExpireGtLt);
    }
    let mut when = int_arg(args[2])?;
    let invalid = || CmdError::InvalidExpireTime(ctx.cmd.meta.name.clone());
    if unit == Unit::Seconds {
        when = when.checked_mul(1000).ok_or_else(invalid)?;
    }
    when = when.checked_add(base).ok_or_else(invalid)?;
    let key = args[1];
    let past = ctx.keys.already_expired(when);
    let Some(e) = ctx.keys.write(key)? else {
        ctx.out.int(0);
        return Ok(());
    };
    let current = e.node.expire();
    let refuse = (nx && current.is_some())
        || (xx && current.is_none())
        || (gt && current.is_none_or(|c| when <= c))
        || (lt && current.is_some_and(|c| when >= c));
    if refuse {
        ctx.out.int(0);
        return Ok(());
    }
    if past {
        ctx.keys.delete(key)?;
        ctx.keys.changed(key, ev::DEL);
        ctx.keys.propagate_as(vec![b"DEL".to_vec(), key.to_vec()]);
    } else {
        let mut e = e;
        e.set_expire(Some(when));
        ctx.keys.mark_dirty(ctx.keys.db, key)?;
        ctx.keys.changed(key, ev::EXPIRE);
        if ctx.keys.mode.propagating && ctx.cmd.meta.name != "pexpireat" {
            // Logged as PEXPIREAT with the absolute time, options kept.
            let mut argv: Vec<Vec<u8>> = args.iter().map(|a| a.to_vec()).collect();
            argv[0] = b"PEXPIREAT".to_vec();
            argv[2] = when.to_string().into_bytes();
            ctx.keys.propagate_as(argv);
        }
    }
    ctx.out.int(1);
    Ok(())
}

fn expire(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms();
    expire_generic(ctx, args, now, Unit::Seconds)
}

fn pexpire(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let now = ctx.now_ms();
    expire_generic(ctx, args, now, Unit::Millis)
}

fn expireat(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, Unit::Seconds)
}

fn pexpireat(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    expire_generic(ctx, args, 0, Unit::Millis)
}

/// TTL family: `ms` replies in milliseconds, `abs` replies the absolute time.
fn ttl_generic(ctx: &mut Ctx<'_, '_>, key: &[u8], ms: bool, abs: bool) -> CmdResult {
    let now = ctx.now_ms();
    let Some(e) = ctx.keys.lookup_in(ctx.keys.db, key, Lookup::ReadNoTouch)? else {
        ctx.out.int(-2);
        return Ok(());
    };
    match e.node.expire() {
        None => ctx.out.int(-1),
        Some(at) => {
            let t = if abs { at } else { (at - now).max(0) };
            ctx.out.int(if ms { t } else { (t + 500) / 1000 });
        }
    }
    Ok(())
}

fn ttl(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ttl_generic(ctx, args[1], true, true)
}

fn persist(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let key = args[1];
    let changed = match ctx.keys.write(key)? {
        Some(mut e) if e.node.expire().is_some() => {
            e.set_expire(None);
            true
        }
        _ => false,
    };
    if changed {
        ctx.keys.mark_dirty(ctx.keys.db, key)?;
        ctx.keys.changed(key, ev::PERSIST);
    }
    ctx.out.int(i64::from(changed));
    Ok(())
}
