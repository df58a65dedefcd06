//! The accept loops and the shutdown sequence: lame duck, stop accepting,
//! drain, cut, as core's [`ShutdownPlan`] says.

use std::sync::Arc;

use sparts_core::TaskContext;
use sparts_core::listen::Listener;
use sparts_core::server::{Connections, ShutdownPlan, accept_within_limit};
use sparts_core::tls::secure;
use tokio_util::sync::CancellationToken;
use tokio_util::task::AbortOnDropHandle;
use tracing::Instrument as _;

use crate::conn::{self, Shared};
use crate::options::ThriftOptions;

/// A server's bound listeners and what its connections share, between
/// `init` and `run`.
#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) listeners: Vec<Listener>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) connections: Connections,
}

impl Server {
    /// Serves until the service begins to shut down (or the task is
    /// stopped, for a restart), then follows the shutdown plan.
    pub(crate) async fn run(self, ctx: &TaskContext<ThriftOptions>) {
        let accepting = CancellationToken::new();
        let acceptors: Vec<_> = self
            .listeners
            .into_iter()
            .map(|listener| {
                let acceptor = Acceptor {
                    shared: Arc::clone(&self.shared),
                    connections: self.connections.clone(),
                    stop: accepting.clone(),
                };
                // In the task's span, so that accept errors name the task.
                AbortOnDropHandle::new(tokio::spawn(acceptor.run(listener).in_current_span()))
            })
            .collect();
        let _cut = CutWhenAborted(&self.connections);

        let plan = ShutdownPlan::wait(ctx).await;
        plan.lame_duck(ctx.options().lameduck).await;
        accepting.cancel();
        // The listeners go with their loops: a unix socket's file is gone
        // before the service reports it has stopped.
        for acceptor in acceptors {
            let _ = acceptor.await;
        }
        plan.drain(&self.connections).await;
    }
}

/// Accepts connections on one listener until told to stop.
struct Acceptor {
    shared: Arc<Shared>,
    connections: Connections,
    stop: CancellationToken,
}

impl Acceptor {
    async fn run(self, listener: Listener) {
        while let Some((accepted, guard)) =
            accept_within_limit(&listener, &self.connections, &self.stop).await
        {
            let peer = accepted.peer();
            let shared = Arc::clone(&self.shared);
            match &shared.tls {
                None => tokio::spawn(conn::serve(accepted, peer, shared, guard)),
                Some(tls) => {
                    let tls = tls.clone();
                    // The handshake in the connection's own task, so that a
                    // slow one holds no other client back.
                    tokio::spawn(async move {
                        let within = shared.limits.header;
                        if let Some(io) = secure(Some(&tls), accepted, within, &guard).await {
                            conn::serve(io, peer, shared, guard).await;
                        }
                    })
                }
            };
        }
    }
}

/// Cuts the connections still open when `run` is dropped before its drain
/// ends (the service aborting the task), so that none outlives the task.
/// After a drain none is left and this does nothing.
struct CutWhenAborted<'a>(&'a Connections);

impl Drop for CutWhenAborted<'_> {
    fn drop(&mut self) {
        if self.0.open() > 0 {
            self.0.cut();
        }
    }
}
