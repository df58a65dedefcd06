//! The task API: what a unit of work implements ([`VTask`]), what it gets
//! ([`TaskContext`]) and how it is registered ([`TaskSpec`]). Nothing here
//! knows how the service runs tasks; the runner builds on it.

mod closure;
mod context;
pub(crate) mod erased;
mod spec;
mod threads;

use std::borrow::Cow;
use std::future::Future;

use heck::ToKebabCase;

use crate::error::{BoxError, short_type_name};

pub(crate) use context::ContextShared;
pub use context::{OptionsWatch, TaskContext};
pub use spec::{Dependencies, IntoTaskSpec, SpecMarker, TaskSpec};

/// What a task's options are: a clap `Args` struct its workers share.
/// Implemented for every such type; [`NoOptions`] for none.
pub trait TaskOptions: clap::Args + Send + Sync + 'static {}

impl<T: clap::Args + Send + Sync + 'static> TaskOptions for T {}

/// A unit of work owned by a [`VService`](crate::VService).
///
/// Only [`run`](VTask::run) is required. `O` is the task's options type,
/// parsed under the task's prefix (`--<prefix>-<option>`); a task without
/// options leaves it out (`impl VTask for Heartbeat`), a task with options
/// names it (`impl VTask<ServerOptions> for Server`) and its context reads
/// them. The service calls [`init`](VTask::init) once, runs
/// [`workers`](VTask::workers) copies of `run`, and on shutdown cancels the
/// context's token and calls [`stop`](VTask::stop). A `run` that returns an
/// error or panics shuts the service down with a non-zero exit; a `run`
/// that returns `Ok` simply ends that worker.
///
/// A task without state or options is shorter as a closure:
/// [`TaskSpec::task`].
///
/// ```
/// use sparts_core::{BoxError, TaskContext, VTask};
///
/// #[derive(Clone)]
/// struct Heartbeat;
///
/// impl VTask for Heartbeat {
///     async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
///         let beats = ctx.counters().counter("beats");
///         while !ctx.is_stopping() {
///             beats.increment();
///             ctx.sleep(std::time::Duration::from_secs(1)).await;
///         }
///         Ok(())
///     }
/// }
/// ```
pub trait VTask<O: TaskOptions = NoOptions>: Send + Sync + Sized + 'static {
    /// The task's name, used in logs, counters (`<Task>.<counter>`) and
    /// `--help`. Default: the type's name without its module path or
    /// generics. A registration can give another
    /// ([`IntoTaskSpec::with_name`]).
    fn name() -> Cow<'static, str> {
        short_type_name::<Self>().into()
    }

    /// The option prefix: the task's flags are `--<prefix>-<option>`.
    /// [`IntoTaskSpec::with_prefix`] overrides it for one registration, and
    /// [`IntoTaskSpec::with_name`] makes it follow the new name. Default:
    /// the name in kebab-case (`DirectoryWatcherTask` gives
    /// `--directory-watcher-task-path`).
    fn default_prefix() -> Cow<'static, str> {
        <Self as VTask<O>>::name().to_kebab_case().into()
    }

    /// Defaults for the options by argument id, overriding the struct's
    /// own: a task type changes a default without redeclaring the option.
    /// Default: none.
    fn option_defaults() -> Vec<(&'static str, String)> {
        Vec::new()
    }

    /// Tasks this one needs; they are registered first, once each.
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
    fn init(&mut self, ctx: &TaskContext<O>) -> impl Future<Output = Result<(), BoxError>> + Send {
        let _ = ctx;
        async { Ok(()) }
    }

    /// The task's work. Return when [`TaskContext::stopped`] completes.
    fn run(&self, ctx: TaskContext<O>) -> impl Future<Output = Result<(), BoxError>> + Send;

    /// Called on shutdown, in reverse registration order, right after the
    /// task's token is cancelled. Default: nothing.
    fn stop(&self, ctx: &TaskContext<O>) -> impl Future<Output = ()> + Send {
        let _ = ctx;
        async {}
    }
}

/// Options struct for a task that has none: the default of every options
/// parameter.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_names_drop_paths_and_generics() {
        assert_eq!(short_type_name::<NoOptions>(), "NoOptions");
        assert_eq!(short_type_name::<Vec<String>>(), "Vec");
    }
}
