//! Interop with the real redis-server 7.0.15: files and DUMP payloads in both
//! directions, every type and encoding.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use common::*;
use ferrokv_persist::{
    decode_dump, encode_dump, read_rdb, DumpError, KeyMeta, RdbEntry, RdbFile, RdbValue, RdbWriter,
    WriteOptions,
};
use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Server};

type Keyed = BTreeMap<(u64, Vec<u8>), (RdbValue, Option<i64>)>;

fn keyed(entries: &[RdbEntry]) -> Keyed {
    entries
        .iter()
        .map(|e| {
            (
                (e.db, e.key.clone()),
                (normalized(&e.value), e.meta.expire_ms),
            )
        })
        .collect()
}

fn save_and_read(s: &Server, c: &mut Conn) -> (RdbFile, Vec<u8>) {
    assert_eq!(c.cmd(&["SAVE"]), Frame::Simple("OK".into()));
    let bytes = std::fs::read(s.dir.path().join("dump.rdb")).expect("dump.rdb");
    let file = read_rdb(&bytes).unwrap_or_else(|e| panic!("parsing Redis's dump.rdb: {e}"));
    (file, bytes)
}

fn write_file(path: &Path, entries: &[RdbEntry], opts: WriteOptions) {
    let f = std::fs::File::create(path).expect("create rdb");
    let mut w = RdbWriter::new(std::io::BufWriter::new(f), opts).expect("header");
    w.standard_aux(1_700_000_000, 1_000_000, false)
        .expect("aux");
    let mut dbs: BTreeMap<u64, Vec<&RdbEntry>> = BTreeMap::new();
    for e in entries {
        dbs.entry(e.db).or_default().push(e);
    }
    for (db, es) in dbs {
        let expires = es.iter().filter(|e| e.meta.expire_ms.is_some()).count() as u64;
        w.select_db(db, es.len() as u64, expires).expect("selectdb");
        for e in es {
            w.entry(&e.key, &e.value, &e.meta).expect("entry");
        }
    }
    w.finish().expect("finish");
}

fn start_redis_on(dir: &Path, extra: &[&str]) -> Server {
    let d = dir.to_string_lossy().into_owned();
    let mut args = vec!["--dir", &d, "--dbfilename", "dump.rdb"];
    args.extend_from_slice(extra);
    Server::redis(&args)
}

#[test]
fn redis_save_with_small_thresholds_is_read_exactly() {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    config_set(&mut c, SMALL_THRESHOLDS);
    let data = dataset();
    load_with_commands(&mut c, &data);
    // Both encodings of every type are really produced.
    for (key, enc) in [
        ("s:i8", "int"),
        ("s:lzf", "raw"),
        ("h:small", "listpack"),
        ("h:large", "hashtable"),
        ("h:longval", "hashtable"),
        ("set:intset", "intset"),
        ("set:manyints", "hashtable"),
        ("set:strs", "hashtable"),
        ("z:small", "listpack"),
        ("z:large", "skiplist"),
        ("z:longmember", "skiplist"),
        ("l:nodes", "quicklist"),
    ] {
        assert_eq!(encoding_of(&mut c, key.as_bytes()), enc, "{key}");
    }
    let (file, bytes) = save_and_read(&s, &mut c);
    assert_eq!(file.version, 10);
    assert!(file
        .aux
        .contains(&(b"redis-ver".to_vec(), b"7.0.15".to_vec())));
    assert!(file.aux.contains(&(b"redis-bits".to_vec(), b"64".to_vec())));
    assert!(file.checksum.is_some_and(|c| c != 0));
    assert_eq!(keyed(&file.entries), keyed(&data));
    // The 70000-byte string went through LZF.
    assert!(bytes.len() < 60_000, "file is {} bytes", bytes.len());
}

#[test]
fn redis_save_with_defaults_and_no_compression_or_checksum_is_read_exactly() {
    let s = Server::redis(&["--rdbcompression", "no", "--rdbchecksum", "no"]);
    let mut c = s.conn();
    let data = dataset();
    load_with_commands(&mut c, &data);
    let (file, bytes) = save_and_read(&s, &mut c);
    assert_eq!(file.checksum, Some(0));
    assert_eq!(keyed(&file.entries), keyed(&data));
    assert!(bytes.len() > 70_000);
}

