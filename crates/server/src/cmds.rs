//! Commands that concern connections and the process, registered into the engine's
//! table by the server: CLIENT, HELLO, AUTH, RESET, QUIT, SHUTDOWN, INFO.

use std::sync::atomic::Ordering::Relaxed;

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::{reply_help, Admit, CommandDef, Locks};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};
use ferrokv_resp::Protocol;

use crate::state::ServerState;

/// The server's command table.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("client|id", client_id),
    CommandDef::new("client|setname", client_setname),
    CommandDef::new("client|getname", client_getname),
    CommandDef::new("client|list", client_list),
    CommandDef::new("client|info", client_info),
    CommandDef::new("client|kill", client_kill),
    CommandDef::new("client|no-evict", client_no_evict),
    CommandDef::new("client|help", client_help),
    CommandDef::new("client|no-touch", client_no_touch),
    CommandDef::new("client|setinfo", client_setinfo),
    CommandDef::new("client|unblock", client_unblock),
    CommandDef::new("client|reply", client_reply),
    CommandDef::new("client|tracking", crate::tracking::client_tracking),
    CommandDef::new("client|caching", crate::tracking::client_caching),
    CommandDef::new("client|getredir", crate::tracking::client_getredir),
    CommandDef::new("client|trackinginfo", crate::tracking::client_trackinginfo),
    CommandDef::new("hello", hello),
    CommandDef::new("auth", auth),
    CommandDef::new("reset", reset).admit(Admit::NOT_QUEUED.and(Admit::SUBSCRIBED)),
    CommandDef::new("quit", quit).admit(Admit::NOT_QUEUED.and(Admit::SUBSCRIBED)),
    CommandDef::new("shutdown", shutdown),
    CommandDef::with_locks("info", crate::info::info, Locks::Own),
];

/// The server behind the engine's hooks.
pub fn state<'a>(ctx: &Ctx<'a, '_>) -> CmdResult<&'a ServerState> {
    ctx.hooks
        .as_any()
        .downcast_ref::<ServerState>()
        .ok_or_else(|| CmdError::Other("server state unavailable".into()))
}

fn client_id(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.out.int(ctx.client.id as i64);
    Ok(())
}

/// Redis refuses names with spaces, newlines or non-printable characters.
fn valid_name(name: &[u8]) -> bool {
    name.iter().all(|&c| (b'!'..=b'~').contains(&c))
}

fn set_name(ctx: &mut Ctx<'_, '_>, name: &[u8]) -> CmdResult {
    if !valid_name(name) {
        return Err(CmdError::BadClientName);
    }
    let st = state(ctx)?;
    ctx.client.name = if name.is_empty() {
        None
    } else {
        Some(name.to_vec())
    };
    if let Some(h) = st.clients.get(ctx.client.id) {
        h.info.lock().name = String::from_utf8_lossy(name).into_owned();
    }
    Ok(())
}

fn client_setname(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    set_name(ctx, args[2])?;
    ctx.out.ok();
    Ok(())
}

fn client_getname(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    match &ctx.client.name {
        Some(n) => ctx.out.bulk(n),
        None => ctx.out.null(),
    }
    Ok(())
}

/// Refreshes the caller's own handle so that its line shows this command.
fn refresh_self(ctx: &Ctx<'_, '_>, st: &ServerState) {
    if let Some(h) = st.clients.get(ctx.client.id) {
        h.db.store(ctx.client.db, Relaxed);
        h.resp.store(
            if ctx.client.proto == Protocol::Resp3 {
                3
            } else {
                2
            },
            Relaxed,
        );
        h.last_interaction_ms
            .store(h.created.elapsed().as_millis() as u64, Relaxed);
        h.info.lock().cmd = ctx.cmd.meta.name.clone();
    }
}

