//! Clients parked by blocking commands (BLPOP, BLMOVE, BZPOPMIN, ...): the server
//! side of core's blocking contract (see `ferrokv_core::blocking`).
//!
//! A command that finds nothing to serve sets `Client::block` and replies nothing.
//! The connection then parks: it moves its `Client` and the command into a
//! [`Parked`] queued (FIFO) on each key, and waits for a reply, its timeout, a
//! CLIENT UNBLOCK, or the peer closing.
//!
//! Serving happens on the thread of the command that made a key ready, right after
//! that command released its locks and before its own reply is sent: the engine calls
//! [`ServerHooks::keys_ready`](ferrokv_core::ServerHooks::keys_ready), which re-runs
//! the parked commands in FIFO order per key, skipping those that wait for another
//! type than the key holds now (a BLPOP is not served by a zset), each with
//! `Client::serving_key` set so that it looks at that key only. A re-run that still
//! finds nothing (the key was pushed and popped within one command, or another
//! waiter took it) leaves the client in its place, and for pops the key is spent.
//! Clients blocked for a reason other than keys (WAIT) are only ended by their
//! timeout, CLIENT UNBLOCK or a disconnect. Whoever first takes a parked client out of
//! its slot (serving, timeout, CLIENT UNBLOCK, disconnect) owns it; the others see it
//! gone.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use ferrokv_core::blocking::{Awaits, BlockReason, BlockRequest};
use ferrokv_core::{Client, Engine, ServerHooks};
use ferrokv_resp::ReplyBuf;
use parking_lot::Mutex;
use tokio::sync::Notify;

/// One parked client.
pub struct Parked {
    /// CLIENT ID.
    pub id: u64,
    /// Why it waits.
    reason: BlockReason,
    keys: Vec<DbKey>,
    /// Whether it waits with a timeout (INFO clients_in_timeout_table).
    timed: bool,
    slot: Mutex<Slot>,
    done: Notify,
}

enum Slot {
    /// Waiting for a key: the client state and the command to re-run.
    Waiting { client: Client, args: Vec<Vec<u8>> },
    /// Served (or unblocked): the client and the reply to send.
    Done { client: Client, reply: Vec<u8> },
    /// Taken by its connection.
    Taken,
}

impl Parked {
    /// A client blocked by `args` for `req` (its command is re-run when served:
    /// `args`, or the arguments the request resolved at block time).
    pub fn new(client: Client, args: Vec<Vec<u8>>, req: BlockRequest) -> Arc<Parked> {
        let keys = req.keys();
        let args = match &req.reason {
            BlockReason::Keys {
                rerun: Some(resolved),
                ..
            } => resolved.clone(),
            _ => args,
        };
        Arc::new(Parked {
            id: client.id,
            reason: req.reason,
            keys,
            timed: req.timeout_ms.is_some(),
            slot: Mutex::new(Slot::Waiting { client, args }),
            done: Notify::new(),
        })
    }

    /// The reply when its wait ends without being served (timeout, CLIENT UNBLOCK
    /// TIMEOUT): Redis's replyToBlockedClientTimedOut.
    /// `acked` counts the replicas that acknowledged an offset (WAIT's reply).
    pub fn timeout_reply(&self, out: &mut ReplyBuf, acked: impl Fn(u64) -> u64) {
        match &self.reason {
            BlockReason::Keys { .. } => out.null_array(),
            BlockReason::Replicas { offset, .. } => out.int(acked(*offset) as i64),
            BlockReason::Shutdown => out.error(crate::shutdown::FAILED_TEXT),
        }
    }

    /// Resolves when the client has been served or unblocked.
    pub async fn served(&self) {
        self.done.notified().await
    }

    /// Whether it has been served and its reply waits (its slot is locked while
    /// its command runs, so this waits for a command being served to finish).
    pub fn is_done(&self) -> bool {
        matches!(*self.slot.lock(), Slot::Done { .. })
    }

    /// Takes the reply of a served client.
    pub fn take_done(&self) -> Option<(Client, Vec<u8>)> {
        let mut slot = self.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Done { client, reply } => Some((client, reply)),
            other => {
                *slot = other;
                None
            }
        }
    }
}

