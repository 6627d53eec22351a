//! The interactive mode.
use std::process::ExitCode;

use crate::session::{Fatal, Session};

pub fn run(_s: Session) -> Result<ExitCode, Fatal> {
    Err(Fatal::Message("interactive mode is not built yet".into()))
}

pub fn ask_password(_prompt: &str) -> Vec<u8> {
    Vec::new()
}
