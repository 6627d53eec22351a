//! The replica side: REPLICAOF / SLAVEOF, the link to the master and ROLE.
//!
//! REPLICAOF host port starts one task (`run_link`) that connects, does Redis's
//! handshake (PING, AUTH with masterauth / masteruser, REPLCONF listening-port /
//! ip-address, REPLCONF capa eof capa psync2, PSYNC with the replication id and
//! offset this server has: its own history, so a former master or sibling can
//! partially resync, PSYNC2), loads the RDB of a full sync (`$<len>` or the
//! EOF-marker form), then applies the command stream as the master client (no
//! replies; `Client::loading` keeps it out of READONLY, expiry and propagation),
//! sending REPLCONF ACK every second and on GETACK. The bytes applied are fed
//! verbatim to this server's backlog and sub-replicas (`Replicas::feed_raw`), so
//! `master_repl_offset` follows the master's and chained replicas see the same
//! stream. A lost link is retried every second with the cached id and offset.
//! REPLICAOF NO ONE stops the task and promotes (a new replid, the old one kept
//! as replid2).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicU8, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Buf, BytesMut};
use ferrokv_core::commands::CommandDef;
use ferrokv_core::config::P;
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{Client, CmdError, CmdResult};
use ferrokv_resp::{Protocol, ReplyBuf, RequestLimits, RequestParser};
use parking_lot::Mutex;
use smallvec::SmallVec;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::state::ServerState;

mod load;

/// REPLICAOF, SLAVEOF, ROLE.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("replicaof", replicaof),
    CommandDef::new("slaveof", replicaof),
    CommandDef::new("role", role),
];

/// Where the link is (Redis's repl_state, coarsely).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkStatus {
    /// Not a replica.
    None = 0,
    /// Connecting / handshake.
    Connecting = 1,
    /// Receiving the RDB.
    Transfer = 2,
    /// Following the stream.
    Connected = 3,
    /// Connected, in the handshake (PING ... PSYNC).
    Handshake = 4,
}

