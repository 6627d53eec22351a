//! Round trips (write then read is the identity), truncation at every offset, and
//! random corruption: errors, never panics.

mod common;

use common::{dataset, normalized, options_for_small};
use ferrokv_persist::{
    decode_dump, encode_dump, read_rdb, ErrorKind, KeyMeta, RdbEntry, RdbValue, RdbWriter,
    WriteOptions,
};
use proptest::prelude::*;

fn write(entries: &[RdbEntry], opts: &WriteOptions) -> Vec<u8> {
    let mut w = RdbWriter::new(Vec::new(), opts.clone()).expect("header");
    w.standard_aux(1_700_000_000, 12345, false).expect("aux");
    let mut current = None;
    for e in entries {
        if current != Some(e.db) {
            w.select_db(e.db, 0, 0).expect("selectdb");
            current = Some(e.db);
        }
        w.entry(&e.key, &e.value, &e.meta).expect("entry");
    }
    w.finish().expect("finish")
}

fn norm_all(entries: &[RdbEntry]) -> Vec<RdbEntry> {
    entries
        .iter()
        .map(|e| RdbEntry {
            value: normalized(&e.value),
            ..e.clone()
        })
        .collect()
}

fn all_option_sets() -> Vec<WriteOptions> {
    vec![
        WriteOptions::default(),
        options_for_small(),
        WriteOptions {
            compression: false,
            checksum: false,
            list_max_listpack_size: 1,
            list_plain_threshold: 8,
            ..options_for_small()
        },
    ]
}

#[test]
fn dataset_round_trips_through_files_and_dumps() {
    let data = dataset();
    for opts in all_option_sets() {
        let bytes = write(&data, &opts);
        let file = read_rdb(&bytes).expect("read back");
        assert_eq!(norm_all(&file.entries), norm_all(&data));
        assert_eq!(file.checksum.is_some_and(|c| c != 0), opts.checksum);
        for e in &data {
            let v = decode_dump(&encode_dump(&e.value, &opts)).expect("dump");
            assert_eq!(normalized(&v), normalized(&e.value));
        }
    }
}

#[test]
fn every_truncation_errors_without_panicking() {
    let data = dataset();
    for opts in all_option_sets() {
        let bytes = write(&data, &opts);
        for cut in 0..bytes.len() {
            let err = read_rdb(&bytes[..cut]).expect_err("a truncated file must not parse");
            assert!(err.offset <= cut as u64, "{err} for cut {cut}");
            assert!(
                matches!(err.kind, ErrorKind::Truncated) || cut < 9,
                "cut {cut}: {err}"
            );
        }
        for e in &data {
            let p = encode_dump(&e.value, &opts);
            for cut in 0..p.len() {
                assert!(decode_dump(&p[..cut]).is_err());
            }
        }
    }
}

#[test]
fn checksum_mismatch_is_reported() {
    let mut bytes = write(&dataset(), &WriteOptions::default());
    let n = bytes.len();
    bytes[n - 1] ^= 0x40;
    let err = read_rdb(&bytes).expect_err("bad checksum");
    assert!(matches!(err.kind, ErrorKind::Checksum { .. }), "{err}");
    // Unless the check is off (rdbchecksum no).
    let mut r = ferrokv_persist::RdbReader::new(&bytes[..])
        .expect("header")
        .verify_checksum(false);
    while r.next_record().expect("records").is_some() {}
}

#[test]
fn unsupported_types_name_the_type_and_key() {
    let mut body = b"REDIS0010".to_vec();
    // Redis 7.2's stream type (21); 7.0's (15, 19) load.
    body.extend_from_slice(&[0xFE, 0x00, 21, 0x03, b's', b't', b'r', 0x00]);
    let err = read_rdb(&body).expect_err("stream");
    let text = err.to_string();
    assert!(text.contains("stream") && text.contains("'str'"), "{text}");

    let mut body = b"REDIS0010".to_vec();
    body.extend_from_slice(&[20, 0x01, b'k', 0x00]);
    let text = read_rdb(&body).expect_err("set listpack").to_string();
    assert!(text.contains("7.2") && text.contains("'k'"), "{text}");

    // Function libraries (245) load; the pre-GA format (246) is refused.
    let mut body = b"REDIS0010".to_vec();
    body.extend_from_slice(&[245, 0x01, b'x', 0xFF, 0, 0, 0, 0, 0, 0, 0, 0]);
    let file = read_rdb(&body).expect("function library");
    assert_eq!(file.functions, vec![b"x".to_vec()]);
    let mut body = b"REDIS0010".to_vec();
    body.extend_from_slice(&[246, 0x01, b'x']);
    let text = read_rdb(&body).expect_err("function").to_string();
    assert!(text.contains("function"), "{text}");

    let text = read_rdb(b"REDIS0011").expect_err("version").to_string();
    assert!(text.contains("version 11"), "{text}");
    assert!(matches!(
        read_rdb(b"RIDES0010").map_err(|e| e.kind),
        Err(ErrorKind::BadMagic)
    ));
}

