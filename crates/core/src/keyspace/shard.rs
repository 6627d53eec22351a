//! A shard: one hash table and the bookkeeping that must change with it under the
//! same lock (TTL count, keys per hash slot, hit/miss/expired counters, the
//! active-expiry cursor).
//!
//! The table is private: every insertion and removal goes through a method here,
//! which keeps the per-slot counts exact (debug builds check them against the
//! table's length after each change).

use crate::keyspace::access::Access;
use crate::keyspace::dict::{Dict, Node};
use crate::keyspace::hash::{slot_index, slot_of, SLOTS_PER_SHARD};
use crate::types::Value;

/// What a write does to the key's TTL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// Keep the current TTL (KEEPTTL, INCR).
    Keep,
    /// Remove it (a plain SET).
    Clear,
    /// Set this absolute expire time in ms.
    At(i64),
}

/// How a lookup treats the entry it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    /// A read: counts keyspace hits/misses and updates the access clock.
    Read,
    /// A write: updates the access clock, no hit/miss counting.
    Write,
    /// Neither counts nor touches (EXISTS-like checks, OBJECT, NO-TOUCH clients).
    NoTouch,
    /// A read that counts but does not touch (reads by NO-TOUCH clients).
    ReadNoTouch,
}

/// Counters kept per shard (summed for INFO) so that hot paths touch no shared line.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    /// Successful read lookups.
    pub hits: u64,
    /// Read lookups of a missing key.
    pub misses: u64,
    /// Keys removed because their TTL passed.
    pub expired: u64,
    /// Modifications (INFO rdb_changes_since_last_save counts from these).
    pub dirty: u64,
}

/// One shard of one database.
#[derive(Default)]
pub struct Shard {
    /// The entries.
    dict: Dict,
    /// Entries per slot of this shard, by [`slot_index`] (expired entries not yet
    /// reclaimed included, as Redis's COUNTKEYSINSLOT). u32: a single slot of one
    /// db would need hundreds of GiB of keys to overflow it.
    slot_keys: [u32; SLOTS_PER_SHARD],
    /// How many entries have a TTL.
    pub expires: usize,
    /// Where active expiry resumes.
    pub expire_cursor: u64,
    /// Counters.
    pub stats: ShardStats,
    /// While a snapshot has not visited this shard yet: the entries, as of the
    /// snapshot instant, of keys written since (`None`: the key did not exist).
    pub preserved: Option<Box<Preserved>>,
}

/// A key's state at a snapshot instant, kept because a command wrote the key
/// before the snapshot visited its shard.
pub enum PreImage {
    /// A copy of the entry as it was.
    Entry(Node),
    /// The key did not exist (the write creates it).
    Absent(Box<[u8]>),
}

impl PreImage {
    /// The key.
    pub fn key(&self) -> &[u8] {
        match self {
            PreImage::Entry(n) => n.key(),
            PreImage::Absent(k) => k,
        }
    }
}

/// Pre-images of keys written during a snapshot, found by the bucket part of the
/// key's hash ([`bucket_hash`](super::bucket_hash); the writer has it anyway): no
/// second copy of the key for entries, no second hash function.
pub type Preserved = hashbrown::HashTable<PreImage>;

impl Shard {
    /// The entries as of the running snapshot's instant: live entries not written
    /// since, then the pre-images of those that were (see [`crate::snapshot`]).
    /// Without a snapshot, simply every entry.
    pub fn snapshot_iter(&self) -> impl Iterator<Item = &Node> + '_ {
        let pre = self.preserved.as_deref();
        self.dict
            .iter()
            .filter(move |n| {
                pre.is_none_or(|p| {
                    let key = n.key();
                    p.find(super::bucket_hash(key), |e| e.key() == key)
                        .is_none()
                })
            })
            .chain(pre.into_iter().flat_map(|p| {
                p.iter().filter_map(|e| match e {
                    PreImage::Entry(n) => Some(n),
                    PreImage::Absent(_) => None,
                })
            }))
    }
}

/// A found entry and the shard counter that must follow changes of its TTL.
///
/// Writing through [`value`](Self::value) turns an inline entry into a `FULL` one
/// (see `keyspace/node.rs`) for good; writers of kinds that have an inline form
/// (compact hashes and zsets) go through [`write_as`](Self::write_as), whose guard
/// turns the entry back into its cheapest form when dropped.
pub struct EntryMut<'s> {
    /// The entry.
    pub node: &'s mut Node,
    expires: &'s mut usize,
}

