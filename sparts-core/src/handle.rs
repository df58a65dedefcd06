//! A cloneable handle on a running service.

use std::any::{Any, TypeId};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock};
use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::counters::{CounterRegistry, CountersSnapshot};
use crate::error::{Error, Result, short_type_name};
use crate::exported::ExportedValues;
use crate::listen::claims::Claims;
use crate::listen::kept::Kept;
use crate::logging::LevelSetter;
use crate::notify::Notifier;
use crate::options::{LogFilter, OptionSource, OptionStore, ServiceOptions};
use crate::status::{Phase, Status, StatusState, WarningId};
use crate::telemetry::Telemetry;

/// What the handle asks of the service's lifecycle loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Control {
    Shutdown,
    Restart,
}

/// A task as the service lists it.
#[derive(Debug, Clone)]
pub(crate) struct TaskEntry {
    pub(crate) name: String,
    pub(crate) type_id: TypeId,
    pub(crate) instance: Arc<dyn Any + Send + Sync>,
    pub(crate) counters: CounterRegistry,
    /// What the task offers others by name without its type, e.g. a queue
    /// task's sender; see [`ServiceHandle::provided`].
    pub(crate) provided: Option<Arc<dyn Any + Send + Sync>>,
}

/// State shared by the lifecycle loop, the handle and every task.
pub(crate) struct Shared {
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) status: Mutex<StatusState>,
    pub(crate) status_tx: watch::Sender<Status>,
    /// Whether the service is ready (serving, no readiness hold); set
    /// with the status, under its lock.
    pub(crate) ready_tx: watch::Sender<bool>,
    pub(crate) exported: ExportedValues,
    pub(crate) options: Mutex<OptionStore>,
    pub(crate) counters: CounterRegistry,
    /// The Prometheus view of the service's metrics.
    pub(crate) telemetry: Telemetry,
    pub(crate) tasks: RwLock<Vec<TaskEntry>>,
    pub(crate) alive_since: SystemTime,
    /// When the current shutdown began (status `STOPPING`), if one did.
    shutdown_began: Mutex<Option<Instant>>,
    /// When the runner began stopping the running tasks (for a shutdown or
    /// a restart), until they start again.
    stop_began: Mutex<Option<Instant>>,
    /// The warning of a config file that did not read at the last reload.
    config_warning: Mutex<Option<WarningId>>,
    /// How many times every task has started: 1 after the first start, one
    /// more after each restart.
    starts: watch::Sender<u64>,
    pub(crate) control: mpsc::UnboundedSender<Control>,
    /// systemd, told of every status change in order. Set by `run_from_cli`
    /// once the process is final (after detaching), unset otherwise.
    pub(crate) notifier: OnceLock<Notifier>,
    /// Applies `--level` changes, when the service installed the logger.
    pub(crate) log_level: OnceLock<LevelSetter>,
    /// Which server task took which socket passed by systemd, in the
    /// current generation.
    pub(crate) activation: Mutex<Claims>,
    /// The sockets server tasks bound, kept across restarts.
    pub(crate) kept: Mutex<Kept>,
}

