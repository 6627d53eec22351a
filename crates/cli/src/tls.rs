//! TLS connections (`--tls`, `rediss://`).

use std::net::TcpStream;

use crate::args::Config;
use crate::connection::Stream;

/// Wraps `tcp` in TLS as the options ask.
pub fn wrap(_tcp: TcpStream, _config: &Config) -> Result<Box<dyn Stream>, String> {
    Err("Could not negotiate a TLS connection: TLS support is not built yet".into())
}
