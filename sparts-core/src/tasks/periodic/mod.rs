//! `PeriodicTask`: runs the user's `execute` every interval.

mod closure;
pub(crate) mod coordinate;
mod coordinated;
mod coordination;
mod grid;
mod leader;
mod options;
mod schedule;
mod state;
mod tick;

use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::{Instant, sleep_until};
use tracing::debug;

use crate::counters::{Counter, SampleType, Samples, SamplesConfig, Window};
use crate::error::{BoxError, Error, short_type_name};
use crate::handle::ServiceHandle;
use crate::status::WarningId;
use crate::task::{NoOptions, OptionsWatch, TaskContext, TaskOptions, VTask};
use crate::tasks::TryLater;
use crate::telemetry::PeriodicMetrics;

pub use options::PeriodicOptions;
pub(crate) use state::{PhaseWatch, State};
pub use tick::PeriodicTick;

use coordinate::Coordinator;
use coordination::Coordination;
use grid::WallClock;
use schedule::Schedule;
use state::{SharedError, WorkerGuard, resolve};

/// The context a [`Periodic`] task's hooks get: the task's context, whose
/// options are the interval and the task's own (`O`).
pub type PeriodicContext<O = NoOptions> = TaskContext<PeriodicOptions<O>>;

/// What a periodic task's executions return: handed to
/// [`execute_async`](PeriodicTask::execute_async) callers.
pub trait PeriodicOutput: Clone + Send + 'static {}

impl<T: Clone + Send + 'static> PeriodicOutput for T {}

/// Work done every interval: implement [`execute`](Periodic::execute) and
/// register the type wrapped in a [`PeriodicTask`]. Without state or
/// options a closure is shorter: [`TaskSpec::periodic`](crate::TaskSpec::periodic).
///
/// The interval is [`INTERVAL`](Periodic::INTERVAL) unless the command line
/// sets `--<prefix>-interval` (seconds, fractional); it can change at run
/// time and applies from the next tick. `execute` may return [`TryLater`]
/// to be retried; any other error fails the task, which by default shuts the
/// service down with a non-zero exit.
///
/// `O` is the task's own options besides the interval ([`NoOptions`] when
/// left out), read through [`PeriodicOptions`], which derefs to them; `R`
/// is what `execute` returns (`()` when left out).
///
/// ```
/// use std::time::Duration;
/// use sparts_core::{BoxError, NoOptions, Periodic, PeriodicContext, PeriodicTask, VService};
///
/// #[derive(Clone)]
/// struct Heartbeat;
///
/// impl Periodic<NoOptions, u64> for Heartbeat {
///     const INTERVAL: Duration = Duration::from_millis(10);
///
///     async fn execute(&self, ctx: &PeriodicContext) -> Result<u64, BoxError> {
///         ctx.counters().counter("beats").increment();
///         Ok(42)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let service = VService::new("Svc").with_task(PeriodicTask::new(Heartbeat));
/// let running = service.start_with_args(["svc"]).await?;
/// let handle = running.handle();
/// assert_eq!(handle.option("heartbeat_interval")?.as_deref(), Some("0.01"));
/// let task = handle.require::<PeriodicTask<Heartbeat, NoOptions, u64>>()?;
/// assert_eq!(task.execute_async().await?, 42);
/// assert!(handle.counter("Heartbeat.n_iterations")? >= 1.0);
/// running.shutdown().await?;
/// assert!(task.execute_async().await.is_err(), "fails at once once stopped");
/// # Ok(())
/// # }
/// ```
pub trait Periodic<O: TaskOptions = NoOptions, R: PeriodicOutput = ()>:
    Send + Sync + Sized + 'static
{
    /// The default interval; `--<prefix>-interval` overrides it. Default: 1 s.
    const INTERVAL: Duration = Duration::from_secs(1);

    /// The task's name (logs, counters, option prefix). Default: the type's
    /// name without module path or generics.
    fn name() -> Cow<'static, str> {
        short_type_name::<Self>().into()
    }

    /// Prepares the task once, before the first execution. Default: nothing.
    fn init(
        &mut self,
        ctx: &PeriodicContext<O>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// The periodic work. Return [`TryLater`] to be retried; any other
    /// error fails the task.
    fn execute(&self, ctx: &PeriodicContext<O>)
    -> impl Future<Output = Result<R, BoxError>> + Send;
}

