//! The master side of replication: the replication id and offset, the backlog,
//! the attached replicas, and SYNC / PSYNC / REPLCONF.
//!
//! Every effective write reaches [`Replicas::feed`] from the one propagation
//! point (`ServerState::propagate`, under the command's locks, so the stream has
//! the execution order). While a backlog exists (from the first replica on, until
//! repl-backlog-ttl after the last one left) the stream is appended to it and
//! `master_repl_offset` counts its bytes, as Redis's; each attached replica gets
//! the same bytes through its connection's mailbox (what a connection receives
//! without asking, written in order and held against the replica class's output
//! buffer limit).
//!
//! PSYNC and SYNC end the connection's command loop: it then serves the replica
//! ([`serve_if_replica`]). A partial resynchronization (`+CONTINUE`) is decided and
//! attached under the feed lock, so the backlog bytes it sends and the stream that
//! follows leave no gap; a full one (`+FULLRESYNC <replid> <offset>`) joins a
//! sync job ([`SyncJob`]: the replicas asking together share one snapshot), whose
//! RDB is taken at the instant they are attached (every shard lock held), sent as a
//! `$<len>` bulk or, for replicas with `capa eof` while repl-diskless-sync is on,
//! in the EOF-marker form. Replies from the replica (REPLCONF ACK) are parsed in
//! the serving loop: they give INFO's offset/lag and serve WAIT.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering::*};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use ferrokv_core::commands::{CommandDef, Locks};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{Client, CmdError, CmdResult};
use ferrokv_resp::{ReplyBuf, RequestLimits, RequestParser};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::repl_buf::ReplBuf;
use crate::state::ServerState;

/// SYNC, PSYNC, REPLCONF.
pub static COMMANDS: &[CommandDef] = &[
    CommandDef::with_locks("sync", sync, Locks::Own),
    CommandDef::with_locks("psync", psync, Locks::Own),
    CommandDef::new("replconf", replconf),
];

/// A replica's state, as INFO names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LinkState {
    /// Waiting for its RDB to be taken.
    WaitBgsave = 0,
    /// Receiving its RDB.
    SendBulk = 1,
    /// Following the stream.
    Online = 2,
}

impl LinkState {
    /// Its name in INFO.
    pub fn name(self) -> &'static str {
        match self {
            LinkState::WaitBgsave => "wait_bgsave",
            LinkState::SendBulk => "send_bulk",
            LinkState::Online => "online",
        }
    }
}

/// What a replica said about itself with REPLCONF.
#[derive(Debug, Clone, Default)]
pub struct ReplConf {
    /// listening-port.
    pub port: u16,
    /// ip-address (replica-announce-ip).
    pub ip: Option<String>,
    /// capa eof.
    pub eof: bool,
    /// capa psync2.
    pub psync2: bool,
    /// rdb-filter-only: the RDB holds no keys, and functions only if `Some(true)`.
    pub filter: Option<bool>,
    /// rdb-only 1: the RDB and nothing after it.
    pub rdb_only: bool,
}

/// One attached replica.
pub struct Replica {
    /// Its connection.
    pub handle: Arc<ClientHandle>,
    /// What it told with REPLCONF.
    pub conf: ReplConf,
    state: AtomicU8,
    /// The last offset it acknowledged.
    pub ack_off: AtomicU64,
    /// When it last acknowledged (unix seconds).
    pub ack_time: AtomicU64,
    /// Its full synchronization is over, sent or not.
    bulk_over: AtomicBool,
    /// Its connection has ended.
    gone: AtomicBool,
    /// Offset of the next byte of the stream it is to be written (its place in
    /// the shared replication buffer; set when it is attached).
    cursor: AtomicU64,
}

impl Replica {
    /// Its state.
    pub fn state(&self) -> LinkState {
        match self.state.load(Relaxed) {
            0 => LinkState::WaitBgsave,
            1 => LinkState::SendBulk,
            _ => LinkState::Online,
        }
    }

    fn set_state(&self, s: LinkState) {
        self.state.store(s as u8, Relaxed);
    }

    /// How Redis's log names it (replicationGetSlaveName): ip:listening-port.
    pub fn name(&self) -> String {
        if self.conf.port != 0 {
            format!("{}:{}", self.ip(), self.conf.port)
        } else {
            format!("{}:<unknown-replica-port>", self.ip())
        }
    }

    /// Its address as INFO and ROLE show it.
    pub fn ip(&self) -> String {
        if let Some(ip) = &self.conf.ip {
            return ip.clone();
        }
        match self.handle.addr.rsplit_once(':') {
            Some((ip, _)) => ip.trim_start_matches('[').trim_end_matches(']').into(),
            None => self.handle.addr.clone(),
        }
    }
}

fn unix_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A replica's own output besides its part of the replication buffer: letters
/// (the +CONTINUE line) and what its connection took out and has not written.
fn output_of(r: &Replica) -> usize {
    r.handle.mailbox.memory() + r.handle.mem.obuf_cap.load(Relaxed)
}

/// The replication ids and the stream's position.
pub struct Ids {
    /// master_replid.
    pub replid: String,
    /// master_replid2.
    pub replid2: String,
    /// second_repl_offset (-1: none).
    pub second_offset: i64,
    /// master_repl_offset.
    pub offset: u64,
}

struct Inner {
    ids: Ids,
    /// The replication buffer, backlog and replicas' output at once (None: no
    /// backlog, nothing is fed).
    backlog: Option<ReplBuf>,
    /// The db of the last command fed (None: a SELECT must come first).
    db: Option<usize>,
    list: Vec<Arc<Replica>>,
    /// When the last replica left (for repl-backlog-ttl).
    alone_since: Option<Instant>,
    /// The offset after the last command written (not the PINGs and GETACKs
    /// the master adds): what WAIT waits for.
    write_offset: u64,
}

/// What a connection turning into a replica takes over from its command.
enum Handoff {
    Sync,
    Psync { replid: String, offset: i64 },
}

/// The master side's state.
pub struct Replicas {
    inner: Mutex<Inner>,
    /// Whether the stream is fed (a backlog exists): one relaxed load per write.
    feeding: std::sync::atomic::AtomicBool,
    attached: AtomicUsize,
    handoff: Mutex<HashMap<u64, Handoff>>,
    confs: Mutex<HashMap<u64, ReplConf>>,
    /// The full-sync job still taking replicas (see [`SyncJob`]).
    job: Mutex<Option<Arc<SyncJob>>>,
    /// The offset the next byte of the stream gets (read without the lock by
    /// the replicas' connections).
    end: AtomicU64,
    /// The disk job whose RDB is being produced (replicas may still join it).
    producing: Mutex<Option<Arc<SyncJob>>>,
    /// Snapshots for replicas being taken (INFO rdb_bgsave_in_progress).
    snapshotting: AtomicUsize,
    /// INFO stats sync_full.
    pub sync_full: AtomicU64,
    /// INFO stats sync_partial_ok.
    pub sync_partial_ok: AtomicU64,
    /// INFO stats sync_partial_err.
    pub sync_partial_err: AtomicU64,
}

