//! `QueueTask`: workers executing items from a queue, with results as futures.

mod context;
mod delays;
mod ready;
mod sender;
mod shared;
mod store;
mod worker;

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::sync::{Arc, Weak};

pub use context::ItemContext;
pub use sender::{ItemFuture, QueueSender};

use self::ready::{MakeReady, Ready};
use self::shared::Shared;
use crate::context::TaskContext;
use crate::error::{BoxError, Result};
use crate::task::{Dependencies, VTask, short_type_name};

/// The work of a [`QueueTask`]: what to do with each item.
///
/// Only [`execute`](QueueWork::execute) is required. It takes the item by
/// reference because an item whose `execute` returns
/// [`TryLater`](crate::TryLater) goes back on the queue for another attempt
/// (so items are `Sync`: the future holding the reference must be `Send`).
/// What it returns goes to the submitter's [`ItemFuture`]. See [`QueueTask`]
/// for a complete service.
pub trait QueueWork: Send + Sync + Sized + 'static {
    /// What is queued. Its `{:?}` names it in logs.
    type Item: Send + Sync + Debug + 'static;
    /// What `execute` returns for an item.
    type Output: Send + 'static;
    /// The work's own options (`--<prefix>-<option>`), next to `workers`
    /// and `max-items`; [`NoOptions`](crate::NoOptions) for none. Their
    /// names must not clash with those two.
    type Options: clap::Args + Send + Sync + 'static;

    /// Default of `--<prefix>-workers`: how many items execute at once.
    const WORKERS: usize = 1;
    /// Default of `--<prefix>-max-items`: at most this many items are
    /// queued, waiting for a retry or executing; 0 for no limit.
    const MAX_ITEMS: usize = 0;

    /// The task's name (logs, counters, the option prefix). Default: the
    /// type's name without its path or generics.
    fn name() -> Cow<'static, str> {
        short_type_name::<Self>().into()
    }

    /// Task types this one needs; see [`VTask::dependencies`]. Default: none.
    fn dependencies(deps: &mut Dependencies) {
        let _ = deps;
    }

    /// Prepares the work once per start, before any item is executed; see
    /// [`VTask::init`]. Default: nothing.
    fn init(
        &mut self,
        ctx: &TaskContext<QueueOptions<Self::Options>>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Works on one item. Return [`TryLater`](crate::TryLater) to put the
    /// item back (after its delay, or at once); any other error, or a
    /// panic, goes to the item's future (or to the log when nobody awaits
    /// it) and the worker goes on with the next item.
    fn execute(
        &self,
        item: &Self::Item,
        ctx: &ItemContext<'_, Self>,
    ) -> impl Future<Output = Result<Self::Output, BoxError>> + Send;
}

/// The options of a [`QueueTask`]: `--<prefix>-workers`,
/// `--<prefix>-max-items` and the work's own.
#[derive(clap::Args, Debug, Clone)]
pub struct QueueOptions<O: clap::Args> {
    /// How many items execute at once.
    ///
    /// Read at start: a change applies at the next restart.
    #[arg(long, default_value_t = 1, value_parser = parse_workers)]
    pub workers: usize,
    /// Most items queued, waiting for a retry or executing; 0 for no limit.
    ///
    /// When full, submitting waits. Read at start: a change applies at the
    /// next restart.
    #[arg(long, default_value_t = 0)]
    pub max_items: usize,
    /// The work's own options.
    #[command(flatten)]
    pub work: O,
}

fn parse_workers(value: &str) -> Result<usize, String> {
    match value.parse::<usize>() {
        Ok(0) => Err("a queue needs at least 1 worker".to_owned()),
        Ok(n) => Ok(n),
        Err(e) => Err(e.to_string()),
    }
}

