//! ferrokv cluster support: hash slots for now; the cluster issue adds the slot
//! map, MOVED/ASK redirects and the bus messages.
//!
//! The slot function itself lives in `ferrokv-core` (`keyspace::slot`) because the
//! keyspace places keys by slot and this crate depends on core, not the other way
//! round; it is re-exported here so cluster code names slots from one place.

pub use ferrokv_core::keyspace::slot::{crc16, hash_tag, key_slot, SLOTS};

#[cfg(test)]
mod tests {
    #[test]
    fn slots_are_redis_cluster_slots() {
        // CLUSTER KEYSLOT of redis-server 7.0.15.
        assert_eq!(super::key_slot(b"{user1000}.following"), 3443);
        assert_eq!(super::key_slot(b"foo"), 12182);
    }
}
