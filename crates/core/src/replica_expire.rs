//! Keys a writable replica's own clients gave a TTL (Redis's
//! slaveKeysWithExpire): a replica expires nothing of its master's (the master
//! sends the DELs), but nobody would ever delete these, so the replica's expiry
//! thread deletes them itself once their time has passed (expireSlaveKeys).

use std::collections::HashSet;

use parking_lot::Mutex;

use crate::engine::Engine;
use crate::hooks::ServerHooks;
use crate::keyspace::{hash_key, lock_id};

/// The tracked keys, as (db, key).
#[derive(Default)]
pub struct ReplicaKeys {
    keys: Mutex<HashSet<(usize, Vec<u8>)>>,
}

impl ReplicaKeys {
    /// Remembers `key` of `db` (a client of a writable replica set its TTL).
    pub fn remember(&self, db: usize, key: &[u8]) {
        self.keys.lock().insert((db, key.to_vec()));
    }

    /// INFO slave_expires_tracked_keys.
    pub fn len(&self) -> usize {
        self.keys.lock().len()
    }

    /// Whether none is tracked.
    pub fn is_empty(&self) -> bool {
        self.keys.lock().is_empty()
    }

    /// Forgets them all (the server is a master again).
    pub fn clear(&self) {
        self.keys.lock().clear();
    }
}

impl Engine {
    /// Deletes the tracked keys whose TTL has passed (their `expired` events,
    /// WATCH and tracking as for any expiry; nothing is propagated: a replica's
    /// own writes are not), and forgets those gone or made persistent meanwhile.
    pub fn expire_replica_keys(&self, hooks: &dyn ServerHooks) {
        let keys: Vec<(usize, Vec<u8>)> = self.replica_keys.keys.lock().iter().cloned().collect();
        if keys.is_empty() {
            return;
        }
        let now = self.clock.now_ms();
        let mut done = Vec::new();
        for (db, key) in keys {
            if db >= self.keyspace.db_count() {
                done.push((db, key));
                continue;
            }
            let hash = hash_key(&key);
            let mut shard = self.keyspace.lock_one(lock_id(db, &key));
            let expire_at = shard.dict().get(&key, hash).map(|n| n.expire_at());
            match expire_at {
                Some(at) if at != 0 && at >= now => continue,
                Some(at) if at != 0 => {
                    if let Some(node) = shard.remove(&key, hash) {
                        shard.stats.expired += 1;
                        let gone = [node];
                        self.expired_by_cycle(db, &gone, hooks);
                        drop(shard);
                        drop(gone);
                    }
                }
                _ => {}
            }
            done.push((db, key));
        }
        let mut tracked = self.replica_keys.keys.lock();
        for k in done {
            tracked.remove(&k);
        }
    }
}