/// The [`VTask`] that runs a [`Periodic`] every interval.
///
/// - The first execution starts at once (on the timer's next millisecond
///   tick); the next ones are due at absolute deadlines (`previous deadline
///   + interval`), so the time spent executing does not accumulate as drift.
/// - An execution that runs past the next deadline counts in
///   `n_slow_iterations`, and the next one starts at once, with no burst
///   of catch-up runs.
/// - [`TryLater`] retries after its delay, or at the next tick without one.
/// - A change of `--<prefix>-interval` at run time applies from the next
///   tick, and moves a pending tick to one new interval after the last one.
/// - Counters: `n_iterations` (successful executions), `n_slow_iterations`,
///   `n_try_later`, and `execute_duration_ms.{avg,max,min}.{60,240}`.
/// - `execute` learns which tick it runs for from [`PeriodicTick::current`].
///
/// # Coordination
///
/// A service run as several replicas runs every tick on each of them,
/// unless the task is offered a [`Coordinator`]
/// ([`with_coordinator`](Self::with_coordinator)) and the operator picks it
/// with `--<prefix>-coordination <scheme>://…`. Then:
///
/// - ticks sit on a wall-clock grid every replica agrees on: tick `k` is
///   due `k` intervals after the Unix epoch (the interval is read at start,
///   and must be the same on every replica);
/// - one replica holds a lease and runs each tick once; a new leader skips
///   the ticks already run, and runs at once one that a handover missed;
/// - the leader renews the lease every third of `--<prefix>-lease-ttl`
///   (default 10 s), and when no renewal went through for two thirds of
///   it, it starts no new tick (one running finishes) until it leads
///   again;
/// - a leader that stops hands over at once; one that dies is replaced
///   within the TTL;
/// - the other replicas run nothing: there
///   [`execute_async`](Self::execute_async) fails at once with
///   [`Error::NotLeader`], naming the leader;
/// - [`PeriodicTick::current`] carries the lease's fencing token;
/// - more counters: `is_leader` (0 or 1) and `n_leader_changes` (times this
///   replica took the lease).
///
/// Each (re)start of the service builds a fresh instance from a clone. The
/// type parameters are the [`Periodic`]'s: `PeriodicTask<Clock>` for a task
/// with neither options nor output, `PeriodicTask<Check, CheckOptions>` for
/// one with options.
pub struct PeriodicTask<P, O = NoOptions, R = ()> {
    inner: P,
    workers: usize,
    state: State<R>,
    /// Those `--<prefix>-coordination` may pick.
    coordinators: Vec<Arc<dyn Coordinator>>,
    /// The one picked, once initialized.
    coordination: Option<Coordination>,
    wall: WallClock,
    _options: PhantomData<fn() -> O>,
}

impl<P, O, R: Clone> std::fmt::Debug for PeriodicTask<P, O, R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeriodicTask")
            .field("name", &self.state.name())
            .field("workers", &self.workers)
            .field("state", &self.state)
            .field("coordination", &self.coordination)
            .finish_non_exhaustive()
    }
}

impl<P: Periodic<O, R> + Clone, O: TaskOptions, R: PeriodicOutput> Clone for PeriodicTask<P, O, R> {
    /// A fresh, not yet started instance with a clone of the work.
    fn clone(&self) -> Self {
        Self {
            coordinators: self.coordinators.clone(),
            wall: self.wall.clone(),
            ..Self::new(self.inner.clone()).with_workers(self.workers)
        }
    }
}

impl<P: Periodic<O, R> + Default, O: TaskOptions, R: PeriodicOutput> Default
    for PeriodicTask<P, O, R>
{
    fn default() -> Self {
        Self::new(P::default())
    }
}

impl<P: Periodic<O, R>, O: TaskOptions, R: PeriodicOutput> PeriodicTask<P, O, R> {
    /// The task that runs `inner` every interval, with one worker.
    pub fn new(inner: P) -> Self {
        Self {
            inner,
            workers: 1,
            state: State::new(P::name().into_owned()),
            coordinators: Vec::new(),
            coordination: None,
            wall: WallClock::default(),
            _options: PhantomData,
        }
    }

