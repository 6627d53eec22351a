//! The server's shared state, and its side of the engine's hooks.

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Instant;

use ferrokv_core::config::P;
use ferrokv_core::{Engine, ServerHooks};
use tokio::sync::Notify;

use crate::clients::Clients;

/// Everything the connections share.
pub struct ServerState {
    /// The storage engine.
    pub engine: Arc<Engine>,
    /// Connected clients.
    pub clients: Clients,
    /// Client memory and client eviction (maxmemory-clients, `client_mem.rs`).
    pub client_mem: Arc<crate::client_mem::ClientMemory>,
    /// Clients parked by blocking commands.
    pub blocked: crate::blocked::Blocked,
    /// Clients in MONITOR mode.
    pub monitors: crate::monitor::Monitors,
    /// Pub/Sub subscriptions.
    pub pubsub: crate::pubsub::PubSub,
    /// client-output-buffer-limit, parsed (`obuf.rs`).
    pub obuf_limits: parking_lot::RwLock<ferrokv_core::config::ObufLimits>,
    /// 40 hex characters identifying this run (INFO run_id).
    pub run_id: String,
    /// Replication id (INFO master_replid).
    pub replid: String,
    /// Start time.
    pub started: Instant,
    /// The config file given on the command line, if any.
    pub config_file: Option<String>,
    /// Port actually listened on.
    pub port: AtomicU64,
    /// Worker threads.
    pub threads: usize,
    /// Commands run (summed per batch).
    pub commands_processed: AtomicU64,
    /// Bytes read from clients.
    pub net_input: AtomicU64,
    /// Bytes written to clients.
    pub net_output: AtomicU64,
    /// Socket reads.
    pub reads: AtomicU64,
    /// Socket writes.
    pub writes: AtomicU64,
    /// Errors sent to a replica or by a replica to its master (Redis's
    /// stat_unexpected_error_replies): each is logged as "== CRITICAL ==".
    pub unexpected_error_replies: AtomicU64,
    /// Largest query buffer seen recently.
    pub max_input_buffer: AtomicU64,
    /// Set when a shutdown has succeeded and the process exits: background
    /// threads stop.
    pub shutting_down: AtomicBool,
    /// Wakes the main task to exit.
    pub shutdown: Notify,
    /// SHUTDOWN / SIGTERM / SIGINT in progress (`shutdown.rs`).
    pub shutdown_state: crate::shutdown::ShutdownState,
    /// The accept loops of the TCP listeners (replaced when port/bind change).
    pub tcp_accept: parking_lot::Mutex<Vec<tokio::task::AbortHandle>>,
    /// A handle to itself, for hooks that must spawn tasks owning the state.
    pub me: std::sync::OnceLock<std::sync::Weak<ServerState>>,
    /// SAVE / BGSAVE bookkeeping.
    pub persistence: crate::persistence::Persistence,
    /// The append-only file.
    pub aof: crate::aof::Aof,
    /// What DEBUG subcommands switch.
    pub debug: crate::debug::DebugState,
    /// The master side of replication: ids, backlog, replicas (`replica.rs`).
    pub replicas: crate::replica::Replicas,
    /// The replica side: the link to the master (`replica_link.rs`).
    pub link: crate::replica_link::Link,
    /// FAILOVER in progress (`failover.rs`).
    pub failover: crate::failover::Failover,
    /// TLS contexts and listeners (`tls.rs`).
    pub tls: crate::tls::Tls,
    /// Wakes the connections held by CLIENT PAUSE when it changes.
    pub pause_wake: crate::pause::PauseWake,
}

fn random_hex40() -> String {
    (0..40)
        .map(|_| char::from_digit(rand_u32() % 16, 16).unwrap_or('0'))
        .collect()
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(Instant::now().elapsed().as_nanos());
    h.finish() as u32
}

impl ServerState {
    /// New state around `engine`.
    pub fn new(engine: Arc<Engine>, config_file: Option<String>, threads: usize) -> Self {
        let port = engine.config.int(P::Port) as u64;
        let obuf = ferrokv_core::config::ObufLimits::parse(
            &engine.config.string(P::ClientOutputBufferLimit),
        )
        .unwrap_or_default();
        let replid = random_hex40();
        let client_mem = Arc::new(crate::client_mem::ClientMemory::new(&engine.config));
        ServerState {
            engine,
            clients: Clients::default(),
            client_mem,
            blocked: crate::blocked::Blocked::default(),
            monitors: crate::monitor::Monitors::default(),
            pubsub: crate::pubsub::PubSub::default(),
            obuf_limits: parking_lot::RwLock::new(obuf),
            run_id: random_hex40(),
            replid: replid.clone(),
            started: Instant::now(),
            config_file,
            port: AtomicU64::new(port),
            threads,
            commands_processed: AtomicU64::new(0),
            net_input: AtomicU64::new(0),
            net_output: AtomicU64::new(0),
            reads: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            unexpected_error_replies: AtomicU64::new(0),
            max_input_buffer: AtomicU64::new(0),
            shutting_down: AtomicBool::new(false),
            shutdown: Notify::new(),
            shutdown_state: Default::default(),
            tcp_accept: parking_lot::Mutex::new(Vec::new()),
            me: std::sync::OnceLock::new(),
            persistence: Default::default(),
            aof: Default::default(),
            debug: Default::default(),
            replicas: crate::replica::Replicas::new(replid),
            link: Default::default(),
            failover: Default::default(),
            tls: Default::default(),
            pause_wake: Default::default(),
        }
    }

