//! Not implemented yet.
use std::process::ExitCode;

use crate::args::Config;
use crate::session::Fatal;

pub fn run(_config: &Config, _x: impl Sized) -> Result<ExitCode, Fatal> {
    Err(Fatal::Message("This mode is not supported by ferrokv-cli yet.".into()))
}
