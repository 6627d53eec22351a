//! How a replica takes in its master's RDB after +FULLRESYNC (repl-diskless-load).
//!
//! - `disabled` (the default), or `on-empty-db` while keys exist: the payload is
//!   received whole (Redis writes it to a file; ferrokv keeps it in memory), the old
//!   data served meanwhile, then flushed and the payload loaded (`loading:1`).
//! - `on-empty-db` with no keys: the dataset is flushed and the stream loaded as it
//!   arrives (`loading:1` for the whole transfer).
//! - `swapdb`: the stream is loaded as it arrives into a staging dataset
//!   ([`Staging`]) while the old one stays in place, then swapped in. With the same
//!   replication id as the master (a resync of the same history) the old data keeps
//!   being served meanwhile (`async_loading:1`); otherwise clients get -LOADING. A
//!   transfer cut short leaves the old dataset as it was.
//!
//! A streamed load reads from a bounded channel fed by the link, so a slow load
//! (key-load-delay) slows the reading of the socket, and the master's sending, as
//! Redis's blocking read from the socket does.

use std::io::Read;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use ferrokv_core::keyspace::{LockId, SHARDS};
use ferrokv_core::scripting::function::Policy;
use ferrokv_core::Engine;

use super::{set_status, Conn, IoResult, LinkStatus};
use crate::rdb_load::{LoadOptions, Staging, PROGRESS};
use crate::state::ServerState;

/// Chunks in flight between the link and the loader.
const CHANNEL_CHUNKS: usize = 8;

/// How the payload is delimited.
enum Payload {
    /// `$<len>`: that many bytes.
    Len(usize),
    /// `$EOF:<mark>`: until the 40-byte mark.
    Eof(Vec<u8>),
}

/// Where the stream goes.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Received whole, then loaded.
    Disk,
    /// Into the emptied dataset as it arrives.
    Direct,
    /// Into a staging dataset, swapped in at the end; `serving`: the old one is
    /// served meanwhile.
    Swap { serving: bool },
}

fn mode(st: &ServerState, master_replid: &str) -> Mode {
    match st
        .engine
        .config
        .string_named("repl-diskless-load")
        .to_ascii_lowercase()
        .as_str()
    {
        "swapdb" => Mode::Swap {
            serving: st.replicas.ids().replid == master_replid,
        },
        "on-empty-db" if dataset_is_empty(&st.engine) => Mode::Direct,
        _ => Mode::Disk,
    }
}

fn dataset_is_empty(engine: &Engine) -> bool {
    (0..engine.keyspace.db_count() * SHARDS).all(|id| {
        engine
            .keyspace
            .lock_one_live(id as LockId)
            .is_none_or(|s| s.is_empty())
    })
}

