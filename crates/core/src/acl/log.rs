//! ACL LOG: refused commands, keys, channels and failed AUTHs, newest first;
//! a repeat of a recent entry (same reason, context, object and user within 60 s,
//! among the 10 newest) bumps its count instead of adding one.

use std::collections::VecDeque;

use super::check::Denied;

/// What was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// A command.
    Command,
    /// A key.
    Key,
    /// A channel.
    Channel,
    /// AUTH / HELLO AUTH with wrong credentials.
    Auth,
}

impl Reason {
    /// ACL LOG's `reason`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Command => "command",
            Reason::Key => "key",
            Reason::Channel => "channel",
            Reason::Auth => "auth",
        }
    }
}

impl From<Denied> for Reason {
    fn from(d: Denied) -> Reason {
        match d {
            Denied::Command => Reason::Command,
            Denied::Key(_) => Reason::Key,
            Denied::Channel(_) => Reason::Channel,
        }
    }
}

/// Where it was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A command sent by the client.
    Toplevel,
    /// Inside MULTI/EXEC.
    Multi,
    /// From a script.
    Lua,
}

impl Context {
    /// ACL LOG's `context`.
    pub fn name(self) -> &'static str {
        match self {
            Context::Toplevel => "toplevel",
            Context::Multi => "multi",
            Context::Lua => "lua",
        }
    }
}

/// One entry.
#[derive(Debug, Clone)]
pub struct Entry {
    /// How many times it happened.
    pub count: u64,
    /// What was refused.
    pub reason: Reason,
    /// Where.
    pub context: Context,
    /// The command name, key, channel or (auth) the user name tried.
    pub object: Vec<u8>,
    /// The user.
    pub username: Vec<u8>,
    /// Unix ms of the last occurrence.
    pub ctime_ms: i64,
    /// CLIENT LIST line of the client, at the last occurrence.
    pub client_info: String,
}

/// The log.
#[derive(Debug, Default)]
pub struct AclLog {
    /// Newest first.
    pub entries: VecDeque<Entry>,
}

const GROUPING_MS: i64 = 60_000;

impl AclLog {
    /// Adds `e` (or bumps a similar recent entry), keeping at most `max` entries.
    pub fn add(&mut self, e: Entry, max: usize) {
        let similar = self.entries.iter().take(10).position(|c| {
            c.reason == e.reason
                && c.context == e.context
                && (c.ctime_ms - e.ctime_ms).abs() <= GROUPING_MS
                && c.object == e.object
                && c.username == e.username
        });
        if let Some(i) = similar {
            if let Some(mut m) = self.entries.remove(i) {
                m.count += 1;
                m.ctime_ms = e.ctime_ms;
                m.client_info = e.client_info;
                self.entries.push_front(m);
            }
            return;
        }
        self.entries.push_front(e);
        self.entries.truncate(max);
    }
}
