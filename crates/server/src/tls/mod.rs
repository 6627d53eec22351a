//! TLS for client connections (`tls-port`), with rustls instead of OpenSSL.
//!
//! The tls-* parameters become rustls server configurations: one per
//! `tls-auth-clients` mode (client certificates required, optional, not asked),
//! built together whenever a tls-* parameter changes (at startup, and after a
//! CONFIG SET as one step, so a certificate and its key can change together),
//! and picked per connection at accept time, where Redis reads
//! `tls-auth-clients` too. A failed build keeps the previous configurations and
//! logs why, as Redis's tlsConfigure does; CONFIG SET then answers "Unable to
//! update TLS configuration. Check server logs.". Setting a certificate file to
//! its own name reloads it (Redis's volatile configs).
//!
//! What rustls cannot honour, and how it is handled:
//! - TLSv1 and TLSv1.1 do not exist in rustls: `tls-protocols` listing only those
//!   fails; alongside TLSv1.2 or TLSv1.3 they are ignored with a warning.
//! - `tls-ciphers` (TLSv1.2, OpenSSL names) and `tls-ciphersuites` (TLSv1.3) select
//!   among the suites rustls has (ECDHE with AES-GCM or ChaCha20-Poly1305; the
//!   three TLSv1.3 suites). Unknown names are skipped as OpenSSL skips them, group
//!   keywords (`HIGH`, `DEFAULT`, `ALL`, ...) select every suite, `!name` removes
//!   one; a list that selects none of them (only CBC or RSA-key-exchange suites,
//!   say) keeps every suite rustls has and logs a warning, where OpenSSL would
//!   use the listed ones.
//! - `tls-dh-params-file`: rustls has no finite-field DH suites; the file is
//!   checked for existence and otherwise ignored.
//! - `tls-session-cache-timeout`: rustls's session cache has no lifetime, only a
//!   size (`tls-session-cache-size`); tickets (as OpenSSL issues by default) are
//!   on while `tls-session-caching` is.
//! - `tls-key-file-pass`: PKCS#8 encrypted keys (`ENCRYPTED PRIVATE KEY`) are
//!   decrypted; OpenSSL's legacy `Proc-Type: 4,ENCRYPTED` PEM form is not read.
//! - Client certificates authenticate the connection only (as in Redis 7.0, which
//!   maps no certificate to an ACL user).
//!
//! Outgoing connections (`tls-replication`: a replica's link to its master) use a
//! client configuration built at the same time: the CA files verify the master's
//! certificate chain and, as in Redis (which never sets a host name to check),
//! the name in it is not compared with the address dialled; the client
//! certificate is `tls-client-cert-file`/`tls-client-key-file`, or the server's
//! own when those are not set.
//!
//! webpki verifies X.509 v3 certificates only; OpenSSL still signs and accepts
//! v1 ones, so a peer's v1 certificate (a client's, or a master's) that webpki
//! refuses is checked in `v1_certs` instead, as OpenSSL would check it.

use std::sync::Arc;

mod v1_certs;

use ferrokv_core::config::{Config, P};
use parking_lot::RwLock;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};

/// The error CONFIG SET reports when the TLS context cannot be rebuilt.
pub const UPDATE_FAILED: &str = "Unable to update TLS configuration. Check server logs.";

/// The server configurations for each `tls-auth-clients` mode.
struct Contexts {
    /// Client certificate required (`yes`); absent without a CA.
    required: Option<Arc<ServerConfig>>,
    /// Client certificate verified when sent (`optional`); absent without a CA.
    optional: Option<Arc<ServerConfig>>,
    /// No client certificate asked for (`no`).
    none: Arc<ServerConfig>,
    /// For connections this server opens (to a master); absent without a CA.
    client: Option<Arc<ClientConfig>>,
}

