//! Golden tests: ferrokv-cli and redis-cli 7.0 run with the same arguments against
//! the same redis-server must print the same bytes and exit the same way.

mod common;

use common::{same, same_env, strings, with_port, RedisServer};

/// Data covering every reply shape.
fn seed(server: &RedisServer) {
    let setup: &[&[&str]] = &[
        &["set", "str", "he\"llo\nx\\\t\u{e9}\x01"],
        &["set", "plain", "value"],
        &["rpush", "list", "a", "b", "c"],
        &["hset", "hash", "f1", "v1", "f2", "v2"],
        &["sadd", "set", "x"],
        &["zadd", "zset", "1.5", "m", "2", "n", "0.1", "o"],
        &["set", "counter", "10"],
    ];
    for cmd in setup {
        let out = server.cli(cmd);
        assert!(out.status.success(), "setup {cmd:?} failed");
    }
}

/// Commands whose replies do not change between runs.
const COMMANDS: &[&str] = &[
    "get str",
    "get plain",
    "get nokey",
    "lrange list 0 -1",
    "lrange nokey 0 -1",
    "hgetall hash",
    "hgetall nokey",
    "smembers set",
    "smembers nokey",
    "zrange zset 0 -1 withscores",
    "zscore zset o",
    "get counter",
    "exists str list",
    "ping",
    "echo x",
    "foo bar",
    "exec",
    "incr str",
    "command docs get",
    "command info get",
    "debug protocol string",
    "debug protocol integer",
    "debug protocol double",
    "debug protocol bignum",
    "debug protocol null",
    "debug protocol array",
    "debug protocol set",
    "debug protocol map",
    "debug protocol attrib",
    "debug protocol push",
    "debug protocol verbatim",
    "debug protocol true",
    "debug protocol false",
    "eval {return{1,redis.error_reply('x'),{},{'a',{'b'}}}} 0",
    "info keyspace",
    "memory doctor",
];

fn every_command_in(server: &RedisServer, mode: &[&str]) {
    for cmd in COMMANDS {
        let mut args: Vec<&str> = mode.to_vec();
        args.extend(cmd.split(' '));
        same(&with_port(server, &args), b"");
    }
}

#[test]
fn reply_types_raw_resp2_and_resp3() {
    let server = RedisServer::start();
    seed(&server);
    every_command_in(&server, &[]);
    every_command_in(&server, &["-3"]);
    every_command_in(&server, &["-2", "--raw"]);
}

#[test]
fn reply_types_formatted_resp2_and_resp3() {
    let server = RedisServer::start();
    seed(&server);
    every_command_in(&server, &["--no-raw"]);
    every_command_in(&server, &["-3", "--no-raw"]);
}

#[test]
fn reply_types_csv_json_quoted_json() {
    let server = RedisServer::start();
    seed(&server);
    every_command_in(&server, &["--csv"]);
    every_command_in(&server, &["-3", "--csv"]);
    every_command_in(&server, &["--json"]);
    every_command_in(&server, &["-2", "--json"]);
    every_command_in(&server, &["--quoted-json"]);
    every_command_in(&server, &["-2", "--quoted-json"]);
}

#[test]
fn exit_on_error_flag() {
    let server = RedisServer::start();
    seed(&server);
    for mode in [
        &["-e"][..],
        &["-e", "--no-raw"],
        &["-e", "--csv"],
        &["-e", "-3"],
    ] {
        for cmd in ["foo", "ping", "incr str"] {
            let mut args = mode.to_vec();
            args.extend(cmd.split(' '));
            same(&with_port(&server, &args), b"");
        }
    }
}

#[test]
fn repeat_and_delimiters() {
    let server = RedisServer::start();
    seed(&server);
    for args in [
        &["-r", "3", "echo", "x"][..],
        &["-r", "2", "lrange", "list", "0", "-1"],
        &["-r", "2", "-d", ":", "lrange", "list", "0", "-1"],
        &["-D", "|", "-r", "2", "lrange", "list", "0", "-1"],
        &["-r", "2", "--no-raw", "hgetall", "hash"],
        &["-r", "2", "-i", "0.01", "ping"],
        &["-r", "0", "ping"],
        &["-r", "3", "foo"],
        &["-n", "1", "dbsize"],
        &["-d", "\\t", "lrange", "list", "0", "-1"],
    ] {
        same(&with_port(&server, args), b"");
    }
}

#[test]
fn stdin_argument_and_script() {
    let server = RedisServer::start();
    same(
        &with_port(&server, &["-x", "set", "k"]),
        b"from\nstdin\x00bytes",
    );
    same(&with_port(&server, &["--no-raw", "get", "k"]), b"");
    same(&with_port(&server, &["-x", "set", "k", "extra"]), b"v");
    same(
        &with_port(&server, &["-X", "TAG", "set", "k2", "TAG"]),
        b"tagged",
    );
    same(&with_port(&server, &["get", "k2"]), b"");
    let script = b"set a \"b c\"\nget a\n\nincr a\n  get   a  \nset q \"unbal\nset q 'it\\'s'\nget q\nping\n";
    same(&with_port(&server, &[]), script);
    same(&with_port(&server, &["--no-raw"]), script);
    same(
        &with_port(&server, &["--quoted-input", "set", "\"q\\x00x\"", "'v'"]),
        b"",
    );
    same(
        &with_port(&server, &["--no-raw", "get", "q\0x"])
            .into_iter()
            .take(3)
            .collect::<Vec<_>>(),
        b"",
    );
}

