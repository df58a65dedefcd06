//! Every listener's connections as one stream, for servers that take a
//! stream of connections rather than accepting themselves.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_util::stream::{BoxStream, SelectAll, Stream, StreamExt as _};
use tokio_util::sync::CancellationToken;

use super::accept::accept_within_limit;
use super::connections::{ConnectionGuard, Connections};
use crate::listen::{Accepted, Listener};

/// The connections accepted on a server's listeners, as one [`Stream`]:
/// what tonic's `serve_with_incoming_shutdown` takes.
///
/// Each listener is accepted from as [`accept_within_limit`] does: within
/// the server's maximum of connections, a failure of one connection
/// skipped, any other logged and retried after a second, so the stream
/// yields connections only, each opened in the server's [`Connections`].
/// It ends once `stop` is cancelled; the listeners (and a unix socket's
/// file) go when it ends or is dropped.
///
/// ```
/// use futures_util::StreamExt as _;
/// use sparts_core::counters::CounterRegistry;
/// use sparts_core::listen::ListenOptions;
/// use sparts_core::server::{Connections, Incoming};
/// use sparts_core::telemetry::Telemetry;
/// use tokio_util::sync::CancellationToken;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut options = ListenOptions::default();
/// options.host = Some("127.0.0.1".into());
/// let listeners = options.bind(None).await?;
/// let addr = listeners[0].bound_addr()?.tcp().ok_or("a TCP address")?;
/// let connections = Connections::new(&CounterRegistry::new(), &Telemetry::new("Svc", None, None), "T");
/// let stop = CancellationToken::new();
/// let mut incoming = Incoming::new(listeners, &connections, stop.clone());
///
/// let _client = tokio::net::TcpStream::connect(addr).await?;
/// let (accepted, _guard) = incoming.next().await.ok_or("a connection")?;
/// assert!(accepted.remote_addr().is_some_and(|a| a.ip().is_loopback()));
/// assert_eq!(connections.open(), 1);
/// stop.cancel();
/// assert!(incoming.next().await.is_none());
/// # Ok(())
/// # }
/// ```
#[must_use = "a stream does nothing unless polled"]
pub struct Incoming {
    accepting: SelectAll<BoxStream<'static, (Accepted, ConnectionGuard)>>,
}

impl Incoming {
    /// Accepts on every one of `listeners` into `connections` until `stop`
    /// is cancelled.
    pub fn new(
        listeners: Vec<Listener>,
        connections: &Connections,
        stop: CancellationToken,
    ) -> Self {
        let accepting = listeners.into_iter().map(|listener| {
            let stop = stop.clone();
            let connections = connections.clone();
            futures_util::stream::unfold(listener, move |listener| {
                let stop = stop.clone();
                let connections = connections.clone();
                async move {
                    let accepted = accept_within_limit(&listener, &connections, &stop).await?;
                    Some((accepted, listener))
                }
            })
            .boxed()
        });
        Self {
            accepting: futures_util::stream::select_all(accepting),
        }
    }
}

impl Stream for Incoming {
    type Item = (Accepted, ConnectionGuard);

    fn poll_next(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<(Accepted, ConnectionGuard)>> {
        self.accepting.poll_next_unpin(cx)
    }
}

impl fmt::Debug for Incoming {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listeners", &self.accepting.len())
            .finish()
    }
}