/// Encodes a command as a RESP array of bulk strings.
pub fn encode(argv: &[&[u8]], out: &mut Vec<u8>) {
    // Runs for every propagated write, under its locks: no allocation but the
    // buffer's, sized once.
    let mut n = itoa::Buffer::new();
    out.reserve(16 + argv.iter().map(|a| a.len() + 16).sum::<usize>());
    out.push(b'*');
    out.extend_from_slice(n.format(argv.len()).as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(n.format(a.len()).as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// A new random replication id.
pub fn new_replid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut s = String::with_capacity(40);
    while s.len() < 40 {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(Instant::now().elapsed().as_nanos() ^ s.len() as u128);
        s.push_str(&format!("{:016x}", h.finish()));
    }
    s.truncate(40);
    s
}

const NO_REPLID: &str = "0000000000000000000000000000000000000000";

impl Inner {
    /// The lowest cursor of the attached replicas (`u64::MAX` with none): the
    /// replication buffer keeps every byte from there on.
    fn keep(&self) -> u64 {
        self.list
            .iter()
            .map(|r| r.cursor.load(Relaxed))
            .min()
            .unwrap_or(u64::MAX)
    }

    fn append(&mut self, bytes: &[u8], end: &AtomicU64) {
        let keep = self.keep();
        let Some(b) = &mut self.backlog else {
            return;
        };
        self.ids.offset += bytes.len() as u64;
        b.append(bytes, keep);
        // SeqCst with the cursors' updates (see `stream_loop`).
        end.store(b.next(), SeqCst);
    }

    /// Tells every replica the stream grew; one whose pending part of it takes
    /// it over its output-buffer limits is dropped (Redis checks them on every
    /// feed).
    /// `fed`: how many bytes were just appended.
    fn wake(&mut self, fed: usize, attached: &AtomicUsize) {
        let Some(b) = &self.backlog else {
            return;
        };
        let (next, size) = (b.next(), b.size());
        let before = self.list.len();
        self.list.retain(|r| {
            let pending = next.saturating_sub(r.cursor.load(SeqCst)) as usize;
            let ok = r.handle.mailbox.hold_external(pending, size);
            if ok {
                // A connection with bytes still to write looks again after
                // each write: only one that had nothing is woken.
                if pending <= fed {
                    r.handle.mailbox.ring();
                }
            } else {
                tracing::warn!(
                    "Client {} closed for overcoming of output buffer limits.",
                    r.handle.describe()
                );
            }
            ok
        });
        let gone = before - self.list.len();
        if gone > 0 {
            attached.fetch_sub(gone, Relaxed);
            if self.list.is_empty() {
                self.alone_since = Some(Instant::now());
            }
            // What only the dropped replicas needed goes now, as on a detach: a
            // replica dropped for its limits that comes straight back must not
            // partially resync from what the backlog keeps only for it.
            drop(self.trim_all());
        }
    }

    /// Attaches `r` with its cursor at `from`.
    fn attach(&mut self, r: &Arc<Replica>, from: u64, attached: &AtomicUsize) {
        r.cursor.store(from, Relaxed);
        self.list.push(r.clone());
        attached.fetch_add(1, Relaxed);
    }

    /// Takes out the replication buffer's blocks that neither the backlog nor a
    /// replica needs any more (to be freed once the lock is released).
    fn trim_all(&mut self) -> Vec<Vec<u8>> {
        let keep = self.keep();
        match &mut self.backlog {
            Some(b) => b.trim(keep, usize::MAX),
            None => Vec::new(),
        }
    }
}

impl Replicas {
    /// A master with replication id `replid` and no backlog.
    pub fn new(replid: String) -> Self {
        Replicas {
            inner: Mutex::new(Inner {
                ids: Ids {
                    replid,
                    replid2: NO_REPLID.into(),
                    second_offset: -1,
                    offset: 0,
                },
                backlog: None,
                db: None,
                list: Vec::new(),
                alone_since: None,
                write_offset: 0,
            }),
            feeding: Default::default(),
            attached: AtomicUsize::new(0),
            end: AtomicU64::new(1),
            handoff: Mutex::new(HashMap::new()),
            confs: Mutex::new(HashMap::new()),
            job: Mutex::new(None),
            producing: Mutex::new(None),
            snapshotting: AtomicUsize::new(0),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }

    /// Whether the stream is fed (a backlog exists).
    pub fn active(&self) -> bool {
        self.feeding.load(Relaxed)
    }

    /// Replicas attached (any state).
    pub fn count(&self) -> usize {
        self.attached.load(Relaxed)
    }

    /// The attached replicas.
    pub fn list(&self) -> Vec<Arc<Replica>> {
        self.inner.lock().list.clone()
    }

    /// A copy of the ids and offset.
    pub fn ids(&self) -> Ids {
        let g = self.inner.lock();
        Ids {
            replid: g.ids.replid.clone(),
            replid2: g.ids.replid2.clone(),
            second_offset: g.ids.second_offset,
            offset: g.ids.offset,
        }
    }

    /// master_repl_offset.
    pub fn offset(&self) -> u64 {
        self.inner.lock().ids.offset
    }

    /// (repl_backlog_active, first byte offset, histlen).
    pub fn backlog_info(&self) -> (bool, u64, u64) {
        let g = self.inner.lock();
        match &g.backlog {
            Some(b) => (true, b.first(), b.histlen()),
            None => (false, 0, 0),
        }
    }

    /// Sends propagated commands to the backlog and every replica (called under
    /// the commands' locks, so the stream has the execution order).
    pub fn feed(&self, cmds: &[(usize, &[&[u8]])]) {
        let mut g = self.inner.lock();
        if g.backlog.is_none() {
            return;
        }
        let mut buf = Vec::new();
        for (db, argv) in cmds {
            if g.db != Some(*db) {
                let n = db.to_string();
                encode(&[b"SELECT", n.as_bytes()], &mut buf);
                g.db = Some(*db);
            }
            encode(argv, &mut buf);
        }
        g.append(&buf, &self.end);
        g.write_offset = g.ids.offset;
        if !g.list.is_empty() {
            g.wake(buf.len(), &self.attached);
        }
    }

    /// The offset after the last write command in the stream (WAIT's target:
    /// at or after the calling client's last write).
    pub fn write_offset(&self) -> u64 {
        self.inner.lock().write_offset
    }

    /// Sends bytes of the stream that need no SELECT (PING, REPLCONF GETACK, and a
    /// replica's proxied master stream).
    pub fn feed_raw(&self, bytes: &[u8]) {
        let mut g = self.inner.lock();
        if g.backlog.is_none() {
            return;
        }
        g.append(bytes, &self.end);
        if !g.list.is_empty() {
            g.wake(bytes.len(), &self.attached);
        }
    }

    fn create_backlog(&self, g: &mut Inner, size: usize) {
        if g.backlog.is_some() {
            return;
        }
        g.backlog = Some(ReplBuf::new(size, g.ids.offset + 1));
        self.end.store(g.ids.offset + 1, Release);
        self.feeding.store(true, Release);
    }

    /// repl-backlog-size changed.
    pub fn resize_backlog(&self, size: usize) {
        let mut g = self.inner.lock();
        if let Some(b) = &mut g.backlog {
            b.resize(size);
        }
    }

    fn detach(&self, id: u64) {
        let mut g = self.inner.lock();
        let before = g.list.len();
        g.list.retain(|r| r.handle.id != id);
        let gone = before - g.list.len();
        if gone > 0 {
            self.attached.fetch_sub(gone, Relaxed);
            if g.list.is_empty() {
                g.alone_since = Some(Instant::now());
            }
            // What only it still needed goes now (Redis frees a replica's
            // blocks as it frees the replica).
            let freed = g.trim_all();
            drop(g);
            drop(freed);
        }
    }

    /// Becomes a replica's view of the stream: the ids and offset of the master
    /// that the dataset now follows (after a full sync), with a fresh backlog.
    pub fn set_master_ids(&self, replid: &str, offset: u64, backlog_size: usize) {
        let mut g = self.inner.lock();
        g.ids.replid = replid.to_string();
        g.ids.replid2 = NO_REPLID.into();
        g.ids.second_offset = -1;
        g.ids.offset = offset;
        g.write_offset = offset;
        g.backlog = None;
        g.db = None;
        self.create_backlog(&mut g, backlog_size);
    }

    /// A partial resync with a master that changed its id (`+CONTINUE <new>`):
    /// the old id becomes replid2, valid up to the current offset.
    pub fn shift_replid(&self, new: &str) {
        let mut g = self.inner.lock();
        if g.ids.replid == new {
            return;
        }
        g.ids.replid2 = std::mem::replace(&mut g.ids.replid, new.to_string());
        g.ids.second_offset = g.ids.offset as i64 + 1;
    }

    /// REPLICAOF NO ONE (PSYNC2): a new id; the old one stays valid as replid2 up
    /// to the current offset, so former siblings can partially resync.
    pub fn promote(&self, backlog_size: usize) {
        let mut g = self.inner.lock();
        g.ids.replid2 = std::mem::replace(&mut g.ids.replid, new_replid());
        g.ids.second_offset = g.ids.offset as i64 + 1;
        g.write_offset = g.ids.offset;
        // The next command goes after a SELECT.
        g.db = None;
        self.create_backlog(&mut g, backlog_size);
    }

    /// `job`'s RDB is no longer produced.
    fn end_production(&self, job: &Arc<SyncJob>) {
        let mut producing = self.producing.lock();
        if producing.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)) {
            *producing = None;
        }
    }

    /// FLUSHALL: the RDB being produced for replicas is stopped, and the
    /// replicas waiting for it are dropped (they ask again and get the empty
    /// dataset), as Redis kills its RDB child.
    pub fn abort_production(&self) {
        let Some(job) = self.producing.lock().clone() else {
            return;
        };
        job.cancel.store(true, Relaxed);
        if let Some(stream) = &job.stream {
            stream.cancel();
        }
        for m in job.members.lock().iter() {
            if !m.bulk_over.load(Relaxed) {
                m.handle.kill();
            }
        }
    }

    /// Whether a snapshot for replicas is being taken (Redis's replication
    /// child counts as a BGSAVE in progress).
    pub fn snapshotting(&self) -> bool {
        self.snapshotting.load(Relaxed) > 0
    }

    /// CONFIG RESETSTAT: the sync counters start over.
    pub fn reset_stats(&self) {
        for c in [
            &self.sync_full,
            &self.sync_partial_ok,
            &self.sync_partial_err,
        ] {
            c.store(0, Relaxed);
        }
    }

    /// A master's replication position for an RDB (Redis's rdbPopulateSaveInfo):
    /// (replid, offset, the db the stream last selected, 0 before any), only
    /// while a backlog exists.
    pub fn save_position(&self) -> Option<(String, u64, usize)> {
        let g = self.inner.lock();
        g.backlog.as_ref()?;
        Some((g.ids.replid.clone(), g.ids.offset, g.db.unwrap_or(0)))
    }

    /// A master restarted from an RDB holding `replid` at `offset` (Redis's
    /// loadDataFromDisk): the keys that expired while it was down go into a new
    /// backlog as DELs (UNLINKs with lazyfree-lazy-expire), then the stream is
    /// rebased past `offset`, and the file's id stays valid as replid2 up to
    /// `offset`, so replicas continue with a partial resync.
    pub fn restore_master(
        &self,
        replid: &str,
        offset: u64,
        backlog_size: usize,
        expired: &[(usize, Vec<u8>)],
        unlink: bool,
    ) {
        {
            let mut g = self.inner.lock();
            g.ids.offset = 0;
            g.db = None;
            self.create_backlog(&mut g, backlog_size);
        }
        let verb: &[u8] = if unlink { b"UNLINK" } else { b"DEL" };
        for (db, key) in expired {
            self.feed(&[(*db, &[verb, key.as_slice()][..])]);
        }
        let mut g = self.inner.lock();
        g.ids.offset += offset;
        g.ids.replid2 = replid.to_string();
        g.ids.second_offset = offset as i64 + 1;
        g.write_offset = g.ids.offset;
        if let Some(b) = &mut g.backlog {
            b.rebase(offset);
            self.end.store(b.next(), Release);
        }
        g.alone_since = Some(Instant::now());
    }

    /// Drops every replica connection (a master becoming a replica: they must
    /// resync with the new history).
    pub fn disconnect_all(&self) {
        for r in self.list() {
            r.handle.kill();
        }
    }

    /// The cron's part, every second: pings the replicas every
    /// repl-ping-replica-period seconds, frees the backlog repl-backlog-ttl
    /// seconds after the last replica left (masters only).
    pub fn cron(&self, st: &ServerState, tick: u64, is_master: bool) {
        let period = st
            .engine
            .config
            .int_named("repl-ping-replica-period")
            .max(1) as u64;
        // No pings while a failover waits for a replica to reach our offset.
        if is_master && tick.is_multiple_of(period) && self.count() > 0 && !st.failover.active() {
            let mut ping = Vec::new();
            encode(&[b"PING"], &mut ping);
            self.feed_raw(&ping);
        }
        // What the appends left for later (they free a few blocks each).
        let freed = self.inner.lock().trim_all();
        drop(freed);
        if is_master {
            let ttl = st.engine.config.int_named("repl-backlog-ttl");
            let mut g = self.inner.lock();
            if ttl > 0
                && g.list.is_empty()
                && g.backlog.is_some()
                && g.alone_since
                    .is_some_and(|t| t.elapsed() >= Duration::from_secs(ttl as u64))
            {
                tracing::info!(
                    "Replication backlog freed after {ttl} seconds without connected replicas."
                );
                g.ids.replid2 = NO_REPLID.into();
                g.ids.second_offset = -1;
                g.ids.replid = new_replid();
                g.backlog = None;
                self.feeding.store(false, Release);
            }
        }
    }

    /// INFO mem_total_replication_buffers: the replication buffer's blocks.
    pub fn buffer_bytes(&self) -> usize {
        self.inner
            .lock()
            .backlog
            .as_ref()
            .map_or(0, ReplBuf::memory)
    }

    /// (INFO mem_replication_backlog, the replicas' part of the buffer): as
    /// Redis splits the shared buffer, what exceeds repl-backlog-size is the
    /// replicas' while there are replicas, and all of it is the backlog's else.
    fn buffer_split(g: &Inner) -> (usize, usize) {
        let Some(b) = &g.backlog else {
            return (0, 0);
        };
        if !g.list.is_empty() && b.memory() > b.size() {
            (b.size(), b.memory() - b.size())
        } else {
            (b.memory(), 0)
        }
    }

    /// INFO mem_replication_backlog.
    pub fn backlog_memory(&self) -> usize {
        Self::buffer_split(&self.inner.lock()).0
    }

    /// What eviction does not count (INFO mem_not_counted_for_evict, Redis's
    /// freeMemoryGetNotCountedMemory): the replication buffer past what a
    /// backlog of repl-backlog-size takes, replicas or not (a buffer that a slow
    /// replica made grow must not make the master evict its data while it is
    /// trimmed), and the replicas' own output.
    pub fn output_memory(&self) -> usize {
        let g = self.inner.lock();
        let excess = g.backlog.as_ref().map_or(0, |b| {
            let counted = b.size()
                + (b.size() / crate::repl_buf::BLOCK + 1) * crate::repl_buf::BLOCK_OVERHEAD;
            b.memory().saturating_sub(counted)
        });
        excess + g.list.iter().map(|r| output_of(r)).sum::<usize>()
    }

    /// INFO mem_clients_slaves: the replicas' part of the replication buffer,
    /// their own output and their connections.
    pub fn clients_memory(&self) -> usize {
        let g = self.inner.lock();
        let share = Self::buffer_split(&g).1;
        share
            + g.list
                .iter()
                .map(|r| {
                    output_of(r)
                        + r.handle.qbuf.load(Relaxed)
                        + r.handle.qbuf_free.load(Relaxed)
                        + crate::client_mem::CLIENT_BASE
                })
                .sum::<usize>()
    }

    /// Copies the stream from offset `from` into `out` (at most `max` bytes);
    /// how many.
    fn copy_stream(&self, from: u64, out: &mut BytesMut, max: usize) -> usize {
        // A piece per lock: the writes that feed the stream wait for it.
        const PIECE: usize = 64 * 1024;
        let mut copied = 0;
        while copied < max {
            let n = self.inner.lock().backlog.as_ref().map_or(0, |b| {
                b.copy_from(from + copied as u64, out, PIECE.min(max - copied))
            });
            if n == 0 {
                break;
            }
            copied += n;
        }
        copied
    }

    /// Replicas that acknowledged `offset` or more.
    pub fn acked(&self, offset: u64) -> u64 {
        self.inner
            .lock()
            .list
            .iter()
            .filter(|r| r.state() == LinkState::Online && r.ack_off.load(Relaxed) >= offset)
            .count() as u64
    }

    /// Online replicas whose last ack is at most `max_lag` seconds old
    /// (min-replicas-max-lag).
    pub fn good(&self, max_lag: u64) -> u64 {
        let now = unix_secs();
        self.inner
            .lock()
            .list
            .iter()
            .filter(|r| {
                r.state() == LinkState::Online
                    && now.saturating_sub(r.ack_time.load(Relaxed)) <= max_lag
            })
            .count() as u64
    }
}

fn is_kw(a: &[u8], k: &str) -> bool {
    a.eq_ignore_ascii_case(k.as_bytes())
}

/// REPLCONF option value ... (Redis's replconfCommand; ACK and GETACK reach the
/// replica-serving loops, not here).
fn replconf(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    if args.len().is_multiple_of(2) {
        return Err(CmdError::Syntax);
    }
    let st = state(ctx)?;
    let id = ctx.client.id;
    let mut conf = st
        .replicas
        .confs
        .lock()
        .get(&id)
        .cloned()
        .unwrap_or_default();
    for pair in args[1..].chunks(2) {
        let (opt, v) = (pair[0], pair[1]);
        if is_kw(opt, "listening-port") {
            let port = ferrokv_core::args::parse_i64(v).ok_or(CmdError::NotInteger)?;
            conf.port = port as u16;
        } else if is_kw(opt, "ip-address") {
            if v.len() >= 46 {
                return Err(CmdError::Other(format!(
                    "REPLCONF ip-address provided by replica instance is too long: {} bytes",
                    v.len()
                )));
            }
            conf.ip = Some(String::from_utf8_lossy(v).into_owned());
        } else if is_kw(opt, "capa") {
            if is_kw(v, "eof") {
                conf.eof = true;
            } else if is_kw(v, "psync2") {
                conf.psync2 = true;
            }
        } else if is_kw(opt, "ack") || is_kw(opt, "fack") {
            // From a connection that is no replica: ignored, no reply.
            return Ok(());
        } else if is_kw(opt, "getack") {
            if crate::replica_link::is_replica(st) {
                crate::replica_link::send_ack(st);
            }
            return Ok(());
        } else if is_kw(opt, "rdb-only") {
            match ferrokv_core::args::parse_i64(v) {
                Some(n @ (0 | 1)) => conf.rdb_only = n == 1,
                _ => return Err(CmdError::NotInteger),
            }
        } else if is_kw(opt, "rdb-filter-only") {
            let text = String::from_utf8_lossy(v).into_owned();
            let mut functions = false;
            for f in text.split_whitespace() {
                if f.eq_ignore_ascii_case("functions") {
                    functions = true;
                } else {
                    return Err(CmdError::Other(format!(
                        "Unsupported rdb-filter-only option: {f}"
                    )));
                }
            }
            conf.filter = Some(functions);
        } else {
            return Err(CmdError::Other(format!(
                "Unrecognized REPLCONF option: {}",
                String::from_utf8_lossy(opt)
            )));
        }
    }
    st.replicas.confs.lock().insert(id, conf);
    ctx.out.ok();
    Ok(())
}

/// SYNC: a full synchronization for an old replica or `redis-cli --rdb`.
fn sync(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let id = ctx.client.id;
    st.replicas.handoff.lock().insert(id, Handoff::Sync);
    ctx.client.close_after_reply = true;
    Ok(())
}

/// PSYNC replid offset.
fn psync(ctx: &mut Ctx<'_, '_>, args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    if args.len() > 3 && is_kw(args[3], "failover") {
        // The master hands over (FAILOVER): become the master of the same history.
        tracing::warn!(
            "Failover request received for replid {}.",
            String::from_utf8_lossy(args[1])
        );
        if !crate::replica_link::is_replica(st) {
            return Err(CmdError::Other(
                "PSYNC FAILOVER can't be sent to a master.".into(),
            ));
        }
        if !args[1].eq_ignore_ascii_case(st.replicas.ids().replid.as_bytes()) {
            return Err(CmdError::Other(
                "PSYNC FAILOVER replid must match my replid.".into(),
            ));
        }
        crate::replica_link::unset_master(st);
        tracing::info!("MASTER MODE enabled (failover request)");
    }
    if crate::replica_link::is_replica(st) && !crate::replica_link::link_up(st) {
        return Err(CmdError::Raw(
            "NOMASTERLINK Can't SYNC while not connected with my master".into(),
        ));
    }
    let replid = String::from_utf8_lossy(args[1]).into_owned();
    if st.failover.active() {
        return Err(CmdError::Raw(
            "NOMASTERLINK Can't SYNC while failing over".into(),
        ));
    }
    // Redis checks the offset after logging the request, and refuses the whole
    // PSYNC (it used to start a full sync and reply an error as well).
    let Some(offset) = ferrokv_core::args::parse_i64(args[2]) else {
        let addr = st
            .clients
            .get(ctx.client.id)
            .map(|h| h.addr.clone())
            .unwrap_or_default();
        tracing::info!("Replica {addr} asks for synchronization");
        tracing::warn!("Replica {addr} asks for synchronization but with a wrong offset");
        return Err(CmdError::NotInteger);
    };
    st.replicas
        .handoff
        .lock()
        .insert(ctx.client.id, Handoff::Psync { replid, offset });
    ctx.client.close_after_reply = true;
    Ok(())
}

/// What a serving loop must send before the stream.
enum Start {
    /// Already posted (partial resync).
    Continue,
    /// A full sync: the RDB after this header.
    Full,
}

/// After the command loop of a connection ends: if it ran SYNC or PSYNC, it
/// serves the replica stream until the peer closes or it is killed.
/// `client` is the connection's client (its user and db), `input` what it sent
/// after SYNC/PSYNC and was not run yet.
pub async fn serve_if_replica<S>(
    stream: &mut S,
    st: &Arc<ServerState>,
    handle: &Arc<ClientHandle>,
    client: &mut Client,
    mut input: BytesMut,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let conf = st.replicas.confs.lock().remove(&handle.id);
    let Some(handoff) = st.replicas.handoff.lock().remove(&handle.id) else {
        return;
    };
    let conf = conf.unwrap_or_default();
    let is_psync = matches!(handoff, Handoff::Psync { .. });
    let replica = Arc::new(Replica {
        handle: handle.clone(),
        conf: conf.clone(),
        state: AtomicU8::new(LinkState::WaitBgsave as u8),
        ack_off: AtomicU64::new(0),
        ack_time: AtomicU64::new(unix_secs()),
        bulk_over: AtomicBool::new(false),
        gone: AtomicBool::new(false),
        cursor: AtomicU64::new(0),
    });
    handle.kind.store(crate::clients::KIND_REPLICA, Relaxed);
    st.clients.put_back(handle.clone());
    // Its kind is set: the replica class's output limits.
    crate::obuf::apply_class(st, handle);
    let backlog_size = st.engine.config.int_named("repl-backlog-size").max(1) as usize;
    tracing::info!("Replica {} asks for synchronization", replica.ip());
    // Partial resynchronization, decided and attached under the feed lock.
    let start = if let Handoff::Psync { replid, offset } = &handoff {
        let mut g = st.replicas.inner.lock();
        let ok_id =
            *replid == g.ids.replid || (*replid == g.ids.replid2 && *offset <= g.ids.second_offset);
        let range = g.backlog.as_ref().and_then(|b| {
            let off = u64::try_from(*offset).ok()?;
            b.holds(off).then(|| (off, b.next() - off))
        });
        match (ok_id, range) {
            (true, Some((from, n))) => {
                let msg = if conf.psync2 {
                    format!("+CONTINUE {}\r\n", g.ids.replid).into_bytes()
                } else {
                    b"+CONTINUE\r\n".to_vec()
                };
                // The backlog's bytes follow from the replication buffer.
                let _ = handle.mailbox.post(Bytes::from(msg));
                replica.set_state(LinkState::Online);
                replica
                    .ack_off
                    .store((*offset as u64).saturating_sub(1), Relaxed);
                g.attach(&replica, from, &st.replicas.attached);
                st.aof.keep_propagating.store(true, Release);
                st.engine.propagating.store(true, Release);
                st.replicas.sync_partial_ok.fetch_add(1, Relaxed);
                tracing::info!(
                    "Partial resynchronization request from {} accepted. Sending {n} bytes of backlog starting from offset {offset}.",
                    replica.ip()
                );
                Start::Continue
            }
            _ => {
                if replid != "?" {
                    st.replicas.sync_partial_err.fetch_add(1, Relaxed);
                }
                Start::Full
            }
        }
    } else {
        Start::Full
    };
    let mut wait_ack = false;
    // Whatever way this ends, the replica counts as gone for a diskless job
    // still sending to others.
    struct Gone<'r>(&'r Replica);
    impl Drop for Gone<'_> {
        fn drop(&mut self) {
            self.0.gone.store(true, Relaxed);
            self.0.bulk_over.store(true, Relaxed);
        }
    }
    let _gone = Gone(&replica);
    if let Start::Full = start {
        match full_sync(
            stream,
            st,
            &replica,
            is_psync,
            backlog_size,
            client,
            &mut input,
        )
        .await
        {
            Some(eof_form) => wait_ack = eof_form,
            None => {
                st.replicas.detach(handle.id);
                return;
            }
        }
    }
    stream_loop(stream, st, &replica, client, input, wait_ack).await;
    st.replicas.detach(handle.id);
    tracing::info!("Connection with replica {} lost.", replica.ip());
}

