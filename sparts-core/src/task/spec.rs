//! Registering a task: its name, prefix, option defaults and how to build a
//! fresh instance (at start and at every restart).

use std::any::TypeId;
use std::marker::PhantomData;
use std::sync::Arc;

use heck::ToKebabCase;

use super::erased::{Factory, FnFactory};
use super::{TaskOptions, VTask};

/// A task as registered on a [`VService`](crate::VService): how to build it,
/// its name (default [`VTask::name`]) and its option prefix (default
/// [`VTask::default_prefix`], the name in kebab-case unless the type says
/// otherwise).
///
/// Any `Clone` [`VTask`] becomes one through [`IntoTaskSpec`], whose
/// `with_*` methods rename, re-prefix and set option defaults in the same
/// call that registers: `HttpTask::new(admin).with_name("AdminHttp")`.
/// Each (re)start builds from a clone. Closures become tasks through
/// [`TaskSpec::task`], [`TaskSpec::periodic`], [`TaskSpec::queue`] and
/// [`TaskSpec::poller`], named as they are registered.
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
    pub fn new<T, O>(template: T) -> Self
    where
        T: VTask<O> + Clone,
        O: TaskOptions,
    {
        Self::from_fn(move || template.clone())
    }

    /// A task built by a function at every (re)start: for tasks that are
    /// not `Clone`.
    pub fn from_fn<T, O, F>(build: F) -> Self
    where
        T: VTask<O>,
        O: TaskOptions,
        F: Fn() -> T + Send + Sync + 'static,
    {
        Self {
            prefix: T::default_prefix().into_owned(),
            prefix_set: false,
            defaults: Vec::new(),
            name: T::name().into_owned(),
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
    /// use sparts_core::{BoxError, IntoTaskSpec, TaskContext, VService, VTask, clap};
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
    /// impl VTask<ListenOptions> for Listener {
    ///     async fn run(&self, ctx: TaskContext<ListenOptions>) -> Result<(), BoxError> {
    ///         ctx.stopped().await;
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sparts_core::Result<()> {
    /// let running = VService::new("Demo")
    ///     .with_task(Listener.with_default("port", "8080"))
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

    /// Sets several option defaults at once; see
    /// [`with_default`](Self::with_default).
    #[must_use]
    pub fn with_defaults<I, K, V>(mut self, defaults: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        let defaults = defaults.into_iter();
        self.defaults
            .extend(defaults.map(|(id, value)| (id.into(), value.into())));
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

/// What [`VService::with_task`](crate::VService::with_task) takes: a
/// [`TaskSpec`], or any `Clone` [`VTask`] (built from a clone at every
/// start). The methods register the task under another name, prefix or
/// option defaults without spelling out a `TaskSpec`:
///
/// ```
/// use sparts_core::{IntoTaskSpec, PeriodicTask, TaskSpec};
/// # use sparts_core::{BoxError, Periodic, PeriodicContext};
/// # #[derive(Clone)]
/// # struct Backup;
/// # impl Periodic for Backup {
/// #     async fn execute(&self, _: &PeriodicContext) -> Result<(), BoxError> { Ok(()) }
/// # }
///
/// let nightly = PeriodicTask::new(Backup)
///     .with_name("NightlyBackup")
///     .with_default("interval", "86400");
/// assert_eq!(nightly.prefix(), "nightly-backup");
/// ```
///
/// `M` only tells the implementations apart (a task's is its options type);
/// callers never name it.
pub trait IntoTaskSpec<M>: Sized {
    /// The registration.
    fn into_spec(self) -> TaskSpec;

    /// Registers under another name; see [`TaskSpec::with_name`].
    #[must_use]
    fn with_name(self, name: impl Into<String>) -> TaskSpec {
        self.into_spec().with_name(name)
    }

    /// Registers under another option prefix; see [`TaskSpec::with_prefix`].
    #[must_use]
    fn with_prefix(self, prefix: impl Into<String>) -> TaskSpec {
        self.into_spec().with_prefix(prefix)
    }

    /// Registers with an option default; see [`TaskSpec::with_default`].
    #[must_use]
    fn with_default(self, id: impl Into<String>, value: impl Into<String>) -> TaskSpec {
        self.into_spec().with_default(id, value)
    }

    /// Registers with option defaults; see [`TaskSpec::with_defaults`].
    #[must_use]
    fn with_defaults<I, K, V>(self, defaults: I) -> TaskSpec
    where
        I: IntoIterator<Item = (K, V)>,
        K: Into<String>,
        V: Into<String>,
    {
        self.into_spec().with_defaults(defaults)
    }
}

impl<T, O> IntoTaskSpec<O> for T
where
    T: VTask<O> + Clone,
    O: TaskOptions,
{
    fn into_spec(self) -> TaskSpec {
        TaskSpec::new(self)
    }
}

/// The marker of [`TaskSpec`]'s own [`IntoTaskSpec`] implementation.
#[derive(Debug)]
pub enum SpecMarker {}

impl IntoTaskSpec<SpecMarker> for TaskSpec {
    fn into_spec(self) -> TaskSpec {
        self
    }
}

/// The tasks a task depends on; see [`VTask::dependencies`].
#[derive(Debug, Default)]
pub struct Dependencies {
    pub(crate) specs: Vec<TaskSpec>,
}

impl Dependencies {
    /// Needs a task of this one's type (the instance given here is used
    /// unless the service registers one of that type itself).
    pub fn add<M>(&mut self, task: impl IntoTaskSpec<M>) -> &mut Self {
        self.specs.push(task.into_spec());
        self
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::*;
    use crate::error::BoxError;
    use crate::task::TaskContext;

    #[derive(Clone)]
    struct WebServerTask;

    impl VTask for WebServerTask {
        fn default_prefix() -> Cow<'static, str> {
            "web".into()
        }

        async fn run(&self, _ctx: TaskContext) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[derive(Clone)]
    struct NoOptionsTask;

    impl VTask for NoOptionsTask {
        async fn run(&self, _ctx: TaskContext) -> Result<(), BoxError> {
            Ok(())
        }
    }

    #[test]
    fn prefix_comes_from_the_type_then_follows_the_name_unless_set() {
        let spec = WebServerTask.into_spec();
        assert_eq!((spec.name(), spec.prefix()), ("WebServerTask", "web"));
        let renamed = spec.clone().with_name("AdminWeb");
        assert_eq!(renamed.prefix(), "admin-web");
        let chosen = spec.with_prefix("admin").with_name("AdminWeb");
        assert_eq!((chosen.name(), chosen.prefix()), ("AdminWeb", "admin"));
        assert_eq!(NoOptionsTask.into_spec().prefix(), "no-options-task");
    }

    #[test]
    fn a_task_is_renamed_and_given_defaults_where_it_is_registered() {
        let spec = WebServerTask
            .with_name("Public")
            .with_defaults([("port", "80"), ("host", "::")]);
        assert_eq!((spec.name(), spec.prefix()), ("Public", "public"));
        assert_eq!(
            spec.defaults,
            [("port".into(), "80".into()), ("host".into(), "::".into())]
        );
    }
}
