//! Bad input never crashes the server: random bytes, truncated and corrupted
//! requests, over many connections; afterwards the server still answers.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use ferrokv_resp::Frame;
use ferrokv_tests::Server;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};

fn valid_requests() -> Vec<Vec<u8>> {
    [
        &["SET", "k", "v"][..],
        &["GET", "k"],
        &["MSET", "a", "1", "b", "2"],
        &["INCRBYFLOAT", "f", "1.5"],
        &["SCAN", "0", "MATCH", "*[a-"],
        &["KEYS", "\\"],
        &["COMMAND", "INFO", "get"],
        &["CLIENT", "LIST"],
        &["SETRANGE", "r", "100", "x"],
        &["LCS", "a", "b", "IDX"],
        &["HELLO", "3"],
        &["CONFIG", "GET", "*"],
        &["RPUSH", "l", "a", "1", "b"],
        &["LPOS", "l", "a", "RANK", "-1", "MAXLEN", "5"],
        &["LMPOP", "2", "l", "x", "LEFT", "COUNT", "2"],
        &["BLPOP", "l", "0.01"],
        &["HSET", "h", "f", "1"],
        &["HINCRBYFLOAT", "h", "f", "1e10"],
        &["HRANDFIELD", "h", "-5", "WITHVALUES"],
        &["SADD", "s", "1", "2", "x"],
        &["SINTERCARD", "2", "s", "s", "LIMIT", "1"],
        &["SRANDMEMBER", "s", "-3"],
        &["ZADD", "z", "GT", "CH", "1.5", "a"],
        &["ZRANGE", "z", "(1", "+inf", "BYSCORE", "LIMIT", "0", "1"],
        &["ZRANGEBYLEX", "z", "[a", "(z"],
        &["ZUNIONSTORE", "d", "2", "z", "s", "WEIGHTS", "1", "2"],
        &["GEOADD", "g", "13.36", "38.11", "p"],
        &[
            "GEOSEARCH",
            "g",
            "FROMLONLAT",
            "13",
            "38",
            "BYBOX",
            "100",
            "100",
            "km",
        ],
        &["SORT", "l", "BY", "w_*", "GET", "#", "ALPHA"],
        &["DUMP", "l"],
        &["RESTORE", "n", "0", "\x0e\x01"],
    ]
    .iter()
    .map(|a| Frame::array_of_bulks(a.iter()).to_bytes().to_vec())
    .collect()
}

fn input() -> impl Strategy<Value = Vec<u8>> {
    let valid = valid_requests();
    prop::collection::vec(
        prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::sample::select(valid.clone()),
            (
                prop::sample::select(valid),
                any::<prop::sample::Index>(),
                any::<u8>()
            )
                .prop_map(|(mut v, i, b)| {
                    let at = i.index(v.len());
                    v[at] = b;
                    v
                }),
            prop::sample::select(vec![
                b"*99999999999\r\n".to_vec(),
                b"$-1\r\n".to_vec(),
                b"*1\r\n$99999999\r\n".to_vec(),
                b"\"unbalanced\r\n".to_vec(),
                b"*-5\r\n".to_vec(),
                vec![0u8; 100],
            ]),
        ],
        1..8,
    )
    .prop_map(|parts| parts.concat())
}

#[test]
fn random_bytes_never_crash_the_server() {
    let mut server = Server::ferrokv(&[]);
    let port = server.port;
    let mut runner = TestRunner::new(Config {
        cases: 300,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&input(), |bytes| {
            let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
            s.set_read_timeout(Some(Duration::from_millis(50)))
                .expect("timeout");
            let _ = s.write_all(&bytes);
            let mut sink = [0u8; 65536];
            let _ = s.read(&mut sink);
            Ok(())
        })
        .expect("runner");
    assert!(server.is_running(), "server died: {}", server.log());
    let mut c = server.conn();
    assert_eq!(c.run("PING"), Frame::simple("PONG"));
}

/// Random picks with repeats and a huge count: Redis would build the whole reply
/// until memory runs out; ferrokv refuses the count and stays up.
#[test]
fn huge_random_pick_counts_are_refused() {
    let server = ferrokv_tests::Server::ferrokv(&[]);
    let mut c = server.conn();
    c.run("SADD s a b");
    c.run("HSET h f v");
    c.run("ZADD z 1 m");
    for cmd in [
        "SRANDMEMBER s -9223372036854775807",
        "HRANDFIELD h -9223372036854775807",
        "ZRANDMEMBER z -4611686018427387903",
        "SRANDMEMBER s -100000000",
    ] {
        let r = c.run(cmd);
        assert_eq!(
            ferrokv_tests::show(&r),
            "-ERR value is out of range",
            "{cmd}"
        );
    }
    // Within the limit the reply is built as Redis builds it.
    match c.run("SRANDMEMBER s -1000") {
        ferrokv_resp::Frame::Array(items) => assert_eq!(items.len(), 1000),
        other => panic!("{other:?}"),
    }
    assert_eq!(ferrokv_tests::show(&c.run("PING")), "+PONG");
}
