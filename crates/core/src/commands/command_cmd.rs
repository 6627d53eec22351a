//! COMMAND and its subcommands, answered from the command table.

use ferrokv_resp::Frame;

use crate::args::is_kw;
use crate::commands::meta::{self, Category, Flags};
use crate::commands::reply_frame::write_frame;
use crate::commands::{Command, CommandDef};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};
use crate::glob::glob_match;

/// The table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("command", command),
    CommandDef::new("command|count", count),
    CommandDef::new("command|info", info),
    CommandDef::new("command|docs", docs),
    CommandDef::new("command|list", list),
    CommandDef::new("command|getkeys", getkeys),
    CommandDef::new("command|getkeysandflags", getkeysandflags),
    CommandDef::new("command|help", help),
];

/// The COMMAND INFO entry of `cmd`, listing only implemented subcommands.
fn info_frame(cmd: &Command) -> Frame {
    let Frame::Array(mut items) = cmd.meta.info() else {
        return cmd.meta.info();
    };
    if items.len() >= 10 {
        items[9] = Frame::Set(cmd.subcommands.iter().map(info_frame).collect());
    }
    Frame::Array(items)
}

/// The COMMAND DOCS entry of `cmd`, listing only implemented subcommands.
fn docs_frame(cmd: &Command) -> Frame {
    let Some(Frame::Map(mut pairs)) = cmd.meta.docs() else {
        return Frame::Map(Vec::new());
    };
    if let Some(slot) = pairs
        .iter_mut()
        .find(|(k, _)| k.as_bytes() == Some(b"subcommands"))
    {
        slot.1 = Frame::Map(
            cmd.subcommands
                .iter()
                .map(|s| (Frame::bulk(s.meta.name.as_bytes()), docs_frame(s)))
                .collect(),
        );
    }
    Frame::Map(pairs)
}

fn command(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 1 {
        return Err(CmdError::UnknownSubcommand {
            sub: String::from_utf8_lossy(args[1]).into_owned(),
            cmd: "COMMAND".into(),
        });
    }
    let reg = &ctx.engine.registry;
    ctx.out.array(reg.len());
    for c in reg.iter() {
        write_frame(ctx.out, &info_frame(c));
    }
    Ok(())
}

fn count(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.engine.registry.len() as i64);
    Ok(())
}

/// Finds a command or `parent|sub` by name.
fn find<'e>(ctx: &Ctx<'_, 'e>, name: &[u8]) -> Option<&'e Command> {
    let reg = &ctx.engine.registry;
    match name.iter().position(|&b| b == b'|') {
        None => reg.get(name),
        Some(i) => reg
            .get(&name[..i])
            .and_then(|p| p.subcommand(&name[i + 1..])),
    }
}

fn info(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() == 2 {
        return command(ctx, &args[..1]);
    }
    ctx.out.array(args.len() - 2);
    for name in &args[2..] {
        match find(ctx, name) {
            Some(c) => write_frame(ctx.out, &info_frame(c)),
            None => ctx.out.null(),
        }
    }
    Ok(())
}

fn docs(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let reg = &ctx.engine.registry;
    if args.len() == 2 {
        ctx.out.map(reg.len());
        for c in reg.iter() {
            ctx.out.bulk(c.meta.name.as_bytes());
            write_frame(ctx.out, &docs_frame(c));
        }
        return Ok(());
    }
    let found: Vec<&Command> = args[2..].iter().filter_map(|n| find(ctx, n)).collect();
    ctx.out.map(found.len());
    for c in found {
        ctx.out.bulk(c.meta.name.as_bytes());
        write_frame(ctx.out, &docs_frame(c));
    }
    Ok(())
}

fn all_names(ctx: &Ctx<'_, '_>) -> Vec<&'static str> {
    let mut names = Vec::new();
    for c in ctx.engine.registry.iter() {
        names.push(c.meta.name.as_str());
        for s in &c.subcommands {
            names.push(s.meta.name.as_str());
        }
    }
    names
}

fn list(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let names = all_names(ctx);
    let filtered: Vec<&str> = match args.len() {
        2 => names,
        5 if is_kw(args[2], "filterby") => {
            let value = args[4];
            if is_kw(args[3], "module") {
                Vec::new()
            } else if is_kw(args[3], "aclcat") {
                match Category::from_name(value) {
                    Some(cat) => names
                        .into_iter()
                        .filter(|n| {
                            find(ctx, n.as_bytes()).is_some_and(|c| c.meta.acl_categories.has(cat))
                        })
                        .collect(),
                    None => Vec::new(),
                }
            } else if is_kw(args[3], "pattern") {
                names
                    .into_iter()
                    .filter(|n| glob_match(value, n.as_bytes(), true))
                    .collect()
            } else {
                return Err(CmdError::Syntax);
            }
        }
        _ => return Err(CmdError::Syntax),
    };
    ctx.out.array(filtered.len());
    for n in filtered {
        ctx.out.bulk(n.as_bytes());
    }
    Ok(())
}

/// COMMAND GETKEYS / GETKEYSANDFLAGS (Redis's getKeysSubcommandImpl), answered for
/// every command Redis 7.0 knows, implemented here or not.
fn getkeys_impl(ctx: &mut Ctx<'_, '_>, args: &[&[u8]], with_flags: bool) -> CmdResult {
    let cmd_args = &args[2..];
    let meta = meta::lookup(cmd_args).ok_or(CmdError::GetKeysInvalidCommand)?;
    if !meta.has_keys() {
        return Err(CmdError::GetKeysNoKeyArguments);
    }
    if !meta.arity_ok(cmd_args.len()) {
        return Err(CmdError::GetKeysInvalidArgumentCount);
    }
    let keys = meta.keys(cmd_args);
    if keys.is_empty() && !meta.flags.has(Flags::NO_MANDATORY_KEYS) {
        return Err(CmdError::GetKeysInvalidArguments);
    }
    ctx.out.array(keys.len());
    for k in keys {
        let key = cmd_args[k.pos];
        if with_flags {
            ctx.out.array(2);
            ctx.out.bulk(key);
            ctx.out.set(k.flags.len());
            for name in k.flags.names() {
                ctx.out.simple(name.as_bytes());
            }
        } else {
            ctx.out.bulk(key);
        }
    }
    Ok(())
}

fn getkeys(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    getkeys_impl(ctx, args, false)
}

fn getkeysandflags(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    getkeys_impl(ctx, args, true)
}

const HELP: &[&str] = &[
    "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
    "GETKEYSANDFLAGS <full-command>",
    "    Return the keys and the access flags from a full Redis command.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    crate::commands::reply_help(ctx, HELP);
    Ok(())
}