/// CLIENT LIST [TYPE type | ID id...], parsed as Redis's clientCommand: TYPE
/// only as the one option, ids in the order given (repeats repeat), an id that
/// is no client skipped.
fn client_list(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    refresh_self(ctx, st);
    crate::clients::settle(st, ctx.client.id);
    let all = st.clients.all();
    let mut text = String::new();
    if args.len() == 4 && is_kw(args[2], "type") {
        let t = args[3];
        if !["normal", "master", "replica", "slave", "pubsub"]
            .iter()
            .any(|k| is_kw(t, k))
        {
            return Err(CmdError::Other(format!(
                "Unknown client type '{}'",
                String::from_utf8_lossy(t)
            )));
        }
        let t: &[u8] = if is_kw(t, "replica") { b"slave" } else { t };
        for c in &all {
            if is_kw(t, c.class_name()) {
                text.push_str(&c.describe());
                text.push('\n');
            }
        }
    } else if args.len() > 3 && is_kw(args[2], "id") {
        for a in &args[3..] {
            let id = int_arg(a).map_err(|_| CmdError::InvalidClientId)?;
            if let Some(c) = all.iter().find(|c| i64::try_from(c.id) == Ok(id)) {
                text.push_str(&c.describe());
                text.push('\n');
            }
        }
    } else if args.len() != 2 {
        return Err(CmdError::Syntax);
    } else {
        for c in &all {
            text.push_str(&c.describe());
            text.push('\n');
        }
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    refresh_self(ctx, st);
    let line = st
        .clients
        .get(ctx.client.id)
        .map(|h| h.describe())
        .unwrap_or_default();
    ctx.out.verbatim(b"txt", format!("{line}\n").as_bytes());
    Ok(())
}

fn client_kill(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let me = ctx.client.id;
    // Old form: CLIENT KILL ip:port, replies OK or an error.
    if args.len() == 3 {
        let addr = String::from_utf8_lossy(args[2]);
        let target = st.clients.all().into_iter().find(|c| c.addr == addr);
        let Some(c) = target else {
            return Err(CmdError::NoSuchClient);
        };
        if c.id == me {
            ctx.client.close_after_reply = true;
        } else {
            c.kill_now();
            // Gone at once, as Redis frees it: no longer listed or counted.
            st.clients.remove(c.id);
        }
        ctx.out.ok();
        return Ok(());
    }
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    let mut user: Option<String> = None;
    let mut ctype: Option<String> = None;
    let mut i = 2;
    while i < args.len() {
        if i + 1 >= args.len() {
            return Err(CmdError::Syntax);
        }
        let v = args[i + 1];
        if is_kw(args[i], "id") {
            let n = ferrokv_core::args::parse_i64(v)
                .filter(|&n| n > 0)
                .ok_or(CmdError::BadClientId)?;
            id = Some(n as u64);
        } else if is_kw(args[i], "addr") {
            addr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is_kw(args[i], "laddr") {
            laddr = Some(String::from_utf8_lossy(v).into_owned());
        } else if is_kw(args[i], "user") {
            if ctx.engine.acl.get(v).is_none() {
                return Err(CmdError::Other(format!(
                    "No such user '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
            user = Some(String::from_utf8_lossy(v).into_owned());
        } else if is_kw(args[i], "type") {
            let t = String::from_utf8_lossy(v).to_ascii_lowercase();
            if !["normal", "master", "replica", "slave", "pubsub"].contains(&t.as_str()) {
                return Err(CmdError::Other(format!(
                    "Unknown client type '{}'",
                    String::from_utf8_lossy(v)
                )));
            }
            ctype = Some(if t == "replica" { "slave".into() } else { t });
        } else if is_kw(args[i], "skipme") {
            if is_kw(v, "yes") {
                skipme = true;
            } else if is_kw(v, "no") {
                skipme = false;
            } else {
                return Err(CmdError::Syntax);
            }
        } else {
            return Err(CmdError::Syntax);
        }
        i += 2;
    }
    let mut killed = 0;
    for c in st.clients.all() {
        if id.is_some_and(|x| x != c.id)
            || addr.as_ref().is_some_and(|a| *a != c.addr)
            || laddr.as_ref().is_some_and(|a| *a != c.laddr)
            || user
                .as_ref()
                .is_some_and(|u| *u != crate::clients::Clients::user_of(&c))
            || ctype.as_ref().is_some_and(|t| t != c.class_name())
        {
            continue;
        }
        if c.id == me {
            if skipme {
                continue;
            }
            ctx.client.close_after_reply = true;
        } else {
            c.kill_now();
            // Gone at once, as Redis frees it: no longer listed or counted.
            st.clients.remove(c.id);
        }
        killed += 1;
    }
    ctx.out.int(killed);
    Ok(())
}

/// CLIENT REPLY ON|OFF|SKIP: OFF and SKIP reply nothing themselves (the connection
/// drops the replies, see `ReplyMode`).
fn client_reply(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mode = &mut ctx.client.reply;
    if is_kw(args[2], "on") {
        mode.off = false;
        mode.skip = false;
        ctx.out.ok();
    } else if is_kw(args[2], "off") {
        mode.off = true;
    } else if is_kw(args[2], "skip") {
        if !mode.off {
            mode.skip_next = true;
        }
    } else {
        return Err(CmdError::Syntax);
    }
    Ok(())
}

fn client_no_evict(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if is_kw(args[2], "on") {
        ctx.client.no_evict = true;
    } else if is_kw(args[2], "off") {
        ctx.client.no_evict = false;
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: the reason is checked before the id, as
/// Redis does.
fn client_unblock(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 4 {
        return Err(CmdError::subcommand_syntax(args));
    }
    let error = match args.get(3) {
        None => false,
        Some(a) if is_kw(a, "timeout") => false,
        Some(a) if is_kw(a, "error") => true,
        Some(_) => {
            return Err(CmdError::Other(
                "CLIENT UNBLOCK reason should be TIMEOUT or ERROR".into(),
            ))
        }
    };
    let id = ferrokv_core::args::int_arg(args[2])?;
    let st = state(ctx)?;
    let done = u64::try_from(id).is_ok_and(|id| st.blocked.unblock(&st.engine, st, id, error));
    ctx.out.int(i64::from(done));
    Ok(())
}

const CLIENT_HELP: &str = include_str!("../data/client-help.txt");

fn client_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let lines: Vec<&str> = CLIENT_HELP.lines().collect();
    reply_help(ctx, &lines);
    Ok(())
}

fn auth(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    // MONITOR never shows the credentials.
    ctx.client.redact = if args.len() == 3 { 0b110 } else { 0b10 };
    let (user, pass) = if args.len() == 3 {
        (args[1], args[2])
    } else {
        (&b"default"[..], args[1])
    };
    if args.len() == 2 && ctx.engine.acl.default_user().nopass() {
        return Err(CmdError::AuthNotConfigured);
    }
    crate::acl::authenticate(ctx, args[0], user, pass)?;
    ctx.out.ok();
    Ok(())
}

fn hello(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let mut proto = ctx.client.proto;
    if args.len() >= 2 {
        let v = ferrokv_core::args::parse_i64(args[1]).ok_or(CmdError::ProtoNotInteger)?;
        proto = match v {
            2 => Protocol::Resp2,
            3 => Protocol::Resp3,
            _ => return Err(CmdError::NoProto),
        };
    }
    let mut i = 2;
    let mut name: Option<&[u8]> = None;
    let mut credentials: Option<(&[u8], &[u8])> = None;
    while i < args.len() {
        let more = args.len() - i - 1;
        if is_kw(args[i], "auth") && more >= 2 {
            if i + 2 < 64 {
                ctx.client.redact |= (1 << (i + 1)) | (1 << (i + 2));
            }
            credentials = Some((args[i + 1], args[i + 2]));
            i += 3;
        } else if is_kw(args[i], "setname") && more >= 1 {
            name = Some(args[i + 1]);
            i += 2;
        } else {
            return Err(CmdError::Other(format!(
                "Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(args[i])
            )));
        }
    }
    if let Some((user, pass)) = credentials {
        crate::acl::authenticate(ctx, args[0], user, pass)?;
    }
    if !ctx.client.authenticated {
        return Err(CmdError::Raw(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time".into(),
        ));
    }
    if let Some(n) = name {
        set_name(ctx, n)?;
    }
    ctx.client.proto = proto;
    ctx.out.set_proto(proto);
    // Letters posted from now on (messages, invalidations) use it.
    if let Some(h) = state(ctx)?.clients.get(ctx.client.id) {
        h.resp
            .store(if proto == Protocol::Resp3 { 3 } else { 2 }, Relaxed);
    }
    ctx.out.map(7);
    ctx.out.bulk(b"server");
    ctx.out.bulk(b"redis");
    ctx.out.bulk(b"version");
    ctx.out.bulk(crate::REDIS_VERSION.as_bytes());
    ctx.out.bulk(b"proto");
    ctx.out.int(if proto == Protocol::Resp3 { 3 } else { 2 });
    ctx.out.bulk(b"id");
    ctx.out.int(ctx.client.id as i64);
    ctx.out.bulk(b"mode");
    ctx.out.bulk(b"standalone");
    ctx.out.bulk(b"role");
    ctx.out.bulk(b"master");
    ctx.out.bulk(b"modules");
    ctx.out.empty_array();
    Ok(())
}

fn reset(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let c = &mut *ctx.client;
    if std::mem::take(&mut c.monitor) {
        st.monitors.remove(ctx.engine, c.id);
    }
    c.reply.off = false;
    c.reply.skip_next = false;
    c.multi = None;
    ctx.engine.watches.unwatch(c);
    c.db = 0;
    c.proto = Protocol::Resp2;
    c.name = None;
    c.no_evict = false;
    c.no_touch = false;
    c.authenticated = ctx.engine.acl.starts_authenticated();
    c.acl_gen = ctx.engine.acl.generation();
    c.user = ctx.engine.acl.default_user();
    c.subscriptions = 0;
    c.tracking = None;
    if let Some(h) = st.clients.get(c.id) {
        {
            let mut info = h.info.lock();
            info.name.clear();
            info.user.clear();
        }
        h.resp.store(2, Relaxed);
        // Out of Pub/Sub and tracking, without confirmations (Redis's
        // clearClientConnectionState).
        crate::tracking::disable(st, &h);
        if h.subs.total() > 0 {
            st.pubsub.drop_client(&h);
            crate::obuf::apply_class(st, &h);
        }
    }
    ctx.out.set_proto(Protocol::Resp2);
    ctx.out.simple(b"RESET");
    Ok(())
}

fn quit(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.client.close_after_reply = true;
    ctx.out.ok();
    Ok(())
}

/// SHUTDOWN [NOSAVE|SAVE] [NOW] [FORCE] [ABORT] (`shutdown.rs` does the work).
fn shutdown(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    use crate::shutdown::{FORCE, NOSAVE, NOW, SAVE};
    let (mut flags, mut abort) = (0, false);
    for a in &args[1..] {
        if is_kw(a, "nosave") {
            flags |= NOSAVE;
        } else if is_kw(a, "save") {
            flags |= SAVE;
        } else if is_kw(a, "now") {
            flags |= NOW;
        } else if is_kw(a, "force") {
            flags |= FORCE;
        } else if is_kw(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (abort && flags != 0) || flags & (SAVE | NOSAVE) == SAVE | NOSAVE {
        return Err(CmdError::Syntax);
    }
    if !abort && ctx.engine.scripting.busy() {
        // A script past busy-reply-threshold: only SHUTDOWN NOSAVE goes on, and
        // the script is stopped (Redis exits without waiting for it).
        if flags & NOSAVE == 0 {
            return Err(CmdError::Raw(ctx.engine.scripting.busy_error()));
        }
        ctx.engine.scripting.abort_for_shutdown();
    }
    let st = state(ctx)?;
    if abort {
        if !crate::shutdown::abort(st) {
            return Err(CmdError::Other("No shutdown in progress.".into()));
        }
        ctx.out.ok();
        return Ok(());
    }
    match crate::shutdown::request(st, flags) {
        crate::shutdown::Outcome::Exit => {}
        crate::shutdown::Outcome::Failed => return Err(CmdError::ShutdownFailed),
        crate::shutdown::Outcome::Waiting => {
            // Blocked until the process exits, or the error if the shutdown
            // fails or is aborted (Redis's BLOCKED_SHUTDOWN).
            ctx.client.block = Some(ferrokv_core::blocking::BlockRequest {
                reason: ferrokv_core::blocking::BlockReason::Shutdown,
                timeout_ms: None,
            });
            return Ok(());
        }
    }
    // The process exits: like Redis, this connection closes without the replies
    // still waiting in its buffer.
    ctx.out.buffer_mut().clear();
    ctx.client.close_after_reply = true;
    Ok(())
}

fn client_no_touch(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if is_kw(args[2], "on") {
        ctx.client.no_touch = true;
    } else if is_kw(args[2], "off") {
        ctx.client.no_touch = false;
    } else {
        return Err(CmdError::Syntax);
    }
    ctx.out.ok();
    Ok(())
}

/// CLIENT SETINFO LIB-NAME|LIB-VER value (Redis 7.2): shown in CLIENT LIST.
fn client_setinfo(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let value = args[3];
    let is_name = is_kw(args[2], "lib-name");
    if !is_name && !is_kw(args[2], "lib-ver") {
        return Err(CmdError::Other(format!(
            "Unrecognized option '{}'",
            String::from_utf8_lossy(args[2])
        )));
    }
    if !value.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        return Err(CmdError::Other(format!(
            "{} cannot contain spaces, newlines or special characters.",
            if is_name { "lib-name" } else { "lib-ver" }
        )));
    }
    let st = state(ctx)?;
    let text = String::from_utf8_lossy(value).into_owned();
    if is_name {
        ctx.client.lib_name = Some(value.to_vec());
    } else {
        ctx.client.lib_ver = Some(value.to_vec());
    }
    if let Some(h) = st.clients.get(ctx.client.id) {
        let mut info = h.info.lock();
        if is_name {
            info.lib_name = text;
        } else {
            info.lib_ver = text;
        }
    }
    ctx.out.ok();
    Ok(())
}
