//! Reading the PEM files into what rustls serves with, each failure an
//! error that names its file.

use std::path::Path;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::server::danger::ClientCertVerifier;
use rustls::sign::CertifiedKey;

use crate::error::{Error, Result};

/// The crypto of every handshake: ring, as async-nats (sparts-nats) builds
/// it already; rustls marks it deprecated for lacking post-quantum key
/// exchange, which aws-lc-rs has at the price of a C and CMake build.
#[allow(deprecated)]
pub(super) fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(path: &Path, what: impl std::fmt::Display) -> Error {
    Error::Tls(format!("{}: {what}", path.display()))
}

/// Reads `path` whole, so that a missing or unreadable file is told as
/// such rather than as bad PEM.
fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| tls_error(path, format!("cannot read it: {e}")))
}

/// The certificates in the PEM file `path`: at least one.
pub(super) fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>> {
    let pem = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(tls_error(path, "no certificate in it"));
    }
    Ok(certs)
}

/// The certificate chain of `cert` with the key of `key`, checked to
/// belong together.
pub(super) fn certified_key(cert: &Path, key: &Path) -> Result<Arc<CertifiedKey>> {
    let chain = certificates(cert)?;
    let pem = read(key)?;
    let der = PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|e| tls_error(key, format!("no private key in it: {e}")))?;
    let signing = provider()
        .key_provider
        .load_private_key(der)
        .map_err(|e| tls_error(key, format!("an unusable key: {e}")))?;
    let certified = CertifiedKey::new(chain, signing);
    certified.keys_match().map_err(|e| {
        tls_error(
            key,
            format!("does not match the certificate in {}: {e}", cert.display()),
        )
    })?;
    Ok(Arc::new(certified))
}

/// A verifier that requires a client certificate signed by a CA of `ca`.
pub(super) fn client_verifier(ca: &Path) -> Result<Arc<dyn ClientCertVerifier>> {
    let mut roots = RootCertStore::empty();
    for cert in certificates(ca)? {
        roots
            .add(cert)
            .map_err(|e| tls_error(ca, format!("not a CA certificate: {e}")))?;
    }
    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
        .build()
        .map_err(|e| tls_error(ca, e))
}
