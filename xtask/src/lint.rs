//! `cargo xtask lint`: formatting and clippy, as CI checks them.

use crate::util::{cargo, run, Result};

pub fn main(args: &[String]) -> Result {
    if !args.is_empty() {
        return Err(format!("lint takes no arguments, got {args:?}"));
    }
    run(cargo().args(["fmt", "--all", "--", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))
}