/// Reads the RDB of a full sync (its `$` header first) and loads it in place of
/// the dataset, as repl-diskless-load says.
pub(super) async fn receive_rdb(
    st: &Arc<ServerState>,
    c: &mut Conn,
    master_replid: &str,
) -> IoResult<()> {
    set_status(st, LinkStatus::Transfer);
    let header = c.reply(st).await?;
    if header.starts_with('-') {
        return Err(format!(
            "MASTER aborted replication with an error: {header}"
        ));
    }
    let Some(spec) = header.strip_prefix('$') else {
        return Err(format!(
            "Bad protocol from MASTER, the first byte is not '$' (we received '{header}'), are you sure the host and port are right?"
        ));
    };
    let payload = if let Some(mark) = spec.strip_prefix("EOF:") {
        if mark.len() != 40 {
            return Err("bad EOF marker".into());
        }
        Payload::Eof(mark.as_bytes().to_vec())
    } else {
        Payload::Len(
            spec.parse()
                .map_err(|_| format!("bad bulk length from MASTER: {spec}"))?,
        )
    };
    let mode = mode(st, master_replid);
    let target = if mode == Mode::Disk { "disk" } else { "parser" };
    match &payload {
        Payload::Eof(_) => {
            st.link.transfer_size.store(-1, Relaxed);
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving streamed RDB from master with EOF to {target}"
            );
        }
        Payload::Len(len) => {
            st.link.transfer_size.store(*len as i64, Relaxed);
            tracing::info!(
                "MASTER <-> REPLICA sync: receiving {len} bytes from master to {target}"
            );
        }
    }
    if mode == Mode::Disk {
        return receive_then_load(st, c, payload).await;
    }
    if mode == Mode::Direct {
        tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
        flush(st);
    }
    tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
    let total = match payload {
        Payload::Len(n) => n as u64,
        Payload::Eof(_) => 0,
    };
    PROGRESS.begin(total);
    let gate = match mode {
        Mode::Swap { serving: true } => &st.engine.gates.async_loading,
        _ => &st.engine.gates.loading,
    };
    gate.store(true, Relaxed);
    // Cleared however this ends (the link task may be aborted by REPLICAOF).
    let _gate = Lowered(gate);
    let staging = matches!(mode, Mode::Swap { .. }).then(|| Arc::new(Staging::new(&st.engine)));
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(CHANNEL_CHUNKS);
    let engine = st.engine.clone();
    let into = staging.clone();
    let load = tokio::task::spawn_blocking(move || {
        let opts = LoadOptions {
            into: into.as_deref(),
            ..Default::default()
        };
        crate::rdb_load::load_from_opts(
            &engine,
            ChannelReader {
                rx,
                chunk: Bytes::new(),
            },
            opts,
        )
    });
    let fed = feed(st, c, payload, tx).await;
    let loaded = load.await.map_err(|e| e.to_string());
    drop(_gate);
    let outcome = match (fed, loaded) {
        (Ok(()), Ok(Ok(stats))) => Ok(stats),
        (Err(e), Ok(Err(_))) => {
            // The stream ended early: Redis's short read in diskless loading,
            // logged and survived.
            tracing::warn!("Short read or OOM loading DB. Unrecoverable error, aborting now.");
            tracing::warn!(
                "Internal error in RDB reading offset {}, function at rdb.c:0 -> Unexpected EOF reading RDB file. Failure loading rdb format from socket, assuming connection error, resuming operation.",
                PROGRESS.loaded_bytes.load(Relaxed)
            );
            Err(format!(
                "Failed trying to load the MASTER synchronization DB from socket: {e}"
            ))
        }
        (Err(e), _) => Err(e),
        (Ok(()), Ok(Err(e))) => Err(format!(
            "Failed trying to load the MASTER synchronization DB from socket: {e}"
        )),
        (Ok(()), Err(e)) => Err(e),
    };
    let outcome = match (outcome, staging) {
        (Ok(stats), Some(staging)) => swap_in(st, staging).map(|()| stats),
        (Err(e), Some(staging)) => {
            discard(staging);
            tracing::info!("MASTER <-> REPLICA sync: Discarding temporary DB in background");
            Err(e)
        }
        (Err(e), None) => {
            // Nothing half-loaded stays (the replica started empty).
            flush(st);
            Err(e)
        }
        (Ok(stats), None) => Ok(stats),
    };
    let stats = outcome?;
    tracing::info!(
        "Done loading RDB, keys loaded: {}, keys expired: {}.",
        stats.loaded,
        stats.expired
    );
    Ok(())
}

/// Hands the payload's bytes to the loader as they arrive, and no byte past it
/// (the master's command stream follows in the same buffer). Returns when the
/// payload has been handed over, or the loader stopped taking it.
async fn feed(
    st: &ServerState,
    c: &mut Conn,
    payload: Payload,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) -> IoResult<()> {
    let mut sent = 0u64;
    match payload {
        Payload::Len(len) => {
            let mut left = len;
            loop {
                let take = left.min(c.buf.len());
                if take > 0 {
                    left -= take;
                    sent += take as u64;
                    st.link.transfer_read.store(sent, Relaxed);
                    if tx.send(c.buf.split_to(take).freeze()).await.is_err() {
                        return Ok(());
                    }
                }
                if left == 0 {
                    return Ok(());
                }
                fill(st, c).await?;
            }
        }
        Payload::Eof(mark) => loop {
            if let Some(at) = c.buf.windows(mark.len()).position(|w| w == &mark[..]) {
                let last = c.buf.split_to(at).freeze();
                c.buf.advance(mark.len());
                st.link.transfer_read.store(sent + at as u64, Relaxed);
                let _ = tx.send(last).await;
                return Ok(());
            }
            // What cannot be the start of the mark goes now.
            let safe = c.buf.len().saturating_sub(mark.len() - 1);
            if safe > 0 {
                sent += safe as u64;
                st.link.transfer_read.store(sent, Relaxed);
                if tx.send(c.buf.split_to(safe).freeze()).await.is_err() {
                    return Ok(());
                }
            }
            fill(st, c).await?;
        },
    }
}

