//! Registering a task: its name, prefix and how to build a fresh instance
//! (at start and at every restart).

use std::any::{Any, TypeId};
use std::borrow::Cow;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use heck::ToKebabCase;

use crate::context::TaskContext;
use crate::error::BoxError;
use crate::options::OptionsDef;
use crate::task::{Dependencies, VTask};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A task as registered on a [`VService`](crate::VService): how to build it,
/// its name (default [`VTask::name`]) and its option prefix (default
/// [`VTask::default_prefix`], the name in kebab-case unless the type says
/// otherwise; set another with [`with_prefix`](TaskSpec::with_prefix)).
///
/// A `VTask` that is `Clone` converts into a spec directly; each (re)start
/// builds from a clone.
#[derive(Clone)]
pub struct TaskSpec {
    pub(crate) name: String,
    pub(crate) prefix: String,
    /// Whether [`with_prefix`](TaskSpec::with_prefix) chose the prefix, so a
    /// later [`with_name`](TaskSpec::with_name) keeps it.
    prefix_set: bool,
    /// Option defaults of this registration, by argument id.
    pub(crate) defaults: Vec<(String, String)>,
    pub(crate) type_id: TypeId,
    pub(crate) factory: Arc<dyn Factory>,
}

impl std::fmt::Debug for TaskSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TaskSpec")
            .field("name", &self.name)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl TaskSpec {
    /// A task built from a template, cloned at every (re)start.
    pub fn new<T: VTask + Clone>(template: T) -> Self {
        Self::from_fn(move || template.clone())
    }

    /// A task built by a function at every (re)start.
    pub fn from_fn<T: VTask, F>(build: F) -> Self
    where
        F: Fn() -> T + Send + Sync + 'static,
    {
        let name: Cow<'static, str> = T::name();
        Self {
            prefix: T::default_prefix().into_owned(),
            prefix_set: false,
            defaults: Vec::new(),
            name: name.into_owned(),
            type_id: TypeId::of::<T>(),
            factory: Arc::new(FnFactory(build, PhantomData)),
        }
    }

    /// Sets the task's name (logs, counters, lookups). Unless
    /// [`with_prefix`](Self::with_prefix) set the prefix, it becomes the new
    /// name in kebab-case (`with_name("PublicApi")` gives `--public-api-…`),
    /// so two tasks of one type get distinct flags by their names alone.
    #[must_use]
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        let name = name.into();
        if !self.prefix_set {
            self.prefix = name.to_kebab_case();
        }
        self.name = name;
        self
    }

    /// Sets the option prefix: `admin` gives `--admin-port`.
    #[must_use]
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self.prefix_set = true;
        self
    }

    /// Sets the default of one of the task's options for this registration,
    /// by its argument id (`port` for `--http-port`): the command line, the
    /// environment and run-time changes still override it. An id the task's
    /// options do not have stops the service with a usage error.
    ///
    /// ```
    /// use sparts_core::{BoxError, TaskContext, TaskSpec, VService, VTask, clap};
    ///
    /// #[derive(Clone, clap::Args)]
    /// struct ListenOptions {
    ///     #[arg(long, default_value_t = 0)]
    ///     port: u16,
    /// }
    ///
    /// #[derive(Clone)]
    /// struct Listener;
    ///
    /// impl VTask for Listener {
    ///     type Options = ListenOptions;
    ///     async fn run(&self, ctx: TaskContext<ListenOptions>) -> Result<(), BoxError> {
    ///         ctx.stopped().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sparts_core::Result<()> {
    /// let running = VService::new("Demo")
    ///     .with_task(TaskSpec::new(Listener).with_default("port", "8080"))
    ///     .start_with_args(["demo"])
    ///     .await?;
    /// assert_eq!(running.handle().option("listener_port")?.as_deref(), Some("8080"));
    /// running.shutdown().await?;
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn with_default(mut self, id: impl Into<String>, value: impl Into<String>) -> Self {
        self.defaults.push((id.into(), value.into()));
        self
    }

    /// The task's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The task's option prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
}

impl<T: VTask + Clone> From<T> for TaskSpec {
    fn from(task: T) -> Self {
        Self::new(task)
    }
}

/// Builds instances of one task type.
pub(crate) trait Factory: Send + Sync {
    fn options_def(&self) -> OptionsDef;
    fn dependencies(&self) -> Vec<TaskSpec>;
    fn build(&self, ctx: ErasedContext) -> Box<dyn PendingTask>;
}

/// The parts of a [`TaskContext`] the service builds without knowing `O`.
pub(crate) struct ErasedContext {
    pub(crate) shared: Arc<crate::context::ContextShared>,
    pub(crate) options: tokio::sync::watch::Receiver<crate::options::AnyOptions>,
}

struct FnFactory<T, F>(F, PhantomData<fn() -> T>);

impl<T: VTask, F: Fn() -> T + Send + Sync> Factory for FnFactory<T, F> {
    fn options_def(&self) -> OptionsDef {
        OptionsDef::of::<T::Options>(T::option_defaults())
    }

