//! What the engine knows about one connection.

use ferrokv_resp::Protocol;

/// Per-connection state that commands read and change.
#[derive(Debug, Clone)]
pub struct Client {
    /// CLIENT ID.
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Protocol (HELLO); the connection's reply buffer follows it.
    pub proto: Protocol,
    /// CLIENT SETNAME.
    pub name: Option<Vec<u8>>,
    /// CLIENT SETINFO LIB-NAME.
    pub lib_name: Option<Vec<u8>>,
    /// CLIENT SETINFO LIB-VER.
    pub lib_ver: Option<Vec<u8>>,
    /// Whether AUTH succeeded (or no password is required).
    pub authenticated: bool,
    /// Channels, patterns and shard channels it is subscribed to: in RESP2, a
    /// subscribed client may only run the subscription commands, PING, QUIT, RESET.
    pub subscriptions: usize,
    /// CLIENT NO-EVICT.
    pub no_evict: bool,
    /// CLIENT NO-TOUCH.
    pub no_touch: bool,
    /// Set by QUIT / CLIENT KILL of itself: close after the reply is written.
    pub close_after_reply: bool,
    /// SCRIPT DEBUG: its next EVAL runs in the Lua debugger.
    pub script_debug: crate::scripting::ldb::DebugMode,
    /// CLIENT REPLY ON / OFF / SKIP.
    pub reply: ReplyMode,
    /// In MONITOR mode: it may no longer touch the keyspace.
    pub monitor: bool,
    /// Arguments of the running command that MONITOR shows as `(redacted)`
    /// (bit i: argument i; passwords of AUTH, HELLO ... AUTH).
    pub redact: u64,
    /// Set instead of running the command when the engine is halted (a shutdown
    /// in progress, [`crate::Engine::halt`]): nothing was done and nothing written;
    /// the connection keeps the command and runs it again if the shutdown fails.
    pub held: bool,
    /// Its last command allocated much (the connection saw its thread's
    /// allocation counter jump): its next admission measures used memory again.
    pub memory_grew: bool,
    /// Set when CLIENT PAUSE held the command (it did not run): the generation of
    /// the pause it waits out ([`crate::pause::ClientPause::generation`]). The
    /// connection keeps the command and submits it again when that changes.
    pub paused: Option<u64>,
    /// Full name of the last command run (CLIENT LIST `cmd=`).
    pub last_cmd: &'static str,
    /// Set by a blocking command that found nothing: the server parks the client.
    pub block: Option<crate::blocking::BlockRequest>,
    /// While the server serves this blocked client because this key (of its db)
    /// received data: its command looks at that key only, and a value of another
    /// type there counts as nothing to take (see [`crate::blocking`]).
    pub serving_key: Option<Vec<u8>>,
    /// Between MULTI and EXEC: the queued commands.
    pub multi: Option<crate::transaction::Multi>,
    /// The keys it WATCHes.
    pub watch: crate::transaction::Watched,
    /// Whether the command runs inside MULTI/EXEC or a script, where blocking
    /// commands behave like their non-blocking forms.
    pub in_exec: bool,
    /// Whether the command runs inside a script (Redis's CLIENT_SCRIPT).
    pub in_script: bool,
    /// Inside a script: the time (ms) its commands see, the script's start.
    pub script_time: Option<i64>,
    /// AOF offset just after this client's last propagated write: with
    /// appendfsync always its reply waits until the AOF is fsynced that far.
    pub aof_offset: u64,
    /// The client replaying the AOF at startup: keys do not expire while it runs
    /// (as Redis while loading) and nothing it does is propagated.
    pub loading: bool,
    /// CLIENT TRACKING: on with these switches, or off (`None`).
    pub tracking: Option<crate::tracking::TrackingMode>,
    /// The hard output-buffer limit of the client's class (0: none), set by the
    /// connection: a reply that reaches it closes the client without it, so the
    /// commands that can build a reply of any size (random picks with repetitions)
    /// stop there, as Redis's stop on CLIENT_CLOSE_ASAP.
    pub reply_limit: usize,
    /// Its ACL user (AUTH, HELLO AUTH); the default user until then.
    pub user: std::sync::Arc<crate::acl::User>,
    /// The [`crate::acl::Acl::generation`] `user` was read at: when it differs,
    /// the admission reads the user again (it changed or was deleted).
    pub acl_gen: u64,
}

impl Client {
    /// Whether ACL checks pass without looking: its user has every permission, or
    /// it is the AOF's client, which has no user (Redis lets a client without a
    /// user run anything).
    #[inline]
    pub fn acl_free(&self) -> bool {
        self.user.unrestricted || self.loading
    }

    /// Whether the reply built so far has reached the output limit: the client is
    /// to be closed, so a long reply may stop.
    #[inline]
    pub fn reply_full(&self, out: &ferrokv_resp::ReplyBuf) -> bool {
        self.reply_limit > 0 && out.len() >= self.reply_limit
    }
}

/// Whether a client hears its replies (CLIENT REPLY): the connection drops the
/// reply of each command for which [`ReplyMode::silenced`] holds, then calls
/// [`ReplyMode::command_done`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplyMode {
    /// CLIENT REPLY OFF.
    pub off: bool,
    /// The current command's reply is skipped (the one after CLIENT REPLY SKIP).
    pub skip: bool,
    /// CLIENT REPLY SKIP just ran: the next command's reply is skipped.
    pub skip_next: bool,
    /// The command's output is push data (subscription confirmations), which
    /// CLIENT REPLY does not silence (Redis's CLIENT_PUSHING).
    pub pushing: bool,
}

impl ReplyMode {
    /// Whether the reply of the command that just ran is dropped.
    #[inline]
    pub fn silenced(&self) -> bool {
        (self.off || self.skip) && !self.pushing
    }

    /// After each command (Redis's resetClient): a SKIP applies to the next one only.
    #[inline]
    pub fn command_done(&mut self) {
        self.skip = std::mem::take(&mut self.skip_next);
        self.pushing = false;
    }
}

impl Client {
    /// A new connection's state.
    pub fn new(id: u64, authenticated: bool) -> Client {
        Client {
            id,
            db: 0,
            proto: Protocol::Resp2,
            name: None,
            lib_name: None,
            lib_ver: None,
            authenticated,
            subscriptions: 0,
            no_evict: false,
            no_touch: false,
            close_after_reply: false,
            script_debug: Default::default(),
            reply: ReplyMode::default(),
            monitor: false,
            redact: 0,
            held: false,
            memory_grew: false,
            paused: None,
            last_cmd: "NULL",
            block: None,
            serving_key: None,
            multi: None,
            watch: crate::transaction::Watched::default(),
            in_exec: false,
            in_script: false,
            script_time: None,
            aof_offset: 0,
            loading: false,
            tracking: None,
            reply_limit: 0,
            user: crate::acl::placeholder(),
            acl_gen: 0,
        }
    }
}
