//! `grpc.health.v1.Health` driven by the service's readiness.

use sparts_core::TaskContext;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

use crate::options::GrpcOptions;

/// The entries of the health service: "" (the whole server) and each
/// hosted service.
#[derive(Debug, Clone)]
pub(crate) struct Health {
    pub(crate) reporter: HealthReporter,
    pub(crate) names: Vec<String>,
}

impl Health {
    /// Sets every entry.
    pub(crate) async fn set(&self, serving: bool) {
        let status = if serving {
            ServingStatus::Serving
        } else {
            ServingStatus::NotServing
        };
        for name in &self.names {
            self.reporter.set_service_status(name, status).await;
        }
    }

    /// Follows the service's readiness until the task stops: SERVING
    /// while ALIVE or WARNING with no readiness hold, NOT_SERVING otherwise
    /// (STARTING, held not ready, and STOPPING from the moment shutdown is
    /// requested). Ends NOT_SERVING.
    pub(crate) async fn follow(&self, ctx: &TaskContext<GrpcOptions>) {
        let mut ready = ctx.service().watch_ready();
        // Init left every entry NOT_SERVING. Watchers get an update per
        // `set`, so only changes are set.
        let mut serving = false;
        loop {
            let now = *ready.borrow_and_update() && !ctx.is_stopping();
            if now != serving {
                serving = now;
                self.set(serving).await;
            }
            tokio::select! {
                changed = ready.changed() => if changed.is_err() { break },
                () = ctx.stopped() => break,
            }
        }
        if serving {
            self.set(false).await;
        }
    }
}
