//! A connection after its handshake: in clear on a plain listener, or TLS.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::CertificateDer;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_rustls::server::TlsStream;

use crate::admin::Peer;
use crate::listen::Accepted;

/// An accepted connection as a server reads and writes it: in clear, or
/// TLS once its handshake is done.
#[derive(Debug)]
pub enum Secured {
    /// In clear.
    Plain(Accepted),
    /// TLS, handshake done. Boxed: the session is a few kilobytes.
    Tls(Box<TlsStream<Accepted>>),
}

/// The certificate chain a client proved it holds under mutual TLS
/// (`--<prefix>-tls-client-ca`), verified against that CA: the client's
/// own certificate first, in DER, for a handler to read its subject or
/// names with an X.509 parser. HttpTask puts it in each request's
/// extensions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    // Shared: each request of the connection carries it.
    chain: Arc<[CertificateDer<'static>]>,
}

impl ClientIdentity {
    /// The client's certificate (DER).
    #[must_use]
    pub fn certificate(&self) -> &[u8] {
        self.chain.first().map_or(&[], |c| c.as_ref())
    }

    /// The whole chain the client sent, its own certificate first.
    #[must_use]
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }
}

impl Secured {
    /// The connection underneath.
    #[must_use]
    pub fn get_ref(&self) -> &Accepted {
        match self {
            Secured::Plain(io) => io,
            Secured::Tls(tls) => tls.get_ref().0,
        }
    }

    /// Who is at the other end.
    #[must_use]
    pub fn peer(&self) -> Peer {
        self.get_ref().peer()
    }

    /// The TCP peer's address (none on a unix socket).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.get_ref().remote_addr()
    }

    /// The protocol ALPN agreed on (`h2`, `http/1.1`), if any.
    #[must_use]
    pub fn alpn(&self) -> Option<&[u8]> {
        match self {
            Secured::Plain(_) => None,
            Secured::Tls(tls) => tls.get_ref().1.alpn_protocol(),
        }
    }

    /// Whether this connection is TLS.
    #[must_use]
    pub fn is_tls(&self) -> bool {
        matches!(self, Secured::Tls(_))
    }

    /// The verified client certificate, under mutual TLS.
    #[must_use]
    pub fn client_identity(&self) -> Option<ClientIdentity> {
        let Secured::Tls(tls) = self else {
            return None;
        };
        let chain = tls.get_ref().1.peer_certificates()?;
        Some(ClientIdentity {
            chain: chain
                .iter()
                .map(|c| c.clone().into_owned())
                .collect::<Vec<_>>()
                .into(),
        })
    }
}

impl AsyncRead for Secured {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Secured::Tls(tls) => Pin::new(tls.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Secured {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Secured::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Secured::Tls(tls) => Pin::new(tls.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Secured::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Secured::Tls(tls) => Pin::new(tls.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Secured::Plain(io) => io.is_write_vectored(),
            Secured::Tls(tls) => tls.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(io) => Pin::new(io).poll_flush(cx),
            Secured::Tls(tls) => Pin::new(tls.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Secured::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Secured::Tls(tls) => Pin::new(tls.as_mut()).poll_shutdown(cx),
        }
    }
}
