//! The registry of connected clients: what CLIENT LIST / INFO / KILL and INFO
//! clients read about connections other than the caller's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

/// One connection as others see it. The connection updates it once per batch of
/// requests, never per command.
pub struct ClientHandle {
    /// CLIENT ID.
    pub id: u64,
    /// Peer address (`ip:port`, or the socket path).
    pub addr: String,
    /// Local address.
    pub laddr: String,
    /// File descriptor number, for display (and the Lua debugger's direct I/O).
    pub fd: i64,
    /// A TLS connection (its socket cannot be read or written directly).
    pub tls: AtomicBool,
    /// Whether `fd` is this connection's open socket: set while `conn::serve`
    /// runs and cleared, under this lock, before the socket is closed, so
    /// [`ClientHandle::kill_now`] never touches a number reused since.
    sock_open: parking_lot::Mutex<bool>,
    /// When the connection was accepted.
    pub created: Instant,
    /// Milliseconds since `created` of the last request.
    pub last_interaction_ms: AtomicU64,
    /// Selected db.
    pub db: AtomicUsize,
    /// RESP version.
    pub resp: AtomicUsize,
    /// Query buffer bytes in use / free.
    pub qbuf: AtomicUsize,
    /// Free query buffer bytes.
    pub qbuf_free: AtomicUsize,
    /// Set by the cron when the connection has idled long enough for its query
    /// buffer to be freed; the connection frees it when it wakes.
    pub qbuf_idle: AtomicBool,
    /// Bytes pending in the output buffer.
    pub omem: AtomicUsize,
    /// It read bytes it has not finished with (set after a read, cleared when
    /// it published the batch's state): see [`settle`].
    pub busy: AtomicBool,
    /// What its buffers and bookkeeping hold (`client_mem.rs`).
    pub mem: crate::client_mem::ClientMem,
    /// Name, lib-name, lib-ver, last command.
    pub info: Mutex<ClientText>,
    /// CLIENT NO-EVICT.
    pub no_evict: AtomicBool,
    /// In MONITOR mode (CLIENT LIST flag `O`).
    pub monitor: AtomicBool,
    /// What it receives without asking (pub/sub, invalidations, MONITOR) and the
    /// request to close (CLIENT KILL).
    pub mailbox: crate::mailbox::Mailbox,
    /// Whether this is a unix-socket connection.
    pub unix: bool,
    /// Parked by a blocking command (CLIENT LIST flag `b`).
    /// Commands queued since MULTI, or -1 outside MULTI (`multi=`, flag x).
    pub multi: std::sync::atomic::AtomicI64,
    pub blocked: AtomicBool,
    /// Its Pub/Sub subscriptions (`sub`/`psub`/`ssub`, flag P).
    pub subs: crate::pubsub::ClientSubs,
    /// Its CLIENT TRACKING switches (flags t, R, B; `redir`).
    pub tracking: Mutex<crate::tracking::TrackState>,
    /// [`KIND_NORMAL`], [`KIND_REPLICA`] (after SYNC/PSYNC) or [`KIND_MASTER`]
    /// (a replica's link to its master).
    pub kind: std::sync::atomic::AtomicU8,
}

/// A client connection.
pub const KIND_NORMAL: u8 = 0;
/// A replica fed the replication stream.
pub const KIND_REPLICA: u8 = 1;
/// The link to this replica's master.
pub const KIND_MASTER: u8 = 2;

/// The text fields of a client.
#[derive(Default, Clone)]
pub struct ClientText {
    /// CLIENT SETNAME.
    pub name: String,
    /// Last command's full name.
    pub cmd: String,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: String,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: String,
    /// ACL user (empty: default).
    pub user: String,
}

impl ClientHandle {
    /// A new handle.
    pub fn new(
        id: u64,
        peer: Option<SocketAddr>,
        local: Option<SocketAddr>,
        fd: i64,
        unix_path: Option<String>,
    ) -> Self {
        let (addr, laddr, unix) = match unix_path {
            Some(p) => (format!("{p}:0"), p, true),
            None => (
                peer.map(|a| a.to_string()).unwrap_or_default(),
                local.map(|a| a.to_string()).unwrap_or_default(),
                false,
            ),
        };
        ClientHandle {
            id,
            addr,
            laddr,
            fd,
            tls: AtomicBool::new(false),
            sock_open: parking_lot::Mutex::new(false),
            created: Instant::now(),
            last_interaction_ms: AtomicU64::new(0),
            db: AtomicUsize::new(0),
            resp: AtomicUsize::new(2),
            qbuf: AtomicUsize::new(0),
            qbuf_free: AtomicUsize::new(0),
            qbuf_idle: AtomicBool::new(false),
            omem: AtomicUsize::new(0),
            busy: AtomicBool::new(false),
            mem: crate::client_mem::ClientMem::default(),
            info: Mutex::new(ClientText {
                cmd: "NULL".into(),
                ..ClientText::default()
            }),
            no_evict: AtomicBool::new(false),
            monitor: AtomicBool::new(false),
            mailbox: crate::mailbox::Mailbox::default(),
            unix,
            blocked: AtomicBool::new(false),
            multi: std::sync::atomic::AtomicI64::new(-1),
            subs: crate::pubsub::ClientSubs::default(),
            tracking: Mutex::new(crate::tracking::TrackState::default()),
            kind: std::sync::atomic::AtomicU8::new(KIND_NORMAL),
        }
    }

