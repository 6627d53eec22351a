//! The connection side of ACL users: authentication (AUTH, HELLO AUTH) and the
//! disconnection of clients whose user was deleted or lost channel permissions.
//! The users, rules and checks live in `ferrokv_core::acl`.

use ferrokv_core::acl::check::channel_in;
use ferrokv_core::acl::log::{Context, Reason};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};

use crate::clients::Clients;
use crate::pubsub::Kind;
use crate::state::ServerState;

/// Logs the client in as `user` when `pass` is one of its passwords (Redis's
/// ACLAuthenticateUser); a failure is logged in ACL LOG and answered WRONGPASS.
pub fn authenticate(ctx: &mut Ctx<'_, '_>, sent: &[u8], user: &[u8], pass: &[u8]) -> CmdResult {
    let acl = &ctx.engine.acl;
    let generation = acl.generation();
    match acl.credentials(user, pass) {
        Some(u) => {
            ctx.client.user = u;
            ctx.client.acl_gen = generation;
            ctx.client.authenticated = true;
            set_user_text(ctx, user);
            Ok(())
        }
        None => {
            let context = if ctx.client.multi.is_some() {
                Context::Multi
            } else {
                Context::Toplevel
            };
            let d = ferrokv_core::acl::cmds::Denial {
                reason: Reason::Auth,
                context,
                object: sent,
                username: Some(user),
                last_cmd: Some(&ctx.cmd.meta.name),
            };
            ferrokv_core::acl::cmds::log_denied(ctx.engine, ctx.client, ctx.hooks, d);
            Err(CmdError::WrongPass)
        }
    }
}

/// What CLIENT LIST shows as `user=`.
pub fn set_user_text(ctx: &Ctx<'_, '_>, user: &[u8]) {
    if let Ok(st) = crate::cmds::state(ctx) {
        if let Some(h) = st.clients.get(ctx.client.id) {
            h.info.lock().user = String::from_utf8_lossy(user).into_owned();
        }
    }
}

/// Disconnects the clients of these users, except `current`.
pub fn kill_users(st: &ServerState, names: &[Vec<u8>], current: u64) {
    for c in st.clients.all() {
        if c.id == current {
            continue;
        }
        let user = Clients::user_of(&c);
        if names.iter().any(|n| n == user.as_bytes()) {
            c.kill();
        }
    }
}

/// Disconnects `name`'s subscribers holding a subscription `allowed` no longer
/// grants (patterns compared literally, channels matched).
pub fn kill_subscribers(st: &ServerState, name: &[u8], allowed: &[Vec<u8>]) {
    for c in st.clients.all() {
        if c.subs.total() == 0 || Clients::user_of(&c).as_bytes() != name {
            continue;
        }
        let bad_pattern = c
            .subs
            .names(Kind::Pattern)
            .iter()
            .any(|p| !channel_in(allowed, p, true));
        let bad_channel = || {
            [Kind::Channel, Kind::Shard]
                .into_iter()
                .flat_map(|k| c.subs.names(k))
                .any(|ch| !channel_in(allowed, &ch, false))
        };
        if bad_pattern || bad_channel() {
            c.kill();
        }
    }
}
