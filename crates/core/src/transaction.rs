//! Transactions: MULTI, EXEC, DISCARD, WATCH, UNWATCH.
//!
//! Between MULTI and EXEC a client's commands are checked (unknown command, arity,
//! commands flagged no-multi) and queued; a rejected one makes EXEC fail with
//! EXECABORT, as in Redis 7.0. EXEC locks the union of the shards every queued
//! command needs (following SELECTs inside the transaction) plus the shards of the
//! watched keys, checks the watches, runs the commands in order under those locks and
//! releases them once, so no other client's command touching those keys can run in
//! between. Commands that take shard locks themselves ([`Locks::Own`]: SCAN, INFO,
//! CONFIG SET, BGSAVE, ...) run with the transaction's locks released for their
//! duration, which is the one place another client may interleave.
//!
//! WATCH registers `(db, key)` in [`Watches`]. A write command that changed
//! something (its `dirty` count) flags every client watching one of its keys while
//! it still holds its locks (Redis's signalModifiedKey/touchWatchedKey); a watched
//! key whose TTL passes before EXEC counts as modified, as in Redis 7.0. The check in
//! EXEC runs under the locks of the watched keys, so a write either flagged the
//! transaction before it looked or is ordered after it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use parking_lot::Mutex;

use crate::client::Client;
use crate::commands::meta::Flags;
use crate::commands::{Admit, CommandDef};
use crate::ctx::Ctx;
use crate::error::CmdError;
use crate::error::CmdResult;
use crate::hooks::ServerHooks;
use crate::keyspace::lock_id;

/// The transaction commands.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::new("multi", multi).admit(Admit::NOT_QUEUED),
    CommandDef::new("exec", exec).admit(Admit::NOT_QUEUED.and(Admit::RUNS_QUEUE)),
    CommandDef::new("discard", discard).admit(Admit::NOT_QUEUED),
    CommandDef::new("watch", watch).admit(Admit::NOT_QUEUED),
    CommandDef::new("unwatch", unwatch),
];

/// A client between MULTI and EXEC.
#[derive(Debug, Clone, Default)]
pub struct Multi {
    /// The queued commands, as received.
    pub queued: Vec<Vec<Vec<u8>>>,
    /// The union of the queued commands' flags: EXEC is admitted as a write, a
    /// denyoom command, ... when one of them is (Redis's mstate.cmd_flags).
    pub flags: Flags,
    /// Some queued command is not flagged `loading` (Redis's mstate.cmd_inv_flags).
    pub not_loading: bool,
    /// Some queued command is not flagged `stale` (cmd_inv_flags too): EXEC is
    /// refused with MASTERDOWN on a stale replica.
    pub not_stale: bool,
    /// A command was rejected while queueing: EXEC replies EXECABORT.
    pub aborted: bool,
    /// Bytes of the queued arguments plus a pointer each (CLIENT LIST's
    /// `multi-mem`, Redis's mstate.argv_len_sums).
    pub argv_mem: usize,
}

/// The keys one client watches.
#[derive(Debug, Clone, Default)]
pub struct Watched {
    keys: Vec<WatchedKey>,
    /// Set by a write to any of `keys`.
    dirty: Arc<AtomicBool>,
}

#[derive(Debug, Clone)]
struct WatchedKey {
    db: usize,
    key: Vec<u8>,
    /// The key's expire time when it was watched (0: none, or already expired then).
    deadline: i64,
}

impl Watched {
    /// Whether nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// How many keys are watched.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether a watched key changed or expired since WATCH (at time `now`).
    fn changed(&self, now: i64) -> bool {
        self.dirty.load(Relaxed)
            || self
                .keys
                .iter()
                .any(|w| w.deadline != 0 && w.deadline < now)
    }
}

/// One client watching a key: the key's db, the client's id and its dirty flag.
struct Watcher {
    db: usize,
    client: u64,
    flag: Arc<AtomicBool>,
    /// The key was already expired (but not yet deleted) when watched: its
    /// deletion for being expired is no change (Redis's watchedKey.expired).
    stale: bool,
}

