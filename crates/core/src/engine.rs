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
use crate::keyspace::{lock_id, Keyspace, LockId, LockSet, SHARDS};

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
#[derive(Default)]
pub struct Clock {
    offset_ms: AtomicI64,
}

impl Clock {
    /// Unix time in milliseconds.
    pub fn now_ms(&self) -> i64 {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        wall + self.offset_ms.load(Ordering::Relaxed)
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
        Engine {
            keyspace: Keyspace::new(dbs),
            config,
            registry: Registry::build(&defs),
            stats,
            clock: Clock::default(),
            started: Instant::now(),
            snapshot: crate::snapshot::SnapshotState::new(dbs * SHARDS),
            blocked_clients: std::sync::atomic::AtomicUsize::new(0),
            propagating: std::sync::atomic::AtomicBool::new(false),
            bgsave_failed: std::sync::atomic::AtomicBool::new(false),
            watches: crate::transaction::Watches::default(),
        }
    }

    /// Runs one request and writes its reply to `out`.
    pub fn execute(
        &self,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
    ) {
        if let Err(e) = self.try_execute(client, args, out, hooks) {
            self.reply_error(&e, out);
        }
    }

    /// Writes error `e` as the reply and counts it (errorstats).
    fn reply_error(&self, e: &CmdError, out: &mut ReplyBuf) {
        self.stats.error_replies.fetch_add(1, Ordering::Relaxed);
        let text = e.to_string();
        let code = text.split(' ').next().unwrap_or("ERR");
        *self
            .stats
            .error_codes
            .lock()
            .entry(code.to_string())
            .or_insert(0) += 1;
        out.error(&text);
    }

