//! A server task's TLS handshakes.

use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;

use super::load;
use super::reload::Reloading;
use super::secured::Secured;
use crate::error::{Error, Result};
use crate::listen::Accepted;
use crate::server::{ConnectionGuard, Timeout};

/// Does the TLS handshake of a server task's connections, with its
/// certificate (reloaded when its files change), its ALPN protocols and,
/// under mutual TLS, its client CA. Cheap to clone.
#[derive(Clone)]
pub struct TlsAcceptor {
    inner: tokio_rustls::TlsAcceptor,
    certificate: Arc<Reloading>,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor")
            .field("certificate", &self.certificate)
            .finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// Loads `cert` and `key` (and `client_ca`) for task `task`, offering
    /// `alpn`; the files are looked at again every
    /// [`RELOAD_CHECK`](super::RELOAD_CHECK) while the acceptor lives.
    pub(super) fn load(
        task: &str,
        cert: PathBuf,
        key: PathBuf,
        client_ca: Option<PathBuf>,
        alpn: &[&[u8]],
    ) -> Result<Self> {
        let certificate = Arc::new(Reloading::load(task, cert, key)?);
        let builder = ServerConfig::builder_with_provider(load::provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let builder = match &client_ca {
            Some(ca) => builder.with_client_cert_verifier(load::client_verifier(ca)?),
            None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::clone(&certificate) as _);
        config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
        Reloading::watch(&certificate);
        Ok(Self {
            inner: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            certificate,
        })
    }

    /// The handshake of `io`, failing after `within` (the task's header
    /// timeout) so that a client that stalls in it is closed as one that
    /// stalls in a request's head.
    pub async fn accept(&self, io: Accepted, within: Option<Duration>) -> io::Result<Secured> {
        let handshake = self.inner.accept(io);
        let tls = match within {
            Some(limit) => tokio::time::timeout(limit, handshake).await.map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the TLS handshake took longer than the header timeout",
                )
            })??,
            None => handshake.await?,
        };
        Ok(Secured::Tls(Box::new(tls)))
    }

    /// Loads the certificate files again now if they changed, as the
    /// periodic check does.
    pub fn reload_now(&self) {
        self.certificate.check();
    }
}

/// `io` ready to serve: as it is without `tls`, else after its handshake
/// (bounded by `within`, the header timeout), or `None` if that failed: a
/// handshake that timed out is counted in `header_timeouts`, any other
/// failure (not TLS, no valid client certificate) in `bad_input`.
pub async fn secure(
    tls: Option<&TlsAcceptor>,
    io: Accepted,
    within: Option<Duration>,
    guard: &ConnectionGuard,
) -> Option<Secured> {
    let Some(tls) = tls else {
        return Some(Secured::Plain(io));
    };
    let peer = io.peer();
    match tls.accept(io, within).await {
        Ok(io) => Some(io),
        Err(e) => {
            if e.kind() == io::ErrorKind::TimedOut {
                guard.timed_out(Timeout::Header);
            } else {
                guard.bad_input();
            }
            tracing::debug!("TLS handshake with {peer} failed: {e}");
            None
        }
    }
}
