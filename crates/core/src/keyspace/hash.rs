//! A key's hash: one `u64` that places the key twice, computed once per key per
//! command.
//!
//! - Bits 32..46 hold the key's Redis Cluster hash slot ([`key_slot`]). The slot
//!   decides the shard (`slot % SHARDS`), so one slot's keys, and keys sharing a
//!   `{hash tag}`, live in one shard: a multi-key command on tagged keys locks one
//!   shard, and counting or listing a slot's keys touches one.
//! - The other bits are a randomly seeded hash of the key (foldhash, seed per
//!   process). Bucket indexes come from the low bits, so which keys collide in a
//!   bucket stays unpredictable to clients even though slots are public. (A shard
//!   table would need 2^32 buckets before the slot bits reached the index.)
//!
//! [`KeyHashes`] carries the hashes the lock step computed for a command's declared
//! keys to that command's lookups, so they do not hash the same key again.

use std::hash::BuildHasher;
use std::sync::OnceLock;

use smallvec::SmallVec;

use super::slot::{key_slot, SLOTS};
use super::{LockId, SHARDS, SHARD_BITS};

/// Where the slot sits in a key hash.
const SLOT_SHIFT: u32 = 32;
/// The slot's bits in a key hash.
const SLOT_FIELD: u64 = (SLOTS as u64 - 1) << SLOT_SHIFT;

/// Slots per shard: shard `s` holds slots `s`, `s + SHARDS`, `s + 2 * SHARDS`, ...
pub const SLOTS_PER_SHARD: usize = SLOTS / SHARDS;

fn hasher() -> &'static foldhash::fast::FixedState {
    static STATE: OnceLock<foldhash::fast::FixedState> = OnceLock::new();
    STATE.get_or_init(|| foldhash::fast::FixedState::with_seed(rand::random()))
}

/// The seeded part of a key's hash alone (slot bits zero): enough for anything
/// that only needs bucket bits (table resizes, the snapshot's pre-image table),
/// without computing the slot.
#[inline]
pub fn bucket_hash(key: &[u8]) -> u64 {
    hasher().hash_one(key) & !SLOT_FIELD
}

/// The full hash of a key: seeded bucket bits plus its slot (see the module doc).
#[inline]
pub fn hash_key(key: &[u8]) -> u64 {
    bucket_hash(key) | (u64::from(key_slot(key)) << SLOT_SHIFT)
}

/// The bucket part of a full hash (what [`bucket_hash`] gives for the same key).
#[inline]
pub fn bucket_part(hash: u64) -> u64 {
    hash & !SLOT_FIELD
}

/// The slot recorded in a full hash.
#[inline]
pub fn slot_of(hash: u64) -> u16 {
    ((hash & SLOT_FIELD) >> SLOT_SHIFT) as u16
}

/// The shard (within a db) holding the keys of `slot`.
#[inline]
pub fn shard_of_slot(slot: u16) -> usize {
    slot as usize & (SHARDS - 1)
}

/// Index of `slot` among the [`SLOTS_PER_SHARD`] slots of its shard.
#[inline]
pub fn slot_index(slot: u16) -> usize {
    slot as usize >> SHARD_BITS
}

/// The shard a full key hash belongs to.
#[inline]
pub fn shard_of(hash: u64) -> usize {
    shard_of_slot(slot_of(hash))
}

/// The lock id of `key` in `db` (only the slot is computed).
#[inline]
pub fn lock_id(db: usize, key: &[u8]) -> LockId {
    (db * SHARDS + shard_of_slot(key_slot(key))) as LockId
}

/// One hashed key: the address and length of the argument it was computed from.
#[derive(Clone, Copy)]
struct Hashed {
    addr: usize,
    len: usize,
    hash: u64,
}

/// Declared keys beyond which a miss does not search the whole list (a command
/// with many keys takes them in order, which the cursor follows; anything else
/// costs one hash computation, as if nothing were remembered).
const FULL_SEARCH: usize = 16;