    /// Offers `coordinator` to `--<prefix>-coordination`: with
    /// `<scheme>://…` (its [`scheme`](Coordinator::scheme)), the replicas of
    /// the service share a lease there, and each tick runs on one of them
    /// only (see [Coordination](Self#coordination)). The default stays
    /// `none`, so a service built with a coordinator still runs alone.
    ///
    /// ```
    /// use futures_util::future::BoxFuture;
    /// use sparts_core::backend::{Coordinator, LeaseSpec, Leadership};
    /// use sparts_core::{BoxError, PeriodicTask, VService};
    /// # #[derive(Clone)]
    /// # struct Tick;
    /// # impl sparts_core::Periodic for Tick {
    /// #     async fn execute(&self, _: &sparts_core::PeriodicContext) -> Result<(), BoxError> { Ok(()) }
    /// # }
    ///
    /// /// A coordinator whose store is never there.
    /// struct Nowhere;
    ///
    /// impl Coordinator for Nowhere {
    ///     fn scheme(&self) -> &'static str {
    ///         "nowhere"
    ///     }
    ///
    ///     fn join<'a>(
    ///         &'a self,
    ///         url: &'a str,
    ///         spec: LeaseSpec,
    ///     ) -> BoxFuture<'a, Result<Box<dyn Leadership>, BoxError>> {
    ///         Box::pin(async move { Err(format!("{}: nothing at {url}", spec.task).into()) })
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let start = |url: &'static str| {
    ///     VService::new("Svc")
    ///         .with_task(PeriodicTask::new(Tick).with_coordinator(Nowhere))
    ///         .start_with_args(["svc", "--tick-coordination", url])
    /// };
    /// let error = format!("{:#}", start("nowhere://x").await.err().expect("no store"));
    /// assert!(error.contains("Tick: nothing at nowhere://x"), "{error}");
    ///
    /// let error = format!("{:#}", start("redis://x").await.err().expect("no such scheme"));
    /// assert!(error.contains("unknown coordination (known: none, nowhere)"), "{error}");
    /// # }
    /// ```
    #[must_use]
    pub fn with_coordinator(mut self, coordinator: impl Coordinator) -> Self {
        self.coordinators.push(Arc::new(coordinator));
        self
    }

    /// Reads tick numbers from `wall` instead of the system's clock.
    #[cfg(test)]
    fn with_wall_clock(mut self, wall: WallClock) -> Self {
        self.wall = wall;
        self
    }

    /// Runs `workers` copies of the schedule side by side (at least one),
    /// named `<Task>-<i>` when more than one. Default: 1.
    #[must_use]
    pub fn with_workers(mut self, workers: usize) -> Self {
        self.workers = workers.max(1);
        self
    }

    /// The user's work.
    pub fn inner(&self) -> &P {
        &self.inner
    }

    /// Whether the task runs and will execute again.
    pub fn is_running(&self) -> bool {
        self.state.is_running()
    }

    /// The result of the next execution to start from now (not of one
    /// already in progress). Waiters skip executions that ask to be tried
    /// later.
    ///
    /// Fails at once with [`Error::TaskNotRunning`] when the task is not
    /// running (not started, stopping or stopped), later with the same
    /// error if it stops first, and with [`Error::ExecutionFailed`] if the
    /// execution fails. With coordination, it fails with
    /// [`Error::NotLeader`] at once on a replica that does not lead, and
    /// later if this one stops leading first. The waiter is registered by
    /// this call, not when the future is first polled.
    pub fn execute_async(
        &self,
    ) -> impl Future<Output = Result<R, Error>> + Send + 'static + use<P, O, R> {
        let registered = match &self.coordination {
            None => self.state.register(),
            Some(c) => self.state.register_if(|task| c.check_leading(task)),
        };
        let name = self.state.name();
        async move {
            match registered?.await {
                Ok(result) => result,
                // The instance was dropped with the waiter in it.
                Err(_) => Err(Error::TaskNotRunning(name)),
            }
        }
    }

    /// Sees the task stop; for tasks built on this one.
    /// An execution that ended in an error: a [`TryLater`] is counted, its
    /// reason warned of, and its delay returned (the waiters wait for the
    /// retry); any other error fails the waiters, and the task with it.
    fn retry_or_fail(
        &self,
        ctx: &PeriodicContext<O>,
        metrics: &Metrics,
        warning: &mut Warning,
        waiters: Vec<state::Waiter<R>>,
        error: BoxError,
    ) -> Result<Option<Duration>, BoxError> {
        let Some(try_later) = TryLater::find(&error) else {
            let error: SharedError = Arc::from(error);
            self.state.fail(waiters, &error);
            return Err(Failed(error).into());
        };
        metrics.try_later.increment();
        metrics.prometheus.retries.inc();
        debug!("{try_later}: retrying");
        if let Some(reason) = &try_later.reason {
            warning.set(ctx.service(), ctx.worker_name(), reason);
        }
        self.state.put_back(waiters);
        Ok(try_later.after)
    }

    pub(crate) fn phase(&self) -> PhaseWatch<R> {
        self.state.subscribe()
    }

    /// The task's name as the service knows it.
    pub(crate) fn task_name(&self) -> String {
        self.state.name()
    }

    /// Waits for the next deadline, following interval changes. `false`
    /// when the task must stop.
    ///
    /// A deadline already due still goes through the timer, which ends on
    /// its next millisecond tick: every run then starts on the same tick
    /// phase, evenly spaced, and "at once" means within a millisecond.
    async fn wait(
        ctx: &PeriodicContext<O>,
        options: &mut OptionsWatch<PeriodicOptions<O>>,
        schedule: &mut Schedule,
    ) -> bool {
        loop {
            tokio::select! {
                biased;
                () = ctx.stopped() => return false,
                () = sleep_until(schedule.next()) => return true,
                changed = options.changed() => {
                    schedule.interval_changed(Instant::now(), changed.interval);
                }
            }
        }
    }
}

