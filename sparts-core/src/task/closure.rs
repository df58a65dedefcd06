//! A task from an async closure, named where it is registered.

use std::future::Future;
use std::sync::Arc;

use super::{TaskContext, TaskSpec, VTask};
use crate::error::BoxError;

/// The [`VTask`] behind [`TaskSpec::task`]: the closure is shared by every
/// start, so it need not be `Clone`.
struct FnTask<F>(Arc<F>);

impl<F> Clone for FnTask<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F, Fut> VTask for FnTask<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn run(&self, ctx: TaskContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.0)(ctx)
    }
}

impl TaskSpec {
    /// A task whose work is an async closure, run once per start with the
    /// task's context: the closure form of [`VTask::run`], for a task with
    /// no options. The task is `name` in logs, counters and lookups, its
    /// option prefix `name` in kebab-case. Returning an error or panicking
    /// fails the task as a `VTask` would: it is named in the log and the
    /// service shuts down.
    ///
    /// ```
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Greeter").with_task(TaskSpec::task("Hello", |ctx| async move {
    ///     tracing::info!("hello from {}", ctx.name());
    ///     ctx.stopped().await;
    ///     Ok(())
    /// }));
    /// ```
    pub fn task<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(FnTask(Arc::new(f))).with_name(name)
    }
}