    fn dependencies(&self) -> Vec<TaskSpec> {
        let mut deps = Dependencies::default();
        T::dependencies(&mut deps);
        deps.specs
    }

    fn build(&self, ctx: ErasedContext) -> Box<dyn PendingTask> {
        Box::new(Pending {
            task: (self.0)(),
            ctx: TaskContext::new(ctx.shared, ctx.options),
        })
    }
}

/// A built task before `init`.
pub(crate) trait PendingTask: Send {
    fn init(&mut self) -> BoxFuture<'_, Result<(), BoxError>>;
    fn start(self: Box<Self>) -> (Arc<dyn RunningTask>, Arc<dyn Any + Send + Sync>);
}

/// A task after `init`, shared by its workers.
pub(crate) trait RunningTask: Send + Sync {
    fn workers(&self) -> usize;
    /// The worker's name and its future.
    fn worker(
        &self,
        index: usize,
        count: usize,
    ) -> (String, BoxFuture<'static, Result<(), BoxError>>);
    fn stop(&self) -> BoxFuture<'static, ()>;
}

struct Pending<T: VTask> {
    task: T,
    ctx: TaskContext<T::Options>,
}

impl<T: VTask> PendingTask for Pending<T> {
    fn init(&mut self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(self.task.init(&self.ctx))
    }

    fn start(self: Box<Self>) -> (Arc<dyn RunningTask>, Arc<dyn Any + Send + Sync>) {
        let task = Arc::new(self.task);
        let running = Arc::new(Running {
            task: Arc::clone(&task),
            ctx: self.ctx,
        });
        (running, task)
    }
}

struct Running<T: VTask> {
    task: Arc<T>,
    ctx: TaskContext<T::Options>,
}

impl<T: VTask> RunningTask for Running<T> {
    fn workers(&self) -> usize {
        self.task.workers()
    }

    fn worker(
        &self,
        index: usize,
        count: usize,
    ) -> (String, BoxFuture<'static, Result<(), BoxError>>) {
        let ctx = self.ctx.for_worker(index, count);
        let name = ctx.worker_name().to_owned();
        let task = Arc::clone(&self.task);
        (name, Box::pin(async move { task.run(ctx).await }))
    }

    fn stop(&self) -> BoxFuture<'static, ()> {
        let task = Arc::clone(&self.task);
        let ctx = self.ctx.clone();
        Box::pin(async move { task.stop(&ctx).await })
    }
}

/// Orders specs so that every task's dependencies come first, once each.
/// Returns the specs with the names of their direct dependencies.
pub(crate) fn resolve(specs: &[TaskSpec]) -> Vec<(TaskSpec, Vec<String>)> {
    let mut out: Vec<(TaskSpec, Vec<String>)> = Vec::new();
    let mut visiting = Vec::new();
    for spec in specs {
        visit(spec, specs, &mut out, &mut visiting);
    }
    out
}

fn visit(
    spec: &TaskSpec,
    registered: &[TaskSpec],
    out: &mut Vec<(TaskSpec, Vec<String>)>,
    visiting: &mut Vec<String>,
) -> String {
    let same = |s: &TaskSpec| Arc::ptr_eq(&s.factory, &spec.factory);
    if out.iter().any(|(s, _)| same(s)) || visiting.contains(&spec.name) {
        return spec.name.clone();
    }
    visiting.push(spec.name.clone());
    let mut dep_names = Vec::new();
    for dep in spec.factory.dependencies() {
        // A task the service registers itself wins over the default-built one.
        let chosen = out
            .iter()
            .map(|(s, _)| s)
            .chain(registered)
            .find(|s| s.type_id == dep.type_id)
            .cloned()
            .unwrap_or(dep);
        dep_names.push(visit(&chosen, registered, out, visiting));
    }
    visiting.pop();
    out.push((spec.clone(), dep_names));
    spec.name.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::NoOptions;

    #[derive(Clone)]
    struct WebServerTask;

    impl VTask for WebServerTask {
        type Options = NoOptions;

        fn default_prefix() -> Cow<'static, str> {
            "web".into()
        }

        async fn run(&self, _ctx: TaskContext<NoOptions>) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn prefix_comes_from_the_type_then_follows_the_name_unless_set() {
        let spec = TaskSpec::from(WebServerTask);
        assert_eq!((spec.name(), spec.prefix()), ("WebServerTask", "web"));
        let renamed = spec.clone().with_name("AdminWeb");
        assert_eq!(renamed.prefix(), "admin-web");
        let chosen = spec.with_prefix("admin").with_name("AdminWeb");
        assert_eq!((chosen.name(), chosen.prefix()), ("AdminWeb", "admin"));
        assert_eq!(TaskSpec::from(NoOptionsTask).prefix(), "no-options-task");
    }

    #[derive(Clone)]
    struct NoOptionsTask;

    impl VTask for NoOptionsTask {
        type Options = NoOptions;

        async fn run(&self, _ctx: TaskContext<NoOptions>) -> Result<(), BoxError> {
            Ok(())
        }
    }
}
