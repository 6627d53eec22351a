//! DUMP / RESTORE payloads: a value in RDB encoding, then the RDB version (2 bytes
//! LE) and a CRC64 (8 bytes LE) of everything before it.

use crate::rdb::{crc64, encode_value, RdbError, RdbValue, WriteOptions, RDB_VERSION};

/// Why a payload was refused; `Display` is Redis's reply text.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// Too short, a newer RDB version, or a wrong checksum.
    #[error("ERR DUMP payload version or checksum are wrong")]
    VersionOrChecksum,
    /// The footer is fine but the value does not parse.
    #[error("ERR Bad data format")]
    BadData(#[source] RdbError),
}

/// Serializes a value as DUMP does.
pub fn encode_dump(v: &RdbValue, opts: &WriteOptions) -> Vec<u8> {
    let mut out = vec![0u8];
    let t = encode_value(v, opts, &mut out);
    out[0] = t;
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Checks a payload's footer and decodes its value (verifyDumpPayload, then
/// rdbLoadObject).
pub fn decode_dump(payload: &[u8]) -> Result<RdbValue, DumpError> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err(DumpError::VersionOrChecksum);
    };
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    if version > RDB_VERSION {
        return Err(DumpError::VersionOrChecksum);
    }
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if crc64(&payload[..body_len + 2]) != u64::from_le_bytes(crc) {
        return Err(DumpError::VersionOrChecksum);
    }
    // Redis parses from the start of the whole payload, so a value that runs into
    // the footer is read from the footer's bytes; do the same.
    crate::rdb::read_value(payload).map_err(DumpError::BadData)
}

/// FUNCTION DUMP's payload: each library as RDB_OPCODE_FUNCTION2 and its code,
/// then the same footer as DUMP.
pub fn encode_functions_dump(codes: &[Vec<u8>], opts: &WriteOptions) -> Vec<u8> {
    let mut out = Vec::new();
    for code in codes {
        crate::rdb::encode_function(code, opts, &mut out);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// The libraries of a FUNCTION RESTORE payload, or Redis's error text.
pub fn decode_functions_dump(payload: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return Err("DUMP payload version or checksum are wrong".into());
    };
    let footer = &payload[body_len..];
    let version = u16::from_le_bytes([footer[0], footer[1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&footer[2..]);
    if version > RDB_VERSION || crc64(&payload[..body_len + 2]) != u64::from_le_bytes(crc) {
        return Err("DUMP payload version or checksum are wrong".into());
    }
    crate::rdb::read_functions(&payload[..body_len])
}
