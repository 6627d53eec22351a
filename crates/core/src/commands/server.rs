//! Connection and server commands that only need the engine: PING, ECHO, SELECT,
//! DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, TIME.

use crate::args::{i32_arg, is_kw, parse_i64};
use crate::commands::{Admit, CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::keyspace::SHARDS;
use std::sync::atomic::Ordering::Relaxed;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("ping", ping).admit(Admit::SUBSCRIBED.and(Admit::DISK_CHECK)),
    CommandDef::new("echo", echo),
    CommandDef::new("select", select),
    CommandDef::with_locks("dbsize", dbsize, Locks::LiveDb),
    CommandDef::with_locks("flushdb", flushdb, Locks::LiveDb),
    CommandDef::with_locks("flushall", flushall, Locks::AllLiveDbs),
    CommandDef::with_locks("swapdb", swapdb, Locks::AllDbs),
    CommandDef::new("time", time),
];

fn ping(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() <= 2
        && ctx.client.subscriptions > 0
        && ctx.client.proto == ferrokv_resp::Protocol::Resp2
    {
        // In RESP2 subscribed mode the reply looks like a message: pong, argument.
        ctx.out.array(2);
        ctx.out.bulk(b"pong");
        ctx.out.bulk(args.get(1).copied().unwrap_or_default());
        return Ok(());
    }
    match args.len() {
        1 => ctx.out.simple(b"PONG"),
        2 => ctx.out.bulk(args[1]),
        _ => return Err(CmdError::WrongArity("ping".into())),
    }
    Ok(())
}

fn echo(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    ctx.out.bulk(args[1]);
    Ok(())
}

fn select(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let db = i32_arg(args[1])?;
    if db < 0 || db as usize >= ctx.engine.keyspace.db_count() {
        return Err(CmdError::DbIndexOutOfRange);
    }
    ctx.client.db = db as usize;
    ctx.out.ok();
    Ok(())
}

fn dbsize(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let db = ctx.keys.db;
    let n: usize = ctx.keys.locks().db_shards(db).map(|s| s.len()).sum();
    ctx.out.int(n as i64);
    Ok(())
}

/// Parses the optional ASYNC|SYNC of FLUSHDB/FLUSHALL: whether to free in background.
fn flush_mode(ctx: &Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult<bool> {
    match args.get(1) {
        None => Ok(ctx
            .engine
            .config
            .bool(crate::config::P::LazyfreeLazyUserFlush)),
        Some(a) if args.len() == 2 && is_kw(a, "async") => Ok(true),
        Some(a) if args.len() == 2 && is_kw(a, "sync") => Ok(false),
        Some(_) => Err(CmdError::Syntax),
    }
}

fn flush_dbs(ctx: &mut Ctx<'_, '_>, dbs: std::ops::Range<usize>, lazy: bool) -> CmdResult {
    for db in dbs {
        ctx.keys.db_replaced(db, None)?;
        // Clients blocked in XREADGROUP on a stream of it are told it is gone
        // (Redis's scanDatabaseForDeletedStreams); others find nothing and wait on.
        if ctx.keys.mode.track_ready {
            ctx.keys.ready_dbs.push(db);
        }
        for shard in ctx.keys.locks().db_shards(db) {
            let old = shard.clear();
            shard.stats.dirty += old.len() as u64;
            if lazy {
                crate::lazyfree::free_dict(old);
            }
        }
    }
    Ok(())
}

fn flushdb(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(ctx, args)?;
    let db = ctx.keys.db;
    flush_dbs(ctx, db..db + 1, lazy)?;
    // Logged even when the db was empty, as Redis 7.0 forces it.
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn flushall(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let lazy = flush_mode(ctx, args)?;
    let n = ctx.engine.keyspace.db_count();
    flush_dbs(ctx, 0..n, lazy)?;
    ctx.keys.dirty += 1;
    ctx.keys.flushed_all = true;
    ctx.out.ok();
    Ok(())
}

fn swapdb(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let n = ctx.engine.keyspace.db_count() as i64;
    // Redis's getIntFromObjectOrReply with its own message: past an int is "invalid".
    let db_index = |s: &[u8], err: CmdError| {
        parse_i64(s)
            .filter(|v| i32::try_from(*v).is_ok())
            .ok_or(err)
    };
    let a = db_index(args[1], CmdError::InvalidFirstDb)?;
    let b = db_index(args[2], CmdError::InvalidSecondDb)?;
    if a < 0 || a >= n || b < 0 || b >= n {
        return Err(CmdError::DbIndexOutOfRange);
    }
    if a != b {
        let (a, b) = (a as usize, b as usize);
        ctx.keys.db_replaced(a, Some(b))?;
        ctx.keys.db_replaced(b, Some(a))?;
        for s in 0..SHARDS {
            let ids = ((a * SHARDS + s) as u32, (b * SHARDS + s) as u32);
            if let Some((x, y)) = ctx.keys.locks().pair(ids.0, ids.1) {
                std::mem::swap(x, y);
            }
        }
        let avg = &ctx.engine.stats.avg_ttl;
        let (x, y) = (avg[a].load(Relaxed), avg[b].load(Relaxed));
        avg[a].store(y, Relaxed);
        avg[b].store(x, Relaxed);
        // Clients blocked on a key of either db may find it there now.
        if ctx.keys.mode.track_ready {
            ctx.keys.ready_dbs.extend([a, b]);
        }
    }
    // A change to log (Redis counts it even for one db with itself).
    ctx.keys.dirty += 1;
    ctx.out.ok();
    Ok(())
}

fn time(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros());
    ctx.out.array(2);
    ctx.out.bulk_int((us / 1_000_000) as i64);
    ctx.out.bulk_int((us % 1_000_000) as i64);
    Ok(())
}
