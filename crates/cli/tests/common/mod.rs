//! Test helpers: a throwaway redis-server, and running redis-cli and ferrokv-cli side
//! by side.
#![allow(dead_code)]

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A redis-server on a free loopback port in its own temp dir, killed on drop.
pub struct RedisServer {
    pub port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port")
}

impl RedisServer {
    pub fn start() -> RedisServer {
        RedisServer::start_with(&[])
    }

    pub fn start_with(extra: &[&str]) -> RedisServer {
        // A port can be taken between probing and binding; retry a few times.
        for _ in 0..5 {
            if let Some(s) = RedisServer::try_start(free_port(), extra) {
                return s;
            }
        }
        panic!("redis-server did not start");
    }

    /// A server on a given port (to test reconnecting), waiting for the port to free.
    pub fn start_on(port: u16) -> RedisServer {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(s) = RedisServer::try_start(port, &[]) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on {port}"
            );
        }
    }

    fn try_start(port: u16, extra: &[&str]) -> Option<RedisServer> {
        {
            let dir = tempfile::tempdir().expect("temp dir");
            let mut cmd = Command::new("redis-server");
            cmd.args([
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .args(["--enable-debug-command", "yes", "--dir"])
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null());
            let mut child = cmd.spawn().expect("redis-server must be installed");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    break;
                }
                if ping(port) {
                    return Some(RedisServer {
                        port,
                        child,
                        _dir: dir,
                    });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        None
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    /// Runs a command through redis-cli (setup for a test, not under test).
    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new("redis-cli")
            .args(["-p", &self.port_arg()])
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli must be installed")
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(port: u16) -> bool {
    use std::io::Read;
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\n").is_err() {
        return false;
    }
    // Any reply means it is serving (with requirepass it is a NOAUTH error).
    let mut buf = [0u8; 1];
    s.read_exact(&mut buf).is_ok() && (buf[0] == b'+' || buf[0] == b'-')
}

pub const FERROKV_CLI: &str = env!("CARGO_BIN_EXE_ferrokv-cli");

pub fn run(program: &str, args: &[String], stdin: &[u8], env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .env_remove("REDISCLI_AUTH")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    if let Some(mut si) = child.stdin.take() {
        let _ = si.write_all(stdin);
    }
    child.wait_with_output().expect("wait")
}

/// Runs both clients with the same arguments and stdin and asserts the same stdout,
/// stderr and exit status.
pub fn same(args: &[String], stdin: &[u8]) {
    same_env(args, stdin, &[])
}

pub fn same_env(args: &[String], stdin: &[u8], env: &[(&str, &str)]) {
    let want = run("redis-cli", args, stdin, env);
    let got = run(FERROKV_CLI, args, stdin, env);
    let show = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    assert_eq!(
        show(&got.stdout),
        show(&want.stdout),
        "stdout differs for {args:?}"
    );
    assert_eq!(
        show(&got.stderr),
        show(&want.stderr),
        "stderr differs for {args:?}"
    );
    assert_eq!(
        got.status.code(),
        want.status.code(),
        "exit code differs for {args:?}"
    );
}

/// `args` as owned strings, after `-p <port>` of `server`.
pub fn with_port(server: &RedisServer, args: &[&str]) -> Vec<String> {
    let mut v = vec!["-p".to_string(), server.port_arg()];
    v.extend(args.iter().map(|s| s.to_string()));
    v
}

pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

pub fn exists(p: &str) -> bool {
    Path::new(p).exists()
}

/// Three redis-server nodes forming a cluster, slots split evenly.
pub fn cluster() -> Vec<RedisServer> {
    let nodes: Vec<RedisServer> = (0..3)
        .map(|_| {
            RedisServer::start_with(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
            ])
        })
        .collect();
    let ranges = [("0", "5460"), ("5461", "10922"), ("10923", "16383")];
    for (node, (from, to)) in nodes.iter().zip(ranges) {
        assert!(node
            .cli(&["cluster", "addslotsrange", from, to])
            .status
            .success());
    }
    for node in &nodes[1..] {
        nodes[0].cli(&["cluster", "meet", "127.0.0.1", &node.port_arg()]);
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    for node in &nodes {
        loop {
            let info = String::from_utf8_lossy(&node.cli(&["cluster", "info"]).stdout).into_owned();
            if info.contains("cluster_state:ok") && info.contains("cluster_known_nodes:3") {
                break;
            }
            assert!(Instant::now() < deadline, "cluster did not form: {info}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    nodes
}
