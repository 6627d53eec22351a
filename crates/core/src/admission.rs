//! The admission step: every command is checked once, after its name and arity are
//! resolved and before any lock is taken, in the order of Redis's processCommand.
//! Each check reads the command's typed metadata (its Redis flags, and the few
//! [`Admit`] distinctions of the table) and the server's [`Gates`]; none looks at a
//! command's name. Later features plug their check in at its place here:
//!
//! 0. protected commands (DEBUG, [`Admit::PROTECTED`]) refused by
//!    enable-debug-command — here;
//! 1. authentication (NOAUTH) — here;
//! 2. `no-multi` commands inside MULTI — here;
//! 3. ACL permissions (command, categories, each key with its read/write intent from
//!    the key specs, channels) — here, [`crate::acl::check`]; a user with every
//!    permission costs one flag test;
//! 4. cluster slot ownership / CROSSSLOT — the cluster issue;
//! 5. OOM for denyoom commands (and anything queued in MULTI) — here, from
//!    [`Gates::out_of_memory`], which eviction sets;
//! 6. MISCONF while writes cannot be persisted — here;
//! 7. READONLY on a read-only replica — here, from [`Gates::read_only_replica`];
//! 8. RESP2 subscribed mode — here;
//! 9. MASTERDOWN on a replica with its link down and replica-serve-stale-data
//!    off — here, from [`Gates::stale_replica`]; LOADING while the dataset loads
//!    — here, from [`Gates::loading`];
//! 10. BUSY while a script runs past busy-reply-threshold — here;
//! 11. CLIENT PAUSE holds writes or everything — here, from [`Gates::pause`]
//!     (see [`crate::pause`]): [`Admitted::Pause`];
//! 12. queueing inside MULTI.
//!
//! A command inside MULTI is admitted when queued; EXEC is admitted with the union
//! of its queued commands' flags (a transaction holding a write is refused like a
//! write), as Redis does.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};

use crate::client::Client;
use crate::commands::meta::Flags;
use crate::commands::{Admit, Command};
use crate::engine::Engine;
use crate::error::CmdError;
use crate::hooks::ServerHooks;

/// Server states that refuse commands, flipped by the features that own them and
/// read (relaxed) by every admission.
#[derive(Default)]
pub struct Gates {
    /// Used memory is over `maxmemory` and eviction cannot bring it down: denyoom
    /// commands are refused.
    pub out_of_memory: AtomicBool,
    /// This server is a read-only replica: writes from clients are refused.
    pub read_only_replica: AtomicBool,
    /// The dataset is loading: only commands flagged `loading` run.
    pub loading: AtomicBool,
    /// A replica loads its master's dataset aside while serving the old one
    /// (repl-diskless-load swapdb, same replication history): only commands
    /// flagged `no_async_loading` are refused.
    pub async_loading: AtomicBool,
    /// This server is a replica: clients' reads do not delete expired keys (the
    /// master's DEL does).
    pub replica: AtomicBool,
    /// A replica whose link is down with replica-serve-stale-data off: only
    /// commands flagged `stale` run (MASTERDOWN).
    pub stale_replica: AtomicBool,
    /// CLIENT PAUSE.
    pub pause: crate::pause::ClientPause,
}

/// What to do with an admitted command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admitted {
    /// Run it now.
    Run,
    /// Queue it (inside MULTI).
    Queue,
    /// Hold it until the pause ends or changes (CLIENT PAUSE), then admit it again.
    Pause,
}

