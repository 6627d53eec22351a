//! COMMAND and its subcommands, answered from the command table.

use ferrokv_resp::Frame;

use crate::args::is_kw;
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
    let Frame::Array(items) = &cmd.meta.info else {
        return cmd.meta.info.clone();
    };
    let mut items = items.clone();
    if items.len() >= 10 {
        items[9] = Frame::Set(cmd.subcommands.iter().map(info_frame).collect());
    }
    Frame::Array(items)
}

/// The COMMAND DOCS entry of `cmd`, listing only implemented subcommands.
fn docs_frame(cmd: &Command) -> Frame {
    let Some(Frame::Map(pairs)) = &cmd.meta.docs else {
        return Frame::Map(Vec::new());
    };
    let mut pairs = pairs.clone();
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
                let cat = format!("@{}", String::from_utf8_lossy(value).to_ascii_lowercase());
                names
                    .into_iter()
                    .filter(|n| {
                        find(ctx, n.as_bytes()).is_some_and(|c| match &c.meta.info {
                            Frame::Array(items) if items.len() > 6 => match &items[6] {
                                Frame::Set(cats) | Frame::Array(cats) => {
                                    cats.iter().any(|f| f.as_bytes() == Some(cat.as_bytes()))
                                }
                                _ => false,
                            },
                            _ => false,
                        })
                    })
                    .collect()
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

/// The keys of the command in `args[2..]` (COMMAND GETKEYS[ANDFLAGS]), each with
/// its position and flags: from the key specs, each key with the flags of the spec
/// that found it, or from Redis's getkeys procedure where the specs are incomplete
/// or the flags depend on the arguments (SORT, SET).
fn keys_and_flags(ctx: &Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult<Vec<(usize, Vec<Frame>)>> {
    let cmd_args = &args[2..];
    let reg = &ctx.engine.registry;
    let Some(mut cmd) = reg.get(cmd_args[0]) else {
        return Err(CmdError::Other("Invalid command specified".into()));
    };
    if cmd.handler.is_none() && cmd_args.len() > 1 {
        if let Some(s) = cmd.subcommand(cmd_args[1]) {
            cmd = s;
        }
    }
    if !cmd.meta.arity_ok(cmd_args.len()) {
        return Err(CmdError::Other(
            "Invalid number of arguments specified for command".into(),
        ));
    }
    let flags =
        |words: &[&str]| -> Vec<Frame> { words.iter().map(|w| Frame::simple(*w)).collect() };
    let mut keys: Vec<(usize, Vec<Frame>)> = Vec::new();
    match cmd.meta.name.as_str() {
        // sortGetKeys: the sort key, and the last STORE target (LIMIT takes two
        // arguments, GET and BY one).
        "sort" => {
            keys.push((1, flags(&["RO", "access"])));
            let mut store = None;
            let mut i = 2;
            while i < cmd_args.len() {
                let a = cmd_args[i];
                if is_kw(a, "limit") {
                    i += 2;
                } else if is_kw(a, "store") && i + 1 < cmd_args.len() {
                    store = Some(i + 1);
                } else if is_kw(a, "get") || is_kw(a, "by") {
                    i += 1;
                }
                i += 1;
            }
            keys.extend(store.map(|p| (p, flags(&["OW", "update"]))));
        }
        // setGetKeys: with GET it reads and updates, without it only overwrites.
        "set" => {
            let get = cmd_args[3..].iter().any(|a| is_kw(a, "get"));
            let words: &[&str] = if get {
                &["RW", "access", "update"]
            } else {
                &["OW", "update"]
            };
            keys.push((1, flags(words)));
        }
        _ => {
            let specs = spec_flags(cmd);
            cmd.meta.for_each_spec_key(cmd_args, |spec, p| {
                keys.push((p, specs.get(spec).cloned().unwrap_or_default()));
            });
        }
    }
    if keys.is_empty() {
        return Err(CmdError::Other("The command has no key arguments".into()));
    }
    Ok(keys)
}

/// The flags of each of `cmd`'s key specs, from its COMMAND INFO entry.
fn spec_flags(cmd: &Command) -> Vec<Vec<Frame>> {
    match &cmd.meta.info {
        Frame::Array(items) if items.len() > 8 => match &items[8] {
            Frame::Array(specs) | Frame::Set(specs) => specs
                .iter()
                .map(|s| match s {
                    Frame::Map(p) => p
                        .iter()
                        .find(|(k, _)| k.as_bytes() == Some(b"flags"))
                        .and_then(|(_, v)| match v {
                            Frame::Set(f) | Frame::Array(f) => Some(f.clone()),
                            _ => None,
                        })
                        .unwrap_or_default(),
                    _ => Vec::new(),
                })
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

fn getkeys(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let keys = keys_and_flags(ctx, args)?;
    ctx.out.array(keys.len());
    for (p, _) in &keys {
        ctx.out.bulk(args[2 + p]);
    }
    Ok(())
}

fn getkeysandflags(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let keys = keys_and_flags(ctx, args)?;
    ctx.out.array(keys.len());
    for (p, flags) in &keys {
        ctx.out.array(2);
        ctx.out.bulk(args[2 + p]);
        ctx.out.set(flags.len());
        for f in flags {
            write_frame(ctx.out, f);
        }
    }
    Ok(())
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
