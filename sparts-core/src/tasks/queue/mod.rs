//! `QueueTask`: workers executing items from a queue, with results as futures.

pub(crate) mod backend;
mod closure;
mod context;
mod delays;
mod ready;
mod remote_worker;
mod sender;
mod shared;
mod store;
mod worker;

use std::borrow::Cow;
use std::fmt::Debug;
use std::future::Future;
use std::hash::Hash;
use std::marker::PhantomData;
use std::sync::{Arc, Weak};
use std::time::Duration;

pub use context::ItemContext;
pub use sender::{ItemFuture, QueueSender};

use self::backend::{QueueBackend, QueueSpec};
use self::ready::{MakeReady, Ready};
use self::shared::Shared;
use crate::error::{BoxError, Result, short_type_name};
use crate::options::parse_interval;
use crate::task::{Dependencies, NoOptions, TaskContext, TaskOptions, VTask};

/// The work of a [`QueueTask`]: what to do with each item.
///
/// Only [`Item`](QueueWork::Item) and [`execute`](QueueWork::execute) are
/// required. `execute` takes the item by reference because an item whose
/// `execute` returns [`TryLater`](crate::TryLater) goes back on the queue
/// for another attempt (so items are `Sync`: the future holding the
/// reference must be `Send`). What it returns (`R`, `()` when left out)
/// goes to the submitter's [`ItemFuture`]. `O` is the work's own options
/// (`--<prefix>-<option>`, next to `workers` and `max-items`, whose names
/// they must not take; [`NoOptions`] when left out). See [`QueueTask`] for a
/// complete service; without state or options a closure is shorter:
/// [`TaskSpec::queue`](crate::TaskSpec::queue).
pub trait QueueWork<O: TaskOptions = NoOptions, R: Send + 'static = ()>:
    Send + Sync + Sized + 'static
{
    /// What is queued. Its `{:?}` names it in logs.
    type Item: Send + Sync + Debug + 'static;

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
        ctx: &TaskContext<QueueOptions<O>>,
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
        ctx: &ItemContext<O>,
    ) -> impl Future<Output = Result<R, BoxError>> + Send;
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
    /// Where items live: `memory` (this process), or a backend's URL such
    /// as `nats://127.0.0.1:4222`, shared by every replica.
    ///
    /// Read at start.
    #[arg(long, default_value = "memory", value_name = "memory|URL")]
    pub backend: String,
    /// With a shared backend: how long an item may go without a sign of
    /// life from the replica executing it before another one gets it.
    ///
    /// A replica executing an item says it is alive twice per ack wait, so
    /// this bounds how long a dead replica holds items, not how long an
    /// item may run. Read at start.
    #[arg(long, default_value = "30", value_parser = parse_interval, value_name = "SECONDS")]
    pub ack_wait: Duration,
    /// With a shared backend: how many items a replica takes ahead of its
    /// workers, so that a worker need not wait for each one to be fetched.
    ///
    /// Items taken ahead are kept alive and handed back at a stop. 0 suits
    /// long items best: each then goes to whichever replica is free first.
    /// Read at start.
    #[arg(long, default_value_t = 32)]
    pub prefetch: usize,
    /// How many times an item is tried (retries included) before it is
    /// given up: its future fails (memory) or it goes to the dead-letter
    /// stream (a shared backend). 0: unlimited in memory, 10 in a shared
    /// backend.
    ///
    /// Read at start.
    #[arg(long, default_value_t = 0)]
    pub max_attempts: u32,
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
///   tasks through a [`QueueSender`] found by the task's name
///   (`handle.queue::<Item, Output>("Resize")`).
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
/// impl QueueWork<NoOptions, u32> for Resize {
///     type Item = u32;
///     const WORKERS: usize = 2;
///
///     async fn execute(&self, item: &u32, ctx: &ItemContext) -> Result<u32, BoxError> {
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
/// let queue = running.handle().queue::<u32, u32>("Resize")?;
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
/// Another task that feeds the queue finds its [`QueueSender`] by the
/// queue's name, `ctx.service().queue::<u32, u32>("Resize")`, with no need
/// to know the work's type; a task that needs the queue to start first
/// declares it as a dependency (`deps.add(QueueTask::new(Resize))`).
///
/// The type parameters are the [`QueueWork`]'s: `QueueTask<Resize,
/// NoOptions, u32>` here.
pub struct QueueTask<W: QueueWork<O, R>, O: TaskOptions = NoOptions, R: Send + 'static = ()> {
    work: W,
    discipline: &'static str,
    make_ready: MakeReady<W::Item, R>,
    shared: Arc<Shared<W::Item, R>>,
    workers: usize,
    backends: Vec<Arc<dyn QueueBackend<W::Item, R>>>,
    _options: PhantomData<fn() -> O>,
}