/// Checks `cmd` for `client` (see the module doc for the order). `Err` is the
/// rejection to reply; the caller counts it and aborts a transaction in progress.
pub fn admit(
    engine: &Engine,
    client: &mut Client,
    cmd: &Command,
    args: &[&[u8]],
    hooks: &dyn ServerHooks,
) -> Result<Admitted, CmdError> {
    let mut flags = effective_flags(client, cmd);
    // A script that declares flags is admitted with them; they only matter while
    // a gate below could refuse or hold a write or a denyoom command.
    if cmd.admit.has(Admit::SCRIPT) {
        let gates = &engine.gates;
        let watched = gates.out_of_memory.load(Relaxed)
            || gates.read_only_replica.load(Relaxed)
            || engine.propagating.load(Relaxed)
            || engine.bgsave_failed.load(Relaxed)
            || (gates.pause.maybe_on() && gates.pause.active(engine.clock.now_ms()));
        if watched {
            if let Some(sf) = engine.scripting.command_script_flags(args) {
                flags = sf.command_flags(flags);
            }
        }
    }
    // Protected commands first, before authentication (processCommand).
    if cmd.admit.has(Admit::PROTECTED) {
        let allowed = match engine.config.int(crate::config::P::EnableDebugCommand) {
            0 => true,
            2 => hooks.client_is_local(client.id),
            _ => false,
        };
        if !allowed {
            return Err(CmdError::DebugNotAllowed);
        }
    }
    // Redis's authRequired(): only while a password is set (clearing requirepass
    // lets in connections that never authenticated).
    if !client.authenticated && !cmd.meta.flags.has(Flags::NO_AUTH) && engine.acl.auth_required() {
        return Err(CmdError::NoAuth);
    }
    let in_multi = client.multi.is_some() && !cmd.admit.has(Admit::NOT_QUEUED);
    if in_multi && cmd.meta.flags.has(Flags::NO_MULTI) {
        return Err(CmdError::Other(
            "Command not allowed inside a transaction".into(),
        ));
    }
    // ACL: the user is read again only after some user changed.
    if client.acl_gen != engine.acl.generation() {
        crate::acl::refresh(&engine.acl, client);
    }
    if !client.acl_free() {
        if let Err(d) = crate::acl::check::check_id(&client.user, cmd.acl_id, cmd.meta, args) {
            let context = if client.multi.is_some() {
                crate::acl::log::Context::Multi
            } else {
                crate::acl::log::Context::Toplevel
            };
            crate::acl::cmds::log_check(engine, client, hooks, d, context, &cmd.meta.name, args);
            return Err(CmdError::Raw(d.error(cmd.meta)));
        }
    }
    let gates = &engine.gates;
    // Redis's performEvictions in processCommand: before every command while a
    // limit is set (one config load when it is not), never for the AOF's replay
    // (its memory is not the clients' to refuse).
    if engine.config.int(crate::config::P::Maxmemory) > 0 && !client.loading {
        if std::mem::take(&mut client.memory_grew) {
            engine.evict.remeasure();
        }
        crate::evict::before_command(engine, hooks);
    }
    if gates.out_of_memory.load(Relaxed) && (flags.has(Flags::DENYOOM) || in_multi) {
        return Err(CmdError::Raw(
            "OOM command not allowed when used memory > 'maxmemory'.".into(),
        ));
    }
    let write = flags.has(Flags::WRITE);
    if (write || cmd.admit.has(Admit::DISK_CHECK))
        && !client.loading
        && (engine.propagating.load(Relaxed) || engine.bgsave_failed.load(Relaxed))
    {
        // PING is refused only for the disk errors (Redis's deny_write_type);
        // NOREPLICAS and a failover's refusal are for writes.
        if let Some(e) = hooks
            .deny_writes()
            .filter(|e| write || e.starts_with("MISCONF"))
        {
            return Err(CmdError::Raw(e));
        }
    }
    if write && !client.loading && gates.read_only_replica.load(Relaxed) {
        return Err(CmdError::Raw(
            "READONLY You can't write against a read only replica.".into(),
        ));
    }
    if client.subscriptions > 0
        && client.proto == ferrokv_resp::Protocol::Resp2
        && !cmd.admit.has(Admit::SUBSCRIBED)
    {
        return Err(CmdError::Other(format!(
            "Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            cmd.meta.name
        )));
    }
    if gates.stale_replica.load(Relaxed) && !client.loading && !flags.has(Flags::STALE) {
        return Err(CmdError::Raw(
            "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'."
                .into(),
        ));
    }
    if gates.loading.load(Relaxed) && !client.loading && !flags.has(Flags::LOADING) {
        return Err(CmdError::Raw(
            "LOADING Redis is loading the dataset in memory".into(),
        ));
    }
    if gates.async_loading.load(Relaxed) && flags.has(Flags::NO_ASYNC_LOADING) {
        return Err(CmdError::Raw(
            "LOADING Redis is loading the dataset in memory".into(),
        ));
    }
    // A script running past busy-reply-threshold: only what is flagged allow-busy
    // (SCRIPT KILL, FUNCTION KILL, SHUTDOWN, AUTH, ...) gets through.
    if engine.scripting.busy() && !flags.has(Flags::ALLOW_BUSY) {
        return Err(CmdError::Raw(engine.scripting.busy_error()));
    }
    // A client in MONITOR mode (a replica for Redis) may not touch the keyspace.
    if client.monitor && (flags.has(Flags::READONLY) || write || flags.has(Flags::MAY_REPLICATE)) {
        return Err(CmdError::Other(
            "Replica can't interact with the keyspace".into(),
        ));
    }
    // CLIENT PAUSE (one load while none is on). Never inside a transaction or a
    // script already running, nor for the AOF's replay.
    let pause = if gates.pause.maybe_on() {
        gates.pause.kind(engine.clock.now_ms())
    } else {
        crate::pause::PauseKind::Off
    };
    if pause != crate::pause::PauseKind::Off
        && !client.in_exec
        && !client.in_script
        && !client.loading
        && (pause == crate::pause::PauseKind::All || write || flags.has(Flags::MAY_REPLICATE))
    {
        return Ok(Admitted::Pause);
    }
    Ok(if in_multi {
        Admitted::Queue
    } else {
        Admitted::Run
    })
}

