//! `PollerTask`: fetches a value every interval and reacts when it changes.

use std::borrow::Cow;
use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio::sync::watch;
use tracing::info;

use crate::context::TaskContext;
use crate::error::{BoxError, Error};
use crate::task::{VTask, short_type_name};
use crate::tasks::periodic::{Periodic, PeriodicOptions, PeriodicTask};

/// The context a [`Poller`]'s hooks get.
pub type PollerContext<P> = TaskContext<PeriodicOptions<<P as Poller>::Options>>;

/// A value watched by polling: implement [`fetch`](Poller::fetch) and
/// register the type wrapped in a [`PollerTask`].
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
/// use sparts_core::{BoxError, NoOptions, Poller, PollerContext, PollerTask, TaskSpec, VService};
///
/// #[derive(Default)]
/// struct Generation(AtomicU32);
///
/// impl Poller for Generation {
///     const INTERVAL: Duration = Duration::from_millis(10);
///     type Options = NoOptions;
///     type Value = u32;
///
///     async fn fetch(&self, _ctx: &PollerContext<Self>) -> Result<u32, BoxError> {
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
pub trait Poller: Send + Sync + Sized + 'static {
    /// The default interval; `--<prefix>-interval` overrides it. Default: 1 s.
    const INTERVAL: Duration = Duration::from_secs(1);

    /// The task's own options besides the interval, or
    /// [`NoOptions`](crate::NoOptions).
    type Options: clap::Args + Send + Sync + 'static;

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
        ctx: &PollerContext<Self>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// Gets the current value.
    fn fetch(
        &self,
        ctx: &PollerContext<Self>,
    ) -> impl Future<Output = Result<Self::Value, BoxError>> + Send;

    /// Called after a fetch whose value differs from the previous one
    /// (`None` before the first), once the new value is visible through
    /// [`PollerTask::value`]. Default: logs both at info level.
    fn on_value_changed(
        &self,
        ctx: &PollerContext<Self>,
        old: Option<&Self::Value>,
        new: &Self::Value,
    ) {
        let _ = ctx;
        info!("value changed from {old:?} to {new:?}");
    }
}

/// Runs a [`Poller`] as a [`Periodic`]: fetch, compare, publish.
struct Fetcher<P: Poller> {
    poller: P,
    value: watch::Sender<Option<P::Value>>,
}

impl<P: Poller> Fetcher<P> {
    fn new(poller: P) -> Self {
        Self {
            poller,
            value: watch::Sender::new(None),
        }
    }
}

impl<P: Poller> Periodic for Fetcher<P> {
    const INTERVAL: Duration = P::INTERVAL;
    type Options = P::Options;
    type Output = P::Value;

    fn name() -> Cow<'static, str> {
        P::name()
    }

    async fn init(&mut self, ctx: &PollerContext<P>) -> Result<(), BoxError> {
        self.poller.init(ctx).await
    }

    async fn execute(&self, ctx: &PollerContext<P>) -> Result<P::Value, BoxError> {
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
pub struct PollerTask<P: Poller> {
    inner: PeriodicTask<Fetcher<P>>,
}

impl<P: Poller> fmt::Debug for PollerTask<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PollerTask")
            .field("task", &self.inner)
            .field("value", &*self.inner.inner().value.borrow())
            .finish()
    }
}

impl<P: Poller + Clone> Clone for PollerTask<P> {
    /// A fresh, not yet started instance, with no value.
    fn clone(&self) -> Self {
        Self::new(self.poller().clone())
    }
}

impl<P: Poller + Default> Default for PollerTask<P> {
    fn default() -> Self {
        Self::new(P::default())
    }
}

impl<P: Poller> PollerTask<P> {
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

impl<P: Poller> VTask for PollerTask<P> {
    type Options = PeriodicOptions<P::Options>;

    fn name() -> Cow<'static, str> {
        P::name()
    }

    fn option_defaults() -> Vec<(&'static str, String)> {
        PeriodicTask::<Fetcher<P>>::option_defaults()
    }

    fn init(
        &mut self,
        ctx: &PollerContext<P>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.inner.init(ctx)
    }

    fn run(&self, ctx: PollerContext<P>) -> impl Future<Output = Result<(), BoxError>> + Send {
        self.inner.run(ctx)
    }

    fn stop(&self, ctx: &PollerContext<P>) -> impl Future<Output = ()> + Send {
        self.inner.stop(ctx)
    }
}
