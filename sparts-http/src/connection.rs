//! One connection's task: serves it with hyper (HTTP/1.1, or HTTP/2 when
//! the client opens with its preface), drains it (finish the request in
//! flight, then close: `Connection: close` on HTTP/1.1, on the next
//! response if none is in flight, see [`crate::drain`]; GOAWAY on HTTP/2)
//! and cuts it as its server's shutdown says, open in the server's
//! connections until it ends.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sparts_core::server::{ConnectionGuard, Phase, Watched};
use sparts_core::tls::Secured;

use crate::app::ConnectionService;
use crate::drain::{CloseWhenDraining, DrainState, IDLE_GRACE};

/// What a connection reads and writes: the accepted socket (after its TLS
/// handshake, with TLS) under the server's time limits.
pub(crate) type Io = TokioIo<Watched<Secured>>;

pub(crate) type Connection<'a> =
    auto::UpgradeableConnection<'a, Io, CloseWhenDraining<ConnectionService>, TokioExecutor>;

/// A connection that drains at [`Phase::Draining`] and ends at
/// [`Phase::Cut`].
pub(crate) struct Supervised<'a> {
    // Boxed: a connection is large and moved into its task once.
    conn: Pin<Box<Connection<'a>>>,
    guard: ConnectionGuard,
    draining: bool,
    /// Shared with the connection's service (see [`crate::drain`]).
    drain: Arc<DrainState>,
    /// Until an HTTP/1.1 connection that is still open is shut down.
    grace: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<'a> Supervised<'a> {
    pub(crate) fn new(
        conn: Connection<'a>,
        guard: ConnectionGuard,
        drain: Arc<DrainState>,
    ) -> Self {
        Self {
            conn: Box::pin(conn),
            guard,
            draining: false,
            drain,
            grace: None,
        }
    }
}

impl Future for Supervised<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        match this.guard.poll_phase(cx) {
            Phase::Serving => {}
            Phase::Draining if !this.draining => {
                this.draining = true;
                this.drain.begin();
                if this.drain.is_http2() {
                    this.conn.as_mut().graceful_shutdown();
                } else {
                    this.grace = Some(Box::pin(tokio::time::sleep(IDLE_GRACE)));
                }
            }
            Phase::Draining => {}
            // Ended here, the connection and its guard drop with the task.
            _ => return Poll::Ready(()),
        }
        if let Some(grace) = &mut this.grace
            && grace.as_mut().poll(cx).is_ready()
        {
            this.grace = None;
            this.conn.as_mut().graceful_shutdown();
        }
        match this.conn.as_mut().poll(cx) {
            Poll::Ready(Err(e)) => {
                if e.downcast_ref::<hyper::Error>()
                    .is_some_and(|e| e.is_parse() || e.is_parse_too_large())
                {
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