#[test]
fn redis_lfu_freq_and_lru_idle_are_read() {
    let s = Server::redis(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = s.conn();
    c.cmd(&["SET", "hot", "v"]);
    for _ in 0..200 {
        c.cmd(&["GET", "hot"]);
    }
    let freq = match c.cmd(&["OBJECT", "FREQ", "hot"]) {
        Frame::Integer(f) => f,
        other => panic!("{}", show(&other)),
    };
    let (file, _) = save_and_read(&s, &mut c);
    let e = file.entries.iter().find(|e| e.key == b"hot").expect("hot");
    assert_eq!(e.meta.freq.map(i64::from), Some(freq));
    assert_eq!(e.meta.idle_secs, None);

    c.cmd(&["CONFIG", "SET", "maxmemory-policy", "allkeys-lru"]);
    let (file, _) = save_and_read(&s, &mut c);
    let e = file.entries.iter().find(|e| e.key == b"hot").expect("hot");
    assert!(e.meta.idle_secs.is_some());
    assert_eq!(e.meta.freq, None);
}

#[test]
fn our_idle_and_freq_are_loaded_by_redis() {
    for (policy, meta, cmd, want) in [
        (
            "allkeys-lfu",
            KeyMeta {
                freq: Some(77),
                ..KeyMeta::default()
            },
            "FREQ",
            77,
        ),
        (
            "allkeys-lru",
            KeyMeta {
                idle_secs: Some(5000),
                ..KeyMeta::default()
            },
            "IDLETIME",
            5000,
        ),
    ] {
        let dir = tempfile::tempdir().expect("tmp");
        let e = RdbEntry {
            db: 0,
            key: b"k".to_vec(),
            value: RdbValue::String(b"v".to_vec()),
            meta,
        };
        write_file(&dir.path().join("dump.rdb"), &[e], WriteOptions::default());
        let s = start_redis_on(dir.path(), &["--maxmemory-policy", policy]);
        let mut c = s.conn();
        match c.cmd(&["OBJECT", cmd, "k"]) {
            Frame::Integer(v) => assert!((want..want + 3).contains(&v), "{cmd} {v}"),
            other => panic!("{}", show(&other)),
        }
    }
}

fn our_file_loads(opts: WriteOptions) {
    let dir = tempfile::tempdir().expect("tmp");
    let data = dataset();
    write_file(&dir.path().join("dump.rdb"), &data, opts);
    let s = start_redis_on(dir.path(), &[]);
    let mut c = s.conn();
    assert!(s.log().contains("DB loaded from disk"), "{}", s.log());
    assert_redis_has(&mut c, &data);
    let db0 = data.iter().filter(|e| e.db == 0).count() as i64;
    assert_eq!(c.cmd(&["DBSIZE"]), Frame::Integer(db0));
}

#[test]
fn our_file_with_default_thresholds_loads_into_redis() {
    our_file_loads(WriteOptions::default());
}

#[test]
fn our_file_with_small_thresholds_loads_into_redis() {
    our_file_loads(options_for_small());
}

#[test]
fn our_file_without_compression_or_checksum_loads_into_redis() {
    our_file_loads(WriteOptions {
        compression: false,
        checksum: false,
        list_max_listpack_size: -1,
        ..WriteOptions::default()
    });
}

#[test]
fn our_file_keeps_redis_encodings() {
    let dir = tempfile::tempdir().expect("tmp");
    write_file(
        &dir.path().join("dump.rdb"),
        &dataset(),
        options_for_small(),
    );
    // Redis picks the encoding at load time from its configuration.
    let args: Vec<String> = SMALL_THRESHOLDS
        .iter()
        .flat_map(|(k, v)| [format!("--{k}"), v.to_string()])
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let s = start_redis_on(dir.path(), &args);
    let mut c = s.conn();
    for (key, enc) in [
        ("h:small", "listpack"),
        ("h:large", "hashtable"),
        ("set:intset", "intset"),
        ("set:manyints", "hashtable"),
        ("z:small", "listpack"),
        ("z:large", "skiplist"),
    ] {
        assert_eq!(encoding_of(&mut c, key.as_bytes()), enc, "{key}");
    }
}

#[test]
fn redis_dump_payloads_decode() {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    config_set(&mut c, SMALL_THRESHOLDS);
    let data = dataset();
    load_with_commands(&mut c, &data);
    for e in &data {
        c.cmd(&[b"SELECT".to_vec(), e.db.to_string().into_bytes()]);
        let payload = match c.cmd(&[b"DUMP".as_slice(), &e.key]) {
            Frame::Bulk(b) => b.to_vec(),
            other => panic!("{}", show(&other)),
        };
        let v = decode_dump(&payload).unwrap_or_else(|err| panic!("{:?}: {err:?}", e.key));
        assert_eq!(normalized(&v), normalized(&e.value), "{:?}", e.key);
    }
}

fn our_dump_is_byte_identical_to_redis(compression: bool) {
    let s = Server::redis(&["--rdbcompression", if compression { "yes" } else { "no" }]);
    let mut c = s.conn();
    config_set(&mut c, SMALL_THRESHOLDS);
    let data = dataset();
    load_with_commands(&mut c, &data);
    let opts = WriteOptions {
        compression,
        ..options_for_small()
    };
    for e in &data {
        c.cmd(&[b"SELECT".to_vec(), e.db.to_string().into_bytes()]);
        let payload = match c.cmd(&[b"DUMP".as_slice(), &e.key]) {
            Frame::Bulk(b) => b.to_vec(),
            other => panic!("{}", show(&other)),
        };
        let v = decode_dump(&payload).unwrap_or_else(|err| panic!("{:?}: {err:?}", e.key));
        assert_eq!(
            encode_dump(&v, &opts),
            payload,
            "{:?}",
            String::from_utf8_lossy(&e.key)
        );
    }
}

#[test]
fn our_dump_is_byte_identical_to_redis_without_compression() {
    our_dump_is_byte_identical_to_redis(false);
}

#[test]
fn our_dump_is_byte_identical_to_redis_with_lzf() {
    our_dump_is_byte_identical_to_redis(true);
}

#[test]
fn our_dump_payloads_restore_into_redis() {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    for opts in [WriteOptions::default(), options_for_small()] {
        for e in dataset() {
            let payload = encode_dump(&e.value, &opts);
            let mut key = b"copy:".to_vec();
            key.extend_from_slice(&e.key);
            let reply = c.cmd(&[b"RESTORE".as_slice(), &key, b"0", &payload, b"REPLACE"]);
            assert_eq!(
                reply,
                Frame::Simple("OK".into()),
                "{:?}: {}",
                e.key,
                show(&reply)
            );
            assert_eq!(
                fetch(&mut c, &key),
                Some(normalized(&e.value)),
                "{:?}",
                e.key
            );
        }
    }
}

#[test]
fn bad_payloads_fail_like_redis() {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    let good = encode_dump(
        &RdbValue::List(vec![b"a".to_vec()]),
        &WriteOptions::default(),
    );
    let mut bad_crc = good.clone();
    let last = bad_crc.len() - 1;
    bad_crc[last] ^= 1;
    let mut newer = good.clone();
    let n = newer.len();
    newer[n - 10] = 11;
    let mut bad_body = vec![ferrokv_persist_list_type(), 0x01, 0x02, 0x09];
    bad_body.extend_from_slice(&10u16.to_le_bytes());
    let crc = ferrokv_persist::rdb::crc64(&bad_body);
    bad_body.extend_from_slice(&crc.to_le_bytes());
    for payload in [bad_crc, newer, b"short".to_vec(), bad_body] {
        let theirs = c.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &payload]);
        let ours = decode_dump(&payload).expect_err("must fail");
        assert_eq!(theirs, Frame::Error(ours.to_string().into()), "{payload:?}");
    }
    let empty_set = {
        let mut p = vec![2u8, 0];
        p.extend_from_slice(&10u16.to_le_bytes());
        let crc = ferrokv_persist::rdb::crc64(&p);
        p.extend_from_slice(&crc.to_le_bytes());
        p
    };
    let theirs = c.cmd(&[b"RESTORE".as_slice(), b"k", b"0", &empty_set]);
    assert!(matches!(
        decode_dump(&empty_set),
        Err(DumpError::BadData(_))
    ));
    assert_eq!(theirs, Frame::Error("ERR Bad data format".into()));
}