/// The replica side's state.
#[derive(Default)]
pub struct Link {
    master: Mutex<Option<(String, u16)>>,
    /// Bumped by every REPLICAOF: a link task of an older generation stops.
    generation: AtomicU64,
    /// The link task: aborted by REPLICAOF, which closes its connection at once
    /// (Redis's cancelReplicationHandshake), even while it waits for the RDB.
    task: Mutex<Option<tokio::task::AbortHandle>>,
    status: AtomicU8,
    /// Unix seconds of the last byte from the master.
    last_io: AtomicU64,
    /// Unix seconds the link went down (0: never up).
    down_since: AtomicU64,
    /// RDB transfer size (-1: EOF-marker form) and bytes read.
    transfer_size: AtomicI64,
    transfer_read: AtomicU64,
    /// Whether this server ever followed or fed a history (PSYNC sends its ids).
    has_history: AtomicBool,
    /// Asks the link task to send an ACK now (REPLCONF GETACK from a client).
    ack_now: tokio::sync::Notify,
    /// The master client's connection as others see it (CLIENT LIST / KILL).
    handle: Mutex<Option<Arc<ClientHandle>>>,
    /// Full syncs done as a replica (for tests and logs).
    pub full_syncs: AtomicU64,
    /// The db the master's stream last selected: kept across a partial resync
    /// (the master sends no SELECT then), as Redis keeps its cached master.
    master_db: std::sync::atomic::AtomicUsize,
    /// Bytes of the master's stream read but not applied yet (held by a CLIENT
    /// PAUSE): INFO's slave_read_repl_offset is the applied offset plus these.
    read_ahead: AtomicU64,
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether this server is a replica.
pub fn is_replica(st: &ServerState) -> bool {
    st.link.master.lock().is_some()
}

/// Whether the link with the master is up.
pub fn link_up(st: &ServerState) -> bool {
    st.link.status.load(Relaxed) == LinkStatus::Connected as u8
}

/// REPLCONF GETACK from a client: the link acks at once.
pub fn send_ack(st: &ServerState) {
    st.link.ack_now.notify_one();
}

/// The master's address, when a replica.
pub fn master(st: &ServerState) -> Option<(String, u16)> {
    st.link.master.lock().clone()
}

fn set_read_only_gate(st: &ServerState) {
    let ro = is_replica(st) && st.engine.config.int_named("replica-read-only") != 0;
    st.engine.gates.read_only_replica.store(ro, Relaxed);
    st.engine.gates.replica.store(is_replica(st), Relaxed);
    set_stale_gate(st);
}

/// MASTERDOWN while the link is down and replica-serve-stale-data is off.
fn set_stale_gate(st: &ServerState) {
    let stale = is_replica(st)
        && !link_up(st)
        && st.engine.config.int_named("replica-serve-stale-data") == 0;
    st.engine.gates.stale_replica.store(stale, Relaxed);
}

fn set_status(st: &ServerState, s: LinkStatus) {
    st.link.status.store(s as u8, Relaxed);
    set_stale_gate(st);
}

/// replica-read-only changed.
pub fn config_changed(st: &ServerState) {
    set_read_only_gate(st);
}

/// Starts replicating `host:port` (REPLICAOF, or `replicaof` at startup).
pub fn set_master(st: &Arc<ServerState>, host: String, port: u16) {
    let was_master = !is_replica(st);
    *st.link.master.lock() = Some((host.clone(), port));
    // CONFIG GET / REWRITE see the live master (Redis's replicaof getter).
    let _ = st
        .engine
        .config
        .set("replicaof", &format!("{host} {port}"), true);
    let generation = st.link.generation.fetch_add(1, AcqRel) + 1;
    set_status(st, LinkStatus::Connecting);
    st.link.down_since.store(unix_secs(), Relaxed);
    if was_master {
        // Our replicas must follow the new history from scratch (Redis
        // disconnects them; they come back with PSYNC and our ids).
        st.replicas.disconnect_all();
        if st.replicas.offset() > 0 {
            st.link.has_history.store(true, Relaxed);
        }
    }
    kill_master_client(st);
    set_read_only_gate(st);
    // Clients blocked on keys would wait for writes a replica never takes from
    // them (Redis's disconnectAllBlockedClients).
    st.blocked.unblock_all_on_keys(
        &st.engine,
        "UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)",
    );
    crate::log::set_role(b'S');
    let _ = crate::oom_score::apply(&st.engine.config, true);
    let st2 = st.clone();
    let task = tokio::spawn(async move {
        run_link(st2, host, port, generation).await;
    });
    if let Some(old) = st.link.task.lock().replace(task.abort_handle()) {
        old.abort();
    }
}

fn kill_master_client(st: &ServerState) {
    if let Some(h) = st.link.handle.lock().take() {
        h.kill();
        st.clients.remove(h.id);
    }
}

/// The db the master's stream has selected, for an RDB's repl-stream-db:
/// `None` when this replica never followed a master (Redis saves no
/// replication fields then).
pub fn stream_db(st: &ServerState) -> Option<usize> {
    (link_up(st) || st.link.has_history.load(Relaxed)).then(|| st.link.master_db.load(Relaxed))
}

/// A replica restarted from an RDB holding `replid` at `offset` (Redis's
/// replicationCacheMasterUsingMyself): that history is its own, so its PSYNC
/// asks to continue from it, in db `db`.
pub fn restore_history(st: &ServerState, replid: &str, offset: u64, db: usize, backlog: usize) {
    st.replicas.set_master_ids(replid, offset, backlog);
    st.link.has_history.store(true, Relaxed);
    st.link.master_db.store(db, Relaxed);
}

/// REPLICAOF NO ONE.
pub fn unset_master(st: &ServerState) {
    if st.link.master.lock().take().is_none() {
        return;
    }
    let _ = st.engine.config.set("replicaof", "", true);
    st.link.generation.fetch_add(1, AcqRel);
    if let Some(task) = st.link.task.lock().take() {
        task.abort();
    }
    set_status(st, LinkStatus::None);
    kill_master_client(st);
    let size = st.engine.config.int_named("repl-backlog-size").max(1) as usize;
    st.replicas.promote(size);
    // The writes it takes from now on are its stream.
    st.aof.keep_propagating.store(true, Release);
    st.engine.propagating.store(true, Release);
    // Sub-replicas reconnect and partially resync with the new id (PSYNC2).
    st.replicas.disconnect_all();
    set_read_only_gate(st);
    st.engine.gates.loading.store(false, Relaxed);
    crate::log::set_role(b'M');
    let _ = crate::oom_score::apply(&st.engine.config, false);
    // A master expires every key itself (Redis's flushSlaveKeysWithExpireList).
    st.engine.replica_keys.clear();
}

/// REPLICAOF host port | NO ONE.
fn replicaof(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    if args[1].eq_ignore_ascii_case(b"no") && args[2].eq_ignore_ascii_case(b"one") {
        if is_replica(st) {
            unset_master(st);
            tracing::info!("MASTER MODE enabled (user request)");
        }
        ctx.out.ok();
        return Ok(());
    }
    if st
        .clients
        .get(ctx.client.id)
        .is_some_and(|h| h.kind.load(Relaxed) == crate::clients::KIND_REPLICA)
    {
        return Err(CmdError::Other(
            "Command is not valid when client is a replica.".into(),
        ));
    }
    let port = ferrokv_core::args::parse_i64(args[2])
        .filter(|p| (0..=65535).contains(p))
        .ok_or_else(|| CmdError::Other("Invalid master port".into()))?;
    let host = String::from_utf8_lossy(args[1]).into_owned();
    if master(st).is_some_and(|(h, p)| h.eq_ignore_ascii_case(&host) && p == port as u16) {
        tracing::info!("REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.");
        ctx.out.simple(b"OK Already connected to specified master");
        return Ok(());
    }
    let me = st
        .me
        .get()
        .and_then(std::sync::Weak::upgrade)
        .ok_or_else(|| CmdError::Other("server is stopping".into()))?;
    set_master(&me, host.clone(), port as u16);
    tracing::info!("REPLICAOF {host}:{port} enabled (user request)");
    ctx.out.ok();
    Ok(())
}

/// ROLE.
fn role(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    if let Some((host, port)) = master(st) {
        ctx.out.array(5);
        ctx.out.bulk(b"slave");
        ctx.out.bulk(host.as_bytes());
        ctx.out.int(port as i64);
        let s = match st.link.status.load(Relaxed) {
            1 => "connecting",
            2 => "sync",
            3 => "connected",
            4 => "handshake",
            _ => "none",
        };
        ctx.out.bulk(s.as_bytes());
        let off = if st.link.has_history.load(Relaxed) || link_up(st) {
            st.replicas.offset() as i64
        } else {
            -1
        };
        ctx.out.int(off);
        return Ok(());
    }
    let list = st.replicas.list();
    ctx.out.array(3);
    ctx.out.bulk(b"master");
    ctx.out.int(st.replicas.offset() as i64);
    ctx.out.array(list.len());
    for r in list {
        ctx.out.array(3);
        ctx.out.bulk(r.ip().as_bytes());
        ctx.out.bulk(r.conf.port.to_string().as_bytes());
        ctx.out.bulk(r.ack_off.load(Relaxed).to_string().as_bytes());
    }
    Ok(())
}

/// INFO replication's replica lines (after `role:slave`).
pub fn info_lines(st: &ServerState, out: &mut String) {
    let Some((host, port)) = master(st) else {
        return;
    };
    let status = st.link.status.load(Relaxed);
    let up = status == LinkStatus::Connected as u8;
    let now = unix_secs();
    let off = st.replicas.offset();
    let last_io = st.link.last_io.load(Relaxed);
    let (read_off, repl_off) = if up || st.link.has_history.load(Relaxed) {
        (off + st.link.read_ahead.load(Relaxed), off)
    } else {
        (1, 1)
    };
    out.push_str(&format!(
        "master_host:{host}\r\nmaster_port:{port}\r\nmaster_link_status:{}\r\nmaster_last_io_seconds_ago:{}\r\nmaster_sync_in_progress:{}\r\nslave_read_repl_offset:{read_off}\r\nslave_repl_offset:{repl_off}\r\n",
        if up { "up" } else { "down" },
        if up { now.saturating_sub(last_io) as i64 } else { -1 },
        u8::from(status == LinkStatus::Transfer as u8),
    ));
    if status == LinkStatus::Transfer as u8 {
        let size = st.link.transfer_size.load(Relaxed);
        let read = st.link.transfer_read.load(Relaxed) as i64;
        let perc = if size > 0 {
            read as f64 / size as f64 * 100.0
        } else {
            0.0
        };
        out.push_str(&format!(
            "master_sync_total_bytes:{size}\r\nmaster_sync_read_bytes:{read}\r\nmaster_sync_left_bytes:{}\r\nmaster_sync_perc:{perc:.2}\r\nmaster_sync_last_io_seconds_ago:{}\r\n",
            size - read,
            now.saturating_sub(last_io)
        ));
    }
    if !up {
        let since = st.link.down_since.load(Relaxed);
        let v = if since == 0 {
            -1
        } else {
            now.saturating_sub(since) as i64
        };
        out.push_str(&format!("master_link_down_since_seconds:{v}\r\n"));
    }
    let cfg = &st.engine.config;
    out.push_str(&format!(
        "slave_priority:{}\r\nslave_read_only:{}\r\nreplica_announced:{}\r\n",
        cfg.int_named("replica-priority"),
        cfg.int_named("replica-read-only"),
        cfg.int_named("replica-announced"),
    ));
}

/// A connection to the master with its read buffer.
struct Conn {
    sock: Box<dyn LinkIo>,
    buf: BytesMut,
}

type IoResult<T> = Result<T, String>;

/// The link's byte stream: plain TCP, or TLS over it under tls-replication.
trait LinkIo: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> LinkIo for T {}

impl Conn {
    async fn fill(&mut self, st: &ServerState) -> IoResult<()> {
        let timeout = st.engine.config.int_named("repl-timeout").max(1) as u64;
        let n = tokio::time::timeout(
            Duration::from_secs(timeout),
            self.sock.read_buf(&mut self.buf),
        )
        .await
        .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
        .map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed by the master".into());
        }
        st.link.last_io.store(unix_secs(), Relaxed);
        Ok(())
    }

