//! `PollerTask`: fetches a value every interval and reacts when it changes.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::error::{BoxError, Error, short_type_name};
use crate::handle::ServiceHandle;
use crate::task::{NoOptions, TaskOptions, TaskSpec, VTask};
use crate::tasks::periodic::{Periodic, PeriodicContext, PeriodicOptions, PeriodicTask};

/// The context a [`Poller`]'s hooks get: a periodic task's, whose options
/// are the interval and the poller's own (`O`).
pub type PollerContext<O = NoOptions> = PeriodicContext<O>;

/// A value watched by polling: implement [`fetch`](Poller::fetch) and
/// register the type wrapped in a [`PollerTask`] (or, without state or
/// options, give a closure to [`TaskSpec::poller`](crate::TaskSpec::poller)).
/// `O` is the poller's own options besides the interval ([`NoOptions`]
/// when left out).
///
/// The interval works as [`Periodic`]'s: [`INTERVAL`](Poller::INTERVAL),
/// `--<prefix>-interval`, changeable at run time. A fetch that returns
/// [`TryLater`](crate::TryLater) is retried (after its delay, or at the next
/// tick); any other error fails the task, which by default shuts the
/// service down with a non-zero exit.
///
/// ```
/// use std::sync::atomic::{AtomicU32, Ordering};
/// use std::time::Duration;
/// use sparts_core::tasks::{Poller, PollerContext, PollerTask};
/// use sparts_core::{BoxError, TaskSpec, VService};
///
/// #[derive(Default)]
/// struct Generation(AtomicU32);
///
/// impl Poller for Generation {
///     const INTERVAL: Duration = Duration::from_millis(10);
///     type Value = u32;
///
///     async fn fetch(&self, _ctx: &PollerContext) -> Result<u32, BoxError> {
///         Ok(self.0.fetch_add(1, Ordering::Relaxed) / 3)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// // Not `Clone`: each (re)start builds a fresh poller.
/// let service = VService::new("Svc").with_task(TaskSpec::from_fn(PollerTask::<Generation>::default));
/// let running = service.start_with_args(["svc"]).await?;
/// let poller = running.handle().require::<PollerTask<Generation>>()?;
/// assert_eq!(poller.value(Duration::from_secs(5)).await?, 0);
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub trait Poller<O: TaskOptions = NoOptions>: Send + Sync + Sized + 'static {
    /// The default interval; `--<prefix>-interval` overrides it. Default: 1 s.
    const INTERVAL: Duration = Duration::from_secs(1);

    /// The value fetched.
    type Value: Clone + PartialEq + fmt::Debug + Send + Sync + 'static;

    /// The task's name (logs, counters, option prefix). Default: the type's
    /// name without module path or generics.
    fn name() -> Cow<'static, str> {
        short_type_name::<Self>().into()
    }

    /// Prepares the task once, before the first fetch. Default: nothing.
    fn init(
        &mut self,
        ctx: &PollerContext<O>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Gets the current value.
    fn fetch(
        &self,
        ctx: &PollerContext<O>,
    ) -> impl Future<Output = Result<Self::Value, BoxError>> + Send;

    /// Called after a fetch whose value differs from the previous one
    /// (`None` before the first), once the new value is visible through
    /// [`PollerTask::value`]. Default: logs both at info level.
    fn on_value_changed(
        &self,
        ctx: &PollerContext<O>,
        old: Option<&Self::Value>,
        new: &Self::Value,
    ) {
        let _ = ctx;
        info!("value changed from {old:?} to {new:?}");
    }
}

/// Runs a [`Poller`] as a [`Periodic`]: fetch, compare, publish.
struct Fetcher<P: Poller<O>, O: TaskOptions> {
    poller: P,
    value: watch::Sender<Option<P::Value>>,
}

impl<P: Poller<O>, O: TaskOptions> Fetcher<P, O> {
    fn new(poller: P) -> Self {
        Self {
            poller,
            value: watch::Sender::new(None),
        }
    }
}

impl<P: Poller<O>, O: TaskOptions> Periodic<O, P::Value> for Fetcher<P, O> {
    const INTERVAL: Duration = P::INTERVAL;

    fn name() -> Cow<'static, str> {
        P::name()
    }

    async fn init(&mut self, ctx: &PollerContext<O>) -> Result<(), BoxError> {
        self.poller.init(ctx).await
    }

    async fn execute(&self, ctx: &PollerContext<O>) -> Result<P::Value, BoxError> {
        let new = self.poller.fetch(ctx).await?;
        if self.value.borrow().as_ref() != Some(&new) {
            let old = self.value.send_replace(Some(new.clone()));
            self.poller.on_value_changed(ctx, old.as_ref(), &new);
        }
        Ok(new)
    }
}

/// The [`VTask`] that polls a [`Poller`] every interval.
///
/// It is a [`PeriodicTask`] underneath, with the same schedule and counters
/// (`n_iterations` counts successful fetches). Other tasks wait for the
/// first value with [`value`](Self::value).
///
/// The type parameters are the [`Poller`]'s: `PollerTask<Temperature>`, or
/// `PollerTask<Temperature, SensorOptions>` for one with options.
pub struct PollerTask<P: Poller<O>, O: TaskOptions = NoOptions> {
    inner: PeriodicTask<Fetcher<P, O>, O, P::Value>,
}

