//! client-output-buffer-limit: the limits of each client class (normal, replica,
//! pubsub), applied to the mailboxes (`mailbox.rs`), which enforce them on what
//! is posted, and to each batch's replies (`conn.rs`); the soft limit's time is
//! also checked by the cron for clients that receive nothing more.
//!
//! A client is in the pubsub class while it is subscribed to anything (Redis's
//! getClientType), normal otherwise; a MONITOR client counts as normal.

use ferrokv_core::config::{ObufLimits, P};

use crate::clients::ClientHandle;
use crate::state::ServerState;

/// The limits as configured.
pub fn limits(st: &ServerState) -> ObufLimits {
    *st.obuf_limits.read()
}

/// Reads client-output-buffer-limit again (startup, CONFIG SET) and applies it
/// to every client.
pub fn reload(st: &ServerState) {
    let parsed =
        ObufLimits::parse(&st.engine.config.string(P::ClientOutputBufferLimit)).unwrap_or_default();
    *st.obuf_limits.write() = parsed;
    for h in st.clients.all() {
        apply_class(st, &h);
    }
}

/// Gives `h`'s mailbox the limits of the class it is in now (a replica keeps
/// the replica class's).
pub fn apply_class(st: &ServerState, h: &ClientHandle) {
    let class = if h.kind.load(std::sync::atomic::Ordering::Relaxed) == crate::clients::KIND_REPLICA
    {
        ObufLimits::REPLICA
    } else if h.subs.total() > 0 {
        ObufLimits::PUBSUB
    } else {
        ObufLimits::NORMAL
    };
    h.mailbox.set_limits(&limits(st).0[class]);
}

/// The cron's part (every `hz` tick): closes clients that stayed over their soft
/// limit too long while nothing more was posted to them.
pub fn cron(st: &ServerState) {
    if limits(st).0.iter().all(|l| l.soft == 0) {
        return;
    }
    for h in st.clients.all() {
        if h.mailbox.check_soft_limit() {
            tracing::warn!(
                "Client {} closed for overcoming of output buffer limits.",
                h.describe()
            );
        }
    }
}
