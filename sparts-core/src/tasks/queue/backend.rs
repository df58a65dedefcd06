//! The seam for a queue whose items live outside the process: shared by
//! every replica of a service, or kept across a crash.
//!
//! The in-process queue stays the default (`--<prefix>-backend memory`) and
//! does not go through these traits. A crate such as `sparts-nats`
//! implements them, and a [`QueueTask`](super::QueueTask) offers it with
//! [`with_backend`](super::QueueTask::with_backend); an operator then picks
//! it with `--<prefix>-backend <scheme>://…`.

use std::fmt::Debug;
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use crate::counters::CounterRegistry;
use crate::error::{BoxError, Error};
use crate::handle::ServiceHandle;
use crate::tasks::scheme::Choice;

/// What [`RemoteQueue::next`] resolves to: a delivery, or `None` once
/// closed.
pub type NextDelivery<'a, T, O> = BoxFuture<'a, Result<Option<Box<dyn Delivery<T, O>>>, BoxError>>;

/// Where an item's result goes: the submitter's
/// [`ItemFuture`](super::ItemFuture).
pub type ResultSender<O> = oneshot::Sender<Result<O, BoxError>>;

/// A place where a queue's items can live, chosen at run time by the scheme
/// of `--<prefix>-backend` (`nats` for `nats://…`).
pub trait QueueBackend<T, O>: Send + Sync + 'static {
    /// The URL scheme this backend answers to, such as `"nats"`.
    fn scheme(&self) -> &'static str;

    /// Connects and declares the queue described by `spec` at `url`. Called
    /// from the task's `init`: an error refuses the start, and should name
    /// the queue and the URL.
    fn open<'a>(
        &'a self,
        url: &'a str,
        spec: QueueSpec,
    ) -> BoxFuture<'a, Result<Box<dyn RemoteQueue<T, O>>, BoxError>>;
}

/// What a backend needs to know to declare one queue.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QueueSpec {
    /// The service, for warnings (a lost connection) and its name.
    pub service: ServiceHandle,
    /// The queue task's name (`Jobs`): with the service's name, it names
    /// what the backend creates.
    pub task: String,
    /// The task's counters, where the backend registers its own
    /// (`n_redelivered`, `n_dead_lettered`, `backend_errors`).
    pub counters: CounterRegistry,
    /// `fifo`, `unique` or `priority`.
    pub discipline: &'static str,
    /// `--<prefix>-workers`: how many items this replica executes at once.
    pub workers: usize,
    /// `--<prefix>-max-items` (0: no limit), counted over every replica.
    pub max_items: usize,
    /// `--<prefix>-ack-wait`: how long an item may go without a sign of
    /// life from the replica executing it before another gets it.
    pub ack_wait: Duration,
    /// `--<prefix>-prefetch`: items this replica may take ahead of its
    /// workers.
    pub prefetch: usize,
    /// `--<prefix>-max-attempts` (0: the backend's default).
    pub max_attempts: u32,
}

/// One queue in a backend, opened for one start of a task.
pub trait RemoteQueue<T, O>: Send + Sync {
    /// Stores one item. `reply` receives its result when the submitter
    /// waits for it. With `wait_for_room`, a full queue makes this wait;
    /// without, it fails with [`Error::QueueFull`]. A duplicate in a unique
    /// queue fails with [`Error::DuplicateItem`]; a stopping task with
    /// [`Error::TaskNotRunning`]; the backend's own failure with
    /// [`Error::Backend`].
    fn publish(
        &self,
        item: T,
        reply: Option<ResultSender<O>>,
        wait_for_room: bool,
    ) -> BoxFuture<'_, Result<(), Error>>;

    /// Stores one item without waiting: refuses at once what this replica
    /// already knows it must refuse (a full queue, a stopping task), and
    /// stores the rest in the background. A refusal that only the backend
    /// can make then goes to `reply`, or to the log without one.
    fn try_publish(&self, item: T, reply: Option<ResultSender<O>>) -> Result<(), Error>;

    /// The next item for one of this replica's workers; `None` once
    /// [`close`](Self::close)d.
    fn next(&self) -> NextDelivery<'_, T, O>;

    /// Items queued, waiting for a retry or executing, on every replica
    /// (as last read).
    fn depth(&self) -> usize;

    /// Stops taking items and refuses new ones: `next` returns `None`, and
    /// items fetched but not started go back to the backend at once.
    fn close(&self);
}

/// One item handed to a worker, until it is settled.
pub trait Delivery<T, O>: Send + Sync {
    /// The item.
    fn item(&self) -> &T;

    /// Which delivery this is: 1 the first time, one more after each retry
    /// or each replica that took the item and died with it.
    fn attempt(&self) -> u32;

    /// When the item was first stored.
    fn enqueued_at(&self) -> SystemTime;

    /// How often the worker must call [`keep_alive`](Self::keep_alive)
    /// while executing the item.
    fn keep_alive_every(&self) -> Duration;

    /// Says the item is still being worked on, so that a long execution is
    /// not taken for a dead replica.
    fn keep_alive(&self) -> BoxFuture<'_, Result<(), BoxError>>;

    /// Ends this delivery.
    fn settle(self: Box<Self>, how: Settle<O>) -> BoxFuture<'static, Result<(), BoxError>>;
}

/// How a delivery ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Settle<O> {
    /// Executed: the result, or the error or panic it ended with.
    Done(Result<O, BoxError>),
    /// [`TryLater`](crate::TryLater): deliver it again, after this delay
    /// (`None`: the backend's own pace).
    Retry {
        /// The delay the work asked for.
        after: Option<Duration>,
        /// The `TryLater`'s text, kept should the item run out of attempts.
        error: String,
    },
    /// Not executed, or cut short: this replica is stopping; another one
    /// takes it at once.
    HandBack,
}

impl<O> Settle<O> {
    /// Its name in logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Done(Ok(_)) => "done",
            Self::Done(Err(_)) => "failed",
            Self::Retry { .. } => "retry",
            Self::HandBack => "hand back",
        }
    }
}

/// Chooses where a queue's items live from `--<prefix>-backend`.
pub(super) fn pick<'a, T: 'static, O: 'static>(
    backends: &'a [std::sync::Arc<dyn QueueBackend<T, O>>],
    task: &str,
    url: &str,
) -> Result<Option<&'a dyn QueueBackend<T, O>>, Error> {
    let choice = Choice {
        task,
        flag: "--backend",
        what: "backend",
        local: "memory",
    };
    choice.pick(backends, |b| b.scheme(), url)
}

/// Checks the options a remote queue cannot honour.
pub(super) fn check_discipline(task: &str, discipline: &str) -> Result<(), Error> {
    if discipline == "priority" {
        return Err(Error::Backend(format!(
            "{task}: a priority queue needs the memory backend (--backend memory): \
             a shared queue delivers in the order items were stored"
        )));
    }
    Ok(())
}

impl<T, O> Debug for dyn RemoteQueue<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteQueue")
            .field("depth", &self.depth())
            .finish_non_exhaustive()
    }
}
