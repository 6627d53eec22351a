//! The master side of SYNC, minimal: a connection that sends SYNC receives the RDB
//! of the dataset at one instant, then every write propagated after that instant
//! (the same stream the AOF logs, with a SELECT whenever the db changes), until it
//! closes. Redis's own tests read this stream (`attach_to_replication_stream`) to
//! check what commands propagate as; a real Redis replica falls back to SYNC when
//! PSYNC is unknown. Not here yet (the replication issue): PSYNC and the backlog,
//! REPLCONF, pings to replicas, INFO replication's replica lines, replicas
//! counted apart from clients.
//!
//! The stream goes through the replica connection's mailbox (what a connection
//! receives without asking, written in order). While any replica is attached the
//! engine propagates even with the AOF off; the AOF only appends what it logs when
//! it is on (`ServerState::propagate`).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering::*};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use ferrokv_core::commands::{CommandDef, Locks};
use ferrokv_core::ctx::Ctx;
use ferrokv_core::{CmdError, CmdResult};
use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::clients::ClientHandle;
use crate::cmds::state;
use crate::state::ServerState;

/// SYNC.
pub static COMMANDS: &[CommandDef] = &[CommandDef::with_locks("sync", sync, Locks::Own)];

/// What a connection turning into a replica takes over from its SYNC.
struct Handoff {
    payload: Vec<u8>,
}

#[derive(Default)]
struct Feeds {
    /// Each attached replica's connection (the stream goes to its mailbox).
    list: Vec<Arc<ClientHandle>>,
    /// The db of the last command sent (None: a SELECT must come first).
    db: Option<usize>,
}

/// The attached replicas.
#[derive(Default)]
pub struct Replicas {
    feeds: Mutex<Feeds>,
    attached: AtomicUsize,
    handoff: Mutex<HashMap<u64, Handoff>>,
}

fn encode(argv: &[&[u8]], out: &mut Vec<u8>) {
    out.push(b'*');
    out.extend_from_slice(argv.len().to_string().as_bytes());
    out.extend_from_slice(b"\r\n");
    for a in argv {
        out.push(b'$');
        out.extend_from_slice(a.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

impl Replicas {
    /// Whether any replica is attached (one relaxed load).
    pub fn active(&self) -> bool {
        self.attached.load(Relaxed) > 0
    }

    /// Sends propagated commands to every replica (called under the commands'
    /// locks, so the stream has the execution order).
    pub fn feed(&self, cmds: &[(usize, &[&[u8]])]) {
        let mut feeds = self.feeds.lock();
        if feeds.list.is_empty() {
            return;
        }
        let mut buf = Vec::new();
        for (db, argv) in cmds {
            if feeds.db != Some(*db) {
                let n = db.to_string();
                encode(&[b"SELECT", n.as_bytes()], &mut buf);
                feeds.db = Some(*db);
            }
            encode(argv, &mut buf);
        }
        let buf = Bytes::from(buf);
        let before = feeds.list.len();
        feeds
            .list
            .retain(|h| h.mailbox.post(buf.clone()) == crate::mailbox::Posted::Queued);
        let gone = before - feeds.list.len();
        if gone > 0 {
            self.attached.fetch_sub(gone, Relaxed);
        }
    }

    fn attach(&self, handle: Arc<ClientHandle>) {
        let mut feeds = self.feeds.lock();
        feeds.list.push(handle);
        // As Redis after a full sync: the next command goes after a SELECT.
        feeds.db = None;
        self.attached.fetch_add(1, Relaxed);
    }

    fn detach(&self, id: u64) {
        let mut feeds = self.feeds.lock();
        let before = feeds.list.len();
        feeds.list.retain(|h| h.id != id);
        let gone = before - feeds.list.len();
        if gone > 0 {
            self.attached.fetch_sub(gone, Relaxed);
        }
    }

    /// The replica stream a connection that ran SYNC is to serve, if it did.
    fn take_handoff(&self, id: u64) -> Option<Handoff> {
        self.handoff.lock().remove(&id)
    }
}

/// SYNC: snapshot and attach at one instant; the connection closes its command
/// loop after this and serves the stream ([`serve_if_replica`]).
fn sync(ctx: &mut Ctx<'_, '_>, _args: &[&[u8]]) -> CmdResult {
    let st = state(ctx)?;
    let id = ctx.client.id;
    let handle = st
        .clients
        .get(id)
        .ok_or_else(|| CmdError::Other("SYNC from an unknown client".into()))?;
    let peer = handle.addr.clone();
    tracing::info!("Replica {peer} asks for synchronization");
    tracing::info!("Starting BGSAVE for SYNC with target: replicas sockets");
    let engine = &st.engine;
    let payload = crate::persistence::snapshot_rdb(engine, || {
        // Every shard lock is held: no write runs between the snapshot and the
        // first propagated command.
        st.replicas.attach(handle);
        st.aof.keep_propagating.store(true, Release);
        engine.propagating.store(true, Release);
    })
    .map_err(|e| {
        tracing::warn!("Can't sync replica {peer}: {e}");
        CmdError::Other(format!("Can't SYNC: {e}"))
    })?;
    st.replicas.handoff.lock().insert(id, Handoff { payload });
    ctx.client.close_after_reply = true;
    Ok(())
}

/// After the command loop of a connection ends: if it ran SYNC, it serves the
/// replica stream until the peer closes or it is killed.
pub async fn serve_if_replica<S>(stream: &mut S, state: &Arc<ServerState>, handle: &ClientHandle)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let Some(Handoff { payload }) = state.replicas.take_handoff(handle.id) else {
        return;
    };
    let header = format!("${}\r\n", payload.len());
    let sent = async {
        stream.write_all(header.as_bytes()).await?;
        stream.write_all(&payload).await?;
        stream.flush().await
    };
    if sent.await.is_ok() {
        tracing::info!("Synchronization with replica {} succeeded", handle.addr);
        let mut scratch = [0u8; 512];
        let mut out = BytesMut::new();
        loop {
            // A wake-up is kept until waited for: a post between the drain and the
            // wait is not missed.
            handle.mailbox.drain_into(&mut out);
            if !out.is_empty() {
                if stream.write_all(&out).await.is_err() {
                    break;
                }
                out.clear();
            }
            if handle.mailbox.closing() {
                break;
            }
            tokio::select! {
                _ = handle.mailbox.wait() => {}
                // What a replica sends (REPLCONF ACK) is read and ignored.
                r = stream.read(&mut scratch) => {
                    if !matches!(r, Ok(n) if n > 0) {
                        break;
                    }
                }
            }
        }
    }
    state.replicas.detach(handle.id);
    tracing::info!("Connection with replica {} lost.", handle.addr);
}