    /// Its class for CLIENT LIST / KILL TYPE and the output-buffer limits
    /// (Redis's getClientType): `pubsub` while subscribed to anything.
    pub fn class_name(&self) -> &'static str {
        match self.kind.load(Relaxed) {
            KIND_REPLICA => return "slave",
            KIND_MASTER => return "master",
            _ => {}
        }
        if self.subs.total() > 0 {
            "pubsub"
        } else {
            "normal"
        }
    }

    /// Marks the connection for closing and wakes it.
    pub fn kill(&self) {
        self.mailbox.close();
    }

    /// CLIENT KILL of another client: also shuts its socket down at once, so the
    /// peer sees the close before the killer's reply goes out, as Redis frees
    /// the client (closing its socket) within the command. A replica whose
    /// master killed its link is then down before anyone hears of the kill.
    pub fn kill_now(&self) {
        self.kill();
        let open = self.sock_open.lock();
        if *open && self.fd >= 0 {
            if let Ok(fd) = i32::try_from(self.fd) {
                // SAFETY: `fd` is this connection's socket while `sock_open`
                // holds (cleared under the same lock before the socket closes);
                // shutdown(2) takes no pointer.
                unsafe {
                    libc::shutdown(fd, libc::SHUT_RDWR);
                }
            }
        }
    }

    /// Marks the socket open (`true`, as `conn::serve` starts) or about to close.
    pub fn set_socket_open(&self, open: bool) {
        *self.sock_open.lock() = open;
    }

    /// One CLIENT LIST line, with Redis 7.0's fields in Redis's order.
    pub fn describe(&self) -> String {
        let now = self.created.elapsed();
        let age = now.as_secs();
        let idle = now
            .as_millis()
            .saturating_sub(u128::from(self.last_interaction_ms.load(Relaxed)))
            / 1000;
        let t = self.info.lock().clone();
        let mut flags = String::new();
        match self.kind.load(Relaxed) {
            KIND_REPLICA => flags.push('S'),
            KIND_MASTER => flags.push('M'),
            _ => {}
        }
        if self.monitor.load(Relaxed) {
            flags.push('O');
        }
        use crate::pubsub::Kind;
        let (sub, psub, ssub) = (
            self.subs.count(Kind::Channel),
            self.subs.count(Kind::Pattern),
            self.subs.count(Kind::Shard),
        );
        if sub + psub + ssub > 0 {
            flags.push('P');
        }
        let multi = self.multi.load(Relaxed);
        if multi >= 0 {
            flags.push('x');
        }
        if self.blocked.load(Relaxed) {
            flags.push('b');
        }
        let tracking = self.tracking.lock().clone();
        if tracking.on {
            flags.push('t');
        }
        if tracking.broken {
            flags.push('R');
        }
        if tracking.bcast {
            flags.push('B');
        }
        let redir = if tracking.on {
            tracking.redirect as i64
        } else {
            -1
        };
        if self.unix {
            flags.push('U');
        }
        if self.no_evict.load(Relaxed) {
            flags.push('e');
        }
        if flags.is_empty() {
            flags.push('N');
        }
        let qbuf = self.qbuf.load(Relaxed);
        let qbuf_free = self.qbuf_free.load(Relaxed);
        // The replies of the running batch (Redis's reply buffer), then what
        // waits: replies its full socket did not take and letters (the list).
        let obl = self.omem.load(Relaxed);
        let pending = self.mem.obuf_pending.load(Relaxed);
        let oll = self.mailbox.queued_letters() + usize::from(pending > 0);
        let omem = self.output_mem();
        let rbs = self.mem.obuf_cap.load(Relaxed);
        let events = if pending > 0 { "rw" } else { "r" };
        let mut line = format!(
            "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={sub} psub={psub} ssub={ssub} multi={} qbuf={} qbuf-free={} argv-mem={} multi-mem={} rbs={rbs} rbp={rbs} obl={} oll={} omem={} tot-mem={} events={events} cmd={} user={} redir={redir} resp={}",
            self.id,
            self.addr,
            self.laddr,
            self.fd,
            t.name,
            age,
            idle,
            flags,
            self.db.load(Relaxed),
            multi,
            qbuf,
            qbuf_free,
            self.mem.argv.load(Relaxed),
            self.mem.multi.load(Relaxed),
            obl,
            oll,
            omem,
            self.total_mem(),
            t.cmd,
            if t.user.is_empty() { "default" } else { &t.user },
            self.resp.load(Relaxed)
        );
        if !t.lib_name.is_empty() || !t.lib_ver.is_empty() {
            line.push_str(&format!(" lib-name={} lib-ver={}", t.lib_name, t.lib_ver));
        }
        line
    }
}

