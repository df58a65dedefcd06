//! The access log every server writes in the same shape: one line per
//! request at info, under the target `sparts::access`, with its facts as
//! fields (JSON logs carry each as a key). Off by default; a task turns it
//! on with its option `--<prefix>-access-log`, also at run time.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::admin::Peer;
use crate::task::TaskContext;
use crate::telemetry::Telemetry;

/// The target of every access log line: `--level info,sparts::access=off`
/// silences them, `--level warn,sparts::access=info` keeps only them.
pub const ACCESS_LOG_TARGET: &str = "sparts::access";

/// One server task's access log: a switch read with one atomic load per
/// request, as it arrives, and the lines. The task's [`RequestMetrics`]
/// write them as they record each request, so a request is logged where it
/// is counted;
/// a task reaches its log through them
/// ([`RequestMetrics::access_log`]) or by its name ([`AccessLog::of`]):
/// everything that records a task's requests (a Thrift route on an HTTP
/// task among them) shares one switch.
///
/// An HTTP line has the fields `task`, `method` (`GET`), `route` (the
/// matched route template, `/kv/{key}`, never the raw path; absent when no
/// route matched), `status` (`200`), `duration_ms` (until the response
/// head) and `peer` (the client's address, or `unix socket`). An RPC line
/// has `task`, `system` (`grpc` or `thrift`), `service`, `method`,
/// `status` (`OK`, the gRPC status name such as `NOT_FOUND`, the Thrift
/// exception's type name, or `APPLICATION_ERROR`: the `code` label of its
/// metrics), `duration_ms` (until the call's status) and `peer` (absent
/// when the transport does not know it). Each line's message is
/// `request`; in the text format a line reads `INFO request task=HttpTask
/// method=GET route=/kv/{key} status=200 duration_ms=0.183
/// peer=127.0.0.1`.
///
/// ```
/// use sparts_core::server::AccessLog;
/// use sparts_core::telemetry::Telemetry;
///
/// let telemetry = Telemetry::new("Svc", None, None);
/// let log = AccessLog::of(&telemetry, "HttpTask");
/// assert!(!log.is_on(), "off by default");
/// log.set(true);
/// assert!(AccessLog::of(&telemetry, "HttpTask").is_on(), "one switch per task");
/// ```
///
/// [`RequestMetrics`]: super::RequestMetrics
/// [`RequestMetrics::access_log`]: super::RequestMetrics::access_log
#[derive(Debug, Clone)]
pub struct AccessLog {
    task: Arc<str>,
    /// Shared by every access log of the task, through the service's
    /// telemetry.
    on: Arc<AtomicBool>,
}

impl AccessLog {
    /// The access log of the server task `task` of the service whose
    /// telemetry is `telemetry`: off until the task turns it on, and the
    /// same switch at every ask.
    pub fn of(telemetry: &Telemetry, task: &str) -> Self {
        Self {
            task: task.into(),
            on: telemetry.access_switch(task),
        }
    }

    /// Whether lines are written: the one check on a request's path while
    /// the log is off.
    #[inline]
    #[must_use]
    pub fn is_on(&self) -> bool {
        self.on.load(Ordering::Relaxed)
    }

    /// Turns the log on or off.
    pub fn set(&self, on: bool) {
        self.on.store(on, Ordering::Relaxed);
    }

    /// Runs `serving`, turning the log on and off meanwhile as the task's
    /// option (`on` reads it from the options) changes at run time, which
    /// it logs (`HttpTask access log off`) once applied.
    pub async fn while_serving<O, F>(
        &self,
        ctx: &TaskContext<O>,
        on: fn(&O) -> bool,
        serving: F,
    ) -> F::Output
    where
        O: Send + Sync + 'static,
        F: Future,
    {
        let mut watch = ctx.watch_options();
        self.set(on(&watch.current()));
        let follow = async {
            loop {
                let options = watch.changed().await;
                let now = on(&options);
                if now != self.is_on() {
                    self.set(now);
                    // Also what tells a caller the change has applied.
                    let state = if now { "on" } else { "off" };
                    tracing::info!("{} access log {state}", self.task);
                }
            }
        };
        tokio::select! {
            output = serving => output,
            () = follow => unreachable!("following the options never ends"),
        }
    }

    /// Writes an HTTP request's line (call it only while [`is_on`](Self::is_on)).
    pub(crate) fn http(
        &self,
        method: &str,
        route: Option<&str>,
        status: u16,
        duration: Duration,
        peer: Peer,
    ) {
        tracing::info!(
            target: ACCESS_LOG_TARGET,
            task = %self.task,
            %method,
            route = route.map(tracing::field::display),
            status,
            duration_ms = millis(duration),
            %peer,
            "request"
        );
    }

    /// Writes an RPC's line (call it only while [`is_on`](Self::is_on)):
    /// `system` is `grpc` or `thrift`.
    pub(crate) fn rpc(
        &self,
        system: &str,
        service: &str,
        method: &str,
        status: &str,
        duration: Duration,
        peer: Option<Peer>,
    ) {
        tracing::info!(
            target: ACCESS_LOG_TARGET,
            task = %self.task,
            %system,
            %service,
            %method,
            %status,
            duration_ms = millis(duration),
            peer = peer.map(tracing::field::display),
            "request"
        );
    }
}

/// Milliseconds to the microsecond: finer is noise in a log line.
fn millis(duration: Duration) -> f64 {
    // Exact below 2^53 µs (285 years).
    duration.as_micros() as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_milliseconds_to_the_microsecond() {
        assert_eq!(millis(Duration::from_nanos(1_234_567)), 1.234);
        assert_eq!(millis(Duration::from_secs(2)), 2000.0);
    }

    #[test]
    fn the_switch_is_shared_by_clones() {
        let log = AccessLog::of(&Telemetry::new("Svc", None, None), "HttpTask");
        let clone = log.clone();
        clone.set(true);
        assert!(log.is_on());
    }
}