    /// One line without its CRLF (keep-alive newlines included, as empty lines).
    async fn line(&mut self, st: &ServerState) -> IoResult<String> {
        loop {
            if let Some(i) = self.buf.iter().position(|&b| b == b'\n') {
                let mut l = self.buf.split_to(i + 1);
                l.truncate(i);
                if l.last() == Some(&b'\r') {
                    l.truncate(i - 1);
                }
                return Ok(String::from_utf8_lossy(&l).into_owned());
            }
            self.fill(st).await?;
        }
    }

    /// A reply line, skipping the master's keep-alive newlines.
    async fn reply(&mut self, st: &ServerState) -> IoResult<String> {
        loop {
            let l = self.line(st).await?;
            if !l.is_empty() {
                return Ok(l);
            }
        }
    }

    async fn command(&mut self, st: &ServerState, argv: &[&[u8]]) -> IoResult<String> {
        let mut out = Vec::new();
        crate::replica::encode(argv, &mut out);
        self.sock.write_all(&out).await.map_err(|e| e.to_string())?;
        self.reply(st).await
    }
}

async fn run_link(st: Arc<ServerState>, host: String, port: u16, generation: u64) {
    let current = |st: &ServerState| st.link.generation.load(Acquire) == generation;
    while current(&st) && !st.shutting_down.load(Relaxed) {
        set_status(&st, LinkStatus::Connecting);
        tracing::info!("Connecting to MASTER {host}:{port}");
        match link_once(&st, &host, port, generation).await {
            Ok(()) => {}
            Err(e) => tracing::warn!("Master link {host}:{port}: {e}"),
        }
        if let Some(h) = st.link.handle.lock().take() {
            st.clients.remove(h.id);
        }
        if !current(&st) {
            return;
        }
        if st.link.status.load(Relaxed) == LinkStatus::Connected as u8 {
            tracing::info!("Connection with master lost.");
            st.link.down_since.store(unix_secs(), Relaxed);
        }
        set_status(&st, LinkStatus::Connecting);
        st.engine.gates.loading.store(false, Relaxed);
        st.engine.gates.async_loading.store(false, Relaxed);
        tokio::time::sleep(Duration::from_secs(1)).await;
        // A DEBUG SLEEP stops Redis's whole server, its reconnection included.
        while st.engine.clock.now_ms() < st.debug.asleep_until_ms.load(Relaxed) && current(&st) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Connects to the master, from `bind-source-addr` when it is set.
async fn connect_from_source(
    st: &ServerState,
    host: &str,
    port: u16,
) -> std::io::Result<TcpStream> {
    let source = st.engine.config.string_named("bind-source-addr");
    if source.is_empty() {
        return TcpStream::connect((host, port)).await;
    }
    let ip: std::net::IpAddr = source.parse().map_err(|_| {
        std::io::Error::new(std::io::ErrorKind::InvalidInput, "bad bind-source-addr")
    })?;
    let mut last = std::io::Error::new(std::io::ErrorKind::NotFound, "no address to connect to");
    for addr in tokio::net::lookup_host((host, port)).await? {
        if addr.is_ipv4() != ip.is_ipv4() {
            continue;
        }
        let sock = if ip.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        sock.bind(std::net::SocketAddr::new(ip, 0))?;
        match sock.connect(addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

async fn link_once(st: &Arc<ServerState>, host: &str, port: u16, generation: u64) -> IoResult<()> {
    let timeout = st.engine.config.int_named("repl-timeout").max(1) as u64;
    let sock = tokio::time::timeout(
        Duration::from_secs(timeout),
        connect_from_source(st, host, port),
    )
    .await
    .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
    .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
    let _ = sock.set_nodelay(true);
    let peer = sock.peer_addr().ok();
    let local = sock.local_addr().ok();
    // tls-replication: the link is TLS from its first byte (Redis's
    // connTLSConnect), the handshake bounded by repl-timeout like the connect.
    let sock: Box<dyn LinkIo> = if st.engine.config.bool(P::TlsReplication) {
        let tls = tokio::time::timeout(Duration::from_secs(timeout), st.tls.connect(host, sock))
            .await
            .map_err(|_| "Timeout connecting to the MASTER...".to_string())?
            .map_err(|e| format!("Error condition on socket for SYNC: {e}"))?;
        Box::new(tls)
    } else {
        Box::new(sock)
    };
    set_status(st, LinkStatus::Handshake);
    let mut c = Conn {
        sock,
        buf: BytesMut::with_capacity(16 * 1024),
    };
    tracing::info!("MASTER <-> REPLICA sync started");
    let pong = c.command(st, &[b"PING"]).await?;
    if pong.starts_with('-')
        && !pong.starts_with("-NOAUTH")
        && !pong.starts_with("-NOPERM")
        && !pong.starts_with("-ERR operation not permitted")
    {
        return Err(format!("Error reply to PING from master: '{pong}'"));
    }
    tracing::info!("Master replied to PING, replication can continue...");
    let cfg = &st.engine.config;
    let auth = cfg.string_named("masterauth");
    if !auth.is_empty() {
        let user = cfg.string_named("masteruser");
        let r = if user.is_empty() {
            c.command(st, &[b"AUTH", auth.as_bytes()]).await?
        } else {
            c.command(st, &[b"AUTH", user.as_bytes(), auth.as_bytes()])
                .await?
        };
        if r.starts_with('-') {
            return Err(format!("Unable to AUTH to MASTER: {r}"));
        }
    }
    let announce_port = cfg.int_named("replica-announce-port");
    let tls_port = cfg.int(P::TlsPort);
    let lport = if announce_port > 0 {
        announce_port as u64
    } else if cfg.bool(P::TlsReplication) && tls_port > 0 {
        // Replicas of this one connect where the master can reach it with TLS.
        tls_port as u64
    } else {
        st.port.load(Relaxed)
    };
    let r = c
        .command(
            st,
            &[b"REPLCONF", b"listening-port", lport.to_string().as_bytes()],
        )
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF listening-port: {r}");
    }
    let aip = cfg.string_named("replica-announce-ip");
    if !aip.is_empty() {
        let r = c
            .command(st, &[b"REPLCONF", b"ip-address", aip.as_bytes()])
            .await?;
        if r.starts_with('-') {
            tracing::info!("(Non critical) Master does not understand REPLCONF ip-address: {r}");
        }
    }
    let r = c
        .command(st, &[b"REPLCONF", b"capa", b"eof", b"capa", b"psync2"])
        .await?;
    if r.starts_with('-') {
        tracing::info!("(Non critical) Master does not understand REPLCONF capa: {r}");
    }
    let ids = st.replicas.ids();
    let (pid, poff) = if st.link.has_history.load(Relaxed) {
        (ids.replid.clone(), (ids.offset + 1).to_string())
    } else {
        ("?".to_string(), "-1".to_string())
    };
    tracing::info!("Trying a partial resynchronization (request {pid}:{poff}).");
    let r = if st.failover.in_progress() {
        c.command(
            st,
            &[b"PSYNC", pid.as_bytes(), poff.as_bytes(), b"FAILOVER"],
        )
        .await?
    } else {
        c.command(st, &[b"PSYNC", pid.as_bytes(), poff.as_bytes()])
            .await?
    };
    crate::failover::psync_answered(
        st,
        r.starts_with("+FULLRESYNC") || r.starts_with("+CONTINUE"),
    );
    if st.link.generation.load(Acquire) != generation {
        return Ok(());
    }
    if let Some(rest) = r.strip_prefix("+FULLRESYNC") {
        let mut it = rest.split_whitespace();
        let (Some(replid), Some(off)) = (it.next(), it.next().and_then(|o| o.parse::<u64>().ok()))
        else {
            return Err("Master replied with wrong +FULLRESYNC syntax.".into());
        };
        tracing::info!("Full resync from master: {replid}:{off}");
        load::receive_rdb(st, &mut c, replid).await?;
        let size = cfg.int_named("repl-backlog-size").max(1) as usize;
        // Our sub-replicas must resync with the new history.
        st.replicas.disconnect_all();
        st.replicas.set_master_ids(replid, off, size);
        st.link.has_history.store(true, Relaxed);
        st.link.full_syncs.fetch_add(1, Relaxed);
        st.link.master_db.store(0, Relaxed);
        tracing::info!("MASTER <-> REPLICA sync: Finished with success");
    } else if let Some(rest) = r.strip_prefix("+CONTINUE") {
        if let Some(new) = rest.split_whitespace().next() {
            if new != ids.replid {
                tracing::info!("Master replication ID changed to {new}");
                st.replicas.shift_replid(new);
                // Sub-replicas reconnect to learn the new id.
                st.replicas.disconnect_all();
            }
        }
        tracing::info!("Successful partial resynchronization with master.");
        tracing::info!("MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.");
    } else if r.starts_with("-NOMASTERLINK") || r.starts_with("-LOADING") {
        return Err(format!(
            "Master is currently unable to PSYNC but should be in the future: {r}"
        ));
    } else {
        return Err(format!("Unexpected reply to PSYNC from master: {r}"));
    }
    // The master client, visible to CLIENT LIST / KILL TYPE master.
    let id = st.clients.next_id();
    let handle = Arc::new(ClientHandle::new(id, peer, local, -1, None));
    handle.kind.store(crate::clients::KIND_MASTER, Relaxed);
    st.clients.put_back(handle.clone());
    *st.link.handle.lock() = Some(handle.clone());
    set_status(st, LinkStatus::Connected);
    st.link.down_since.store(0, Relaxed);
    st.engine.gates.loading.store(false, Relaxed);
    let res = follow(st, &mut c, &handle, generation).await;
    st.clients.remove(handle.id);
    res
}

/// A command of the master's stream failed here: Redis's "== CRITICAL ==" line
/// (the reply is not sent; the datasets may now differ).
fn log_error_to_master(st: &ServerState, args: &[&[u8]], reply: &[u8]) {
    st.unexpected_error_replies.fetch_add(1, Relaxed);
    let engine = &st.engine;
    let text = String::from_utf8_lossy(&reply[1..reply.len().min(4097)]);
    let text = text.trim_end_matches(['\r', '\n']);
    let name = match engine.resolve(args) {
        Ok(cmd) => cmd.meta.name.clone(),
        Err(_) => "<unknown>".to_string(),
    };
    tracing::warn!(
        "== CRITICAL == This replica is sending an error to its master: '{text}' after processing the command '{name}'"
    );
}

async fn send_ack_on(c: &mut Conn, st: &ServerState) -> IoResult<()> {
    let off = st.replicas.offset().to_string();
    let mut out = Vec::new();
    crate::replica::encode(&[b"REPLCONF", b"ACK", off.as_bytes()], &mut out);
    c.sock.write_all(&out).await.map_err(|e| e.to_string())
}

/// Applies the master's stream until the link breaks or is replaced.
async fn follow(
    st: &Arc<ServerState>,
    c: &mut Conn,
    handle: &Arc<ClientHandle>,
    generation: u64,
) -> IoResult<()> {
    let engine = st.engine.clone();
    let mut client = Client::new(handle.id, true);
    client.loading = true;
    client.db = st.link.master_db.load(Relaxed);
    let mut parser = RequestParser::new(RequestLimits::default());
    let mut out = ReplyBuf::new(Protocol::Resp2);
    let mut ack_tick = tokio::time::interval(Duration::from_secs(1));
    let timeout = Duration::from_secs(st.engine.config.int_named("repl-timeout").max(1) as u64);
    let mut last_data = Instant::now();
    send_ack_on(c, st).await?;
    loop {
        // Apply every complete command in the buffer. What was applied goes on to
        // this server's own backlog and replicas a run of commands at a time (one
        // lock and one copy per batch, not per command); a GETACK first sends
        // what precedes it, so its offset is exact.
        let mut off = 0;
        let mut fed = 0;
        let mut held = false;
        loop {
            match parser.parse(&c.buf[off..]) {
                Ok(Some(len)) => {
                    let chunk = &c.buf[off..off + len];
                    let args: SmallVec<[&[u8]; 8]> = parser.args(chunk).collect();
                    if args.is_empty() {
                        off += len;
                        continue;
                    }
                    if held_by_pause(&engine, &args) {
                        // The master client is paused like any other (Redis
                        // postpones it): this command and everything after it
                        // wait in the buffer, reading goes on.
                        held = true;
                        break;
                    }
                    let getack = args.len() >= 2
                        && args[0].eq_ignore_ascii_case(b"replconf")
                        && args[1].eq_ignore_ascii_case(b"getack");
                    if getack {
                        // Acked with the offset before this command (Redis's order).
                    } else if !args[0].eq_ignore_ascii_case(b"ping") {
                        engine.execute(&mut client, &args, &mut out, &**st);
                        if out.as_bytes().first() == Some(&b'-') {
                            log_error_to_master(st, &args, out.as_bytes());
                        }
                        out.buffer_mut().clear();
                        client.block = None;
                        st.link.master_db.store(client.db, Relaxed);
                        // This server's AOF logs what its master sent (the master
                        // client propagates nothing itself); SELECTs are the AOF's.
                        if st.aof.enabled() && !args[0].eq_ignore_ascii_case(b"select") {
                            st.aof.propagate(&[(client.db, &args[..])]);
                        }
                    }
                    if getack {
                        if fed < off {
                            st.replicas.feed_raw(&c.buf[fed..off]);
                        }
                        fed = off;
                        let o = st.replicas.offset().to_string();
                        let mut msg = Vec::new();
                        crate::replica::encode(&[b"REPLCONF", b"ACK", o.as_bytes()], &mut msg);
                        c.sock.write_all(&msg).await.map_err(|e| e.to_string())?;
                    }
                    off += len;
                }
                Ok(None) => break,
                Err(e) => {
                    if fed < off {
                        st.replicas.feed_raw(&c.buf[fed..off]);
                    }
                    return Err(format!("protocol error from master: {e}"));
                }
            }
        }
        if fed < off {
            st.replicas.feed_raw(&c.buf[fed..off]);
        }
        c.buf.advance(off);
        st.link.read_ahead.store(c.buf.len() as u64, Relaxed);
        if st.link.generation.load(Acquire) != generation {
            return Ok(());
        }
        tokio::select! {
            // Held by a pause: look again shortly (the pause ends lazily).
            _ = tokio::time::sleep(Duration::from_millis(10)), if held => {}
            r = c.sock.read_buf(&mut c.buf) => {
                match r {
                    Ok(n) if n > 0 => {
                        st.link.last_io.store(unix_secs(), Relaxed);
                        last_data = Instant::now();
                    }
                    _ => return Err("connection lost".into()),
                }
            }
            _ = ack_tick.tick() => {
                send_ack_on(c, st).await?;
                if last_data.elapsed() > timeout {
                    return Err("MASTER timeout: no data nor PING received...".into());
                }
            }
            _ = st.link.ack_now.notified() => {
                send_ack_on(c, st).await?;
            }
            _ = handle.mailbox.wait_closed() => {
                return Err("master client killed".into());
            }
        }
    }
}

/// Whether a CLIENT PAUSE holds this command of the master's stream: every
/// command under PAUSE ALL; under PAUSE WRITE the writes, the commands that may
/// replicate and EXEC (Redis judges EXEC by what it queued: the master's
/// transactions are its writes).
fn held_by_pause(engine: &ferrokv_core::Engine, args: &[&[u8]]) -> bool {
    use ferrokv_core::commands::meta::Flags;
    use ferrokv_core::pause::PauseKind;
    if !engine.gates.pause.maybe_on() {
        return false;
    }
    match engine.gates.pause.kind(engine.clock.now_ms()) {
        PauseKind::Off => false,
        PauseKind::All => true,
        PauseKind::Write => {
            args[0].eq_ignore_ascii_case(b"exec")
                || ferrokv_core::commands::meta::lookup(args)
                    .is_some_and(|m| m.flags.has(Flags::WRITE) || m.flags.has(Flags::MAY_REPLICATE))
        }
    }
}

/// Starts the link configured by `replicaof` at startup.
pub fn start_from_config(st: &Arc<ServerState>) {
    let words = st.engine.config.string_named("replicaof");
    let mut it = words.split_whitespace();
    if let (Some(h), Some(p)) = (it.next(), it.next().and_then(|p| p.parse::<u16>().ok())) {
        set_master(st, h.to_string(), p);
    }
}