impl EntryMut<'_> {
    /// Sets (`Some`) or clears (`None`) the absolute expire time in ms.
    pub fn set_expire(&mut self, at: Option<i64>) {
        set_expire(self.node, self.expires, at);
    }

    /// The value, for writing.
    pub fn value(&mut self) -> &mut Value {
        self.node.value_mut()
    }

    /// The value for writing when it is of type `t`; `None`, the entry untouched
    /// (still inline if it was), otherwise: a command refused with WRONGTYPE
    /// changes nothing, not even the entry's form.
    pub fn value_of(&mut self, t: crate::types::ValueType) -> Option<&mut Value> {
        if self.node.value().value_type() != t {
            return None;
        }
        Some(self.node.value_mut())
    }

    /// The value, for reading.
    pub fn get(&self) -> crate::keyspace::ValueRef<'_> {
        self.node.value()
    }
}

impl<'s> EntryMut<'s> {
    /// The entry, for as long as the shard is borrowed.
    pub fn into_node(self) -> &'s mut Node {
        self.node
    }

    /// The value for reading, for as long as the shard is borrowed.
    pub fn into_ref(self) -> crate::keyspace::ValueRef<'s> {
        let node: &'s Node = self.into_node();
        node.value()
    }

    /// The value of a kind never held inline (lists, sets, streams: see
    /// `keyspace/node.rs`) for writing, for as long as the shard is borrowed;
    /// `None` for a value held inline.
    pub fn into_full_mut(self) -> Option<&'s mut Value> {
        self.into_node().full_value_mut()
    }

    /// The value as a `T` (what `get` finds) for reading; `None` when it is not one.
    pub fn read_as<T: ?Sized>(self, get: fn(&Value) -> Option<&T>) -> Option<TypedRef<'s, T>> {
        let value = self.into_ref();
        get(&value)?;
        Some(TypedRef { value, get })
    }

    /// The value as a `T` for writing; `None` (and nothing changed) when it is not
    /// one. An inline value is written as an owned copy, put back in the entry (in
    /// its cheapest form) when the returned guard drops; a `FULL` one in place.
    pub fn write_as<T: ?Sized>(
        self,
        get: fn(&Value) -> Option<&T>,
        get_mut: fn(&mut Value) -> Option<&mut T>,
    ) -> Option<TypedMut<'s, T>> {
        if let Some(v) = self.node.full_value_mut() {
            let ptr: *mut T = get_mut(v)?;
            return Some(TypedMut {
                entry: self,
                repr: MutRepr::InPlace(ptr),
            });
        }
        let value = {
            let view = self.node.value();
            get(&view)?;
            view.clone()
        };
        Some(TypedMut {
            entry: self,
            repr: MutRepr::Detached {
                value,
                get,
                get_mut,
            },
        })
    }
}

/// A value of one kind, for reading (see [`EntryMut::read_as`]).
pub struct TypedRef<'s, T: ?Sized> {
    value: crate::keyspace::ValueRef<'s>,
    get: fn(&Value) -> Option<&T>,
}

impl<T: ?Sized> std::ops::Deref for TypedRef<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match (self.get)(&self.value) {
            Some(t) => t,
            None => unreachable!("checked when made"),
        }
    }
}

/// A value of one kind, for writing (see [`EntryMut::write_as`]).
pub struct TypedMut<'s, T: ?Sized> {
    entry: EntryMut<'s>,
    repr: MutRepr<T>,
}

enum MutRepr<T: ?Sized> {
    /// Into the entry's FULL value, which does not move while the guard holds the
    /// entry.
    InPlace(*mut T),
    /// An owned copy of an inline value, put back when the guard drops.
    Detached {
        value: Value,
        get: fn(&Value) -> Option<&T>,
        get_mut: fn(&mut Value) -> Option<&mut T>,
    },
    /// Put back (only while dropping).
    Done,
}

impl<T: ?Sized> std::ops::Deref for TypedMut<'_, T> {
    type Target = T;
    #[inline]
    fn deref(&self) -> &T {
        match &self.repr {
            // SAFETY: see `InPlace`; shared access through `&self`.
            MutRepr::InPlace(p) => unsafe { &**p },
            MutRepr::Detached { value, get, .. } => match get(value) {
                Some(t) => t,
                None => unreachable!("checked when made"),
            },
            MutRepr::Done => unreachable!("only while dropping"),
        }
    }
}