/// The current TLS configuration, if one was built.
#[derive(Default)]
pub struct Tls {
    contexts: RwLock<Option<Arc<Contexts>>>,
    /// The accept loops of the TLS listeners (replaced when tls-port changes).
    pub accept: parking_lot::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Tls {
    /// Whether a configuration was built (Redis's isTlsConfigured).
    pub fn configured(&self) -> bool {
        self.contexts.read().is_some()
    }

    /// Rebuilds the configurations from the tls-* parameters; on failure logs the
    /// reason and keeps the old ones.
    pub fn configure(&self, cfg: &Config) -> Result<(), String> {
        match build(cfg) {
            Ok(c) => {
                *self.contexts.write() = Some(Arc::new(c));
                Ok(())
            }
            Err(why) => {
                tracing::warn!("{why}");
                Err(UPDATE_FAILED.to_string())
            }
        }
    }

    /// The configuration a new connection gets under the current
    /// `tls-auth-clients`; `None` when there is none to give (no TLS context, or
    /// client certificates asked for without a CA to check them against).
    pub fn acceptor(&self, cfg: &Config) -> Option<tokio_rustls::TlsAcceptor> {
        let guard = self.contexts.read();
        let c = guard.as_ref()?;
        let conf = match cfg.string(P::TlsAuthClients).as_str() {
            "no" => c.none.clone(),
            "optional" => c.optional.clone()?,
            _ => c.required.clone()?,
        };
        Some(tokio_rustls::TlsAcceptor::from(conf))
    }

    /// The configuration of connections this server opens, when one was built.
    pub fn client_config(&self) -> Option<Arc<ClientConfig>> {
        self.contexts.read().as_ref().and_then(|c| c.client.clone())
    }

    /// Opens TLS over `tcp`, a connection this server dialled to `host`
    /// (Redis's connTLSConnect for the replication link).
    pub async fn connect(
        &self,
        host: &str,
        tcp: tokio::net::TcpStream,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, String> {
        let conf = self
            .client_config()
            .ok_or_else(|| "TLS is not configured for outgoing connections".to_string())?;
        tokio_rustls::TlsConnector::from(conf)
            .connect(peer_name(host), tcp)
            .await
            .map_err(|e| e.to_string())
    }
}

/// The name a connection to `host` sends in SNI; the verifier does not compare
/// it with the certificate (see [`ChainOnly`]).
pub fn peer_name(host: &str) -> rustls::pki_types::ServerName<'static> {
    rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
        rustls::pki_types::ServerName::DnsName(
            rustls::pki_types::DnsName::try_from("localhost").expect("a valid DNS name"),
        )
    })
}

/// The handshake-signature methods both verifiers share (rustls names them the
/// same in its server- and client-side traits): webpki's verdict, or for a v1
/// certificate the v1 check's.
macro_rules! signature_methods {
    () => {
        fn verify_tls12_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            let r = self.inner.verify_tls12_signature(message, cert, dss);
            self.v1.signature(r, message, cert, dss, false)
        }

        fn verify_tls13_signature(
            &self,
            message: &[u8],
            cert: &CertificateDer<'_>,
            dss: &rustls::DigitallySignedStruct,
        ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
            let r = self.inner.verify_tls13_signature(message, cert, dss);
            self.v1.signature(r, message, cert, dss, true)
        }

        fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
            self.inner.supported_verify_schemes()
        }
    };
}

/// Verifies a peer's chain against the CA files but not the name in its
/// certificate, as OpenSSL does for Redis, which sets no host to check; a v1
/// certificate webpki refuses is checked as OpenSSL checks it ([`v1_certs`]).
#[derive(Debug)]
struct ChainOnly {
    inner: Arc<rustls::client::WebPkiServerVerifier>,
    v1: V1Check,
}

impl rustls::client::danger::ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        use rustls::CertificateError as E;
        match self.inner.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            // webpki checks the name only after the chain verified.
            Err(rustls::Error::InvalidCertificate(
                E::NotValidForName | E::NotValidForNameContext { .. },
            )) => Ok(rustls::client::danger::ServerCertVerified::assertion()),
            Err(e) => self
                .v1
                .chain(end_entity, now, e)
                .map(|()| rustls::client::danger::ServerCertVerified::assertion()),
            ok => ok,
        }
    }

    signature_methods!();
}

/// webpki's client-certificate verifier, with v1 certificates checked as
/// OpenSSL checks them ([`v1_certs`]).
#[derive(Debug)]
struct ClientChain {
    inner: Arc<dyn rustls::server::danger::ClientCertVerifier>,
    v1: V1Check,
}

