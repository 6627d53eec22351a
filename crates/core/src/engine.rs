//! The engine: keyspace, configuration and command table, and the dispatch of one
//! request (lookup, subcommand, arity, auth, locks, run, error reply).

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use ferrokv_resp::ReplyBuf;

use crate::client::Client;
use crate::commands::meta::Flags;
use crate::commands::{Command, CommandDef, Locks, Registry};
use crate::config::{Config, P};
use crate::ctx::{Ctx, Keys, Propagate};
use crate::error::CmdError;
use crate::hooks::ServerHooks;
use crate::keyspace::{lock_id, shard_of, KeyHashes, Keyspace, LockId, LockSet, SHARDS};

/// Counters that are not per shard.
#[derive(Default)]
pub struct Stats {
    /// Error replies sent (INFO total_error_replies).
    pub error_replies: AtomicU64,
    /// Commands rejected before running (unknown, arity, auth).
    pub rejected_calls: AtomicU64,
    /// Modifications counted at the last successful save.
    pub dirty_at_save: AtomicU64,
    /// Running estimate of the average TTL per db, ms (INFO keyspace avg_ttl).
    pub avg_ttl: Vec<AtomicI64>,
    /// Active-expiry cycles run.
    pub expire_cycles: AtomicU64,
    /// Error replies by error code (INFO errorstats). Errors are rare enough for a lock.
    pub error_codes: parking_lot::Mutex<std::collections::BTreeMap<String, u64>>,
    /// Per-shard counters of keys reset by CONFIG RESETSTAT are kept as baselines.
    pub baseline_hits: AtomicU64,
    /// Baseline of misses at the last CONFIG RESETSTAT.
    pub baseline_misses: AtomicU64,
    /// Baseline of expired keys at the last CONFIG RESETSTAT.
    pub baseline_expired: AtomicU64,
}

/// Time as the engine sees it: wall clock plus an offset tests can move (so expiry
/// can be tested without sleeping).
///
/// A command reads the clock once: the monotonic instant it starts at gives both
/// its duration (INFO commandstats) and its wall time, as that instant plus the
/// wall clock's distance from the monotonic one, which [`Clock::reanchor`] refreshes
/// several times a second (so a stepped wall clock is followed within that time).
pub struct Clock {
    offset_ms: AtomicI64,
    origin: Instant,
    /// Wall time minus monotonic time since `origin`, in ns.
    wall_minus_mono_ns: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        let c = Clock {
            offset_ms: AtomicI64::new(0),
            origin: Instant::now(),
            wall_minus_mono_ns: AtomicI64::new(0),
        };
        c.reanchor();
        c
    }
}

impl Clock {
    /// Unix time in milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.ms_at(Instant::now())
    }

    /// Unix time in milliseconds at monotonic instant `t` (a command's start).
    #[inline]
    pub fn ms_at(&self, t: Instant) -> i64 {
        let mono = t.saturating_duration_since(self.origin).as_nanos() as i64;
        (self.wall_minus_mono_ns.load(Ordering::Relaxed) + mono).div_euclid(1_000_000)
            + self.offset_ms.load(Ordering::Relaxed)
    }

    /// Measures the wall clock against the monotonic one again.
    pub fn reanchor(&self) {
        let mono = Instant::now()
            .saturating_duration_since(self.origin)
            .as_nanos() as i64;
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as i64);
        self.wall_minus_mono_ns
            .store(wall - mono, Ordering::Relaxed);
    }

    /// Moves the clock forward (DEBUG JUMP-CLOCK, tests).
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }
}

/// The storage engine shared by every connection.
pub struct Engine {
    /// The data.
    pub keyspace: Keyspace,
    /// Live configuration.
    pub config: Config,
    /// Implemented commands.
    pub registry: Registry,
    /// Global counters.
    pub stats: Stats,
    /// Time source.
    pub clock: Clock,
    /// When the engine started.
    pub started: Instant,
    /// Point-in-time snapshot state (BGSAVE without fork).
    pub snapshot: crate::snapshot::SnapshotState,
    /// Clients parked by blocking commands (kept by the server). While it is zero,
    /// commands skip recording which keys became ready.
    pub blocked_clients: std::sync::atomic::AtomicUsize,
    /// Whether writes are handed to [`ServerHooks::propagate`] (the AOF is on).
    /// While clear, propagation costs this one load per command.
    pub propagating: std::sync::atomic::AtomicBool,
    /// Set while the last background save failed: write commands then ask
    /// [`ServerHooks::deny_writes`] whether stop-writes-on-bgsave-error refuses them.
    pub bgsave_failed: std::sync::atomic::AtomicBool,
    /// WATCHed keys of every client.
    pub watches: crate::transaction::Watches,
    /// Server states that refuse commands at admission (see [`crate::admission`]).
    pub gates: crate::admission::Gates,
    /// INFO commandstats / latencystats.
    pub cmdstats: crate::commands::stats::CommandStats,
    /// Whether some client is in MONITOR mode: commands are then shown to
    /// [`ServerHooks::monitor`] (one relaxed load per command otherwise).
    pub monitoring: std::sync::atomic::AtomicBool,
    /// Set while the server shuts down: no command runs ([`Engine::halt`]). Next
    /// to `propagating`, which every command reads too.
    pub halted: std::sync::atomic::AtomicBool,
    /// Transactions that let their locks go around a `Locks::Own` command and
    /// have not finished yet: [`Engine::halt`] waits for them.
    open_execs: std::sync::atomic::AtomicUsize,
    /// Client-side caching: who may cache which keys (CLIENT TRACKING).
    pub tracking: crate::tracking::Tracking,
    /// EVAL scripts and FUNCTION libraries, and the script running now.
    pub scripting: crate::scripting::Scripting,
    /// maxmemory: used-memory measurement, eviction pool, evicted_keys.
    pub evict: crate::evict::Eviction,
    /// ACL users and the ACL LOG.
    pub acl: crate::acl::Acl,
    /// SLOWLOG entries.
    pub slowlog: crate::slowlog::Slowlog,
    /// LATENCY events.
    pub latency: crate::latency::LatencyMonitor,
    /// The shortest call duration (ns) that may concern SLOWLOG or the latency
    /// monitor: the only thing a faster call reads of them.
    pub ops_gate: std::sync::atomic::AtomicU64,
    /// Keys a writable replica's clients gave a TTL (see `replica_expire`).
    pub replica_keys: crate::replica_expire::ReplicaKeys,
    /// Active defragmentation's walk and figures.
    pub defrag: crate::defrag::Defrag,
}

/// What a command leaves for after its locks are released.
#[derive(Default)]
pub(crate) struct AfterLocks {
    /// Databases whose every key may serve blocked clients now (SWAPDB).
    pub(crate) ready_dbs: Vec<usize>,
    /// FLUSHALL ran (the server may save).
    pub(crate) flushed_all: bool,
}