    /// Resolves the command (and subcommand) for `args`, checking arity.
    pub fn resolve<'e>(&'e self, args: &[&[u8]]) -> Result<&'e Command, CmdError> {
        let name = args.first().copied().unwrap_or_default();
        let Some(mut cmd) = self.registry.get(name) else {
            return Err(unknown_command(args));
        };
        if cmd.handler.is_none() || (!cmd.subcommands.is_empty() && args.len() >= 2) {
            if args.len() < 2 {
                return Err(CmdError::WrongArity(cmd.meta.name.clone()));
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
        if !cmd.meta.arity_ok(args.len()) {
            return Err(CmdError::WrongArity(cmd.meta.name.clone()));
        }
        Ok(cmd)
    }

    /// A command refused before it ran: counted, and inside MULTI it makes EXEC
    /// fail (Redis's rejectCommand / flagTransaction).
    fn reject(&self, client: &mut Client, e: CmdError) -> Result<(), CmdError> {
        self.stats.rejected_calls.fetch_add(1, Ordering::Relaxed);
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
        let cmd = match self.resolve(args) {
            Ok(c) => c,
            Err(e) => return self.reject(client, e),
        };
        if !client.authenticated && !cmd.meta.flags.has(Flags::NO_AUTH) {
            return self.reject(client, CmdError::NoAuth);
        }
        if cmd.handler.is_none() {
            return Err(CmdError::WrongArity(cmd.meta.name.clone()));
        }
        let in_multi =
            client.multi.is_some() && !crate::transaction::runs_inside_multi(&cmd.meta.name);
        if in_multi && cmd.meta.flags.has(Flags::NO_MULTI) {
            return self.reject(
                client,
                CmdError::Other("Command not allowed inside a transaction".into()),
            );
        }
        if (cmd.meta.flags.has(Flags::WRITE) || cmd.meta.name == "ping")
            && !client.loading
            && (self.propagating.load(Ordering::Relaxed)
                || self.bgsave_failed.load(Ordering::Relaxed))
        {
            if let Some(e) = hooks.deny_writes() {
                return self.reject(client, CmdError::Raw(e));
            }
        }
        if in_multi {
            if let Some(m) = &mut client.multi {
                m.queued.push(args.iter().map(|a| a.to_vec()).collect());
            }
            out.simple(b"QUEUED");
            return Ok(());
        }
        let locks = self.lock_for(cmd, args, client.db);
        let (result, locks, ready, ready_dbs) =
            self.run_locked(cmd, client, args, out, hooks, locks);
        // The locks are released before blocked clients are served: serving runs
        // their commands, which take locks of their own.
        drop(locks);
        if !ready.is_empty() {
            hooks.keys_ready(ready);
        }
        if !ready_dbs.is_empty() {
            hooks.dbs_ready(&ready_dbs);
        }
        result
    }

    /// Runs `cmd` holding `locks` (which cover what it needs) and hands the locks
    /// back, with the keys and dbs that may now serve blocked clients.
    #[allow(clippy::type_complexity)]
    fn run_locked<'e>(
        &'e self,
        cmd: &'e Command,
        client: &mut Client,
        args: &[&[u8]],
        out: &mut ReplyBuf,
        hooks: &dyn ServerHooks,
        mut locks: LockSet<'e>,
    ) -> (
        Result<(), CmdError>,
        LockSet<'e>,
        Vec<(usize, Vec<u8>)>,
        Vec<usize>,
    ) {
        let Some(handler) = cmd.handler else {
            return (
                Err(CmdError::WrongArity(cmd.meta.name.clone())),
                locks,
                Vec::new(),
                Vec::new(),
            );
        };
        let snapshot_write = self.snapshot.active() && cmd.meta.flags.has(Flags::WRITE);
        let whole_dbs = matches!(cmd.locks, Locks::Db | Locks::AllDbs);
        if snapshot_write && whole_dbs {
            self.snapshot_before_write(&mut locks);
        }
        let db = client.db;
        let mut keys = Keys::new(locks, db, self.clock.now_ms());
        if snapshot_write && !whole_dbs {
            keys.cow = Some(&self.snapshot);
        }
        keys.track_ready = self.blocked_clients.load(Ordering::Relaxed) > 0;
        keys.no_touch = client.no_touch && cmd.meta.name != "touch";
        keys.loading = client.loading;
        // Read under the command's locks: the AOF is turned on while every lock is
        // held, so a command either is in the rewrite's snapshot or is logged.
        // While the AOF is off this load is all propagation costs.
        keys.propagating = !client.loading && self.propagating.load(Ordering::Acquire);
        if self.lfu_policy() {
            keys.lru = crate::keyspace::Access::Lfu {
                minutes: crate::keyspace::access::lfu_minutes(keys.now_ms),
                log_factor: self.config.int(P::LfuLogFactor).clamp(0, u32::MAX as i64) as u32,
                decay: self.config.int(P::LfuDecayTime).clamp(0, u32::MAX as i64) as u32,
            };
        }
        client.last_cmd = cmd.meta.name.as_str();
        let mut ctx = Ctx {
            engine: self,
            keys,
            client,
            out,
            hooks,
            cmd,
        };
        let result = handler(&mut ctx, args);
        if ctx.keys.propagating {
            // Still under the command's locks: the log order is the execution order.
            propagate(&mut ctx, args);
        }
        if ctx.keys.dirty > 0 && self.watches.active() {
            // Under the locks too: an EXEC that checks its watches after taking these
            // shards sees the flag.
            self.watches.touch_after(cmd, args, db);
        }
        let ready = std::mem::take(&mut ctx.keys.ready);
        let ready_dbs = std::mem::take(&mut ctx.keys.ready_dbs);
        let locks = ctx.keys.into_locks();
        (result, locks, ready, ready_dbs)
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
                self.lock_ids_for(cmd, args, db, |id| ids.push(id));
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
        if crate::transaction::watch_broken(client, self.clock.now_ms()) {
            drop(locks);
            self.watches.unwatch(client);
            out.null_array();
            return Ok(());
        }
        let tx = crate::transaction::TxHooks {
            inner: hooks,
            log: parking_lot::Mutex::new(Vec::new()),
        };
        let (mut ready, mut ready_dbs) = (Vec::new(), Vec::new());
        let exec_name = client.last_cmd;
        client.in_exec = true;
        out.array(queued.len());
        for (args, cmd) in queued.iter().zip(resolved) {
            let Some(cmd) = cmd else {
                // Resolved when queued; only a table change could get here.
                self.reply_error(&unknown_command(args), out);
                continue;
            };
            if matches!(cmd.locks, Locks::Own) {
                // It takes shard locks itself: holding ours could deadlock.
                drop(locks);
                self.execute(client, args, out, &tx);
                locks = LockSet::lock(&self.keyspace, &mut ids);
                continue;
            }
            let (result, back, r, rd) = self.run_locked(cmd, client, args, out, &tx, locks);
            locks = back;
            ready.extend(r);
            ready_dbs.extend(rd);
            if let Err(e) = result {
                self.reply_error(&e, out);
            }
        }
        client.in_exec = false;
        client.last_cmd = exec_name;
        let log = tx.log.into_inner();
        if !log.is_empty() {
            let multi_cmd: [&[u8]; 1] = [b"MULTI"];
            let exec_cmd: [&[u8]; 1] = [b"EXEC"];
            let argvs: Vec<Vec<&[u8]>> = log
                .iter()
                .map(|(_, argv)| argv.iter().map(Vec::as_slice).collect())
                .collect();
            let mut cmds: Vec<(usize, &[&[u8]])> = Vec::with_capacity(log.len() + 2);
            // One command is logged alone, as Redis 7.0 propagates it.
            let wrap = log.len() > 1;
            if wrap {
                cmds.push((log[0].0, &multi_cmd[..]));
            }
            for ((db, _), argv) in log.iter().zip(&argvs) {
                cmds.push((*db, &argv[..]));
            }
            if wrap {
                cmds.push((log[log.len() - 1].0, &exec_cmd[..]));
            }
            // Still under the transaction's locks: logged in execution order.
            let offset = hooks.propagate(&cmds);
            if offset > 0 {
                client.aof_offset = offset;
            }
        }
        drop(locks);
        self.watches.unwatch(client);
        if !ready.is_empty() {
            hooks.keys_ready(ready);
        }
        if !ready_dbs.is_empty() {
            hooks.dbs_ready(&ready_dbs);
        }
        Ok(())
    }

    /// Whether the maxmemory policy is an LFU one (keys then carry LFU counters).
    pub fn lfu_policy(&self) -> bool {
        // Indexes of volatile-lfu and allkeys-lfu in the policy enum.
        matches!(self.config.int(P::MaxmemoryPolicy), 1 | 5)
    }

    /// Takes the locks `cmd` needs for `args` in `db`.
    pub fn lock_for<'e>(&'e self, cmd: &Command, args: &[&[u8]], db: usize) -> LockSet<'e> {
        let ks = &self.keyspace;
        match cmd.locks {
            Locks::Db => LockSet::lock_dbs(ks, [db]),
            Locks::AllDbs => LockSet::lock_dbs(ks, 0..ks.db_count()),
            Locks::Own => LockSet::empty(ks),
            Locks::Auto if cmd.meta.key_specs.is_empty() => LockSet::empty(ks),
            Locks::Auto | Locks::Custom(_) => {
                let mut ids: smallvec::SmallVec<[LockId; 8]> = smallvec::SmallVec::new();
                self.lock_ids_for(cmd, args, db, |id| ids.push(id));
                LockSet::lock(ks, &mut ids)
            }
        }
    }

    /// Passes each lock id `cmd` needs for `args` in `db` to `push` (one command's
    /// set, or a transaction's union).
    fn lock_ids_for(&self, cmd: &Command, args: &[&[u8]], db: usize, mut push: impl FnMut(LockId)) {
        let dbs = self.keyspace.db_count();
        let whole = |d: usize| (d * SHARDS..(d + 1) * SHARDS).map(|i| i as LockId);
        match cmd.locks {
            Locks::Auto => cmd.meta.for_each_key(args, |i| push(lock_id(db, args[i]))),
            Locks::Db => whole(db).for_each(push),
            Locks::AllDbs => (0..dbs).flat_map(whole).for_each(push),
            Locks::Custom(f) => f(args, db, dbs).into_iter().for_each(push),
            Locks::Own => {}
        }
    }

    /// Sums the per-shard counters (locks each shard briefly, one at a time).
    pub fn shard_totals(&self) -> ShardTotals {
        let mut t = ShardTotals::default();
        for id in 0..(self.keyspace.db_count() * SHARDS) {
            let s = self.keyspace.lock_one(id as LockId);
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
        let start = Instant::now();
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
                return removed;
            }
            let mut shard = self.keyspace.lock_one(id as LockId);
            if shard.expires == 0 {
                continue;
            }
            let db = id / SHARDS;
            loop {
                let (mut seen, mut expired_here) = (0usize, 0usize);
                let mut cursor = shard.expire_cursor;
                while seen < per_round {
                    let (next, gone) = shard.dict.scan_remove(cursor, |n| {
                        if n.expire_at == 0 {
                            return false;
                        }
                        seen += 1;
                        if n.expire_at < now {
                            true
                        } else {
                            ttl_sum[db].0 += n.expire_at - now;
                            ttl_sum[db].1 += 1;
                            false
                        }
                    });
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
                        crate::lazyfree::free(node);
                    }
                    cursor = next;
                    if cursor == 0 {
                        break;
                    }
                }
                shard.expire_cursor = cursor;
                shard.expires -= expired_here;
                shard.stats.expired += expired_here as u64;
                removed += expired_here as u64;
                if cursor == 0 || expired_here * 10 <= seen || start.elapsed() > budget {
                    break;
                }
            }
        }
        self.stats.expire_cycles.fetch_add(1, Ordering::Relaxed);
        self.fold_avg_ttl(&ttl_sum);
        removed
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