#[test]
fn random_corruption_never_panics() {
    let bytes = write(&dataset(), &options_for_small());
    let mut x = 0x9E3779B97F4A7C15u64;
    for _ in 0..3000 {
        let mut b = bytes.clone();
        for _ in 0..3 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let i = (x as usize) % b.len();
            b[i] = (x >> 40) as u8;
        }
        let _ = read_rdb(&b);
    }
}

fn bytes_strategy() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..40),
        any::<i64>().prop_map(|v| v.to_string().into_bytes()),
        (0i64..200).prop_map(|v| v.to_string().into_bytes()),
        (1usize..300, any::<u8>()).prop_map(|(n, c)| vec![c; n]),
        "[a-c0-9-]{0,8}".prop_map(String::into_bytes),
    ]
}

fn score_strategy() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("no NaN", |f| !f.is_nan()),
        (-1000i32..1000).prop_map(f64::from),
        Just(f64::INFINITY),
        Just(f64::NEG_INFINITY),
        Just(-0.0),
    ]
}

fn value_strategy() -> impl Strategy<Value = RdbValue> {
    let members = || proptest::collection::hash_set(bytes_strategy(), 1..20);
    prop_oneof![
        bytes_strategy().prop_map(RdbValue::String),
        proptest::collection::vec(bytes_strategy(), 1..30).prop_map(RdbValue::List),
        members().prop_map(|m| RdbValue::Set(m.into_iter().collect())),
        proptest::collection::hash_set(
            any::<i16>().prop_map(|v| v.to_string().into_bytes()),
            1..10
        )
        .prop_map(|m| RdbValue::Set(m.into_iter().collect())),
        (members(), proptest::collection::vec(score_strategy(), 20))
            .prop_map(|(m, s)| { RdbValue::ZSet(m.into_iter().zip(s).collect()) }),
        (members(), proptest::collection::vec(bytes_strategy(), 20))
            .prop_map(|(m, v)| RdbValue::Hash(m.into_iter().zip(v).collect())),
    ]
}

fn entry_strategy() -> impl Strategy<Value = RdbEntry> {
    (
        0u64..3,
        bytes_strategy(),
        value_strategy(),
        proptest::option::of(any::<i64>()),
        proptest::option::of(any::<u64>()),
        proptest::option::of(any::<u8>()),
    )
        .prop_map(|(db, key, value, expire_ms, idle_secs, freq)| RdbEntry {
            db,
            key,
            value,
            meta: KeyMeta {
                expire_ms,
                idle_secs,
                freq,
            },
        })
}

proptest! {
    #[test]
    fn write_then_read_is_identity(
        mut entries in proptest::collection::vec(entry_strategy(), 0..12),
        small in any::<bool>(),
        compression in any::<bool>(),
        checksum in any::<bool>(),
    ) {
        entries.sort_by_key(|e| e.db);
        let mut opts = if small { options_for_small() } else { WriteOptions::default() };
        opts.compression = compression;
        opts.checksum = checksum;
        let bytes = write(&entries, &opts);
        let file = read_rdb(&bytes).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(norm_all(&file.entries), norm_all(&entries));
        for e in &entries {
            let v = decode_dump(&encode_dump(&e.value, &opts))
                .map_err(|err| TestCaseError::fail(err.to_string()))?;
            prop_assert_eq!(normalized(&v), normalized(&e.value));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut b = b"REDIS0010".to_vec();
        b.extend_from_slice(&tail);
        let _ = read_rdb(&b);
        let _ = decode_dump(&tail);
    }
}

#[test]
fn module_aux_is_skipped_and_named() {
    // "ReJSON-RL" module id with encoding version 3 (an id built as Redis does).
    const CSET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let id = b"ReJSON-RL".iter().fold(0u64, |acc, c| {
        (acc << 6) | CSET.iter().position(|x| x == c).expect("charset") as u64
    });
    let id = (id << 10) | 3;
    let mut f = b"REDIS0010".to_vec();
    f.push(0xF7);
    f.push(0x81);
    f.extend_from_slice(&id.to_be_bytes());
    f.extend_from_slice(&[2, 2]); // when_opcode UINT, when
    f.extend_from_slice(&[2, 0x05]); // UINT 5
    f.extend_from_slice(&[5, 0x02, b'a', b'b']); // STRING "ab"
    f.push(4); // DOUBLE
    f.extend_from_slice(&1.5f64.to_le_bytes());
    f.push(0); // EOF
    f.extend_from_slice(&[0x00, 0x01, b'k', 0x01, b'v']);
    f.push(0xFF);
    f.extend_from_slice(&[0; 8]);
    let file = read_rdb(&f).expect("module aux skipped");
    assert_eq!(file.module_aux, vec!["ReJSON-RL".to_string()]);
    assert_eq!(file.entries.len(), 1);
}