impl AfterLocks {
    fn deliver(self, hooks: &dyn ServerHooks) {
        if !self.ready_dbs.is_empty() {
            hooks.dbs_ready(&self.ready_dbs);
        }
        if self.flushed_all {
            hooks.flushed_all();
        }
    }
}

/// Totals over every shard (INFO stats and keyspace).
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardTotals {
    /// keyspace_hits
    pub hits: u64,
    /// keyspace_misses
    pub misses: u64,
    /// expired_keys
    pub expired: u64,
    /// Modifications since start.
    pub dirty: u64,
}

impl Engine {
    /// An engine with the given configuration and command definitions (the core's
    /// own are always included).
    pub fn new(config: Config, extra: &[&[CommandDef]]) -> Engine {
        let dbs = config.int(P::Databases).clamp(1, 1 << 16) as usize;
        let mut defs = crate::commands::core_commands();
        defs.extend_from_slice(extra);
        let stats = Stats {
            avg_ttl: (0..dbs).map(|_| AtomicI64::new(0)).collect(),
            ..Stats::default()
        };
        let registry = Registry::build(&defs);
        let engine = Engine {
            keyspace: Keyspace::new(dbs),
            cmdstats: crate::commands::stats::CommandStats::new(registry.names().len()),
            monitoring: std::sync::atomic::AtomicBool::new(false),
            registry,
            stats,
            clock: Clock::default(),
            started: Instant::now(),
            snapshot: crate::snapshot::SnapshotState::new(dbs * SHARDS),
            blocked_clients: std::sync::atomic::AtomicUsize::new(0),
            propagating: std::sync::atomic::AtomicBool::new(false),
            bgsave_failed: std::sync::atomic::AtomicBool::new(false),
            watches: crate::transaction::Watches::default(),
            gates: crate::admission::Gates::default(),
            halted: std::sync::atomic::AtomicBool::new(false),
            open_execs: std::sync::atomic::AtomicUsize::new(0),
            tracking: crate::tracking::Tracking::default(),
            scripting: crate::scripting::Scripting::default(),
            evict: crate::evict::Eviction::default(),
            acl: crate::acl::Acl::new(&config),
            config,
            slowlog: crate::slowlog::Slowlog::default(),
            latency: crate::latency::LatencyMonitor::default(),
            ops_gate: std::sync::atomic::AtomicU64::new(u64::MAX),
            replica_keys: crate::replica_expire::ReplicaKeys::default(),
            defrag: crate::defrag::Defrag::default(),
        };
        engine.refresh_ops_gate();
        engine
    }