/// Every watched key of every client, so writes can flag their watchers.
#[derive(Default)]
pub struct Watches {
    /// Number of watched key names: while zero, writes skip the map (one load).
    count: AtomicUsize,
    /// Key name to its watchers in every db (keyed by name alone so that a write
    /// looks its key up without building an owned key).
    map: Mutex<HashMap<Vec<u8>, Vec<Watcher>>>,
}

impl Watches {
    /// Whether any client watches anything.
    #[inline]
    pub fn active(&self) -> bool {
        self.count.load(Relaxed) > 0
    }

    fn add(&self, client: u64, db: usize, key: &[u8], flag: &Arc<AtomicBool>, stale: bool) {
        let mut map = self.map.lock();
        let watchers = map.entry(key.to_vec()).or_insert_with(|| {
            self.count.fetch_add(1, Relaxed);
            Vec::new()
        });
        watchers.push(Watcher {
            db,
            client,
            flag: flag.clone(),
            stale,
        });
    }

    /// Drops the watchers `gone` says to, and emptied keys.
    fn remove_where(
        &self,
        map: &mut HashMap<Vec<u8>, Vec<Watcher>>,
        key: &[u8],
        gone: impl Fn(&Watcher) -> bool,
    ) {
        if let Some(watchers) = map.get_mut(key) {
            watchers.retain(|w| !gone(w));
            if watchers.is_empty() {
                map.remove(key);
                self.count.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Forgets everything `client` watches (EXEC, DISCARD, UNWATCH, RESET, close).
    pub fn unwatch(&self, client: &mut Client) {
        let watched = std::mem::take(&mut client.watch);
        if watched.keys.is_empty() {
            return;
        }
        let mut map = self.map.lock();
        for w in watched.keys {
            self.remove_where(&mut map, &w.key, |x| x.client == client.id && x.db == w.db);
        }
    }

    /// Forgets what client `id` watches, when its [`Client`] is gone (a connection
    /// closed while blocked).
    pub fn forget_client(&self, id: u64) {
        let mut map = self.map.lock();
        map.retain(|_, watchers| {
            watchers.retain(|w| w.client != id);
            !watchers.is_empty()
        });
        self.count.store(map.len(), Relaxed);
    }

    /// Flags the clients watching `key` in `db` (Redis's touchWatchedKey).
    pub fn touch_key(&self, db: usize, key: &[u8]) {
        let map = self.map.lock();
        for w in map.get(key).into_iter().flatten() {
            if w.db == db {
                w.flag.store(true, Relaxed);
            }
        }
    }

    /// `key` in `db` is being deleted because its TTL passed: the clients watching
    /// it are flagged, except those that watched it already expired, for whom
    /// nothing changed (their mark is cleared: a later write does count).
    pub fn touch_expired_key(&self, db: usize, key: &[u8]) {
        let mut map = self.map.lock();
        for w in map.get_mut(key).into_iter().flatten() {
            if w.db != db {
                continue;
            }
            if std::mem::take(&mut w.stale) {
                continue;
            }
            w.flag.store(true, Relaxed);
        }
    }

    /// The watched keys of `db` with their watchers' flags (FLUSHDB, FLUSHALL and
    /// SWAPDB flag those whose key exists).
    pub fn watchers_in(&self, db: usize) -> Vec<(Vec<u8>, Arc<AtomicBool>)> {
        let map = self.map.lock();
        map.iter()
            .flat_map(|(key, ws)| {
                ws.iter()
                    .filter(|w| w.db == db)
                    .map(|w| (key.clone(), w.flag.clone()))
            })
            .collect()
    }
}

fn multi(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Other("MULTI calls can not be nested".into()));
    }
    ctx.client.multi = Some(Multi::default());
    ctx.out.ok();
    Ok(())
}

fn discard(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.take().is_none() {
        return Err(CmdError::Other("DISCARD without MULTI".into()));
    }
    ctx.engine.watches.unwatch(ctx.client);
    ctx.out.ok();
    Ok(())
}

fn exec(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.engine.exec_transaction(ctx.client, ctx.out, ctx.hooks)
}

fn watch(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if ctx.client.multi.is_some() {
        return Err(CmdError::Other("WATCH inside MULTI is not allowed".into()));
    }
    let db = ctx.keys.db;
    for key in &args[1..] {
        if ctx
            .client
            .watch
            .keys
            .iter()
            .any(|w| w.db == db && w.key == *key)
        {
            continue;
        }
        // Like Redis, WATCH only looks: an already expired key stays (deadline 0,
        // and its deletion for being expired will be no change).
        let (deadline, stale) = match ctx.keys.live_expire_at(db, key)? {
            Some(at) => (at, false),
            None => (0, ctx.keys.present(db, key)?),
        };
        let flag = ctx.client.watch.dirty.clone();
        ctx.engine.watches.add(ctx.client.id, db, key, &flag, stale);
        ctx.client.watch.keys.push(WatchedKey {
            db,
            key: key.to_vec(),
            deadline,
        });
    }
    ctx.out.ok();
    Ok(())
}

fn unwatch(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    ctx.engine.watches.unwatch(ctx.client);
    ctx.out.ok();
    Ok(())
}

/// The lock ids of the keys `client` watches.
pub(crate) fn watched_lock_ids(
    client: &Client,
) -> impl Iterator<Item = crate::keyspace::LockId> + '_ {
    client.watch.keys.iter().map(|w| lock_id(w.db, &w.key))
}