/// All connected clients, by id.
#[derive(Default)]
pub struct Clients {
    map: Mutex<BTreeMap<u64, Arc<ClientHandle>>>,
    next_id: AtomicU64,
    /// total_connections_received
    pub total_received: AtomicU64,
    /// rejected_connections
    pub rejected: AtomicU64,
}

impl Clients {
    /// A fresh id for a new connection (ids start at 1 as in Redis... after the
    /// ones Redis uses internally; any increasing sequence is compatible).
    pub fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Relaxed) + 1
    }

    /// Adds a connection.
    pub fn add(&self, c: Arc<ClientHandle>) {
        self.total_received.fetch_add(1, Relaxed);
        self.map.lock().insert(c.id, c);
    }

    /// Registers again a connection its command loop unlisted (a replica after
    /// SYNC / PSYNC), or the link to the master; not counted as a new one.
    pub fn put_back(&self, c: Arc<ClientHandle>) {
        self.map.lock().insert(c.id, c);
    }

    /// Connections that are replicas or the master link (INFO's
    /// connected_clients leaves them out).
    pub fn replication_links(&self) -> usize {
        self.map
            .lock()
            .values()
            .filter(|c| c.kind.load(Relaxed) != KIND_NORMAL)
            .count()
    }

    /// Removes a connection.
    pub fn remove(&self, id: u64) {
        self.map.lock().remove(&id);
    }

    /// Number of connected clients.
    pub fn len(&self) -> usize {
        self.map.lock().len()
    }

    /// Whether no client is connected.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every client, by id.
    pub fn all(&self) -> Vec<Arc<ClientHandle>> {
        // A killed client is gone for others at once (Redis frees it, or unlinks
        // it, before the killer's reply).
        self.map
            .lock()
            .values()
            .filter(|c| !c.mailbox.closing())
            .cloned()
            .collect()
    }

    /// The user name a client is authenticated as.
    pub fn user_of(c: &ClientHandle) -> String {
        let u = c.info.lock().user.clone();
        if u.is_empty() {
            "default".into()
        } else {
            u
        }
    }

    /// The client with `id`.
    pub fn get(&self, id: u64) -> Option<Arc<ClientHandle>> {
        self.map.lock().get(&id).cloned()
    }
}

/// Bytes the kernel holds for `fd` that nobody read yet (0 on any failure).
fn unread_bytes(fd: i64) -> usize {
    let Ok(fd) = i32::try_from(fd) else {
        return 0;
    };
    if fd < 0 {
        return 0;
    }
    let mut n: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through the pointer, which points to `n`;
    // on a descriptor that is not a socket (or no longer open) it fails and
    // leaves `n` alone.
    let rc = unsafe { libc::ioctl(fd, libc::FIONREAD, &mut n as *mut libc::c_int) };
    if rc == 0 {
        n.max(0) as usize
    } else {
        0
    }
}

/// Before CLIENT LIST describes the others: lets the connections that have
/// requests waiting (in their socket, or read and still running) get through
/// them first, for at most 100 ms. Redis's one event loop has handled what
/// arrived before a CLIENT LIST by the time it runs it; with connections on
/// several threads, a client that just sent a big request, or one whose reply is
/// about to close it, would otherwise be described as it was before. A client
/// that is not served (blocked, paused, CLIENT LIST itself) is not waited for.
pub fn settle(st: &crate::state::ServerState, me: u64) {
    let deadline = Instant::now() + std::time::Duration::from_millis(100);
    let pending = |c: &ClientHandle| {
        c.id != me
            && !c.blocked.load(Relaxed)
            && c.kind.load(Relaxed) == KIND_NORMAL
            && (c.busy.load(Relaxed) || (!c.tls.load(Relaxed) && unread_bytes(c.fd) > 0))
    };
    let mut waiting: Vec<Arc<ClientHandle>> = st
        .clients
        .all()
        .into_iter()
        .filter(|c| pending(c))
        .collect();
    while !waiting.is_empty() && Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_micros(50));
        waiting.retain(|c| !c.mailbox.closing() && pending(c));
    }
}
