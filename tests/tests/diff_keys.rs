//! Differential tests: generic key commands, expiry, databases.

use ferrokv_resp::Frame;
use ferrokv_tests::{sorted, Diff};

#[test]
fn del_exists_type_rename() {
    let mut d = Diff::new();
    d.script(
        "
        SET a 1
        SET b 2
        EXISTS a b c a
        TYPE a
        TYPE nokey
        DEL a c
        DEL a
        UNLINK b
        EXISTS a b
        SET a 1
        RENAME a b
        GET b
        RENAME nokey x
        RENAME b b
        RENAMENX b b
        SET c 3
        RENAMENX b c
        RENAMENX b d
        GET d
        SET e 5
        EXPIRE e 100
        RENAME e f
        TTL f
        COPY f g
        TTL g
        COPY f g
        COPY f g REPLACE
        COPY f f
        COPY nokey z
        COPY f h DB 1
        COPY f h DB 99
        COPY f h DB x
        COPY f h FOO
        SELECT 1
        GET h
        TTL h
        SELECT 0
        MOVE f 1
        MOVE f 1
        MOVE g 0
        MOVE g 99
        MOVE g x
        SELECT 1
        GET f
        SELECT 16
        SELECT -1
        SELECT x
        ",
    );
}

#[test]
fn expire_family() {
    let mut d = Diff::new();
    d.script(
        "
        SET k v
        TTL k
        PTTL k
        EXPIRETIME k
        TTL nokey
        PTTL nokey
        EXPIRE k 100
        TTL k
        EXPIRE k 50 NX
        EXPIRE k 50 XX
        TTL k
        EXPIRE k 10 GT
        EXPIRE k 1000 GT
        TTL k
        EXPIRE k 2000 LT
        EXPIRE k 20 LT
        TTL k
        EXPIRE k 1 NX XX
        EXPIRE k 1 GT LT
        EXPIRE k 1 FOO
        EXPIRE k abc
        EXPIRE k 9223372036854775807
        PEXPIRE k 9223372036854775807
        EXPIREAT k 99999999999
        EXPIRETIME k
        PEXPIREAT k 99999999999000
        PEXPIRETIME k
        PERSIST k
        PERSIST k
        TTL k
        SET p v
        EXPIRE p 10 XX
        EXPIRE p 10 GT
        EXPIRE p 10 LT
        TTL p
        EXPIRE p -1
        EXISTS p
        SET q v
        PEXPIREAT q 1
        EXISTS q
        EXPIRE nokey 10
        PERSIST nokey
        ",
    );
}

#[test]
fn expired_keys_are_invisible() {
    let mut d = Diff::new();
    d.line("SET k v PX 50");
    d.line("SET keep v");
    std::thread::sleep(std::time::Duration::from_millis(120));
    d.script(
        "
        GET k
        EXISTS k
        TTL k
        TYPE k
        DBSIZE
        ",
    );
    d.check_sorted(&["KEYS", "*"]);
}

#[test]
fn keys_patterns_and_dbsize() {
    let mut d = Diff::new();
    for k in [
        "hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo", "h?llo", "h[a]llo", "a\\b", "",
        "HELLO",
    ] {
        d.check(&["SET", k, "1"]);
    }
    for p in [
        "*",
        "h?llo",
        "h*llo",
        "h[ae]llo",
        "h[^e]llo",
        "h[a-b]llo",
        "h[b-a]llo",
        "h\\*llo",
        "*\\\\*",
        "**",
        "h[",
        "[",
        "\\",
        "HELLO",
        "?",
        "",
    ] {
        d.check_sorted(&["KEYS", p]);
    }
    d.line("DBSIZE");
    d.line("FLUSHDB");
    d.line("DBSIZE");
    d.line("FLUSHALL ASYNC");
    d.line("FLUSHALL SYNC");
    d.line("FLUSHALL FOO");
}

#[test]
fn swapdb_and_touch() {
    let mut d = Diff::new();
    d.script(
        "
        SET a 0
        SELECT 1
        SET a 1
        SET b 1
        SWAPDB 0 1
        DBSIZE
        GET a
        SELECT 0
        DBSIZE
        GET a
        SWAPDB 0 16
        SWAPDB x 0
        SWAPDB 0 x
        SWAPDB 0 0
        TOUCH a b nokey
        DEL b
        RANDOMKEY
        FLUSHALL
        RANDOMKEY
        ",
    );
}

