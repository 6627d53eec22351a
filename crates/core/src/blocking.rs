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

use crate::error::{CmdError, CmdResult};

/// Parses the timeout of a blocking command, given in seconds with decimals as Redis
/// 7.0 does (`0` = forever). Returns milliseconds from now, `None` for forever.
pub fn parse_timeout(arg: &[u8]) -> CmdResult<Option<u64>> {
    let secs = crate::args::parse_f64(arg)
        .filter(|v| !v.is_nan())
        .ok_or_else(|| CmdError::Other("timeout is not a float or out of range".into()))?;
    // Redis multiplies the long double by 1000 and truncates to a long long.
    let ms = secs * 1000.0;
    if ms < 0.0 {
        return Err(CmdError::Other("timeout is negative".into()));
    }
    if ms >= i64::MAX as f64 / 2.0 {
        return Err(CmdError::Other("timeout is out of range".into()));
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
        assert_eq!(parse_timeout(b"0.0001").unwrap(), None);
        assert!(parse_timeout(b"-1").unwrap_err().to_string().contains("negative"));
        assert!(parse_timeout(b"abc").unwrap_err().to_string().contains("not a float"));
    }
}
