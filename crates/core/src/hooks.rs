//! What the engine asks of the server it runs in. The core knows nothing about
//! sockets; commands that concern connections or the process call through here.

use std::any::Any;

/// Implemented by the network server (and by test doubles).
pub trait ServerHooks: Send + Sync {
    /// The concrete server, for server-level command handlers registered by it.
    fn as_any(&self) -> &dyn Any;

    /// A configuration parameter changed (CONFIG SET); `name` is canonical. An error
    /// (e.g. the new port cannot be bound) makes CONFIG SET restore the old value and
    /// fail with that text.
    fn config_changed(&self, _name: &str) -> Result<(), String> {
        Ok(())
    }

    /// Keys that became ready for blocked clients during the last command
    /// (`(db, key)`, in the order they were signalled).
    fn keys_ready(&self, _ready: Vec<(usize, Vec<u8>)>) {}

    /// Write commands to log (AOF), each as `(db, argv)` in replayable form, in
    /// execution order. Called only while [`crate::Engine::propagating`] is set,
    /// while the command still holds its shard locks, so writes to one key arrive
    /// in the order they happened. Returns the log offset just after them (0 if
    /// nothing was logged).
    fn propagate(&self, _cmds: &[(usize, &[&[u8]])]) -> u64 {
        0
    }

    /// [`propagate`](Self::propagate) to the AOF alone or to the replicas alone
    /// (a script's `redis.set_repl`). Returns the AOF offset (0: none).
    fn propagate_to(&self, cmds: &[(usize, &[&[u8]])], aof: bool, replicas: bool) -> u64 {
        if aof && replicas {
            self.propagate(cmds)
        } else {
            0
        }
    }

    /// While propagating or after a failed background save: the error that
    /// refuses write commands (and PING) because the data cannot be persisted
    /// (Redis's `-MISCONF ...` texts), full text without the leading `-`.
    fn deny_writes(&self) -> Option<String> {
        None
    }
    /// Keyspace events of one command (or of active expiry), in the order they
    /// happened, while the keys' locks are still held. Only the classes selected by
    /// `notify-keyspace-events` are recorded (see [`crate::notify`]).
    fn keyspace_events(&self, _events: &[crate::notify::KeyEvent]) {}

    /// A command ran (called only while [`crate::Engine::monitoring`] is set, for
    /// commands Redis shows to MONITOR): `args` as received, `db` after it ran.
    fn monitor(&self, _client: &crate::Client, _db: usize, _args: &[&[u8]]) {}

    /// The address (`ip:port`) of client `id`, as SLOWLOG shows it.
    fn peer_id(&self, _id: u64) -> String {
        String::new()
    }

    /// FLUSHALL emptied every database; called once its locks are released (Redis
    /// then saves in the foreground when save points are set).
    fn flushed_all(&self) {}

    /// Every key of these databases may now serve blocked clients (SWAPDB).
    fn dbs_ready(&self, _dbs: &[usize]) {}

    /// Keys changed that tracking clients may cache (see [`crate::tracking`]):
    /// each listed client is to be sent an invalidation, unless it is `current`
    /// (the client whose command runs, 0 for none) in NOLOOP mode, it no longer
    /// tracks, or it is in BCAST mode. Called while the keys' locks are held.
    fn invalidate(&self, _current: u64, _keys: &[crate::tracking::Invalidation]) {}

    /// Keys taken out of the tracking table to keep it within
    /// tracking-table-max-keys, just before `current`'s command runs (0: from the
    /// cron): their clients are told as if `current` changed them; an
    /// invalidation for `current` itself goes into `out`, ahead of the reply.
    fn tracking_limited(
        &self,
        current: u64,
        keys: &[crate::tracking::Invalidation],
        _out: &mut ferrokv_resp::ReplyBuf,
    ) {
        self.invalidate(current, keys);
    }

    /// What was posted to client `current`'s own mailbox so far is written into
    /// `out` now, ahead of the reply of the command about to run (invalidations
    /// of keys evicted at its admission).
    fn own_letters(&self, _current: u64, _out: &mut ferrokv_resp::ReplyBuf) {}

    /// A db was flushed: every tracking client is told that all its keys are
    /// invalid.
    fn invalidate_all(&self, _current: u64) {}

    /// Keys changed under the prefixes of BCAST clients, to be sent to them.
    fn broadcast(&self, _batches: Vec<crate::tracking::Broadcast>) {}

    /// The running command will keep this thread for long (a script past
    /// busy-reply-threshold): the server hands the thread's other work (its
    /// connections, the I/O driver) to another thread, as Redis keeps serving
    /// events while a script is busy.
    fn long_running(&self) {}

    /// These ACL users were deleted or replaced (ACL DELUSER, ACL LOAD): their
    /// clients are disconnected, except `current` (the caller closes after its
    /// reply).
    fn acl_kill_users(&self, _names: &[Vec<u8>], _current: u64) {}

    /// User `name`'s channel permissions narrowed to `allowed` (no selector has
    /// allchannels): its subscribers holding a channel or pattern it no longer
    /// grants are disconnected (Redis's ACLKillPubsubClientsIfNeeded).
    fn acl_kill_subscribers(&self, _name: &[u8], _allowed: &[Vec<u8>]) {}

    /// Whether client `id` is connected from the loopback interface or a Unix
    /// socket (enable-debug-command local).
    fn client_is_local(&self, _id: u64) -> bool {
        true
    }

    /// The CLIENT LIST line of client `id` (ACL LOG's client-info); `cmd`, when
    /// given, is the command it sent last (Redis sets `lastcmd` at lookup, before
    /// refusing it).
    fn client_info(&self, _id: u64, _cmd: Option<&str>) -> String {
        String::new()
    }

    /// The connection of client `id` for a Lua debugging session (SCRIPT DEBUG),
    /// or `None` when it cannot be driven synchronously (a TLS connection, a test
    /// double).
    fn debug_channel(&self, _id: u64) -> Option<Box<dyn DebugChannel>> {
        None
    }
}

/// A client's connection, read and written synchronously by the Lua debugger while
/// a script is suspended (see `scripting/ldb.rs`).
pub trait DebugChannel {
    /// Waits for bytes from the client: `Ok(0)` when it closed (or the server
    /// stops).
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize>;
    /// Writes all of `data` (giving up after a few seconds of a full socket).
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()>;
}

/// Hooks that do nothing (unit tests, benches).
pub struct NoHooks;

impl ServerHooks for NoHooks {
    fn as_any(&self) -> &dyn Any {
        self
    }
}
