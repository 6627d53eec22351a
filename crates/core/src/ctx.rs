//! What a command sees while it runs: the locked shards (through [`Keys`]), the
//! client, the reply buffer and the engine.

use ferrokv_resp::ReplyBuf;

use crate::client::Client;
use crate::commands::Command;
use crate::engine::Engine;
use crate::error::{CmdError, CmdResult};
use crate::hooks::ServerHooks;
use crate::keyspace::{
    shard_of, EntryMut, KeyHashes, LockId, LockSet, Lookup, Node, Shard, TypedRef, SHARDS,
};
use crate::types::string::StrValue;
use crate::types::Value;

/// Key access for one command: the held shard locks, the selected db and the
/// command's clock (Redis evaluates expiry against one time per command).
pub struct Keys<'k> {
    locks: LockSet<'k>,
    /// Selected database.
    pub db: usize,
    /// Unix time in ms when the command started.
    pub now_ms: i64,
    /// How this command's accesses update keys' LRU/LFU field.
    pub lru: crate::keyspace::Access,
    /// What the command's accesses must also do, fixed when it starts.
    pub mode: KeysMode,
    /// Modifications by this command (Redis's server.dirty: propagation, save
    /// points).
    pub dirty: u64,
    /// Calls of the write funnel ([`Keys::modified`]) by this command.
    pub signalled: u32,
    /// Keys that may now serve blocked clients (see [`crate::blocking`]).
    pub ready: Vec<(usize, Vec<u8>)>,
    /// What this command logs, if it changed something (see [`Propagate`]).
    pub propagate: Propagate,
    /// Keys found expired (and deleted) by this command's lookups, as `(db, key)`,
    /// while propagating: logged as DEL before the command, as Redis does.
    pub expired: Vec<(usize, Vec<u8>)>,
    /// Databases whose every key may now serve blocked clients (SWAPDB).
    pub ready_dbs: Vec<usize>,
    /// FLUSHALL ran: the server saves (with save points) once the locks are gone.
    pub flushed_all: bool,
    /// Set for a write command while a snapshot runs: every key it reaches is
    /// preserved as of the snapshot instant first (see [`crate::snapshot`]).
    pub cow: Option<&'k crate::snapshot::SnapshotState>,
    /// The WATCH registry while some client watches a key (read under the
    /// command's locks, so a WATCH of one of its keys is either seen or ordered
    /// after it).
    pub watches: Option<&'k crate::transaction::Watches>,
    /// Keyspace events this command produced, for the classes configured in
    /// `notify-keyspace-events` (see [`crate::notify`]).
    pub events: Vec<crate::notify::KeyEvent>,
    /// The hashes of the command's declared keys, from its lock step (the engine
    /// sets them for the command whose arguments they were computed from, and
    /// drops them with these `Keys`).
    pub(crate) hashes: KeyHashes,
    /// The tracking table while anything is tracked, with the id of the client
    /// whose command runs (see [`crate::tracking`]).
    pub tracking: Option<(&'k crate::tracking::Tracking, u64)>,
    /// Tracking clients to invalidate for the keys this command changed.
    pub invalidations: Vec<crate::tracking::Invalidation>,
    /// A db was flushed while something is tracked: every tracking client is told.
    pub flushed: bool,
}

/// Per-command switches of [`Keys`], set by the engine before the command runs.
#[derive(Debug, Clone, Copy, Default)]
pub struct KeysMode {
    /// Reads leave the access clock alone (CLIENT NO-TOUCH).
    pub no_touch: bool,
    /// Some client is blocked: keys that receive data are recorded in `ready`.
    pub track_ready: bool,
    /// Writes are propagated (AOF on): lazily expired keys are recorded in
    /// `expired` and commands say how they are to be logged.
    pub propagating: bool,
    /// Replaying the AOF: nothing expires (a key logged as alive must be alive when
    /// the next logged command on it is replayed), past expiry times are set rather
    /// than deleting the key.
    pub loading: bool,
    /// `notify-keyspace-events` flags when the command started (0: none recorded).
    pub notify: u32,
    /// Something is tracked (CLIENT TRACKING): changed keys are invalidated.
    pub tracked: bool,
    /// On a replica, for clients other than its master: reads see keys past their
    /// TTL as missing but leave them for the master's DEL (Redis's expireIfNeeded
    /// on replicas).
    pub hide_expired: bool,
    /// CLIENT PAUSE is on: the dataset stays as it is, a key past its TTL reads as
    /// missing but is not deleted (Redis's expireIfNeeded while paused).
    pub frozen: bool,
}