/// Whether EXEC must fail because a watched key changed (checked under the locks).
pub(crate) fn watch_broken(client: &Client, now: i64) -> bool {
    client.watch.changed(now)
}

/// Hooks for the commands of a transaction: what they log is collected, to be written
/// as one MULTI ... EXEC block (so a crash never leaves half a transaction, nor
/// another client's write inside its block, in the AOF).
pub(crate) struct TxHooks<'h> {
    pub inner: &'h dyn ServerHooks,
    pub log: Mutex<Vec<(usize, Vec<Vec<u8>>)>>,
    /// Entries of `log` bound for one target only: (index, [`AOF`] or
    /// [`REPLICAS`]); every other entry goes to both.
    pub only: Mutex<Vec<(usize, u8)>>,
}

/// Propagation targets (Redis's PROPAGATE_AOF / PROPAGATE_REPL).
pub(crate) const AOF: u8 = 1;
/// See [`AOF`].
pub(crate) const REPLICAS: u8 = 2;

impl<'h> TxHooks<'h> {
    /// Collects for `inner`.
    pub fn new(inner: &'h dyn ServerHooks) -> TxHooks<'h> {
        TxHooks {
            inner,
            log: Mutex::new(Vec::new()),
            only: Mutex::new(Vec::new()),
        }
    }

    /// Hands the collected block to `inner` (see [`propagate_block`]).
    pub fn flush(self, may_wrap: bool) -> u64 {
        let log = self.log.into_inner();
        if log.is_empty() {
            return 0;
        }
        propagate_block(self.inner, &log, &self.only.into_inner(), may_wrap)
    }
}

impl ServerHooks for TxHooks<'_> {
    fn as_any(&self) -> &dyn std::any::Any {
        self.inner.as_any()
    }
    fn config_changed(&self, name: &str) -> Result<(), String> {
        self.inner.config_changed(name)
    }
    fn keys_ready(&self, ready: Vec<(usize, Vec<u8>)>) {
        self.inner.keys_ready(ready);
    }
    fn propagate(&self, cmds: &[(usize, &[&[u8]])]) -> u64 {
        let mut log = self.log.lock();
        for (db, argv) in cmds {
            log.push((*db, argv.iter().map(|a| a.to_vec()).collect()));
        }
        0
    }
    fn propagate_to(&self, cmds: &[(usize, &[&[u8]])], aof: bool, replicas: bool) -> u64 {
        let target = if aof { AOF } else { 0 } | if replicas { REPLICAS } else { 0 };
        if target == 0 {
            return 0;
        }
        let mut log = self.log.lock();
        let mut only = self.only.lock();
        for (db, argv) in cmds {
            if target != AOF | REPLICAS {
                only.push((log.len(), target));
            }
            log.push((*db, argv.iter().map(|a| a.to_vec()).collect()));
        }
        0
    }
    fn deny_writes(&self) -> Option<String> {
        self.inner.deny_writes()
    }
    fn dbs_ready(&self, dbs: &[usize]) {
        self.inner.dbs_ready(dbs);
    }
    fn flushed_all(&self) {
        self.inner.flushed_all();
    }
    fn keyspace_events(&self, events: &[crate::notify::KeyEvent]) {
        self.inner.keyspace_events(events);
    }
    fn monitor(&self, client: &Client, db: usize, args: &[&[u8]]) {
        self.inner.monitor(client, db, args);
    }
    fn peer_id(&self, id: u64) -> String {
        self.inner.peer_id(id)
    }
    fn invalidate(&self, current: u64, keys: &[crate::tracking::Invalidation]) {
        self.inner.invalidate(current, keys);
    }
    fn invalidate_all(&self, current: u64) {
        self.inner.invalidate_all(current);
    }
    fn broadcast(&self, batches: Vec<crate::tracking::Broadcast>) {
        self.inner.broadcast(batches);
    }
    fn acl_kill_users(&self, names: &[Vec<u8>], current: u64) {
        self.inner.acl_kill_users(names, current);
    }
    fn acl_kill_subscribers(&self, name: &[u8], allowed: &[Vec<u8>]) {
        self.inner.acl_kill_subscribers(name, allowed);
    }
    fn client_info(&self, id: u64, cmd: Option<&str>) -> String {
        self.inner.client_info(id, cmd)
    }
    fn client_is_local(&self, id: u64) -> bool {
        self.inner.client_is_local(id)
    }
    fn long_running(&self) {
        self.inner.long_running();
    }

