//! Keyspace events: the names and classes Redis 7.0 gives to every change of a key
//! (`notifyKeyspaceEvent` in Redis), and the `notify-keyspace-events` flags.
//!
//! Every write reaches the one funnel [`crate::ctx::Keys::modified`] with one of the
//! [`Event`]s below. The funnel flags WATCHers and, when the configured flags select
//! the event's class, records it; the engine hands the recorded events to
//! [`crate::ServerHooks::keyspace_events`] while the command still holds its locks,
//! so the events of one key arrive in the order the writes happened.

/// A class of events, as a bit of Redis's `notify_keyspace_events` flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Class(pub u32);

impl Class {
    /// `K`: publish on `__keyspace@<db>__:<key>`.
    pub const KEYSPACE: Class = Class(1 << 0);
    /// `E`: publish on `__keyevent@<db>__:<event>`.
    pub const KEYEVENT: Class = Class(1 << 1);
    /// `g`: generic commands (DEL, EXPIRE, RENAME, ...).
    pub const GENERIC: Class = Class(1 << 2);
    /// `$`: string commands.
    pub const STRING: Class = Class(1 << 3);
    /// `l`: list commands.
    pub const LIST: Class = Class(1 << 4);
    /// `s`: set commands.
    pub const SET: Class = Class(1 << 5);
    /// `h`: hash commands.
    pub const HASH: Class = Class(1 << 6);
    /// `z`: sorted set commands.
    pub const ZSET: Class = Class(1 << 7);
    /// `x`: a key expired.
    pub const EXPIRED: Class = Class(1 << 8);
    /// `e`: a key was evicted.
    pub const EVICTED: Class = Class(1 << 9);
    /// `t`: stream commands.
    pub const STREAM: Class = Class(1 << 10);
    /// `m`: a read found no key (not part of `A`).
    pub const KEY_MISS: Class = Class(1 << 11);
    /// `d`: module events.
    pub const MODULE: Class = Class(1 << 13);
    /// `n`: a key was created (not part of `A`).
    pub const NEW: Class = Class(1 << 14);
    /// `A`: every class but `m` and `n`.
    pub const ALL: Class = Class(
        Self::GENERIC.0
            | Self::STRING.0
            | Self::LIST.0
            | Self::SET.0
            | Self::HASH.0
            | Self::ZSET.0
            | Self::EXPIRED.0
            | Self::EVICTED.0
            | Self::STREAM.0
            | Self::MODULE.0,
    );
}

/// One event: its name as Redis publishes it and its class.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Event {
    /// The event name (`lpush`, `expired`, ...).
    pub name: &'static str,
    /// Its class.
    pub class: Class,
}

const fn ev(name: &'static str, class: Class) -> Event {
    Event { name, class }
}

/// Every event Redis 7.0 emits for the data types ferrokv has, named as Redis names
/// them (the constant is the event name in upper case).
pub mod events {
    use super::{ev, Class, Event};

    // Generic.
    pub const DEL: Event = ev("del", Class::GENERIC);
    pub const EXPIRE: Event = ev("expire", Class::GENERIC);
    pub const PERSIST: Event = ev("persist", Class::GENERIC);
    pub const RENAME_FROM: Event = ev("rename_from", Class::GENERIC);
    pub const RENAME_TO: Event = ev("rename_to", Class::GENERIC);
    pub const MOVE_FROM: Event = ev("move_from", Class::GENERIC);
    pub const MOVE_TO: Event = ev("move_to", Class::GENERIC);
    pub const COPY_TO: Event = ev("copy_to", Class::GENERIC);
    pub const RESTORE: Event = ev("restore", Class::GENERIC);
    pub const EXPIRED: Event = ev("expired", Class::EXPIRED);
    pub const EVICTED: Event = ev("evicted", Class::EVICTED);
    pub const NEW: Event = ev("new", Class::NEW);
    pub const KEYMISS: Event = ev("keymiss", Class::KEY_MISS);
    // Strings.
    pub const SET: Event = ev("set", Class::STRING);
    pub const SETRANGE: Event = ev("setrange", Class::STRING);
    pub const INCRBY: Event = ev("incrby", Class::STRING);
    pub const INCRBYFLOAT: Event = ev("incrbyfloat", Class::STRING);
    pub const APPEND: Event = ev("append", Class::STRING);
    pub const SETBIT: Event = ev("setbit", Class::STRING);
    pub const PFADD: Event = ev("pfadd", Class::STRING);
    // Lists.
    pub const LPUSH: Event = ev("lpush", Class::LIST);
    pub const RPUSH: Event = ev("rpush", Class::LIST);
    pub const LPOP: Event = ev("lpop", Class::LIST);
    pub const RPOP: Event = ev("rpop", Class::LIST);
    pub const LINSERT: Event = ev("linsert", Class::LIST);
    pub const LSET: Event = ev("lset", Class::LIST);
    pub const LREM: Event = ev("lrem", Class::LIST);
    pub const LTRIM: Event = ev("ltrim", Class::LIST);
    pub const SORTSTORE: Event = ev("sortstore", Class::LIST);
    // Hashes.
    pub const HSET: Event = ev("hset", Class::HASH);
    pub const HINCRBY: Event = ev("hincrby", Class::HASH);
    pub const HINCRBYFLOAT: Event = ev("hincrbyfloat", Class::HASH);
    pub const HDEL: Event = ev("hdel", Class::HASH);
    // Sets.
    pub const SADD: Event = ev("sadd", Class::SET);
    pub const SREM: Event = ev("srem", Class::SET);
    pub const SPOP: Event = ev("spop", Class::SET);
    pub const SINTERSTORE: Event = ev("sinterstore", Class::SET);
    pub const SUNIONSTORE: Event = ev("sunionstore", Class::SET);
    pub const SDIFFSTORE: Event = ev("sdiffstore", Class::SET);
    // Sorted sets (and geo, which stores zsets).
    pub const ZADD: Event = ev("zadd", Class::ZSET);
    pub const ZINCR: Event = ev("zincr", Class::ZSET);
    pub const ZREM: Event = ev("zrem", Class::ZSET);
    pub const ZREMRANGEBYSCORE: Event = ev("zremrangebyscore", Class::ZSET);
    pub const ZREMRANGEBYRANK: Event = ev("zremrangebyrank", Class::ZSET);
    pub const ZREMRANGEBYLEX: Event = ev("zremrangebylex", Class::ZSET);
    pub const ZPOPMIN: Event = ev("zpopmin", Class::ZSET);
    pub const ZPOPMAX: Event = ev("zpopmax", Class::ZSET);
    pub const ZINTERSTORE: Event = ev("zinterstore", Class::ZSET);
    pub const ZUNIONSTORE: Event = ev("zunionstore", Class::ZSET);
    pub const ZDIFFSTORE: Event = ev("zdiffstore", Class::ZSET);
    pub const ZRANGESTORE: Event = ev("zrangestore", Class::ZSET);
    pub const GEOSEARCHSTORE: Event = ev("geosearchstore", Class::ZSET);
    pub const GEORADIUSSTORE: Event = ev("georadiusstore", Class::ZSET);
    // Streams.
    pub const XADD: Event = ev("xadd", Class::STREAM);
    pub const XTRIM: Event = ev("xtrim", Class::STREAM);
    pub const XDEL: Event = ev("xdel", Class::STREAM);
    pub const XSETID: Event = ev("xsetid", Class::STREAM);
    pub const XGROUP_CREATE: Event = ev("xgroup-create", Class::STREAM);
    pub const XGROUP_CREATECONSUMER: Event = ev("xgroup-createconsumer", Class::STREAM);
    pub const XGROUP_DELCONSUMER: Event = ev("xgroup-delconsumer", Class::STREAM);
    pub const XGROUP_DESTROY: Event = ev("xgroup-destroy", Class::STREAM);
    pub const XGROUP_SETID: Event = ev("xgroup-setid", Class::STREAM);
}

