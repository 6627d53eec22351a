//! SCRIPT DEBUG (the Lua debugger): sessions driven over a raw connection, the
//! same against ferrokv and a real redis-server 7.0 (SYNC mode, where Redis does
//! not fork), every reply compared, up to the connection's close.

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Server};

/// One thing the debugging client does.
enum Step<'a> {
    /// A command (EVAL, or a debugger command): one reply is read.
    Cmd(&'a [&'a str]),
    /// Raw bytes: one reply is read.
    Raw(&'a [u8]),
}
use Step::{Cmd, Raw};

/// Runs `steps` on a fresh connection (after `setup` on another one); returns the
/// replies, then whatever follows until the server closes the connection (at most
/// `drain` more frames), then what `check` returns on a new connection.
fn session(port: u16, setup: &[&[&str]], steps: &[Step<'_>], check: &[&[&str]]) -> Vec<String> {
    let mut out = Vec::new();
    let mut admin = Conn::connect(port).expect("connect");
    admin.cmd(&["FLUSHALL"]);
    for c in setup {
        out.push(show(&admin.cmd(c)));
    }
    let mut c = Conn::connect(port).expect("connect");
    for s in steps {
        match s {
            Cmd(args) => c.send(args),
            Raw(bytes) => c.send_raw(bytes),
        }
        match c.read() {
            Some(f) => out.push(show(&f)),
            None => {
                out.push("<closed>".into());
                break;
            }
        }
    }
    // After the session: the final log, the EVAL's reply, then the close.
    for _ in 0..4 {
        match c.read() {
            Some(f) => out.push(show(&f)),
            None => {
                out.push("<closed>".into());
                break;
            }
        }
    }
    for cmd in check {
        out.push(show(&admin.cmd(cmd)));
    }
    out
}

fn compare(setup: &[&[&str]], steps: &[Step<'_>], check: &[&[&str]]) -> Vec<String> {
    let ferrokv = Server::ferrokv(&[]);
    let redis = Server::redis(&[]);
    let ours = session(ferrokv.port, setup, steps, check);
    let theirs = session(redis.port, setup, steps, check);
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(
            a, b,
            "reply {i} differs\nferrokv: {ours:#?}\nredis: {theirs:#?}"
        );
    }
    assert_eq!(
        ours.len(),
        theirs.len(),
        "ferrokv: {ours:#?}\nredis: {theirs:#?}"
    );
    ours
}

const SCRIPT: &str = "local a = 1
local t = {1,2,'x',{k='v'}}
redis.call('set','k2','v')
redis.debug('hi', t, a, nil, true)
redis.breakpoint()
local b = redis.call('get','k')
local function f(x)
  return x .. '!'
end
return f(b)
";

#[test]
fn a_session_steps_prints_lists_breaks_and_runs_commands_as_redis() {
    let out = compare(
        &[&["SET", "k", "v"]],
        &[
            Cmd(&["SCRIPT", "DEBUG", "sync"]),
            Cmd(&["EVAL", SCRIPT, "1", "k", "arg1"]),
            Cmd(&["help"]),
            Cmd(&["s"]),
            Cmd(&["next"]),
            Cmd(&["p"]),
            Cmd(&["print", "t"]),
            Cmd(&["p", "KEYS"]),
            Cmd(&["p", "ARGV"]),
            Cmd(&["p", "nope"]),
            Cmd(&["l"]),
            Cmd(&["list", "2", "1"]),
            Cmd(&["l", "0", "0"]),
            Cmd(&["w"]),
            Cmd(&["b"]),
            Cmd(&["b", "8"]),
            Cmd(&["break", "x", "99", "-3", "-8", "8", "2"]),
            Cmd(&["b"]),
            Cmd(&["t"]),
            Cmd(&["e", "1+1"]),
            Cmd(&["eval", "{1,", "'a'}"]),
            Cmd(&["e", "a"]),
            Cmd(&["e", "local x = "]),
            Cmd(&["r", "get", "k"]),
            Cmd(&["redis", "nosuchcommand"]),
            Cmd(&["r", "set", "k"]),
            Cmd(&["r", "hgetall", "k"]),
            Cmd(&["m"]),
            Cmd(&["maxlen", "10"]),
            Cmd(&[
                "r", "mget", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k", "k",
            ]),
            Cmd(&["m", "0"]),
            Cmd(&["bogus"]),
            Cmd(&["r"]),
            Cmd(&["s"]),
            Cmd(&["c"]),
            Cmd(&["s"]),
            Cmd(&["t"]),
            Cmd(&["c"]),
            Cmd(&["c"]),
        ],
        &[&["GET", "k2"], &["PING"]],
    );
    assert!(out.iter().any(|l| l.contains("<endsession>")), "{out:#?}");
    assert!(
        out.iter().any(|l| l.contains("redis.breakpoint() called")),
        "{out:#?}"
    );
}

#[test]
fn abort_keeps_the_changes_and_closes_the_connection() {
    compare(
        &[],
        &[
            Cmd(&["SCRIPT", "DEBUG", "SYNC"]),
            Cmd(&[
                "EVAL",
                "redis.call('set','a','1')\nredis.call('set','b','2')",
                "0",
            ]),
            Cmd(&["s"]),
            Cmd(&["abort"]),
        ],
        &[&["MGET", "a", "b"]],
    );
}

#[test]
fn hostile_debugger_input_is_refused_without_harm() {
    let mut overflow = b"*101\r\n$5\r\nredis\r\n".to_vec();
    for _ in 0..100 {
        overflow.extend_from_slice(b"$4\r\ntest\r\n");
    }
    compare(
        &[],
        &[
            Cmd(&["SCRIPT", "DEBUG", "SYNC"]),
            Cmd(&["EVAL", "return 'hello'", "0"]),
            Cmd(&["'hello\0world'"]),
            Cmd(&["\0hello\0"]),
            Raw(&overflow),
            Raw(b"*1\r\n$4\r\nhelp\r\n*1\r\n$1\r\ns"),
            Raw(b"\r\n"),
            Raw(b"garbage\r\n"),
        ],
        &[&["PING"]],
    );
    // A request of more than 1024 arguments is a protocol error too.
    compare(
        &[],
        &[
            Cmd(&["SCRIPT", "DEBUG", "SYNC"]),
            Cmd(&["EVAL", "return 1", "0"]),
            Raw(b"*1025\r\n"),
        ],
        &[&["PING"]],
    );
}

#[test]
fn script_debug_arguments_and_evalsha_as_redis() {
    compare(
        &[
            &["SCRIPT", "DEBUG", "maybe"],
            &["SCRIPT", "DEBUG"],
            &["SCRIPT", "LOAD", "return 7"],
        ],
        &[
            Cmd(&["SCRIPT", "DEBUG", "yes"]),
            Cmd(&["SCRIPT", "DEBUG", "no"]),
            Cmd(&["EVAL", "return 1", "0"]),
            Cmd(&["SCRIPT", "DEBUG", "sync"]),
            Cmd(&["EVALSHA", "abc", "0"]),
            Cmd(&["EVALSHA", "fa8d10a1e7d3e1b0b4a0e2e48d1a6b0ff1f1a3a1", "0"]),
            Cmd(&["EVALSHA", "dbb0f0b7e77b4d8fd4f8b3d0a1a0c4c7b1f0a0f1", "0"]),
            Cmd(&["PING"]),
            Cmd(&["EVAL_RO", "return 1", "0"]),
            Cmd(&["c"]),
        ],
        &[],
    );
}

#[test]
fn a_client_gone_mid_session_lets_the_script_finish() {
    for server in [Server::ferrokv(&[]), Server::redis(&[])] {
        let mut c = Conn::connect(server.port).expect("connect");
        assert_eq!(show(&c.cmd(&["SCRIPT", "DEBUG", "SYNC"])), "+OK");
        let f = c.cmd(&["EVAL", "redis.call('set','x','1')\nreturn 1", "0"]);
        assert!(matches!(f, Frame::Array(_)), "{}", show(&f));
        drop(c);
        let mut admin = Conn::connect(server.port).expect("connect");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            if show(&admin.cmd(&["GET", "x"])) == "\"1\"" {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the script did not finish"
            );
            std::thread::yield_now();
        }
    }
}