#[test]
fn pipe_mode() {
    let server = RedisServer::start();
    let mut input = Vec::new();
    for i in 0..2000 {
        let k = format!("key:{i}");
        input.extend_from_slice(
            format!("*3\r\n$3\r\nSET\r\n${}\r\n{}\r\n$1\r\nv\r\n", k.len(), k).as_bytes(),
        );
    }
    same(&with_port(&server, &["--pipe"]), &input);
    same(&with_port(&server, &["dbsize"]), b"");
    let bad = b"*1\r\n$4\r\nPING\r\n*1\r\n$3\r\nFOO\r\n*2\r\n$3\r\nGET\r\n$7\r\nkey:100\r\n";
    same(&with_port(&server, &["--pipe"]), bad);
    same(&with_port(&server, &["--pipe"]), b"");
}

#[test]
fn scan_mode() {
    let server = RedisServer::start();
    for i in 0..300 {
        server.cli(&["set", &format!("key:{i}"), "v"]);
    }
    server.cli(&["set", "other", "v"]);
    server.cli(&["set", "we\"ird\n", "v"]);
    same(&with_port(&server, &["--scan"]), b"");
    same(&with_port(&server, &["--scan", "--pattern", "key:1*"]), b"");
    same(
        &with_port(&server, &["--scan", "--no-raw", "--pattern", "we*"]),
        b"",
    );
    same(
        &with_port(&server, &["--scan", "--quoted-pattern", "\"oth*\""]),
        b"",
    );
}

#[test]
fn eval_file() {
    let server = RedisServer::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("s.lua");
    std::fs::write(&file, "return {KEYS[1], KEYS[2], ARGV[1], #ARGV}").expect("write script");
    let f = file.to_string_lossy().into_owned();
    same(
        &with_port(&server, &["--eval", &f, "k1", "k2", ",", "a1", "a2"]),
        b"",
    );
    same(&with_port(&server, &["--no-raw", "--eval", &f, "k1"]), b"");
    same(&with_port(&server, &["--eval", "/nonexistent.lua"]), b"");
}

#[test]
fn auth_and_uri() {
    let server = RedisServer::start_with(&["--requirepass", "s3cret"]);
    same(&with_port(&server, &["-a", "s3cret", "ping"]), b"");
    same(
        &with_port(&server, &["--no-auth-warning", "--pass", "s3cret", "ping"]),
        b"",
    );
    same(&with_port(&server, &["-a", "wrong", "ping"]), b"");
    same(&with_port(&server, &["ping"]), b"");
    same_env(
        &with_port(&server, &["ping"]),
        b"",
        &[("REDISCLI_AUTH", "s3cret")],
    );
    let uri = format!("redis://:s3cret@127.0.0.1:{}/3", server.port);
    same(&strings(&["-u", &uri]), b"");
    same(&strings(&["-u", &uri, "set", "k", "v"]), b"");
    same(&strings(&["-u", &uri, "--no-raw", "dbsize"]), b"");
    let user_uri = format!("redis://default:s3cret@127.0.0.1:{}", server.port);
    same(
        &strings(&["-u", &user_uri, "--user", "default", "ping"]),
        b"",
    );
}

#[test]
fn bad_input() {
    let server = RedisServer::start();
    for args in [
        &["--foo"][..],
        &["-p"],
        &["-z", "ping"],
        &["-2", "-3", "ping"],
        &["-u", "http://x", "ping"],
        &["-p", "1", "ping"],
        &["-h", "nosuchhost.invalid", "ping"],
        &["-s", "/nonexistent/sock", "ping"],
        &["--pipe-timeout"],
        &["-r"],
    ] {
        same(&strings(args), b"");
    }
    same(&with_port(&server, &["-n", "100000", "ping"]), b"");
    same(
        &with_port(&server, &["--quoted-input", "set", "\"unbalanced", "v"]),
        b"",
    );
}

#[test]
fn shutdown_and_quit() {
    let server = RedisServer::start();
    same(&with_port(&server, &[]), b"ping\nquit\nping\n");
    same(&with_port(&server, &["quit"]), b"");
    let doomed = RedisServer::start();
    let args = with_port(&doomed, &["shutdown", "nosave"]);
    let got = common::run(common::FERROKV_CLI, &args, b"", &[]);
    assert_eq!(
        (got.status.code(), got.stdout.len(), got.stderr.len()),
        (Some(0), 0, 0)
    );
}

#[test]
fn stdin_script_ignores_repeat_and_exit_on_error() {
    let server = RedisServer::start();
    same(&with_port(&server, &["-r", "2"]), b"ping\n");
    same(&with_port(&server, &["-e"]), b"foo\nping\n");
    same(&with_port(&server, &["--askpass", "ping"]), b"pw\n");
    same(
        &with_port(&server, &["--show-pushes", "maybe", "ping"]),
        b"",
    );
    let uri = format!("redis://user@127.0.0.1:{}", server.port);
    same(&strings(&["-u", &uri, "ping"]), b"");
}

#[test]
fn unix_socket() {
    let dir = tempfile::tempdir().expect("temp dir");
    let sock = dir.path().join("redis.sock").to_string_lossy().into_owned();
    let _server = RedisServer::start_with(&["--unixsocket", &sock]);
    // The server also listens on TCP (the helper polls that); wait for the socket.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !common::exists(&sock) {
        assert!(std::time::Instant::now() < deadline, "no unix socket");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    same(&strings(&["-s", &sock, "ping"]), b"");
    same(
        &strings(&["-s", &sock, "-n", "2", "--no-raw", "dbsize"]),
        b"",
    );
    same(&strings(&["-s", &format!("{sock}.missing"), "ping"]), b"");
}
