//! Connections the task can cut at the end of the shutdown budget: tonic
//! spawns one task per connection and waits for them all, so the only way
//! to end a stream that never finishes is to fail its connection's reads.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use sparts_core::listen::Accepted;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// The cut, and the wakers of every open connection. A poll reads one
/// atomic; the lock is taken when a connection opens, closes, or its task's
/// waker changes (rarely: it is the same task throughout).
#[derive(Debug, Default)]
pub(crate) struct Cut {
    done: AtomicBool,
    next_id: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Cut {
    /// Fails every connection, now and from now on.
    pub(crate) fn cut(&self) {
        self.done.store(true, Ordering::Release);
        for waker in self.lock().values() {
            waker.wake_by_ref();
        }
    }

    fn is_cut(&self) -> bool {
        self.done.load(Ordering::Acquire)
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        // Each critical section is one map operation: never half done.
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

pin_project_lite::pin_project! {
    /// A connection that fails once the [`Cut`] is made.
    pub(crate) struct Cuttable<IO> {
        #[pin]
        io: IO,
        cut: Arc<Cut>,
        id: u64,
        waker: Option<Waker>,
    }

    impl<IO> PinnedDrop for Cuttable<IO> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if this.waker.is_some() {
                this.cut.lock().remove(this.id);
            }
        }
    }
}

impl<IO> Cuttable<IO> {
    pub(crate) fn new(io: IO, cut: &Arc<Cut>) -> Self {
        Self {
            io,
            id: cut.next_id.fetch_add(1, Ordering::Relaxed),
            cut: Arc::clone(cut),
            waker: None,
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
        if this.cut.is_cut() {
            return Poll::Ready(Err(cut_error()));
        }
        // The connection always has a read pending, so this is where the
        // cut wakes it.
        if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.cut.lock().insert(*this.id, cx.waker().clone());
            *this.waker = Some(cx.waker().clone());
            // A cut between the check above and the registration woke
            // nobody: look again.
            if this.cut.is_cut() {
                return Poll::Ready(Err(cut_error()));
            }
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
        if this.cut.is_cut() {
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
        if this.cut.is_cut() {
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

impl Connected for Cuttable<Accepted> {
    /// tonic's TCP info; a unix socket has no addresses, which
    /// `Request::remote_addr` reports as `None` (a unix peer).
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        match &self.io {
            Accepted::Tcp(stream, remote) => TcpConnectInfo {
                local_addr: stream.local_addr().ok(),
                remote_addr: Some(*remote),
            },
            Accepted::Unix(_) => TcpConnectInfo {
                local_addr: None,
                remote_addr: None,
            },
        }
    }
}
