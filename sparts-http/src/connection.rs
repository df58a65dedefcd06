//! One connection's task: serves it with hyper, drains it (finish the
//! request in flight, then close) and cuts it as its server's shutdown
//! says, open in the server's connections until it ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use sparts_core::server::{ConnectionGuard, Phase};
use tokio::io::{AsyncRead, AsyncWrite};

use crate::app::ConnectionService;

pub(crate) type Connection<I> = http1::UpgradeableConnection<TokioIo<I>, ConnectionService>;

/// A connection that drains at [`Phase::Draining`] and ends at
/// [`Phase::Cut`].
pub(crate) struct Supervised<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> {
    // Boxed: a connection is large and moved into its task once.
    conn: Pin<Box<Connection<I>>>,
    guard: ConnectionGuard,
    draining: bool,
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Supervised<I> {
    pub(crate) fn new(conn: Connection<I>, guard: ConnectionGuard) -> Self {
        Self {
            conn: Box::pin(conn),
            guard,
            draining: false,
        }
    }
}

impl<I: AsyncRead + AsyncWrite + Unpin + Send + 'static> Future for Supervised<I> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.guard.poll_phase(cx) {
            Phase::Serving => {}
            Phase::Draining if !this.draining => {
                this.draining = true;
                this.conn.as_mut().graceful_shutdown();
            }
            Phase::Draining => {}
            // Ended here, the connection and its guard drop with the task.
            _ => return Poll::Ready(()),
        }
        match this.conn.as_mut().poll(cx) {
            Poll::Ready(Err(e)) => {
                if e.is_parse() || e.is_parse_too_large() {
                    this.guard.bad_input();
                }
                tracing::debug!("connection ended: {e}");
                Poll::Ready(())
            }
            Poll::Ready(Ok(())) => Poll::Ready(()),
            Poll::Pending => Poll::Pending,
        }
    }
}