impl rustls::server::danger::ClientCertVerifier for ClientChain {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }

    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }

    fn root_hint_subjects(&self) -> &[rustls::DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::server::danger::ClientCertVerified, rustls::Error> {
        match self
            .inner
            .verify_client_cert(end_entity, intermediates, now)
        {
            Err(e) => self
                .v1
                .chain(end_entity, now, e)
                .map(|()| rustls::server::danger::ClientCertVerified::assertion()),
            ok => ok,
        }
    }

    signature_methods!();
}

/// What the v1 fallback of both verifiers needs: the CA certificates and the
/// provider's signature algorithms.
#[derive(Debug, Clone)]
struct V1Check {
    roots: Arc<RootCertStore>,
    algs: rustls::crypto::WebPkiSupportedAlgorithms,
}

impl V1Check {
    /// After webpki refused `cert` with `refused`: Ok when it is a v1
    /// certificate issued by a CA, else webpki's error (or the v1 check's).
    fn chain(
        &self,
        cert: &CertificateDer<'_>,
        now: rustls::pki_types::UnixTime,
        refused: rustls::Error,
    ) -> Result<(), rustls::Error> {
        match v1_certs::parse(cert) {
            Some(c) => v1_certs::verify_issued_by_ca(&c, &self.roots, &self.algs, now),
            None => Err(refused),
        }
    }

    /// webpki's verdict on a handshake signature, or for a v1 certificate
    /// (which webpki cannot read) the v1 check's.
    fn signature(
        &self,
        webpki: Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error>,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
        tls13: bool,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        match (webpki, v1_certs::parse(cert)) {
            (Err(_), Some(c)) => v1_certs::verify_signature(&c, message, dss, &self.algs, tls13),
            (r, _) => r,
        }
    }
}

/// Whether TLS is wanted at all (Redis configures it when any of these is set).
pub fn wanted(cfg: &Config) -> bool {
    cfg.int(P::TlsPort) != 0 || cfg.bool(P::TlsReplication) || cfg.bool(P::TlsCluster)
}

fn build(cfg: &Config) -> Result<Contexts, String> {
    let cert_file = cfg.string(P::TlsCertFile);
    let key_file = cfg.string(P::TlsKeyFile);
    if cert_file.is_empty() {
        return Err("No tls-cert-file configured!".into());
    }
    if key_file.is_empty() {
        return Err("No tls-key-file configured!".into());
    }
    let ca_file = cfg.string(P::TlsCaCertFile);
    let ca_dir = cfg.string(P::TlsCaCertDir);
    let needs_ca = cfg.string(P::TlsAuthClients) != "no"
        || cfg.bool(P::TlsReplication)
        || cfg.bool(P::TlsCluster);
    if needs_ca && ca_file.is_empty() && ca_dir.is_empty() {
        return Err("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!".into());
    }
    let versions = protocols(&cfg.string(P::TlsProtocols))?;
    let provider = Arc::new(provider(
        &cfg.string(P::TlsCiphers),
        &cfg.string(P::TlsCiphersuites),
    )?);
    let certs = load_certs(&cert_file)
        .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
    let key = load_key(&key_file, &cfg.string(P::TlsKeyFilePass))
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    let dh = cfg.string(P::TlsDhParamsFile);
    if !dh.is_empty() && std::fs::metadata(&dh).is_err() {
        return Err(format!("Failed to load {dh}: No such file or directory"));
    }
    let roots = if ca_file.is_empty() && ca_dir.is_empty() {
        None
    } else {
        Some(Arc::new(load_roots(&ca_file, &ca_dir).map_err(|e| {
            format!("Failed to configure CA certificate(s) file/directory: {e}")
        })?))
    };
    let certified = certified_key(&provider, certs, key, &key_file)?;
    let one = |verifier: Option<(Arc<RootCertStore>, bool)>| -> Result<Arc<ServerConfig>, String> {
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions)
            .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?;
        let builder = match verifier {
            None => builder.with_no_client_auth(),
            Some((roots, optional)) => {
                let mut v =
                    WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone());
                if optional {
                    v = v.allow_unauthenticated();
                }
                let v = v
                    .build()
                    .map_err(|e| format!("Failed to configure CA certificate(s): {e}"))?;
                builder.with_client_cert_verifier(Arc::new(ClientChain {
                    inner: v,
                    v1: V1Check {
                        roots,
                        algs: provider.signature_verification_algorithms,
                    },
                }))
            }
        };
        let mut conf = builder.with_cert_resolver(certified.clone());
        conf.ignore_client_order = cfg.bool(P::TlsPreferServerCiphers);
        if cfg.bool(P::TlsSessionCaching) {
            let size = match cfg.int(P::TlsSessionCacheSize) {
                // OpenSSL: 0 is unlimited.
                0 => 1 << 20,
                n => n as usize,
            };
            conf.session_storage = ServerSessionMemoryCache::new(size);
            conf.ticketer = rustls::crypto::ring::Ticketer::new()
                .map_err(|e| format!("Failed to set up TLS session tickets: {e}"))?;
        } else {
            conf.session_storage = Arc::new(NoServerSessionStorage {});
            conf.send_tls13_tickets = 0;
        }
        Ok(Arc::new(conf))
    };
    let (required, optional) = match &roots {
        Some(r) => (
            Some(one(Some((r.clone(), false)))?),
            Some(one(Some((r.clone(), true)))?),
        ),
        None => (None, None),
    };
    let client = match &roots {
        Some(roots) => Some(client_config(cfg, &provider, &versions, roots, &certified)?),
        None => None,
    };
    Ok(Contexts {
        required,
        optional,
        none: one(None)?,
        client,
    })
}

