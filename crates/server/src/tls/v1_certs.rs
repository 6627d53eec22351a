//! X.509 v1 certificates from peers.
//!
//! OpenSSL signs v1 certificates whenever `openssl x509 -req` runs without an
//! extensions file (Redis's utils/gen-test-certs.sh makes its generic
//! `redis.crt` that way, and so do many how-tos), and it accepts them from
//! peers; webpki, which rustls uses, accepts v3 only. So when webpki refuses a
//! peer's certificate and that certificate is v1, it is checked here as OpenSSL
//! checks a leaf: issued by one of the CA certificates (`tls-ca-cert-file` /
//! `-dir`, matched by name), signed by that CA's key, within its validity.
//! A v1 certificate carries no extensions, so there are no key usages or name
//! constraints to check. Only a leaf signed directly by a configured CA is
//! accepted this way; a v1 leaf below an intermediate is still refused.

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, SubjectPublicKeyInfoDer, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, Error, PeerMisbehaved, RootCertStore};
use x509_cert::der::{Decode, Encode};
use x509_cert::Certificate;

/// The certificate, when it is a well-formed X.509 v1 certificate.
pub(super) fn parse(cert: &CertificateDer<'_>) -> Option<Certificate> {
    let c = Certificate::from_der(cert.as_ref()).ok()?;
    (c.tbs_certificate.version == x509_cert::Version::V1).then_some(c)
}

/// Checks a v1 leaf against the trust anchors: issuer name, signature, dates.
pub(super) fn verify_issued_by_ca(
    cert: &Certificate,
    roots: &RootCertStore,
    algs: &WebPkiSupportedAlgorithms,
    now: UnixTime,
) -> Result<(), Error> {
    let bad = || Error::InvalidCertificate(CertificateError::BadEncoding);
    let tbs = &cert.tbs_certificate;
    let not_before = tbs.validity.not_before.to_unix_duration().as_secs();
    let not_after = tbs.validity.not_after.to_unix_duration().as_secs();
    if now.as_secs() < not_before {
        return Err(Error::InvalidCertificate(CertificateError::NotValidYet));
    }
    if now.as_secs() > not_after {
        return Err(Error::InvalidCertificate(CertificateError::Expired));
    }
    let issuer = tbs.issuer.to_der().map_err(|_| bad())?;
    let issuer = contents(&issuer).ok_or_else(bad)?;
    let signed = tbs.to_der().map_err(|_| bad())?;
    let sig_alg = cert.signature_algorithm.to_der().map_err(|_| bad())?;
    let sig_alg = contents(&sig_alg).ok_or_else(bad)?;
    let signature = cert.signature.as_bytes().ok_or_else(bad)?;
    let mut named = false;
    for anchor in &roots.roots {
        // A trust anchor keeps its subject and key without their outer SEQUENCE.
        if anchor.subject.as_ref() != issuer {
            continue;
        }
        named = true;
        let Some((key_alg, key)) = split_key(anchor.subject_public_key_info.as_ref()) else {
            continue;
        };
        let verified = algs.all.iter().any(|alg| {
            alg.signature_alg_id().as_ref() == sig_alg
                && alg.public_key_alg_id().as_ref() == key_alg
                && alg.verify_signature(key, &signed, signature).is_ok()
        });
        if verified {
            return Ok(());
        }
    }
    Err(Error::InvalidCertificate(if named {
        CertificateError::BadSignature
    } else {
        CertificateError::UnknownIssuer
    }))
}

/// Checks the handshake signature (CertificateVerify, or the server's key
/// exchange in TLSv1.2) made with the key of a v1 certificate.
pub(super) fn verify_signature(
    cert: &Certificate,
    message: &[u8],
    dss: &DigitallySignedStruct,
    algs: &WebPkiSupportedAlgorithms,
    tls13: bool,
) -> Result<HandshakeSignatureValid, Error> {
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| Error::InvalidCertificate(CertificateError::BadEncoding))?;
    if tls13 {
        return rustls::crypto::verify_tls13_signature_with_raw_key(
            message,
            &SubjectPublicKeyInfoDer::from(spki.as_slice()),
            dss,
            algs,
        );
    }
    let (key_alg, key) = contents(&spki)
        .and_then(split_key)
        .ok_or(Error::InvalidCertificate(CertificateError::BadEncoding))?;
    let candidates = algs
        .mapping
        .iter()
        .find(|(scheme, _)| *scheme == dss.scheme)
        .map(|(_, a)| *a)
        .ok_or(PeerMisbehaved::SignedHandshakeWithUnadvertisedSigScheme)?;
    // TLSv1.2 names a scheme that several algorithms may implement: the one for
    // this key's type decides.
    for alg in candidates {
        if alg.public_key_alg_id().as_ref() == key_alg {
            return alg
                .verify_signature(key, message, dss.signature())
                .map(|_| HandshakeSignatureValid::assertion())
                .map_err(|_| Error::InvalidCertificate(CertificateError::BadSignature));
        }
    }
    Err(Error::General(
        "no signature algorithm for the certificate's key".into(),
    ))
}

/// The value of one DER element (the bytes after its tag and length), when
/// `der` is exactly that element.
fn contents(der: &[u8]) -> Option<&[u8]> {
    let (value, rest) = element(der)?;
    rest.is_empty().then_some(value)
}

/// The first DER element of `der`: its value and what follows it.
fn element(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let [_tag, len0, rest @ ..] = der else {
        return None;
    };
    let (len, rest) = if *len0 < 0x80 {
        (*len0 as usize, rest)
    } else {
        let n = (len0 & 0x7f) as usize;
        if n == 0 || n > 4 || rest.len() < n {
            return None;
        }
        let len = rest[..n].iter().fold(0usize, |a, &b| (a << 8) | b as usize);
        (len, &rest[n..])
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

/// A SubjectPublicKeyInfo's contents split into its algorithm identifier's
/// contents (what rustls compares with `public_key_alg_id`) and the key bits.
fn split_key(spki: &[u8]) -> Option<(&[u8], &[u8])> {
    let (alg, rest) = element(spki)?;
    let (bits, rest) = element(rest)?;
    // A BIT STRING's first byte counts the unused bits of the last: 0 for a key.
    let (&unused, key) = bits.split_first()?;
    (rest.is_empty() && unused == 0).then_some((alg, key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn der_elements_are_split_by_their_lengths() {
        assert_eq!(
            element(&[0x30, 2, 1, 2, 9]),
            Some((&[1u8, 2][..], &[9u8][..]))
        );
        let long: Vec<u8> = [0x04, 0x81, 200].into_iter().chain([7u8; 200]).collect();
        assert_eq!(contents(&long).map(<[u8]>::len), Some(200));
        assert_eq!(element(&[0x30, 5, 1]), None);
        assert_eq!(element(&[0x30, 0x80]), None);
        assert_eq!(contents(&[0x30, 1, 1, 0]), None);
        assert_eq!(
            split_key(&[0x30, 1, 5, 0x03, 3, 0, 0xaa, 0xbb]),
            Some((&[5u8][..], &[0xaa, 0xbb][..]))
        );
        assert_eq!(split_key(&[0x30, 1, 5, 0x03, 2, 1, 0xaa]), None);
    }
}
