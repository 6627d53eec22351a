//! ACL users and connection limits seen from clients, on ferrokv and redis-server
//! alike: protected mode, maxclients, clients disconnected when their user is
//! deleted, loses channel permissions or the ACL file is reloaded, CLIENT LIST's
//! `user=` and CLIENT KILL USER.

use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use ferrokv_resp::Frame;
use ferrokv_tests::{show, Conn, Kind, Server};

fn both(extra: &[&str], f: impl Fn(&Server)) {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let s = Server::start(kind, extra);
        f(&s);
    }
}

fn text(f: &Frame) -> String {
    match f {
        Frame::Bulk(b) | Frame::Simple(b) | Frame::Error(b) => {
            String::from_utf8_lossy(b).into_owned()
        }
        other => show(other),
    }
}

/// Whether the server closed `c` (polled with a deadline).
fn closed(c: &mut Conn) -> bool {
    c.try_send(&["PING"]).is_err() || c.read().is_none()
}

/// Reads what the server writes on a fresh connection from `from` until it
/// closes (or goes quiet).
fn first_words(from: IpAddr, port: u16, send: &[u8]) -> Vec<u8> {
    let sock =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    sock.bind(&SocketAddr::new(from, 0).into()).expect("bind");
    sock.connect(&SocketAddr::new(from, port).into())
        .expect("connect");
    let mut s: TcpStream = sock.into();
    s.set_read_timeout(Some(Duration::from_millis(500)))
        .expect("timeout");
    let _ = s.write_all(send);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    while let Ok(n) = s.read(&mut buf) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    out
}

/// A non-loopback IPv4 address of this machine, if it has one.
fn non_loopback() -> Option<IpAddr> {
    let u = UdpSocket::bind("0.0.0.0:0").ok()?;
    u.connect("192.0.2.200:9").ok()?;
    let ip = u.local_addr().ok()?.ip();
    (!ip.is_loopback() && !ip.is_unspecified()).then_some(ip)
}

#[test]
fn protected_mode_refuses_non_loopback_clients_without_a_password() {
    let Some(ip) = non_loopback() else {
        eprintln!("no non-loopback address: skipped");
        return;
    };
    let mut all = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let s = Server::start(kind, &["--bind", "0.0.0.0", "--protected-mode", "yes"]);
        let denied = first_words(ip, s.port, b"PING\r\n");
        let mut c = s.conn();
        c.cmd(&["ACL", "SETUSER", "default", ">pw"]);
        let with_password = first_words(ip, s.port, b"PING\r\n");
        let local = first_words("127.0.0.1".parse().unwrap(), s.port, b"AUTH pw\r\nPING\r\n");
        all.push((denied, with_password, local));
    }
    let ours = &all[0];
    assert!(
        String::from_utf8_lossy(&ours.0).starts_with("-DENIED Redis is running in protected mode")
    );
    assert_eq!(ours.1, b"-NOAUTH Authentication required.\r\n");
    assert_eq!(ours.2, b"+OK\r\n+PONG\r\n");
    assert_eq!(all[0], all[1], "ferrokv and redis-server differ");
}