/// A certificate chain and its key, checked against each other where the
/// certificate can be parsed.
fn certified_key(
    provider: &CryptoProvider,
    certs: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    key_file: &str,
) -> Result<Arc<rustls::sign::SingleCertAndKey>, String> {
    // Not `with_single_cert`: it parses the certificate with webpki, which
    // refuses X.509 v1 certificates that OpenSSL serves (Redis's test
    // certificates include one). The key is still checked against the
    // certificate wherever the certificate can be parsed.
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
    let certified = rustls::sign::CertifiedKey::new(certs, signing);
    if let Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) =
        certified.keys_match()
    {
        return Err(format!(
            "Failed to load private key: {key_file}: it does not match the certificate"
        ));
    }
    Ok(Arc::new(rustls::sign::SingleCertAndKey::from(certified)))
}

/// The configuration of outgoing connections: the server's certificate (or
/// tls-client-cert-file's) as the client certificate, the CA files for the peer.
fn client_config(
    cfg: &Config,
    provider: &Arc<CryptoProvider>,
    versions: &[&'static rustls::SupportedProtocolVersion],
    roots: &Arc<RootCertStore>,
    server_cert: &Arc<rustls::sign::SingleCertAndKey>,
) -> Result<Arc<ClientConfig>, String> {
    let cert_file = cfg.string(P::TlsClientCertFile);
    let key_file = cfg.string(P::TlsClientKeyFile);
    let mine = if cert_file.is_empty() || key_file.is_empty() {
        server_cert.clone()
    } else {
        let certs = load_certs(&cert_file)
            .map_err(|e| format!("Failed to load certificate: {cert_file}: {e}"))?;
        let key = load_key(&key_file, &cfg.string(P::TlsClientKeyFilePass))
            .map_err(|e| format!("Failed to load private key: {key_file}: {e}"))?;
        certified_key(provider, certs, key, &key_file)?
    };
    let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
        roots.clone(),
        provider.clone(),
    )
    .build()
    .map_err(|e| format!("Failed to configure CA certificate(s): {e}"))?;
    let conf = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .map_err(|e| format!("Failed to configure TLS protocols: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly {
            inner: verifier,
            v1: V1Check {
                roots: roots.clone(),
                algs: provider.signature_verification_algorithms,
            },
        }))
        .with_client_cert_resolver(mine);
    Ok(Arc::new(conf))
}

/// `tls-protocols`: empty is TLSv1.2 and TLSv1.3, as Redis's default.
fn protocols(spec: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    if spec.trim().is_empty() {
        return Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12]);
    }
    let mut out: Vec<&'static rustls::SupportedProtocolVersion> = Vec::new();
    let mut legacy = false;
    for word in spec.split_whitespace() {
        match word.to_ascii_lowercase().as_str() {
            "tlsv1" | "tlsv1.1" => legacy = true,
            "tlsv1.2" => out.push(&rustls::version::TLS12),
            "tlsv1.3" => out.push(&rustls::version::TLS13),
            _ => {
                return Err("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.".into())
            }
        }
    }
    if out.is_empty() {
        return Err(
            "Failed to enable any TLS protocol: TLSv1 and TLSv1.1 are not supported (rustls)"
                .into(),
        );
    }
    if legacy {
        tracing::warn!("tls-protocols: TLSv1 and TLSv1.1 are not supported and are ignored");
    }
    Ok(out)
}

