//! Helpers behind the DEBUG command (the command itself is the server's,
//! `crates/server/src/debug.rs`): the dataset and value digests of DEBUG DIGEST /
//! DIGEST-VALUE, computed exactly as Redis 7.0 computes them so that digests taken
//! on ferrokv and on redis-server compare equal for the same data.

pub mod digest;
pub mod sha1;

pub use digest::{dataset_digest, hex, value_digest, Digest};