/// Replicas that acknowledged an offset.
pub type AckCounter = Box<dyn Fn(u64) -> u64 + Send + Sync>;

/// A key of a database.
type DbKey = (usize, Vec<u8>);

/// Whether `key` is in `db`'s table but past its TTL (not yet deleted).
fn expired_but_present(engine: &Engine, db: usize, key: &[u8]) -> bool {
    if db >= engine.keyspace.db_count() {
        return false;
    }
    let now = engine.clock.now_ms();
    let shard = engine
        .keyspace
        .lock_one(ferrokv_core::keyspace::lock_id(db, key));
    shard
        .dict()
        .get(key, ferrokv_core::keyspace::hash_key(key))
        .is_some_and(|n| n.expire_at() != 0 && n.expire_at() < now)
}

/// Every parked client, queued per key.
#[derive(Default)]
pub struct Blocked {
    /// Counts the replicas that acknowledged an offset (set by replication).
    pub ack_counter: std::sync::OnceLock<AckCounter>,
    queues: Mutex<HashMap<DbKey, VecDeque<Arc<Parked>>>>,
    by_id: Mutex<HashMap<u64, Arc<Parked>>>,
    timed: std::sync::atomic::AtomicUsize,
}

thread_local! {
    /// Keys made ready while this thread is already serving (a served BLMOVE pushes
    /// to its destination): served by the outer call, in order, without recursion.
    static SERVING: RefCell<Option<VecDeque<DbKey>>> = const { RefCell::new(None) };
}

impl Blocked {
    /// Registers a parked client at the tail of each of its keys' queues.
    pub fn park(&self, engine: &Engine, p: &Arc<Parked>) {
        // Counted and findable by id before it is visible in a queue: a thread that
        // serves it from the queue at once must find it to unregister it.
        let previous = self.by_id.lock().insert(p.id, p.clone());
        engine.blocked_clients.fetch_add(1, Relaxed);
        if p.timed {
            self.timed.fetch_add(1, Relaxed);
        }
        // Its previous registration, served but not yet unregistered by the thread
        // that served it, stops counting now (that thread will not find it by id).
        if let Some(old) = previous.filter(|old| !Arc::ptr_eq(old, p)) {
            engine.blocked_clients.fetch_sub(1, Relaxed);
            if old.timed {
                self.timed.fetch_sub(1, Relaxed);
            }
        }
        let mut q = self.queues.lock();
        for k in &p.keys {
            q.entry(k.clone()).or_default().push_back(p.clone());
        }
    }

    fn unregister(&self, engine: &Engine, p: &Arc<Parked>) {
        let mut q = self.queues.lock();
        for k in &p.keys {
            if let Some(list) = q.get_mut(k) {
                list.retain(|x| !Arc::ptr_eq(x, p));
                if list.is_empty() {
                    q.remove(k);
                }
            }
        }
        drop(q);
        // Only this very registration: the same client may already be parked again
        // (served, replied, and blocked by its next command) under the same id.
        let removed = {
            let mut ids = self.by_id.lock();
            match ids.get(&p.id) {
                Some(x) if Arc::ptr_eq(x, p) => ids.remove(&p.id).is_some(),
                _ => false,
            }
        };
        if removed {
            engine.blocked_clients.fetch_sub(1, Relaxed);
            if p.timed {
                self.timed.fetch_sub(1, Relaxed);
            }
        }
    }