/// OpenSSL's names for the suites rustls implements.
fn openssl_name(s: &SupportedCipherSuite) -> &'static str {
    use rustls::CipherSuite as C;
    match s.suite() {
        C::TLS13_AES_128_GCM_SHA256 => "TLS_AES_128_GCM_SHA256",
        C::TLS13_AES_256_GCM_SHA384 => "TLS_AES_256_GCM_SHA384",
        C::TLS13_CHACHA20_POLY1305_SHA256 => "TLS_CHACHA20_POLY1305_SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256 => "ECDHE-ECDSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 => "ECDHE-ECDSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-ECDSA-CHACHA20-POLY1305",
        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => "ECDHE-RSA-AES128-GCM-SHA256",
        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 => "ECDHE-RSA-AES256-GCM-SHA384",
        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => "ECDHE-RSA-CHACHA20-POLY1305",
        _ => "",
    }
}

/// Picks from `all` what an OpenSSL-style list selects (`:`, `,` or spaces
/// between names; keywords select everything; `!`/`-` removes). `None` for an
/// empty list (the default: every suite).
fn select(
    list: &str,
    all: &[SupportedCipherSuite],
) -> Option<Result<Vec<SupportedCipherSuite>, ()>> {
    if list.trim().is_empty() {
        return None;
    }
    let mut out: Vec<SupportedCipherSuite> = Vec::new();
    for word in list.split([':', ',', ' ']).filter(|w| !w.is_empty()) {
        let (remove, name) = match word.as_bytes()[0] {
            b'!' | b'-' => (true, &word[1..]),
            b'+' => (false, &word[1..]),
            _ => (false, word),
        };
        let group = matches!(
            name.to_ascii_uppercase().as_str(),
            "ALL" | "DEFAULT" | "HIGH" | "ECDHE" | "EECDH" | "KEECDH" | "AESGCM" | "TLSV1.2"
        );
        for s in all {
            if group || openssl_name(s).eq_ignore_ascii_case(name) {
                if remove {
                    out.retain(|x| x.suite() != s.suite());
                } else if !out.iter().any(|x| x.suite() == s.suite()) {
                    out.push(*s);
                }
            }
        }
    }
    Some(if out.is_empty() { Err(()) } else { Ok(out) })
}

/// The ring provider restricted to the suites `tls-ciphers` (TLSv1.2) and
/// `tls-ciphersuites` (TLSv1.3) select.
fn provider(ciphers: &str, ciphersuites: &str) -> Result<CryptoProvider, String> {
    let base = rustls::crypto::ring::default_provider();
    let (v13, v12): (Vec<_>, Vec<_>) = base
        .cipher_suites
        .iter()
        .partition(|s| matches!(s, SupportedCipherSuite::Tls13(_)));
    // A list naming only suites rustls lacks (CBC, RSA key exchange, ...) keeps
    // every suite rustls has, with a warning: refusing it would stop a server
    // whose Redis configuration names such ciphers from starting at all.
    let v12 = match select(ciphers, &v12) {
        None => v12,
        Some(Ok(v)) => v,
        Some(Err(())) => {
            tracing::warn!("tls-ciphers: none of '{ciphers}' is available (rustls); using every TLSv1.2 suite it has");
            v12
        }
    };
    let v13 = match select(ciphersuites, &v13) {
        None => v13,
        Some(Ok(v)) => v,
        Some(Err(())) => {
            tracing::warn!("tls-ciphersuites: none of '{ciphersuites}' is available (rustls); using every TLSv1.3 suite it has");
            v13
        }
    };
    Ok(CryptoProvider {
        cipher_suites: v13.into_iter().chain(v12).collect(),
        ..base
    })
}

fn load_certs(path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let bytes = std::fs::read(path).map_err(|e| io_text(&e))?;
    let certs = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    if certs.is_empty() {
        return Err("no certificate found".into());
    }
    Ok(certs)
}

