//! The ACL command (Redis 7.0's aclCommand), one handler per subcommand.

use std::sync::Arc;

use super::check::Denied;
use super::log::{Context, Entry, Reason};
use super::user::{Selector, User};
use crate::args::{int_arg, is_kw};
use crate::commands::meta::Category;
use crate::commands::{reply_help, CommandDef, Locks};
use crate::ctx::Ctx;
use crate::error::{CmdError, CmdResult};

/// The ACL subcommands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("acl|setuser", setuser),
    CommandDef::new("acl|getuser", getuser),
    CommandDef::new("acl|deluser", deluser),
    CommandDef::new("acl|list", list),
    CommandDef::new("acl|users", users),
    CommandDef::new("acl|whoami", whoami),
    CommandDef::new("acl|cat", cat),
    CommandDef::new("acl|genpass", genpass),
    CommandDef::with_locks("acl|log", log, Locks::Own),
    CommandDef::with_locks("acl|save", save, Locks::Own),
    CommandDef::with_locks("acl|load", load, Locks::Own),
    CommandDef::new("acl|dryrun", dryrun),
    CommandDef::new("acl|help", help),
];

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn has_spaces(s: &[u8]) -> bool {
    s.iter()
        .any(|&c| c == 0 || matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c))
}

/// One refusal to log.
pub struct Denial<'a> {
    /// What was refused.
    pub reason: Reason,
    /// Where.
    pub context: Context,
    /// The command name, key or channel; for auth the command name as sent.
    pub object: &'a [u8],
    /// The user name tried (auth), else the client's user.
    pub username: Option<&'a [u8]>,
    /// The client's last command to show in client-info, when it is the refused
    /// one (Redis sets `lastcmd` at lookup).
    pub last_cmd: Option<&'a str>,
}

/// Adds an ACL LOG entry for a refusal of `client`'s command.
pub fn log_denied(
    engine: &crate::Engine,
    client: &crate::Client,
    hooks: &dyn crate::ServerHooks,
    d: Denial<'_>,
) {
    let max = engine.config.int(crate::config::P::AcllogMaxLen).max(0) as usize;
    let entry = Entry {
        count: 1,
        reason: d.reason,
        context: d.context,
        object: d.object.to_vec(),
        username: d.username.unwrap_or(&client.user.name).to_vec(),
        ctime_ms: unix_ms(),
        client_info: hooks.client_info(client.id, d.last_cmd),
    };
    engine.acl.log.lock().add(entry, max);
}

/// Logs a refused command found by [`super::check::check`].
pub fn log_check(
    engine: &crate::Engine,
    client: &crate::Client,
    hooks: &dyn crate::ServerHooks,
    denied: Denied,
    context: Context,
    cmd_name: &str,
    args: &[&[u8]],
) {
    let object = match denied {
        Denied::Command => cmd_name.as_bytes(),
        Denied::Key(i) | Denied::Channel(i) => args.get(i).copied().unwrap_or_default(),
    };
    // A refusal at admission names the refused command as the client's last one;
    // in EXEC and scripts the client's last command stays EXEC / EVAL.
    let at_admission =
        context == Context::Toplevel || (context == Context::Multi && client.multi.is_some());
    let last = if at_admission {
        cmd_name
    } else {
        client.last_cmd
    };
    let d = Denial {
        reason: denied.into(),
        context,
        object,
        username: None,
        last_cmd: Some(last),
    };
    log_denied(engine, client, hooks, d);
}

/// The command `argv` names as Redis's lookupCommand finds it for DRYRUN and
/// `redis.acl_check_cmd`: in the command table as clients see it (renamed commands
/// by their new names), and among the commands Redis has that ferrokv does not
/// implement.
pub fn lookup(
    engine: &crate::Engine,
    argv: &[&[u8]],
) -> Option<&'static crate::commands::meta::CommandMeta> {
    match engine.lookup_command(argv) {
        Some(c) => Some(c.meta),
        None if argv
            .first()
            .is_some_and(|n| engine.registry.renamed_away(n)) =>
        {
            None
        }
        None => crate::commands::meta::lookup(argv),
    }
}

fn unix_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn setuser(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    // MONITOR shows none of the rules (passwords among them).
    ctx.client.redact = !0b11;
    let name = args[2];
    if has_spaces(name) {
        return Err(CmdError::Other(
            "Usernames can't contain spaces or null characters".into(),
        ));
    }
    let pubsub_all = super::pubsub_all(&ctx.engine.config);
    let (old, new) = ctx
        .engine
        .acl
        .set_user(name, &args[3..], pubsub_all)
        .map_err(CmdError::Other)?;
    if let Some(old) = old {
        if let Some(allowed) = super::check::revoked_channels(&old, &new) {
            ctx.hooks.acl_kill_subscribers(name, &allowed);
        }
    }
    ctx.out.ok();
    Ok(())
}