    /// Takes a still-waiting client back (timeout, disconnect, kill). `None` when it
    /// was served meanwhile: its reply is then in the slot.
    pub fn cancel(&self, engine: &Engine, p: &Arc<Parked>) -> Option<Client> {
        let mut slot = p.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Waiting { client, .. } => {
                drop(slot);
                self.unregister(engine, p);
                Some(client)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// Its timeout passed: takes a still-waiting client back like
    /// [`cancel`](Self::cancel), and counts the call in the command's statistics
    /// as Redis does for a blocked call that times out.
    pub fn time_out(
        &self,
        engine: &Engine,
        hooks: &dyn ServerHooks,
        p: &Arc<Parked>,
    ) -> Option<Client> {
        let mut slot = p.slot.lock();
        match std::mem::replace(&mut *slot, Slot::Taken) {
            Slot::Waiting { client, args } => {
                drop(slot);
                self.unregister(engine, p);
                let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
                engine.count_unblocked(&client, &argv, 0, hooks);
                Some(client)
            }
            other => {
                *slot = other;
                None
            }
        }
    }

    /// CLIENT UNBLOCK: ends the wait of client `id` with the timeout reply, or with
    /// an UNBLOCKED error. Returns whether it was blocked.
    pub fn unblock(&self, engine: &Engine, hooks: &dyn ServerHooks, id: u64, error: bool) -> bool {
        let Some(p) = self.by_id.lock().get(&id).cloned() else {
            return false;
        };
        let mut slot = p.slot.lock();
        if !matches!(*slot, Slot::Waiting { .. }) {
            return false;
        }
        let Slot::Waiting { client, args } = std::mem::replace(&mut *slot, Slot::Taken) else {
            return false;
        };
        let mut out = ReplyBuf::new(client.proto);
        if error {
            let text = "UNBLOCKED client unblocked via CLIENT UNBLOCK";
            out.error(text);
            let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            engine.count_unblocked_error(&client, &argv, text, hooks);
        } else {
            p.timeout_reply(&mut out, |o| self.acked(o));
            let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            engine.count_unblocked(&client, &argv, 0, hooks);
        }
        *slot = Slot::Done {
            client,
            reply: out.as_bytes().to_vec(),
        };
        drop(slot);
        self.unregister(engine, &p);
        p.done.notify_one();
        true
    }

    /// Replicas that acknowledged `offset` (0 before replication installs its
    /// counter).
    pub fn acked(&self, offset: u64) -> u64 {
        self.ack_counter.get().map_or(0, |f| f(offset))
    }

    /// Ends the WAITs that `acked` now satisfies, with their reply (the number
    /// of replicas that acknowledged their offset).
    pub fn serve_waits(&self, engine: &Engine, acked: impl Fn(u64) -> u64) {
        let waits: Vec<(u64, Arc<Parked>)> = self
            .by_id
            .lock()
            .iter()
            .filter_map(|(id, p)| match p.reason {
                BlockReason::Replicas { offset, replicas } if acked(offset) >= replicas => {
                    Some((*id, p.clone()))
                }
                _ => None,
            })
            .collect();
        for (_, p) in waits {
            let mut slot = p.slot.lock();
            if !matches!(*slot, Slot::Waiting { .. }) {
                continue;
            }
            let Slot::Waiting { client, .. } = std::mem::replace(&mut *slot, Slot::Taken) else {
                continue;
            };
            let mut out = ReplyBuf::new(client.proto);
            p.timeout_reply(&mut out, &acked);
            *slot = Slot::Done {
                client,
                reply: out.as_bytes().to_vec(),
            };
            drop(slot);
            self.unregister(engine, &p);
            p.done.notify_one();
        }
    }

    /// Ends every wait on keys with the error `text` (a master turned replica).
    pub fn unblock_all_on_keys(&self, engine: &Engine, text: &str) {
        self.unblock_all(engine, text, |r| matches!(r, BlockReason::Keys { .. }));
    }

    /// Ends every SHUTDOWN waiting for replicas with the error `text` (the
    /// shutdown failed or was aborted: Redis's replyToClientsBlockedOnShutdown).
    pub fn unblock_shutdowns(&self, engine: &Engine, text: &str) {
        self.unblock_all(engine, text, |r| matches!(r, BlockReason::Shutdown));
    }

    fn unblock_all(&self, engine: &Engine, text: &str, which: impl Fn(&BlockReason) -> bool) {
        let parked: Vec<Arc<Parked>> = self
            .by_id
            .lock()
            .values()
            .filter(|p| which(&p.reason))
            .cloned()
            .collect();
        for p in parked {
            let mut slot = p.slot.lock();
            if !matches!(*slot, Slot::Waiting { .. }) {
                continue;
            }
            let Slot::Waiting { client, .. } = std::mem::replace(&mut *slot, Slot::Taken) else {
                continue;
            };
            let mut out = ReplyBuf::new(client.proto);
            out.error(text);
            *slot = Slot::Done {
                client,
                reply: out.as_bytes().to_vec(),
            };
            drop(slot);
            self.unregister(engine, &p);
            p.done.notify_one();
        }
    }

    /// Parked clients with a timeout (INFO clients_in_timeout_table).
    pub fn with_timeout(&self) -> usize {
        self.timed.load(Relaxed)
    }

    /// The keys clients are parked on in these databases (sorted, for a stable
    /// serving order).
    pub fn keys_in(&self, dbs: &[usize]) -> Vec<DbKey> {
        let mut keys: Vec<DbKey> = self
            .queues
            .lock()
            .keys()
            .filter(|(db, _)| dbs.contains(db))
            .cloned()
            .collect();
        keys.sort();
        keys
    }

    /// Serves the clients parked on `ready` keys, FIFO per key (see the module doc).
    pub fn serve(&self, engine: &Engine, hooks: &dyn ServerHooks, ready: Vec<(usize, Vec<u8>)>) {
        let nested = SERVING.with(|s| {
            let mut s = s.borrow_mut();
            match s.as_mut() {
                Some(q) => {
                    q.extend(ready.iter().cloned());
                    true
                }
                None => {
                    *s = Some(ready.iter().cloned().collect());
                    false
                }
            }
        });
        if nested {
            return;
        }
        // Reset even if a command panics, or this thread would queue forever.
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                SERVING.with(|s| *s.borrow_mut() = None);
            }
        }
        let _reset = Reset;
        while let Some((db, key)) =
            SERVING.with(|s| s.borrow_mut().as_mut().and_then(|q| q.pop_front()))
        {
            self.serve_key(engine, hooks, db, key);
        }
    }