/// A task whose workers execute items from a queue: the user's
/// [`QueueWork::execute`] for each one.
///
/// - Items come from [`submit`](Self::submit) (returns an [`ItemFuture`] of
///   the result), [`map`](Self::map) (a batch), or
///   [`enqueue`](Self::enqueue) (nobody waits for the result); from other
///   tasks through `handle.require::<QueueTask<W>>()` or a [`QueueSender`].
/// - Options `--<prefix>-workers` (default [`QueueWork::WORKERS`]) and
///   `--<prefix>-max-items` (default [`QueueWork::MAX_ITEMS`], 0 for no
///   limit). A bounded queue counts an item from its submission until it is
///   done, retries included; when full, `submit` and `enqueue` wait for room
///   (so an `execute` that submits to its own full queue waits until
///   shutdown) and `try_submit`/`try_enqueue` fail with
///   [`Error::QueueFull`](crate::Error::QueueFull).
/// - [`TryLater`](crate::TryLater) puts the item back (after
///   `TryLater::after`, or at once) with [`ItemContext::attempt`] one
///   higher. Any other error or a panic goes to the item's future.
/// - Counters: `queue_depth` (queued or waiting for a retry), `n_completed`,
///   `n_trylater`, `n_unhandled` (errors and panics), and
///   `execute_duration_ms` samples (count, avg, max, min over 60 and 240
///   seconds) of completed and failed executions (an item executed right
///   after another is timed from that one's end: the queue's own work
///   between them, well under a microsecond, counts in).
/// - Disciplines: [`new`](Self::new) is first in, first out;
///   [`priority`](Self::priority) executes the smallest item first;
///   [`unique`](Self::unique) refuses an item already queued, waiting for a
///   retry or executing, with [`Error::DuplicateItem`](crate::Error::DuplicateItem).
/// - Shutdown: new items are refused at once
///   ([`Error::TaskNotRunning`](crate::Error::TaskNotRunning)), the
///   workers work off what is queued until the service's shutdown timeout,
///   and every item left then (queued or executing) has its future fail
///   with [`Error::QueueStopped`](crate::Error::QueueStopped); their number
///   is logged.
///
/// Cloning gives an unstarted task with a clone of the work: the template
/// the service builds each start from. Items go to the started instance.
///
/// # Example
///
/// ```
/// use std::time::Duration;
/// use sparts_core::{BoxError, ItemContext, NoOptions, QueueTask, QueueWork, TryLater, VService};
///
/// /// Resizes images (here: halves numbers), retrying busy ones later.
/// #[derive(Clone)]
/// struct Resize;
///
/// impl QueueWork for Resize {
///     type Item = u32;
///     type Output = u32;
///     type Options = NoOptions;
///     const WORKERS: usize = 2;
///
///     async fn execute(&self, item: &u32, ctx: &ItemContext<'_, Self>) -> Result<u32, BoxError> {
///         if *item == 7 && ctx.attempt() == 1 {
///             return Err(TryLater::after(Duration::from_millis(5)).into());
///         }
///         if *item == 0 {
///             return Err("nothing to resize".into());
///         }
///         Ok(item / 2)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), BoxError> {
/// let service = VService::new("Images").with_task(QueueTask::new(Resize));
/// let running = service.start_with_args(["images", "--resize-max-items", "100"]).await?;
/// let queue = running.handle().require::<QueueTask<Resize>>()?;
///
/// let half = queue.submit(10).await?;
/// assert_eq!(half.await?, 5);
/// let results = queue.map([4, 7, 0]).await;
/// let results: Vec<String> = results
///     .into_iter()
///     .map(|r| r.map_or_else(|e| e.to_string(), |n| n.to_string()))
///     .collect();
/// assert_eq!(results, ["2", "3", "nothing to resize"]);
///
/// let handle = running.handle();
/// assert_eq!(handle.counter("Resize.n_completed")?, 3.0);
/// assert_eq!(handle.counter("Resize.n_trylater")?, 1.0);
/// assert_eq!(handle.counter("Resize.n_unhandled")?, 1.0);
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
///
/// A program's whole `main` is then
/// `VService::new("Images").with_task(QueueTask::new(Resize)).run_from_cli()`.
/// Another task that feeds the queue declares it as a dependency
/// (`deps.add::<QueueTask<Resize>>()`, for a `W: Default`) and takes a
/// [`sender`](Self::sender) from `ctx.service().require::<QueueTask<Resize>>()`
/// in its `init`.
pub struct QueueTask<W: QueueWork> {
    work: W,
    discipline: &'static str,
    make_ready: MakeReady<W::Item, W::Output>,
    shared: Arc<Shared<W::Item, W::Output>>,
    workers: usize,
}