impl<T: ?Sized> std::ops::DerefMut for TypedMut<'_, T> {
    #[inline]
    fn deref_mut(&mut self) -> &mut T {
        match &mut self.repr {
            // SAFETY: see `InPlace`; unique access through `&mut self`.
            MutRepr::InPlace(p) => unsafe { &mut **p },
            MutRepr::Detached { value, get_mut, .. } => match get_mut(value) {
                Some(t) => t,
                None => unreachable!("checked when made"),
            },
            MutRepr::Done => unreachable!("only while dropping"),
        }
    }
}

impl<T: ?Sized> Drop for TypedMut<'_, T> {
    fn drop(&mut self) {
        match std::mem::replace(&mut self.repr, MutRepr::Done) {
            // A FULL value that may have become small enough to go inline.
            MutRepr::InPlace(_) => self.entry.node.compact(),
            // Back in the entry: rewritten in place when still inline, else a new
            // block (a hash or zset converted to its table form).
            MutRepr::Detached { value, .. } => {
                let at = self.entry.node.expire_at();
                if let Some(old) = self.entry.node.replace_value_at(value, at) {
                    crate::lazyfree::free_value(old);
                }
            }
            MutRepr::Done => {}
        }
    }
}

fn set_expire(node: &mut Node, expires: &mut usize, at: Option<i64>) {
    let at = stored_expire(at);
    count_expire(expires, node.expire_at(), at);
    node.set_expire_at(at);
}

/// An expire time as an entry stores it: 0 for none, so an actual time of 0 is
/// kept as 1 (already past either way).
fn stored_expire(at: Option<i64>) -> i64 {
    at.map_or(0, |t| if t == 0 { 1 } else { t })
}

/// Keeps the shard's count of keys with a TTL as an entry's goes from `old` to
/// `new` (stored forms; 0 for none).
fn count_expire(expires: &mut usize, old: i64, new: i64) {
    match (old != 0, new != 0) {
        (false, true) => *expires += 1,
        (true, false) => *expires -= 1,
        _ => {}
    }
}

impl Shard {
    /// The table, for reading (changes go through the methods of `Shard`).
    #[inline]
    pub fn dict(&self) -> &Dict {
        &self.dict
    }

    /// Number of keys (including expired ones not yet reclaimed).
    pub fn len(&self) -> usize {
        self.dict.len()
    }

    /// Number of keys of hash slot `slot` (which must belong to this shard), expired
    /// ones not yet reclaimed included.
    pub fn slot_len(&self, slot: u16) -> usize {
        self.slot_keys[slot_index(slot)] as usize
    }

    /// Up to `count` keys of hash slot `slot` (GETKEYSINSLOT; the slot must belong
    /// to this shard).
    pub fn keys_in_slot(&self, slot: u16, count: usize) -> Vec<Vec<u8>> {
        if self.slot_len(slot) == 0 {
            return Vec::new();
        }
        self.dict
            .iter()
            .filter(|n| super::key_slot(n.key()) == slot)
            .take(count)
            .map(|n| n.key().to_vec())
            .collect()
    }

    /// Counts a key of `hash`'s slot that is about to be inserted.
    #[inline]
    fn count_in(&mut self, hash: u64) {
        let c = &mut self.slot_keys[slot_index(slot_of(hash))];
        *c = c.wrapping_add(1);
        self.check_counts(1);
    }

    /// Uncounts a key of `slot` that was just removed.
    #[inline]
    fn count_out(&mut self, slot: u16) {
        let c = &mut self.slot_keys[slot_index(slot)];
        *c = c.wrapping_sub(1);
        self.check_counts(0);
    }

    /// Debug builds: the per-slot counts add up to the table's length (plus
    /// `pending` entries about to be inserted).
    #[inline]
    fn check_counts(&self, pending: usize) {
        debug_assert_eq!(
            self.slot_keys.iter().map(|&c| c as usize).sum::<usize>(),
            self.dict.len() + pending,
            "per-slot key counts out of step with the table"
        );
    }

