//! What `execute` learns about the item it works on.

use tokio::time::Instant;

use super::{QueueOptions, QueueWork};
use crate::context::TaskContext;

/// Passed to [`QueueWork::execute`] with each item: which attempt this is,
/// when the item was submitted, and the task's context (options, counters,
/// the service).
///
/// ```
/// use sparts_core::{BoxError, ItemContext, NoOptions, QueueWork, TryLater};
///
/// struct Flaky;
///
/// impl QueueWork for Flaky {
///     type Item = String;
///     type Output = usize;
///     type Options = NoOptions;
///
///     async fn execute(&self, item: &String, ctx: &ItemContext<'_, Self>) -> Result<usize, BoxError> {
///         if ctx.attempt() < 3 {
///             return Err(TryLater::new().into());
///         }
///         ctx.task().counters().counter("lucky_third").increment();
///         Ok(item.len())
///     }
/// }
/// ```
pub struct ItemContext<'a, W: QueueWork> {
    pub(super) attempt: u32,
    pub(super) enqueued_at: Instant,
    pub(super) task: &'a TaskContext<QueueOptions<W::Options>>,
}

impl<W: QueueWork> ItemContext<'_, W> {
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
    pub fn task(&self) -> &TaskContext<QueueOptions<W::Options>> {
        self.task
    }
}

impl<W: QueueWork> std::fmt::Debug for ItemContext<'_, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemContext")
            .field("task", &self.task.worker_name())
            .field("attempt", &self.attempt)
            .field("enqueued_at", &self.enqueued_at)
            .finish()
    }
}