/// Parses `notify-keyspace-events` (Redis's keyspaceEventsStringToFlags); `None`
/// for a character that names no class.
pub fn parse_flags(text: &str) -> Option<u32> {
    let mut flags = 0;
    for c in text.chars() {
        flags |= match c {
            'A' => Class::ALL.0,
            'g' => Class::GENERIC.0,
            '$' => Class::STRING.0,
            'l' => Class::LIST.0,
            's' => Class::SET.0,
            'h' => Class::HASH.0,
            'z' => Class::ZSET.0,
            'x' => Class::EXPIRED.0,
            'e' => Class::EVICTED.0,
            'K' => Class::KEYSPACE.0,
            'E' => Class::KEYEVENT.0,
            't' => Class::STREAM.0,
            'm' => Class::KEY_MISS.0,
            'd' => Class::MODULE.0,
            'n' => Class::NEW.0,
            _ => return None,
        };
    }
    Some(flags)
}

/// The canonical text of `flags`, as CONFIG GET shows it (keyspaceEventsFlagsToString).
pub fn format_flags(flags: u32) -> String {
    let mut s = String::new();
    if flags & Class::ALL.0 == Class::ALL.0 {
        s.push('A');
    } else {
        for (class, c) in [
            (Class::GENERIC, 'g'),
            (Class::STRING, '$'),
            (Class::LIST, 'l'),
            (Class::SET, 's'),
            (Class::HASH, 'h'),
            (Class::ZSET, 'z'),
            (Class::EXPIRED, 'x'),
            (Class::EVICTED, 'e'),
            (Class::STREAM, 't'),
            (Class::MODULE, 'd'),
            (Class::NEW, 'n'),
        ] {
            if flags & class.0 != 0 {
                s.push(c);
            }
        }
    }
    for (class, c) in [
        (Class::KEYSPACE, 'K'),
        (Class::KEYEVENT, 'E'),
        (Class::KEY_MISS, 'm'),
    ] {
        if flags & class.0 != 0 {
            s.push(c);
        }
    }
    s
}

/// Whether `flags` publish events of `class` at all: the class is selected and at
/// least one of the keyspace / keyevent channels is on.
#[inline]
pub fn wanted(flags: u32, class: Class) -> bool {
    flags & class.0 != 0 && flags & (Class::KEYSPACE.0 | Class::KEYEVENT.0) != 0
}

/// One recorded event: database, key, event.
pub type KeyEvent = (usize, Vec<u8>, Event);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_round_trip_as_redis() {
        assert_eq!(parse_flags("KEA").map(format_flags).as_deref(), Some("AKE"));
        assert_eq!(parse_flags("Elg").map(format_flags).as_deref(), Some("glE"));
        assert_eq!(
            parse_flags("nmKx").map(format_flags).as_deref(),
            Some("xnKm")
        );
        assert_eq!(parse_flags(""), Some(0));
        assert_eq!(parse_flags("Q"), None);
        assert!(wanted(parse_flags("Kl").unwrap_or(0), Class::LIST));
        assert!(!wanted(parse_flags("l").unwrap_or(0), Class::LIST));
        assert!(!wanted(parse_flags("KA").unwrap_or(0), Class::NEW));
    }
}
