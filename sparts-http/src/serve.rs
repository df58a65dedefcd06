//! The accept loops, the connections, and the shutdown sequence: lame duck,
//! stop accepting, drain, cut.

use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use sparts_core::listen::{Accepted, Listener};
use sparts_core::{BoxError, Status, TaskContext};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::{App, ConnectionService};
use crate::connection::Supervised;
use crate::options::HttpOptions;
use crate::shutdown::{Phase, Shutdown};

/// The most the cut may be brought forward from the end of the shutdown
/// budget: the time to close what is left before the service gives up.
const MAX_CUT_MARGIN: Duration = Duration::from_millis(250);

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
        while let Some(accepted) = listener.accept(&self.stop).await {
            self.serve(accepted);
        }
    }

    fn serve(&self, io: Accepted) {
        self.app.metrics.connections.increment();
        let peer = io.peer();
        let service = ConnectionService::new(Arc::clone(&self.app), peer, io.remote_addr());
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
