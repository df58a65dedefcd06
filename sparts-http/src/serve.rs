//! The accept loops, the connections, and the shutdown sequence: lame duck,
//! stop accepting, drain, cut.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use sparts_core::{BoxError, Peer, Status, TaskContext};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::{App, ConnectionService};
use crate::bind::BoundAddr;
use crate::connection::Supervised;
use crate::options::HttpOptions;
use crate::shutdown::{Phase, Shutdown};
use crate::unix::UnixSocket;

/// The most the cut may be brought forward from the end of the shutdown
/// budget: the time to close what is left before the service gives up.
const MAX_CUT_MARGIN: Duration = Duration::from_millis(250);

/// A bound listener.
#[derive(Debug)]
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixSocket),
}

impl Listener {
    pub(crate) fn bound_addr(&self) -> std::io::Result<BoundAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(BoundAddr::Tcp),
            Listener::Unix(s) => Ok(BoundAddr::Unix(s.path().to_owned())),
        }
    }
}

/// A task's bound listeners and what they serve, between `init` and `run`.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) app: Arc<App>,
    /// One task per open connection.
    pub(crate) connections: TaskTracker,
}

impl Server {
    /// Serves until shutdown, then drains within the service's shutdown
    /// budget and cuts what is left just before it ends.
    pub(crate) async fn run(self, ctx: &TaskContext<HttpOptions>) -> Result<(), BoxError> {
        let name = ctx.name();
        let shutdown = Arc::new(Shutdown::default());
        let accepting = CancellationToken::new();
        let acceptors = TaskTracker::new();
        for listener in self.listeners {
            let acceptor = Acceptor {
                app: Arc::clone(&self.app),
                connections: self.connections.clone(),
                shutdown: Arc::clone(&shutdown),
                stop: accepting.clone(),
            };
            acceptors.spawn(acceptor.run(listener).in_current_span());
        }
        acceptors.close();

        let began = shutdown_began(ctx).await;
        let budget = ctx.service().service_options().shutdown_timeout;
        let cut_at = began + budget.saturating_sub((budget / 10).min(MAX_CUT_MARGIN));
        let lameduck = ctx.options().lameduck;
        if !lameduck.is_zero() {
            tracing::info!(
                "{name} lame duck: serving {:.3} s more while /readyz answers 503",
                lameduck.as_secs_f64()
            );
            if began + lameduck > cut_at {
                tracing::warn!(
                    "{name}: the lame duck period is longer than --shutdown-timeout allows; cut short"
                );
            }
            tokio::time::sleep_until((began + lameduck).min(cut_at)).await;
        }

        accepting.cancel();
        acceptors.wait().await;
        let connections = self.connections;
        connections.close();
        if !connections.is_empty() {
            tracing::info!(
                "{name} stopped accepting; draining {} open connections",
                connections.len()
            );
        }
        shutdown.enter(Phase::Draining);
        if tokio::time::timeout_at(cut_at, connections.wait())
            .await
            .is_err()
        {
            let left = connections.len();
            tracing::warn!(
                "{name}: {left} connections still open at the end of the shutdown budget: cut"
            );
            self.app.metrics.cut.add(left as u64);
            shutdown.enter(Phase::Cut);
            connections.wait().await;
        }
        Ok(())
    }
}

/// Waits until the service begins to shut down (status STOPPING) or the
/// task is stopped (a restart); returns when.
async fn shutdown_began(ctx: &TaskContext<HttpOptions>) -> Instant {
    let mut status = ctx.service().watch_status();
    tokio::select! {
        () = ctx.stopped() => {}
        Ok(_) = status.wait_for(|s| *s == Status::Stopping) => {}
    }
    Instant::now()
}

/// Accepts connections on one listener until told to stop.
struct Acceptor {
    app: Arc<App>,
    connections: TaskTracker,
    shutdown: Arc<Shutdown>,
    stop: CancellationToken,
}

impl Acceptor {
    async fn run(self, listener: Listener) {
        loop {
            let accepted = tokio::select! {
                () = self.stop.cancelled() => return,
                accepted = accept(&listener) => accepted,
            };
            match accepted {
                Ok(Accepted::Tcp(stream, remote)) => {
                    // Small responses go out at once rather than after
                    // Nagle's delay.
                    let _ = stream.set_nodelay(true);
                    self.serve(stream, Peer::Ip(remote.ip()), Some(remote));
                }
                Ok(Accepted::Unix(stream)) => self.serve(stream, Peer::Unix, None),
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    // Out of file descriptors and the like: wait for some to
                    // be freed rather than spin.
                    tracing::warn!("accept failed: {e}; retrying in 1 s");
                    tokio::select! {
                        () = self.stop.cancelled() => return,
                        () = tokio::time::sleep(Duration::from_secs(1)) => {}
                    }
                }
            }
        }
    }

    fn serve<I>(&self, io: I, peer: Peer, remote: Option<std::net::SocketAddr>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.app.metrics.connections.increment();
        let service = ConnectionService::new(Arc::clone(&self.app), peer, remote);
        let conn = http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        let supervised = Supervised::new(conn, Arc::clone(&self.shutdown));
        // A span per connection, off at the default level: entering the
        // task's own span at every poll would make all connections share
        // its reference count, a contended atomic per poll.
        let span = tracing::debug_span!("connection", %peer);
        self.connections.spawn(supervised.instrument(span));
    }
}

enum Accepted {
    Tcp(tokio::net::TcpStream, std::net::SocketAddr),
    Unix(tokio::net::UnixStream),
}

async fn accept(listener: &Listener) -> std::io::Result<Accepted> {
    match listener {
        Listener::Tcp(l) => l.accept().await.map(|(s, a)| Accepted::Tcp(s, a)),
        Listener::Unix(s) => s.listener.accept().await.map(|(s, _)| Accepted::Unix(s)),
    }
}

/// Errors about one connection, not the listener.
fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    )
}