/// Collects every key a full SCAN returns.
fn scan_all(c: &mut ferrokv_tests::Conn, extra: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut keys = Vec::new();
    loop {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(extra);
        let reply = c.cmd(&args);
        let Frame::Array(parts) = reply else {
            panic!("bad SCAN reply {reply:?}")
        };
        let Frame::Bulk(next) = &parts[0] else {
            panic!("bad cursor")
        };
        if let Frame::Array(found) = &parts[1] {
            for f in found {
                keys.push(String::from_utf8_lossy(f.as_bytes().unwrap_or_default()).into_owned());
            }
        }
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    keys
}

#[test]
fn scan_returns_the_same_keys() {
    let mut d = Diff::new();
    for i in 0..300 {
        d.check(&["SET", &format!("key:{i}"), "v"]);
    }
    d.check(&["SET", "other", "v"]);
    for extra in [
        &[][..],
        &["COUNT", "7"],
        &["MATCH", "key:1*"],
        &["TYPE", "string"],
        &["TYPE", "list"],
        &["MATCH", "o*", "COUNT", "1000"],
    ] {
        assert_eq!(
            scan_all(&mut d.ours, extra),
            scan_all(&mut d.theirs, extra),
            "SCAN {extra:?}"
        );
    }
    d.line("SCAN x");
    d.line("SCAN 0 COUNT 0");
    d.line("SCAN 0 COUNT x");
    d.line("SCAN 0 FOO bar");
    d.line("SCAN 0 MATCH");
}

#[test]
fn scan_guarantee_under_concurrent_growth() {
    let server = ferrokv_tests::Server::ferrokv(&[]);
    let mut c = server.conn();
    let mut writer = server.conn();
    for i in 0..2000 {
        c.send(&["SET", &format!("stay:{i}"), "v"]);
    }
    for _ in 0..2000 {
        c.read();
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    let mut round = 0;
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "50"]);
        let Frame::Array(parts) = reply else { panic!() };
        if let Frame::Array(found) = &parts[1] {
            for f in found {
                seen.insert(f.as_bytes().unwrap_or_default().to_vec());
            }
        }
        // Grow and shrink the keyspace between SCAN calls.
        round += 1;
        for j in 0..200 {
            let key = format!("tmp:{round}:{j}");
            if round % 2 == 0 {
                writer.send(&["SET", key.as_str(), "v"]);
            } else {
                writer.send(&["DEL", &format!("tmp:{}:{j}", round - 1)]);
            }
        }
        for _ in 0..200 {
            writer.read();
        }
        cursor = String::from_utf8_lossy(parts[0].as_bytes().unwrap_or_default()).into_owned();
        if cursor == "0" {
            break;
        }
    }
    for i in 0..2000 {
        assert!(
            seen.contains(format!("stay:{i}").as_bytes()),
            "SCAN missed stay:{i}"
        );
    }
}

#[test]
fn resp3_replies() {
    let mut d = Diff::new();
    // HELLO's reply carries the connection id, which differs; compare the rest.
    let strip_id = |f: Frame| match f {
        Frame::Map(pairs) => Frame::Map(
            pairs
                .into_iter()
                .filter(|(k, _)| k.as_bytes() != Some(b"id"))
                .collect(),
        ),
        other => other,
    };
    assert_eq!(
        strip_id(d.ours.run("HELLO 3 SETNAME x")),
        strip_id(d.theirs.run("HELLO 3 SETNAME x"))
    );
    d.script(
        "
        SET a 1
        GET a
        GET nokey
        MGET a nokey
        INCRBYFLOAT f 1.5
        TTL a
        TYPE a
        OBJECT ENCODING nokey
        CONFIG GET maxmemory
        LCS a a IDX
        ",
    );
    assert_eq!(
        scan_all(&mut d.ours, &["COUNT", "100"]),
        scan_all(&mut d.theirs, &["COUNT", "100"])
    );
    let a = sorted(d.ours.run("KEYS *"));
    let b = sorted(d.theirs.run("KEYS *"));
    assert_eq!(a, b);
}

#[test]
fn object_freq_and_idletime_follow_the_policy() {
    let mut d = Diff::new();
    d.script(
        "
        SET k v
        OBJECT IDLETIME k
        OBJECT FREQ k
        CONFIG SET maxmemory-policy allkeys-lfu
        SET f v
        OBJECT FREQ f
        OBJECT IDLETIME f
        CONFIG SET maxmemory-policy noeviction
        ",
    );
    // The LFU counter grows logarithmically with accesses.
    let ours = ferrokv_tests::Server::ferrokv(&["--maxmemory-policy", "allkeys-lfu"]);
    let mut c = ours.conn();
    c.run("SET f v");
    for _ in 0..200 {
        c.run("GET f");
    }
    let Frame::Integer(freq) = c.run("OBJECT FREQ f") else {
        panic!()
    };
    assert!((6..40).contains(&freq), "freq {freq}");
}