const JOB_WAITING: u8 = 0;
const JOB_STARTED: u8 = 1;
const JOB_DONE: u8 = 2;
const JOB_FAILED: u8 = 3;

/// One snapshot for the replicas that ask for a full sync together (Redis
/// feeds every replica waiting out repl-diskless-sync-delay from one child):
/// the first one starts the job, others join it until it begins.
pub struct SyncJob {
    diskless: bool,
    /// The RDB as it is produced (diskless).
    stream: Option<Arc<crate::rdb_stream::RdbStream>>,
    members: Mutex<Vec<Arc<Replica>>>,
    /// JOB_WAITING, then JOB_STARTED at the snapshot instant, then JOB_DONE or
    /// JOB_FAILED.
    phase: tokio::sync::watch::Sender<u8>,
    /// Set at the instant: the replid, the offset and the replicas attached.
    start: std::sync::OnceLock<(String, u64, Vec<u64>)>,
    /// The RDB, when done.
    payload: std::sync::OnceLock<Arc<Vec<u8>>>,
    /// Replicas that joined a disk job after its snapshot instant.
    late: Mutex<Vec<u64>>,
    /// Told when a member's sync ends (a diskless job then ends at once and
    /// frees its RDB).
    progress: tokio::sync::Notify,
    /// Set to stop the production of its RDB.
    cancel: Arc<AtomicBool>,
}