/// The counters every periodic task exports: fb303's (`n_iterations`, ...)
/// and Prometheus' (`sparts_periodic_*{task}`).
struct Metrics {
    iterations: Counter,
    slow: Counter,
    try_later: Counter,
    duration_ms: Samples,
    prometheus: PeriodicMetrics,
}

impl Metrics {
    /// Counts an execution that returned, and how long it took.
    fn ran(&self, took: Duration) {
        self.iterations.increment();
        self.duration_ms.add(took.as_secs_f64() * 1000.0);
        self.prometheus.ran(took);
    }

    fn new<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> Self {
        let samples = SamplesConfig::default()
            .with_types([SampleType::Avg, SampleType::Max, SampleType::Min])
            .with_windows([Window::Secs(60), Window::Secs(240)]);
        // Prometheus has labelled families of these; fb303 keeps its names.
        let registry = ctx.counters().fb303_only();
        Self {
            iterations: registry.counter("n_iterations"),
            slow: registry.counter("n_slow_iterations"),
            try_later: registry.counter("n_try_later"),
            duration_ms: registry.samples_with("execute_duration_ms", samples),
            prometheus: ctx.service().telemetry().periodic(ctx.name()),
        }
    }
}

/// The error a failed execution ends the worker with: the user's, shared
/// with the waiters.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
struct Failed(SharedError);

impl<P: Periodic<O, R>, O: TaskOptions, R: PeriodicOutput> VTask<PeriodicOptions<O>>
    for PeriodicTask<P, O, R>
{
    fn name() -> Cow<'static, str> {
        P::name()
    }

    fn option_defaults() -> Vec<(&'static str, String)> {
        vec![("interval", P::INTERVAL.as_secs_f64().to_string())]
    }

    fn workers(&self) -> usize {
        self.workers
    }

    async fn init(&mut self, ctx: &PeriodicContext<O>) -> Result<(), BoxError> {
        self.inner.init(ctx).await?;
        // Registered now so that they read 0 before the first execution.
        Metrics::new(ctx);
        self.coordination =
            Coordination::join(&self.coordinators, ctx, self.workers, self.wall.clone()).await?;
        self.state
            .start(ctx.name(), ctx.token().clone(), self.workers);
        Ok(())
    }

    async fn run(&self, ctx: PeriodicContext<O>) -> Result<(), BoxError> {
        let _worker = WorkerGuard(&self.state);
        let metrics = Metrics::new(&ctx);
        if let Some(coordination) = &self.coordination {
            return self.run_coordinated(coordination, &ctx, &metrics).await;
        }
        let mut options = ctx.watch_options();
        let mut schedule = Schedule::starting_at(Instant::now());
        let mut warning = Warning::default();
        while Self::wait(&ctx, &mut options, &mut schedule).await {
            schedule.start();
            let waiters = self.state.take();
            let tick = PeriodicTick::new(self.wall.tick(ctx.options().interval), None);
            let started = Instant::now();
            let result = tick.scope(self.inner.execute(&ctx)).await;
            let now = Instant::now();
            let interval = ctx.options().interval;
            match result {
                Ok(output) => {
                    warning.clear(ctx.service());
                    metrics.ran(now - started);
                    if schedule.finished(now, interval) {
                        metrics.slow.increment();
                        metrics.prometheus.slow.inc();
                        debug!("execution overran the {interval:?} interval; next one at once");
                    }
                    resolve(waiters, &output);
                }
                Err(error) => {
                    let after = self.retry_or_fail(&ctx, &metrics, &mut warning, waiters, error)?;
                    schedule.retry(now, after, interval);
                }
            }
        }
        warning.clear(ctx.service());
        Ok(())
    }

    async fn stop(&self, _ctx: &PeriodicContext<O>) {
        self.state.stop();
    }
}

/// The warning a worker keeps registered while its executions ask to be
/// retried with a reason, cleared by the next that succeeds.
#[derive(Debug, Default)]
struct Warning {
    registered: Option<(WarningId, String)>,
}

impl Warning {
    fn set(&mut self, service: &ServiceHandle, worker: &str, reason: &str) {
        if self
            .registered
            .as_ref()
            .is_some_and(|(_, said)| said == reason)
        {
            return;
        }
        if let Some((id, _)) = self.registered.take() {
            service.clear_warning(id);
        }
        tracing::warn!("{reason}: retrying");
        let id = service.register_warning(format!("{worker}: {reason}"));
        self.registered = Some((id, reason.to_owned()));
    }

    fn clear(&mut self, service: &ServiceHandle) {
        if let Some((id, reason)) = self.registered.take() {
            service.clear_warning(id);
            tracing::info!("recovered from: {reason}");
        }
    }
}