fn load_key(path: &str, pass: &str) -> Result<PrivateKeyDer<'static>, String> {
    let bytes = std::fs::read(path).map_err(|e| io_text(&e))?;
    let text = String::from_utf8_lossy(&bytes);
    if text.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----") {
        if pass.is_empty() {
            return Err("the key is encrypted and tls-key-file-pass is not set".into());
        }
        let start = text
            .find("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            .unwrap_or(0);
        let (_, doc) =
            pkcs8::Document::from_pem(&text[start..]).map_err(|e| format!("bad PEM: {e}"))?;
        let info = pkcs8::EncryptedPrivateKeyInfo::try_from(doc.as_bytes())
            .map_err(|e| format!("bad encrypted key: {e}"))?;
        let plain = info
            .decrypt(pass.as_bytes())
            .map_err(|_| "bad decrypt (wrong tls-key-file-pass?)".to_string())?;
        return Ok(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            plain.as_bytes().to_vec(),
        )));
    }
    if text.contains("Proc-Type: 4,ENCRYPTED") {
        return Err(
            "legacy encrypted PEM keys are not supported: convert with `openssl pkcs8 -topk8`"
                .into(),
        );
    }
    PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| e.to_string())
}

/// CA certificates from a file and every PEM file of a directory.
fn load_roots(file: &str, dir: &str) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let mut add = |bytes: &[u8], strict: bool| -> Result<(), String> {
        for c in CertificateDer::pem_slice_iter(bytes) {
            match c {
                Ok(c) => {
                    if let Err(e) = roots.add(c) {
                        if strict {
                            return Err(e.to_string());
                        }
                    }
                }
                Err(e) if strict => return Err(e.to_string()),
                Err(_) => {}
            }
        }
        Ok(())
    };
    if !file.is_empty() {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {}", io_text(&e)))?;
        add(&bytes, true)?;
    }
    if !dir.is_empty() {
        let entries = std::fs::read_dir(dir).map_err(|e| format!("{dir}: {}", io_text(&e)))?;
        for e in entries.flatten() {
            if let Ok(bytes) = std::fs::read(e.path()) {
                add(&bytes, false)?;
            }
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate found".into());
    }
    Ok(roots)
}

/// strerror's text, without Rust's "(os error N)".
fn io_text(e: &std::io::Error) -> String {
    let t = e.to_string();
    t.split(" (os error").next().unwrap_or(&t).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(v: &[SupportedCipherSuite]) -> Vec<&'static str> {
        v.iter().map(openssl_name).collect()
    }

    #[test]
    fn cipher_lists_select_like_openssl() {
        let p = provider("ECDHE-RSA-AES256-GCM-SHA384:NOPE", "").unwrap();
        let v12: Vec<_> = p
            .cipher_suites
            .iter()
            .filter(|s| matches!(s, SupportedCipherSuite::Tls12(_)))
            .copied()
            .collect();
        assert_eq!(names(&v12), vec!["ECDHE-RSA-AES256-GCM-SHA384"]);
        let p = provider(
            "HIGH:!ECDHE-RSA-AES256-GCM-SHA384",
            "TLS_AES_256_GCM_SHA384",
        )
        .unwrap();
        let all = names(&p.cipher_suites);
        assert!(all.contains(&"TLS_AES_256_GCM_SHA384"));
        assert!(!all.contains(&"TLS_AES_128_GCM_SHA256"));
        assert!(!all.contains(&"ECDHE-RSA-AES256-GCM-SHA384"));
        assert!(all.contains(&"ECDHE-RSA-AES128-GCM-SHA256"));
        // Nothing rustls has: every suite, not a failure.
        let all = rustls::crypto::ring::default_provider().cipher_suites.len();
        assert_eq!(
            provider("AES128-SHA256", "").unwrap().cipher_suites.len(),
            all
        );
        assert_eq!(provider("", "NOPE").unwrap().cipher_suites.len(), all);
    }

    #[test]
    fn protocol_lists() {
        assert_eq!(protocols("").unwrap().len(), 2);
        assert_eq!(protocols("TLSv1.2").unwrap().len(), 1);
        assert_eq!(protocols("TLSv1 TLSv1.3").unwrap().len(), 1);
        assert!(protocols("TLSv1").is_err());
        assert!(protocols("SSLv3").is_err());
    }
}