/// Joins the full-sync job still gathering replicas, or starts one.
fn join_sync_job(
    st: &Arc<ServerState>,
    replica: &Arc<Replica>,
    diskless: bool,
    backlog_size: usize,
) -> Arc<SyncJob> {
    let mut slot = st.replicas.job.lock();
    if let Some(job) = slot.as_ref().filter(|j| j.diskless == diskless) {
        job.members.lock().push(replica.clone());
        return job.clone();
    }
    if !diskless {
        if let Some(job) = join_late(st, replica) {
            return job;
        }
    }
    let job = Arc::new(SyncJob {
        diskless,
        stream: diskless.then(crate::rdb_stream::RdbStream::new),
        members: Mutex::new(vec![replica.clone()]),
        phase: tokio::sync::watch::channel(JOB_WAITING).0,
        start: std::sync::OnceLock::new(),
        payload: std::sync::OnceLock::new(),
        late: Mutex::new(Vec::new()),
        progress: tokio::sync::Notify::new(),
        cancel: Arc::default(),
    });
    *slot = Some(job.clone());
    tokio::spawn(run_sync_job(st.clone(), job.clone(), backlog_size));
    job
}

/// A replica asking for a full sync while a disk RDB for replicas is produced
/// gets that RDB too (Redis's "Waiting for end of BGSAVE for SYNC"): it is
/// attached now, its queue starting with the stream since the snapshot instant
/// (from the backlog, as Redis copies the first replica's output buffer). None
/// when no such job runs or the backlog no longer reaches back to its instant.
fn join_late(st: &ServerState, replica: &Arc<Replica>) -> Option<Arc<SyncJob>> {
    let job = st.replicas.producing.lock().clone()?;
    if job.diskless || *job.phase.borrow() != JOB_STARTED {
        return None;
    }
    let (_, at, _) = job.start.get()?;
    let reps = &st.replicas;
    let mut g = reps.inner.lock();
    let from = at + 1;
    if !g.backlog.as_ref()?.holds(from) {
        return None;
    }
    g.attach(replica, from, &reps.attached);
    job.late.lock().push(replica.handle.id);
    job.members.lock().push(replica.clone());
    tracing::info!("Waiting for end of BGSAVE for SYNC");
    Some(job)
}