impl KeysMode {
    /// Whether a lookup must find out if it deletes an expired key (to log the
    /// DEL, flag WATCHers or emit `expired`), which costs a second probe.
    #[inline]
    fn observes_expiry(&self, watched: bool) -> bool {
        self.propagating
            || watched
            || self.tracked
            || crate::notify::wanted(self.notify, crate::notify::Class::EXPIRED)
    }
}

/// How a write command is logged to the AOF (Redis's rewriteClientCommandVector /
/// alsoPropagate).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Propagate {
    /// The command as received.
    #[default]
    AsIs,
    /// Nothing (the command changed nothing that needs replaying).
    Nothing,
    /// These commands instead (each an argv), in order, in the selected db.
    Commands(Vec<Vec<Vec<u8>>>),
}

impl<'k> Keys<'k> {
    /// Access through `locks`.
    pub fn new(locks: LockSet<'k>, db: usize, now_ms: i64) -> Self {
        Keys {
            locks,
            db,
            now_ms,
            lru: crate::keyspace::Access::Lru(lru_clock(now_ms)),
            mode: KeysMode::default(),
            dirty: 0,
            signalled: 0,
            ready: Vec::new(),
            propagate: Propagate::AsIs,
            expired: Vec::new(),
            ready_dbs: Vec::new(),
            flushed_all: false,
            cow: None,
            watches: None,
            events: Vec::new(),
            hashes: KeyHashes::default(),
            tracking: None,
            invalidations: Vec::new(),
            flushed: false,
        }
    }

    /// Installs the command's locks and its clock (the engine builds `Keys` before
    /// locking, so that the lock step hashes keys straight into it).
    pub(crate) fn start(&mut self, locks: LockSet<'k>, now_ms: i64) {
        self.locks = locks;
        self.now_ms = now_ms;
        self.lru = crate::keyspace::Access::Lru(lru_clock(now_ms));
    }

