//! A connection's IO that fails once the shutdown cuts it: for servers
//! whose library spawns the connection tasks itself (tonic), failing the
//! reads and writes is the only way to end a stream that never finishes.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::connections::{ConnectionGuard, Phase};

/// `io`, open in its server's [`Connections`](super::Connections) until
/// dropped, whose reads and writes fail with `ConnectionAborted` once the
/// shutdown reaches [`Phase::Cut`].
#[derive(Debug)]
pub struct Cuttable<IO> {
    io: IO,
    guard: ConnectionGuard,
}

impl<IO> Cuttable<IO> {
    /// Wraps `io`, counted open by `guard`.
    pub fn new(io: IO, guard: ConnectionGuard) -> Self {
        Self { io, guard }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The connection's place in the shutdown.
    pub fn guard(&self) -> &ConnectionGuard {
        &self.guard
    }
}

fn cut_error() -> io::Error {
    io::Error::new(
        io::ErrorKind::ConnectionAborted,
        "cut at the end of the shutdown budget",
    )
}

impl<IO: AsyncRead + Unpin> AsyncRead for Cuttable<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // The connection always has a read pending, so this is where the
        // cut wakes it.
        if self.guard.poll_phase(cx) == Phase::Cut {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Cuttable<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.guard.phase() == Phase::Cut {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.guard.phase() == Phase::Cut {
            return Poll::Ready(Err(cut_error()));
        }
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::counters::CounterRegistry;
    use crate::server::Connections;
    use crate::telemetry::Telemetry;

    #[tokio::test(start_paused = true)]
    async fn a_pending_read_fails_at_the_cut_and_the_connection_closes() {
        let connections = Connections::new(
            &CounterRegistry::new(),
            &Telemetry::new("Svc", None, None),
            "T",
        );
        let (ours, mut theirs) = tokio::io::duplex(64);
        let mut conn = Cuttable::new(ours, connections.open_connection());
        theirs.write_all(b"ping").await.expect("write");
        let mut buf = [0u8; 4];
        conn.read_exact(&mut buf)
            .await
            .expect("served before the cut");
        assert_eq!(&buf, b"ping");
        let reader = tokio::spawn(async move {
            let mut more = [0u8; 1];
            conn.read(&mut more).await
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!reader.is_finished(), "waits for the peer");
        assert_eq!(connections.cut(), 1);
        let read = tokio::time::timeout(Duration::from_secs(1), reader)
            .await
            .expect("woken by the cut")
            .expect("no panic");
        assert_eq!(
            read.expect_err("cut").kind(),
            io::ErrorKind::ConnectionAborted
        );
        assert_eq!(connections.open(), 0, "the IO was dropped with its task");
    }
}
