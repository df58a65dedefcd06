//! A periodic task from an async closure, named where it is registered.

use std::future::Future;
use std::sync::Arc;

use super::{Periodic, PeriodicContext, PeriodicOutput, PeriodicTask};
use crate::error::BoxError;
use crate::task::{NoOptions, TaskSpec};

/// The [`Periodic`] behind [`TaskSpec::periodic`]: the closure is shared by
/// every start, so it need not be `Clone`.
struct FnPeriodic<F>(Arc<F>);

impl<F> Clone for FnPeriodic<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F, Fut, R> Periodic<NoOptions, R> for FnPeriodic<F>
where
    F: Fn(PeriodicContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, BoxError>> + Send,
    R: PeriodicOutput,
{
    fn execute(&self, ctx: &PeriodicContext) -> impl Future<Output = Result<R, BoxError>> + Send {
        (self.0)(ctx.clone())
    }
}

impl TaskSpec {
    /// A periodic task whose execution is an async closure, given the
    /// task's context (a cheap clone) each time: the closure form of
    /// [`Periodic`] for a task with no options of its own. It runs every
    /// `--<prefix>-interval` seconds (default 1; set another at
    /// registration with `.with_default("interval", "0.5")`), with the
    /// schedule, counters and [`TryLater`](crate::TryLater) retries of a
    /// [`PeriodicTask`]. The task is `name` in logs, counters and lookups,
    /// its prefix `name` in kebab-case.
    ///
    /// ```
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Clock").with_task(
    ///     TaskSpec::periodic("Tick", |ctx| async move {
    ///         ctx.counters().counter("ticks").increment();
    ///         Ok(())
    ///     })
    ///     .with_default("interval", "0.5"),
    /// );
    /// ```
    pub fn periodic<F, Fut, R>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PeriodicContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, BoxError>> + Send + 'static,
        R: PeriodicOutput,
    {
        Self::new(PeriodicTask::new(FnPeriodic(Arc::new(f)))).with_name(name)
    }
}