async fn fill(st: &ServerState, c: &mut Conn) -> IoResult<()> {
    if c.buf.capacity() - c.buf.len() < 16 << 10 {
        c.buf.reserve(64 << 10);
    }
    c.fill(st).await
}

/// The `disabled` way: the whole payload first (old data still served), then
/// the flush and the load.
async fn receive_then_load(st: &Arc<ServerState>, c: &mut Conn, payload: Payload) -> IoResult<()> {
    let data = match payload {
        Payload::Eof(mark) => {
            // The mark is searched where it can end in what came since the last
            // look (a master may send the stream right after it).
            let mut from = 0usize;
            loop {
                st.link.transfer_read.store(c.buf.len() as u64, Relaxed);
                if let Some(i) = c.buf[from..].windows(40).position(|w| w == &mark[..]) {
                    let n = from + i;
                    let data = c.buf.split_to(n).to_vec();
                    c.buf.advance(40);
                    break data;
                }
                from = c.buf.len().saturating_sub(39);
                c.fill(st).await?;
            }
        }
        Payload::Len(len) => {
            while c.buf.len() < len {
                st.link.transfer_read.store(c.buf.len() as u64, Relaxed);
                // Grown as the bytes come: a length from the wire is not trusted.
                c.buf.reserve((len - c.buf.len()).min(16 << 20));
                c.fill(st).await?;
            }
            c.buf.split_to(len).to_vec()
        }
    };
    tracing::info!("MASTER <-> REPLICA sync: Flushing old data");
    PROGRESS.begin(data.len() as u64);
    st.engine.gates.loading.store(true, Relaxed);
    let gate = Lowered(&st.engine.gates.loading);
    let st2 = st.clone();
    let loaded = tokio::task::spawn_blocking(move || {
        flush(&st2);
        tracing::info!("MASTER <-> REPLICA sync: Loading DB in memory");
        crate::rdb_load::load_from(&st2.engine, &data[..])
    })
    .await;
    drop(gate);
    match loaded {
        Ok(Ok(stats)) => {
            tracing::info!(
                "Done loading RDB, keys loaded: {}, keys expired: {}.",
                stats.loaded,
                stats.expired
            );
            Ok(())
        }
        Ok(Err(e)) => Err(format!(
            "Failed trying to load the MASTER synchronization DB from socket: {e}"
        )),
        Err(e) => Err(e.to_string()),
    }
}

/// Empties the dataset and the functions (Redis's emptyData), every tracking
/// client told; large tables are freed in the background.
fn flush(st: &ServerState) {
    for d in st.engine.replace_dataset(None) {
        ferrokv_core::lazyfree::free_dict(d);
    }
    st.engine.scripting.functions.flush();
    crate::tracking::invalidate_all(st);
}

/// The staged dataset takes the live one's place, its functions first (a
/// library that does not compile fails the sync, the old dataset kept).
fn swap_in(st: &ServerState, staging: Arc<Staging>) -> IoResult<()> {
    let codes = std::mem::take(&mut *staging.functions.lock());
    if let Err(e) = st.engine.scripting.functions.restore(&codes, Policy::Flush) {
        discard(staging);
        return Err(format!(
            "Failed trying to load the MASTER synchronization DB from socket: Failed loading library, {e}"
        ));
    }
    tracing::info!("MASTER <-> REPLICA sync: Swapping active DB with loaded DB");
    for d in st.engine.replace_dataset(Some(&staging.keyspace)) {
        ferrokv_core::lazyfree::free_dict(d);
    }
    crate::tracking::invalidate_all(st);
    // The old dataset, now in the staging keyspace, goes in the background.
    discard(staging);
    tracing::info!("MASTER <-> REPLICA sync: Discarding old DB in background");
    Ok(())
}

/// Frees a staging dataset off the runtime's threads.
fn discard(staging: Arc<Staging>) {
    std::thread::spawn(move || drop(staging));
}

/// Lowers a loading gate when dropped.
struct Lowered<'a>(&'a std::sync::atomic::AtomicBool);

impl Drop for Lowered<'_> {
    fn drop(&mut self) {
        self.0.store(false, Relaxed);
    }
}

/// The loader's side of the channel: a blocking `Read` over the chunks the link
/// hands over; the end of the channel is the end of the input.
struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Bytes>,
    chunk: Bytes,
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while self.chunk.is_empty() {
            match self.rx.blocking_recv() {
                Some(c) => self.chunk = c,
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.chunk.len());
        buf[..n].copy_from_slice(&self.chunk[..n]);
        self.chunk.advance(n);
        Ok(n)
    }
}
