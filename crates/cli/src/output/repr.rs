//! The quoted form redis-cli prints strings in (Redis's sdscatrepr), from the
//! protocol crate where the server's MONITOR uses it too.

pub use ferrokv_resp::{push_repr, repr};
