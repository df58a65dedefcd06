//! What `execute` learns about the item it works on.

use std::ops::Deref;

use tokio::time::Instant;

use super::QueueOptions;
use crate::task::{NoOptions, TaskContext, TaskOptions};

/// Passed to [`QueueWork::execute`](super::QueueWork::execute) with each
/// item: which attempt this is, when the item was submitted, and the task's
/// context (options, counters, the service), which it derefs to.
///
/// ```
/// use sparts_core::{BoxError, ItemContext, NoOptions, QueueWork, TryLater};
///
/// struct Flaky;
///
/// impl QueueWork<NoOptions, usize> for Flaky {
///     type Item = String;
///
///     async fn execute(&self, item: &String, ctx: &ItemContext) -> Result<usize, BoxError> {
///         if ctx.attempt() < 3 {
///             return Err(TryLater::new().into());
///         }
///         ctx.counters().counter("lucky_third").increment();
///         Ok(item.len())
///     }
/// }
/// ```
#[derive(Debug)]
pub struct ItemContext<O: TaskOptions = NoOptions> {
    pub(super) attempt: u32,
    pub(super) enqueued_at: Instant,
    pub(super) task: TaskContext<QueueOptions<O>>,
}

impl<O: TaskOptions> Clone for ItemContext<O> {
    fn clone(&self) -> Self {
        Self {
            attempt: self.attempt,
            enqueued_at: self.enqueued_at,
            task: self.task.clone(),
        }
    }
}

impl<O: TaskOptions> ItemContext<O> {
    /// Which try this is: 1 the first time, one more after each
    /// [`TryLater`](crate::TryLater).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// When the item was first submitted (on tokio's clock).
    pub fn enqueued_at(&self) -> Instant {
        self.enqueued_at
    }

    /// The worker's task context: options, counters, the service.
    pub fn task(&self) -> &TaskContext<QueueOptions<O>> {
        &self.task
    }
}

impl<O: TaskOptions> Deref for ItemContext<O> {
    type Target = TaskContext<QueueOptions<O>>;

    fn deref(&self) -> &Self::Target {
        &self.task
    }
}