/// MEMORY USAGE: Redis's argument errors and nil for a missing key; a positive
/// size for every type and encoding, growing with the value (sizes themselves
/// differ from Redis's by design: ferrokv's layouts are smaller).
#[test]
fn memory_usage_arguments_and_sizes() {
    let mut d = Diff::new();
    d.script(
        "
        FLUSHALL
        MEMORY USAGE nosuch
        SET s v
        MEMORY USAGE s SAMPLES
        MEMORY USAGE s SAMPLES -1
        MEMORY USAGE s SAMPLES x
        MEMORY USAGE s BOGUS 1
        MEMORY USAGE
        ",
    );
    let setup = [
        "SET str hello",
        "SET int 12345",
        "RPUSH list a b c",
        "HSET hash f v",
        "SADD iset 1 2 3",
        "SADD set a b c",
        "ZADD zset 1 a",
    ];
    for l in setup {
        d.line(l);
    }
    let size = |c: &mut ferrokv_tests::Conn, line: &str| match c.run(line) {
        ferrokv_resp::Frame::Integer(n) => n,
        other => panic!("{line}: {other:?}"),
    };
    for key in ["str", "int", "list", "hash", "iset", "set", "zset"] {
        assert!(
            size(&mut d.ours, &format!("MEMORY USAGE {key}")) > 0,
            "{key}"
        );
    }
    // A large hash: estimated from samples, exact with SAMPLES 0, both grow with it.
    let mut big = vec!["HSET".to_string(), "big".to_string()];
    for i in 0..2000 {
        big.push(format!("field{i}"));
        big.push("x".repeat(100));
    }
    d.ours.cmd(&big);
    let small = size(&mut d.ours, "MEMORY USAGE hash");
    let sampled = size(&mut d.ours, "MEMORY USAGE big");
    let exact = size(&mut d.ours, "MEMORY USAGE big SAMPLES 0");
    assert!(
        sampled > 2000 * 100 && exact > 2000 * 100,
        "{sampled} {exact}"
    );
    assert!(sampled > small * 100);
    let ratio = sampled as f64 / exact as f64;
    assert!((0.8..1.25).contains(&ratio), "{sampled} vs {exact}");
}

/// Db indexes are C ints in Redis: past them the reply is getIntFromObject's range
/// error (SWAPDB's own message), before any other check.
#[test]
fn db_index_arguments() {
    let mut d = Diff::new();
    d.script(
        "
        SET k v
        SELECT 2147483648
        SELECT -2147483649
        SELECT 9223372036854775807
        SELECT 16
        SELECT -1
        SELECT abc
        SELECT 1.5
        MOVE k 2147483648
        MOVE k -9223372036854775808
        MOVE k abc
        MOVE k 16
        MOVE k 0
        MOVE missing 2147483648
        COPY k k2 DB 2147483648
        COPY k k2 DB abc
        COPY k k2 DB 16
        COPY k k2 DB -1
        COPY k k2 DB 1 FOO
        COPY k k2 FOO DB abc
        COPY k k2 DB abc FOO
        COPY k k2 DB
        COPY k k DB 0
        SWAPDB 2147483648 0
        SWAPDB 0 2147483648
        SWAPDB abc 99999999999
        SWAPDB 99999999999 abc
        SWAPDB 16 abc
        SWAPDB 0 -1
        ",
    );
}

/// SCAN cursors are read with strtoul: an empty one is 0, a lone sign is not.
#[test]
fn scan_cursor_forms() {
    let mut d = Diff::new();
    d.line("SET k v");
    d.check(&["SCAN", ""]);
    d.check(&["SCAN", "", "COUNT", "100"]);
    for bad in ["-", "+", " 1", "1 ", "1.5", "0x1", "18446744073709551616"] {
        d.check(&["SCAN", bad]);
    }
    d.check(&["SCAN", "+0"]);
    d.check(&["SCAN", "18446744073709551615", "COUNT", "abc"]);
}

/// Expired keys SCAN and RANDOMKEY come across are deleted (Redis's
/// expireIfNeeded in their filter): DBSIZE, which counts keys not yet reclaimed,
/// drops to 0 on both servers.
#[test]
fn scan_and_randomkey_delete_the_expired_keys_they_meet() {
    let mut d = Diff::with_args(&["--enable-debug-command", "yes"]);
    d.line("DEBUG SET-ACTIVE-EXPIRE 0");
    for probe in ["SCAN 0", "RANDOMKEY"] {
        d.line("SET foo1 bar PX 1");
        d.line("SET foo2 bar PX 1");
        std::thread::sleep(std::time::Duration::from_millis(5));
        d.line("DBSIZE");
        d.line(probe);
        d.line("DBSIZE");
    }
    d.line("DEBUG SET-ACTIVE-EXPIRE 1");
}
