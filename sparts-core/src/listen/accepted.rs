//! One connection type for TCP and unix sockets, so that a server has one
//! code path for both.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

use crate::admin::Peer;

/// An accepted connection, readable and writable as either socket
/// (`AsyncRead + AsyncWrite`).
#[derive(Debug)]
pub enum Accepted {
    /// A TCP connection (Nagle's algorithm off) and its remote address.
    Tcp(TcpStream, SocketAddr),
    /// A connection on the unix socket.
    Unix(UnixStream),
}

impl Accepted {
    /// Who is on the other end, for the admin model's trust rule.
    #[must_use]
    pub fn peer(&self) -> Peer {
        match self {
            Accepted::Tcp(_, remote) => Peer::Ip(remote.ip()),
            Accepted::Unix(_) => Peer::Unix,
        }
    }

    /// The remote address of a TCP connection (`None` on a unix socket,
    /// whose peers have no address).
    #[must_use]
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        match self {
            Accepted::Tcp(_, remote) => Some(*remote),
            Accepted::Unix(_) => None,
        }
    }
}

impl AsyncRead for Accepted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Accepted::Tcp(s, _) => Pin::new(s).poll_read(cx, buf),
            Accepted::Unix(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Accepted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Accepted::Tcp(s, _) => Pin::new(s).poll_write(cx, buf),
            Accepted::Unix(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Accepted::Tcp(s, _) => Pin::new(s).poll_write_vectored(cx, bufs),
            Accepted::Unix(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Accepted::Tcp(s, _) => s.is_write_vectored(),
            Accepted::Unix(s) => s.is_write_vectored(),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Accepted::Tcp(s, _) => Pin::new(s).poll_flush(cx),
            Accepted::Unix(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Accepted::Tcp(s, _) => Pin::new(s).poll_shutdown(cx),
            Accepted::Unix(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}