    /// The locks, once the command is done (a transaction reuses them).
    pub fn into_locks(self) -> LockSet<'k> {
        self.locks
    }

    /// Logs `argv` instead of the command as received (a second call adds another
    /// command). Does nothing while propagation is off.
    pub fn propagate_as(&mut self, argv: Vec<Vec<u8>>) {
        if !self.mode.propagating {
            return;
        }
        match &mut self.propagate {
            Propagate::Commands(v) => v.push(argv),
            p => *p = Propagate::Commands(vec![argv]),
        }
    }

    /// Whether an absolute expiry time `at` (ms) is already past, so the key is to
    /// be deleted rather than given the TTL. Never while loading the AOF (Redis's
    /// checkAlreadyExpired).
    pub fn already_expired(&self, at: i64) -> bool {
        !self.mode.loading && at <= self.now_ms
    }

    /// The time lookups compare TTLs with: while loading nothing is expired.
    fn expiry_now(&self) -> i64 {
        if self.mode.loading {
            i64::MIN
        } else {
            self.now_ms
        }
    }

    /// Before a lookup that may delete `key` for being expired: when someone must
    /// hear of the deletion (the AOF, WATCHers, `expired` subscribers), goes
    /// through the funnel for it. Costs a second probe, only then.
    fn note_expired(&mut self, db: usize, key: &[u8]) -> CmdResult<()> {
        if self.mode.frozen || !self.mode.observes_expiry(self.watches.is_some()) {
            return Ok(());
        }
        let now = self.expiry_now();
        let (shard, hash) = self.shard(db, key)?;
        let gone = shard
            .dict()
            .get(key, hash)
            .is_some_and(|n| n.expire_at() != 0 && n.expire_at() < now);
        if gone {
            self.expired_key(db, key);
        }
        Ok(())
    }

    /// A key is being deleted because its TTL passed (Redis's
    /// deleteExpiredKeyAndPropagate): `expired` event, WATCHers flagged, DEL logged.
    pub fn expired_key(&mut self, db: usize, key: &[u8]) {
        self.notify(db, key, crate::notify::events::EXPIRED);
        if let Some(w) = self.watches {
            w.touch_expired_key(db, key);
        }
        if let Some((t, _)) = self.tracking {
            // No client changed it: BCAST NOLOOP clients hear of it too.
            t.key_changed(key, 0, &mut self.invalidations);
        }
        if self.mode.propagating {
            self.expired.push((db, key.to_vec()));
        }
    }

    /// The expire time of `key` if it exists and is live (0: no TTL), without
    /// deleting it when expired, counting or touching (WATCH).
    pub fn live_expire_at(&mut self, db: usize, key: &[u8]) -> CmdResult<Option<i64>> {
        let now = self.expiry_now();
        let (shard, hash) = self.shard(db, key)?;
        Ok(shard
            .dict()
            .get(key, hash)
            .filter(|n| n.expire_at() == 0 || n.expire_at() >= now)
            .map(|n| n.expire_at()))
    }

    /// Whether `key` is in the table, expired or not (WATCH's stale keys).
    pub fn present(&mut self, db: usize, key: &[u8]) -> CmdResult<bool> {
        let (shard, hash) = self.shard(db, key)?;
        Ok(shard.dict().get(key, hash).is_some())
    }

    /// The write funnel: `key` in `db` was changed by `event` (Redis's
    /// signalModifiedKey + notifyKeyspaceEvent). Flags the clients WATCHing it and
    /// records the event when its class is configured. Every change of a key by a
    /// command passes here exactly where Redis signals it, and only when something
    /// changed.
    pub fn modified(&mut self, db: usize, key: &[u8], event: crate::notify::Event) {
        self.touched(db, key);
        self.notify(db, key, event);
    }

    /// Flags the WATCHers of `key` without an event: for the places where Redis
    /// calls signalModifiedKey apart from the notification (SMOVE's source).
    pub fn touched(&mut self, db: usize, key: &[u8]) {
        self.signalled += 1;
        if let Some(w) = self.watches {
            w.touch_key(db, key);
        }
        if let Some((t, writer)) = self.tracking {
            t.key_changed(key, writer, &mut self.invalidations);
        }
    }

    /// `key` changed representation only, which Redis propagates without signalling
    /// anyone (PFDEBUG TODENSE / GETREG turning a sparse HyperLogLog dense): passes
    /// the funnel without flagging WATCHers or emitting an event.
    pub fn reencoded(&mut self, db: usize, key: &[u8]) -> CmdResult<()> {
        self.signalled += 1;
        self.mark_dirty(db, key)
    }

    /// A change Redis counts (`server.dirty += n`) without signalling the key or
    /// emitting an event here: consumer-group bookkeeping (XREADGROUP, XACK,
    /// XCLAIM, XGROUP), which WATCH does not see in Redis 7.0. Propagated.
    pub fn counted(&mut self, db: usize, key: &[u8], n: u64) -> CmdResult<()> {
        self.signalled += 1;
        self.mark_dirty_by(db, key, n)
    }

    /// [`modified`](Self::modified) in the selected db.
    pub fn changed(&mut self, key: &[u8], event: crate::notify::Event) {
        self.modified(self.db, key, event);
    }

    /// Records `event` for `key` without touching WATCH (Redis notifies without
    /// signalling for key creation, `new`).
    pub fn notify(&mut self, db: usize, key: &[u8], event: crate::notify::Event) {
        if crate::notify::wanted(self.mode.notify, event.class) {
            self.events.push((db, key.to_vec(), event));
        }
    }

    /// `db` is being emptied (FLUSHDB, FLUSHALL) or swapped with `replaced_with`
    /// (SWAPDB): flags the WATCHers of keys that exist in either (Redis's
    /// touchAllWatchedKeysInDb). Call before the change, holding every shard of both.
    pub fn db_replaced(&mut self, db: usize, replaced_with: Option<usize>) -> CmdResult<()> {
        self.signalled += 1;
        // A flush (not SWAPDB) invalidates every tracking client's cache, once per
        // command (Redis's trackingInvalidateKeysOnFlush).
        if replaced_with.is_none() && self.tracking.is_some() {
            self.flushed = true;
        }
        let Some(w) = self.watches else {
            return Ok(());
        };
        for (key, flag) in w.watchers_in(db) {
            let exists = |keys: &mut Self, d: usize| -> CmdResult<bool> {
                // An empty db a flush holds shut has no shards to look in (WATCH
                // brings its db to life, so this is only a guard).
                if !keys.locks.keyspace().is_live(d) {
                    return Ok(false);
                }
                let now = keys.expiry_now();
                let (shard, hash) = keys.shard(d, &key)?;
                Ok(shard
                    .dict()
                    .get(&key, hash)
                    .is_some_and(|n| n.expire_at() == 0 || n.expire_at() >= now))
            };
            let hit = exists(self, db)?
                || match replaced_with {
                    Some(other) => exists(self, other)?,
                    None => false,
                };
            if hit {
                flag.store(true, std::sync::atomic::Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// The locks held.
    pub fn locks(&mut self) -> &mut LockSet<'k> {
        &mut self.locks
    }

    /// The shard holding `key` in `db`, and the key's hash (computed by the lock
    /// step for the command's own key arguments, else here).
    #[inline]
    pub fn shard(&mut self, db: usize, key: &[u8]) -> CmdResult<(&mut Shard, u64)> {
        let hash = self.hashes.get(key);
        let id = (db * SHARDS + shard_of(hash)) as LockId;
        let cow = self.cow;
        match self.locks.shard(id) {
            Some(s) => {
                // Every access of a command goes through here, so a write command
                // cannot change a key before the snapshot has its old entry.
                if let Some(snap) = cow {
                    snap.preserve(id, s, key, hash);
                }
                Ok((s, hash))
            }
            None => Err(CmdError::Other(
                "internal error: key accessed without its lock".into(),
            )),
        }
    }

    /// Looks `key` up in `db` with `mode`.
    pub fn lookup_in(
        &mut self,
        db: usize,
        key: &[u8],
        mode: Lookup,
    ) -> CmdResult<Option<EntryMut<'_>>> {
        if self.mode.hide_expired && matches!(mode, Lookup::Read | Lookup::ReadNoTouch) {
            let now = self.expiry_now();
            let (shard, hash) = self.shard(db, key)?;
            let stale = shard
                .dict()
                .get(key, hash)
                .is_some_and(|n| n.expire_at() != 0 && n.expire_at() < now);
            if stale {
                shard.stats.misses += 1;
                return Ok(None);
            }
        }
        self.note_expired(db, key)?;
        let (now, lru) = (self.expiry_now(), self.lru);
        let mode = match (mode, self.mode.no_touch) {
            (Lookup::Read, true) => Lookup::ReadNoTouch,
            (m, _) => m,
        };
        if matches!(mode, Lookup::Read | Lookup::ReadNoTouch)
            && crate::notify::wanted(self.mode.notify, crate::notify::Class::KEY_MISS)
        {
            let (shard, hash) = self.shard(db, key)?;
            if !shard.contains(key, hash, now) {
                // contains() skips the counters: the lookup below still counts.
                self.notify(db, key, crate::notify::events::KEYMISS);
            }
        }
        let frozen = self.mode.frozen;
        let (shard, hash) = self.shard(db, key)?;
        if frozen
            && !matches!(mode, Lookup::Write)
            && shard
                .dict()
                .get(key, hash)
                .is_some_and(|n| n.expire_at() != 0 && n.expire_at() < now)
        {
            // Counted as a miss like any expired read; deleted after the pause.
            if matches!(mode, Lookup::Read | Lookup::ReadNoTouch) {
                shard.count_miss();
            }
            return Ok(None);
        }
        let mut entry = shard.lookup(key, hash, now, mode, lru);
        if let Some(v) = entry.as_mut().and_then(|e| e.node.full_value_mut()) {
            v.rehash_step();
        }
        Ok(entry)
    }

    /// A read lookup in the selected db (counts hits/misses, touches).
    pub fn read(&mut self, key: &[u8]) -> CmdResult<Option<EntryMut<'_>>> {
        self.lookup_in(self.db, key, Lookup::Read)
    }

    /// A write lookup in the selected db.
    pub fn write(&mut self, key: &[u8]) -> CmdResult<Option<EntryMut<'_>>> {
        self.lookup_in(self.db, key, Lookup::Write)
    }

    /// Whether `key` exists (no touch, no stats).
    pub fn exists(&mut self, key: &[u8]) -> CmdResult<bool> {
        Ok(self.lookup_in(self.db, key, Lookup::NoTouch)?.is_some())
    }

    /// The value at `key` as a `T` (`get`: a projection such as
    /// [`Value::as_hash`]), looked up as `how` in the current db: `None` if
    /// missing, WRONGTYPE if of another type.
    pub fn typed<T: ?Sized>(
        &mut self,
        key: &[u8],
        how: Lookup,
        get: fn(&Value) -> Option<&T>,
    ) -> CmdResult<Option<TypedRef<'_, T>>> {
        match self.lookup_in(self.db, key, how)? {
            None => Ok(None),
            Some(e) => e.read_as(get).map(Some).ok_or(CmdError::WrongType),
        }
    }

    /// The string at `key` for reading: `None` if missing, WRONGTYPE if not a string.
    pub fn read_str(&mut self, key: &[u8]) -> CmdResult<Option<TypedRef<'_, StrValue>>> {
        self.typed(key, Lookup::Read, Value::as_str)
    }

    /// Sets `key` in the selected db (overwrite; TTL removed unless `keep_ttl`).
    /// Returns whether the key existed.
    pub fn set(&mut self, key: &[u8], value: Value, keep_ttl: bool) -> CmdResult<bool> {
        self.set_in(self.db, key, value, keep_ttl)
    }

    /// [`set`](Self::set) in another db.
    pub fn set_in(
        &mut self,
        db: usize,
        key: &[u8],
        value: Value,
        keep_ttl: bool,
    ) -> CmdResult<bool> {
        self.note_expired(db, key)?;
        let (now, lru) = (self.expiry_now(), self.lru);
        let blockable = value.is_blockable();
        self.note_stream_replaced(db, key)?;
        let (shard, hash) = self.shard(db, key)?;
        let existed = shard.set(key, hash, value, keep_ttl, now, lru);
        shard.stats.dirty += 1;
        self.dirty += 1;
        if !existed {
            self.note_created(db, key, blockable);
        }
        Ok(existed)
    }

    /// Sets `key` in the selected db with the TTL given by `ttl`, in one lookup.
    pub fn set_ttl(
        &mut self,
        key: &[u8],
        value: Value,
        ttl: crate::keyspace::Ttl,
    ) -> CmdResult<bool> {
        let db = self.db;
        self.note_expired(db, key)?;
        let (now, lru) = (self.expiry_now(), self.lru);
        let blockable = value.is_blockable();
        self.note_stream_replaced(db, key)?;
        let (shard, hash) = self.shard(db, key)?;
        let existed = shard.set_ex(key, hash, value, ttl, now, lru);
        shard.stats.dirty += 1;
        self.dirty += 1;
        if !existed {
            self.note_created(db, key, blockable);
        }
        Ok(existed)
    }

    /// Inserts a new key known to be absent and returns its entry.
    pub fn insert_new(
        &mut self,
        key: &[u8],
        value: Value,
        expire_at: Option<i64>,
    ) -> CmdResult<EntryMut<'_>> {
        let lru = self.lru;
        self.dirty += 1;
        let db = self.db;
        self.note_created(db, key, value.is_blockable());
        let (shard, hash) = self.shard(db, key)?;
        shard.stats.dirty += 1;
        Ok(shard.insert_new(key, hash, value, expire_at, lru))
    }

    /// Adds a key known to be absent without counting a change (Redis's dbAdd, which
    /// leaves server.dirty to the command): the caller counts what it changes with
    /// [`mark_dirty_by`](Self::mark_dirty_by). Emits `new` like every creation.
    pub fn add_new(&mut self, key: &[u8], value: Value) -> CmdResult<EntryMut<'_>> {
        let lru = self.lru;
        let db = self.db;
        self.note_created(db, key, value.is_blockable());
        let (shard, hash) = self.shard(db, key)?;
        Ok(shard.insert_new(key, hash, value, None, lru))
    }

    /// Deletes a live key in `db`; returns whether it existed.
    pub fn delete_in(&mut self, db: usize, key: &[u8]) -> CmdResult<bool> {
        Ok(match self.take_in(db, key)? {
            Some(node) => {
                crate::lazyfree::free(node);
                true
            }
            None => false,
        })
    }

    /// Deletes a live key in the selected db.
    pub fn delete(&mut self, key: &[u8]) -> CmdResult<bool> {
        self.delete_in(self.db, key)
    }

    /// Removes a live key and returns its entry (RENAME, MOVE).
    pub fn take_in(&mut self, db: usize, key: &[u8]) -> CmdResult<Option<Node>> {
        self.note_expired(db, key)?;
        let now = self.expiry_now();
        let (shard, hash) = self.shard(db, key)?;
        if !shard.contains(key, hash, now) {
            return Ok(None);
        }
        let node = shard.remove(key, hash);
        if node.is_some() {
            shard.stats.dirty += 1;
            self.dirty += 1;
        }
        if node
            .as_ref()
            .is_some_and(|n| matches!(*n.value(), Value::Stream(_)))
        {
            // Clients blocked in XREADGROUP on it are told it is gone.
            self.signal_ready(db, key);
        }
        Ok(node)
    }

    /// Puts an entry (from [`take_in`](Self::take_in)) under `key` in `db`, replacing
    /// what is there.
    pub fn put_in(&mut self, db: usize, key: &[u8], mut node: Node) -> CmdResult<()> {
        if node.key() != key {
            node = node.rekey(key);
        }
        // Redis deletes the destination first and adds the key anew: always `new`.
        self.note_created(db, key, node.value().is_blockable());
        let (shard, hash) = self.shard(db, key)?;
        shard.put_node(node, hash);
        shard.stats.dirty += 1;
        self.dirty += 1;
        Ok(())
    }

    /// A key is being created (Redis's dbAdd): emits `new`, and a list or zset
    /// becomes ready for the clients blocked on it.
    fn note_created(&mut self, db: usize, key: &[u8], blockable: bool) {
        self.notify(db, key, crate::notify::events::NEW);
        if self.mode.track_ready && blockable {
            self.signal_ready(db, key);
        }
    }

    /// Before `key` is overwritten: a stream being replaced makes the key ready, so
    /// clients blocked in XREADGROUP on it get their error (Redis's dbSetValue).
    fn note_stream_replaced(&mut self, db: usize, key: &[u8]) -> CmdResult<()> {
        if !self.mode.track_ready {
            return Ok(());
        }
        let (shard, hash) = self.shard(db, key)?;
        let was_stream = shard
            .dict()
            .get(key, hash)
            .is_some_and(|n| matches!(*n.value(), Value::Stream(_)));
        if was_stream {
            self.signal_ready(db, key);
        }
        Ok(())
    }

    /// Records that `key` in `db` received data a blocked client may be waiting for.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        if !self.mode.track_ready {
            return;
        }
        if !self.ready.iter().any(|(d, k)| *d == db && k == key) {
            self.ready.push((db, key.to_vec()));
        }
    }

    /// Counts a modification that did not go through the helpers above.
    pub fn mark_dirty(&mut self, db: usize, key: &[u8]) -> CmdResult<()> {
        self.mark_dirty_by(db, key, 1)
    }

    /// Counts `n` modifications of `key` at once (Redis's `server.dirty += n`: PFADD
    /// counts every register it raised, BITFIELD every field it changed).
    pub fn mark_dirty_by(&mut self, db: usize, key: &[u8], n: u64) -> CmdResult<()> {
        let (shard, _) = self.shard(db, key)?;
        shard.stats.dirty += n;
        self.dirty += n;
        Ok(())
    }
}

/// Redis's 24-bit LRU clock in seconds.
pub fn lru_clock(now_ms: i64) -> u32 {
    ((now_ms / 1000) as u64 & 0xFF_FFFF) as u32
}

/// The running command's context.
pub struct Ctx<'a, 'k> {
    /// The engine.
    pub engine: &'k Engine,
    /// Key access.
    pub keys: Keys<'k>,
    /// The calling connection's state.
    pub client: &'a mut Client,
    /// Where the reply goes.
    pub out: &'a mut ReplyBuf,
    /// The server around the engine.
    pub hooks: &'a dyn ServerHooks,
    /// The command being run.
    pub cmd: &'k Command,
}

impl Ctx<'_, '_> {
    /// Unix time in ms at the start of the command.
    pub fn now_ms(&self) -> i64 {
        self.keys.now_ms
    }
}
