//! Client-side caching (CLIENT TRACKING), the engine's half: which clients may
//! hold which keys, and which keys changed under the prefixes of BCAST clients
//! (Redis's tracking.c TrackingTable and PrefixTable).
//!
//! A tracking client's read-only commands remember their keys here (the engine,
//! after the command, still under its locks). Every change of a key passes the
//! write funnel ([`crate::ctx::Keys::touched`]), which, while anything is tracked,
//! takes the key's entry out of the table (the clients to invalidate) and notes
//! the key under each matching BCAST prefix; FLUSHDB/FLUSHALL empty the table.
//! The server delivers: [`crate::ServerHooks::invalidate`],
//! [`crate::ServerHooks::invalidate_all`] and [`crate::ServerHooks::broadcast`]
//! turn ids into mailbox letters (redirection, RESP2/RESP3, NOLOOP, broken
//! redirections are its business). The table is keyed by key name only, not db,
//! as in Redis.
//!
//! While no client tracks and the table is empty, the funnel pays one relaxed
//! load ([`Tracking::active`]). The table is split in shards by key hash so that
//! readers and writers of different keys do not meet on one lock.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

use parking_lot::Mutex;
use smallvec::SmallVec;

const SHARDS: usize = 64;

type Ids = SmallVec<[u64; 2]>;

/// Clients to invalidate for one key that changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalidation {
    /// The clients that may cache the key (some may have gone or turned tracking
    /// off since: the server skips them, as Redis does).
    pub clients: SmallVec<[u64; 2]>,
    /// The key.
    pub key: Vec<u8>,
}

/// The keys changed under one BCAST prefix since the last broadcast, for the
/// clients registered on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broadcast {
    /// The clients registered for the prefix.
    pub clients: Vec<u64>,
    /// Each key (in byte order) with the client that changed it last (0: none,
    /// e.g. expiry): NOLOOP clients do not hear of their own changes.
    pub keys: Vec<(Vec<u8>, u64)>,
}

#[derive(Default)]
struct Bcast {
    clients: BTreeSet<u64>,
    keys: BTreeMap<Vec<u8>, u64>,
}

#[derive(Default)]
#[repr(align(64))]
struct Shard {
    keys: Mutex<HashMap<Box<[u8]>, Ids, foldhash::fast::RandomState>>,
}

/// The tracking state of the server (one per engine).
pub struct Tracking {
    /// Whether the funnel must look here: a client tracks, or the table is not
    /// empty.
    active: AtomicBool,
    /// Clients with tracking on (INFO tracking_clients).
    clients: AtomicUsize,
    /// Serializes turning tracking on and off: the last client off empties the
    /// table, which must not race with a client turning it on and remembering.
    switching: Mutex<()>,
    /// Keys in the table (tracking_total_keys).
    keys: AtomicUsize,
    /// Client ids in the table over all keys (tracking_total_items).
    items: AtomicUsize,
    table: Box<[Shard]>,
    /// Whether some BCAST prefix is registered.
    bcast: AtomicBool,
    /// Whether some prefix has keys waiting to be broadcast.
    pending: AtomicBool,
    prefixes: Mutex<BTreeMap<Vec<u8>, Bcast>>,
    /// How many times in a row the table limit could not be reached (Redis's
    /// timeout_counter: each try evicts 100 more keys).
    limit_tries: AtomicUsize,
}

impl Default for Tracking {
    fn default() -> Self {
        Tracking {
            active: AtomicBool::new(false),
            clients: AtomicUsize::new(0),
            switching: Mutex::new(()),
            keys: AtomicUsize::new(0),
            items: AtomicUsize::new(0),
            table: (0..SHARDS).map(|_| Shard::default()).collect(),
            bcast: AtomicBool::new(false),
            pending: AtomicBool::new(false),
            prefixes: Mutex::new(BTreeMap::new()),
            limit_tries: AtomicUsize::new(0),
        }
    }
}

fn shard_of(key: &[u8]) -> usize {
    (crate::keyspace::hash_key(key) >> 20) as usize % SHARDS
}

/// Whether two BCAST prefixes would both match some key (one starts the other).
pub fn prefixes_overlap(a: &[u8], b: &[u8]) -> bool {
    let n = a.len().min(b.len());
    a[..n] == b[..n]
}

impl Tracking {
    /// Whether anything is tracked (one relaxed load: the funnel's cost when not).
    #[inline]
    pub fn active(&self) -> bool {
        self.active.load(Relaxed)
    }

    /// A client turned tracking on (it was off).
    pub fn client_on(&self) {
        let _switching = self.switching.lock();
        self.clients.fetch_add(1, Relaxed);
        self.active.store(true, Relaxed);
    }