    fn debug_channel(&self, id: u64) -> Option<Box<dyn crate::hooks::DebugChannel>> {
        self.inner.debug_channel(id)
    }
}

/// Hands what a transaction or a script collected (`(db, argv)` in execution
/// order) to the propagation hook as one block: wrapped in MULTI/EXEC when more
/// than one command and `may_wrap` (not when already inside EXEC), a single
/// command alone, as Redis 7.0 propagates. `only` lists the entries bound for one
/// target (redis.set_repl); MULTI and EXEC then go to both, as in Redis's
/// propagatePendingCommands. Returns the AOF offset (0: none).
pub(crate) fn propagate_block(
    hooks: &dyn ServerHooks,
    log: &[(usize, Vec<Vec<u8>>)],
    only: &[(usize, u8)],
    may_wrap: bool,
) -> u64 {
    let multi_cmd: [&[u8]; 1] = [b"MULTI"];
    let exec_cmd: [&[u8]; 1] = [b"EXEC"];
    let argvs: Vec<Vec<&[u8]>> = log
        .iter()
        .map(|(_, argv)| argv.iter().map(Vec::as_slice).collect())
        .collect();
    let wrap = may_wrap && log.len() > 1;
    let block = |target: u8| -> Vec<(usize, &[&[u8]])> {
        let mut cmds: Vec<(usize, &[&[u8]])> = Vec::with_capacity(log.len() + 2);
        if wrap {
            cmds.push((log[0].0, &multi_cmd[..]));
        }
        for (i, ((db, _), argv)) in log.iter().zip(&argvs).enumerate() {
            let to = only
                .iter()
                .find(|(j, _)| *j == i)
                .map_or(AOF | REPLICAS, |o| o.1);
            if to & target != 0 {
                cmds.push((*db, &argv[..]));
            }
        }
        if wrap {
            cmds.push((log[log.len() - 1].0, &exec_cmd[..]));
        }
        cmds
    };
    if only.is_empty() {
        return hooks.propagate(&block(AOF | REPLICAS));
    }
    let offset = hooks.propagate_to(&block(AOF), true, false);
    hooks.propagate_to(&block(REPLICAS), false, true);
    offset
}
