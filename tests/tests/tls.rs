//! TLS on tls-port with certificates generated at test time (rcgen): server-only
//! and mutual TLS, driven by the real redis-cli (OpenSSL) and redis-py, and by
//! ferrokv-cli; certificate reload and port switching with CONFIG SET, an
//! encrypted key, a TLS-only server, and the settings rustls cannot honour.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use ferrokv_tests::{free_port, show, Server};
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

/// A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files.
struct Certs {
    dir: tempfile::TempDir,
}

impl Certs {
    fn new() -> Certs {
        let dir = tempfile::tempdir().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(DnType::CommonName, "ferrokv test CA");
        let ca_key = KeyPair::generate().unwrap();
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let leaf = |names: Vec<String>, cn: &str, file: &str| {
            let mut p = CertificateParams::new(names).unwrap();
            p.distinguished_name.push(DnType::CommonName, cn);
            let k = KeyPair::generate().unwrap();
            let c = p.signed_by(&k, &ca, &ca_key).unwrap();
            std::fs::write(dir.path().join(format!("{file}.crt")), c.pem()).unwrap();
            std::fs::write(dir.path().join(format!("{file}.key")), k.serialize_pem()).unwrap();
        };
        leaf(
            vec!["127.0.0.1".into(), "localhost".into()],
            "Server",
            "server",
        );
        leaf(vec![], "Client", "client");
        std::fs::write(dir.path().join("ca.crt"), ca.pem()).unwrap();
        std::fs::write(dir.path().join("ca.key"), ca_key.serialize_pem()).unwrap();
        Certs { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_string_lossy().into_owned()
    }

    /// Server arguments: TLS on `tls_port` beside the plain port.
    fn server_args(&self, tls_port: u16) -> Vec<String> {
        vec![
            "--tls-port".into(),
            tls_port.to_string(),
            "--tls-cert-file".into(),
            self.path("server.crt"),
            "--tls-key-file".into(),
            self.path("server.key"),
            "--tls-ca-cert-file".into(),
            self.path("ca.crt"),
        ]
    }
}

fn start(certs: &Certs, extra: &[&str]) -> (Server, u16) {
    let tls_port = free_port();
    let mut args = certs.server_args(tls_port);
    args.extend(extra.iter().map(|s| s.to_string()));
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    (Server::ferrokv(&refs), tls_port)
}

/// redis-cli (or ferrokv-cli) output for one command, `client` adding the client
/// certificate.
fn cli(bin: &Path, certs: &Certs, port: u16, client: bool, args: &[&str]) -> (bool, String) {
    let mut c = Command::new(bin);
    c.args(["-h", "127.0.0.1", "-p", &port.to_string(), "--tls"]);
    c.args(["--cacert", &certs.path("ca.crt")]);
    if client {
        c.args(["--cert", &certs.path("client.crt")]);
        c.args(["--key", &certs.path("client.key")]);
    }
    c.args(args);
    let out = c.output().expect("run the cli");
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.success(), text.trim().to_string())
}

fn redis_cli() -> PathBuf {
    PathBuf::from("redis-cli")
}

fn ferrokv_cli() -> PathBuf {
    ferrokv_tests::workspace_binary("ferrokv-cli")
}

#[test]
fn mutual_tls_with_redis_cli_and_ferrokv_cli() {
    let certs = Certs::new();
    let (s, tls) = start(&certs, &[]);
    // tls-auth-clients yes (the default): a client certificate is required.
    assert_eq!(
        cli(&redis_cli(), &certs, tls, true, &["SET", "k", "v"]),
        (true, "OK".into())
    );
    assert_eq!(
        cli(&redis_cli(), &certs, tls, true, &["GET", "k"]),
        (true, "v".into())
    );
    let (_, text) = cli(&redis_cli(), &certs, tls, false, &["GET", "k"]);
    assert_ne!(text, "v", "served without a client certificate");
    assert_eq!(
        cli(&ferrokv_cli(), &certs, tls, true, &["GET", "k"]),
        (true, "v".into())
    );
    // Plain RESP on the TLS port is not understood, and the TCP port still works.
    use std::io::{Read, Write};
    let mut plain = std::net::TcpStream::connect(("127.0.0.1", tls)).unwrap();
    plain
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let _ = plain.write_all(b"PING\r\n");
    let mut got = Vec::new();
    let _ = plain.read_to_end(&mut got);
    // Closed without a reply or a TLS alert, as OpenSSL leaves it.
    assert!(got.is_empty(), "{got:?}");
    assert_eq!(show(&s.conn().run("GET k")), "\"v\"");
}

