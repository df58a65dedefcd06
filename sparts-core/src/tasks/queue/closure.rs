//! A queue worker from an async closure, and finding a queue by its name.

use std::fmt::Debug;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use super::{ItemContext, QueueSender, QueueTask, QueueWork};
use crate::error::{BoxError, Error, Result};
use crate::handle::ServiceHandle;
use crate::task::{NoOptions, TaskSpec};

/// The [`QueueWork`] behind [`TaskSpec::queue`]: the closure is shared by
/// every start, so it need not be `Clone`.
struct FnWork<F, T>(Arc<F>, PhantomData<fn(T)>);

impl<F, T> Clone for FnWork<F, T> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0), PhantomData)
    }
}

impl<F, Fut, T, R> QueueWork<NoOptions, R> for FnWork<F, T>
where
    F: Fn(T, ItemContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, BoxError>> + Send,
    T: Clone + Debug + Send + Sync + 'static,
    R: Send + 'static,
{
    type Item = T;

    fn execute(
        &self,
        item: &T,
        ctx: &ItemContext,
    ) -> impl Future<Output = Result<R, BoxError>> + Send {
        (self.0)(item.clone(), ctx.clone())
    }
}

impl TaskSpec {
    /// A first in, first out queue whose work is an async closure, given
    /// each item (a clone: an item that returns
    /// [`TryLater`](crate::TryLater) is tried again) and its
    /// [`ItemContext`]: the closure form of [`QueueWork`] for work with no
    /// options of its own. It has the options (`--<prefix>-workers`, default
    /// 1; `--<prefix>-max-items`), counters and shutdown of a
    /// [`QueueTask`]. Others find its sender by `name`:
    /// [`ServiceHandle::queue`]. The prefix is `name` in kebab-case.
    ///
    /// ```
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Mailer").with_task(
    ///     TaskSpec::queue("Outbox", |to: String, ctx| async move {
    ///         tracing::info!("sending to {to}, attempt {}", ctx.attempt());
    ///         Ok(())
    ///     })
    ///     .with_default("workers", "4"),
    /// );
    /// ```
    pub fn queue<T, F, Fut, R>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(T, ItemContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, BoxError>> + Send + 'static,
        T: Clone + Debug + Send + Sync + 'static,
        R: Send + 'static,
    {
        Self::new(QueueTask::new(FnWork(Arc::new(f), PhantomData))).with_name(name)
    }
}

impl ServiceHandle {
    /// The sender of the running queue task `name`, whose items are `T` and
    /// whose executions return `R`: the way a producer reaches a queue
    /// without naming its work type. A sender belongs to one start of the
    /// queue; look it up again after a restart. Fails with
    /// [`Error::TaskNotFound`] when no task has that name and
    /// [`Error::WrongTaskType`] when it is not a queue of `T` giving `R`.
    ///
    /// ```
    /// # use sparts_core::{BoxError, TaskSpec, VService};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), BoxError> {
    /// let words = TaskSpec::queue("Words", |word: String, _ctx| async move { Ok(word.len()) });
    /// let running = VService::new("Demo").with_task(words).start_with_args(["demo"]).await?;
    /// let queue = running.handle().queue::<String, usize>("Words")?;
    /// assert_eq!(queue.submit("hello".to_owned()).await?.await?, 5);
    /// assert!(running.handle().queue::<u64, ()>("Words").is_err());
    /// running.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub fn queue<T, R>(&self, name: &str) -> Result<QueueSender<T, R>>
    where
        T: Send + Sync + Debug + 'static,
        R: Send + 'static,
    {
        self.provided::<QueueSender<T, R>>(name)?
            .ok_or_else(|| Error::WrongTaskType {
                task: name.to_owned(),
                expected: format!(
                    "a queue of {} giving {}",
                    std::any::type_name::<T>(),
                    std::any::type_name::<R>()
                ),
            })
    }
}