    /// Recounts keys per slot from the table, compared with the kept counts by
    /// tests: `(kept, recounted)`, by slot index.
    pub fn slot_counts_and_recount(&self) -> ([u32; SLOTS_PER_SHARD], [u32; SLOTS_PER_SHARD]) {
        let mut recount = [0u32; SLOTS_PER_SHARD];
        for n in self.dict.iter() {
            recount[slot_index(super::key_slot(n.key()))] += 1;
        }
        (self.slot_keys, recount)
    }

    /// Makes room for `n` entries in all (a loader that knows how many are coming).
    pub fn reserve(&mut self, n: usize) {
        self.dict.reserve(n);
    }

    /// [`Dict::scan_remove`] keeping the shard's counts: visits the bucket(s) at
    /// `cursor`, removes the entries `f` says to, returns the next cursor and the
    /// removed entries (active expiry).
    pub fn scan_remove(
        &mut self,
        cursor: u64,
        f: impl FnMut(&mut Node) -> bool,
    ) -> (u64, Vec<Node>) {
        let (next, removed) = self.dict.scan_remove(cursor, f);
        for n in &removed {
            if n.expire_at() != 0 {
                self.expires -= 1;
            }
            let c = &mut self.slot_keys[slot_index(super::key_slot(n.key()))];
            *c = c.wrapping_sub(1);
        }
        self.check_counts(0);
        (next, removed)
    }

    /// Active defrag of the whole shard under its lock: the bucket array, every
    /// entry and every value of at most `max_units` elements (`Value::defrag_units`).
    /// The keys of bigger values go to `later`, whose values are done in steps
    /// ([`Shard::defrag_value_step`]) so that no single step holds the lock long.
    /// `keys` counts keys with something moved, and keys with nothing moved.
    pub fn defrag(
        &mut self,
        m: &mut crate::defrag::Mover<'_>,
        max_units: usize,
        later: &mut Vec<Box<[u8]>>,
        keys: &mut [u64; 2],
    ) {
        self.dict.defrag(m, |n, m| {
            let before = m.hits;
            n.defrag(m);
            let key_later = match n.full_value_mut() {
                Some(v) if v.defrag_units() > max_units => true,
                Some(v) => {
                    v.defrag_from(m, 0, usize::MAX);
                    false
                }
                None => false,
            };
            if key_later {
                later.push(n.key().into());
            }
            keys[usize::from(m.hits == before)] += 1;
        });
    }

    /// A step of a big value's defrag: up to `units` elements from `from`.
    /// Where to go on from, or `None` when done (or the key is gone).
    pub fn defrag_value_step(
        &mut self,
        key: &[u8],
        m: &mut crate::defrag::Mover<'_>,
        from: usize,
        units: usize,
    ) -> Option<usize> {
        let hash = crate::keyspace::hash_key(key);
        self.dict
            .get_mut(key, hash)?
            .full_value_mut()?
            .defrag_from(m, from, units)
    }

    /// Whether the shard holds no key.
    pub fn is_empty(&self) -> bool {
        self.dict.is_empty()
    }