    /// Stops command execution (the start of a shutdown, as nothing runs in Redis
    /// once prepareForShutdown begins). The flag is set while every shard lock is
    /// held and each command reads it under its own locks, so this is a cut: a
    /// command ran entirely before it (what it wrote is propagated by the time
    /// this returns) or finds the flag and does not run at all
    /// ([`Client::held`]). Returns once the transactions that were running have
    /// finished. Called from a thread that holds no shard lock.
    pub fn halt(&self) {
        let all = LockSet::lock_dbs(&self.keyspace, 0..self.keyspace.db_count());
        self.halted.store(true, Ordering::Release);
        drop(all);
        // A transaction between its locks around a Locks::Own command was admitted
        // before the cut: it runs to its end, and its log goes out with it.
        while self.open_execs.load(Ordering::Acquire) > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Whether a transaction has let its locks go around a `Locks::Own` command
    /// and not finished: the background evictor waits (a CONFIG SET maxmemory
    /// inside EXEC must not see its transaction's keys evicted halfway).
    pub fn transaction_open(&self) -> bool {
        self.open_execs.load(Ordering::Acquire) > 0
    }

    /// Lets commands run again after a shutdown that failed.
    pub fn resume(&self) {
        self.halted.store(false, Ordering::Release);
    }

    /// Runs one request and writes its reply to `out`.
    pub fn execute(
        &self,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
    ) {
        if self.tracking.active() {
            // Redis keeps the table within tracking-table-max-keys before each
            // command (and from its cron).
            self.tracking_limit(client.id, hooks, out);
        }
        if let Err(e) = self.try_execute(client, args, out, hooks) {
            self.reply_error(&e, out);
        }
        if let Some(t) = &mut client.tracking {
            // CLIENT CACHING covers the next command (or transaction) only; any
            // CLIENT subcommand keeps it (Redis's resetClient).
            if t.caching
                && client.multi.is_none()
                && !args
                    .first()
                    .is_some_and(|a| a.eq_ignore_ascii_case(b"client"))
            {
                t.caching = false;
            }
        }
    }

    /// Takes keys out of the tracking table while it holds more than
    /// tracking-table-max-keys, invalidating their clients (`current`: the client
    /// whose command is about to run, 0 from the cron).
    pub fn tracking_limit(&self, current: u64, hooks: &dyn ServerHooks, out: &mut ReplyBuf) {
        let max = self.config.int(P::TrackingTableMaxKeys).max(0) as usize;
        if max == 0 || self.tracking.total_keys() <= max {
            return;
        }
        let gone = self.tracking.over_limit(max);
        if !gone.is_empty() {
            hooks.tracking_limited(current, &gone, out);
        }
    }

    /// Hands the keys changed under BCAST prefixes to the server.
    pub fn tracking_broadcast(&self, hooks: &dyn ServerHooks) {
        if self.tracking.broadcast_pending() {
            hooks.broadcast(self.tracking.take_broadcasts());
        }
    }

    /// Writes error `e` as the reply and counts it (errorstats), unless a command
    /// inside a script counted it already.
    pub(crate) fn reply_error(&self, e: &CmdError, out: &mut ReplyBuf) {
        let text = e.to_string();
        if !matches!(e, CmdError::Counted(_)) {
            self.count_error_reply(&text);
        }
        out.error(&text);
    }

    /// Counts an error reply with `text` (its first word is the code).
    pub(crate) fn count_error_reply(&self, text: &str) {
        self.stats.error_replies.fetch_add(1, Ordering::Relaxed);
        let code = text.split(' ').next().unwrap_or("ERR");
        *self
            .stats
            .error_codes
            .lock()
            .entry(code.to_string())
            .or_insert(0) += 1;
    }

    /// The command `args` names, `None` for an unknown command or subcommand
    /// (scripts report both as unknown).
    pub(crate) fn lookup_command(&self, args: &[&[u8]]) -> Option<&Command> {
        self.lookup(args).ok()
    }

    /// Why a write cannot run now (a read-only replica, a disk error), as a script's
    /// first write is refused (Redis's scriptVerifyWriteCommandAllow).
    pub(crate) fn write_refusal(&self, client: &Client, hooks: &dyn ServerHooks) -> Option<String> {
        if client.loading {
            return None;
        }
        if self.gates.read_only_replica.load(Ordering::Relaxed) {
            return Some("READONLY You can't write against a read only replica.".into());
        }
        if self.propagating.load(Ordering::Relaxed) || self.bgsave_failed.load(Ordering::Relaxed) {
            return hooks.deny_writes();
        }
        None
    }

    /// Resolves the command (and subcommand) for `args`, checking arity.
    pub fn resolve<'e>(&'e self, args: &[&[u8]]) -> Result<&'e Command, CmdError> {
        let cmd = self.lookup(args)?;
        if !cmd.meta.arity_ok(args.len()) {
            return Err(CmdError::WrongArity(cmd.meta.name.clone()));
        }
        Ok(cmd)
    }

    /// The command (and subcommand) `args` names, arity not checked yet (a container
    /// given no subcommand is returned itself: its arity refuses it).
    fn lookup<'e>(&'e self, args: &[&[u8]]) -> Result<&'e Command, CmdError> {
        let name = args.first().copied().unwrap_or_default();
        let Some(mut cmd) = self.registry.get(name) else {
            return Err(unknown_command(args));
        };
        if cmd.handler.is_none() || (!cmd.subcommands.is_empty() && args.len() >= 2) {
            if args.len() < 2 {
                return Ok(cmd);
            }
            cmd = match cmd.subcommand(args[1]) {
                Some(sub) => sub,
                None => {
                    return Err(CmdError::UnknownSubcommand {
                        sub: truncate_lossy(args[1], 128),
                        cmd: cmd.meta.name.to_ascii_uppercase(),
                    })
                }
            };
        }
        Ok(cmd)
    }

    /// A command refused before it ran: counted (for the command when it is known),
    /// and inside MULTI it makes EXEC fail (Redis's rejectCommand /
    /// flagTransaction). A refused EXEC itself (bad arity, no auth) discards the
    /// transaction and the watches, in MULTI or not, and says why in an EXECABORT
    /// (Redis's execCommandAbort).
    fn reject(
        &self,
        client: &mut Client,
        cmd: Option<&Command>,
        e: CmdError,
    ) -> Result<(), CmdError> {
        self.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
        if let Some(cmd) = cmd {
            self.cmdstats.rejected(cmd.id);
            if cmd.admit.has(crate::commands::Admit::RUNS_QUEUE) {
                client.multi = None;
                self.watches.unwatch(client);
                let why = e.to_string();
                let why = why.strip_prefix("ERR ").unwrap_or(&why);
                return Err(CmdError::Raw(format!(
                    "EXECABORT Transaction discarded because of: {why}"
                )));
            }
        }
        if let Some(m) = &mut client.multi {
            m.aborted = true;
        }
        Err(e)
    }

    fn try_execute(
        &self,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
    ) -> Result<(), CmdError> {
        let cmd = match self.lookup(args) {
            Ok(c) => c,
            Err(e) => return self.reject(client, None, e),
        };
        if !cmd.meta.arity_ok(args.len()) {
            return self.reject(
                client,
                Some(cmd),
                CmdError::WrongArity(cmd.meta.name.clone()),
            );
        }
        // Keys evicted at admission were invalidated before the command runs: a
        // message for this client goes ahead of its reply (Redis writes it at
        // once, performEvictions running before call()).
        let evicting = self.config.int(P::Maxmemory) > 0 && self.tracking.active();
        let evicted_before = if evicting {
            self.evict.evicted_keys.load(Ordering::Relaxed)
        } else {
            0
        };
        let admitted = crate::admission::admit(self, client, cmd, args, hooks);
        if evicting && self.evict.evicted_keys.load(Ordering::Relaxed) != evicted_before {
            hooks.own_letters(client.id, out);
        }
        let admitted = match admitted {
            Ok(a) => a,
            Err(e) => return self.reject(client, Some(cmd), e),
        };
        if cmd.handler.is_none() {
            return Err(CmdError::WrongArity(cmd.meta.name.clone()));
        }
        if admitted == crate::admission::Admitted::Pause {
            // Nothing ran: the server holds the command and submits it again.
            client.paused = Some(self.gates.pause.generation());
            return Ok(());
        }
        if admitted == crate::admission::Admitted::Queue {
            if self.halted.load(Ordering::Acquire) {
                // Not even queued while a shutdown runs (see `run_locked`).
                client.held = true;
                return Ok(());
            }
            if let Some(m) = &mut client.multi {
                m.argv_mem += args.iter().map(|a| a.len() + 8).sum::<usize>();
                m.queued.push(args.iter().map(|a| a.to_vec()).collect());
                // A script counts with the flags it declares (Redis's
                // getCommandFlags): a read-only one keeps EXEC a read.
                let flags = match cmd.admit.has(crate::commands::Admit::SCRIPT) {
                    true => self
                        .scripting
                        .command_script_flags(args)
                        .map_or(cmd.meta.flags, |sf| sf.command_flags(cmd.meta.flags)),
                    false => cmd.meta.flags,
                };
                m.flags = Flags(m.flags.0 | flags.0);
                m.not_loading |= !cmd.meta.flags.has(Flags::LOADING);
                m.not_stale |= !flags.has(Flags::STALE);
            }
            out.simple(b"QUEUED");
            return Ok(());
        }
        let (result, locks, ready, after) = self.run_locked(cmd, client, args, out, hooks, None);
        // The locks are released before blocked clients are served: serving runs
        // their commands, which take locks of their own.
        drop(locks);
        if !ready.is_empty() {
            hooks.keys_ready(ready);
        }
        after.deliver(hooks);
        self.tracking_broadcast(hooks);
        result
    }

    /// Runs `cmd` holding `locks` when given (a transaction's, which cover what it
    /// needs), else taking its own, and hands the locks back, with the keys and
    /// dbs that may now serve blocked clients.
    #[allow(clippy::type_complexity)]
    pub(crate) fn run_locked<'e>(
        &'e self,
        cmd: &'e Command,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
        locks: Option<LockSet<'e>>,
    ) -> (
        Result<(), CmdError>,
        LockSet<'e>,
        Vec<(usize, Vec<u8>)>,
        AfterLocks,
    ) {
        let Some(handler) = cmd.handler else {
            return (
                Err(CmdError::WrongArity(cmd.meta.name.clone())),
                locks.unwrap_or_else(|| LockSet::empty(&self.keyspace)),
                Vec::new(),
                AfterLocks::default(),
            );
        };
        let db = client.db;
        // Built in place, then locked: the lock step hashes the command's keys
        // straight into `ctx.keys`, where its lookups find them (see KeyHashes;
        // `args` outlive `ctx`).
        let mut ctx = Ctx {
            engine: self,
            keys: Keys::new(LockSet::empty(&self.keyspace), db, 0),
            client,
            out,
            hooks,
            cmd,
        };
        let locks = match locks {
            Some(held) => {
                self.hash_keys(cmd, args, &mut ctx.keys.hashes);
                held
            }
            None => self.lock_for(cmd, args, db, &mut ctx.keys.hashes),
        };
        // One clock read, once the locks are held (as before a lookup): the
        // command's wall time and the start of its duration.
        let started = Instant::now();
        // Inside a script the clock stands still at the script's start (Redis 7.0):
        // a key does not expire between two of its commands.
        let now_ms = match ctx.client.script_time {
            Some(t) => t,
            None => self.clock.ms_at(started),
        };
        ctx.keys.start(locks, now_ms);
        // Read under the command's locks: `halt` sets it holding every lock, so a
        // command either ran before the cut or does not run. The rest of a
        // transaction admitted before the cut runs to its end.
        if self.halted.load(Ordering::Acquire) && !ctx.client.in_exec {
            ctx.client.held = true;
            return (
                Ok(()),
                ctx.keys.into_locks(),
                Vec::new(),
                AfterLocks::default(),
            );
        }
        let keys = &mut ctx.keys;
        let snapshot_write = self.snapshot.active() && cmd.meta.flags.has(Flags::WRITE);
        let whole_dbs = matches!(
            cmd.locks,
            Locks::Db | Locks::AllDbs | Locks::LiveDb | Locks::AllLiveDbs
        );
        if snapshot_write && whole_dbs {
            self.snapshot_before_write(keys.locks());
        }
        if snapshot_write && !whole_dbs {
            keys.cow = Some(&self.snapshot);
        }
        let client = &mut *ctx.client;
        keys.mode = crate::ctx::KeysMode {
            track_ready: self.blocked_clients.load(Ordering::Relaxed) > 0,
            no_touch: client.no_touch && cmd.meta.name != "touch",
            loading: client.loading,
            // Read under the command's locks: the AOF is turned on while every lock
            // is held, so a command either is in the rewrite's snapshot or is
            // logged. While the AOF is off this load is all propagation costs.
            propagating: !client.loading && self.propagating.load(Ordering::Acquire),
            notify: self.notify_flags(),
            tracked: false,
            hide_expired: !client.loading && self.gates.replica.load(Ordering::Relaxed),
            frozen: self.gates.pause.active(now_ms),
        };
        if self.tracking.active() {
            keys.tracking = Some((&self.tracking, client.id));
            keys.mode.tracked = true;
        }
        // Also under the locks: a WATCH of one of this command's keys took that
        // key's lock, so it is either counted here or ordered after this command.
        if self.watches.active() {
            keys.watches = Some(&self.watches);
        }
        if self.lfu_policy() {
            keys.lru = crate::keyspace::Access::Lfu {
                minutes: crate::keyspace::access::lfu_minutes(keys.now_ms),
                log_factor: self.config.int(P::LfuLogFactor).clamp(0, u32::MAX as i64) as u32,
                decay: self.config.int(P::LfuDecayTime).clamp(0, u32::MAX as i64) as u32,
            };
        }
        client.last_cmd = cmd.meta.name.as_str();
        let result = handler(&mut ctx, args);
        debug_assert!(
            ctx.keys.dirty == 0
                || ctx.keys.signalled > 0
                || !matches!(cmd.locks, Locks::Auto | Locks::Custom(_)),
            "{} changed data without passing the write funnel",
            cmd.meta.name
        );
        if ctx.keys.mode.hide_expired && ctx.keys.dirty > 0 && cmd.meta.flags.has(Flags::WRITE) {
            // A writable replica's client wrote: the keys it left with a TTL are
            // this replica's to expire (Redis's rememberSlaveKeyWithExpire).
            self.remember_replica_ttls(&mut ctx, cmd, args);
        }
        if ctx.keys.mode.propagating {
            // Still under the command's locks: the log order is the execution order.
            propagate(&mut ctx, args);
        }
        if let Some(mode) = ctx.client.tracking {
            // Redis's trackingRememberKeys, after a read-only command, under its
            // locks: a write of the key is ordered before (and invalidated the old
            // entry) or after (and finds this one).
            // Inside a script the script's declared keys are remembered instead
            // (scripting/run.rs), as Redis remembers the caller's command's keys;
            // EVAL_RO / FCALL_RO themselves (read-only, `Locks::Own` like every
            // command that locks by itself) never are.
            if mode.remembers()
                && !ctx.client.in_script
                && !matches!(cmd.locks, Locks::Own)
                && cmd.meta.flags.has(Flags::READONLY)
                && !cmd.meta.flags.has(Flags::PUBSUB)
            {
                for k in cmd.meta.keys(args) {
                    if let Some(key) = args.get(k.pos) {
                        self.tracking.remember(ctx.client.id, key);
                    }
                }
            }
        }
        if !ctx.keys.invalidations.is_empty() {
            let gone = std::mem::take(&mut ctx.keys.invalidations);
            hooks.invalidate(ctx.client.id, &gone);
        }
        if std::mem::take(&mut ctx.keys.flushed) {
            self.tracking.clear();
            hooks.invalidate_all(ctx.client.id);
        }
        if !ctx.keys.events.is_empty() {
            // Under the locks too: one key's events arrive in the order of its writes.
            let events = std::mem::take(&mut ctx.keys.events);
            hooks.keyspace_events(&events);
        }
        // Shown to MONITOR once, when first called (not when a blocked client is
        // served), unless Redis hides it (admin, skip_monitor).
        if self.monitoring.load(Ordering::Relaxed)
            && ctx.client.serving_key.is_none()
            && !cmd.meta.flags.has(Flags::ADMIN)
            && !cmd.meta.flags.has(Flags::SKIP_MONITOR)
        {
            hooks.monitor(ctx.client, ctx.client.db, args);
        }
        // A command that blocked is counted when it is served or times out.
        if ctx.client.block.is_none() {
            let ns = started.elapsed().as_nanos() as u64;
            self.cmdstats.called(
                cmd.id,
                ns,
                result.is_err(),
                self.config.bool(P::LatencyTracking),
            );
            // The one comparison a command pays for SLOWLOG and LATENCY.
            if ns >= self.ops_gate.load(Ordering::Relaxed) {
                self.slow_call(cmd, ctx.client, args, ns, hooks);
            }
        }
        ctx.client.redact = 0;
        let ready = std::mem::take(&mut ctx.keys.ready);
        let after = AfterLocks {
            ready_dbs: std::mem::take(&mut ctx.keys.ready_dbs),
            flushed_all: ctx.keys.flushed_all,
        };
        let locks = ctx.keys.into_locks();
        (result, locks, ready, after)
    }

    /// EXEC: runs the queued commands of `client` atomically (see
    /// [`crate::transaction`]).
    pub fn exec_transaction(
        &self,
        client: &mut Client,
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
    ) -> Result<(), CmdError> {
        let Some(multi) = client.multi.take() else {
            return Err(CmdError::Other("EXEC without MULTI".into()));
        };
        if multi.aborted {
            self.watches.unwatch(client);
            return Err(CmdError::Raw(
                "EXECABORT Transaction discarded because of previous errors.".into(),
            ));
        }
        // The union of every command's locks, following SELECTs.
        let mut ids: Vec<LockId> = crate::transaction::watched_lock_ids(client).collect();
        let mut db = client.db;
        let queued: Vec<Vec<&[u8]>> = multi
            .queued
            .iter()
            .map(|argv| argv.iter().map(Vec::as_slice).collect())
            .collect();
        let mut resolved: Vec<Option<&Command>> = Vec::with_capacity(queued.len());
        for args in &queued {
            let cmd = self.resolve(args).ok();
            if let Some(cmd) = cmd {
                self.lock_ids_for(cmd, args, db, None, |id| ids.push(id));
                if cmd.meta.name == "select" {
                    if let Some(n) = std::str::from_utf8(args[1])
                        .ok()
                        .and_then(|s| s.parse::<usize>().ok())
                        .filter(|n| *n < self.keyspace.db_count())
                    {
                        db = n;
                    }
                }
            }
            resolved.push(cmd);
        }
        // Sorted in place: the same ids serve to lock again after a Locks::Own command.
        let mut locks = LockSet::lock(&self.keyspace, &mut ids);
        if self.halted.load(Ordering::Acquire) {
            // Halted between EXEC's admission and these locks: nothing ran; the
            // transaction stays queued for when (if) the server resumes.
            drop(locks);
            drop(resolved);
            drop(queued);
            client.multi = Some(multi);
            client.held = true;
            return Ok(());
        }
        if crate::transaction::watch_broken(client, self.clock.now_ms()) {
            drop(locks);
            self.watches.unwatch(client);
            out.null_array();
            return Ok(());
        }
        let tx = crate::transaction::TxHooks::new(hooks);
        let (mut ready, mut after) = (Vec::new(), AfterLocks::default());
        let exec_name = client.last_cmd;
        client.in_exec = true;
        let mut opened = false;
        out.array(queued.len());
        for (args, cmd) in queued.iter().zip(resolved) {
            let Some(cmd) = cmd else {
                // Resolved when queued; only a table change could get here.
                self.reply_error(&unknown_command(args), out);
                continue;
            };
            // The rules may have changed since the command was queued.
            if !client.acl_free() {
                if let Err(d) =
                    crate::acl::check::check_id(&client.user, cmd.acl_id, cmd.meta, args)
                {
                    // ACL LOG's client-info shows EXEC as the last command.
                    client.last_cmd = exec_name;
                    crate::acl::cmds::log_check(
                        self,
                        client,
                        hooks,
                        d,
                        crate::acl::log::Context::Multi,
                        &cmd.meta.name,
                        args,
                    );
                    self.reply_error(
                        &CmdError::Raw(format!(
                            "NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason: {}",
                            d.exec_reason()
                        )),
                        out,
                    );
                    continue;
                }
            }
            if matches!(cmd.locks, Locks::Own) {
                // It takes shard locks itself: holding ours could deadlock. Counted
                // first, so a halt in this gap waits for the whole transaction.
                if !opened {
                    opened = true;
                    self.open_execs.fetch_add(1, Ordering::AcqRel);
                }
                drop(locks);
                self.execute(client, args, out, &tx);
                locks = LockSet::lock(&self.keyspace, &mut ids);
                continue;
            }
            let (result, back, r, a) = self.run_locked(cmd, client, args, out, &tx, Some(locks));
            locks = back;
            ready.extend(r);
            after.ready_dbs.extend(a.ready_dbs);
            after.flushed_all |= a.flushed_all;
            if let Err(e) = result {
                self.reply_error(&e, out);
            }
        }
        client.in_exec = false;
        client.last_cmd = exec_name;
        // Still under the transaction's locks: logged in execution order.
        let offset = tx.flush(true);
        if offset > 0 {
            client.aof_offset = offset;
        }
        if opened {
            self.open_execs.fetch_sub(1, Ordering::AcqRel);
        }
        drop(locks);
        self.watches.unwatch(client);
        if !ready.is_empty() {
            hooks.keys_ready(ready);
        }
        after.deliver(hooks);
        self.tracking_broadcast(hooks);
        Ok(())
    }

    /// A blocked call of `args` ended without its command running again (timeout,
    /// CLIENT UNBLOCK): counted as Redis counts it, one call.
    pub fn count_unblocked(
        &self,
        client: &Client,
        args: &[&[u8]],
        ns: u64,
        hooks: &dyn ServerHooks,
    ) {
        if let Ok(cmd) = self.resolve(args) {
            let latency = self.config.bool(P::LatencyTracking);
            self.cmdstats.called(cmd.id, ns, false, latency);
            if ns >= self.ops_gate.load(Ordering::Relaxed) {
                self.slow_call(cmd, client, args, ns, hooks);
            }
        }
    }

    /// A blocked call ended by CLIENT UNBLOCK ... ERROR: counted as a failed call
    /// and its error `text` in errorstats, as Redis counts the UNBLOCKED reply.
    pub fn count_unblocked_error(
        &self,
        client: &Client,
        args: &[&[u8]],
        text: &str,
        hooks: &dyn ServerHooks,
    ) {
        self.count_error_reply(text);
        if let Ok(cmd) = self.resolve(args) {
            let latency = self.config.bool(P::LatencyTracking);
            self.cmdstats.called(cmd.id, 0, true, latency);
            if self.ops_gate.load(Ordering::Relaxed) == 0 {
                self.slow_call(cmd, client, args, 0, hooks);
            }
        }
    }

    /// A call that took at least [`Engine::ops_gate`]: logged to the SLOWLOG and
    /// sampled by the latency monitor when past their own thresholds.
    #[cold]
    fn slow_call(
        &self,
        cmd: &Command,
        client: &Client,
        args: &[&[u8]],
        ns: u64,
        hooks: &dyn ServerHooks,
    ) {
        let us = ns / 1000;
        let event = if cmd.meta.flags.has(Flags::FAST) {
            "fast-command"
        } else {
            "command"
        };
        if !client.loading {
            self.latency.sample(self, event, us / 1000);
        }
        let slower_than = self.config.int(P::SlowlogLogSlowerThan);
        if slower_than >= 0
            && us >= slower_than as u64
            && !cmd.meta.flags.has(Flags::SKIP_SLOWLOG)
            && !client.loading
        {
            let time = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs() as i64);
            let entry = crate::slowlog::Entry {
                id: 0,
                time,
                duration: us,
                args: crate::slowlog::trim_args(args, client.redact),
                peer: if client.in_script {
                    String::new()
                } else {
                    hooks.peer_id(client.id)
                },
                name: client.name.clone().unwrap_or_default(),
            };
            let max = self.config.int(P::SlowlogMaxLen).max(0) as usize;
            self.slowlog.push(entry, max);
        }
    }

    /// Recomputes [`Engine::ops_gate`] from the thresholds (after CONFIG SET).
    pub fn refresh_ops_gate(&self) {
        let slower_than = self.config.int(P::SlowlogLogSlowerThan);
        let slowlog = if slower_than >= 0 {
            (slower_than as u64).saturating_mul(1000)
        } else {
            u64::MAX
        };
        let threshold_ms = self.config.int(P::LatencyMonitorThreshold);
        let latency = if threshold_ms > 0 {
            (threshold_ms as u64).saturating_mul(1_000_000)
        } else {
            u64::MAX
        };
        self.ops_gate.store(slowlog.min(latency), Ordering::Relaxed);
    }

    /// The `notify-keyspace-events` flags (see [`crate::notify`]).
    #[inline]
    pub fn notify_flags(&self) -> u32 {
        self.config.int(P::NotifyKeyspaceEvents) as u32
    }

    /// Whether the maxmemory policy is an LFU one (keys then carry LFU counters).
    pub fn lfu_policy(&self) -> bool {
        // Indexes of volatile-lfu and allkeys-lfu in the policy enum.
        matches!(self.config.int(P::MaxmemoryPolicy), 1 | 5)
    }

    /// Takes the locks `cmd` needs for `args` in `db`, adding the hashes of the
    /// keys it found to `hashes` (for the command's lookups: each key is hashed
    /// once per command).
    pub fn lock_for<'e>(
        &'e self,
        cmd: &Command,
        args: &[&[u8]],
        db: usize,
        hashes: &mut KeyHashes,
    ) -> LockSet<'e> {
        let ks = &self.keyspace;
        match cmd.locks {
            Locks::Db => LockSet::lock_dbs(ks, [db]),
            Locks::AllDbs => LockSet::lock_dbs(ks, 0..ks.db_count()),
            Locks::LiveDb => LockSet::lock_live_dbs(ks, db..db + 1),
            Locks::AllLiveDbs => LockSet::lock_live_dbs(ks, 0..ks.db_count()),
            Locks::Own => LockSet::empty(ks),
            Locks::Auto if cmd.meta.key_specs.is_empty() => LockSet::empty(ks),
            Locks::Auto | Locks::Custom(_) => {
                let mut ids: smallvec::SmallVec<[LockId; 8]> = smallvec::SmallVec::new();
                self.lock_ids_for(cmd, args, db, Some(hashes), |id| ids.push(id));
                LockSet::lock(ks, &mut ids)
            }
        }
    }

    /// Passes each lock id `cmd` needs for `args` in `db` to `push` (one command's
    /// set, or a transaction's union). With `hashes`, the keys found by key specs
    /// are hashed into it on the way; without, only their slots are computed.
    pub fn lock_ids_for(
        &self,
        cmd: &Command,
        args: &[&[u8]],
        db: usize,
        hashes: Option<&mut KeyHashes>,
        mut push: impl FnMut(LockId),
    ) {
        let dbs = self.keyspace.db_count();
        let whole = |d: usize| (d * SHARDS..(d + 1) * SHARDS).map(|i| i as LockId);
        match cmd.locks {
            Locks::Auto => match hashes {
                Some(h) => cmd.meta.for_each_key(args, |i| {
                    if h.len() == KeyHashes::INLINE {
                        // Spilling: room for every argument at once, one allocation.
                        h.reserve(args.len());
                    }
                    push((db * SHARDS + shard_of(h.add(args[i]))) as LockId)
                }),
                None => cmd.meta.for_each_key(args, |i| push(lock_id(db, args[i]))),
            },
            // A transaction's or a script's set is a union of lock ids: its
            // flushes lock (and so allocate) the dbs as the others do.
            Locks::Db | Locks::LiveDb => whole(db).for_each(push),
            Locks::AllDbs | Locks::AllLiveDbs => (0..dbs).flat_map(whole).for_each(push),
            Locks::Custom(f) => {
                if let Some(h) = hashes {
                    // The planner gives lock ids (other dbs too); the key-spec keys'
                    // hashes still serve the lookups, whatever the db.
                    self.hash_keys(cmd, args, h);
                }
                f(args, db, dbs).into_iter().for_each(push)
            }
            Locks::Own => {}
        }
    }

    /// Hashes the keys `cmd`'s key specs find in `args` into `hashes` (a command
    /// run under a transaction's locks, or whose locks a planner computes).
    fn hash_keys(&self, cmd: &Command, args: &[&[u8]], hashes: &mut KeyHashes) {
        if matches!(cmd.locks, Locks::Auto | Locks::Custom(_)) {
            cmd.meta.for_each_key(args, |i| {
                hashes.add(args[i]);
            });
        }
    }

    /// The type of the live value at `key` in `db`, without touching it (serving
    /// blocked clients checks what a ready key holds).
    pub fn type_of(&self, db: usize, key: &[u8]) -> Option<crate::types::ValueType> {
        if db >= self.keyspace.db_count() {
            return None;
        }
        let hash = crate::keyspace::hash_key(key);
        let id = (db * SHARDS + shard_of(hash)) as LockId;
        let shard = self.keyspace.lock_one_live(id)?;
        let now = self.clock.now_ms();
        shard
            .dict()
            .get(key, hash)
            .filter(|n| n.expire_at() == 0 || n.expire_at() >= now)
            .map(|n| n.value().value_type())
    }

    /// Number of keys of hash slot `slot` in `db` (COUNTKEYSINSLOT): one shard's
    /// counter. Keys past their TTL but not yet reclaimed count, as in Redis.
    pub fn count_keys_in_slot(&self, db: usize, slot: u16) -> usize {
        if db >= self.keyspace.db_count() || slot as usize >= crate::keyspace::SLOTS {
            return 0;
        }
        let id = (db * SHARDS + crate::keyspace::shard_of_slot(slot)) as LockId;
        self.keyspace
            .lock_one_live(id)
            .map_or(0, |s| s.slot_len(slot))
    }

    /// Up to `count` keys of hash slot `slot` in `db` (GETKEYSINSLOT): one shard.
    pub fn keys_in_slot(&self, db: usize, slot: u16, count: usize) -> Vec<Vec<u8>> {
        if db >= self.keyspace.db_count() || slot as usize >= crate::keyspace::SLOTS {
            return Vec::new();
        }
        let id = (db * SHARDS + crate::keyspace::shard_of_slot(slot)) as LockId;
        self.keyspace
            .lock_one_live(id)
            .map_or_else(Vec::new, |s| s.keys_in_slot(slot, count))
    }

    /// Sums the per-shard counters (locks each shard briefly, one at a time).
    /// Replaces the whole dataset (a replica's full synchronization): with
    /// `staged`, its entries take the place of every db's (repl-diskless-load
    /// swapdb; the old ones end up in `staged`), else every db is emptied. A
    /// snapshot in progress first gets the shards it has not visited (as before a
    /// FLUSHALL), and WATCHed keys that existed before or exist now are touched
    /// (Redis's touchAllWatchedKeysInDb). Returns the tables taken out, for the
    /// caller to free (in the background when large).
    pub fn replace_dataset(&self, staged: Option<&Keyspace>) -> Vec<crate::keyspace::Dict> {
        let dbs = self.keyspace.db_count();
        let mut locks = LockSet::lock_dbs(&self.keyspace, 0..dbs);
        if self.snapshot.active() {
            self.snapshot_before_write(&mut locks);
        }
        let now = self.clock.now_ms();
        let present = |locks: &mut LockSet<'_>, db: usize, key: &[u8]| {
            let hash = crate::keyspace::hash_key(key);
            locks
                .shard(lock_id(db, key))
                .and_then(|s| {
                    s.dict()
                        .get(key, hash)
                        .map(|n| n.expire_at() == 0 || n.expire_at() >= now)
                })
                .unwrap_or(false)
        };
        let watched: Vec<_> = if self.watches.active() {
            (0..dbs)
                .flat_map(|db| {
                    self.watches
                        .watchers_in(db)
                        .into_iter()
                        .map(move |w| (db, w))
                })
                .collect()
        } else {
            Vec::new()
        };
        for (db, (key, flag)) in &watched {
            if present(&mut locks, *db, key) {
                flag.store(true, Ordering::Relaxed);
            }
        }
        let mut old = Vec::new();
        for (id, shard) in locks.held() {
            match staged {
                Some(ks) if ks.is_live(id as usize / SHARDS) => {
                    shard.swap_entries(&mut ks.lock_one(id));
                }
                _ if !shard.is_empty() => old.push(shard.clear()),
                _ => {}
            }
        }
        for avg in &self.stats.avg_ttl {
            avg.store(0, Ordering::Relaxed);
        }
        for (db, (key, flag)) in &watched {
            if present(&mut locks, *db, key) {
                flag.store(true, Ordering::Relaxed);
            }
        }
        old
    }

    pub fn shard_totals(&self) -> ShardTotals {
        let mut t = ShardTotals::default();
        for id in 0..(self.keyspace.db_count() * SHARDS) {
            let Some(s) = self.keyspace.lock_one_live(id as LockId) else {
                continue;
            };
            t.hits += s.stats.hits;
            t.misses += s.stats.misses;
            t.expired += s.stats.expired;
            t.dirty += s.stats.dirty;
        }
        t.hits -= self.stats.baseline_hits.load(Ordering::Relaxed).min(t.hits);
        t.misses -= self
            .stats
            .baseline_misses
            .load(Ordering::Relaxed)
            .min(t.misses);
        t.expired -= self
            .stats
            .baseline_expired
            .load(Ordering::Relaxed)
            .min(t.expired);
        t
    }

    /// Keys and keys-with-TTL of `db` (INFO keyspace, DBSIZE-like, unlocked sums).
    pub fn db_sizes(&self, db: usize) -> (usize, usize) {
        let (mut keys, mut expires) = (0, 0);
        if !self.keyspace.is_live(db) {
            return (0, 0);
        }
        for s in 0..SHARDS {
            let shard = self.keyspace.lock_one((db * SHARDS + s) as LockId);
            keys += shard.len();
            expires += shard.expires;
        }
        (keys, expires)
    }

    /// One active-expiry cycle: walks shards that hold keys with a TTL and removes
    /// the expired ones, for at most `budget`. Like Redis it keeps going on a shard
    /// while more than a tenth of what it sees is expired, and resumes next time
    /// where it stopped. Returns the number of keys removed.
    pub fn active_expire_cycle(&self, budget: Duration, resume: &mut usize) -> u64 {
        self.active_expire_cycle_with(budget, resume, &crate::hooks::NoHooks)
    }

    /// [`active_expire_cycle`](Self::active_expire_cycle), logging a DEL through
    /// `hooks` for every key it removes while propagation is on.
    pub fn active_expire_cycle_with(
        &self,
        budget: Duration,
        resume: &mut usize,
        hooks: &dyn ServerHooks,
    ) -> u64 {
        if self.gates.pause.active(self.clock.now_ms()) {
            // CLIENT PAUSE: the dataset stays as it is.
            return 0;
        }
        let start = Instant::now();
        let mut waited = Duration::ZERO;
        let removed = self.expire_cycle_run(start, budget, resume, hooks, &mut waited);
        // The cycle's own time is the `expire-cycle` latency event: waiting for a
        // shard a command holds is that command's latency (Redis, single-threaded,
        // never runs the cycle during a command).
        let own = start.elapsed().saturating_sub(waited);
        self.latency
            .sample(self, "expire-cycle", own.as_millis() as u64);
        removed
    }

    fn expire_cycle_run(
        &self,
        start: Instant,
        budget: Duration,
        resume: &mut usize,
        hooks: &dyn ServerHooks,
        waited: &mut Duration,
    ) -> u64 {
        let total = self.keyspace.db_count() * SHARDS;
        let effort = self.config.int(P::ActiveExpireEffort).clamp(1, 10) as usize;
        let per_round = 20 + 5 * (effort - 1);
        let mut removed = 0u64;
        let mut ttl_sum: Vec<(i64, i64)> = vec![(0, 0); self.keyspace.db_count()];
        let now = self.clock.now_ms();
        for step in 0..total {
            let id = (*resume + step) % total;
            if step % 64 == 0 && start.elapsed() > budget {
                *resume = id;
                self.fold_avg_ttl(&ttl_sum);
                self.tracking_broadcast(hooks);
                return removed;
            }
            if !self.keyspace.is_live(id / SHARDS) {
                continue;
            }
            // The clock is read only when a command holds the shard: reading it
            // twice for each of the 16 x 1024 shards, ten times a second, was most
            // of what an idle server spent.
            let mut shard = match self.keyspace.try_lock_one(id as LockId) {
                Some(shard) => shard,
                None => {
                    let asked = Instant::now();
                    let shard = self.keyspace.lock_one(id as LockId);
                    *waited += asked.elapsed();
                    shard
                }
            };
            if shard.expires == 0 {
                continue;
            }
            let db = id / SHARDS;
            // lazyfree-lazy-expire no (Redis's default): the values are freed
            // here, after the shard's lock is let go but within the cycle, so a
            // big one shows in the `expire-cycle` event as on Redis; this thread
            // is not a client's, so nobody waits for it.
            let mut to_free: Vec<crate::keyspace::Node> = Vec::new();
            let sync_free = !self.config.bool(P::LazyfreeLazyExpire);
            loop {
                let (mut seen, mut expired_here) = (0usize, 0usize);
                let mut cursor = shard.expire_cursor;
                while seen < per_round {
                    let (next, gone) = shard.scan_remove(cursor, |n| {
                        if n.expire_at() == 0 {
                            return false;
                        }
                        seen += 1;
                        if n.expire_at() < now {
                            true
                        } else {
                            ttl_sum[db].0 += n.expire_at() - now;
                            ttl_sum[db].1 += 1;
                            false
                        }
                    });
                    if !gone.is_empty() {
                        self.expired_by_cycle(db, &gone, hooks);
                    }
                    if !gone.is_empty() && self.propagating.load(Ordering::Acquire) {
                        // Under the shard's lock, like a command's propagation.
                        let dels: Vec<[&[u8]; 2]> =
                            gone.iter().map(|n| [&b"DEL"[..], n.key()]).collect();
                        let cmds: Vec<(usize, &[&[u8]])> =
                            dels.iter().map(|d| (db, &d[..])).collect();
                        hooks.propagate(&cmds);
                    }
                    for node in gone {
                        expired_here += 1;
                        if sync_free {
                            to_free.push(node);
                        } else {
                            crate::lazyfree::free(node);
                        }
                    }
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
                shard.expire_cursor = cursor;
                shard.stats.expired += expired_here as u64;
                removed += expired_here as u64;
                if cursor == 0 || expired_here * 10 <= seen || start.elapsed() > budget {
                    break;
                }
            }
            drop(shard);
            drop(to_free);
        }
        self.stats.expire_cycles.fetch_add(1, Ordering::Relaxed);
        self.fold_avg_ttl(&ttl_sum);
        self.tracking_broadcast(hooks);
        removed
    }

    /// Keys active expiry removed from one shard (still locked) pass the funnel as
    /// a command's lazily expired keys do: WATCHers flagged, `expired` events.
    #[cold]
    fn remember_replica_ttls(
        &self,
        ctx: &mut crate::ctx::Ctx<'_, '_>,
        cmd: &Command,
        args: &[&[u8]],
    ) {
        let db = ctx.keys.db;
        for k in cmd.meta.keys(args) {
            let Some(key) = args.get(k.pos) else { continue };
            if let Ok((shard, hash)) = ctx.keys.shard(db, key) {
                if shard
                    .dict()
                    .get(key, hash)
                    .is_some_and(|n| n.expire_at() != 0)
                {
                    self.replica_keys.remember(db, key);
                }
            }
        }
    }

    pub(crate) fn expired_by_cycle(
        &self,
        db: usize,
        gone: &[crate::keyspace::Node],
        hooks: &dyn ServerHooks,
    ) {
        if self.watches.active() {
            for n in gone {
                self.watches.touch_expired_key(db, n.key());
            }
        }
        if self.tracking.active() {
            let mut invalid = Vec::new();
            for n in gone {
                self.tracking.key_changed(n.key(), 0, &mut invalid);
            }
            if !invalid.is_empty() {
                hooks.invalidate(0, &invalid);
            }
        }
        let ev = crate::notify::events::EXPIRED;
        if crate::notify::wanted(self.notify_flags(), ev.class) {
            let events: Vec<crate::notify::KeyEvent> =
                gone.iter().map(|n| (db, n.key().to_vec(), ev)).collect();
            hooks.keyspace_events(&events);
        }
    }

    fn fold_avg_ttl(&self, sums: &[(i64, i64)]) {
        for (db, &(sum, n)) in sums.iter().enumerate() {
            if n > 0 {
                let avg = sum / n;
                let slot = &self.stats.avg_ttl[db];
                let old = slot.load(Ordering::Relaxed);
                let new = if old == 0 {
                    avg
                } else {
                    (old / 50) * 49 + avg / 50
                };
                slot.store(new, Ordering::Relaxed);
            }
        }
    }
}

