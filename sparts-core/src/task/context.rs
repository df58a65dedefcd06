//! What a task gets from its service: its options, counters, cancellation
//! token and a handle on the service.

use std::any::Any;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::watch;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::NoOptions;
use crate::counters::CounterRegistry;

use crate::handle::ServiceHandle;
use crate::options::AnyOptions;

/// The parts of a context shared by a task's workers.
#[derive(Debug)]
pub(crate) struct ContextShared {
    pub(crate) name: String,
    pub(crate) prefix: String,
    pub(crate) token: CancellationToken,
    pub(crate) counters: CounterRegistry,
    pub(crate) service: ServiceHandle,
    /// What the task offers other tasks by its name (set in `init`).
    pub(crate) provided: Mutex<Option<Arc<dyn Any + Send + Sync>>>,
    /// The service's runtime, where the callbacks of work that runs off
    /// it ([`TaskContext::on_stop`]) wait.
    pub(crate) runtime: tokio::runtime::Handle,
}

impl ContextShared {
    pub(crate) fn new(
        name: String,
        prefix: String,
        token: CancellationToken,
        counters: CounterRegistry,
        service: ServiceHandle,
        runtime: tokio::runtime::Handle,
    ) -> Self {
        Self {
            name,
            prefix,
            token,
            counters,
            service,
            provided: Mutex::new(None),
            runtime,
        }
    }

    /// Takes what the task provided, for the service's task list.
    pub(crate) fn take_provided(&self) -> Option<Arc<dyn Any + Send + Sync>> {
        self.provided
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// A task's view of its service, passed to [`VTask`](crate::VTask) hooks.
///
/// `O` is the task's options type ([`NoOptions`] when left out). Each
/// worker gets its own clone; a clone is cheap (a few reference counts).
#[derive(Debug)]
pub struct TaskContext<O = NoOptions> {
    pub(super) shared: Arc<ContextShared>,
    pub(super) worker_name: Arc<str>,
    worker: Option<usize>,
    pub(super) options: watch::Receiver<AnyOptions>,
    _options: PhantomData<fn() -> O>,
}

impl<O> Clone for TaskContext<O> {
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
            worker_name: Arc::clone(&self.worker_name),
            worker: self.worker,
            options: self.options.clone(),
            _options: PhantomData,
        }
    }
}

/// Sees changes to a task's options; from [`TaskContext::watch_options`].
#[derive(Debug)]
pub struct OptionsWatch<O = NoOptions> {
    rx: watch::Receiver<AnyOptions>,
    _options: PhantomData<fn() -> O>,
}

impl<O: Send + Sync + 'static> OptionsWatch<O> {
    /// Waits for the next change and returns the new options.
    pub async fn changed(&mut self) -> Arc<O> {
        if self.rx.changed().await.is_err() {
            // The option store outlives every task; without it nothing changes.
            std::future::pending::<()>().await;
        }
        self.current()
    }

    /// The options as they are now.
    pub fn current(&self) -> Arc<O> {
        downcast(&self.rx)
    }
}

fn downcast<O: Send + Sync + 'static>(rx: &watch::Receiver<AnyOptions>) -> Arc<O> {
    let any = Arc::clone(&*rx.borrow());
    any.downcast::<O>()
        .unwrap_or_else(|_| unreachable!("a task's options are always of its Options type"))
}

impl<O: Send + Sync + 'static> TaskContext<O> {
    pub(crate) fn new(shared: Arc<ContextShared>, options: watch::Receiver<AnyOptions>) -> Self {
        Self {
            worker_name: shared.name.as_str().into(),
            shared,
            worker: None,
            options,
            _options: PhantomData,
        }
    }

    /// This context for worker `index` of `count`.
    pub(crate) fn for_worker(&self, index: usize, count: usize) -> Self {
        let mut ctx = self.clone();
        ctx.worker = Some(index);
        if count > 1 {
            ctx.worker_name = format!("{}-{index}", self.shared.name).into();
        }
        ctx
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The worker's name: the task's, or `<Task>-<i>` when it has several.
    pub fn worker_name(&self) -> &str {
        &self.worker_name
    }

    /// The worker's index (`None` in `init` and `stop`).
    pub fn worker(&self) -> Option<usize> {
        self.worker
    }

    /// The task's option prefix (`http` for `--http-port`).
    pub fn prefix(&self) -> &str {
        &self.shared.prefix
    }

    /// The task's current options. A value set at run time shows here at once.
    pub fn options(&self) -> Arc<O> {
        downcast(&self.options)
    }

    /// A receiver of this task's options that sees every change.
    pub fn watch_options(&self) -> OptionsWatch<O> {
        let mut rx = self.options.clone();
        rx.mark_unchanged();
        OptionsWatch {
            rx,
            _options: PhantomData,
        }
    }

    /// The task's counters, exported by the service as `<Task>.<counter>`.
    pub fn counters(&self) -> &CounterRegistry {
        &self.shared.counters
    }

    /// The service: status, warnings, other tasks, shutdown.
    pub fn service(&self) -> &ServiceHandle {
        &self.shared.service
    }

    /// Offers `value` to other tasks, which find it by this task's name
    /// without knowing its type (a queue's sender, say). Replaces what was
    /// offered before; read when `init` returns.
    pub(crate) fn provide(&self, value: Arc<dyn Any + Send + Sync>) {
        *self
            .shared
            .provided
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(value);
    }

    /// The token cancelled when the task must stop.
    pub fn token(&self) -> &CancellationToken {
        &self.shared.token
    }

    /// Completes when the task must stop.
    pub fn stopped(&self) -> WaitForCancellationFuture<'_> {
        self.shared.token.cancelled()
    }

    /// Whether the task was asked to stop.
    pub fn is_stopping(&self) -> bool {
        self.shared.token.is_cancelled()
    }

    /// Sleeps for `duration`, or less if the task is asked to stop. Returns
    /// `false` when it was cut short.
    pub async fn sleep(&self, duration: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(duration) => true,
            () = self.stopped() => false,
        }
    }
}
