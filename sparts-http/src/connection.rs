//! One connection's task: serves it with hyper, drains it (finish the
//! request in flight, then close) and cuts it when the shutdown says so.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};

use crate::app::ConnectionService;
use crate::shutdown::{Phase, Shutdown};

pub(crate) type Connection<I> = http1::UpgradeableConnection<TokioIo<I>, ConnectionService>;

/// A connection that drains and closes when the shutdown says so.
pub(crate) struct Supervised<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    // Boxed: a connection is large and moved into its task once.
    conn: Pin<Box<Connection<I>>>,
    shutdown: Arc<Shutdown>,
    /// The id and waker registered with the shutdown.
    registered: Option<(u64, Waker)>,
    draining: bool,
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Supervised<I> {
    pub(crate) fn new(conn: Connection<I>, shutdown: Arc<Shutdown>) -> Self {
        Self {
            conn: Box::pin(conn),
            shutdown,
            registered: None,
            draining: false,
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Future for Supervised<I> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        // Registered before the phase is read, so a shutdown that starts in
        // between still wakes this task.
        match &this.registered {
            None => {
                let id = this.shutdown.register(cx.waker());
                this.registered = Some((id, cx.waker().clone()));
            }
            Some((id, waker)) if !waker.will_wake(cx.waker()) => {
                this.shutdown.update(*id, cx.waker());
                this.registered = Some((*id, cx.waker().clone()));
            }
            Some(_) => {}
        }
        match this.shutdown.phase() {
            Phase::Serving => {}
            Phase::Draining if !this.draining => {
                this.draining = true;
                this.conn.as_mut().graceful_shutdown();
            }
            Phase::Draining => {}
            Phase::Cut => return Poll::Ready(()),
        }
        match this.conn.as_mut().poll(cx) {
            Poll::Ready(Err(e)) => {
                tracing::debug!("connection ended: {e}");
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Drop for Supervised<I> {
    fn drop(&mut self) {
        if let Some((id, _)) = &self.registered {
            self.shutdown.remove(*id);
        }
    }
}