/// Hands what the command did to the hooks: DELs of keys it found expired, then
/// the command itself (or what it asked to log instead) if it changed something.
fn propagate(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) {
    let db = ctx.client.db;
    if ctx.keys.expired.is_empty() {
        // The common case, without allocating.
        if ctx.keys.dirty > 0 && ctx.keys.propagate == Propagate::AsIs {
            let offset = ctx.hooks.propagate(&[(db, args)]);
            if offset > 0 {
                ctx.client.aof_offset = offset;
            }
            return;
        }
        if ctx.keys.dirty == 0 {
            return;
        }
    }
    let expired = std::mem::take(&mut ctx.keys.expired);
    let dels: Vec<[&[u8]; 2]> = expired.iter().map(|(_, k)| [b"DEL", &k[..]]).collect();
    let mut cmds: Vec<(usize, &[&[u8]])> = Vec::with_capacity(dels.len() + 1);
    for ((db, _), del) in expired.iter().zip(&dels) {
        cmds.push((*db, &del[..]));
    }
    let replaced: Vec<Vec<&[u8]>>;
    if ctx.keys.dirty > 0 {
        match &ctx.keys.propagate {
            Propagate::AsIs => cmds.push((db, args)),
            Propagate::Nothing => {}
            Propagate::Commands(list) => {
                replaced = list
                    .iter()
                    .map(|argv| argv.iter().map(Vec::as_slice).collect())
                    .collect();
                cmds.extend(replaced.iter().map(|a| (db, &a[..])));
            }
        }
    }
    if cmds.is_empty() {
        return;
    }
    let offset = ctx.hooks.propagate(&cmds);
    if offset > 0 {
        ctx.client.aof_offset = offset;
    }
}