    /// Finds a live entry. An entry past its TTL is deleted on the spot (and
    /// returned in `expired` so the caller can propagate the deletion).
    pub fn lookup(
        &mut self,
        key: &[u8],
        hash: u64,
        now_ms: i64,
        mode: Lookup,
        access: Access,
    ) -> Option<EntryMut<'_>> {
        let expired = match self.dict.get(key, hash) {
            None => {
                if matches!(mode, Lookup::Read | Lookup::ReadNoTouch) {
                    self.stats.misses += 1;
                }
                return None;
            }
            Some(n) => n.expire_at() != 0 && n.expire_at() < now_ms,
        };
        if expired {
            self.remove_expired(key, hash);
            if matches!(mode, Lookup::Read | Lookup::ReadNoTouch) {
                self.stats.misses += 1;
            }
            return None;
        }
        if matches!(mode, Lookup::Read | Lookup::ReadNoTouch) {
            self.stats.hits += 1;
        }
        let Shard { dict, expires, .. } = self;
        let node = dict.get_mut(key, hash)?;
        if matches!(mode, Lookup::Read | Lookup::Write) {
            let touched = access.touch(node.lru());
            node.set_lru(touched);
        }
        Some(EntryMut { node, expires })
    }

    /// Counts a read that found nothing (a key kept past its TTL while paused).
    pub fn count_miss(&mut self) {
        self.stats.misses += 1;
    }

    /// Whether a live entry exists, without touching it.
    pub fn contains(&mut self, key: &[u8], hash: u64, now_ms: i64) -> bool {
        self.lookup(key, hash, now_ms, Lookup::NoTouch, Access::Lru(0))
            .is_some()
    }

    fn remove_expired(&mut self, key: &[u8], hash: u64) {
        if let Some(node) = self.remove(key, hash) {
            self.stats.expired += 1;
            crate::lazyfree::free(node);
        }
    }

    /// Inserts a key known to be absent (the caller looked it up).
    pub fn insert_new(
        &mut self,
        key: &[u8],
        hash: u64,
        value: Value,
        expire_at: Option<i64>,
        access: Access,
    ) -> EntryMut<'_> {
        debug_assert_eq!(slot_of(hash), super::key_slot(key), "hash without its slot");
        self.count_in(hash);
        let Shard { dict, expires, .. } = self;
        // Built with its expire time: its block has its final shape at once.
        let at = stored_expire(expire_at);
        let node = dict.insert_new(Node::with_expire(key, access.initial(), value, at), hash);
        count_expire(expires, 0, at);
        EntryMut { node, expires }
    }

    /// Sets `key` to `value` (Redis's setKey): overwrites an existing value and, unless
    /// `keep_ttl`, removes its TTL. Returns whether the key existed.
    pub fn set(
        &mut self,
        key: &[u8],
        hash: u64,
        value: Value,
        keep_ttl: bool,
        now_ms: i64,
        access: Access,
    ) -> bool {
        self.set_ex(
            key,
            hash,
            value,
            if keep_ttl { Ttl::Keep } else { Ttl::Clear },
            now_ms,
            access,
        )
    }

    /// [`set`](Self::set) with the new TTL decided in the same lookup (SET EX).
    pub fn set_ex(
        &mut self,
        key: &[u8],
        hash: u64,
        value: Value,
        ttl: Ttl,
        now_ms: i64,
        access: Access,
    ) -> bool {
        if let Some(e) = self.lookup(key, hash, now_ms, Lookup::Write, access) {
            let at = match ttl {
                Ttl::Keep => e.node.expire_at(),
                Ttl::Clear => 0,
                Ttl::At(at) => stored_expire(Some(at)),
            };
            count_expire(e.expires, e.node.expire_at(), at);
            // One new block, value and TTL in their final shape.
            if let Some(old) = e.node.replace_value_at(value, at) {
                crate::lazyfree::free_value(old);
            }
            true
        } else {
            let at = match ttl {
                Ttl::At(at) => Some(at),
                _ => None,
            };
            self.insert_new(key, hash, value, at, access);
            false
        }
    }

    /// Removes `key` (live or expired) and returns its entry.
    pub fn remove(&mut self, key: &[u8], hash: u64) -> Option<Node> {
        let node = self.dict.remove(key, hash)?;
        if node.expire_at() != 0 {
            self.expires -= 1;
        }
        self.count_out(slot_of(hash));
        Some(node)
    }

    /// Inserts a whole entry taken from elsewhere (RENAME, MOVE), replacing any entry
    /// with the same key.
    pub fn put_node(&mut self, node: Node, hash: u64) {
        if let Some(old) = self.remove(node.key(), hash) {
            crate::lazyfree::free(old);
        }
        debug_assert_eq!(slot_of(hash), super::key_slot(node.key()));
        // The entry keeps its TTL (and its block): only the count follows.
        count_expire(&mut self.expires, 0, node.expire_at());
        self.count_in(hash);
        self.dict.insert_new(node, hash);
    }

    /// Removes every entry; the old table is returned for the caller to drop (maybe
    /// in the background).
    pub fn clear(&mut self) -> Dict {
        self.expires = 0;
        self.expire_cursor = 0;
        self.slot_keys = [0; SLOTS_PER_SHARD];
        self.dict.take_all()
    }

    /// Exchanges this shard's entries with `other`'s (a dataset loaded aside
    /// taking the place of the live one); each keeps its statistics and snapshot
    /// pre-images.
    pub fn swap_entries(&mut self, other: &mut Shard) {
        std::mem::swap(&mut self.dict, &mut other.dict);
        std::mem::swap(&mut self.slot_keys, &mut other.slot_keys);
        std::mem::swap(&mut self.expires, &mut other.expires);
        self.expire_cursor = 0;
        other.expire_cursor = 0;
    }
}
