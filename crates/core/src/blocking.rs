//! Blocking commands (BLPOP, BZPOPMIN, WAIT, ...): the engine side.
//!
//! A blocking command that finds nothing to serve sets [`Client::block`] instead of
//! replying: a [`BlockRequest`] that says why it waits ([`BlockReason`]) and for how
//! long. The server parks the connection. Commands that add data call
//! [`Keys::signal_ready`]; after the command the engine passes the ready keys to
//! [`ServerHooks::keys_ready`], and the server serves the clients parked on each key
//! in FIFO order: only those that wait for the type the key holds at that moment
//! (a BLPOP is not served by a zset), by re-running their command with
//! [`Client::serving_key`] set, so that the command looks at that one key only and
//! treats another type as nothing to take (Redis serves the ready key directly).
//!
//! [`Client::block`]: crate::Client::block
//! [`Client::serving_key`]: crate::Client::serving_key
//! [`Keys::signal_ready`]: crate::ctx::Keys::signal_ready
//! [`ServerHooks::keys_ready`]: crate::ServerHooks::keys_ready

use crate::types::ValueType;

/// What a blocked client waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlockRequest {
    /// Why it waits.
    pub reason: BlockReason,
    /// Timeout in ms from now; `None` waits forever.
    pub timeout_ms: Option<u64>,
}

/// Why a client is blocked (Redis's btype with its bpop arguments).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockReason {
    /// Data on any of `keys` of `db`.
    Keys {
        /// Database of the keys.
        db: usize,
        /// The keys, in the order given, without repeats.
        keys: Vec<Vec<u8>>,
        /// What it waits for there.
        awaits: Awaits,
        /// The command to re-run when served, when not the one received: its
        /// arguments resolved at block time (a stream's `$` becomes the last ID then).
        rerun: Option<Vec<Vec<u8>>>,
    },
    /// WAIT: `replicas` replicas acknowledging the replication offset `offset`.
    Replicas {
        /// The client's write offset when it blocked.
        offset: u64,
        /// How many replicas must acknowledge it.
        replicas: u64,
    },
    /// SHUTDOWN waiting for its replicas to catch up: it ends with the process,
    /// or with an error when the shutdown fails or is aborted.
    Shutdown,
}

/// What a client blocked on keys waits for: the type the key must hold to serve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Awaits {
    /// An element to pop from a list (BLPOP, BRPOP, BLMOVE, BRPOPLPUSH, BLMPOP).
    ListPop,
    /// A member to pop from a sorted set (BZPOPMIN, BZPOPMAX, BZMPOP).
    ZSetPop,
    /// Entries of a stream past an ID (XREAD BLOCK).
    Stream,
    /// New entries for a consumer group (XREADGROUP BLOCK): also served, with
    /// an error, when the key is deleted, stops being a stream or loses the
    /// group.
    StreamGroup,
}

impl Awaits {
    /// The type a key must hold to serve the client.
    pub fn value_type(self) -> ValueType {
        match self {
            Awaits::ListPop => ValueType::List,
            Awaits::ZSetPop => ValueType::ZSet,
            Awaits::Stream | Awaits::StreamGroup => ValueType::Stream,
        }
    }

    /// Whether serving one client takes the data away from the next ones (a pop),
    /// so that a client that finds nothing means the key is spent for those behind
    /// it. Readers (a stream's XREAD) each see the same data.
    pub fn consumes(self) -> bool {
        matches!(self, Awaits::ListPop | Awaits::ZSetPop)
    }
}

impl BlockRequest {
    /// Waiting on `keys` of `db` (repeats dropped, order kept) for `awaits`.
    pub fn on_keys(db: usize, keys: &[&[u8]], awaits: Awaits, timeout_ms: Option<u64>) -> Self {
        let mut unique: Vec<Vec<u8>> = Vec::with_capacity(keys.len());
        for k in keys {
            if !unique.iter().any(|u| u.as_slice() == *k) {
                unique.push(k.to_vec());
            }
        }
        BlockRequest {
            reason: BlockReason::Keys {
                db,
                keys: unique,
                awaits,
                rerun: None,
            },
            timeout_ms,
        }
    }

    /// The keys it waits on, with their db (none for a non-key reason).
    pub fn keys(&self) -> Vec<(usize, Vec<u8>)> {
        match &self.reason {
            BlockReason::Keys { db, keys, .. } => keys.iter().map(|k| (*db, k.clone())).collect(),
            BlockReason::Replicas { .. } | BlockReason::Shutdown => Vec::new(),
        }
    }
}

use crate::error::{CmdError, CmdResult};

/// Parses the timeout of a blocking command, given in seconds with decimals as Redis
/// 7.0 does (`0` = forever). Returns milliseconds from now, `None` for forever.
pub fn parse_timeout(arg: &[u8]) -> CmdResult<Option<u64>> {
    let negative = || CmdError::Other("timeout is negative".into());
    let secs = match crate::args::parse_f64(arg) {
        Some(v) => v,
        None => {
            // Redis parses with strtold: literals beyond a double's range but within
            // a long double's are accepted. Huge ones overflow the conversion to ms
            // (Redis reports "negative"); tiny ones truncate to 0 (forever).
            let in_long_double = crate::types::string::float80::parse(arg).is_some();
            let as_f64 = std::str::from_utf8(arg)
                .ok()
                .and_then(|t| t.parse::<f64>().ok());
            return match (in_long_double, as_f64) {
                (true, Some(v)) if v.is_infinite() => Err(negative()),
                (true, Some(0.0)) => Ok(None),
                _ => Err(CmdError::Other(
                    "timeout is not a float or out of range".into(),
                )),
            };
        }
    };
    // Redis multiplies by 1000, rounds up (ceill: 0.0001 s waits 1 ms, not forever)
    // and converts to a long long; a value out of its range converts to LLONG_MIN
    // on x86-64, hence "negative".
    let ms = (secs * 1000.0).ceil();
    // 2^63: the first value a long long cannot hold.
    const LLONG_LIMIT: f64 = 9_223_372_036_854_775_808.0;
    if !(0.0..LLONG_LIMIT).contains(&ms) {
        return Err(negative());
    }
    let ms = ms as u64;
    Ok(if ms == 0 { None } else { Some(ms) })
}

#[cfg(test)]
mod tests {
    use super::parse_timeout;

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout(b"0").unwrap(), None);
        assert_eq!(parse_timeout(b"0.1").unwrap(), Some(100));
        assert_eq!(parse_timeout(b"1.5").unwrap(), Some(1500));
        assert_eq!(parse_timeout(b"0.0001").unwrap(), Some(1));
        assert_eq!(parse_timeout(b"-0.0001").unwrap(), None);
        assert!(parse_timeout(b"-1")
            .unwrap_err()
            .to_string()
            .contains("negative"));
        assert!(parse_timeout(b"abc")
            .unwrap_err()
            .to_string()
            .contains("not a float"));
    }
}
