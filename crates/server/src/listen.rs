//! Listening sockets (TCP per `bind` address on `port`, TLS on `tls-port`, and
//! `unixsocket`) and accepting.

use std::net::{IpAddr, SocketAddr};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ferrokv_core::config::P;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, UnixListener};

use crate::clients::ClientHandle;
use crate::state::ServerState;

const PROTECTED: &str = "-DENIED Redis is running in protected mode because protected mode is enabled and no password is set for the default user. In this mode connections are only accepted from the loopback interface. If you want to connect from external computers to Redis you may adopt one of the following solutions: 1) Just disable protected mode sending the command 'CONFIG SET protected-mode no' from the loopback interface by connecting to Redis from the same host the server is running, however MAKE SURE Redis is not publicly accessible from internet if you do so. Use CONFIG REWRITE to make this change permanent. 2) Alternatively you can just disable the protected mode by editing the Redis configuration file, and setting the protected mode option to 'no', and then restarting the server. 3) If you started the server manually just for testing, restart it with the '--protected-mode no' option. 4) Setup a an authentication password for the default user. NOTE: You only need to do one of the above things in order for the server to start accepting connections from the outside.\r\n";

/// Parses one `bind` entry: `-` prefix means "optional", `*` means all IPv4,
/// `::*` all IPv6.
fn bind_addr(entry: &str) -> (bool, Option<IpAddr>) {
    let (optional, a) = match entry.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, entry),
    };
    let ip = match a {
        "*" => Some(IpAddr::from([0, 0, 0, 0])),
        "::*" => Some(IpAddr::from([0u16; 8])),
        other => other.parse().ok(),
    };
    (optional, ip)
}

/// Binds every configured TCP address on `port` (`port` or `tls-port`; 0: none).
fn bind_all(state: &ServerState, port: P) -> Result<Vec<TcpListener>, String> {
    let cfg = &state.engine.config;
    let port = cfg.int(port) as u16;
    let mut out = Vec::new();
    if port == 0 {
        return Ok(out);
    }
    for entry in cfg.string(P::Bind).split_whitespace() {
        let (optional, ip) = bind_addr(entry);
        let Some(ip) = ip else {
            return Err(format!("Invalid bind address '{entry}'"));
        };
        match bind_tcp(SocketAddr::new(ip, port), cfg.int(P::TcpBacklog) as u32) {
            Ok(l) => out.push(l),
            Err(e) if optional => tracing::debug!("optional bind {entry} skipped: {e}"),
            Err(e) => {
                return Err(format!(
                    "Warning: Could not create server TCP listening socket {entry}:{port}: {e}"
                ))
            }
        }
    }
    Ok(out)
}

fn spawn_tcp(state: &Arc<ServerState>, listeners: Vec<TcpListener>) {
    let mut tasks = state.tcp_accept.lock();
    for l in listeners {
        if let Ok(a) = l.local_addr() {
            state.port.store(u64::from(a.port()), Relaxed);
        }
        tasks.push(tokio::spawn(accept_tcp(l, state.clone())).abort_handle());
    }
}

/// CONFIG SET port/bind: binds the new addresses first (so a failure changes
/// nothing), then stops accepting on the old ones. Connected clients stay.
pub fn rebind_tcp(state: &Arc<ServerState>) -> Result<(), String> {
    let fresh = bind_all(state, P::Port)?;
    let old: Vec<_> = std::mem::take(&mut *state.tcp_accept.lock());
    for task in old {
        task.abort();
    }
    spawn_tcp(state, fresh);
    if state.engine.config.int(P::TlsPort) != 0 {
        rebind_tls(state)?;
    }
    Ok(())
}

/// CONFIG SET tls-port (and bind): as [`rebind_tcp`] for the TLS listeners,
/// configuring TLS first when it was not (Redis's applyTLSPort).
pub fn rebind_tls(state: &Arc<ServerState>) -> Result<(), String> {
    if !state.tls.configured() {
        state.tls.configure(&state.engine.config)?;
    }
    let fresh = bind_all(state, P::TlsPort)
        .map_err(|_| "Unable to listen on this port. Check server logs.".to_string())?;
    let old: Vec<_> = std::mem::take(&mut *state.tls.accept.lock());
    for task in old {
        task.abort();
    }
    spawn_tls(state, fresh);
    Ok(())
}

