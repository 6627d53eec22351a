//! TLS against a redis-server with a TLS port, with certificates made by openssl for
//! the test; compared with redis-cli.

mod common;

use std::path::Path;
use std::process::Command;

use common::{free_port, same, strings, RedisServer};

fn openssl(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .is_ok_and(|o| o.status.success())
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate.
fn make_certs(dir: &Path) -> bool {
    std::fs::write(dir.join("server.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n").is_ok()
        && std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n",
        )
        .is_ok()
        && openssl(dir, &["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Test CA"])
        && ["server", "client"].iter().all(|who| {
            openssl(dir, &["req", "-newkey", "rsa:2048", "-nodes", "-keyout", &format!("{who}.key"), "-out", &format!("{who}.csr"), "-subj", &format!("/CN={who}")])
                && openssl(dir, &["x509", "-req", "-in", &format!("{who}.csr"), "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", &format!("{who}.crt"), "-days", "2", "-extfile", &format!("{who}.ext")])
        })
}

#[test]
fn tls_connections_match_redis_cli() {
    let dir = tempfile::tempdir().expect("temp dir");
    if !make_certs(dir.path()) {
        eprintln!("openssl is not available; skipping");
        return;
    }
    let f = |name: &str| dir.path().join(name).to_string_lossy().into_owned();
    let tls_port = free_port().to_string();
    let server = RedisServer::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &f("server.crt"),
        "--tls-key-file",
        &f("server.key"),
        "--tls-ca-cert-file",
        &f("ca.crt"),
        "--tls-auth-clients",
        "optional",
    ]);
    let ca = f("ca.crt");
    let base = |extra: &[&str]| {
        let mut v = strings(&["-p", &tls_port]);
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    same(&base(&["--tls", "--cacert", &ca, "ping"]), b"");
    same(
        &base(&[
            "--tls", "--cacert", &ca, "--no-raw", "lrange", "nokey", "0", "-1",
        ]),
        b"",
    );
    same(
        &base(&[
            "--tls",
            "--cacert",
            &ca,
            "--cert",
            &f("client.crt"),
            "--key",
            &f("client.key"),
            "ping",
        ]),
        b"",
    );
    same(&base(&["--tls", "--insecure", "ping"]), b"");
    same(&base(&["--tls", "ping"]), b"");
    // A CA directory trusts only hashed names: none at first, then the CA's.
    same(
        &base(&[
            "--tls",
            "--cacertdir",
            dir.path().to_str().unwrap_or("."),
            "ping",
        ]),
        b"",
    );
    let hash = Command::new("openssl")
        .args(["x509", "-hash", "-noout", "-in", &ca])
        .output()
        .expect("openssl");
    let hash = String::from_utf8_lossy(&hash.stdout).trim().to_string();
    let cadir = dir.path().join("cadir");
    std::fs::create_dir(&cadir).expect("mkdir");
    std::fs::copy(&ca, cadir.join(format!("{hash}.0"))).expect("copy");
    same(
        &base(&[
            "--tls",
            "--cacertdir",
            cadir.to_str().unwrap_or("."),
            "ping",
        ]),
        b"",
    );
    let uri = format!("rediss://127.0.0.1:{tls_port}/1");
    same(&strings(&["-u", &uri, "--cacert", &ca, "dbsize"]), b"");
    drop(server);
}
