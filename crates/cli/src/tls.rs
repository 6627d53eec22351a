//! TLS connections (`--tls`, `rediss://`) with rustls: server verification against
//! `--cacert`/`--cacertdir` (or the system's bundle), optional client certificate,
//! `--sni`, and `--insecure`.

use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{
    ClientConfig, ClientConnection, DigitallySignedStruct, RootCertStore, SignatureScheme,
    StreamOwned,
};

use crate::args::Config;
use crate::connection::Stream;

/// Where Debian and most Linux systems keep the trusted roots in one file.
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

type TlsStream = StreamOwned<ClientConnection, TcpStream>;

impl Stream for TlsStream {
    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.sock.set_read_timeout(t)
    }
    fn writer(&self) -> Option<Box<dyn std::io::Write + Send>> {
        // A TLS session cannot be written from two handles.
        None
    }
}

/// `--insecure`: accept any server certificate, still checking the handshake
/// signatures so the session itself is sound.
#[derive(Debug)]
struct AcceptAnyServer(Arc<CryptoProvider>);

impl ServerCertVerifier for AcceptAnyServer {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

fn add_pem_file(roots: &mut RootCertStore, path: &Path) -> Result<(), String> {
    let iter = CertificateDer::pem_file_iter(path).map_err(|e| {
        format!(
            "Failed to load CA Certificate(s) from {}: {e}",
            path.display()
        )
    })?;
    for cert in iter {
        let cert = cert.map_err(|e| {
            format!(
                "Failed to load CA Certificate(s) from {}: {e}",
                path.display()
            )
        })?;
        // A bundle may hold certificates this verifier cannot use; skip those.
        let _ = roots.add(cert);
    }
    Ok(())
}

fn roots(config: &Config) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let tls = &config.tls;
    if let Some(file) = &tls.cacert {
        add_pem_file(&mut roots, Path::new(file))?;
    }
    if let Some(dir) = &tls.cacertdir {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| format!("Failed to read CA directory {dir}: {e}"))?;
        // Like OpenSSL, only the hashed names (`5d30f3c5.0`, as c_rehash makes them)
        // count, so the same directory trusts the same certificates.
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let hashed = name.split_once('.').is_some_and(|(h, n)| {
                h.len() == 8
                    && h.bytes().all(|c| c.is_ascii_hexdigit())
                    && n.bytes().all(|c| c.is_ascii_digit())
            });
            if hashed {
                let _ = add_pem_file(&mut roots, &entry.path());
            }
        }
    }
    if tls.cacert.is_none() && tls.cacertdir.is_none() && Path::new(SYSTEM_BUNDLE).exists() {
        add_pem_file(&mut roots, Path::new(SYSTEM_BUNDLE))?;
    }
    Ok(roots)
}

fn client_config(config: &Config) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if config.tls.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyServer(provider)))
    } else {
        builder.with_root_certificates(roots(config)?)
    };
    match (&config.tls.cert, &config.tls.key) {
        (Some(cert), Some(key)) => {
            let certs = CertificateDer::pem_file_iter(cert)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| format!("Invalid client certificate: {cert}: {e}"))?;
            let key = PrivateKeyDer::from_pem_file(key)
                .map_err(|e| format!("Invalid private key: {key}: {e}"))?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| e.to_string())
        }
        (Some(_), None) | (None, Some(_)) => {
            Err("Invalid client certificate and key: both --cert and --key are needed".into())
        }
        (None, None) => Ok(builder.with_no_client_auth()),
    }
}

/// Wraps `tcp` in TLS and completes the handshake, so that a failure is reported at
/// connect time as redis-cli does.
pub fn wrap(tcp: TcpStream, config: &Config) -> Result<Box<dyn Stream>, String> {
    let fail = |m: String| format!("Could not negotiate a TLS connection: {m}");
    let cfg = client_config(config).map_err(fail)?;
    let host = config
        .tls
        .sni
        .clone()
        .unwrap_or_else(|| config.host.clone());
    let name = ServerName::try_from(host).map_err(|e| fail(e.to_string()))?;
    let conn = ClientConnection::new(Arc::new(cfg), name).map_err(|e| fail(e.to_string()))?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        if let Err(e) = stream.conn.complete_io(&mut stream.sock) {
            // Said the way redis-cli (OpenSSL) says it.
            let reason = match e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
            {
                Some(rustls::Error::InvalidCertificate(_)) => {
                    "certificate verify failed".to_string()
                }
                Some(other) => other.to_string(),
                None => crate::connection::strerror(&e),
            };
            return Err(format!(
                "Could not connect to Redis at {}: SSL_connect failed: {reason}",
                crate::connection::address(config)
            ));
        }
    }
    Ok(Box::new(stream))
}
