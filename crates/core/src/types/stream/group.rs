//! Consumer groups: the group's last delivered ID and read counter, its pending
//! entries list (PEL: every delivered, unacknowledged ID with its owner, last
//! delivery time and delivery count), and its consumers, each with the IDs of
//! the PEL it owns. Groups and consumers are ordered by name, PELs by ID, as
//! Redis's radix trees order them.

use std::collections::{BTreeMap, BTreeSet};

use super::id::StreamId;

/// The read counter value that means "unknown" (SCG_INVALID_ENTRIES_READ).
pub const INVALID_ENTRIES_READ: i64 = -1;

/// A pending entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Nack {
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
    /// Unix ms of its last delivery.
    pub delivery_time: i64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Consumer {
    /// Unix ms when it was last seen (created, read, claimed).
    pub seen_time: i64,
    /// The pending IDs it owns.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Last ID delivered to any of its consumers.
    pub last_id: StreamId,
    /// Entries read (the logical position of `last_id`), or
    /// [`INVALID_ENTRIES_READ`].
    pub entries_read: i64,
    /// Pending entries.
    pub pel: BTreeMap<StreamId, Nack>,
    /// Consumers by name.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

impl Group {
    /// A group at `last_id` with read counter `entries_read`.
    pub fn new(last_id: StreamId, entries_read: i64) -> Group {
        Group {
            last_id,
            entries_read,
            pel: BTreeMap::new(),
            consumers: BTreeMap::new(),
        }
    }

    /// Creates consumer `name` seen at `now`; false if it exists.
    pub fn create_consumer(&mut self, name: &[u8], now: i64) -> bool {
        if self.consumers.contains_key(name) {
            return false;
        }
        self.consumers.insert(
            name.to_vec(),
            Consumer {
                seen_time: now,
                pel: BTreeSet::new(),
            },
        );
        true
    }

    /// Removes a pending entry from the PEL and its owner's list.
    pub fn ack(&mut self, id: StreamId) -> bool {
        match self.pel.remove(&id) {
            Some(nack) => {
                if let Some(c) = self.consumers.get_mut(&nack.consumer) {
                    c.pel.remove(&id);
                }
                true
            }
            None => false,
        }
    }

    /// Gives pending entry `id` to `consumer` (which must exist), taking it from
    /// its previous owner. Returns the NACK.
    pub fn assign(&mut self, id: StreamId, consumer: &[u8]) -> Option<&mut Nack> {
        let nack = self.pel.get_mut(&id)?;
        if nack.consumer.as_slice() != consumer {
            if let Some(old) = self.consumers.get_mut(&nack.consumer) {
                old.pel.remove(&id);
            }
            nack.consumer = consumer.to_vec();
            if let Some(c) = self.consumers.get_mut(consumer) {
                c.pel.insert(id);
            }
        }
        Some(nack)
    }

    /// Deletes consumer `name` and its pending entries; returns how many it had.
    pub fn delete_consumer(&mut self, name: &[u8]) -> Option<usize> {
        let c = self.consumers.remove(name)?;
        for id in &c.pel {
            self.pel.remove(id);
        }
        Some(c.pel.len())
    }
}
