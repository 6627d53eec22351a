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
    // Redis multiplies by 1000 and converts to a long long by truncation; a value
    // out of its range converts to LLONG_MIN on x86-64, hence "negative".
    let ms = (secs * 1000.0).trunc();
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
        assert_eq!(parse_timeout(b"0.0001").unwrap(), None);
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
