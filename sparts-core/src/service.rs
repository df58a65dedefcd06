//! `VService`: a named set of tasks, and the ways to run it.

use std::ffi::OsString;
use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::counters::{CounterRegistry, SharedClock};
use crate::error::{BoxError, Error, Result};
use crate::handle::{ServiceHandle, Shared};
use crate::logging::ExtraLayer;
use crate::options::{CliExit, OptionStore, TaskOptionsDecl};
use crate::runner::{Hooks, Runner, TaskFailurePolicy, select};
use crate::task::IntoTaskSpec;
use crate::task::TaskSpec;
use crate::task::erased::resolve;
use crate::telemetry::{Fb303Counters, Telemetry, install_recorder};

/// A service: a name, a version, tasks, and the options, logging, signals,
/// counters and status they share.
///
/// ```no_run
/// use sparts_core::VService;
///
/// fn main() -> std::process::ExitCode {
///     VService::new("EmptyService").run_from_cli()
/// }
/// ```
#[must_use]
pub struct VService {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) specs: Vec<TaskSpec>,
    pub(crate) hooks: Hooks,
    pub(crate) policy: TaskFailurePolicy,
    pub(crate) clock: Option<SharedClock>,
    pub(crate) signals: Option<bool>,
    pub(crate) logging: Option<bool>,
    pub(crate) latency_buckets: Option<Vec<f64>>,
    pub(crate) metrics_recorder: bool,
    pub(crate) log_layers: Vec<ExtraLayer>,
}

impl std::fmt::Debug for VService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VService")
            .field("name", &self.name)
            .field("version", &self.version)
            .field("tasks", &self.specs)
            .finish_non_exhaustive()
    }
}

