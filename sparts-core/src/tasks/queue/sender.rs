//! Putting items on a queue: the submit handle and the result future.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::sync::oneshot;

use super::shared::Shared;
use crate::error::{BoxError, Error, Result};

/// The result of one submitted item: resolves to what
/// [`execute`](super::QueueWork::execute) returned, once it did so without
/// [`TryLater`](crate::TryLater).
///
/// It fails with [`Error::QueueStopped`] when the task stopped before the
/// item was done, so every future resolves. Dropping it is allowed: the item
/// is still executed, and an error is then logged with the item's `{:?}`.
#[must_use = "dropping it discards the item's result; use `enqueue` when nobody needs it"]
pub struct ItemFuture<O> {
    rx: oneshot::Receiver<Result<O, BoxError>>,
}

impl<O> std::fmt::Debug for ItemFuture<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ItemFuture").finish_non_exhaustive()
    }
}

impl<O> Future for ItemFuture<O> {
    type Output = Result<O, BoxError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.rx).poll(cx).map(|received| {
            received.unwrap_or_else(|_| {
                // Every path that drops an item sends "stopped" with the
                // task's name first; this is the last resort.
                Err(Error::QueueStopped("(unknown)".to_owned()).into())
            })
        })
    }
}

/// A cheap, clonable handle that puts items of type `T` on a running queue
/// task whose executions return `R`, from any task or thread: from
/// [`ServiceHandle::queue`](crate::ServiceHandle::queue) by the task's name,
/// or [`QueueTask::sender`](super::QueueTask::sender). It names no work
/// type, so a producer need not know the consumer's.
///
/// It belongs to one start of the task: after a restart, or once shutdown
/// starts, every call fails with [`Error::TaskNotRunning`] (look the task up
/// again after a restart).
///
/// ```
/// # use sparts_core::{BoxError, TaskSpec, VService};
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let double = TaskSpec::queue("Double", |item: u32, _ctx| async move { Ok(item * 2) });
/// let running = VService::new("Svc").with_task(double).start_with_args(["svc"]).await?;
/// let sender = running.handle().queue::<u32, u32>("Double")?;
/// let results = sender.map([1, 2, 3]).await;
/// assert_eq!(results.into_iter().collect::<Result<Vec<_>, _>>()?, [2, 4, 6]);
/// running.shutdown().await?;
/// assert!(sender.try_enqueue(4).is_err());
/// # Ok(())
/// # }
/// ```
pub struct QueueSender<T, R = ()> {
    shared: Arc<Shared<T, R>>,
}

impl<T, R> Clone for QueueSender<T, R> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T, R> std::fmt::Debug for QueueSender<T, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueSender")
            .field("queue", &self.shared)
            .finish()
    }
}

impl<T, R> QueueSender<T, R>
where
    T: Send + std::fmt::Debug + 'static,
    R: Send + 'static,
{
    pub(super) fn new(shared: Arc<Shared<T, R>>) -> Self {
        Self { shared }
    }

    /// Queues an item and returns the future of its result. A bounded queue
    /// that is full makes this wait for room (backpressure).
    ///
    /// Fails with [`Error::TaskNotRunning`] when the task is not running or
    /// is stopping, and [`Error::DuplicateItem`] when a unique queue already
    /// has the item.
    pub async fn submit(&self, item: T) -> Result<ItemFuture<R>> {
        submit(&self.shared, item).await
    }

    /// Like [`submit`](Self::submit), but a full bounded queue fails at once
    /// with [`Error::QueueFull`] (the item is dropped).
    pub fn try_submit(&self, item: T) -> Result<ItemFuture<R>> {
        try_submit(&self.shared, item)
    }

    /// Queues an item whose result nobody waits for; an error it ends with
    /// is logged with the item's `{:?}`. Waits for room like `submit`.
    pub async fn enqueue(&self, item: T) -> Result<()> {
        self.shared.submit(item, None).await
    }

    /// Like [`enqueue`](Self::enqueue), but a full bounded queue fails at
    /// once with [`Error::QueueFull`].
    pub fn try_enqueue(&self, item: T) -> Result<()> {
        self.shared.try_submit(item, None)
    }

    /// Enqueues every item in order, waiting for room like
    /// [`enqueue`](Self::enqueue). Stops at the first refusal and returns
    /// it; the items after it are not queued.
    pub async fn enqueue_all(&self, items: impl IntoIterator<Item = T>) -> Result<()> {
        for item in items {
            self.shared.submit(item, None).await?;
        }
        Ok(())
    }

    /// Submits every item, then waits for all of their results, in item
    /// order. An item that was refused (see [`submit`](Self::submit)) has
    /// the refusal as its result; after a [`Error::TaskNotRunning`] the
    /// remaining items are not submitted and get that error too.
    pub async fn map(&self, items: impl IntoIterator<Item = T>) -> Vec<Result<R, BoxError>> {
        map(&self.shared, items).await
    }

    /// Items queued or waiting for a retry (not those being executed).
    pub fn len(&self) -> usize {
        self.shared.depth()
    }

    /// Whether no item is queued or waiting for a retry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The queue task's name.
    pub fn task_name(&self) -> &str {
        self.shared.name()
    }
}

pub(super) async fn submit<T, O>(shared: &Shared<T, O>, item: T) -> Result<ItemFuture<O>>
where
    T: Send + std::fmt::Debug + 'static,
    O: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    shared.submit(item, Some(tx)).await?;
    Ok(ItemFuture { rx })
}

pub(super) fn try_submit<T, O>(shared: &Shared<T, O>, item: T) -> Result<ItemFuture<O>>
where
    T: Send + std::fmt::Debug + 'static,
    O: Send + 'static,
{
    let (tx, rx) = oneshot::channel();
    shared.try_submit(item, Some(tx))?;
    Ok(ItemFuture { rx })
}

pub(super) async fn map<T, O>(
    shared: &Shared<T, O>,
    items: impl IntoIterator<Item = T>,
) -> Vec<Result<O, BoxError>>
where
    T: Send + std::fmt::Debug + 'static,
    O: Send + 'static,
{
    let items = items.into_iter();
    let mut pending = Vec::with_capacity(items.size_hint().0);
    let mut stopped = false;
    for item in items {
        if stopped {
            pending.push(Err(Error::TaskNotRunning(shared.name().to_owned())));
            continue;
        }
        let submitted = submit(shared, item).await;
        stopped = matches!(submitted, Err(Error::TaskNotRunning(_)));
        pending.push(submitted);
    }
    let mut results = Vec::with_capacity(pending.len());
    for submitted in pending {
        results.push(match submitted {
            Ok(future) => future.await,
            Err(refused) => Err(refused.into()),
        });
    }
    results
}