/// `ERR unknown command 'x', with args beginning with: 'a' 'b' ` as Redis builds it.
pub fn unknown_command(args: &[&[u8]]) -> CmdError {
    let name = args
        .first()
        .map(|n| truncate_lossy(n, 128))
        .unwrap_or_default();
    let mut list = String::new();
    for a in args.iter().skip(1) {
        if list.len() >= 128 {
            break;
        }
        let room = 128 - list.len();
        list.push('\'');
        list.push_str(&truncate_lossy(a, room));
        list.push_str("' ");
    }
    CmdError::UnknownCommand { name, args: list }
}

fn truncate_lossy(b: &[u8], max: usize) -> String {
    String::from_utf8_lossy(&b[..b.len().min(max)]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::run;

    #[test]
    fn a_halted_engine_holds_commands_and_transactions() {
        let e = Engine::new(Config::default(), &[]);
        let mut c = Client::new(1, true);
        assert_eq!(run(&e, &mut c, "SET a 1"), "+OK\r\n");
        assert_eq!(run(&e, &mut c, "MULTI"), "+OK\r\n");
        assert_eq!(run(&e, &mut c, "INCR a"), "+QUEUED\r\n");
        e.halt();
        // Not run, not queued, nothing written: the connection keeps the request.
        for line in ["SET a 2", "GET a", "PING", "EXEC"] {
            assert_eq!(run(&e, &mut c, line), "", "{line}");
            assert!(std::mem::take(&mut c.held), "{line}");
        }
        assert!(c.multi.is_some(), "the transaction stays queued");
        e.resume();
        assert_eq!(run(&e, &mut c, "EXEC"), "*1\r\n:2\r\n");
        assert!(!c.held);
        assert_eq!(run(&e, &mut c, "GET a"), "$1\r\n2\r\n");
    }
}
