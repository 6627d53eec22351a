//! MEMORY USAGE and MEMORY HELP (the other MEMORY subcommands are not built yet).

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::{reply_help, CommandDef};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};

/// The MEMORY subcommands ferrokv has.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("memory|usage", usage),
    CommandDef::new("memory|help", help),
];

const HELP: &[&str] = &[
    "MEMORY <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "DOCTOR",
    "    Return memory problems reports.",
    "MALLOC-STATS",
    "    Return internal statistics report from the memory allocator.",
    "PURGE",
    "    Attempt to purge dirty pages for reclamation by the allocator.",
    "STATS",
    "    Return information about the memory usage of the server.",
    "USAGE <key> [SAMPLES <count>]",
    "    Return memory in bytes used by <key> and its value. Nested values are",
    "    sampled up to <count> times (default: 5, 0 means sample all).",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}

/// MEMORY USAGE key [SAMPLES count]: the bytes of the key's entry and its value.
/// ferrokv counts every element (its sizes are kept, not sampled), so SAMPLES is
/// only checked.
fn usage(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut j = 3;
    while j < args.len() {
        if is_kw(args[j], "samples") && j + 1 < args.len() {
            if int_arg(args[j + 1])? < 0 {
                return Err(CmdError::Syntax);
            }
            j += 2;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let key = args[2];
    let db = ctx.keys.db;
    let (shard, hash) = ctx.keys.shard(db, key)?;
    // dictFind, as Redis: a key past its TTL but not yet removed still counts.
    match shard.dict.get(key, hash) {
        Some(node) => {
            let bytes = node.alloc_size() + node.value.heap_size();
            ctx.out.int(bytes as i64);
        }
        None => ctx.out.null(),
    }
    Ok(())
}
