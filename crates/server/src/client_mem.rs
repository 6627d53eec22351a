//! Client memory and client eviction (maxmemory-clients, Redis 7.0).
//!
//! Each connection publishes what its buffers hold once per batch of requests
//! (`conn.rs::publish`) into its handle's [`ClientMem`]; a client's memory is
//! that plus what waits in its mailbox ([`ClientHandle::total_mem`], CLIENT LIST's
//! `tot-mem`). While maxmemory-clients is set, the sum over the normal and pubsub
//! clients is kept in [`ClientMemory::total`]: a connection adds the change of its
//! own part after each batch (one swap and one add), a mailbox adds and takes
//! away the letters it queues and hands over. When the sum goes over the limit,
//! the biggest clients that may be evicted (not CLIENT NO-EVICT, not replicas or
//! the master link) are closed until it is back under, as Redis's evictClients
//! does with its memory buckets; `evicted_clients` counts them.
//!
//! With maxmemory-clients 0 (the default) nothing is summed: the connection pays
//! one relaxed load per batch.

use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;

use ferrokv_core::config::{Config, P};

use crate::clients::{ClientHandle, KIND_NORMAL};
use crate::state::ServerState;

/// What a client costs besides its buffers (its structures on both sides).
pub const CLIENT_BASE: usize = 2048;
/// Per watched key (its entry in the client's list and in the watchers' map).
const PER_WATCHED_KEY: usize = 64;
/// Per channel, pattern or shard channel subscribed.
const PER_SUBSCRIPTION: usize = 48;
/// Per CLIENT TRACKING BCAST prefix.
const PER_PREFIX: usize = 64;
/// The smallest effective limit (Redis's: no setting may cut every client off).
const MIN_LIMIT: usize = 128 * 1024;

/// What one connection last published about its own buffers.
#[derive(Default)]
pub struct ClientMem {
    /// Capacity of its reply buffer (replies not written yet included).
    pub obuf_cap: AtomicUsize,
    /// Bytes of replies taken out but not written yet (its socket is full).
    pub obuf_pending: AtomicUsize,
    /// Arguments of the command it is running or is blocked in (`argv-mem`).
    pub argv: AtomicUsize,
    /// Arguments of the commands queued since MULTI (`multi-mem`).
    pub multi: AtomicUsize,
    /// Commands queued since MULTI.
    pub multi_cmds: AtomicUsize,
    /// Keys it WATCHes.
    pub watched: AtomicUsize,
    /// Its BCAST prefixes' bytes and count.
    pub prefixes: AtomicUsize,
    /// Its own part as last added to [`ClientMemory::total`].
    accounted: AtomicUsize,
    /// What it held when client eviction closed it, until its connection frees it.
    dying: AtomicUsize,
}

impl ClientHandle {
    /// The client's memory without its mailbox: query buffer, reply buffer,
    /// arguments, MULTI queue, watched keys, subscriptions, tracking prefixes.
    pub fn own_mem(&self) -> usize {
        let m = &self.mem;
        // The buffers count as the blocks the allocator gave them (Redis's
        // zmalloc_size): key eviction sees those, and client eviction must see
        // them first.
        CLIENT_BASE
            + crate::alloc::block_size(self.qbuf.load(Relaxed) + self.qbuf_free.load(Relaxed))
            + crate::alloc::block_size(m.obuf_cap.load(Relaxed))
            + m.argv.load(Relaxed)
            + m.multi.load(Relaxed)
            + m.multi_cmds.load(Relaxed) * 32
            + m.watched.load(Relaxed) * PER_WATCHED_KEY
            + self.subs.total() * PER_SUBSCRIPTION
            + m.prefixes.load(Relaxed)
    }

    /// CLIENT LIST's `tot-mem`.
    pub fn total_mem(&self) -> usize {
        self.own_mem() + self.mailbox.queued_bytes() + self.mailbox.external()
    }

    /// Replies and letters waiting to be written (CLIENT LIST's `omem`).
    pub fn output_mem(&self) -> usize {
        self.mem.obuf_pending.load(Relaxed) + self.mailbox.queued_bytes() + self.mailbox.external()
    }
}

/// Per-prefix cost of `n` BCAST prefixes of `bytes` bytes in all.
pub fn prefixes_mem(n: usize, bytes: usize) -> usize {
    n * PER_PREFIX + bytes
}

/// The server's side: the limit, the sum, the count of evictions.
#[derive(Default)]
pub struct ClientMemory {
    /// The effective limit in bytes (0: client eviction is off).
    limit: AtomicUsize,
    /// Memory of the normal and pubsub clients while the limit is set. Signed:
    /// a release may briefly run ahead of the matching add.
    total: AtomicI64,
    /// Memory of evicted clients whose connections have not freed their
    /// buffers yet: left out of used memory for key eviction, since Redis frees
    /// an evicted client at once (its buffers never reach the next
    /// performEvictions).
    dying: AtomicI64,
    /// INFO stats `evicted_clients`.
    pub evicted: AtomicU64,
    /// One eviction pass at a time.
    evicting: parking_lot::Mutex<()>,
}

/// Redis's getClientEvictionLimit: maxmemory-clients as bytes, or as a percentage
/// of maxmemory (stored negative), at least 128 KiB; 0 when off.
pub fn limit_of(cfg: &Config) -> usize {
    let v = cfg.int_named("maxmemory-clients");
    let bytes = if v < 0 {
        let maxmemory = cfg.int(P::Maxmemory);
        if maxmemory <= 0 {
            return 0;
        }
        (maxmemory as f64 * (-v) as f64 / 100.0) as usize
    } else {
        v as usize
    };
    if bytes == 0 {
        0
    } else {
        bytes.max(MIN_LIMIT)
    }
}

