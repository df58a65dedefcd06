//! Connections the task can cut at the end of the shutdown budget: tonic
//! spawns one task per connection and waits for them all, so the only way
//! to end a stream that never finishes is to fail its connection's reads.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tonic::transport::server::Connected;

pin_project_lite::pin_project! {
    /// A connection that fails once `cut` is cancelled.
    pub(crate) struct Cuttable<IO> {
        #[pin]
        io: IO,
        token: CancellationToken,
        // Boxed: it is not Unpin, and the connection is moved after creation.
        cut: Pin<Box<WaitForCancellationFutureOwned>>,
    }
}

impl<IO> Cuttable<IO> {
    pub(crate) fn new(io: IO, token: &CancellationToken) -> Self {
        Self {
            io,
            token: token.clone(),
            cut: Box::pin(token.clone().cancelled_owned()),
        }
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "cut at the end of the shutdown budget",
    )
}

impl<IO: AsyncRead> AsyncRead for Cuttable<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.project();
        // The connection always has a read pending, so this is where the
        // cut wakes it.
        if this.cut.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(cut_error()));
        }
        this.io.poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite> AsyncWrite for Cuttable<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.token.is_cancelled() {
            return Poll::Ready(Err(cut_error()));
        }
        this.io.poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        if this.token.is_cancelled() {
            return Poll::Ready(Err(cut_error()));
        }
        this.io.poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

impl<IO: Connected> Connected for Cuttable<IO> {
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}