impl<P: Poller<O>, O: TaskOptions> fmt::Debug for PollerTask<P, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerTask")
            .field("task", &self.inner)
            .field("value", &*self.inner.inner().value.borrow())
            .finish()
    }
}

impl<P: Poller<O> + Clone, O: TaskOptions> Clone for PollerTask<P, O> {
    /// A fresh, not yet started instance, with no value.
    fn clone(&self) -> Self {
        Self::new(self.poller().clone())
    }
}

impl<P: Poller<O> + Default, O: TaskOptions> Default for PollerTask<P, O> {
    fn default() -> Self {
        Self::new(P::default())
    }
}

impl<P: Poller<O>, O: TaskOptions> PollerTask<P, O> {
    /// The task that polls `poller`.
    pub fn new(poller: P) -> Self {
        Self {
            inner: PeriodicTask::new(Fetcher::new(poller)),
        }
    }

    /// The user's poller.
    pub fn poller(&self) -> &P {
        &self.inner.inner().poller
    }

    /// The last value fetched, if any.
    pub fn current_value(&self) -> Option<P::Value> {
        self.inner.inner().value.borrow().clone()
    }

    /// The last value fetched, waiting up to `timeout` for the first fetch.
    ///
    /// Fails with [`Error::NoValue`] when the wait runs out, and with
    /// [`Error::TaskNotRunning`] when no value was fetched and the task is
    /// not running (at once) or stops while waiting.
    pub async fn value(&self, timeout: Duration) -> Result<P::Value, Error> {
        let mut values = self.inner.inner().value.subscribe();
        let mut phase = self.inner.phase();
        let first_value_or_stop = async {
            tokio::select! {
                biased;
                _ = values.wait_for(Option::is_some) => {}
                () = phase.not_running() => {}
            }
        };
        let timed_out = tokio::time::timeout(timeout, first_value_or_stop)
            .await
            .is_err();
        // A value that arrived as the task stopped still counts.
        match self.current_value() {
            Some(value) => Ok(value),
            None if timed_out => Err(Error::NoValue {
                task: self.inner.task_name(),
                waited: timeout,
            }),
            None => Err(Error::TaskNotRunning(self.inner.task_name())),
        }
    }
}

impl<P: Poller<O>, O: TaskOptions> VTask<PeriodicOptions<O>> for PollerTask<P, O> {
    fn name() -> Cow<'static, str> {
        P::name()
    }

    fn option_defaults() -> Vec<(&'static str, String)> {
        PeriodicTask::<Fetcher<P, O>, O, P::Value>::option_defaults()
    }

    async fn init(&mut self, ctx: &PollerContext<O>) -> Result<(), BoxError> {
        self.inner.init(ctx).await?;
        let values = self.inner.inner().value.subscribe();
        ctx.provide(Arc::new(values));
        Ok(())
    }

    fn run(&self, ctx: PollerContext<O>) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.inner.run(ctx)
    }

    fn stop(&self, ctx: &PollerContext<O>) -> impl Future<Output = ()> + Send {
        self.inner.stop(ctx)
    }
}

/// The [`Poller`] behind [`TaskSpec::poller`]: the closure is shared by
/// every start, so it need not be `Clone`.
struct FnPoller<F, V>(Arc<F>, PhantomData<fn() -> V>);

impl<F, V> Clone for FnPoller<F, V> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0), PhantomData)
    }
}

impl<F, Fut, V> Poller for FnPoller<F, V>
where
    F: Fn(PollerContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<V, BoxError>> + Send,
    V: Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
{
    type Value = V;

    fn fetch(&self, ctx: &PollerContext) -> impl Future<Output = Result<V, BoxError>> + Send {
        (self.0)(ctx.clone())
    }
}

impl TaskSpec {
    /// A poller whose fetch is an async closure, given the task's context
    /// (a cheap clone) each time: the closure form of [`Poller`] for a task
    /// with no options of its own. Every `--<prefix>-interval` seconds
    /// (default 1) it fetches, and logs the value when it changed; other
    /// tasks read it with [`ServiceHandle::poller_value`]. The task is
    /// `name` in logs, counters and lookups, its prefix `name` in kebab-case.
    ///
    /// ```
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Watcher").with_task(
    ///     TaskSpec::poller("Load", |_ctx| async { Ok(std::fs::read_to_string("/proc/loadavg")?) })
    ///         .with_default("interval", "5"),
    /// );
    /// ```
    pub fn poller<F, Fut, V>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(PollerContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<V, BoxError>> + Send + 'static,
        V: Clone + PartialEq + fmt::Debug + Send + Sync + 'static,
    {
        Self::new(PollerTask::new(FnPoller(Arc::new(f), PhantomData))).with_name(name)
    }
}

impl ServiceHandle {
    /// The value the running poller task `name` fetched last (`None` before
    /// its first fetch), for pollers of values of type `V`, closures
    /// ([`TaskSpec::poller`]) included. Fails with
    /// [`Error::TaskNotFound`] when no task has that name and
    /// [`Error::WrongTaskType`] when it is not a poller of `V`.
    pub fn poller_value<V>(&self, name: &str) -> Result<Option<V>, Error>
    where
        V: Clone + Send + Sync + 'static,
    {
        let values = self
            .provided::<watch::Receiver<Option<V>>>(name)?
            .ok_or_else(|| Error::WrongTaskType {
                task: name.to_owned(),
                expected: format!("a poller of {}", std::any::type_name::<V>()),
            })?;
        Ok(values.borrow().clone())
    }
}