    fn serve_key(&self, engine: &Engine, hooks: &dyn ServerHooks, db: usize, key: Vec<u8>) {
        let k = (db, key);
        // In FIFO order, as queued now (clients parked while serving wait for the
        // next signal).
        let queued: Vec<Arc<Parked>> = match self.queues.lock().get(&k) {
            Some(q) => q.iter().cloned().collect(),
            None => return,
        };
        let mut holds = None;
        // A key still there but past its TTL is expired by re-running the first
        // waiter once (its lookup deletes it and logs the DEL, as Redis's
        // lookupKeyWrite when it serves a ready key); nobody is served.
        let mut expire_first = expired_but_present(engine, k.0, &k.1);
        for p in queued {
            let BlockReason::Keys { awaits, .. } = &p.reason else {
                continue;
            };
            let awaits = *awaits;
            let mut slot = p.slot.lock();
            if !matches!(*slot, Slot::Waiting { .. }) {
                // Served by another thread, timed out or unblocked meanwhile: only
                // its queue entries may be left. (Its slot must stay as it is: a
                // served client's reply is in it.)
                drop(slot);
                self.unregister(engine, &p);
                continue;
            }
            // Only clients waiting for the type the key holds now are served.
            let held = *holds.get_or_insert_with(|| engine.type_of(k.0, &k.1));
            // A group reader is also served when its key is gone or not a stream
            // any more: its command replies with Redis's error for that.
            if held != Some(awaits.value_type())
                && awaits != Awaits::StreamGroup
                && !std::mem::take(&mut expire_first)
            {
                continue;
            }
            let Slot::Waiting { mut client, args } = std::mem::replace(&mut *slot, Slot::Taken)
            else {
                continue;
            };
            let mut out = ReplyBuf::new(client.proto);
            let argv: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
            client.serving_key = Some(k.1.clone());
            engine.execute(&mut client, &argv, &mut out, hooks);
            client.serving_key = None;
            // What the key holds may have changed (emptied, deleted, replaced).
            holds = None;
            if std::mem::take(&mut client.held) {
                // A shutdown began: it did not run. It waits on, in its place.
                *slot = Slot::Waiting { client, args };
                return;
            }
            if client.block.take().is_some() {
                // Still nothing for it: it keeps its place; after a pop that found
                // nothing, the key is spent for the poppers behind it too.
                *slot = Slot::Waiting { client, args };
                if awaits.consumes() {
                    return;
                }
                continue;
            }
            *slot = Slot::Done {
                client,
                reply: out.as_bytes().to_vec(),
            };
            drop(slot);
            self.unregister(engine, &p);
            p.done.notify_one();
        }
    }
}
