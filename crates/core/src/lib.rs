//! `ferrokv-core`: the storage engine. It knows nothing about sockets: a command runs
//! against the shards it locked and writes its reply into a buffer, so everything
//! here can be unit-tested, fuzzed and benchmarked without a network.
//!
//! Map: [`keyspace`] (databases, shards, the hash table, entries), [`types`] (one
//! module per data type with its commands), [`commands`] (the registry, metadata and
//! the generic/server commands), [`engine`] (dispatch), [`ctx`] (what a command sees),
//! [`config`] (parameters), [`glob`] (pattern matching), [`lazyfree`] (background
//! frees), [`defrag`] (active defragmentation and the allocator's hooks),
//! [`args`] (argument parsing), [`error`] (error replies).

pub mod acl;
pub mod admission;
pub mod args;
pub mod blocking;
pub mod client;
pub mod commands;
pub mod config;
pub mod ctx;
pub mod debug;
pub mod defrag;
pub mod engine;
pub mod error;
pub mod evict;
pub mod glob;
pub mod hooks;
pub mod keyspace;
pub mod latency;
pub mod lazyfree;
pub mod notify;
pub mod pause;
pub mod propagate;
pub mod replica_expire;
pub mod scripting;
pub mod slowlog;
pub mod snapshot;
#[cfg(test)]
mod testkit;
pub mod tracking;
pub mod transaction;
pub mod types;

/// The Redis version ferrokv behaves as.
pub const REDIS_VERSION: &str = "7.0.15";
/// The same as Redis's REDIS_VERSION_NUM (0x00MMmmpp).
pub const REDIS_VERSION_NUM: u32 = 0x0007_000f;

pub use client::Client;
pub use engine::Engine;
pub use error::{CmdError, CmdResult};
pub use hooks::{NoHooks, ServerHooks};