    /// Makes the process exit (after a successful shutdown, `shutdown::prepare`).
    pub fn request_shutdown(&self) {
        self.shutting_down.store(true, Relaxed);
        self.shutdown.notify_one();
    }

    /// Resets the counters CONFIG RESETSTAT resets.
    pub fn reset_stats(&self) {
        for c in [
            &self.commands_processed,
            &self.net_input,
            &self.net_output,
            &self.reads,
            &self.writes,
            &self.unexpected_error_replies,
        ] {
            c.store(0, Relaxed);
        }
        self.clients.total_received.store(0, Relaxed);
        self.clients.rejected.store(0, Relaxed);
        self.client_mem.evicted.store(0, Relaxed);
        self.replicas.reset_stats();
    }
}

impl ServerHooks for ServerState {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn acl_kill_users(&self, names: &[Vec<u8>], current: u64) {
        crate::acl::kill_users(self, names, current);
    }

    fn acl_kill_subscribers(&self, name: &[u8], allowed: &[Vec<u8>]) {
        crate::acl::kill_subscribers(self, name, allowed);
    }

    fn client_is_local(&self, id: u64) -> bool {
        self.clients
            .get(id)
            .is_none_or(|h| crate::debug::is_local(&h.addr))
    }

    fn client_info(&self, id: u64, cmd: Option<&str>) -> String {
        let Some(h) = self.clients.get(id) else {
            return String::new();
        };
        if let Some(cmd) = cmd {
            h.info.lock().cmd = cmd.to_string();
        }
        h.describe()
    }

