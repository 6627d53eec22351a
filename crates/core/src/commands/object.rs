//! OBJECT ENCODING / REFCOUNT / IDLETIME / FREQ / HELP, and MEMORY USAGE.

use crate::commands::{reply_help, CommandDef};
use crate::config::P;
use crate::ctx::{lru_clock, Ctx};
use crate::error::{CmdError, CmdResult};
use crate::keyspace::Lookup;
use crate::types::string::StrValue;
use crate::types::Value;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("object|encoding", encoding),
    CommandDef::new("object|refcount", refcount),
    CommandDef::new("object|idletime", idletime),
    CommandDef::new("object|freq", freq),
    CommandDef::new("object|help", help),
    CommandDef::new("memory|usage", memory_usage),
];

/// Redis's default MEMORY USAGE sample size (OBJ_COMPUTE_SIZE_DEF_SAMPLES).
const DEFAULT_SAMPLES: usize = 5;

/// MEMORY USAGE key [SAMPLES count]: the entry (key included) plus the value,
/// collections estimated from `count` elements (0: all).
fn memory_usage(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut samples = DEFAULT_SAMPLES;
    let mut j = 3;
    while j < args.len() {
        if crate::args::is_kw(args[j], "samples") && j + 1 < args.len() {
            let n = crate::args::int_arg(args[j + 1])?;
            if n < 0 {
                return Err(CmdError::Syntax);
            }
            samples = if n == 0 { usize::MAX } else { n as usize };
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    match ctx.keys.lookup_in(ctx.keys.db, args[2], Lookup::NoTouch)? {
        Some(e) => {
            let n = e.node.memory_usage(samples);
            ctx.out.int(n as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}

/// Redis's shared integers: values 0..10000 are one shared object (refcount
/// INT_MAX) unless an LRU/LFU maxmemory policy needs per-key access data.
const SHARED_INTEGERS: i64 = 10000;

fn lfu_policy(ctx: &Ctx<'_, '_>) -> bool {
    ctx.engine.lfu_policy()
}

fn lru_or_lfu_policy(ctx: &Ctx<'_, '_>) -> bool {
    matches!(ctx.engine.config.int(P::MaxmemoryPolicy), 0 | 1 | 4 | 5)
}

fn encoding(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    match ctx
        .keys
        .lookup_in(ctx.keys.db, args[2], Lookup::ReadNoTouch)?
    {
        Some(e) => {
            let enc = e.node.value().encoding();
            ctx.out.bulk(enc.as_bytes());
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn refcount(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let shared_ok = !lru_or_lfu_policy(ctx);
    match ctx
        .keys
        .lookup_in(ctx.keys.db, args[2], Lookup::ReadNoTouch)?
    {
        Some(e) => {
            let shared = matches!(*e.node.value(), Value::Str(StrValue::Int(i)) if shared_ok && (0..SHARED_INTEGERS).contains(&i));
            ctx.out.int(if shared { i32::MAX as i64 } else { 1 });
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn idletime(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let now = lru_clock(ctx.now_ms());
    match ctx
        .keys
        .lookup_in(ctx.keys.db, args[2], Lookup::ReadNoTouch)?
    {
        Some(e) => {
            if lfu {
                return Err(CmdError::LfuPolicy);
            }
            let then = e.node.lru();
            let idle = if now >= then {
                now - then
            } else {
                now + (0xFF_FFFF - then)
            };
            ctx.out.int(i64::from(idle));
        }
        None => ctx.out.null(),
    }
    Ok(())
}

fn freq(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let lfu = lfu_policy(ctx);
    let now_ms = ctx.now_ms();
    let decay = ctx.engine.config.int(P::LfuDecayTime);
    match ctx
        .keys
        .lookup_in(ctx.keys.db, args[2], Lookup::ReadNoTouch)?
    {
        Some(e) => {
            if !lfu {
                return Err(CmdError::NoLfuPolicy);
            }
            let minutes = crate::keyspace::access::lfu_minutes(now_ms);
            let decay = decay.clamp(0, u32::MAX as i64) as u32;
            ctx.out.int(i64::from(crate::keyspace::access::lfu_decayed(
                e.node.lru(),
                minutes,
                decay,
            )));
        }
        None => ctx.out.null(),
    }
    Ok(())
}

const HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