/// Waits out repl-diskless-sync-delay (diskless only; it ends early once
/// repl-diskless-sync-max-replicas have joined), then takes one snapshot that
/// attaches every member still connected at its instant.
async fn run_sync_job(st: Arc<ServerState>, job: Arc<SyncJob>, backlog_size: usize) {
    let cfg = &st.engine.config;
    if job.diskless {
        let delay = cfg.int_named("repl-diskless-sync-delay").max(0) as u64;
        let max = cfg.int_named("repl-diskless-sync-max-replicas").max(0) as usize;
        let until = Instant::now() + Duration::from_secs(delay);
        while Instant::now() < until && !(max > 0 && job.members.lock().len() >= max) {
            let left = until.saturating_duration_since(Instant::now());
            tokio::time::sleep(Duration::from_millis(20).min(left)).await;
        }
    }
    // One snapshot at a time (another sync job's, a BGSAVE, an AOF rewrite):
    // until it can take its own, the job keeps gathering the replicas that
    // ask (Redis's replicas wait for the next BGSAVE while a child runs). The
    // check and the claim are made under the slot's lock, so two jobs never
    // both start.
    loop {
        {
            let mut slot = st.replicas.job.lock();
            if !st.engine.snapshot.active() && !st.replicas.snapshotting() {
                if slot.as_ref().is_some_and(|j| Arc::ptr_eq(j, &job)) {
                    *slot = None;
                }
                st.replicas.snapshotting.fetch_add(1, Relaxed);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let members: Vec<Arc<Replica>> = job
        .members
        .lock()
        .iter()
        .filter(|r| !r.handle.mailbox.closing())
        .cloned()
        .collect();
    if members.is_empty() {
        st.replicas.snapshotting.fetch_sub(1, Relaxed);
        job.phase.send_replace(JOB_FAILED);
        return;
    }
    tracing::info!(
        "Starting BGSAVE for SYNC with target: {}",
        if job.diskless {
            "replicas sockets"
        } else {
            "disk"
        }
    );
    let st2 = st.clone();
    let job2 = job.clone();
    let attached = members.clone();
    let at_instant = move || {
        // Every shard lock is held: no write runs between the snapshot and
        // the first byte of the stream these replicas get.
        let reps = &st2.replicas;
        let mut g = reps.inner.lock();
        if g.backlog.is_none() && g.list.is_empty() && !crate::replica_link::is_replica(&st2) {
            // A new history (Redis's first replica without a backlog).
            g.ids.replid = new_replid();
            g.ids.replid2 = NO_REPLID.into();
            g.ids.second_offset = -1;
        }
        reps.create_backlog(&mut g, backlog_size);
        g.db = None;
        let from = g.ids.offset + 1;
        for r in &members {
            g.attach(r, from, &reps.attached);
        }
        let ids = members.iter().map(|r| r.handle.id).collect();
        let _ = job2.start.set((g.ids.replid.clone(), g.ids.offset, ids));
        st2.aof.keep_propagating.store(true, Release);
        st2.engine.propagating.store(true, Release);
        job2.phase.send_replace(JOB_STARTED);
    };
    *st.replicas.producing.lock() = Some(job.clone());
    if let Some(stream) = job.stream.clone() {
        let engine = st.engine.clone();
        let production = tokio::task::spawn_blocking(move || {
            crate::persistence::snapshot_stream(&engine, &stream, at_instant)
        });
        // Redis names its child; the RDB is produced on a thread of this process.
        tracing::info!(
            "Background RDB transfer started by pid {}",
            std::process::id()
        );
        let ok = follow_diskless(&job, &attached, production).await;
        st.replicas.end_production(&job);
        st.replicas.snapshotting.fetch_sub(1, Relaxed);
        job.phase
            .send_replace(if ok { JOB_DONE } else { JOB_FAILED });
        return;
    }
    let engine = st.engine.clone();
    let cancel = job.cancel.clone();
    let flag = cancel.clone();
    let production = tokio::task::spawn_blocking(move || {
        crate::persistence::snapshot_rdb(&engine, flag, at_instant)
    });
    tokio::pin!(production);
    // With no save points, a snapshot no replica waits for any more is
    // stopped (Redis kills its child when the last replica in wait_bgsave
    // goes, unless the RDB is also wanted as a save).
    let taken = loop {
        tokio::select! {
            r = &mut production => break r,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {
                if !cancel.load(Relaxed)
                    && job.members.lock().iter().all(|m| m.gone.load(Relaxed))
                    && crate::persistence::save_points(&st.engine).is_empty()
                {
                    cancel.store(true, Relaxed);
                }
            }
        }
    };
    st.replicas.end_production(&job);
    st.replicas.snapshotting.fetch_sub(1, Relaxed);
    match taken {
        Ok(Ok(payload)) => {
            let _ = job.payload.set(Arc::new(payload));
            job.phase.send_replace(JOB_DONE);
        }
        Ok(Err(e)) => {
            tracing::warn!("Can't sync replicas: {e}");
            job.phase.send_replace(JOB_FAILED);
        }
        Err(_) => {
            job.phase.send_replace(JOB_FAILED);
        }
    }
}

/// A diskless job after its snapshot instant: the RDB is produced while the
/// replicas' connections send it, and the job (INFO rdb_bgsave_in_progress) ends
/// once every replica has it or is gone, as Redis's child ends once the parent
/// has copied the whole pipe to the sockets. Redis's log lines: "done reading
/// from pipe, N replicas still up", or "last replica dropped" when none is left
/// (the production then stops). Returns whether the RDB was produced.
async fn follow_diskless(
    job: &SyncJob,
    attached: &[Arc<Replica>],
    production: tokio::task::JoinHandle<Result<(), String>>,
) -> bool {
    tokio::pin!(production);
    let mut produced: Option<bool> = None;
    loop {
        tokio::select! {
            r = &mut production, if produced.is_none() => {
                let ok = matches!(r, Ok(Ok(())));
                if let Ok(Err(e)) = &r {
                    if !attached.iter().all(|m| m.bulk_over.load(Relaxed)) {
                        tracing::warn!("Can't sync replicas: {e}");
                    }
                }
                if !ok && job.start.get().is_none() {
                    // It failed before its instant: no replica was attached
                    // or sent anything; they are dropped and ask again.
                    return false;
                }
                produced = Some(ok);
            }
            _ = job.progress.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if !attached.iter().all(|m| m.bulk_over.load(Relaxed)) {
            continue;
        }
        // Nobody reads the RDB any more: its memory goes now, not with the job.
        if let (Some(stream), Some(_)) = (&job.stream, produced) {
            stream.release();
        }
        let up_now = || {
            attached
                .iter()
                .filter(|m| !m.gone.load(Relaxed) && m.state() == LinkState::Online)
                .count()
        };
        if up_now() < attached.len() {
            // A replica dropped during the transfer. Others may have been cut
            // at the same instant, and those that already have the whole RDB
            // (Redis paces every replica to the slowest, ours take it at their
            // own pace) notice it in their own task: a moment for that, so the
            // count below is of replicas really still up.
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let up = up_now();
        if up == 0 {
            if produced != Some(false) {
                tracing::warn!("Diskless rdb transfer, last replica dropped, killing fork child.");
            }
            if let Some(stream) = &job.stream {
                stream.cancel();
            }
            if produced.is_none() {
                let _ = (&mut production).await;
            }
            return false;
        }
        if produced.is_some() {
            tracing::warn!(
                "Diskless rdb transfer, done reading from pipe, {up} replicas still up."
            );
            return produced == Some(true);
        }
    }
}

/// The full synchronization: waits repl-diskless-sync-delay (diskless), takes the
/// RDB with the replica attached at its instant, sends the header and the RDB.
/// What the replica sends meanwhile is handled as in the stream (`client`,
/// `input`): Redis serves a replica's commands while its RDB is produced.
async fn full_sync<S>(
    stream: &mut S,
    st: &Arc<ServerState>,
    replica: &Arc<Replica>,
    is_psync: bool,
    backlog_size: usize,
    client: &mut Client,
    input: &mut BytesMut,
) -> Option<bool>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut parser = RequestParser::new(RequestLimits::default());
    if !input.is_empty() {
        run_replica_input(st, replica, client, &mut parser, input)?;
    }
    st.replicas.sync_full.fetch_add(1, Relaxed);
    let diskless = replica.conf.eof && st.engine.config.int_named("repl-diskless-sync") != 0;
    if let Some(functions) = replica.conf.filter {
        // A filtered RDB (redis-cli --replica, --functions-rdb): no keys.
        tracing::info!("Starting BGSAVE for SYNC with target: replicas sockets");
        let sent = send_filtered(stream, st, replica, functions, is_psync, backlog_size).await;
        return (sent && !replica.conf.rdb_only).then_some(false);
    }
    let job = join_sync_job(st, replica, diskless, backlog_size);
    let mut phase = job.phase.subscribe();
    let mut header_sent = false;
    // The first newline a second from now (as Redis's cron): a sync that starts
    // at once answers +FULLRESYNC before anything else.
    let second = Duration::from_secs(1);
    let mut keepalive = tokio::time::interval_at(tokio::time::Instant::now() + second, second);
    let payload = loop {
        let now = *phase.borrow_and_update();
        match now {
            JOB_WAITING => {}
            JOB_STARTED | JOB_DONE => {
                let (replid, at, attached) = job.start.get()?;
                if !attached.contains(&replica.handle.id)
                    && !job.late.lock().contains(&replica.handle.id)
                {
                    return None;
                }
                if !header_sent {
                    header_sent = true;
                    replica.ack_off.store(*at, Relaxed);
                    if is_psync {
                        let line = format!("+FULLRESYNC {replid} {at}\r\n");
                        if stream.write_all(line.as_bytes()).await.is_err() {
                            return None;
                        }
                    }
                }
                if let Some(stream) = &job.stream {
                    break Payload::Stream(stream.reader());
                }
                if now == JOB_DONE {
                    break Payload::Whole(job.payload.get()?.clone());
                }
            }
            _ => return None,
        }
        // Keep-alive newlines while the delay runs and the RDB is produced (a
        // replica takes a newline before the payload as a ping, as Redis's).
        tokio::select! {
            changed = phase.changed() => {
                if changed.is_err() {
                    return None;
                }
            }
            _ = keepalive.tick() => {
                // None while DEBUG SLEEP runs (Redis's whole server sleeps).
                let asleep = st.engine.clock.now_ms() < st.debug.asleep_until_ms.load(Relaxed);
                if !asleep && stream.write_all(b"\n").await.is_err() {
                    return None;
                }
            }
            _ = replica.handle.mailbox.wait_closed() => return None,
            r = stream.read_buf(input) => {
                if !matches!(r, Ok(n) if n > 0) {
                    return None;
                }
                run_replica_input(st, replica, client, &mut parser, input)?;
            }
        }
    };
    let ok = match payload {
        Payload::Whole(payload) => {
            replica.set_state(LinkState::SendBulk);
            let head = format!("${}\r\n", payload.len());
            let sent = async {
                stream.write_all(head.as_bytes()).await?;
                stream.write_all(&payload).await?;
                stream.flush().await
            };
            let ok = tokio::select! {
                r = sent => r.is_ok(),
                _ = replica.handle.mailbox.wait_closed() => false,
            };
            if ok {
                st.net_output.fetch_add(payload.len() as u64, Relaxed);
            }
            ok
        }
        Payload::Stream(reader) => {
            // The RDB leaves as it is produced, which can take long: the
            // replica's side is read meanwhile, so a replica that goes away is
            // dropped at once (Redis reads every replica's socket), not at the
            // next chunk.
            let (mut rd, mut wr) = tokio::io::split(&mut *stream);
            let send = send_stream(&mut wr, st, replica, reader);
            tokio::pin!(send);
            loop {
                tokio::select! {
                    ok = &mut send => break ok,
                    _ = replica.handle.mailbox.wait_closed() => break false,
                    r = rd.read_buf(input), if input.len() < MAX_EARLY_INPUT => {
                        if !matches!(r, Ok(n) if n > 0) {
                            break false;
                        }
                    }
                }
            }
        }
    };
    if ok {
        replica.set_state(LinkState::Online);
        replica.ack_time.store(unix_secs(), Relaxed);
        tracing::info!("Synchronization with replica {} succeeded", replica.name());
    }
    replica.bulk_over.store(true, Relaxed);
    job.progress.notify_one();
    // In the EOF-marker form the replica cannot tell where the RDB ends if the
    // stream follows at once: the stream starts on its first ACK (as Redis).
    ok.then_some(diskless)
}

/// The most a replica may send while its RDB is sent (kept for after it).
const MAX_EARLY_INPUT: usize = 1 << 20;

/// What a full synchronization sends.
enum Payload {
    /// The whole RDB, produced before (`$<len>` form).
    Whole(Arc<Vec<u8>>),
    /// The RDB as it is produced (`$EOF:<mark>` form).
    Stream(crate::rdb_stream::StreamReader),
}

/// Sends the RDB as it is produced between an EOF mark header and the mark.
/// A replica that takes nothing for repl-timeout is dropped, with Redis's line.
async fn send_stream<S>(
    stream: &mut S,
    st: &ServerState,
    replica: &Replica,
    mut reader: crate::rdb_stream::StreamReader,
) -> bool
where
    S: AsyncWrite + Unpin,
{
    let mark = new_replid();
    if stream
        .write_all(format!("$EOF:{mark}\r\n").as_bytes())
        .await
        .is_err()
    {
        return false;
    }
    loop {
        let chunk = match reader.next().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(()) => return false,
        };
        // A replica that takes nothing for repl-timeout (read again as it
        // runs: CONFIG SET applies to a transfer under way, as Redis's cron
        // compares the time of the last partial write with it) is dropped.
        let mut last = Instant::now();
        let mut pos = 0;
        while pos < chunk.len() {
            tokio::select! {
                r = stream.write(&chunk[pos..]) => match r {
                    Ok(n) if n > 0 => {
                        pos += n;
                        last = Instant::now();
                        st.net_output.fetch_add(n as u64, Relaxed);
                    }
                    _ => return false,
                },
                _ = tokio::time::sleep(Duration::from_millis(100)) => {
                    let limit = st.engine.config.int_named("repl-timeout").max(1) as u64;
                    if last.elapsed() > Duration::from_secs(limit) {
                        tracing::warn!(
                            "Disconnecting timedout replica (full sync): {}",
                            replica.name()
                        );
                        return false;
                    }
                }
            }
        }
    }
    stream.write_all(mark.as_bytes()).await.is_ok() && stream.flush().await.is_ok()
}

/// An RDB of the functions alone (or of nothing), for a replica that filtered
/// its snapshot; the connection is closed after it, as Redis does.
async fn send_filtered<S>(
    stream: &mut S,
    st: &Arc<ServerState>,
    replica: &Arc<Replica>,
    functions: bool,
    is_psync: bool,
    backlog_size: usize,
) -> bool
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let engine = &st.engine;
    let build = || -> std::io::Result<Vec<u8>> {
        let opts = ferrokv_persist::convert::write_options(&engine.config);
        let mut w = ferrokv_persist::rdb::RdbWriter::new(Vec::new(), opts)?;
        w.standard_aux(unix_secs() as i64, crate::alloc::stats().allocated, false)?;
        if functions {
            for code in engine.scripting.functions.codes() {
                w.function(&code)?;
            }
        }
        w.finish()
    };
    let Ok(payload) = build() else {
        return false;
    };
    let (replid, offset) = {
        // Attached now: the stream follows from this offset.
        let reps = &st.replicas;
        let mut g = reps.inner.lock();
        reps.create_backlog(&mut g, backlog_size);
        g.db = None;
        if !replica.conf.rdb_only {
            let from = g.ids.offset + 1;
            g.attach(replica, from, &reps.attached);
            st.aof.keep_propagating.store(true, Release);
            st.engine.propagating.store(true, Release);
        }
        (g.ids.replid.clone(), g.ids.offset)
    };
    replica.ack_off.store(offset, Relaxed);
    let mut head = Vec::new();
    if is_psync {
        head.extend_from_slice(format!("+FULLRESYNC {replid} {offset}\r\n").as_bytes());
    }
    head.extend_from_slice(format!("${}\r\n", payload.len()).as_bytes());
    let sent = async {
        stream.write_all(&head).await?;
        stream.write_all(&payload).await?;
        stream.flush().await
    };
    let ok = sent.await.is_ok();
    if ok {
        replica.set_state(LinkState::Online);
        tracing::info!("Synchronization with replica {} succeeded", replica.ip());
    }
    ok
}

/// How much of the stream a replica's connection copies out of the replication
/// buffer to write at a time.
const STREAM_CHUNK: usize = 256 * 1024;
/// The most of its write buffer a caught-up replica's connection keeps.
const KEEP_OUT: usize = 64 * 1024;

/// Writes the stream to the replica and reads its acknowledgements.
async fn stream_loop<S>(
    stream: &mut S,
    st: &Arc<ServerState>,
    replica: &Arc<Replica>,
    client: &mut Client,
    mut input: BytesMut,
    mut wait_ack: bool,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let handle = &replica.handle;
    let reps = &st.replicas;
    let pending = || {
        reps.end
            .load(SeqCst)
            .saturating_sub(replica.cursor.load(SeqCst)) as usize
    };
    let mut parser = RequestParser::new(RequestLimits::default());
    let mut out = BytesMut::new();
    // What it sent right after SYNC/PSYNC runs first.
    let mut unread = !input.is_empty();
    loop {
        // Its letters (the +CONTINUE line) go before the stream. A wake-up is
        // kept until waited for: a feed between this copy and the wait is not
        // missed.
        if handle.mailbox.has_mail() {
            handle.mailbox.drain_into(&mut out);
        }
        let mut taken = 0;
        let behind = if wait_ack { 0 } else { pending() };
        if behind > 0 {
            // Room first, counted before it is allocated (eviction leaves the
            // replicas' output out and must never see it uncounted).
            let want = out.len() + behind.min(STREAM_CHUNK);
            if out.capacity() < want {
                handle.mem.obuf_cap.store(want, Relaxed);
                out.reserve(want - out.len());
            }
            taken = reps.copy_stream(replica.cursor.load(Relaxed), &mut out, STREAM_CHUNK);
        }
        if !out.is_empty() {
            // What was copied out and not written yet is the replica's output too.
            handle.mem.obuf_cap.store(out.capacity(), Relaxed);
            let w = tokio::select! {
                r = stream.write_all(&out) => r.is_ok(),
                _ = handle.mailbox.wait_closed() => false,
            };
            if !w {
                break;
            }
            st.net_output.fetch_add(out.len() as u64, Relaxed);
            out.clear();
            // Written: its blocks may go once no one else needs them. SeqCst
            // with the feed's store of the end and load of the cursor: either
            // the feed sees this cursor (and wakes this loop when it had
            // nothing pending) or the `pending()` below sees the feed's end.
            replica.cursor.fetch_add(taken as u64, SeqCst);
            let left = pending();
            handle.mailbox.set_external(left);
            if left > 0 || handle.mailbox.has_mail() {
                // More is there: write it before waiting for anything.
                continue;
            }
            if out.capacity() > KEEP_OUT {
                out = BytesMut::new();
            }
            handle.mem.obuf_cap.store(out.capacity(), Relaxed);
        }
        if handle.mailbox.closing() {
            break;
        }
        if std::mem::take(&mut unread) {
            match run_replica_input(st, replica, client, &mut parser, &mut input) {
                Some(acked) => wait_ack &= !acked,
                None => break,
            }
            continue;
        }
        tokio::select! {
            _ = handle.mailbox.wait(), if !wait_ack => {
                // Let the connections that are running commands feed theirs
                // first, for as long as they do: the stream then goes out in
                // fewer, bigger writes (Redis writes its replicas' output once
                // per event-loop turn), a write per few hundred commands rather
                // than per client batch, and a replica on the same core wakes
                // less often.
                let mut seen = pending();
                for _ in 0..16 {
                    tokio::task::yield_now().await;
                    let now = pending();
                    if now == seen || now >= STREAM_CHUNK {
                        break;
                    }
                    seen = now;
                }
            }
            _ = handle.mailbox.wait_closed(), if wait_ack => break,
            r = stream.read_buf(&mut input) => {
                if !matches!(r, Ok(n) if n > 0) {
                    break;
                }
                match run_replica_input(st, replica, client, &mut parser, &mut input) {
                    Some(acked) => wait_ack &= !acked,
                    None => break,
                }
            }
        }
    }
}

/// Runs the complete requests of `input` a replica sent. `None` when the replica
/// is to be disconnected; else whether one of them was an ACK.
fn run_replica_input(
    st: &ServerState,
    replica: &Replica,
    client: &mut Client,
    parser: &mut RequestParser,
    input: &mut BytesMut,
) -> Option<bool> {
    let mut off = 0;
    let mut acked = false;
    let mut keep = true;
    while let Ok(Some(len)) = parser.parse(&input[off..]) {
        let chunk = &input[off..off + len];
        let args: Vec<&[u8]> = parser.args(chunk).collect();
        off += len;
        if args.is_empty() {
            continue;
        }
        match on_replica_command(st, replica, client, &args) {
            FromReplica::Ack => acked = true,
            FromReplica::Quiet => {}
            FromReplica::Replied => {
                keep = false;
                break;
            }
        }
    }
    bytes::Buf::advance(input, off);
    // A replica only sends short REPLCONFs: an endless request ends it.
    (keep && input.len() <= 1 << 20).then_some(acked)
}

/// What a request from a replica led to.
enum FromReplica {
    /// REPLCONF ACK.
    Ack,
    /// A command that replies nothing (REPLCONF GETACK, ...).
    Quiet,
    /// A reply: the replica is disconnected.
    Replied,
}

/// Handles what a replica sent. Replicas send REPLCONF ACK; anything else runs
/// as in Redis, where a replica's command that touches the keyspace is refused
/// ("Replica can't interact with the keyspace") and a command that produces any
/// reply has the replica disconnected (the replication link carries no replies),
/// with Redis's log lines.
fn on_replica_command(
    st: &ServerState,
    replica: &Replica,
    client: &mut Client,
    args: &[&[u8]],
) -> FromReplica {
    if args.len() >= 3 && is_kw(args[0], "replconf") && is_kw(args[1], "ack") {
        if let Some(off) = ferrokv_core::args::parse_i64(args[2]) {
            let off = off.max(0) as u64;
            if off > replica.ack_off.load(Relaxed) {
                replica.ack_off.store(off, Relaxed);
            }
            replica.ack_time.store(unix_secs(), Relaxed);
            crate::replication::acks_arrived(st);
        }
        return FromReplica::Ack;
    }
    use ferrokv_core::commands::meta::Flags;
    let cmd = st.engine.resolve(args).ok();
    let name = cmd.map_or("<unknown>".to_string(), |c| c.meta.name.clone());
    let touches_keys = cmd.is_some_and(|c| {
        let f = c.meta.flags;
        f.has(Flags::WRITE) || f.has(Flags::READONLY) || f.has(Flags::MAY_REPLICATE)
    });
    let mut out = ReplyBuf::new(client.proto);
    if touches_keys {
        out.error("ERR Replica can't interact with the keyspace");
    } else {
        st.engine.execute(client, args, &mut out, st);
    }
    let reply = out.as_bytes();
    if reply.is_empty() {
        return FromReplica::Quiet;
    }
    let handle = &replica.handle;
    tracing::warn!(
        "Replica generated a reply to command '{name}', disconnecting it: {}",
        handle.describe()
    );
    if reply[0] == b'-' {
        st.unexpected_error_replies.fetch_add(1, Relaxed);
        // Redis logs the error as the command gave it, without the "ERR " its
        // reply adds in front.
        let text = String::from_utf8_lossy(&reply[1..reply.len().min(4097)]);
        let text = text.trim_end_matches(['\r', '\n']);
        tracing::warn!(
            "== CRITICAL == This master is sending an error to its replica: '{}' after processing the command '{name}'",
            text.strip_prefix("ERR ").unwrap_or(text)
        );
    }
    FromReplica::Replied
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restored_master_keeps_the_file_history_and_the_dels_past_it() {
        let r = Replicas::new("b".repeat(40));
        let expired = vec![(0usize, b"k1".to_vec()), (2usize, b"k2".to_vec())];
        r.restore_master(&"a".repeat(40), 1000, 1 << 20, &expired, false);
        let ids = r.ids();
        assert_eq!(ids.replid2, "a".repeat(40));
        assert_eq!(ids.second_offset, 1001);
        let mut stream = Vec::new();
        encode(&[b"SELECT", b"0"], &mut stream);
        encode(&[b"DEL", b"k1"], &mut stream);
        encode(&[b"SELECT", b"2"], &mut stream);
        encode(&[b"DEL", b"k2"], &mut stream);
        assert_eq!(ids.offset, 1000 + stream.len() as u64);
        assert_eq!(r.backlog_info(), (true, 1001, stream.len() as u64));
        assert_eq!(r.save_position(), Some(("b".repeat(40), ids.offset, 2)));
    }

    #[test]
    fn a_restored_master_without_expired_keys_starts_its_backlog_at_the_offset() {
        let r = Replicas::new("b".repeat(40));
        assert_eq!(r.save_position(), None);
        r.restore_master(&"a".repeat(40), 0, 16, &[], true);
        assert_eq!(r.offset(), 0);
        assert_eq!(r.backlog_info(), (true, 1, 0));
        assert_eq!(r.save_position(), Some(("b".repeat(40), 0, 0)));
    }
}
