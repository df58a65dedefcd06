//! A runtime of a task's own: work that must not share the service's
//! worker threads (CPU-heavy, or a library that blocks them) runs on
//! [`DedicatedRuntime`], so that it cannot starve the admin endpoints,
//! health checks and other tasks on the service's runtime, as pingora
//! gives each service a runtime of its own.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::runtime::{Handle, Runtime};

use crate::error::{BoxError, panic_message};
use crate::task::{TaskContext, TaskSpec, VTask};

/// A multi-thread tokio runtime owned by a task, its worker threads named
/// `<name>-<i>`. Dropping it (even inside the service's runtime, as when a
/// task is aborted at the shutdown timeout) shuts it down without waiting:
/// its tasks are dropped at their next await point.
#[derive(Debug)]
pub struct DedicatedRuntime {
    /// Always `Some` until dropped.
    runtime: Option<Runtime>,
}

impl DedicatedRuntime {
    /// A runtime of `threads` worker threads (at least one) named after
    /// `name`, with timers and IO.
    pub fn new(name: &str, threads: usize) -> Result<Self, BoxError> {
        Self::with_nice(name, threads, 0)
    }

    /// [`new`](Self::new), its threads at the niceness `nice` (0 to 19): on
    /// a machine whose cores are all busy, the kernel gives them only what
    /// the service's own threads leave, where at 0 they would take their
    /// share from the admin endpoints and the other tasks. Linux only (a
    /// niceness of its threads is ignored elsewhere).
    pub fn with_nice(name: &str, threads: usize, nice: i32) -> Result<Self, BoxError> {
        if threads == 0 {
            return Err("a runtime needs at least one worker thread".into());
        }
        if !(0..=19).contains(&nice) {
            return Err(format!("a niceness of {nice} is not between 0 and 19").into());
        }
        let prefix = name.to_owned();
        let next = AtomicUsize::new(0);
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        builder
            .worker_threads(threads)
            .thread_name_fn(move || format!("{prefix}-{}", next.fetch_add(1, Ordering::Relaxed)))
            .enable_all();
        if nice > 0 {
            builder.on_thread_start(move || {
                if let Err(e) = lower_priority(nice) {
                    tracing::warn!("could not lower this runtime thread's priority to {nice}: {e}");
                }
            });
        }
        let runtime = builder.build()?;
        Ok(Self {
            runtime: Some(runtime),
        })
    }

    /// The runtime's handle, to spawn more work on it.
    pub fn handle(&self) -> &Handle {
        match &self.runtime {
            Some(runtime) => runtime.handle(),
            None => unreachable!("the runtime is only taken when dropped"),
        }
    }

    /// Runs `future` on this runtime and waits for it from any other
    /// runtime; a panic is an error with its message.
    pub async fn run<F>(&self, future: F) -> Result<F::Output, BoxError>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match self.handle().spawn(future).await {
            Ok(output) => Ok(output),
            Err(e) if e.is_panic() => Err(panic_message(e.into_panic().as_ref()).into()),
            Err(e) => Err(e.into()),
        }
    }
}

/// Sets the calling thread's niceness (on Linux, each thread has its own).
#[cfg(target_os = "linux")]
fn lower_priority(nice: i32) -> std::io::Result<()> {
    use nix::libc;
    let tid = nix::unistd::gettid().as_raw();
    let tid = libc::id_t::try_from(tid).map_err(|_| std::io::ErrorKind::InvalidInput)?;
    // SAFETY: setpriority takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority(_nice: i32) -> std::io::Result<()> {
    Ok(())
}

impl Drop for DedicatedRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// The options of a [`TaskSpec::runtime`] task.
#[derive(clap::Args, Debug, Clone)]
pub struct RuntimeOptions {
    /// Worker threads of the task's own runtime (at least 1).
    #[arg(long, default_value = "1", value_name = "N")]
    pub threads: usize,

    /// Niceness of those threads, 0 to 19: at 19 a CPU-heavy task takes
    /// only the CPU time the service's own threads leave.
    #[arg(long, default_value = "0", value_name = "N", value_parser = clap::value_parser!(i32).range(0..=19))]
    pub nice: i32,
}

/// The [`VTask`] behind [`TaskSpec::runtime`].
struct RuntimeFnTask<F>(Arc<F>);

impl<F> Clone for RuntimeFnTask<F> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<F, Fut> VTask<RuntimeOptions> for RuntimeFnTask<F>
where
    F: Fn(TaskContext<RuntimeOptions>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
{
    async fn init(&mut self, ctx: &TaskContext<RuntimeOptions>) -> Result<(), BoxError> {
        if ctx.options().threads == 0 {
            return Err(format!("--{}-threads must be at least 1", ctx.prefix()).into());
        }
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<RuntimeOptions>) -> Result<(), BoxError> {
        let options = ctx.options();
        let runtime =
            DedicatedRuntime::with_nice(ctx.worker_name(), options.threads, options.nice)?;
        runtime.run((self.0)(ctx)).await?
    }
}

impl TaskSpec {
    /// A task whose work is an async closure run on a multi-thread runtime
    /// of its own ([`DedicatedRuntime`]), `--<prefix>-threads` worker
    /// threads (1 by default; `.with_default("threads", "4")` changes it)
    /// at the niceness `--<prefix>-nice` (0 by default).
    /// Otherwise it is [`task`](Self::task): the same context, stop, and
    /// failure on an error or a panic. `--<prefix>-threads 0` fails the
    /// start, naming the option.
    ///
    /// ```
    /// use sparts_core::{IntoTaskSpec, TaskSpec, VService};
    ///
    /// let service = VService::new("Crunch").with_task(
    ///     TaskSpec::runtime("Hashing", |ctx| async move {
    ///         while !ctx.is_stopping() {
    ///             // CPU-heavy work here starves nothing on the service's runtime.
    ///             tokio::task::yield_now().await;
    ///         }
    ///         Ok(())
    ///     })
    ///     .with_default("threads", "2"),
    /// );
    /// ```
    pub fn runtime<F, Fut>(name: impl Into<String>, f: F) -> Self
    where
        F: Fn(TaskContext<RuntimeOptions>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<(), BoxError>> + Send + 'static,
    {
        Self::new(RuntimeFnTask(Arc::new(f))).with_name(name)
    }
}