fn ferrokv_persist_list_type() -> u8 {
    18
}

#[test]
fn check_rdb_tool_reports_ok_and_errors() {
    let s = Server::redis(&[]);
    let mut c = s.conn();
    load_with_commands(&mut c, &dataset());
    let (_, bytes) = save_and_read(&s, &mut c);
    let dir = tempfile::tempdir().expect("tmp");
    let good = dir.path().join("good.rdb");
    std::fs::write(&good, &bytes).expect("write");
    let bad = dir.path().join("bad.rdb");
    std::fs::write(&bad, &bytes[..bytes.len() / 2]).expect("write");
    let run = |p: &Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_ferrokv-check-rdb"))
            .arg(p)
            .output()
            .expect("run ferrokv-check-rdb")
    };
    let ok = run(&good);
    let text = String::from_utf8_lossy(&ok.stdout);
    assert!(ok.status.success(), "{text}");
    assert!(text.contains("RDB looks OK"), "{text}");
    assert!(text.contains("AUX FIELD redis-ver = '7.0.15'"), "{text}");
    assert!(
        text.contains(&format!("[info] {} keys read", dataset().len())),
        "{text}"
    );
    let broken = run(&bad);
    let text = String::from_utf8_lossy(&broken.stdout);
    assert_eq!(broken.status.code(), Some(1), "{text}");
    assert!(
        text.contains("RDB ERROR DETECTED") && text.contains("Unexpected EOF reading RDB file"),
        "{text}"
    );
}