fn spawn_tls(state: &Arc<ServerState>, listeners: Vec<TcpListener>) {
    let mut tasks = state.tls.accept.lock();
    for l in listeners {
        tasks.push(tokio::spawn(accept_tls(l, state.clone())).abort_handle());
    }
}

/// The bound sockets, not accepting yet.
pub struct Listeners {
    tcp: Vec<TcpListener>,
    tls: Vec<TcpListener>,
    unix: Option<(UnixListener, String)>,
}

/// Binds every configured address (within the runtime's context). Errors are the
/// log lines Redis writes before giving up.
pub fn bind(state: &Arc<ServerState>) -> Result<Listeners, String> {
    let _ = state.me.set(Arc::downgrade(state));
    let cfg = &state.engine.config;
    let port = cfg.int(P::Port);
    let tcp = bind_all(state, P::Port).map_err(|e| {
        tracing::warn!("{e}");
        format!("Failed listening on port {port} (TCP), aborting.")
    })?;
    if crate::tls::wanted(cfg) && state.tls.configure(cfg).is_err() {
        return Err("Failed to configure TLS. Check logs for more info.".into());
    }
    let tls_port = cfg.int(P::TlsPort);
    let tls = bind_all(state, P::TlsPort).map_err(|e| {
        tracing::warn!("{e}");
        format!("Failed listening on port {tls_port} (TLS), aborting.")
    })?;
    if let Some(a) = tcp.first().and_then(|l| l.local_addr().ok()) {
        state.port.store(u64::from(a.port()), Relaxed);
    }
    let path = cfg.string(P::Unixsocket);
    let mut unix = None;
    if !path.is_empty() {
        let _ = std::fs::remove_file(&path);
        let l =
            UnixListener::bind(&path).map_err(|e| format!("Failed opening Unix socket: {e}"))?;
        let perm = cfg.int(P::Unixsocketperm);
        if perm != 0 {
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(perm as u32));
        }
        unix = Some((l, path));
    }
    if tcp.is_empty() && tls.is_empty() && unix.is_none() {
        return Err("Configured to not listen anywhere, exiting.".into());
    }
    if tcp.is_empty() {
        if let Some(a) = tls.first().and_then(|l| l.local_addr().ok()) {
            state.port.store(u64::from(a.port()), Relaxed);
        }
    }
    Ok(Listeners { tcp, tls, unix })
}

/// Spawns the accept loops of the bound sockets.
pub fn start(state: Arc<ServerState>, listeners: Listeners) {
    spawn_tcp(&state, listeners.tcp);
    spawn_tls(&state, listeners.tls);
    if let Some((l, path)) = listeners.unix {
        tokio::spawn(accept_unix(l, state, path));
    }
}

fn bind_tcp(addr: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(backlog.max(1))
}

fn too_many(state: &ServerState) -> bool {
    state.clients.len() as i64 >= state.engine.config.int(P::Maxclients)
}

/// TCP options every accepted socket gets: no Nagle, and Redis's keepalive
/// (idle time tcp-keepalive, probes every third of it).
fn tune(stream: &tokio::net::TcpStream, state: &ServerState) {
    let _ = stream.set_nodelay(true);
    let keepalive = state.engine.config.int(P::TcpKeepalive);
    if keepalive > 0 {
        let secs = std::time::Duration::from_secs(keepalive as u64);
        let ka = socket2::TcpKeepalive::new()
            .with_time(secs)
            .with_interval((secs / 3).max(std::time::Duration::from_secs(1)));
        let _ = socket2::SockRef::from(stream).set_tcp_keepalive(&ka);
    }
}

/// Why a new TCP connection is refused, as the line Redis writes to it: too many
/// clients, or protected mode and not from loopback. Counted as rejected.
fn refusal(state: &ServerState, peer: SocketAddr) -> Option<&'static [u8]> {
    let cfg = &state.engine.config;
    let why: &'static [u8] = if too_many(state) {
        b"-ERR max number of clients reached\r\n"
    } else if cfg.bool(P::ProtectedMode)
        && state.engine.acl.default_user().nopass()
        && !peer.ip().is_loopback()
        && !matches!(peer.ip(), IpAddr::V6(v6) if v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback()))
    {
        PROTECTED.as_bytes()
    } else {
        return None;
    };
    state.clients.rejected.fetch_add(1, Relaxed);
    Some(why)
}

