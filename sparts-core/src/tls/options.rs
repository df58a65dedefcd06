//! The TLS options of a server task.

use std::path::PathBuf;

use super::acceptor::TlsAcceptor;
use crate::error::Result;

/// TLS options of a server task, under its prefix: `--http-tls-cert`,
/// `--grpc-tls-key`, `--thrift-tls-client-ca`. Without a certificate the
/// task speaks in clear.
#[derive(clap::Args, Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// Serve TLS with this certificate chain (PEM), reloaded when the file changes.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The private key of the certificate (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Require client certificates signed by these CAs (PEM): mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_client_ca: Option<PathBuf>,
}

impl TlsOptions {
    /// The acceptor of task `task` offering `alpn` (most preferred first),
    /// or `None` when no certificate is given. An error names the file
    /// that could not be used and why.
    pub fn acceptor(&self, task: &str, alpn: &[&[u8]]) -> Result<Option<TlsAcceptor>> {
        match (&self.tls_cert, &self.tls_key) {
            (Some(cert), Some(key)) => TlsAcceptor::load(
                task,
                cert.clone(),
                key.clone(),
                self.tls_client_ca.clone(),
                alpn,
            )
            .map(Some),
            _ => Ok(None),
        }
    }
}
