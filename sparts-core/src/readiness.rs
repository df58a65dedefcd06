//! Readiness holds: a task keeps the service out of rotation (its database
//! is down, its cache is warming) without calling it unhealthy. Health
//! checks that route traffic (`/readyz`, gRPC health) follow readiness;
//! the status (fb303 `getStatus`) stays what it is.

use std::sync::{Arc, Weak};

use tokio::sync::watch;

use crate::handle::{ServiceHandle, Shared, lock};
use crate::status::{HoldId, Readiness};

impl ServiceHandle {
    /// Holds the service not ready, for `reason`, until the returned guard
    /// is dropped (or [released](NotReady::release)).
    ///
    /// While any hold is active, readiness checks fail: `/readyz` answers
    /// 503 with the reasons, gRPC health answers `NOT_SERVING`, and
    /// [`status_details`](Self::status_details) lists each reason as
    /// `not ready: <reason>`. The status itself does not change: a held
    /// service is `ALIVE` (fb303 `getStatus`), not `WARNING`, since
    /// nothing is wrong with it that a restart would fix. Any number of
    /// holds can be active at once; a line break in a reason becomes a
    /// space, as the details and `/readyz` give one reason per line.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sparts_core::Result<()> {
    /// use sparts_core::{Status, VService};
    ///
    /// let running = VService::new("Demo").start_with_args(["demo"]).await?;
    /// let handle = running.handle();
    /// assert!(handle.is_ready());
    /// let warming = handle.hold_not_ready("cache warming");
    /// assert!(!handle.is_ready());
    /// assert_eq!(handle.status(), Status::Alive);
    /// assert_eq!(handle.status_details(), "not ready: cache warming");
    /// warming.set_reason("cache warming: 80%");
    /// assert_eq!(handle.readiness().holds, ["cache warming: 80%"]);
    /// drop(warming);
    /// assert!(handle.is_ready());
    /// running.shutdown().await
    /// # }
    /// ```
    pub fn hold_not_ready(&self, reason: impl Into<String>) -> NotReady {
        let reason = one_line(reason.into());
        tracing::info!(service = %self.name(), "readiness held: {reason}");
        let id = self.update_status(|s| s.hold(reason));
        NotReady {
            service: Arc::downgrade(&self.shared),
            id,
        }
    }

    /// The status and every readiness hold, read at one moment.
    pub fn readiness(&self) -> Readiness {
        lock(&self.shared.status).readiness()
    }

    /// Whether the service should get traffic: `ALIVE` or `WARNING`, and
    /// no [`hold_not_ready`](Self::hold_not_ready) hold active. False while
    /// it starts and from the moment shutdown begins.
    pub fn is_ready(&self) -> bool {
        lock(&self.shared.status).is_ready()
    }

    /// A receiver that sees every change of [`is_ready`](Self::is_ready).
    pub fn watch_ready(&self) -> watch::Receiver<bool> {
        self.shared.ready_tx.subscribe()
    }
}

/// A readiness hold from [`ServiceHandle::hold_not_ready`]: the service is
/// not ready while this guard lives. Dropping it releases the hold.
///
/// The guard does not keep the service alive: one that outlives its
/// service does nothing when dropped.
#[must_use = "the service is not ready only until this guard is dropped"]
pub struct NotReady {
    service: Weak<Shared>,
    id: HoldId,
}

impl NotReady {
    /// Gives the hold a new reason (`database reconnecting, attempt 3`);
    /// the service stays not ready.
    pub fn set_reason(&self, reason: impl Into<String>) {
        let Some(handle) = self.handle() else { return };
        let reason = one_line(reason.into());
        let logged = reason.clone();
        let old = handle.update_status(|s| s.update_hold(self.id, reason));
        if let Some(old) = old.filter(|old| *old != logged) {
            tracing::info!(service = %handle.name(), "readiness held: {logged} (was: {old})");
        }
    }

    /// Releases the hold now; the same as dropping the guard.
    pub fn release(self) {}

    fn handle(&self) -> Option<ServiceHandle> {
        self.service
            .upgrade()
            .map(|shared| ServiceHandle { shared })
    }
}

impl Drop for NotReady {
    fn drop(&mut self) {
        let Some(handle) = self.handle() else { return };
        if let Some(reason) = handle.update_status(|s| s.release(self.id)) {
            tracing::info!(service = %handle.name(), "readiness hold released: {reason}");
        }
    }
}

impl std::fmt::Debug for NotReady {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NotReady").field("id", &self.id).finish()
    }
}

/// A reason as one line of the status details.
fn one_line(reason: String) -> String {
    if reason.contains(['\n', '\r']) {
        reason.replace(['\n', '\r'], " ")
    } else {
        reason
    }
}
