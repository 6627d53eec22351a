//! Replication's shared parts: WAIT (a block reason served when acks arrive),
//! INFO replication, min-replicas-to-write, and the once-a-second cron (pings to
//! replicas, backlog TTL). The master side is `replica.rs`, the replica side
//! `replica_link.rs`.

use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use ferrokv_core::args::int_arg;
use ferrokv_core::blocking::{BlockReason, BlockRequest};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};

use crate::cmds::state;
use crate::state::ServerState;

/// The replication commands.
pub static COMMANDS: &[CommandDef] = &[CommandDef::new("wait", wait)];

/// WAIT numreplicas timeout (Redis's waitCommand, checks in its order).
fn wait(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    if crate::replica_link::is_replica(st) {
        return Err(CmdError::Other("WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.".into()));
    }
    let replicas = int_arg(args[1])?;
    let timeout = ferrokv_core::args::parse_i64(args[2])
        .ok_or_else(|| CmdError::Other("timeout is not an integer or out of range".into()))?;
    if timeout < 0 {
        return Err(CmdError::Other("timeout is negative".into()));
    }
    // The stream's position now: at or after this client's last write.
    let offset = st.replicas.write_offset();
    let acked = st.replicas.acked(offset);
    // Inside MULTI it never blocks.
    if acked as i64 >= replicas || ctx.client.in_exec {
        ctx.out.int(acked as i64);
        return Ok(());
    }
    ctx.client.block = Some(BlockRequest {
        reason: BlockReason::Replicas {
            offset,
            replicas: replicas as u64,
        },
        timeout_ms: (timeout > 0).then_some(timeout as u64),
    });
    // Ask every replica for an ack now (Redis's GETACK from beforeSleep).
    let mut getack = Vec::new();
    crate::replica::encode(&[b"REPLCONF", b"GETACK", b"*"], &mut getack);
    st.replicas.feed_raw(&getack);
    Ok(())
}

/// A replica acknowledged an offset: WAITs it satisfies end.
pub fn acks_arrived(st: &ServerState) {
    st.blocked
        .serve_waits(&st.engine, |offset| st.replicas.acked(offset));
}

/// Whether writes are refused for want of good replicas (min-replicas-to-write),
/// Redis's NOREPLICAS text.
pub fn no_replicas(st: &ServerState) -> Option<String> {
    use ferrokv_core::config::Named;
    // Asked before every script and, while propagating, every write.
    static MIN: Named = Named::new("min-replicas-to-write");
    static LAG: Named = Named::new("min-replicas-max-lag");
    let cfg = &st.engine.config;
    let min = cfg.int_of(&MIN);
    let lag = cfg.int_of(&LAG);
    if min <= 0 || lag <= 0 || crate::replica_link::is_replica(st) {
        return None;
    }
    (st.replicas.good(lag as u64) < min as u64)
        .then(|| "NOREPLICAS Not enough good replicas to write.".to_string())
}

/// The `# Replication` section of INFO.
pub fn info(st: &ServerState) -> String {
    let mut s = String::from("# Replication\r\n");
    let replica = crate::replica_link::is_replica(st);
    s.push_str(if replica {
        "role:slave\r\n"
    } else {
        "role:master\r\n"
    });
    crate::replica_link::info_lines(st, &mut s);
    let list = st.replicas.list();
    s.push_str(&format!("connected_slaves:{}\r\n", list.len()));
    let cfg = &st.engine.config;
    let (min, lag) = (
        cfg.int_named("min-replicas-to-write"),
        cfg.int_named("min-replicas-max-lag"),
    );
    if min > 0 && lag > 0 {
        s.push_str(&format!(
            "min_slaves_good_slaves:{}\r\n",
            st.replicas.good(lag as u64)
        ));
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    for (i, r) in list.iter().enumerate() {
        let state = r.state();
        let lag = if state == crate::replica::LinkState::Online {
            now.saturating_sub(r.ack_time.load(Relaxed))
        } else {
            0
        };
        s.push_str(&format!(
            "slave{i}:ip={},port={},state={},offset={},lag={lag}\r\n",
            r.ip(),
            r.conf.port,
            state.name(),
            r.ack_off.load(Relaxed),
        ));
    }
    let ids = st.replicas.ids();
    let (active, first, histlen) = st.replicas.backlog_info();
    s.push_str(&format!(
        "master_failover_state:{}\r\nmaster_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:{}\r\nsecond_repl_offset:{}\r\nrepl_backlog_active:{}\r\nrepl_backlog_size:{}\r\nrepl_backlog_first_byte_offset:{first}\r\nrepl_backlog_histlen:{histlen}\r\n",
        st.failover.state_name(),
        ids.replid,
        ids.replid2,
        ids.offset,
        ids.second_offset,
        u8::from(active),
        cfg.int_named("repl-backlog-size"),
    ));
    s
}

/// Starts the replication cron (every second) and the link configured by
/// `replicaof`. Called inside the runtime.
pub fn start(st: &Arc<ServerState>) {
    let weak = Arc::downgrade(st);
    let _ = st.blocked.ack_counter.set(Box::new(move |offset| {
        weak.upgrade().map_or(0, |st| st.replicas.acked(offset))
    }));
    crate::repl_rdb::register(st);
    crate::repl_rdb::apply_restored(st);
    crate::replica_link::start_from_config(st);
    let weak = Arc::downgrade(st);
    tokio::spawn(async move {
        let mut tick = 0u64;
        let mut every = tokio::time::interval(Duration::from_secs(1));
        loop {
            every.tick().await;
            let Some(st) = weak.upgrade() else {
                return;
            };
            if st.shutting_down.load(Relaxed) {
                return;
            }
            let master = !crate::replica_link::is_replica(&st);
            st.replicas.cron(&st, tick, master);
            tick += 1;
        }
    });
}
