//! Commands that concern connections and the process, registered into the engine's
//! table by the server: CLIENT, HELLO, AUTH, RESET, QUIT, SHUTDOWN, INFO.

use std::sync::atomic::Ordering::Relaxed;

use ferrokv_core::args::{int_arg, is_kw};
use ferrokv_core::commands::{reply_help, CommandDef, Locks};
use ferrokv_core::config::P;
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
    CommandDef::new("hello", hello),
    CommandDef::new("auth", auth),
    CommandDef::new("reset", reset),
    CommandDef::new("quit", quit),
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

/// Refreshes the caller's own handle so that its line shows this command, as
/// Redis shows its caller mid-command: the request in its query buffer (`args`
/// as RESP, the usual case of a request alone in the buffer) and no pending
/// output.
fn refresh_self(ctx: &Ctx<'_, '_>, st: &ServerState, args: &[&[u8]]) {
    if let Some(h) = st.clients.get(ctx.client.id) {
        let digits = |n: usize| n.to_string().len();
        let request: usize = 3
            + digits(args.len())
            + args
                .iter()
                .map(|a| 5 + digits(a.len()) + a.len())
                .sum::<usize>();
        h.qbuf.store(request, Relaxed);
        h.omem.store(0, Relaxed);
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

fn client_list(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    refresh_self(ctx, st, args);
    let mut ids: Option<Vec<u64>> = None;
    let mut i = 2;
    while i < args.len() {
        if is_kw(args[i], "type") && i + 1 < args.len() {
            let t = args[i + 1];
            if !["normal", "master", "replica", "slave", "pubsub"]
                .iter()
                .any(|k| is_kw(t, k))
            {
                return Err(CmdError::Other(format!(
                    "Unknown client type '{}'",
                    String::from_utf8_lossy(t)
                )));
            }
            if !is_kw(t, "normal") {
                ids = Some(Vec::new());
            }
            i += 2;
        } else if is_kw(args[i], "id") && i + 1 < args.len() {
            let mut list = Vec::new();
            for a in &args[i + 1..] {
                let id = int_arg(a).map_err(|_| CmdError::Other("Invalid client ID".into()))?;
                if id <= 0 {
                    return Err(CmdError::Other("Invalid client ID".into()));
                }
                list.push(id as u64);
            }
            ids = Some(list);
            i = args.len();
        } else {
            return Err(CmdError::Syntax);
        }
    }
    let mut text = String::new();
    for c in st.clients.all() {
        if ids.as_ref().is_some_and(|l| !l.contains(&c.id)) {
            continue;
        }
        text.push_str(&c.describe());
        text.push('\n');
    }
    ctx.out.verbatim(b"txt", text.as_bytes());
    Ok(())
}

fn client_info(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    refresh_self(ctx, st, args);
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
            c.kill();
            // Gone at once, as Redis frees it: INFO and CLIENT LIST stop counting it.
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
            // The only user is `default` (no ACL yet).
            if v != b"default" {
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
            ctype = Some(t);
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
            || user.as_ref().is_some_and(|u| u != "default")
            || ctype.as_ref().is_some_and(|t| t != "normal")
        {
            continue;
        }
        if c.id == me {
            if skipme {
                continue;
            }
            ctx.client.close_after_reply = true;
        } else {
            c.kill();
            st.clients.remove(c.id);
        }
        killed += 1;
    }
    ctx.out.int(killed);
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
    let done = u64::try_from(id).is_ok_and(|id| st.blocked.unblock(&st.engine, id, error));
    ctx.out.int(i64::from(done));
    Ok(())
}

const CLIENT_HELP: &str = include_str!("../data/client-help.txt");

fn client_help(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let lines: Vec<&str> = CLIENT_HELP.lines().collect();
    reply_help(ctx, &lines);
    Ok(())
}

fn check_auth(ctx: &Ctx<'_, '_>, user: &[u8], pass: &[u8]) -> CmdResult {
    let required = ctx.engine.config.string(P::Requirepass);
    let ok = user == b"default" && (required.is_empty() || required.as_bytes() == pass);
    if ok {
        Ok(())
    } else {
        Err(CmdError::WrongPass)
    }
}

fn auth(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len() > 3 {
        return Err(CmdError::Syntax);
    }
    let (user, pass) = if args.len() == 3 {
        (args[1], args[2])
    } else {
        (&b"default"[..], args[1])
    };
    if args.len() == 2 && ctx.engine.config.string(P::Requirepass).is_empty() {
        return Err(CmdError::AuthNotConfigured);
    }
    check_auth(ctx, user, pass)?;
    ctx.client.authenticated = true;
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
    while i < args.len() {
        let more = args.len() - i - 1;
        if is_kw(args[i], "auth") && more >= 2 {
            check_auth(ctx, args[i + 1], args[i + 2])?;
            ctx.client.authenticated = true;
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
    c.multi = None;
    ctx.engine.watches.unwatch(c);
    c.db = 0;
    c.proto = Protocol::Resp2;
    c.name = None;
    c.no_evict = false;
    c.no_touch = false;
    c.authenticated = ctx.engine.config.string(P::Requirepass).is_empty();
    if let Some(h) = st.clients.get(c.id) {
        h.info.lock().name.clear();
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

fn shutdown(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let (mut nosave, mut save, mut abort) = (false, false, false);
    for a in &args[1..] {
        if is_kw(a, "nosave") {
            nosave = true;
        } else if is_kw(a, "save") {
            save = true;
        } else if is_kw(a, "now") || is_kw(a, "force") {
        } else if is_kw(a, "abort") {
            abort = true;
        } else {
            return Err(CmdError::Syntax);
        }
    }
    if (nosave && save) || (abort && args.len() > 2) {
        return Err(CmdError::Syntax);
    }
    if abort {
        return Err(CmdError::Other("No shutdown in progress.".into()));
    }
    let st = state(ctx)?;
    if crate::persistence::shutdown_wants_save(ctx.engine, save, nosave) {
        crate::persistence::save_for_shutdown(&st.engine, &st.persistence.0)
            .map_err(|_| CmdError::ShutdownFailed)?;
    }
    st.persistence.0.shutdown_handled.store(true, Relaxed);
    tracing::warn!("User requested shutdown...");
    st.request_shutdown();
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
