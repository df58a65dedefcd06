//! A task from an async closure, named where it is registered.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use super::{TaskContext, TaskOptions, TaskSpec, VTask};
use crate::error::BoxError;

/// The [`VTask`] behind [`TaskSpec::task`]: the closure is shared by every
/// start, so it need not be `Clone`.
struct FnTask<F>(Arc<F>);

impl<F> Clone for FnTask<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F, Fut> VTask for FnTask<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    fn run(&self, ctx: TaskContext) -> impl Future<Output = Result<(), BoxError>> + Send {
        (self.0)(ctx)
    }
}

impl TaskSpec {
    /// A task whose work is an async closure, run once per start with the
    /// task's context: the closure form of [`VTask::run`], for a task with
    /// no options. The task is `name` in logs, counters and lookups, its
    /// option prefix `name` in kebab-case. Returning an error or panicking
    /// fails the task as a `VTask` would: it is named in the log and the
    /// service shuts down.
    ///
    /// ```
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Greeter").with_task(TaskSpec::task("Hello", |ctx| async move {
    ///     tracing::info!("hello from {}", ctx.name());
    ///     ctx.stopped().await;
    ///     Ok(())
    /// }));
    /// ```
    pub fn task<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(FnTask(Arc::new(f))).with_name(name)
    }
}

/// The [`VTask`] behind [`TaskSpec::local`].
struct LocalFnTask<F>(Arc<F>);

impl<F> Clone for LocalFnTask<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F, Fut> VTask for LocalFnTask<F>
where
    F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + 'static,
{
    async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
        let f = Arc::clone(&self.0);
        ctx.run_local(move |ctx| f(ctx)).await
    }
}

impl TaskSpec {
    /// A task whose work is an async closure whose future need not be
    /// `Send`: it runs on an OS thread of its own, named after the task,
    /// on a current-thread runtime inside a
    /// [`LocalSet`](tokio::task::LocalSet) ([`TaskContext::run_local`]).
    /// Otherwise it is [`task`](Self::task): the same context, stop, and
    /// failure on an error or a panic.
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    /// use sparts_core::{TaskSpec, VService};
    ///
    /// let service = VService::new("Local").with_task(TaskSpec::local("Tally", |ctx| async move {
    ///     let seen = Rc::new(RefCell::new(Vec::new()));
    ///     while ctx.sleep(std::time::Duration::from_secs(1)).await {
    ///         seen.borrow_mut().push(ctx.name().len());
    ///     }
    ///     Ok(())
    /// }));
    /// ```
    pub fn local<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(TaskContext) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + 'static,
    {
        Self::new(LocalFnTask(Arc::new(f))).with_name(name)
    }
}

/// The [`VTask`] behind [`TaskSpec::blocking`].
struct BlockingFnTask<F, O>(Arc<F>, PhantomData<fn() -> O>);

impl<F, O> Clone for BlockingFnTask<F, O> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0), PhantomData)
    }
}

impl<F, O> VTask<O> for BlockingFnTask<F, O>
where
    F: Fn(TaskContext<O>) -> Result<(), BoxError> + Send + Sync + 'static,
    O: TaskOptions,
{
    async fn run(&self, ctx: TaskContext<O>) -> Result<(), BoxError> {
        let (f, thread_ctx) = (Arc::clone(&self.0), ctx.clone());
        ctx.on_own_thread(move || f(thread_ctx)).await
    }
}

impl TaskSpec {
    /// A task whose work is a blocking closure run on an OS thread of its
    /// own, named after the task: a foreign event loop that owns its thread
    /// (glib's `MainLoop`, a C library's `run()`, another async framework's
    /// runtime). The closure gets the task's context, with its options
    /// (`O`, named by the closure's parameter: `|ctx: TaskContext<MyOptions>|`,
    /// or `|ctx: TaskContext|` for none), counters and token; it quits its
    /// loop from [`TaskContext::on_stop`] and must then return (the stop
    /// contract of [`TaskContext::run_blocking`]). An error or a panic fails
    /// the task, named.
    ///
    /// ```
    /// use std::sync::mpsc;
    /// use sparts_core::{TaskContext, TaskSpec, VService};
    ///
    /// let service = VService::new("Legacy").with_task(TaskSpec::blocking("Loop", |ctx: TaskContext| {
    ///     // A loop that ends when told to on a channel of its own.
    ///     let (quit, events) = mpsc::channel::<()>();
    ///     ctx.on_stop(move || {
    ///         let _ = quit.send(());
    ///     });
    ///     events.recv()?;
    ///     Ok(())
    /// }));
    /// ```
    pub fn blocking<O, F>(name: impl Into<String>, f: F) -> Self
    where
        O: TaskOptions,
        F: Fn(TaskContext<O>) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        Self::new(BlockingFnTask(Arc::new(f), PhantomData)).with_name(name)
    }
}
