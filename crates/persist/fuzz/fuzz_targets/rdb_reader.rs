//! The RDB reader and the DUMP payload decoder on arbitrary bytes: errors are
//! fine, panics and unbounded allocations are bugs.
//!
//! `cargo +nightly fuzz run rdb_reader` from crates/persist.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // As a file, both with the header the fuzzer found and with a valid one so
    // that it spends its time inside the records.
    let _ = ferrokv_persist::read_rdb(data);
    let mut with_header = b"REDIS0010".to_vec();
    with_header.extend_from_slice(data);
    let _ = ferrokv_persist::read_rdb(&with_header);
    // As a DUMP payload, and as a payload body with a valid footer.
    let _ = ferrokv_persist::decode_dump(data);
    let mut payload = data.to_vec();
    payload.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrokv_persist::rdb::crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    let _ = ferrokv_persist::decode_dump(&payload);
});
