//! The task trait: what a unit of work inside a service implements.

use std::borrow::Cow;
use std::future::Future;

use heck::ToKebabCase;

use crate::context::TaskContext;
use crate::error::BoxError;
use crate::spec::TaskSpec;

/// A unit of work owned by a [`VService`](crate::VService).
///
/// Only [`run`](VTask::run) is required. The service parses the task's
/// [`Options`](VTask::Options) under its prefix (`--<prefix>-<option>`),
/// calls [`init`](VTask::init) once, runs [`workers`](VTask::workers) copies
/// of `run`, and on shutdown cancels the context's token and calls
/// [`stop`](VTask::stop). A `run` that returns an error or panics shuts the
/// service down with a non-zero exit; a `run` that returns `Ok` simply ends
/// that worker.
///
/// ```
/// use sparts_core::{BoxError, NoOptions, TaskContext, VTask};
///
/// #[derive(Clone)]
/// struct Heartbeat;
///
/// impl VTask for Heartbeat {
///     type Options = NoOptions;
///
///     async fn run(&self, ctx: TaskContext<NoOptions>) -> Result<(), BoxError> {
///         let beats = ctx.counters().counter("beats");
///         while !ctx.is_stopping() {
///             beats.increment();
///             ctx.sleep(std::time::Duration::from_secs(1)).await;
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait VTask: Send + Sync + Sized + 'static {
    /// The task's options, a clap `Args` struct; [`NoOptions`] for none.
    type Options: clap::Args + Send + Sync + 'static;

    /// The task's name, used in logs, counters (`<Task>.<counter>`) and
    /// `--help`. Default: the type's name without its module path or generics.
    fn name() -> Cow<'static, str> {
        short_type_name::<Self>().into()
    }

    /// The option prefix: the task's flags are `--<prefix>-<option>`.
    /// [`TaskSpec::with_prefix`] overrides it for one registration, and
    /// [`TaskSpec::with_name`] makes it follow the new name. Default: the
    /// name in kebab-case (`DirectoryWatcherTask` gives
    /// `--directory-watcher-task-path`).
    fn default_prefix() -> Cow<'static, str> {
        Self::name().to_kebab_case().into()
    }

    /// Defaults for [`Options`](VTask::Options) by argument id, overriding
    /// the struct's own: a task type changes a default without redeclaring
    /// the option. Default: none.
    fn option_defaults() -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Task types this one needs; they are registered first, once each.
    /// Default: none.
    fn dependencies(deps: &mut Dependencies) {
        let _ = deps;
    }

    /// How many copies of `run` to start (`<Task>-<i>` when more than one).
    /// Zero makes a task that only serves others (a handler). Default: 1.
    fn workers(&self) -> usize {
        1
    }

    /// Prepares the task. Runs in registration order, after its dependencies,
    /// which [`TaskContext::service`] can already find. Return
    /// [`SkipTask`] to remove the task from this run. Default: nothing.
    fn init(
        &mut self,
        ctx: &TaskContext<Self::Options>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// The task's work. Return when [`TaskContext::stopped`] completes.
    fn run(
        &self,
        ctx: TaskContext<Self::Options>,
    ) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Called on shutdown, in reverse registration order, right after the
    /// task's token is cancelled. Default: nothing.
    fn stop(&self, ctx: &TaskContext<Self::Options>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }
}

/// Options struct for a task that has none.
#[derive(clap::Args, Debug, Clone, Copy, Default)]
pub struct NoOptions {}

/// Returned from [`VTask::init`] to leave the task out of this run; the
/// service logs the reason at info level and starts without it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{0}")]
pub struct SkipTask(pub String);

impl SkipTask {
    /// A skip with its reason.
    pub fn new(reason: impl Into<String>) -> Self {
        Self(reason.into())
    }
}

/// The task types a task depends on; see [`VTask::dependencies`].
#[derive(Debug, Default)]
pub struct Dependencies {
    pub(crate) specs: Vec<TaskSpec>,
}

impl Dependencies {
    /// Needs a task of type `T`, built with `T::default()` unless the service
    /// registers one itself.
    pub fn add<T: VTask + Default>(&mut self) -> &mut Self {
        self.specs.push(TaskSpec::from_fn(T::default));
        self
    }
}

/// A type's name without its path or generic arguments: the name a task
/// gets by default from its type (`my_crate::tasks::PeriodicTask<my_crate::Clock>`
/// becomes `PeriodicTask`). Transport crates name the tasks that wrap a
/// user's type after that type with it.
///
/// ```
/// assert_eq!(sparts_core::short_type_name::<Vec<String>>(), "Vec");
/// ```
#[must_use]
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(short_type_name::<NoOptions>(), "NoOptions");
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
    }
}