#[test]
fn maxclients_refuses_with_redis_text_and_keeps_serving() {
    let mut results = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let s = Server::start(kind, &["--maxclients", "3"]);
        // The harness's readiness probe may not be gone yet: connect until served.
        let mut keep: Vec<Conn> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        while keep.len() < 3 {
            assert!(Instant::now() < deadline, "{kind:?}: 3 clients not served");
            let mut c = s.conn();
            let served =
                c.try_send(&["PING"]).is_ok() && c.read().is_some_and(|r| text(&r) == "PONG");
            if served {
                keep.push(c);
            } else {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let refused = first_words("127.0.0.1".parse().unwrap(), s.port, b"PING\r\n");
        // The others keep being served; a freed slot is usable again.
        assert_eq!(text(&keep[0].cmd(&["SET", "k", "v"])), "OK");
        keep.pop();
        let again = ferrokv_tests::eventually(Duration::from_secs(10), || {
            first_words("127.0.0.1".parse().unwrap(), s.port, b"PING\r\n") == b"+PONG\r\n"
        });
        results.push((refused, again));
    }
    assert_eq!(results[0].0, b"-ERR max number of clients reached\r\n");
    assert!(results[0].1);
    assert_eq!(results[0], results[1]);
}

#[test]
fn deleted_users_and_revoked_channels_disconnect_clients() {
    both(&[], |s| {
        let mut admin = s.conn();
        admin.run("ACL SETUSER bob on >pw +@all ~* &news*");
        // DELUSER: bob's other connections close; the caller gets its reply first.
        let mut b1 = s.conn();
        assert_eq!(text(&b1.run("AUTH bob pw")), "OK");
        assert_eq!(text(&b1.run("CLIENT SETNAME b1")), "OK");
        let list = text(&admin.run("CLIENT LIST"));
        assert!(
            list.contains("name=b1") && list.contains("user=bob"),
            "{list}"
        );
        let mut b2 = s.conn();
        b2.run("AUTH bob pw");
        assert_eq!(b2.run("ACL DELUSER bob"), Frame::Integer(1));
        assert!(closed(&mut b2), "{:?}: the caller stays", s.kind);
        assert!(
            ferrokv_tests::eventually(Duration::from_secs(10), || closed(&mut b1)),
            "{:?}: b1 stays",
            s.kind
        );
        assert!(!text(&admin.run("CLIENT LIST")).contains("name=b1"));
        // Subscribers lose a channel: killed before the SETUSER reply.
        admin.run("ACL SETUSER sub on >pw +@all &news* &sport");
        let mut s1 = s.conn();
        s1.run("AUTH sub pw");
        s1.run("CLIENT SETNAME s1");
        s1.run("SUBSCRIBE news.a");
        admin.run("ACL SETUSER sub &weather");
        assert!(text(&admin.run("CLIENT LIST")).contains("name=s1"));
        admin.run("ACL SETUSER sub resetchannels &sport");
        assert!(!text(&admin.run("CLIENT LIST")).contains("name=s1"));
        // CLIENT KILL USER.
        admin.run("ACL SETUSER carl on nopass +@all");
        let mut c1 = s.conn();
        c1.run("AUTH carl x");
        assert_eq!(admin.run("CLIENT KILL USER carl"), Frame::Integer(1));
        assert_eq!(
            text(&admin.run("CLIENT KILL USER nosuch")),
            "ERR No such user 'nosuch'"
        );
        assert!(ferrokv_tests::eventually(Duration::from_secs(10), || {
            closed(&mut c1)
        }));
    });
}

#[test]
fn acl_file_load_save_and_config_users() {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("users.acl");
        std::fs::write(
            &file,
            "user alice on >a ~* &* +@all\nuser default on nopass ~* &* +@all\n",
        )
        .expect("write");
        let path = file.to_string_lossy().into_owned();
        let s = Server::start(kind, &["--aclfile", &path]);
        let mut admin = s.conn();
        let mut a = s.conn();
        assert_eq!(text(&a.run("AUTH alice a")), "OK");
        admin.run("ACL SETUSER eve on >e +get ~*");
        assert_eq!(text(&admin.run("ACL SAVE")), "OK");
        let saved = std::fs::read_to_string(&file).expect("read");
        assert!(saved.contains("user eve on #"), "{saved}");
        // LOAD disconnects every non-default user's clients.
        assert_eq!(text(&admin.run("ACL LOAD")), "OK");
        assert!(ferrokv_tests::eventually(Duration::from_secs(10), || {
            closed(&mut a)
        }));
        let mut e = s.conn();
        assert_eq!(text(&e.run("AUTH eve e")), "OK");
        assert!(text(&e.run("SET k v")).starts_with("NOPERM"));
        // A broken file changes nothing.
        std::fs::write(&file, "user alice on\nuser alice off\nbogus\n").expect("write");
        let err = text(&admin.run("ACL LOAD"));
        assert!(err.contains("Duplicate user 'alice' found"), "{err}");
        assert!(err.contains("should start with user keyword"), "{err}");
        assert!(!text(&e.run("GET k")).starts_with("NOPERM"));
    }
    // `user` lines of the config file.
    let users = [
        "--user", "default", "on", "nopass", "~*", "+@all", "-flushdb", "--user", "x", "on", ">p",
        "+ping",
    ];
    both(&users, |s| {
        let mut c = s.conn();
        assert_eq!(
            text(&c.run("FLUSHDB")),
            "NOPERM this user has no permissions to run the 'flushdb' command"
        );
        assert!(text(&c.run("SUBSCRIBE ch")).starts_with("NOPERM"));
        assert_eq!(text(&c.run("AUTH x p")), "OK");
        assert_eq!(text(&c.run("PING")), "PONG");
    });
}

#[test]
fn rename_command_in_the_config() {
    let mut replies = Vec::new();
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let s = Server::start(
            kind,
            &[
                "--rename-command",
                "get",
                "fetch",
                "--rename-command",
                "flushdb",
                "",
            ],
        );
        let mut c = s.conn();
        let mut got = Vec::new();
        for line in [
            "SET a 1",
            "FETCH a",
            "GET a",
            "FLUSHDB",
            "ACL DRYRUN default GET a",
        ] {
            got.push(show(&c.run(line)));
        }
        replies.push(got);
    }
    assert_eq!(replies[0], replies[1]);
}

#[test]
fn aof_replay_ignores_the_acl_of_the_default_user() {
    for kind in [Kind::Ferrokv, Kind::Redis] {
        let dir = tempfile::tempdir().expect("dir");
        let d = dir.path().to_string_lossy().into_owned();
        let mut first = Server::start(kind, &["--appendonly", "yes", "--dir", &d]);
        let mut c = first.conn();
        for line in ["SET a 1", "FLUSHDB", "SET b 2"] {
            c.run(line);
        }
        c.send(&["SHUTDOWN"]);
        assert!(first.wait_exit(Duration::from_secs(20)).is_some());
        let users = [
            "--appendonly",
            "yes",
            "--dir",
            &d,
            "--user",
            "default",
            "on",
            "nopass",
            "~*",
            "+@all",
            "-flushdb",
        ];
        let second = Server::start(kind, &users);
        let mut c = second.conn();
        assert_eq!(c.run("DBSIZE"), Frame::Integer(1), "{kind:?}");
        assert_eq!(text(&c.run("GET b")), "2");
        assert!(text(&c.run("FLUSHDB")).starts_with("NOPERM"));
    }
}