impl ClientMemory {
    /// The state for `cfg` at startup.
    pub fn new(cfg: &Config) -> Self {
        let cm = ClientMemory::default();
        cm.limit.store(limit_of(cfg), Relaxed);
        cm
    }

    /// Whether client eviction is on.
    #[inline]
    pub fn on(&self) -> bool {
        self.limit.load(Relaxed) > 0
    }

    /// The effective limit (0: off).
    pub fn limit(&self) -> usize {
        self.limit.load(Relaxed)
    }

    /// The summed memory of the clients that count (while on).
    pub fn total(&self) -> usize {
        self.total.load(Relaxed).max(0) as usize
    }

    /// A mailbox queued (`delta` > 0) or handed over `delta` bytes it counts.
    #[inline]
    pub fn add(&self, delta: i64) {
        self.total.fetch_add(delta, Relaxed);
    }

    /// Bytes evicted clients still hold (see [`freed`]).
    pub fn dying(&self) -> u64 {
        self.dying.load(Relaxed).max(0) as u64
    }

    fn over(&self) -> bool {
        let limit = self.limit();
        limit > 0 && self.total() > limit
    }
}

fn counts(h: &ClientHandle) -> bool {
    h.kind.load(Relaxed) == KIND_NORMAL
}

/// After a connection published its state: its part of the sum follows, and the
/// biggest clients go if the sum is over the limit.
#[inline]
pub fn account(st: &ServerState, h: &ClientHandle) {
    let cm = &st.client_mem;
    if !cm.on() {
        return;
    }
    if counts(h) && !h.mailbox.closing() {
        let now = h.own_mem();
        let before = h.mem.accounted.swap(now, Relaxed);
        if now != before {
            cm.add(now as i64 - before as i64);
        }
    }
    if cm.over() {
        evict(st);
    }
}

/// The client goes (or stops counting): its part leaves the sum.
pub fn release(st: &ServerState, h: &ClientHandle) {
    let before = h.mem.accounted.swap(0, Relaxed);
    if before != 0 {
        st.client_mem.add(-(before as i64));
    }
    h.mailbox.stop_accounting();
}

/// Closes the biggest evictable clients until the sum is within the limit
/// (Redis's evictClients, which goes through its buckets from the largest).
pub fn evict(st: &ServerState) {
    let cm = &st.client_mem;
    let Some(_one) = cm.evicting.try_lock() else {
        return;
    };
    if !cm.over() {
        return;
    }
    let mut candidates: Vec<(usize, Arc<ClientHandle>)> = st
        .clients
        .all()
        .into_iter()
        .filter(|h| counts(h) && !h.no_evict.load(Relaxed))
        .map(|h| (h.total_mem(), h))
        .collect();
    // Largest first; among equals the oldest first, as a bucket's list.
    candidates.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.id.cmp(&b.1.id)));
    for (_, h) in candidates {
        if !cm.over() {
            return;
        }
        tracing::info!("Evicting client: {}", h.describe());
        let held = h.total_mem();
        if h.mem.dying.swap(held, Relaxed) == 0 {
            cm.dying.fetch_add(held as i64, Relaxed);
        }
        h.kill();
        release(st, &h);
        cm.evicted.fetch_add(1, Relaxed);
        // The next admission measures afresh, without this client's buffers:
        // a figure taken before the eviction must not make it evict keys.
        st.engine.evict.remeasure();
    }
    if cm.over() {
        tracing::warn!("Over client maxmemory after evicting all evictable clients");
    }
}

/// Startup and CONFIG SET maxmemory-clients / maxmemory: the new limit; when it
/// turns on, every client's part is summed afresh; then evicts what is over.
pub fn reload(st: &ServerState) {
    let cm = &st.client_mem;
    let limit = limit_of(&st.engine.config);
    let was_on = cm.on();
    cm.limit.store(limit, Relaxed);
    if limit == 0 {
        return;
    }
    for h in st.clients.all() {
        if !counts(h.as_ref()) {
            continue;
        }
        if !was_on {
            h.mailbox.start_accounting(&st.client_mem);
        }
        let now = h.own_mem();
        let before = h.mem.accounted.swap(now, Relaxed);
        cm.add(now as i64 - before as i64);
    }
    evict(st);
}

/// A connection's buffers are gone (its task ended): what client eviction
/// left out of used memory for it counts no more.
pub fn freed(st: &ServerState, h: &ClientHandle) {
    let held = h.mem.dying.swap(0, Relaxed);
    if held != 0 {
        st.client_mem.dying.fetch_sub(held as i64, Relaxed);
    }
}

/// The cron's part: letters posted by no client's command (expiry
/// invalidations, keyspace events) are caught here.
pub fn cron(st: &ServerState) {
    if st.client_mem.over() {
        evict(st);
    }
}

/// A new connection: its mailbox counts its letters from now on.
pub fn start(st: &ServerState, h: &ClientHandle) {
    h.mailbox.start_accounting(&st.client_mem);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_limit_is_bytes_or_a_percentage_with_a_floor() {
        let c = Config::default();
        assert_eq!(limit_of(&c), 0);
        c.set("maxmemory-clients", "3mb", false).unwrap();
        assert_eq!(limit_of(&c), 3 << 20);
        c.set("maxmemory-clients", "1000", false).unwrap();
        assert_eq!(limit_of(&c), MIN_LIMIT);
        c.set("maxmemory-clients", "7%", false).unwrap();
        assert_eq!(limit_of(&c), 0, "a percentage of no maxmemory is no limit");
        c.set("maxmemory", "6mb", false).unwrap();
        assert_eq!(limit_of(&c), (6.0 * 1048576.0 * 0.07) as usize);
    }
}