/// The flags admission judges `cmd` by: EXEC's include those of what it queued
/// (but `loading` and `stale` only when every queued command has them).
fn effective_flags(client: &Client, cmd: &Command) -> Flags {
    let own = cmd.meta.flags;
    match &client.multi {
        Some(m) if cmd.admit.has(Admit::RUNS_QUEUE) => {
            let mut f = Flags(own.0 | m.flags.0);
            if m.not_loading {
                f.0 &= !Flags::LOADING.0;
            }
            if m.not_stale {
                f.0 &= !Flags::STALE.0;
            }
            f
        }
        _ => own,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run;
    use ferrokv_resp::Protocol;

    #[test]
    fn gates_refuse_by_flags_in_redis_order_and_texts() {
        let (e, mut c) = crate::testkit::setup();
        e.gates.out_of_memory.store(true, Relaxed);
        assert_eq!(
            run(&e, &mut c, "SET k v"),
            "-OOM command not allowed when used memory > 'maxmemory'.\r\n"
        );
        // Reads and deletes still run; so does anything not flagged denyoom.
        assert_eq!(run(&e, &mut c, "GET k"), "$-1\r\n");
        assert_eq!(run(&e, &mut c, "DEL k"), ":0\r\n");
        // Inside MULTI everything queued is refused (and EXEC aborts), EXEC and
        // DISCARD are not.
        assert_eq!(run(&e, &mut c, "MULTI"), "+OK\r\n");
        assert!(run(&e, &mut c, "GET k").starts_with("-OOM"));
        assert!(run(&e, &mut c, "EXEC").starts_with("-EXECABORT"));
        e.gates.out_of_memory.store(false, Relaxed);
        // A transaction holding a write is a write at EXEC.
        assert_eq!(run(&e, &mut c, "MULTI"), "+OK\r\n");
        assert_eq!(run(&e, &mut c, "SET k v"), "+QUEUED\r\n");
        e.gates.read_only_replica.store(true, Relaxed);
        // As in Redis, a refused EXEC discards the transaction (execCommandAbort).
        assert_eq!(
            run(&e, &mut c, "EXEC"),
            "-EXECABORT Transaction discarded because of: READONLY You can't write against a read only replica.\r\n"
        );
        assert_eq!(run(&e, &mut c, "GET k"), "$-1\r\n");
        e.gates.read_only_replica.store(false, Relaxed);
        e.gates.loading.store(true, Relaxed);
        assert_eq!(
            run(&e, &mut c, "GET k"),
            "-LOADING Redis is loading the dataset in memory\r\n"
        );
        assert_eq!(run(&e, &mut c, "SELECT 0"), "+OK\r\n");
        e.gates.loading.store(false, Relaxed);
        // Subscribed mode (RESP2): only the subscription commands, PING, QUIT, RESET.
        c.subscriptions = 1;
        assert_eq!(
            run(&e, &mut c, "GET k"),
            "-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n"
        );
        // PING answers like a message there.
        assert_eq!(run(&e, &mut c, "PING"), "*2\r\n$4\r\npong\r\n$0\r\n\r\n");
        c.proto = Protocol::Resp3;
        assert_eq!(run(&e, &mut c, "GET k"), "_\r\n");
        // Authentication comes first (while a password is set).
        c.authenticated = false;
        e.config
            .set("requirepass", "secret", false)
            .expect("valid password");
        e.acl.set_requirepass("secret");
        e.gates.out_of_memory.store(true, Relaxed);
        assert_eq!(
            run(&e, &mut c, "SET k v"),
            "-NOAUTH Authentication required.\r\n"
        );
    }
}
