//! One shutdown plan for every server: readiness flips at once (the
//! status is `STOPPING`), then the lame duck period, stop accepting, drain,
//! and cut what is left just before the service's shutdown budget ends,
//! counted from the moment the shutdown began.

use std::time::Duration;

use tokio::time::{Instant, sleep_until, timeout_at};
use tracing::{info, warn};

use super::connections::{Connections, Phase};
use crate::status::Status;
use crate::task::TaskContext;

/// The most the cut may be brought forward from the end of the shutdown
/// budget: the time to close what is left before the service gives up on
/// the task and aborts it.
const MAX_CUT_MARGIN: Duration = Duration::from_millis(250);

/// When a server's shutdown began and when it must cut what is left.
///
/// ```no_run
/// # use sparts_core::{BoxError, TaskContext};
/// # use sparts_core::server::{Connections, ShutdownPlan};
/// # async fn run(ctx: TaskContext, connections: Connections, lame_duck: std::time::Duration) -> Result<(), BoxError> {
/// // ... accept loops serve until told to stop ...
/// let plan = ShutdownPlan::wait(&ctx).await;
/// plan.lame_duck(lame_duck).await;
/// // ... stop accepting ...
/// plan.drain(&connections).await;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownPlan {
    task: String,
    began: Instant,
    cut_at: Instant,
}

impl ShutdownPlan {
    /// Waits until the service begins to shut down (its status turns
    /// `STOPPING`) or this task is stopped (a restart), and plans within
    /// `--shutdown-timeout` from the moment the shutdown or the restart
    /// began, as the service's runner counts it: a server stopped after a
    /// slow task still cuts its connections before the runner gives up on
    /// it.
    pub async fn wait<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> Self {
        let service = ctx.service();
        let mut status = service.watch_status();
        tokio::select! {
            () = ctx.stopped() => {}
            Ok(_) = status.wait_for(|s| *s == Status::Stopping) => {}
        }
        let began = service
            .shutdown_began()
            .or_else(|| service.stop_began())
            .unwrap_or_else(Instant::now);
        Self::new(
            ctx.name(),
            began,
            service.service_options().shutdown_timeout,
        )
    }

    /// A plan for `task` whose shutdown began at `began`, with `budget` to
    /// finish in.
    pub fn new(task: &str, began: Instant, budget: Duration) -> Self {
        let margin = (budget / 10).min(MAX_CUT_MARGIN);
        Self {
            task: task.to_owned(),
            began,
            cut_at: began + budget.saturating_sub(margin),
        }
    }

    /// When the shutdown began.
    pub fn began(&self) -> Instant {
        self.began
    }

    /// When what is still open gets cut: shortly before the budget ends.
    pub fn cut_at(&self) -> Instant {
        self.cut_at
    }

    /// Keeps serving for `period` from the moment the shutdown began, while
    /// readiness already says not ready, so that load balancers stop sending
    /// before the server stops accepting. Cut short at the cut.
    pub async fn lame_duck(&self, period: Duration) {
        if period.is_zero() {
            return;
        }
        let task = &self.task;
        info!(
            "{task} lame duck: serving {:.3} s more while readiness reports not ready",
            period.as_secs_f64()
        );
        let until = self.began + period;
        if until > self.cut_at {
            warn!(
                "{task}: the lame duck period is longer than --shutdown-timeout allows; cut short"
            );
        }
        sleep_until(until.min(self.cut_at)).await;
    }

    /// Drains `connections` (requests in flight finish, idle connections
    /// close), and at the cut closes those still open, counting them in
    /// `cut_connections`. Call it once the server stopped accepting.
    pub async fn drain(&self, connections: &Connections) {
        let task = &self.task;
        let open = connections.open();
        if open > 0 {
            info!("{task} stopped accepting; draining {open} open connections");
        }
        connections.enter(Phase::Draining);
        if timeout_at(self.cut_at, connections.closed()).await.is_ok() {
            return;
        }
        let left = connections.cut();
        warn!("{task}: {left} connections still open at the end of the shutdown budget: cut");
        // Cut connections end at their next poll.
        connections.closed().await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::counters::CounterRegistry;
    use crate::telemetry::Telemetry;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn the_cut_comes_a_tenth_of_the_budget_early_at_most_a_quarter_second() {
        let now = Instant::now();
        assert_eq!(
            ShutdownPlan::new("T", now, SEC).cut_at(),
            now + Duration::from_millis(900)
        );
        assert_eq!(
            ShutdownPlan::new("T", now, 10 * SEC).cut_at(),
            now + Duration::from_millis(9750)
        );
        assert_eq!(ShutdownPlan::new("T", now, Duration::ZERO).cut_at(), now);
    }

    #[tokio::test(start_paused = true)]
    async fn the_lame_duck_counts_from_the_beginning_and_stops_at_the_cut() {
        let began = Instant::now();
        let plan = ShutdownPlan::new("T", began, 10 * SEC);
        tokio::time::sleep(SEC).await;
        plan.lame_duck(3 * SEC).await;
        assert_eq!(Instant::now() - began, 3 * SEC);
        let short = ShutdownPlan::new("T", Instant::now(), 2 * SEC);
        let from = Instant::now();
        short.lame_duck(5 * SEC).await;
        assert_eq!(Instant::now() - from, Duration::from_millis(1800));
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_waits_for_connections_to_finish() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let guard = connections.open_connection();
        // A connection that finishes its request 2 s into the drain.
        let finishing = tokio::spawn(async move {
            guard.reached(Phase::Draining).await;
            tokio::time::sleep(2 * SEC).await;
            drop(guard);
        });
        let began = Instant::now();
        ShutdownPlan::new("T", began, 10 * SEC)
            .drain(&connections)
            .await;
        assert_eq!(Instant::now() - began, 2 * SEC);
        assert_eq!(counters.snapshot().get("cut_connections"), Some(0.0));
        finishing.await.expect("no panic");
    }

    #[tokio::test(start_paused = true)]
    async fn a_drain_cuts_what_is_left_at_the_cut() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let cut_seen = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut streams = Vec::new();
        for _ in 0..3 {
            let guard = connections.open_connection();
            let seen = Arc::clone(&cut_seen);
            // Streams that never end on their own.
            streams.push(tokio::spawn(async move {
                guard.reached(Phase::Cut).await;
                seen.store(true, std::sync::atomic::Ordering::Relaxed);
            }));
        }
        let began = Instant::now();
        ShutdownPlan::new("T", began, SEC).drain(&connections).await;
        assert_eq!(Instant::now() - began, Duration::from_millis(900));
        assert!(cut_seen.load(std::sync::atomic::Ordering::Relaxed));
        assert_eq!(counters.snapshot().get("cut_connections"), Some(3.0));
        assert_eq!(connections.open(), 0);
    }
}