/// A handle on a service: status, warnings, exported values, counters,
/// options, its tasks, and the way to shut it down or restart it.
///
/// Cheap to clone; every task gets one through
/// [`TaskContext::service`](crate::TaskContext::service).
#[derive(Clone)]
pub struct ServiceHandle {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Debug for ServiceHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceHandle")
            .field("name", &self.shared.name)
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

impl Shared {
    /// The state of a service about to start, with its parsed options and
    /// the sender of its lifecycle loop's control channel.
    pub(crate) fn new(
        name: String,
        version: Option<String>,
        options: OptionStore,
        counters: CounterRegistry,
        telemetry: Telemetry,
        control: mpsc::UnboundedSender<Control>,
    ) -> Self {
        Self {
            telemetry,
            name,
            version,
            status: Mutex::new(StatusState::new()),
            status_tx: watch::Sender::new(Status::Starting),
            ready_tx: watch::Sender::new(false),
            exported: ExportedValues::default(),
            options: Mutex::new(options),
            counters,
            tasks: RwLock::new(Vec::new()),
            alive_since: SystemTime::now(),
            shutdown_began: Mutex::new(None),
            stop_began: Mutex::new(None),
            config_warning: Mutex::new(None),
            starts: watch::Sender::new(0),
            control,
            notifier: OnceLock::new(),
            log_level: OnceLock::new(),
            activation: Mutex::new(Claims::default()),
            kept: Mutex::new(Kept::default()),
        }
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every critical section leaves the state consistent, so a panic in
    // another thread does not make it unusable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl ServiceHandle {
    /// The service's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The service's version, if it set one.
    pub fn version(&self) -> Option<&str> {
        self.shared.version.as_deref()
    }

    /// The current status.
    pub fn status(&self) -> Status {
        lock(&self.shared.status).status()
    }

    /// The reasons behind the status (dead tasks, warnings), one per line.
    pub fn status_details(&self) -> String {
        lock(&self.shared.status).details()
    }

    /// A receiver that sees every status change.
    pub fn watch_status(&self) -> watch::Receiver<Status> {
        self.shared.status_tx.subscribe()
    }

    /// Unix time (seconds) when the service started.
    pub fn alive_since(&self) -> i64 {
        self.shared
            .alive_since
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    /// Starts a graceful shutdown: the status is `STOPPING` from now on.
    pub fn request_shutdown(&self) {
        self.update_status(|s| {
            if matches!(s.phase, Phase::Starting | Phase::Running) {
                s.phase = Phase::Stopping;
            }
        });
        let _ = self.shared.control.send(Control::Shutdown);
    }

    /// When the shutdown began (the status turned `STOPPING`), on tokio's
    /// clock; `None` while no shutdown has begun. The service's
    /// `--shutdown-timeout` counts from here, for the runner and for every
    /// server's drain alike.
    pub fn shutdown_began(&self) -> Option<Instant> {
        *lock(&self.shared.shutdown_began)
    }

    /// When the tasks began to stop, for a shutdown or a restart: the
    /// instant their `--shutdown-timeout` counts from. `None` while they run.
    pub(crate) fn stop_began(&self) -> Option<Instant> {
        *lock(&self.shared.stop_began)
    }

    /// Records that the tasks begin to stop (`Some`), or that they start
    /// again (`None`).
    pub(crate) fn set_stop_began(&self, began: Option<Instant>) {
        *lock(&self.shared.stop_began) = began;
    }

    /// How many times every task has started: 0 before the first
    /// `All tasks started`, 1 after it, one more after each restart.
    pub fn start_count(&self) -> u64 {
        *self.shared.starts.borrow()
    }

    /// Waits until every task has started more than `after` times, and
    /// returns the new count: `wait_for_start(0)` waits for the first start;
    /// to see a restart through, read [`start_count`](Self::start_count)
    /// before asking for it. Fails with [`Error::ServiceStopped`] if the
    /// service stops first.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> sparts_core::Result<()> {
    /// let running = sparts_core::VService::new("Demo").start_with_args(["demo"]).await?;
    /// let handle = running.handle();
    /// let before = handle.start_count();
    /// handle.request_restart();
    /// assert_eq!(handle.wait_for_start(before).await?, before + 1);
    /// running.shutdown().await?;
    /// # Ok(()) }
    /// ```
    pub async fn wait_for_start(&self, after: u64) -> Result<u64> {
        let mut starts = self.shared.starts.subscribe();
        let mut status = self.watch_status();
        let stopped = tokio::select! {
            Ok(count) = starts.wait_for(|&n| n > after) => return Ok(*count),
            _ = status.wait_for(|s| matches!(s, Status::Stopped | Status::Dead)) => true,
        };
        // The last start may have come just before the stop.
        let count = *starts.borrow();
        if stopped && count <= after {
            return Err(Error::ServiceStopped);
        }
        Ok(count)
    }

    /// Counts one more start of every task (after `All tasks started`).
    pub(crate) fn count_start(&self) -> u64 {
        self.shared.starts.send_modify(|n| *n += 1);
        self.start_count()
    }

    /// Stops every task and starts them again, rebuilt from the current options.
    pub fn request_restart(&self) {
        let _ = self.shared.control.send(Control::Restart);
    }

    /// Whether `--dryrun` is set.
    pub fn is_dry_run(&self) -> bool {
        self.service_options().dryrun
    }

    /// The service's own options as they are now.
    pub fn service_options(&self) -> Arc<ServiceOptions> {
        lock(&self.shared.options).service()
    }

    /// Registers a warning: the status is `WARNING` until it is cleared.
    pub fn register_warning(&self, message: impl Into<String>) -> WarningId {
        let message = message.into();
        tracing::warn!(service = %self.shared.name, "warning registered: {message}");
        self.update_status(|s| s.register_warning(message))
    }

    /// Clears one warning; `false` if it was not registered.
    pub fn clear_warning(&self, id: WarningId) -> bool {
        self.update_status(|s| s.clear_warning(id))
    }

    /// Clears every warning.
    pub fn clear_warnings(&self) {
        self.update_status(StatusState::clear_warnings);
    }

    pub(crate) fn update_status<R>(&self, f: impl FnOnce(&mut StatusState) -> R) -> R {
        let mut state = lock(&self.shared.status);
        let r = f(&mut state);
        let status = state.status();
        if status == Status::Stopping {
            lock(&self.shared.shutdown_began).get_or_insert_with(Instant::now);
        }
        let details = state.details();
        self.shared.telemetry.set_status(status);
        let ready = state.is_ready();
        self.shared.ready_tx.send_if_modified(|r| {
            let changed = *r != ready;
            *r = ready;
            changed
        });
        let changed = self.shared.status_tx.send_if_modified(|s| {
            let changed = *s != status;
            *s = status;
            changed
        });
        // Sent under the lock so systemd sees changes in the order they happen.
        if changed && self.notifier().is_enabled() {
            self.notifier().status(&if details.is_empty() {
                status.to_string()
            } else {
                format!("{status}: {}", details.replace('\n', "; "))
            });
        }
        drop(state);
        r
    }

    /// Sets an exported value; `None` removes it.
    pub fn set_exported(&self, key: &str, value: Option<&str>) {
        self.shared.exported.set(key, value);
    }

    /// One exported value; a missing key reads as empty.
    pub fn exported(&self, key: &str) -> String {
        self.shared.exported.get(key)
    }

    /// Every exported value.
    pub fn exported_values(&self) -> BTreeMap<String, String> {
        self.shared.exported.all()
    }

    /// The exported values whose keys match a regular expression.
    pub fn exported_matching(&self, pattern: &str) -> Result<BTreeMap<String, String>> {
        self.shared.exported.matching(pattern)
    }

    /// The exported values of these keys; missing ones read as empty.
    pub fn exported_selected<'a>(
        &self,
        keys: impl IntoIterator<Item = &'a str>,
    ) -> BTreeMap<String, String> {
        self.shared.exported.selected(keys)
    }

    /// The service's metrics as Prometheus reads them (`/metrics`): the
    /// families sparts records in, and the place to register your own.
    pub fn telemetry(&self) -> &Telemetry {
        &self.shared.telemetry
    }

    /// The service's own counters (not prefixed with a task's name).
    pub fn counters(&self) -> &CounterRegistry {
        &self.shared.counters
    }

    /// Every counter of the service and its tasks (`<Task>.<counter>`).
    pub fn counters_snapshot(&self) -> CountersSnapshot {
        let mut values = Vec::new();
        self.shared.counters.snapshot_into("", &mut values);
        for task in self.read_tasks().iter() {
            task.counters
                .snapshot_into(&format!("{}.", task.name), &mut values);
        }
        CountersSnapshot::new(values)
    }

    /// One counter's value.
    pub fn counter(&self, name: &str) -> Result<f64> {
        self.counters_snapshot()
            .get(name)
            .ok_or_else(|| Error::UnknownCounter(name.to_owned()))
    }

    /// One option's current value as text (`None`: unset, no default).
    /// Names are `<prefix>_<option>`, e.g. `http_port`.
    pub fn option(&self, name: &str) -> Result<Option<String>> {
        lock(&self.shared.options).get(name)
    }

    /// Every option with its current value.
    pub fn options(&self) -> BTreeMap<String, Option<String>> {
        lock(&self.shared.options).all()
    }

    /// Where each option's current value came from: set at run time, the
    /// command line, the environment, the config file, or a default.
    pub fn option_sources(&self) -> BTreeMap<String, OptionSource> {
        lock(&self.shared.options).sources()
    }

    /// Gives the log a new `--level`, once logging is installed.
    fn apply_log_level(&self, level: &LogFilter) {
        if let Some(apply) = self.shared.log_level.get() {
            apply(level);
        }
    }

    /// Reads the config file again (at a restart) and applies the values
    /// that changed in it. A file that no longer reads keeps the running
    /// options and raises a warning, cleared by the next good read.
    pub(crate) fn reload_config(&self) {
        let mut store = lock(&self.shared.options);
        let reloaded = store.reload_config();
        if reloaded
            .as_ref()
            .is_ok_and(|r| r.applied.iter().any(|n| n == "level"))
        {
            self.apply_log_level(&store.service().level);
        }
        drop(store);
        let mut warning = lock(&self.shared.config_warning);
        match reloaded {
            Ok(reloaded) => {
                if let Some(id) = warning.take() {
                    self.clear_warning(id);
                    tracing::info!(service = %self.shared.name, "the config file reads again");
                }
                for name in &reloaded.applied {
                    tracing::info!(service = %self.shared.name, "option {name} set from the config file");
                }
                for (name, why) in &reloaded.refused {
                    tracing::warn!(service = %self.shared.name, "option {name} in the config file not applied: {why}");
                }
            }
            Err(e) => {
                if let Some(id) = warning.take() {
                    self.clear_warning(id);
                }
                *warning =
                    Some(self.register_warning(format!("{e}; the options stay as they were")));
            }
        }
    }

    /// Every option name.
    pub fn option_names(&self) -> Vec<String> {
        lock(&self.shared.options).names()
    }

    /// Sets an option at run time through the command line's parser. A bad
    /// value or unknown name is an error naming the option, and nothing changes.
    pub fn set_option(&self, name: &str, value: &str) -> Result<()> {
        let mut store = lock(&self.shared.options);
        store.set(name, value)?;
        if name == "level" {
            self.apply_log_level(&store.service().level);
        }
        drop(store);
        tracing::info!(service = %self.shared.name, "option {name} set to {value:?}");
        Ok(())
    }

    /// The names of the running tasks, in start order.
    pub fn task_names(&self) -> Vec<String> {
        self.read_tasks().iter().map(|t| t.name.clone()).collect()
    }

    /// The first running task of type `T`.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        self.find::<T>(None)
    }