    /// A client with tracking on turned it off or went away. When nobody tracks
    /// any more, the table is emptied (nobody could be told of its keys).
    pub fn client_off(&self) {
        let _switching = self.switching.lock();
        if self.clients.fetch_sub(1, Relaxed) == 1 {
            self.clear();
            self.active.store(false, Relaxed);
        }
    }

    /// Clients with tracking on.
    pub fn clients(&self) -> usize {
        self.clients.load(Relaxed)
    }

    /// Keys in the table.
    pub fn total_keys(&self) -> usize {
        self.keys.load(Relaxed)
    }

    /// Client ids in the table.
    pub fn total_items(&self) -> usize {
        self.items.load(Relaxed)
    }

    /// Registered BCAST prefixes.
    pub fn total_prefixes(&self) -> usize {
        self.prefixes.lock().len()
    }

    /// Client `id` may now cache `key` (Redis's trackingRememberKeys).
    pub fn remember(&self, id: u64, key: &[u8]) {
        let mut shard = self.table[shard_of(key)].keys.lock();
        match shard.get_mut(key) {
            Some(ids) => {
                if !ids.contains(&id) {
                    ids.push(id);
                    self.items.fetch_add(1, Relaxed);
                }
            }
            None => {
                shard.insert(key.into(), smallvec::smallvec![id]);
                self.keys.fetch_add(1, Relaxed);
                self.items.fetch_add(1, Relaxed);
            }
        }
    }

    /// `key` changed (by client `writer`, 0 for none): its trackers, taken out of
    /// the table, are appended to `out`, and the key is noted under the BCAST
    /// prefixes it matches (Redis's trackingInvalidateKey with bcast).
    pub fn key_changed(&self, key: &[u8], writer: u64, out: &mut Vec<Invalidation>) {
        if self.bcast.load(Relaxed) {
            self.note_for_broadcast(key, writer);
        }
        if self.keys.load(Relaxed) == 0 {
            return;
        }
        if let Some(clients) = self.take(key) {
            out.push(Invalidation {
                clients,
                key: key.to_vec(),
            });
        }
    }

    fn take(&self, key: &[u8]) -> Option<Ids> {
        let ids = self.table[shard_of(key)].keys.lock().remove(key)?;
        self.keys.fetch_sub(1, Relaxed);
        self.items.fetch_sub(ids.len(), Relaxed);
        Some(ids)
    }

    fn note_for_broadcast(&self, key: &[u8], writer: u64) {
        let mut prefixes = self.prefixes.lock();
        let mut noted = false;
        for (prefix, b) in prefixes.iter_mut() {
            if key.starts_with(prefix) {
                b.keys.insert(key.to_vec(), writer);
                noted = true;
            }
        }
        if noted {
            self.pending.store(true, Relaxed);
        }
    }

    /// Every db was flushed (or one: the table is not per db): the table is emptied
    /// (Redis's trackingInvalidateKeysOnFlush; the server tells every tracking
    /// client).
    pub fn clear(&self) {
        for s in self.table.iter() {
            let mut keys = s.keys.lock();
            let items: usize = keys.values().map(|v| v.len()).sum();
            let n = keys.len();
            keys.clear();
            drop(keys);
            self.keys.fetch_sub(n, Relaxed);
            self.items.fetch_sub(items, Relaxed);
        }
    }

    /// Registers client `id` for the BCAST `prefix`.
    pub fn add_prefix(&self, id: u64, prefix: &[u8]) {
        let mut prefixes = self.prefixes.lock();
        prefixes
            .entry(prefix.to_vec())
            .or_default()
            .clients
            .insert(id);
        self.bcast.store(true, Relaxed);
        self.active.store(true, Relaxed);
    }

    /// Client `id` leaves BCAST mode: its prefixes forget it, and prefixes left
    /// without clients go.
    pub fn remove_prefixes(&self, id: u64, prefixes: &[Vec<u8>]) {
        let mut table = self.prefixes.lock();
        for p in prefixes {
            if let Some(b) = table.get_mut(p) {
                b.clients.remove(&id);
                if b.clients.is_empty() {
                    table.remove(p);
                }
            }
        }
        if table.is_empty() {
            self.bcast.store(false, Relaxed);
        }
    }

    /// Whether keys wait to be broadcast.
    #[inline]
    pub fn broadcast_pending(&self) -> bool {
        self.pending.load(Relaxed)
    }

    /// The keys changed under each prefix since the last call, with the prefix's
    /// clients (Redis's trackingBroadcastInvalidationMessages, which runs before
    /// the event loop sleeps: here after each command that changed such keys).
    pub fn take_broadcasts(&self) -> Vec<Broadcast> {
        let mut table = self.prefixes.lock();
        self.pending.store(false, Relaxed);
        let mut out = Vec::new();
        for b in table.values_mut() {
            if b.keys.is_empty() {
                continue;
            }
            out.push(Broadcast {
                clients: b.clients.iter().copied().collect(),
                keys: std::mem::take(&mut b.keys).into_iter().collect(),
            });
        }
        out
    }