impl<W: QueueWork> QueueTask<W> {
    fn with_ready(
        work: W,
        discipline: &'static str,
        make_ready: MakeReady<W::Item, W::Output>,
    ) -> Self {
        Self {
            work,
            discipline,
            make_ready,
            shared: Arc::new(Shared::closed(&W::name(), make_ready(1))),
            workers: W::WORKERS,
        }
    }

    /// A first in, first out queue.
    pub fn new(work: W) -> Self {
        Self::with_ready(work, "fifo", Ready::fifo)
    }

    /// A queue that executes the smallest item first (equal items in
    /// submission order).
    pub fn priority(work: W) -> Self
    where
        W::Item: Ord,
    {
        Self::with_ready(work, "priority", Ready::priority)
    }

    /// A first in, first out queue that refuses an item equal to one
    /// already queued, waiting for a retry or executing, with
    /// [`Error::DuplicateItem`](crate::Error::DuplicateItem).
    pub fn unique(work: W) -> Self
    where
        W::Item: Eq + Hash + Clone,
    {
        Self::with_ready(work, "unique", Ready::unique)
    }

    /// The work.
    pub fn work(&self) -> &W {
        &self.work
    }

    /// A handle that submits to this start of the task.
    pub fn sender(&self) -> QueueSender<W> {
        QueueSender::new(Arc::clone(&self.shared))
    }

    /// See [`QueueSender::submit`].
    pub async fn submit(&self, item: W::Item) -> Result<ItemFuture<W::Output>> {
        sender::submit(&self.shared, item).await
    }

    /// See [`QueueSender::try_submit`].
    pub fn try_submit(&self, item: W::Item) -> Result<ItemFuture<W::Output>> {
        sender::try_submit(&self.shared, item)
    }

    /// See [`QueueSender::enqueue`].
    pub async fn enqueue(&self, item: W::Item) -> Result<()> {
        self.shared.submit(item, None).await
    }

    /// See [`QueueSender::try_enqueue`].
    pub fn try_enqueue(&self, item: W::Item) -> Result<()> {
        self.shared.try_submit(item, None)
    }

    /// See [`QueueSender::map`].
    pub async fn map(
        &self,
        items: impl IntoIterator<Item = W::Item>,
    ) -> Vec<Result<W::Output, BoxError>> {
        sender::map(&self.shared, items).await
    }

    /// Items queued or waiting for a retry (not those being executed).
    pub fn len(&self) -> usize {
        self.shared.depth()
    }

    /// Whether no item is queued or waiting for a retry.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<W: QueueWork + Clone> Clone for QueueTask<W> {
    fn clone(&self) -> Self {
        Self::with_ready(self.work.clone(), self.discipline, self.make_ready)
    }
}

/// A first in, first out queue of the default work.
impl<W: QueueWork + Default> Default for QueueTask<W> {
    fn default() -> Self {
        Self::new(W::default())
    }
}

impl<W: QueueWork> Debug for QueueTask<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueTask")
            .field("discipline", &self.discipline)
            .field("workers", &self.workers)
            .field("queue", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<W: QueueWork> VTask for QueueTask<W> {
    type Options = QueueOptions<W::Options>;

    fn name() -> Cow<'static, str> {
        W::name()
    }

    fn option_defaults() -> Vec<(&'static str, String)> {
        vec![
            ("workers", W::WORKERS.to_string()),
            ("max_items", W::MAX_ITEMS.to_string()),
        ]
    }

    fn dependencies(deps: &mut Dependencies) {
        W::dependencies(deps);
    }

    fn workers(&self) -> usize {
        self.workers
    }

    async fn init(&mut self, ctx: &TaskContext<Self::Options>) -> Result<(), BoxError> {
        self.work.init(ctx).await?;
        let options = ctx.options();
        self.workers = options.workers;
        let shared = Arc::new(Shared::open(
            ctx.name(),
            (self.make_ready)(options.workers),
            options.max_items,
            options.workers,
        ));
        worker::Counters::register(ctx.counters());
        let weak: Weak<Shared<W::Item, W::Output>> = Arc::downgrade(&shared);
        ctx.counters().callback("queue_depth", move || {
            weak.upgrade().map(|shared| shared.depth() as f64)
        });
        self.shared = shared;
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<Self::Options>) -> Result<(), BoxError> {
        worker::run(&self.work, &self.shared, &ctx).await
    }

    async fn stop(&self, _ctx: &TaskContext<Self::Options>) {
        self.shared.close();
    }
}
