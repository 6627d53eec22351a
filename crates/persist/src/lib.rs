//! ferrokv persistence: RDB snapshots byte-compatible with Redis 7.0 (RDB version
//! 10), and DUMP / RESTORE payloads.
//!
//! The format code in [`rdb`] works over a neutral value model ([`rdb::RdbValue`])
//! so it can be tested against real Redis files without the keyspace; the
//! conversion to core's values lives in [`convert`].

pub mod aof;
pub mod convert;
pub mod dump;
pub mod rdb;

pub use dump::{decode_dump, decode_functions_dump, encode_dump, encode_functions_dump, DumpError};
pub use rdb::{
    read_rdb, ErrorKind, KeyMeta, RdbEntry, RdbError, RdbFile, RdbReader, RdbValue, RdbWriter,
    Record, WriteOptions,
};
