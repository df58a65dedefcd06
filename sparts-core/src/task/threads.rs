//! Work that runs off the service's runtime, on a thread of its own: a
//! foreign event loop that owns its thread ([`TaskContext::run_blocking`]),
//! or a future that is not `Send` ([`TaskContext::run_local`]); and the two
//! ends such a loop needs, the service waking it ([`TaskContext::on_stop`],
//! [`TaskContext::on_options_change`]) and it reaching the service.
//!
//! # The stop contract
//!
//! A thread cannot be killed. A loop on one is asked to stop, through the
//! task's token or a callback of [`on_stop`](TaskContext::on_stop) that
//! quits it (`glib::MainLoop::quit`, actix's `ServerHandle::stop`), and
//! must return soon after. A loop that ignores it past the shutdown
//! timeout is named in a warning, like any task that overruns it, and the
//! service stops anyway: the thread is left behind, and the process exits
//! with it when the service was its `main`.
//!
//! # Reaching the service from the loop
//!
//! The context is `Clone + Send`, and what a loop needs of it never waits
//! on the service's runtime: counters ([`counters`](TaskContext::counters),
//! atomics), options ([`options`](TaskContext::options), a snapshot), the
//! status and warnings ([`service`](TaskContext::service)). Async work is
//! handed to the service's runtime with [`spawn`](TaskContext::spawn).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::{JoinHandle, LocalSet};
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use super::TaskContext;
use crate::error::{BoxError, panic_message};

impl<O: Send + Sync + 'static> TaskContext<O> {
    /// Runs blocking code (a library with its own loop) on an OS thread
    /// named after this worker, and waits for it. `f` gets the task's token
    /// and must return soon after it is cancelled (see the module's stop
    /// contract); a panic is the task's failure, named.
    pub async fn run_blocking<F, R>(&self, f: F) -> Result<R, BoxError>
    where
        F: FnOnce(CancellationToken) -> Result<R, BoxError> + Send + 'static,
        R: Send + 'static,
    {
        let token = self.token().clone();
        self.on_own_thread(move || f(token)).await
    }

    /// Runs the future `f` makes on an OS thread named after this worker,
    /// on a current-thread runtime of its own inside a [`LocalSet`], and
    /// waits for it: the future need not be `Send`, so it may hold `Rc`,
    /// `RefCell` or a framework's thread-bound types, and
    /// [`tokio::task::spawn_local`] works inside it. It gets this context
    /// and stops as any task does, when [`stopped`](Self::stopped)
    /// completes; a panic is the task's failure, named.
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use sparts_core::{BoxError, TaskContext};
    ///
    /// async fn run(ctx: TaskContext) -> Result<(), BoxError> {
    ///     ctx.run_local(|ctx| async move {
    ///         let seen = Rc::new(Cell::new(0_u64));
    ///         while ctx.sleep(std::time::Duration::from_millis(10)).await {
    ///             seen.set(seen.get() + 1);
    ///         }
    ///         Ok(())
    ///     })
    ///     .await
    /// }
    /// ```
    pub async fn run_local<F, Fut, R>(&self, f: F) -> Result<R, BoxError>
    where
        F: FnOnce(Self) -> Fut + Send + 'static,
        Fut: Future<Output = Result<R, BoxError>> + 'static,
        R: Send + 'static,
    {
        let ctx = self.clone();
        self.on_own_thread(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            LocalSet::new().block_on(&runtime, f(ctx))
        })
        .await
    }

    /// Runs `f` on a thread named after this worker, in the current span,
    /// and waits for its result; a panic becomes an error with its message.
    pub(super) async fn on_own_thread<F, R>(&self, f: F) -> Result<R, BoxError>
    where
        F: FnOnce() -> Result<R, BoxError> + Send + 'static,
        R: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let span = tracing::Span::current();
        std::thread::Builder::new()
            .name(self.worker_name().to_string())
            .spawn(move || {
                let _entered = span.enter();
                let result = std::panic::catch_unwind(AssertUnwindSafe(f));
                let _ = tx.send(result);
            })?;
        match rx.in_current_span().await {
            Ok(Ok(result)) => result,
            Ok(Err(panic)) => Err(panic_message(panic.as_ref()).into()),
            Err(_) => Err("the task's thread ended without a result".into()),
        }
    }

    /// Calls `f` once, on the service's runtime, when the task is asked to
    /// stop: the way to quit a loop that does not watch the token
    /// (`move || main_loop.quit()`). `f` must not block. Callable from any
    /// thread; if the task has already been asked to stop, `f` runs at once.
    pub fn on_stop(&self, f: impl FnOnce() + Send + 'static) {
        let token = self.token().clone();
        self.shared.runtime.spawn(async move {
            token.cancelled().await;
            f();
        });
    }

    /// Calls `f` on the service's runtime with the new options each time
    /// they change at run time (`set_option`, a reinitialize's new values),
    /// until the task is asked to stop: a loop's "reload". `f` must not
    /// block. Callable from any thread.
    pub fn on_options_change(&self, mut f: impl FnMut(Arc<O>) + Send + 'static) {
        let token = self.token().clone();
        let mut watch = self.watch_options();
        self.shared.runtime.spawn(async move {
            loop {
                tokio::select! {
                    options = watch.changed() => f(options),
                    () = token.cancelled() => return,
                }
            }
        });
    }

    /// Runs `future` on the service's runtime, from any thread, without
    /// waiting for it: a loop's way to do async work of the service's
    /// (a request to another task, a queue's `submit`).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.shared.runtime.spawn(future)
    }
}
