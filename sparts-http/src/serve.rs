//! The accept loops, the connections, and the shutdown sequence: lame duck,
//! stop accepting, drain, cut.

use std::sync::Arc;

use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use sparts_core::listen::{Accepted, Listener};
use sparts_core::server::{Connections, ShutdownPlan};
use sparts_core::{BoxError, TaskContext};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::{App, ConnectionService};
use crate::connection::Supervised;
use crate::options::HttpOptions;

/// A task's bound listeners and what they serve, between `init` and `run`.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) app: Arc<App>,
    pub(crate) connections: Connections,
}

impl Server {
    /// Serves until shutdown, then follows the shutdown plan: lame duck,
    /// stop accepting, drain, cut.
    pub(crate) async fn run(self, ctx: &TaskContext<HttpOptions>) -> Result<(), BoxError> {
        let accepting = CancellationToken::new();
        let acceptors = TaskTracker::new();
        for listener in self.listeners {
            let acceptor = Acceptor {
                app: Arc::clone(&self.app),
                connections: self.connections.clone(),
                stop: accepting.clone(),
            };
            acceptors.spawn(acceptor.run(listener).in_current_span());
        }
        acceptors.close();

        let plan = ShutdownPlan::wait(ctx).await;
        plan.lame_duck(ctx.options().lameduck).await;
        accepting.cancel();
        acceptors.wait().await;
        plan.drain(&self.connections).await;
        Ok(())
    }
}

/// Accepts connections on one listener until told to stop.
struct Acceptor {
    app: Arc<App>,
    connections: Connections,
    stop: CancellationToken,
}

impl Acceptor {
    async fn run(self, listener: Listener) {
        while let Some(accepted) = listener.accept(&self.stop).await {
            self.serve(accepted);
        }
    }

    fn serve(&self, io: Accepted) {
        let guard = self.connections.open_connection();
        let peer = io.peer();
        let service = ConnectionService::new(Arc::clone(&self.app), peer, io.remote_addr());
        let conn = http1::Builder::new()
            .serve_connection(TokioIo::new(io), service)
            .with_upgrades();
        // A span per connection, off at the default level: entering the
        // task's own span at every poll would make all connections share
        // its reference count, a contended atomic per poll.
        let span = tracing::debug_span!("connection", %peer);
        tokio::spawn(Supervised::new(conn, guard).instrument(span));
    }
}
