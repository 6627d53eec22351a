//! The special modes: --pipe, --scan, --bigkeys/--memkeys, --stat, --latency*,
//! --eval, --rdb.
pub mod eval;
pub mod intrinsic;
pub mod keys;
pub mod latency;
pub mod pipe;
pub mod rdb;
pub mod scan;
pub mod stat;

use crate::args::Config;
use crate::connection::Connection;
use crate::session::Fatal;

/// Connects with the handshake, or fails with redis-cli's message.
pub fn connect(config: &Config) -> Result<Connection, Fatal> {
    Connection::connect(config).map_err(Fatal::Message)
}
