//! The accept loops, the connections, and the shutdown sequence: lame duck,
//! stop accepting, drain, cut.

use std::sync::Arc;

use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use sparts_core::listen::{Accepted, Listener};
use sparts_core::server::{
    Activity, ConnectionGuard, Connections, ShutdownPlan, TimeLimits, Watched, accept_within_limit,
};
use sparts_core::tls::{TlsAcceptor, secure};
use sparts_core::{BoxError, TaskContext};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

use crate::app::{App, ConnectionService};
use crate::connection::Supervised;
use crate::drain::{CloseWhenDraining, DrainState};
use crate::options::HttpOptions;

/// A task's bound listeners and what they serve, between `init` and `run`.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) app: Arc<App>,
    pub(crate) connections: Connections,
    pub(crate) limits: TimeLimits,
    pub(crate) tls: Option<TlsAcceptor>,
}

impl Server {
    /// Serves until shutdown, then follows the shutdown plan: lame duck,
    /// stop accepting, drain, cut.
    pub(crate) async fn run(self, ctx: &TaskContext<HttpOptions>) -> Result<(), BoxError> {
        let accepting = CancellationToken::new();
        let acceptors = TaskTracker::new();
        let protocols = Arc::new(auto::Builder::new(TokioExecutor::new()));
        for listener in self.listeners {
            let acceptor = Acceptor {
                app: Arc::clone(&self.app),
                connections: self.connections.clone(),
                limits: self.limits,
                tls: self.tls.clone(),
                protocols: Arc::clone(&protocols),
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
    limits: TimeLimits,
    tls: Option<TlsAcceptor>,
    /// HTTP/1.1, and HTTP/2 for a client that opens with its preface (or
    /// asks for `h2` by ALPN).
    protocols: Arc<auto::Builder<TokioExecutor>>,
    stop: CancellationToken,
}

impl Acceptor {
    async fn run(self, listener: Listener) {
        while let Some((accepted, guard)) =
            accept_within_limit(&listener, &self.connections, &self.stop).await
        {
            self.serve(accepted, guard);
        }
    }

    fn serve(&self, io: Accepted, guard: ConnectionGuard) {
        let peer = io.peer();
        let app = Arc::clone(&self.app);
        let limits = self.limits;
        let tls = self.tls.clone();
        let connections = self.connections.clone();
        let protocols = Arc::clone(&self.protocols);
        // A span per connection, off at the default level: entering the
        // task's own span at every poll would make all connections share
        // its reference count, a contended atomic per poll.
        let span = tracing::debug_span!("connection", %peer);
        tokio::spawn(
            async move {
                // The handshake in the connection's own task, so that a slow
                // one holds no other client back.
                let Some(io) = secure(tls.as_ref(), io, limits.header, &guard).await else {
                    return;
                };
                let activity = Arc::new(Activity::default());
                let service = ConnectionService::new(
                    app,
                    peer,
                    io.remote_addr(),
                    io.client_identity(),
                    Arc::clone(&activity),
                );
                let drain = Arc::new(DrainState::default());
                let service = CloseWhenDraining::new(service, Arc::clone(&drain));
                let io = Watched::new(io, limits, activity, &connections);
                let conn = protocols.serve_connection_with_upgrades(TokioIo::new(io), service);
                Supervised::new(conn, guard, drain).await;
            }
            .instrument(span),
        );
    }
}