    fn long_running(&self) {
        // tokio's block_in_place gives this worker's queue and the I/O driver to a
        // new thread; the short sleep lets that thread take them before we return
        // (returning first would take them back). A current-thread runtime
        // (--threads 1) has no other thread: its clients wait for the script.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        if multi {
            tokio::task::block_in_place(|| std::thread::sleep(std::time::Duration::from_millis(2)));
        }
    }

    fn debug_channel(&self, id: u64) -> Option<Box<dyn ferrokv_core::hooks::DebugChannel>> {
        crate::ldb_io::channel(self, id)
    }

    fn keys_ready(&self, ready: Vec<(usize, Vec<u8>)>) {
        self.blocked.serve(&self.engine, self, ready);
    }

    fn dbs_ready(&self, dbs: &[usize]) {
        let keys = self.blocked.keys_in(dbs);
        self.blocked.serve(&self.engine, self, keys);
    }

    fn keyspace_events(&self, events: &[ferrokv_core::notify::KeyEvent]) {
        self.pubsub
            .keyspace_events(self.engine.notify_flags(), events);
    }

    fn invalidate(&self, current: u64, keys: &[ferrokv_core::tracking::Invalidation]) {
        crate::tracking::invalidate(self, current, keys);
    }

    fn tracking_limited(
        &self,
        current: u64,
        keys: &[ferrokv_core::tracking::Invalidation],
        out: &mut ferrokv_resp::ReplyBuf,
    ) {
        crate::tracking::limited(self, current, keys, out.buffer_mut());
    }

    fn own_letters(&self, current: u64, out: &mut ferrokv_resp::ReplyBuf) {
        if let Some(h) = self.clients.get(current) {
            h.mailbox.drain_into(out.buffer_mut());
        }
    }

    fn invalidate_all(&self, _current: u64) {
        crate::tracking::invalidate_all(self);
    }

    fn broadcast(&self, batches: Vec<ferrokv_core::tracking::Broadcast>) {
        crate::tracking::broadcast(self, batches);
    }

    fn monitor(&self, client: &ferrokv_core::Client, db: usize, args: &[&[u8]]) {
        self.monitors.feed(self, client, db, args);
    }

    fn peer_id(&self, id: u64) -> String {
        self.clients
            .get(id)
            .map(|h| h.addr.clone())
            .unwrap_or_default()
    }

    fn flushed_all(&self) {
        // Redis's flushAllDataAndResetRDB kills the RDB child: an RDB for
        // replicas stops, and they sync again with the empty dataset.
        self.replicas.abort_production();
        // With save points, an empty dataset is
        // saved at once (and the changes counter starts again from zero).
        if !self.engine.config.string(P::Save).trim().is_empty() {
            if let Err(e) = crate::persistence::save_blocking(&self.engine, &self.persistence.0) {
                tracing::warn!("FLUSHALL could not save the empty dataset: {e}");
            }
        }
    }

    fn propagate(&self, cmds: &[(usize, &[&[u8]])]) -> u64 {
        // A replica's stream comes verbatim from its master (`replica_link.rs`).
        if self.replicas.active() && !crate::replica_link::is_replica(self) {
            self.replicas.feed(cmds);
        }
        // Propagation may be on for replicas alone: the AOF logs only while on.
        if self.aof.enabled() {
            self.aof.propagate(cmds)
        } else {
            0
        }
    }

    fn propagate_to(&self, cmds: &[(usize, &[&[u8]])], aof: bool, replicas: bool) -> u64 {
        if replicas && self.replicas.active() && !crate::replica_link::is_replica(self) {
            self.replicas.feed(cmds);
        }
        if aof && self.aof.enabled() {
            self.aof.propagate(cmds)
        } else {
            0
        }
    }

    fn deny_writes(&self) -> Option<String> {
        // Redis's order (writeCommandsDeniedByDiskError): the RDB condition first.
        if crate::persistence::bgsave_error_stops_writes(&self.engine, &self.persistence.0) {
            return Some(crate::persistence::MISCONF_RDB.into());
        }
        if self
            .engine
            .propagating
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            if let Some(e) = self.aof.write_error() {
                return Some(e);
            }
        }
        crate::replication::no_replicas(self)
    }

    fn config_changed(&self, name: &str) -> Result<(), String> {
        if matches!(name, "maxmemory-clients" | "maxmemory") {
            crate::client_mem::reload(self);
        }
        match name {
            "appendonly" => crate::aof::config_changed(self)?,
            "oom-score-adj" | "oom-score-adj-values" => {
                crate::oom_score::apply(&self.engine.config, crate::replica_link::is_replica(self))?
            }
            "loglevel" => crate::log::set_level(&self.engine.config.string(P::Loglevel)),
            "crash-log-enabled" => {
                crate::crash::set_enabled(self.engine.config.bool(P::CrashLogEnabled))
            }
            "aof-timestamp-enabled" => self
                .aof
                .set_timestamps(self.engine.config.bool(P::AofTimestampEnabled)),
            "resetstat" => self.reset_stats(),
            "jemalloc-bg-thread" => crate::alloc::set_background_thread(
                self.engine.config.int_named("jemalloc-bg-thread") != 0,
            ),
            "replica-read-only" | "replica-serve-stale-data" => {
                crate::replica_link::config_changed(self)
            }
            // The admission asks deny_writes only while propagating.
            "min-replicas-to-write" | "min-replicas-max-lag"
                if self.engine.config.int_named("min-replicas-to-write") > 0 =>
            {
                self.engine
                    .propagating
                    .store(true, std::sync::atomic::Ordering::Release);
            }
            "repl-backlog-size" => self
                .replicas
                .resize_backlog(self.engine.config.int_named("repl-backlog-size").max(1) as usize),
            "client-output-buffer-limit" => crate::obuf::reload(self),
            "dir" => {
                let dir = self.engine.config.string(P::Dir);
                std::env::set_current_dir(&dir).map_err(|e| {
                    // strerror text, as Redis prints it (without Rust's "(os error N)").
                    let text = e.to_string();
                    text.split(" (os error").next().unwrap_or(&text).to_string()
                })?;
            }
            // Redis's applyTlsCfg: rebuilt only while something uses TLS.
            "tls" if crate::tls::wanted(&self.engine.config) => {
                self.tls.configure(&self.engine.config)?
            }
            "tls-port" => {
                let me = self
                    .me
                    .get()
                    .and_then(std::sync::Weak::upgrade)
                    .ok_or("server is stopping")?;
                crate::listen::rebind_tls(&me)?;
            }
            "metrics-port" | "metrics-bind" => {
                let me = self
                    .me
                    .get()
                    .and_then(std::sync::Weak::upgrade)
                    .ok_or("server is stopping")?;
                crate::metrics::rebind(&me)?;
            }
            "port" | "bind" => {
                let me = self
                    .me
                    .get()
                    .and_then(std::sync::Weak::upgrade)
                    .ok_or("server is stopping")?;
                crate::listen::rebind_tcp(&me).map_err(|_| {
                    if name == "bind" {
                        "Failed to bind to specified addresses.".to_string()
                    } else {
                        "Unable to listen on this port".to_string()
                    }
                })?;
            }
            _ => {}
        }
        Ok(())
    }
}