    /// The running task of type `T` with this name.
    pub fn get_named<T: Any + Send + Sync>(&self, name: &str) -> Option<Arc<T>> {
        self.find::<T>(Some(name))
    }

    /// Every running task of type `T`, in start order: for tasks that find
    /// their peers by type, such as a server looking for its handlers.
    pub fn get_all<T: Any + Send + Sync>(&self) -> Vec<Arc<T>> {
        self.read_tasks()
            .iter()
            .filter(|t| t.type_id == TypeId::of::<T>())
            .filter_map(|t| Arc::clone(&t.instance).downcast::<T>().ok())
            .collect()
    }

    /// Like [`get`](Self::get), with an error naming the task type when absent.
    pub fn require<T: Any + Send + Sync>(&self) -> Result<Arc<T>> {
        self.get::<T>()
            .ok_or_else(|| Error::TaskNotFound(short_type_name::<T>().to_owned()))
    }

    /// Like [`get_named`](Self::get_named), with an error naming the task.
    pub fn require_named<T: Any + Send + Sync>(&self, name: &str) -> Result<Arc<T>> {
        self.get_named::<T>(name)
            .ok_or_else(|| Error::TaskNotFound(name.to_owned()))
    }

    fn find<T: Any + Send + Sync>(&self, name: Option<&str>) -> Option<Arc<T>> {
        self.read_tasks()
            .iter()
            .filter(|t| t.type_id == TypeId::of::<T>())
            .find(|t| name.is_none_or(|n| n == t.name))
            .and_then(|t| Arc::clone(&t.instance).downcast::<T>().ok())
    }

