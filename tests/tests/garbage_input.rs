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