    /// Keeps the table within `max_keys` (Redis's trackingLimitUsedSlots): takes
    /// keys out, in no particular order, until it fits or this try's effort (100
    /// keys more for every try in a row that did not get there) is spent; the
    /// clients of each key taken are to be invalidated as if it changed.
    pub fn over_limit(&self, max_keys: usize) -> Vec<Invalidation> {
        if max_keys == 0 || self.keys.load(Relaxed) <= max_keys {
            self.limit_tries.store(0, Relaxed);
            return Vec::new();
        }
        let mut effort = 100 * (self.limit_tries.load(Relaxed) + 1);
        let mut out = Vec::new();
        let start = rand::random::<usize>() % SHARDS;
        let mut i = 0;
        while effort > 0 && self.keys.load(Relaxed) > max_keys && i < SHARDS {
            let s = &self.table[(start + i) % SHARDS];
            let key = s.keys.lock().keys().next().map(|k| k.to_vec());
            match key {
                Some(key) => {
                    effort -= 1;
                    if let Some(clients) = self.take(&key) {
                        out.push(Invalidation { clients, key });
                    }
                }
                None => i += 1,
            }
        }
        if self.keys.load(Relaxed) > max_keys {
            self.limit_tries.fetch_add(1, Relaxed);
        } else {
            self.limit_tries.store(0, Relaxed);
        }
        out
    }
}

/// A client's own tracking switches, as its commands need them (CLIENT TRACKING
/// sets them; the server keeps what others need to deliver to it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrackingMode {
    /// BCAST: keys are not remembered per client, prefixes are.
    pub bcast: bool,
    /// OPTIN: only the keys of the command after CLIENT CACHING YES.
    pub optin: bool,
    /// OPTOUT: all keys but those of the command after CLIENT CACHING NO.
    pub optout: bool,
    /// CLIENT CACHING was given for the next command (or the transaction).
    pub caching: bool,
}

impl TrackingMode {
    /// Whether the keys of a read-only command are remembered now.
    #[inline]
    pub fn remembers(&self) -> bool {
        let opted_out = if self.optin {
            !self.caching
        } else {
            self.optout && self.caching
        };
        !self.bcast && !opted_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_remembers_and_hands_out_trackers_once() {
        let t = Tracking::default();
        assert!(!t.active());
        t.client_on();
        t.remember(1, b"a");
        t.remember(2, b"a");
        t.remember(1, b"a");
        t.remember(1, b"b");
        assert_eq!((t.total_keys(), t.total_items()), (2, 3));
        let mut out = Vec::new();
        t.key_changed(b"a", 7, &mut out);
        t.key_changed(b"a", 7, &mut out);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0].clients[..], &[1, 2]);
        assert_eq!((t.total_keys(), t.total_items()), (1, 1));
        t.client_off();
        assert!(!t.active());
        assert_eq!(t.total_keys(), 0);
    }

    #[test]
    fn prefixes_collect_keys_with_their_last_writer() {
        let t = Tracking::default();
        t.add_prefix(5, b"a:");
        t.add_prefix(6, b"");
        let mut out = Vec::new();
        t.key_changed(b"a:1", 5, &mut out);
        t.key_changed(b"b", 0, &mut out);
        t.key_changed(b"a:1", 9, &mut out);
        assert!(out.is_empty());
        assert!(t.broadcast_pending());
        let b = t.take_broadcasts();
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].clients, vec![6]);
        assert_eq!(b[0].keys, vec![(b"a:1".to_vec(), 9), (b"b".to_vec(), 0)]);
        assert_eq!(b[1].clients, vec![5]);
        assert!(!t.broadcast_pending());
        t.remove_prefixes(5, &[b"a:".to_vec()]);
        assert_eq!(t.total_prefixes(), 1);
        assert!(prefixes_overlap(b"FOO", b"FOOBAR"));
        assert!(!prefixes_overlap(b"FOO", b"BAR"));
    }

    #[test]
    fn the_limit_takes_keys_out() {
        let t = Tracking::default();
        t.client_on();
        for i in 0..250 {
            t.remember(1, format!("k{i}").as_bytes());
        }
        let first = t.over_limit(1);
        assert_eq!(first.len(), 100);
        let second = t.over_limit(1);
        assert_eq!(second.len(), 149);
        assert_eq!(t.total_keys(), 1);
        assert!(t.over_limit(1).is_empty());
    }
}