impl VService {
    /// A service with this name (used in logs, `--help`, the default pidfile
    /// and environment variables: `MyService` reads `MYSERVICE_<OPTION>`).
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            version: None,
            specs: Vec::new(),
            hooks: Hooks::default(),
            policy: TaskFailurePolicy::default(),
            clock: None,
            signals: None,
            logging: None,
            latency_buckets: None,
            metrics_recorder: true,
            log_layers: Vec::new(),
        }
    }

    /// Sets the version (`--version`, fb303 `getVersion`). Default: none.
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.version = Some(version.into());
        self
    }

    /// Adds a task; its dependencies are added before it. Accepts any
    /// `Clone` [`VTask`](crate::VTask), or a [`TaskSpec`]: a closure task
    /// ([`TaskSpec::task`], [`TaskSpec::periodic`], ...) or a task renamed
    /// or given option defaults ([`IntoTaskSpec`]).
    pub fn with_task<M>(mut self, task: impl IntoTaskSpec<M>) -> Self {
        self.specs.push(task.into_spec());
        self
    }

    /// Runs before the tasks' `init`, at start and at each restart; an error
    /// stops the start. Default: none.
    pub fn on_init<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ServiceHandle) -> Result<(), BoxError> + Send + Sync + 'static,
    {
        self.hooks.on_init = Some(Box::new(hook));
        self
    }

    /// Runs once every task has started (after `All tasks started`), at start
    /// and at each restart. Default: none.
    pub fn on_started<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ServiceHandle) + Send + Sync + 'static,
    {
        self.hooks.on_started = Some(Box::new(hook));
        self
    }

    /// Runs once, after every task has started the first time (restarts do
    /// not run it again): a greeting, a banner of addresses. Runs before
    /// [`on_started`](Self::on_started). Default: none.
    pub fn on_first_started<F>(mut self, hook: F) -> Self
    where
        F: Fn(&ServiceHandle) + Send + Sync + 'static,
    {
        self.hooks.on_first_started = Some(Box::new(hook));
        self
    }

    /// What a task failure does. Default: [`TaskFailurePolicy::Shutdown`].
    pub fn on_task_failure(mut self, policy: TaskFailurePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The clock of every counter's time windows. Default: the monotonic
    /// clock; tests inject a [`ManualClock`](crate::counters::ManualClock).
    pub fn with_clock(mut self, clock: SharedClock) -> Self {
        self.clock = Some(clock);
        self
    }

    /// The bucket boundaries, in seconds, of every latency histogram on
    /// `/metrics` (requests, calls, task executions). Default:
    /// [`DEFAULT_LATENCY_BUCKETS`](crate::telemetry::DEFAULT_LATENCY_BUCKETS),
    /// half a millisecond to ten seconds. Boundaries are sorted; those that
    /// are not finite are left out.
    pub fn with_latency_buckets(mut self, buckets: impl IntoIterator<Item = f64>) -> Self {
        self.latency_buckets = Some(buckets.into_iter().collect());
        self
    }

    /// Whether the service becomes the `metrics` facade's recorder, so that
    /// `metrics::counter!`, `gauge!` and `histogram!` in its code and in
    /// the libraries it uses appear on `/metrics` and in fb303
    /// `getCounters`. The facade has one recorder per process: it follows
    /// the service started last. Default: on; off leaves the facade to a
    /// recorder of your own.
    pub fn with_metrics_recorder(mut self, on: bool) -> Self {
        self.metrics_recorder = on;
        self
    }

    /// Whether SIGINT/SIGTERM stop the service and SIGHUP restarts it.
    /// Default: on for [`run_from_cli`](Self::run_from_cli), off when run
    /// inside an existing program.
    pub fn with_signals(mut self, on: bool) -> Self {
        self.signals = Some(on);
        self
    }

    /// Whether the service installs the process's logger (`--level`,
    /// `--log-format`, `--logfile`). Default: on for [`run_from_cli`](Self::run_from_cli),
    /// off when run inside an existing program.
    pub fn with_logging(mut self, on: bool) -> Self {
        self.logging = Some(on);
        self
    }

    /// Adds a tracing layer (OpenTelemetry, Sentry, a second sink) to the
    /// logger the service installs, beside its own output and under the
    /// same `--level` directives, which keep changing at run time; `--logfile`,
    /// its reopen on SIGHUP and `--log-format` apply to the service's own
    /// output as before. Call it once per layer. Default: none.
    ///
    /// The layers are installed with the logger, so only when the service
    /// installs it (see [`with_logging`](Self::with_logging)). A layer that
    /// should see what `--level` hides (debug spans for a tracing backend)
    /// goes to [`with_filtered_log_layer`](Self::with_filtered_log_layer)
    /// with its own filter.
    ///
    /// ```
    /// use std::process::ExitCode;
    /// use std::sync::Arc;
    /// use std::sync::atomic::{AtomicUsize, Ordering};
    ///
    /// use sparts_core::VService;
    /// use sparts_core::tracing_subscriber::{Layer, Registry, layer::Context};
    ///
    /// /// Counts the events it is given: a stand-in for an exporter.
    /// struct CountEvents(Arc<AtomicUsize>);
    ///
    /// impl Layer<Registry> for CountEvents {
    ///     fn on_event(&self, _: &tracing::Event<'_>, _: Context<'_, Registry>) {
    ///         self.0.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let seen = Arc::new(AtomicUsize::new(0));
    /// let code = VService::new("Counted")
    ///     .with_log_layer(CountEvents(Arc::clone(&seen)))
    ///     .with_signals(false)
    ///     .on_started(|service| {
    ///         tracing::info!(target: "counted", "seen");
    ///         tracing::debug!(target: "counted", "hidden by --level");
    ///         service.request_shutdown();
    ///     })
    ///     .run_from_args(["counted", "--level", "warn,counted=info"]);
    /// assert_eq!(code, ExitCode::SUCCESS);
    /// // The service's own info lines are below `warn`: only ours came through.
    /// assert_eq!(seen.load(Ordering::Relaxed), 1);
    /// ```
    pub fn with_log_layer<L>(mut self, layer: L) -> Self
    where
        L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        self.log_layers
            .push(ExtraLayer::under_level(Box::new(layer)));
        self
    }

    /// Adds a tracing layer that filters for itself (give it one with
    /// `layer.with_filter(..)`): `--level` does not apply to it, so it can
    /// see spans and events the service's own output leaves out. Otherwise
    /// as [`with_log_layer`](Self::with_log_layer). Default: none.
    ///
    /// ```
    /// use sparts_core::VService;
    /// use sparts_core::tracing_subscriber::{EnvFilter, Layer, fmt};
    ///
    /// // Every debug line of the service's own code, as JSON on stdout,
    /// // whatever --level says.
    /// let debug = fmt::layer()
    ///     .json()
    ///     .with_writer(std::io::stdout)
    ///     .with_filter(EnvFilter::new("my_service=debug"));
    /// let service = VService::new("MyService").with_filtered_log_layer(debug);
    /// ```
    pub fn with_filtered_log_layer<L>(mut self, layer: L) -> Self
    where
        L: tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync + 'static,
    {
        self.log_layers.push(ExtraLayer::filtered(Box::new(layer)));
        self
    }

    /// Parses the command line and builds the shared state.
    pub(crate) fn prepare<I, T>(self, argv: I) -> Result<Runner, CliExit>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let specs = resolve(&self.specs);
        for (i, (spec, _)) in specs.iter().enumerate() {
            for (other, _) in &specs[..i] {
                let clash = if other.name == spec.name {
                    Some(("name", &spec.name))
                } else if other.prefix == spec.prefix {
                    Some(("prefix", &spec.prefix))
                } else {
                    None
                };
                if let Some((what, value)) = clash {
                    let e = Error::DuplicateTask {
                        what,
                        value: value.clone(),
                    };
                    return Err(CliExit::Usage(e.to_string()));
                }
            }
        }
        let defs: Vec<_> = specs
            .iter()
            .map(|(s, _)| {
                let mut def = s.factory.options_def();
                let own = s.defaults.iter();
                def.defaults
                    .extend(own.map(|(id, value)| (id.clone().into(), value.clone())));
                def
            })
            .collect();
        let decls: Vec<_> = specs
            .iter()
            .zip(&defs)
            .map(|((s, _), def)| TaskOptionsDecl {
                name: &s.name,
                prefix: &s.prefix,
                def,
            })
            .collect();
        let mut store = OptionStore::new(&self.name, self.version.as_deref(), &decls)
            .map_err(|e| CliExit::Usage(e.to_string()))?;
        store.parse(argv)?;
        // Checked here too, so a wrong name is a usage error before anything starts.
        select(&specs, store.service().tasks.as_deref())
            .map_err(|e| CliExit::Usage(e.to_string()))?;

        let (control_tx, control) = mpsc::unbounded_channel();
        let counters = self
            .clock
            .map_or_else(CounterRegistry::new, CounterRegistry::with_clock);
        let telemetry = Telemetry::new(&self.name, self.version.as_deref(), self.latency_buckets);
        let shared = Shared::new(
            self.name,
            self.version,
            store,
            counters,
            telemetry,
            control_tx,
        );
        let shared = Arc::new(shared);
        if self.metrics_recorder {
            install_recorder(&shared.telemetry, &shared.counters);
        }
        let weak = Arc::downgrade(&shared);
        shared
            .telemetry
            .register_collector(Box::new(Fb303Counters::new(move || {
                let Some(shared) = weak.upgrade() else {
                    return Vec::new();
                };
                let handle = ServiceHandle { shared };
                let tasks = handle.task_counters().into_iter();
                std::iter::once((None, handle.counters().clone()))
                    .chain(tasks.map(|(name, counters)| (Some(name), counters)))
                    .collect()
            })));
        Ok(Runner {
            handle: ServiceHandle { shared },
            control,
            specs,
            hooks: self.hooks,
            policy: self.policy,
            signals: self.signals.unwrap_or(false),
            logging: None,
        })
    }

    /// Runs inside the current tokio runtime until the service stops, with
    /// these arguments (the first is the program name).
    pub async fn run_with_args<I, T>(self, argv: I) -> Result<()>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        self.prepare(argv)
            .map_err(|e| match e {
                CliExit::Info(text) | CliExit::Usage(text) => Error::Usage(text),
            })?
            .run(None)
            .await
    }

    /// Starts inside the current tokio runtime and returns once every task
    /// has started, with a handle on the running service.
    pub async fn start_with_args<I, T>(self, argv: I) -> Result<RunningService>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString> + Clone,
    {
        let runner = self.prepare(argv).map_err(|e| match e {
            CliExit::Info(text) | CliExit::Usage(text) => Error::Usage(text),
        })?;
        let handle = runner.handle.clone();
        let (tx, rx) = oneshot::channel();
        let join = tokio::spawn(runner.run(Some(tx)));
        let running = RunningService { handle, join };
        match rx.await {
            Ok(Ok(())) => Ok(running),
            // The loop's own result says best why it could not start.
            _ => Err(running.start_error().await),
        }
    }
}

/// A service started with [`VService::start_with_args`].
#[derive(Debug)]
pub struct RunningService {
    handle: ServiceHandle,
    join: JoinHandle<Result<()>>,
}

impl RunningService {
    /// Why a service whose loop ended before every task started could not
    /// start: the loop's own result says it best.
    pub(crate) async fn start_error(self) -> Error {
        match self.join.await {
            Ok(Err(e)) => e,
            Ok(Ok(())) => Error::Aborted("it was stopped before every task started".to_owned()),
            Err(e) => Error::Aborted(e.to_string()),
        }
    }

    /// The service's handle: status, options, counters, tasks, shutdown.
    pub fn handle(&self) -> &ServiceHandle {
        &self.handle
    }

    /// Waits until the service stops; `Ok` for a clean shutdown.
    pub async fn wait(self) -> Result<()> {
        match self.join.await {
            Ok(result) => result,
            Err(e) => Err(Error::Aborted(e.to_string())),
        }
    }

    /// Requests a shutdown and waits for it.
    pub async fn shutdown(self) -> Result<()> {
        self.handle.request_shutdown();
        self.wait().await
    }
}