#[test]
fn tls_auth_clients_no_and_optional() {
    let certs = Certs::new();
    let (s, tls) = start(&certs, &["--tls-auth-clients", "no"]);
    assert_eq!(
        cli(&redis_cli(), &certs, tls, false, &["PING"]),
        (true, "PONG".into())
    );
    let mut c = s.conn();
    assert_eq!(show(&c.run("CONFIG SET tls-auth-clients optional")), "+OK");
    assert_eq!(
        cli(&redis_cli(), &certs, tls, false, &["PING"]),
        (true, "PONG".into())
    );
    assert_eq!(
        cli(&redis_cli(), &certs, tls, true, &["PING"]),
        (true, "PONG".into())
    );
    assert_eq!(show(&c.run("CONFIG SET tls-auth-clients yes")), "+OK");
    assert_ne!(cli(&redis_cli(), &certs, tls, false, &["PING"]).1, "PONG");
}

#[test]
fn redis_py_connects_with_ssl() {
    let certs = Certs::new();
    let (_s, tls) = start(&certs, &[]);
    let script = format!(
        "import redis\n\
         r = redis.Redis(host='127.0.0.1', port={tls}, ssl=True, ssl_ca_certs='{ca}', \
         ssl_certfile='{crt}', ssl_keyfile='{key}')\n\
         r.set('py', 'yes')\n\
         print(r.get('py').decode(), r.incr('n'), r.ping())\n",
        ca = certs.path("ca.crt"),
        crt = certs.path("client.crt"),
        key = certs.path("client.key"),
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "yes 1 True");
}

#[test]
fn config_set_reloads_certificates_and_reports_failures() {
    let certs = Certs::new();
    let (s, tls) = start(&certs, &[]);
    let mut c = s.conn();
    // A missing file: Redis's error, and the old context keeps serving.
    let r = show(&c.run("CONFIG SET tls-cert-file /nonexistent/cert.pem"));
    assert_eq!(
        r,
        "-ERR CONFIG SET failed (possibly related to argument 'tls-cert-file') - Unable to update TLS configuration. Check server logs."
    );
    assert_eq!(
        show(&c.run("CONFIG GET tls-cert-file")),
        format!("[\"tls-cert-file\", \"{}\"]", certs.path("server.crt"))
    );
    assert_eq!(
        cli(&redis_cli(), &certs, tls, true, &["PING"]),
        (true, "PONG".into())
    );
    // A new certificate and key written over the old files, reloaded by setting
    // the same names (volatile configs); both in one CONFIG SET.
    let fresh = Certs::new();
    for f in ["server.crt", "server.key"] {
        std::fs::copy(fresh.path(f), certs.path(f)).unwrap();
    }
    let set = format!(
        "CONFIG SET tls-cert-file {} tls-key-file {}",
        certs.path("server.crt"),
        certs.path("server.key")
    );
    assert_eq!(show(&c.run(&set)), "+OK");
    // The old CA no longer verifies the server; the new one does.
    assert_ne!(cli(&redis_cli(), &certs, tls, true, &["PING"]).1, "PONG");
    assert_eq!(show(&c.run("CONFIG SET tls-auth-clients no")), "+OK");
    assert_eq!(
        cli(&redis_cli(), &fresh, tls, false, &["PING"]),
        (true, "PONG".into())
    );
    // A key that does not match the certificate is refused.
    let r = show(&c.run(&format!(
        "CONFIG SET tls-key-file {}",
        certs.path("client.key")
    )));
    assert!(r.contains("Unable to update TLS configuration"), "{r}");
    // An X.509 v1 certificate (no extensions, as `openssl x509 -req` writes by
    // default) is served as OpenSSL serves it.
    let csr = certs.path("v1.csr");
    let v1 = certs.path("v1.crt");
    let ok = |args: &[&str]| {
        let st = Command::new("openssl")
            .args(args)
            .status()
            .expect("openssl");
        assert!(st.success(), "openssl {args:?}");
    };
    let key = certs.path("server.key");
    ok(&["req", "-new", "-key", &key, "-subj", "/CN=v1", "-out", &csr]);
    let (ca, ca_key) = (certs.path("ca.crt"), certs.path("ca.key"));
    ok(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca,
        "-CAkey",
        &ca_key,
        "-CAcreateserial",
        "-days",
        "1",
        "-out",
        &v1,
    ]);
    assert_eq!(
        show(&c.run(&format!("CONFIG SET tls-cert-file {v1}"))),
        "+OK"
    );
    let out = Command::new("redis-cli")
        .args(["-p", &tls.to_string(), "--tls", "--insecure", "PING"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "PONG");
    let back = format!("CONFIG SET tls-cert-file {}", certs.path("server.crt"));
    assert_eq!(show(&c.run(&back)), "+OK");
    // Settings rustls cannot honour are refused as a failed update.
    let r = show(&c.run("CONFIG SET tls-protocols TLSv1"));
    assert!(r.contains("Unable to update TLS configuration"), "{r}");
    let r = show(&c.run("CONFIG SET tls-protocols SSLv3"));
    assert!(r.contains("Unable to update TLS configuration"), "{r}");
    assert_eq!(show(&c.run("CONFIG SET tls-protocols TLSv1.2")), "+OK");
    assert_eq!(
        cli(&redis_cli(), &fresh, tls, false, &["PING"]),
        (true, "PONG".into())
    );
}

