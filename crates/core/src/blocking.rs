//! Blocking commands (BLPOP, BZPOPMIN, ...): the engine side.
//!
//! A blocking command that finds nothing to serve sets [`Client::block`] instead of
//! replying; the server parks the connection on the keys. Commands that add data
//! call [`Keys::signal_ready`]; after the command the engine passes the ready keys
//! to [`ServerHooks::keys_ready`], and the server re-runs the parked commands in
//! FIFO order per key.
//!
//! [`Client::block`]: crate::Client::block
//! [`Keys::signal_ready`]: crate::ctx::Keys::signal_ready
//! [`ServerHooks::keys_ready`]: crate::ServerHooks::keys_ready

/// What a blocked client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRequest {
    /// Database of the keys.
    pub db: usize,
    /// Keys it waits on (any of them).
    pub keys: Vec<Vec<u8>>,
    /// Timeout in ms from now; `None` waits forever.
    pub timeout_ms: Option<u64>,
}