async fn accept_tcp(listener: TcpListener, state: Arc<ServerState>) {
    loop {
        let (mut stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tune(&stream, &state);
        if let Some(why) = refusal(&state, peer) {
            let _ = stream.write_all(why).await;
            continue;
        }
        let (id, handle) = register(&state, &stream, peer);
        let st = state.clone();
        tokio::spawn(async move {
            // Not served while a shutdown runs; dropped if the server exits.
            if !crate::shutdown::accept_paused(&st) || crate::shutdown::wait_outcome(&st).await {
                crate::conn::serve(stream, st.clone(), handle).await;
            }
            st.clients.remove(id);
        });
    }
}

/// A client for an accepted TCP connection (plain or TLS), counted from now on.
fn register(
    state: &ServerState,
    stream: &tokio::net::TcpStream,
    peer: SocketAddr,
) -> (u64, Arc<ClientHandle>) {
    let id = state.clients.next_id();
    let handle = Arc::new(ClientHandle::new(
        id,
        Some(peer),
        stream.local_addr().ok(),
        stream.as_raw_fd() as i64,
        None,
    ));
    state.clients.add(handle.clone());
    (id, handle)
}

/// How long a TLS handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// The TLS port: the same checks as TCP, then the handshake in the connection's
/// own task (a slow handshake holds up nobody; it counts as a client meanwhile,
/// as in Redis), then the same connection loop over the encrypted stream. Past
/// maxclients the connection is dropped before any handshake, as Redis drops it
/// (its refusal is written before the handshake, so nothing reaches the client);
/// protected mode's refusal is written after it, where the client can read it.
async fn accept_tls(listener: TcpListener, state: Arc<ServerState>) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        tune(&stream, &state);
        let Some(acceptor) = state.tls.acceptor(&state.engine.config) else {
            tracing::warn!("TLS connection refused: no TLS context for tls-auth-clients");
            continue;
        };
        if too_many(&state) {
            state.clients.rejected.fetch_add(1, Relaxed);
            continue;
        }
        if let Some(why) = refusal(&state, peer) {
            tokio::spawn(async move {
                if let Ok(Ok(mut tls)) =
                    tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                {
                    let _ = tls.write_all(why).await;
                    let _ = tls.shutdown().await;
                }
            });
            continue;
        }
        let (id, handle) = register(&state, &stream, peer);
        let st = state.clone();
        tokio::spawn(async move {
            // Not TLS (the first byte of a TLS connection is a handshake record,
            // 22): closed without a word, as OpenSSL leaves it, rather than
            // answered with an alert a plain client would try to parse.
            let mut first = [0u8; 1];
            let is_tls = matches!(
                tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await,
                Ok(Ok(1)) if first[0] == 22
            );
            if !is_tls {
                st.clients.remove(id);
                return;
            }
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
                Ok(Ok(tls)) => {
                    handle.tls.store(true, std::sync::atomic::Ordering::Relaxed);
                    if !crate::shutdown::accept_paused(&st)
                        || crate::shutdown::wait_outcome(&st).await
                    {
                        crate::conn::serve(tls, st.clone(), handle).await;
                    }
                }
                Ok(Err(e)) => tracing::debug!("Error accepting a client connection: {e}"),
                Err(_) => tracing::debug!("TLS handshake timed out"),
            }
            st.clients.remove(id);
        });
    }
}

async fn accept_unix(listener: UnixListener, state: Arc<ServerState>, path: String) {
    loop {
        let (mut stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(e) => {
                tracing::warn!("Accepting client connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            }
        };
        if too_many(&state) {
            state.clients.rejected.fetch_add(1, Relaxed);
            let _ = stream
                .write_all(b"-ERR max number of clients reached\r\n")
                .await;
            continue;
        }
        let id = state.clients.next_id();
        let fd = stream.as_raw_fd() as i64;
        let handle = Arc::new(ClientHandle::new(id, None, None, fd, Some(path.clone())));
        state.clients.add(handle.clone());
        let st = state.clone();
        tokio::spawn(async move {
            // Not served while a shutdown runs; dropped if the server exits.
            if !crate::shutdown::accept_paused(&st) || crate::shutdown::wait_outcome(&st).await {
                crate::conn::serve(stream, st.clone(), handle).await;
            }
            st.clients.remove(id);
        });
    }
}