/// The hashes of one command's declared keys, computed by the lock step and
/// reused by its lookups.
///
/// A key is recognised by the address and length of the argument slice it was
/// computed from: commands look keys up with the very slices they received, and
/// comparing two words is cheaper than hashing. The arguments stay borrowed, and
/// unchanged, for as long as the command runs, so no other byte string can be at
/// that address with that length meanwhile (two empty slices are equal anyway).
/// Whoever fills one must drop it before the arguments go: the engine keeps one in
/// the [`Keys`](crate::ctx::Keys) of the command it was computed for. A key that
/// is not found (one a command built itself, SORT's BY/GET keys) is hashed on the
/// spot.
#[derive(Default)]
pub struct KeyHashes {
    keys: SmallVec<[Hashed; KeyHashes::INLINE]>,
    /// The last key found: commands take their keys in order, usually more than
    /// once in a row.
    cur: usize,
}

impl KeyHashes {
    /// Keys remembered without allocating.
    pub const INLINE: usize = 4;

    /// Hashes `key` (an argument of the command), remembers it and returns the hash.
    #[inline]
    pub fn add(&mut self, key: &[u8]) -> u64 {
        let hash = hash_key(key);
        self.keys.push(Hashed {
            addr: key.as_ptr() as usize,
            len: key.len(),
            hash,
        });
        hash
    }

    /// The hash of `key`: remembered if it is one of the added arguments, else
    /// computed.
    #[inline]
    pub fn get(&mut self, key: &[u8]) -> u64 {
        match self.find(key) {
            Some(h) => h,
            None => hash_key(key),
        }
    }

    /// Makes room for `n` more keys at once (a command with many keys then
    /// allocates once instead of growing step by step).
    #[inline]
    pub fn reserve(&mut self, n: usize) {
        self.keys.reserve(n);
    }

    /// How many keys are remembered.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    #[inline]
    fn find(&mut self, key: &[u8]) -> Option<u64> {
        let n = self.keys.len();
        if n == 0 {
            return None;
        }
        let (addr, len) = (key.as_ptr() as usize, key.len());
        let is = |h: &Hashed| h.addr == addr && h.len == len;
        let cur = self.cur;
        if is(&self.keys[cur]) {
            return Some(self.keys[cur].hash);
        }
        let next = if cur + 1 == n { 0 } else { cur + 1 };
        let i = if is(&self.keys[next]) {
            next
        } else if n <= FULL_SEARCH {
            self.keys.iter().position(is)?
        } else {
            return None;
        };
        self.cur = i;
        Some(self.keys[i].hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_carries_the_slot_and_the_seeded_bits() {
        for key in [&b"foo"[..], b"{user1000}.following", b"", b"key:123456"] {
            let h = hash_key(key);
            assert_eq!(slot_of(h), key_slot(key));
            assert_eq!(bucket_part(h), bucket_hash(key));
            assert_eq!(shard_of(h), key_slot(key) as usize % SHARDS);
        }
        // Tagged keys share a slot, hence a shard, but not their bucket bits.
        let (a, b) = (hash_key(b"{t}a"), hash_key(b"{t}b"));
        assert_eq!(slot_of(a), slot_of(b));
        assert_ne!(bucket_part(a), bucket_part(b));
        for slot in [0u16, 1, 1023, 1024, 16383] {
            let s = shard_of_slot(slot);
            assert_eq!(s + slot_index(slot) * SHARDS, slot as usize);
            assert!(slot_index(slot) < SLOTS_PER_SHARD);
        }
    }

    #[test]
    fn remembered_hashes_are_found_by_argument_identity() {
        let args: Vec<Vec<u8>> = (0..40).map(|i| format!("k{i}").into_bytes()).collect();
        let mut h = KeyHashes::default();
        for a in &args {
            h.add(a);
        }
        // In order, again in order, backwards, and a copy of an argument: always
        // the right hash.
        for a in args.iter().chain(&args).chain(args.iter().rev()) {
            assert_eq!(h.get(a), hash_key(a));
        }
        let copy = args[7].clone();
        assert_eq!(h.get(&copy), hash_key(&copy));
        assert_eq!(h.get(b"other"), hash_key(b"other"));
        // A sub-slice at the same address is a different key.
        assert_eq!(h.get(&args[12][..1]), hash_key(b"k"));
    }
}