#[test]
fn tls_port_can_move_and_switch_with_the_plain_port() {
    let certs = Certs::new();
    let (s, tls) = start(&certs, &[]);
    let mut c = s.conn();
    let other = free_port();
    assert_eq!(show(&c.run(&format!("CONFIG SET tls-port {other}"))), "+OK");
    assert_eq!(
        cli(&redis_cli(), &certs, other, true, &["PING"]),
        (true, "PONG".into())
    );
    let deadline = Instant::now() + Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", tls)).is_ok() {
        assert!(Instant::now() < deadline, "old tls port still accepting");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(show(&c.run("CONFIG SET tls-port 0")), "+OK");
    assert_eq!(show(&c.run("CONFIG GET tls-port")), "[\"tls-port\", \"0\"]");
}

#[test]
fn server_without_a_plain_port_and_an_encrypted_key() {
    let certs = Certs::new();
    // The key as PKCS#8 encrypted with AES-256 (what `openssl rsa -aes256` and
    // `openssl pkcs8 -topk8` write with OpenSSL 3).
    let enc = certs.path("server.key.enc");
    let st = Command::new("openssl")
        .args(["pkcs8", "-topk8", "-v2", "aes-256-cbc", "-in"])
        .arg(certs.path("server.key"))
        .args(["-out", &enc, "-passout", "pass:1234"])
        .status()
        .expect("openssl");
    assert!(st.success());
    let (s, tls) = start(&certs, &["--tls-auth-clients", "no"]);
    let mut c = s.conn();
    let r = show(&c.run(&format!("CONFIG SET tls-key-file {enc}")));
    assert!(r.contains("Unable to update TLS configuration"), "{r}");
    assert_eq!(show(&c.run("CONFIG SET tls-key-file-pass 1234")), "+OK");
    assert_eq!(
        show(&c.run(&format!("CONFIG SET tls-key-file {enc}"))),
        "+OK"
    );
    assert_eq!(
        cli(&redis_cli(), &certs, tls, false, &["PING"]),
        (true, "PONG".into())
    );
    // Only TLS: port 0 in the config, as Redis's TLS test mode runs servers.
    let tls2 = free_port();
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(ferrokv_tests::ferrokv_binary())
        .args(["--port", "0", "--save", "", "--tls-auth-clients", "no"])
        .args(["--tls-port", &tls2.to_string()])
        .args(["--tls-cert-file", &certs.path("server.crt")])
        .args(["--tls-key-file", &certs.path("server.key")])
        .current_dir(dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if cli(&redis_cli(), &certs, tls2, false, &["PING"]) == (true, "PONG".into()) {
            break;
        }
        assert!(Instant::now() < deadline, "TLS-only server not ready");
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `tls-replication yes`: the replica's link to its master is TLS (to the
/// master's tls-port), both ways between ferrokv and the real redis-server
/// (OpenSSL), and ferrokv to ferrokv; the replica presents tls-client-cert-file.
#[test]
fn replication_over_tls_with_redis_server_both_ways() {
    use ferrokv_tests::Kind;
    let certs = Certs::new();
    let start_kind = |kind: Kind| -> (Server, u16) {
        let tls_port = free_port();
        let mut args = certs.server_args(tls_port);
        args.extend(
            [
                "--tls-replication",
                "yes",
                "--repl-diskless-sync-delay",
                "0",
                "--tls-client-cert-file",
                &certs.path("client.crt"),
                "--tls-client-key-file",
                &certs.path("client.key"),
            ]
            .map(String::from),
        );
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        (Server::start(kind, &refs), tls_port)
    };
    let pairs = [
        (Kind::Ferrokv, Kind::Redis),
        (Kind::Redis, Kind::Ferrokv),
        (Kind::Ferrokv, Kind::Ferrokv),
    ];
    for (mk, rk) in pairs {
        let (master, master_tls) = start_kind(mk);
        let (replica, _) = start_kind(rk);
        let mut m = master.conn();
        let mut r = replica.conn();
        assert_eq!(show(&m.run("SET before sync")), "+OK");
        assert_eq!(
            show(&r.cmd(&["REPLICAOF", "127.0.0.1", &master_tls.to_string()])),
            "+OK"
        );
        assert_eq!(show(&m.run("SET after stream")), "+OK");
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let before = show(&r.run("GET before"));
            let after = show(&r.run("GET after"));
            let info = show(&r.run("INFO replication"));
            if before == "\"sync\""
                && after == "\"stream\""
                && info.contains("master_link_status:up")
            {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{mk:?} -> {rk:?}: replica never caught up over TLS: {before} {after} {info}\n{}",
                replica.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The master sees its replica on the TLS port the replica announced.
        let minfo = show(&m.run("INFO replication"));
        assert!(minfo.contains("connected_slaves:1"), "{minfo}");
    }
}

/// `tls-cluster yes`: MIGRATE opens TLS to its target (Redis's migrateGetSocket),
/// to a real redis-server and to ferrokv; a target's TLS port without it fails
/// as a connection error.
#[test]
fn migrate_over_tls_with_tls_cluster() {
    use ferrokv_tests::Kind;
    let certs = Certs::new();
    let start_kind = |kind: Kind, cluster: &str| -> (Server, u16) {
        let tls_port = free_port();
        let mut args = certs.server_args(tls_port);
        args.extend(["--tls-cluster", cluster].map(String::from));
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        (Server::start(kind, &refs), tls_port)
    };
    let (source, _) = start_kind(Kind::Ferrokv, "yes");
    let mut s = source.conn();
    for kind in [Kind::Redis, Kind::Ferrokv] {
        let (target, target_tls) = start_kind(kind, "yes");
        assert_eq!(show(&s.run("SET moving v1")), "+OK");
        let port = target_tls.to_string();
        assert_eq!(
            show(&s.cmd(&["MIGRATE", "127.0.0.1", &port, "moving", "0", "5000"])),
            "+OK",
            "{kind:?}"
        );
        assert_eq!(show(&target.conn().run("GET moving")), "\"v1\"", "{kind:?}");
        // The cached connection is reused for the next key.
        assert_eq!(show(&s.run("SET again v2")), "+OK");
        assert_eq!(
            show(&s.cmd(&["MIGRATE", "127.0.0.1", &port, "again", "0", "5000", "COPY"])),
            "+OK"
        );
        assert_eq!(show(&target.conn().run("GET again")), "\"v2\"");
        assert_eq!(show(&s.run("DEL again")), ":1");
    }
    // Without tls-cluster the TLS port is not spoken to in plain text.
    let (plain, _) = start_kind(Kind::Ferrokv, "no");
    let (target, target_tls) = start_kind(Kind::Ferrokv, "yes");
    let mut p = plain.conn();
    assert_eq!(show(&p.run("SET k v")), "+OK");
    let r = show(&p.cmd(&[
        "MIGRATE",
        "127.0.0.1",
        &target_tls.to_string(),
        "k",
        "0",
        "1000",
    ]));
    assert!(r.starts_with("-IOERR"), "{r}");
    assert_eq!(show(&target.conn().run("EXISTS k")), ":0");
}

/// Runs openssl, which must succeed.
fn openssl(args: &[&str]) {
    let st = Command::new("openssl")
        .args(args)
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl");
    assert!(st.success(), "openssl {args:?}");
}

/// A v1 certificate for `cn` (`openssl x509 -req` without extensions, as
/// Redis's gen-test-certs.sh makes `redis.crt`) signed by `ca`/`ca_key`.
fn v1_cert(certs: &Certs, name: &str, ca: &str, ca_key: &str) {
    let (key, csr, crt) = (
        certs.path(&format!("{name}.key")),
        certs.path(&format!("{name}.csr")),
        certs.path(&format!("{name}.crt")),
    );
    openssl(&["genrsa", "-out", &key, "2048"]);
    openssl(&[
        "req",
        "-new",
        "-key",
        &key,
        "-subj",
        "/CN=Generic-cert",
        "-out",
        &csr,
    ]);
    openssl(&[
        "x509",
        "-req",
        "-sha256",
        "-in",
        &csr,
        "-CA",
        ca,
        "-CAkey",
        ca_key,
        "-CAcreateserial",
        "-days",
        "2",
        "-out",
        &crt,
    ]);
}

/// OpenSSL accepts a peer's X.509 v1 certificate and webpki does not: ferrokv
/// checks it against the CA itself. A client's v1 certificate (redis-cli
/// --cert), a replica that presents its own v1 server certificate to its master
/// (unit/tls "tls-cert-file is also used as a client cert if none specified"),
/// and a master serving a v1 certificate are all accepted; a v1 certificate
/// under the CA's name but signed by another key is not.
#[test]
fn v1_certificates_are_accepted_as_openssl_accepts_them() {
    use ferrokv_tests::Kind;
    let certs = Certs::new();
    let (ca, ca_key) = (certs.path("ca.crt"), certs.path("ca.key"));
    v1_cert(&certs, "v1", &ca, &ca_key);
    // A CA of the same name with another key, and a v1 certificate it signs.
    let (rogue_ca, rogue_key) = (certs.path("rogue-ca.crt"), certs.path("rogue-ca.key"));
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &rogue_key,
        "-subj",
        "/CN=ferrokv test CA",
        "-days",
        "2",
        "-out",
        &rogue_ca,
    ]);
    v1_cert(&certs, "rogue", &rogue_ca, &rogue_key);
    let with_cert = |port: u16, name: &str| {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &port.to_string(), "--tls"])
            .args(["--cacert", &ca])
            .args(["--cert", &certs.path(&format!("{name}.crt"))])
            .args(["--key", &certs.path(&format!("{name}.key"))])
            .arg("PING")
            .output()
            .expect("redis-cli");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    // Both as a master's and a replica's own certificate, and no client
    // certificate files: the replica presents its server certificate.
    let v1_server = |kind: Kind| -> (Server, u16) {
        let tls = free_port();
        let args = [
            "--tls-port",
            &tls.to_string(),
            "--tls-cert-file",
            &certs.path("v1.crt"),
            "--tls-key-file",
            &certs.path("v1.key"),
            "--tls-ca-cert-file",
            &ca,
            "--tls-replication",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ];
        (Server::start(kind, &args), tls)
    };
    let (master, m_tls) = v1_server(Kind::Ferrokv);
    let (replica, _) = v1_server(Kind::Ferrokv);
    assert_eq!(with_cert(m_tls, "v1"), "PONG");
    assert_ne!(
        with_cert(m_tls, "rogue"),
        "PONG",
        "a v1 certificate signed by another key"
    );
    // The same verdicts as redis-server (OpenSSL) gives them.
    let (_redis, redis_tls) = v1_server(Kind::Redis);
    assert_eq!(with_cert(redis_tls, "v1"), "PONG");
    assert_ne!(with_cert(redis_tls, "rogue"), "PONG");
    let mut m = master.conn();
    let mut r = replica.conn();
    assert_eq!(show(&m.run("SET k v")), "+OK");
    assert_eq!(
        show(&r.cmd(&["REPLICAOF", "127.0.0.1", &m_tls.to_string()])),
        "+OK"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while !(show(&r.run("INFO replication")).contains("master_link_status:up")
        && show(&r.run("GET k")) == "\"v\"")
    {
        assert!(
            Instant::now() < deadline,
            "the replica never synced over v1 certificates\n{}",
            replica.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
