//! One accepted connection as tonic takes it: open in the task's
//! connections, cut at the end of the shutdown budget, and with the
//! addresses `Request::remote_addr` reports.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use sparts_core::listen::Accepted;
use sparts_core::server::{Cuttable, Watched};
use sparts_core::tls::{ClientIdentity, Secured};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// An accepted connection under its server's time limits, that fails once
/// the shutdown cuts it.
///
/// A newtype only because tonic's `Connected` and core's `Watched` are
/// both foreign to this crate.
#[derive(Debug)]
pub(crate) struct Connection(pub(crate) Watched<Cuttable<Secured>>);

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// What tonic puts in each request's extensions for its connection;
/// [`Metered`](crate::metrics) splits it into tonic's own
/// [`TcpConnectInfo`] (what `Request::remote_addr` reads) and, under mutual
/// TLS, the client's [`ClientIdentity`].
#[derive(Debug, Clone)]
pub(crate) struct ConnectInfo {
    pub(crate) tcp: TcpConnectInfo,
    pub(crate) identity: Option<ClientIdentity>,
}

impl Connected for Connection {
    /// A unix socket has no addresses, which `Request::remote_addr`
    /// reports as `None` (a unix peer).
    type ConnectInfo = ConnectInfo;

    fn connect_info(&self) -> ConnectInfo {
        let secured = self.0.get_ref().get_ref();
        let tcp = match secured.get_ref() {
            Accepted::Tcp(stream, remote) => TcpConnectInfo {
                local_addr: stream.local_addr().ok(),
                remote_addr: Some(*remote),
            },
            Accepted::Unix(_) => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        };
        ConnectInfo {
            tcp,
            identity: secured.client_identity(),
        }
    }
}