fn selector_fields(ctx: &mut Ctx<'_, '_>, s: &Selector) {
    ctx.out.bulk(b"commands");
    ctx.out.bulk(&s.describe_commands());
    ctx.out.bulk(b"keys");
    ctx.out.bulk(&s.describe_keys());
    ctx.out.bulk(b"channels");
    ctx.out.bulk(&s.describe_channels());
}

fn getuser(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let Some(u) = ctx.engine.acl.get(args[2]) else {
        ctx.out.null();
        return Ok(());
    };
    ctx.out.map(6);
    ctx.out.bulk(b"flags");
    let flags: Vec<&str> = u.flag_names().collect();
    ctx.out.set(flags.len());
    for f in flags {
        ctx.out.bulk(f.as_bytes());
    }
    ctx.out.bulk(b"passwords");
    ctx.out.array(u.passwords.len());
    for p in &u.passwords {
        ctx.out.bulk(p);
    }
    selector_fields(ctx, &u.selectors[0]);
    ctx.out.bulk(b"selectors");
    ctx.out.array(u.selectors.len() - 1);
    for s in &u.selectors[1..] {
        ctx.out.map(3);
        selector_fields(ctx, s);
    }
    Ok(())
}

fn deluser(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args[2..].iter().any(|n| *n == b"default") {
        return Err(CmdError::Other(
            "The 'default' user cannot be removed".into(),
        ));
    }
    let gone = ctx.engine.acl.delete(&args[2..]);
    kill_users(ctx, &gone);
    ctx.out.int(gone.len() as i64);
    Ok(())
}

/// Disconnects the clients of users that no longer exist: the caller after its
/// reply, the others now (Redis's ACLFreeUserAndKillClients).
fn kill_users(ctx: &mut Ctx<'_, '_>, gone: &[Arc<User>]) {
    if gone.is_empty() {
        return;
    }
    let names: Vec<Vec<u8>> = gone.iter().map(|u| u.name.clone()).collect();
    if names.contains(&ctx.client.user.name) {
        ctx.client.close_after_reply = true;
    }
    ctx.hooks.acl_kill_users(&names, ctx.client.id);
}

fn list(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let users = ctx.engine.acl.users();
    ctx.out.array(users.len());
    for u in users {
        let mut line = b"user ".to_vec();
        line.extend_from_slice(&u.name);
        line.push(b' ');
        line.extend_from_slice(&u.describe());
        ctx.out.bulk(&line);
    }
    Ok(())
}

fn users(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let users = ctx.engine.acl.users();
    ctx.out.array(users.len());
    for u in users {
        ctx.out.bulk(&u.name);
    }
    Ok(())
}

fn whoami(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let name = ctx.client.user.name.clone();
    ctx.out.bulk(&name);
    Ok(())
}

fn cat(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    match args.get(2) {
        None => {
            ctx.out.array(Category::ALL.len());
            for c in Category::ALL {
                ctx.out.bulk(c.name().as_bytes());
            }
        }
        Some(name) => {
            let Some(c) = Category::from_name(name) else {
                let mut n = lossy(name);
                n.truncate(128);
                return Err(CmdError::Other(format!("Unknown category '{n}'")));
            };
            let t = super::table::table();
            let ids: Vec<usize> = t.in_category(c).collect();
            ctx.out.array(ids.len());
            for id in ids {
                ctx.out.bulk(t.cmds[id].name.as_bytes());
            }
        }
    }
    Ok(())
}

fn genpass(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let bits = match args.get(2) {
        Some(a) => int_arg(a)?,
        None => 256,
    };
    if bits <= 0 || bits > 4096 {
        return Err(CmdError::Other(
            "ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096".into(),
        ));
    }
    let chars = ((bits + 3) / 4) as usize;
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let pass: Vec<u8> = (0..chars)
        .map(|_| HEX[rand::random::<u8>() as usize & 15])
        .collect();
    ctx.out.bulk(&pass);
    Ok(())
}

