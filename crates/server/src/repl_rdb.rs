//! The replication position in RDB files (Redis 7.0's rdbSaveInfo): the AUX
//! fields `repl-stream-db`, `repl-id` and `repl-offset`, written in every RDB a
//! master with a backlog or a replica with a history saves, and read back at
//! startup, so a restarted master or replica can partially resynchronize.
//!
//! - **Saving**: `persistence::begin_save_at` asks [`save_info`] at the snapshot
//!   instant (every shard lock held, so the offset is the one of the data cut)
//!   and writes the three fields after the standard ones.
//! - **Loading at startup**: the load keeps the fields ([`ReplAux`] in
//!   `LoadStats`) and, on a master, the keys it dropped as expired; once the
//!   server state exists, [`apply_restored`] restores the history. A replica
//!   takes the id and offset as its own (its next PSYNC asks to continue from
//!   them); a master gets a new id with the file's one as replid2 (valid up to
//!   the file's offset) and a backlog starting there, holding the DELs of the
//!   keys that expired while it was down, so its replicas continue past them
//!   (or resync in full when they overflow the backlog), as Redis's
//!   loadDataFromDisk.

use std::sync::Arc;

use parking_lot::Mutex;

use crate::state::ServerState;

/// The replication fields of an RDB file (Redis's rdbSaveInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplAux {
    /// repl-id: the replication id the data belongs to.
    pub replid: [u8; 40],
    /// repl-offset: the stream offset the data is at.
    pub offset: i64,
    /// repl-stream-db: the db the stream had selected.
    pub stream_db: i64,
}

impl ReplAux {
    /// The replication id as text.
    pub fn replid(&self) -> String {
        String::from_utf8_lossy(&self.replid).into_owned()
    }
}

/// The three fields as they are read, AUX by AUX (Redis's rdbLoad parses each
/// one as it comes; any may be missing).
#[derive(Debug, Default, Clone, Copy)]
pub struct AuxReader {
    replid: Option<[u8; 40]>,
    offset: Option<i64>,
    stream_db: Option<i64>,
}

impl AuxReader {
    /// Takes one AUX field (others are ignored).
    pub fn field(&mut self, key: &[u8], value: &[u8]) {
        let num = || std::str::from_utf8(value).ok()?.trim().parse::<i64>().ok();
        match key {
            b"repl-id" => {
                if let Ok(id) = <[u8; 40]>::try_from(value) {
                    self.replid = Some(id);
                }
            }
            b"repl-offset" => self.offset = num(),
            b"repl-stream-db" => self.stream_db = num(),
            _ => {}
        }
    }

    /// The position, when the file holds a valid one (an id, an offset and a
    /// stream db that is not -1, as Redis checks).
    pub fn finish(self) -> Option<ReplAux> {
        let (replid, offset, stream_db) = (self.replid?, self.offset?, self.stream_db?);
        (offset >= 0 && stream_db >= 0).then_some(ReplAux {
            replid,
            offset,
            stream_db,
        })
    }
}

/// The server whose state saves describe (one per process; the last started).
static SERVER: Mutex<Option<std::sync::Weak<ServerState>>> = Mutex::new(None);

/// What the startup load found, kept until the server state exists.
static RESTORED: Mutex<Option<Restored>> = Mutex::new(None);

/// What the startup load keeps for [`apply_restored`].
#[derive(Debug, Default)]
pub struct Restored {
    /// The file's replication position.
    pub aux: Option<ReplAux>,
    /// Keys dropped as expired while loading, as (db, key), on a master.
    pub expired: Vec<(usize, Vec<u8>)>,
}

/// The startup load's findings (called by `persistence::load_at_startup`).
pub fn set_restored(r: Restored) {
    *RESTORED.lock() = Some(r);
}

/// Registers the server whose replication state saves describe.
pub fn register(st: &Arc<ServerState>) {
    *SERVER.lock() = Some(Arc::downgrade(st));
}

/// The fields to save now (Redis's rdbPopulateSaveInfo): a master with a
/// backlog, or a replica that follows (or followed) a master; `None` otherwise.
pub fn save_info() -> Option<ReplAux> {
    let st = SERVER.lock().as_ref()?.upgrade()?;
    let (replid, offset, stream_db) = if crate::replica_link::is_replica(&st) {
        let db = crate::replica_link::stream_db(&st)?;
        let ids = st.replicas.ids();
        (ids.replid, ids.offset, db)
    } else {
        let (replid, offset, db) = st.replicas.save_position()?;
        (replid, offset, db)
    };
    Some(ReplAux {
        replid: <[u8; 40]>::try_from(replid.as_bytes()).ok()?,
        offset: i64::try_from(offset).ok()?,
        stream_db: stream_db as i64,
    })
}

/// Writes `aux` as Redis's three AUX fields.
pub fn write_fields<W: std::io::Write>(
    w: &mut ferrokv_persist::rdb::RdbWriter<W>,
    aux: &ReplAux,
) -> std::io::Result<()> {
    w.aux(b"repl-stream-db", aux.stream_db.to_string().as_bytes())?;
    w.aux(b"repl-id", &aux.replid)?;
    w.aux(b"repl-offset", aux.offset.to_string().as_bytes())
}

/// Restores the replication history the startup load found (before the link
/// to a master starts).
pub fn apply_restored(st: &Arc<ServerState>) {
    let Some(r) = RESTORED.lock().take() else {
        return;
    };
    let Some(aux) = r.aux else {
        return;
    };
    let backlog = st.engine.config.int_named("repl-backlog-size").max(1) as usize;
    let replid = aux.replid();
    let offset = aux.offset as u64;
    // The link to the master (`replicaof`) starts right after this.
    let replica = !st.engine.config.string_named("replicaof").trim().is_empty();
    if replica || crate::replica_link::is_replica(st) {
        crate::replica_link::restore_history(st, &replid, offset, aux.stream_db as usize, backlog);
    } else {
        let unlink = st.engine.config.int_named("lazyfree-lazy-expire") != 0;
        st.replicas
            .restore_master(&replid, offset, backlog, &r.expired, unlink);
    }
    tracing::info!("Restored replication ID {replid} and offset {offset} from the RDB file");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn needs_all_three_fields_and_no_minus_one() {
        let id = [b'a'; 40];
        let mut r = AuxReader::default();
        r.field(b"repl-id", &id);
        r.field(b"repl-offset", b"123");
        assert_eq!(r.finish(), None);
        r.field(b"repl-stream-db", b"-1");
        assert_eq!(r.finish(), None);
        r.field(b"repl-stream-db", b"3");
        assert_eq!(
            r.finish(),
            Some(ReplAux {
                replid: id,
                offset: 123,
                stream_db: 3
            })
        );
        let mut short = AuxReader::default();
        short.field(b"repl-id", b"abc");
        short.field(b"repl-offset", b"1");
        short.field(b"repl-stream-db", b"0");
        assert_eq!(short.finish(), None);
    }
}