impl<W: QueueWork<O, R>, O: TaskOptions, R: Send + 'static> QueueTask<W, O, R> {
    fn with_ready(work: W, discipline: &'static str, make_ready: MakeReady<W::Item, R>) -> Self {
        Self {
            work,
            discipline,
            make_ready,
            shared: Arc::new(Shared::closed(&W::name(), make_ready(1))),
            workers: W::WORKERS,
            backends: Vec::new(),
            _options: PhantomData,
        }
    }

    /// Offers `backend` to `--<prefix>-backend`: with `<scheme>://…` (its
    /// [`scheme`](QueueBackend::scheme)), the items live there instead of
    /// in this process, shared by every replica. The default stays
    /// `memory`, so a service built with a backend still runs alone.
    ///
    /// ```
    /// # use sparts_core::{BoxError, TaskSpec, VService};
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let double = TaskSpec::queue("Double", |item: u32, _ctx| async move { Ok(item * 2) });
    /// let started = VService::new("Svc")
    ///     .with_task(double)
    ///     .start_with_args(["svc", "--double-backend", "redis://localhost"])
    ///     .await;
    /// let error = format!("{:#}", started.err().expect("no redis backend"));
    /// assert!(error.contains("unknown backend (known: memory)"), "{error}");
    /// # }
    /// ```
    #[must_use]
    pub fn with_backend(mut self, backend: impl QueueBackend<W::Item, R>) -> Self {
        self.backends.push(Arc::new(backend));
        self
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
    pub fn sender(&self) -> QueueSender<W::Item, R> {
        QueueSender::new(Arc::clone(&self.shared))
    }

    /// See [`QueueSender::submit`].
    pub async fn submit(&self, item: W::Item) -> Result<ItemFuture<R>> {
        sender::submit(&self.shared, item).await
    }

    /// See [`QueueSender::try_submit`].
    pub fn try_submit(&self, item: W::Item) -> Result<ItemFuture<R>> {
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
    pub async fn map(&self, items: impl IntoIterator<Item = W::Item>) -> Vec<Result<R, BoxError>> {
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

impl<W: QueueWork<O, R> + Clone, O: TaskOptions, R: Send + 'static> Clone for QueueTask<W, O, R> {
    fn clone(&self) -> Self {
        Self {
            backends: self.backends.clone(),
            ..Self::with_ready(self.work.clone(), self.discipline, self.make_ready)
        }
    }
}

/// A first in, first out queue of the default work.
impl<W: QueueWork<O, R> + Default, O: TaskOptions, R: Send + 'static> Default
    for QueueTask<W, O, R>
{
    fn default() -> Self {
        Self::new(W::default())
    }
}

impl<W: QueueWork<O, R>, O: TaskOptions, R: Send + 'static> Debug for QueueTask<W, O, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueueTask")
            .field("discipline", &self.discipline)
            .field("workers", &self.workers)
            .field("queue", &self.shared)
            .finish_non_exhaustive()
    }
}

impl<W: QueueWork<O, R>, O: TaskOptions, R: Send + 'static> VTask<QueueOptions<O>>
    for QueueTask<W, O, R>
{
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

    async fn init(&mut self, ctx: &TaskContext<QueueOptions<O>>) -> Result<(), BoxError> {
        self.work.init(ctx).await?;
        let options = ctx.options();
        self.workers = options.workers;
        let ready = (self.make_ready)(options.workers);
        let shared = match backend::pick(&self.backends, ctx.name(), &options.backend)? {
            None => Shared::open(ctx.name(), ready, options.max_items, options.workers),
            Some(chosen) => {
                backend::check_discipline(ctx.name(), self.discipline)?;
                let spec = QueueSpec {
                    service: ctx.service().clone(),
                    task: ctx.name().to_owned(),
                    counters: ctx.counters().clone(),
                    discipline: self.discipline,
                    workers: options.workers,
                    max_items: options.max_items,
                    ack_wait: options.ack_wait,
                    prefetch: options.prefetch,
                    max_attempts: options.max_attempts,
                };
                let remote = chosen.open(&options.backend, spec).await?;
                Shared::remote(ctx.name(), ready, remote)
            }
        };
        let shared = Arc::new(shared);
        worker::Counters::register(ctx);
        let weak: Weak<Shared<W::Item, R>> = Arc::downgrade(&shared);
        let depth = move || weak.upgrade().map(|shared| shared.depth() as f64);
        ctx.counters()
            .fb303_only()
            .callback("queue_depth", depth.clone());
        ctx.service()
            .telemetry()
            .track_queue_depth(ctx.name(), depth);
        ctx.provide(Arc::new(QueueSender::new(Arc::clone(&shared))));
        self.shared = shared;
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<QueueOptions<O>>) -> Result<(), BoxError> {
        match self.shared.remote_queue() {
            Some(remote) => remote_worker::run(&self.work, remote, ctx).await,
            None => worker::run(&self.work, &self.shared, ctx).await,
        }
    }

    async fn stop(&self, _ctx: &TaskContext<QueueOptions<O>>) {
        self.shared.close();
    }
}
