//! Tasks with their types erased, as the runner holds them: a factory per
//! registration, a pending task before `init`, a running one after.

use std::any::Any;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;

use super::context::{ContextShared, TaskContext};
use super::spec::{Dependencies, TaskSpec};
use super::{TaskOptions, VTask};
use crate::error::BoxError;
use crate::options::{AnyOptions, OptionsDef};

pub(crate) type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Builds instances of one task type.
pub(crate) trait Factory: Send + Sync {
    fn options_def(&self) -> OptionsDef;
    fn dependencies(&self) -> Vec<TaskSpec>;
    fn build(&self, ctx: ErasedContext) -> Box<dyn PendingTask>;
}

/// The parts of a [`TaskContext`] the service builds without knowing its
/// options type.
pub(crate) struct ErasedContext {
    pub(crate) shared: Arc<ContextShared>,
    pub(crate) options: tokio::sync::watch::Receiver<AnyOptions>,
}

/// A factory from a build function; `O` is the task's options type.
pub(crate) struct FnFactory<T, O, F>(pub(crate) F, pub(crate) PhantomData<fn() -> (T, O)>);

impl<T, O, F> Factory for FnFactory<T, O, F>
where
    T: VTask<O>,
    O: TaskOptions,
    F: Fn() -> T + Send + Sync,
{
    fn options_def(&self) -> OptionsDef {
        OptionsDef::of::<O>(T::option_defaults())
    }

    fn dependencies(&self) -> Vec<TaskSpec> {
        let mut deps = Dependencies::default();
        T::dependencies(&mut deps);
        deps.specs
    }

    fn build(&self, ctx: ErasedContext) -> Box<dyn PendingTask> {
        Box::new(Pending {
            task: (self.0)(),
            ctx: TaskContext::<O>::new(ctx.shared, ctx.options),
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

struct Pending<T, O> {
    task: T,
    ctx: TaskContext<O>,
}

impl<T: VTask<O>, O: TaskOptions> PendingTask for Pending<T, O> {
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

struct Running<T, O> {
    task: Arc<T>,
    ctx: TaskContext<O>,
}

impl<T: VTask<O>, O: TaskOptions> RunningTask for Running<T, O> {
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
        // A task the service registers itself wins over the one the
        // dependent task offered.
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