    /// What the running task `name` provides as a `V` (see
    /// [`TaskContext::provide`](crate::TaskContext)): `Ok(None)` when the
    /// task provides nothing of that type.
    pub(crate) fn provided<V: Any + Send + Sync + Clone>(&self, name: &str) -> Result<Option<V>> {
        let tasks = self.read_tasks();
        let task = tasks
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::TaskNotFound(name.to_owned()))?;
        Ok(task
            .provided
            .as_ref()
            .and_then(|p| p.downcast_ref::<V>())
            .cloned())
    }

    /// The counter registries of the running tasks, with their names.
    pub(crate) fn task_counters(&self) -> Vec<(String, CounterRegistry)> {
        self.read_tasks()
            .iter()
            .map(|t| (t.name.clone(), t.counters.clone()))
            .collect()
    }

    fn read_tasks(&self) -> std::sync::RwLockReadGuard<'_, Vec<TaskEntry>> {
        self.shared.tasks.read().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn write_tasks(&self) -> std::sync::RwLockWriteGuard<'_, Vec<TaskEntry>> {
        self.shared.tasks.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The systemd notifier (a no-op one when there is none).
    pub(crate) fn notifier(&self) -> &Notifier {
        static NONE: OnceLock<Notifier> = OnceLock::new();
        self.shared
            .notifier
            .get()
            .unwrap_or_else(|| NONE.get_or_init(Notifier::default))
    }

    pub(crate) fn options_store(&self) -> MutexGuard<'_, OptionStore> {
        lock(&self.shared.options)
    }
}