fn log(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let mut count = 10i64;
    if let Some(a) = args.get(2) {
        if is_kw(a, "reset") {
            ctx.engine.acl.log.lock().entries.clear();
            ctx.out.ok();
            return Ok(());
        }
        count = int_arg(a)?.max(0);
    }
    let entries: Vec<Entry> = {
        let log = ctx.engine.acl.log.lock();
        log.entries.iter().take(count as usize).cloned().collect()
    };
    let now = unix_ms();
    ctx.out.array(entries.len());
    for e in entries {
        ctx.out.map(7);
        ctx.out.bulk(b"count");
        ctx.out.int(e.count as i64);
        ctx.out.bulk(b"reason");
        ctx.out.bulk(e.reason.name().as_bytes());
        ctx.out.bulk(b"context");
        ctx.out.bulk(e.context.name().as_bytes());
        ctx.out.bulk(b"object");
        ctx.out.bulk(&e.object);
        ctx.out.bulk(b"username");
        ctx.out.bulk(&e.username);
        ctx.out.bulk(b"age-seconds");
        ctx.out.double((now - e.ctime_ms) as f64 / 1000.0);
        ctx.out.bulk(b"client-info");
        ctx.out.bulk(e.client_info.as_bytes());
    }
    Ok(())
}

const NO_FILE: &str = "This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.";

fn save(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let path = ctx.engine.config.string(crate::config::P::Aclfile);
    if path.is_empty() {
        return Err(CmdError::Other(NO_FILE.into()));
    }
    if let Err(e) = super::file::save(&ctx.engine.acl, &path) {
        tracing::warn!("Writing ACL file for ACL SAVE: {e}");
        return Err(CmdError::Other(
            "There was an error trying to save the ACLs. Please check the server logs for more information".into(),
        ));
    }
    ctx.out.ok();
    Ok(())
}

fn load(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let path = ctx.engine.config.string(crate::config::P::Aclfile);
    if path.is_empty() {
        return Err(CmdError::Other(NO_FILE.into()));
    }
    let pubsub_all = super::pubsub_all(&ctx.engine.config);
    let mut users = super::file::load(&path, pubsub_all).map_err(CmdError::Other)?;
    // The default user is updated in place: its clients stay; every other user is
    // a new one, and the clients of the old ones are disconnected.
    let old = ctx.engine.acl.users();
    if let Some(d) = users.get(&b"default"[..]).cloned() {
        users.insert(b"default".to_vec(), d);
    }
    ctx.engine.acl.replace_all(users);
    let gone: Vec<Arc<User>> = old.into_iter().filter(|u| u.name != b"default").collect();
    kill_users(ctx, &gone);
    ctx.out.ok();
    Ok(())
}

fn dryrun(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let Some(u) = ctx.engine.acl.get(args[2]) else {
        return Err(CmdError::Other(format!(
            "User '{}' not found",
            lossy(args[2])
        )));
    };
    let argv = &args[3..];
    let Some(meta) = lookup(ctx.engine, argv) else {
        return Err(CmdError::Other(format!(
            "Command '{}' not found",
            lossy(args[3])
        )));
    };
    if !meta.arity_ok(argv.len()) {
        return Err(CmdError::Other(format!(
            "wrong number of arguments for '{}' command",
            meta.name
        )));
    }
    match super::check::check(&u, meta, argv) {
        Ok(()) => ctx.out.ok(),
        Err(d) => {
            let text = match d {
                Denied::Command => format!(
                    "This user has no permissions to run the '{}' command",
                    meta.name
                ),
                Denied::Key(i) => format!(
                    "This user has no permissions to access the '{}' key",
                    lossy(argv.get(i).copied().unwrap_or_default())
                ),
                Denied::Channel(i) => format!(
                    "This user has no permissions to access the '{}' channel",
                    lossy(argv.get(i).copied().unwrap_or_default())
                ),
            };
            ctx.out.bulk(text.as_bytes());
        }
    }
    Ok(())
}

const HELP: &[&str] = &[
    "ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "CAT [<category>]",
    "    List all commands that belong to <category>, or all command categories",
    "    when no category is specified.",
    "DELUSER <username> [<username> ...]",
    "    Delete a list of users.",
    "DRYRUN <username> <command> [<arg> ...]",
    "    Returns whether the user can execute the given command without executing the command.",
    "GETUSER <username>",
    "    Get the user's details.",
    "GENPASS [<bits>]",
    "    Generate a secure 256-bit user password. The optional `bits` argument can",
    "    be used to specify a different size.",
    "LIST",
    "    Show users details in config file format.",
    "LOAD",
    "    Reload users from the ACL file.",
    "LOG [<count> | RESET]",
    "    Show the ACL log entries.",
    "SAVE",
    "    Save the current config to the ACL file.",
    "SETUSER <username> <attribute> [<attribute> ...]",
    "    Create or modify a user with the specified attributes.",
    "USERS",
    "    List all the registered usernames.",
    "WHOAMI",
    "    Return the current connection username.",
    "HELP",
    "    Prints this help.",
];

fn help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    reply_help(ctx, HELP);
    Ok(())
}
