//! The lifecycle loop: build, init, start, wait, stop, and again on restart.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::AbortHandle;
use tokio::time::{Instant, timeout_at};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, error, info, info_span, warn};

use crate::context::ContextShared;
use crate::counters::CounterRegistry;
use crate::error::{BoxError, Error, Result, TaskFailure};
use crate::handle::{Control, ServiceHandle, TaskEntry};
use crate::logging::LogControl;
use crate::options::Owner;
use crate::service::{Hooks, TaskFailurePolicy};
use crate::signals::{self, Request, Signals};
use crate::spec::{ErasedContext, RunningTask, TaskSpec};
use crate::status::Phase;
use crate::task::SkipTask;

/// Everything the loop needs, after the command line was parsed.
pub(crate) struct Runner {
    pub(crate) handle: ServiceHandle,
    pub(crate) control: mpsc::UnboundedReceiver<Control>,
    /// Tasks in start order, with the names of their direct dependencies.
    pub(crate) specs: Vec<(TaskSpec, Vec<String>)>,
    pub(crate) hooks: Hooks,
    pub(crate) policy: TaskFailurePolicy,
    pub(crate) signals: bool,
    pub(crate) logging: Option<LogControl>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("service", &self.handle.name())
            .finish_non_exhaustive()
    }
}

/// How a worker ended.
struct WorkerEvent {
    task: String,
    worker: String,
    result: Result<(), String>,
}

/// A started task and what it takes to stop it.
struct Started {
    name: String,
    running: Arc<dyn RunningTask>,
    token: CancellationToken,
    tracker: TaskTracker,
    workers: Vec<(String, AbortHandle)>,
}

/// One start of the tasks (the first, or one after a restart).
struct Generation {
    tasks: Vec<Started>,
    events: mpsc::UnboundedReceiver<WorkerEvent>,
    live_workers: usize,
}

/// Why the service stops running its tasks.
enum End {
    Shutdown,
    Restart,
    Failed(TaskFailure),
    AllFinished,
}

/// `panicked: ` and the text of a panic payload.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    format!("panicked: {}", crate::error::panic_text(payload))
}

impl Runner {
    /// Runs the service until it stops. `started` learns when every task
    /// has started, or why the service could not start.
    pub(crate) async fn run(
        mut self,
        mut started: Option<oneshot::Sender<Result<(), String>>>,
    ) -> Result<()> {
        let span = info_span!("service", name = %self.handle.name());
        let result = self.run_inner(&mut started).instrument(span).await;
        if let (Some(tx), Err(e)) = (started.take(), &result) {
            let _ = tx.send(Err(e.to_string()));
        }
        result
    }

    async fn run_inner(
        &mut self,
        started: &mut Option<oneshot::Sender<Result<(), String>>>,
    ) -> Result<()> {
        let mut signals = if self.signals {
            Some(Signals::new()?)
        } else {
            None
        };
        if let Some(log) = &self.logging {
            let _ = self
                .handle
                .shared
                .log_level
                .set(Box::new(log.level_setter()));
        }
        let watchers = self.spawn_watchers();
        let result = self.generations(&mut signals, started).await;
        watchers.cancel();
        let phase = if result.is_ok() {
            Phase::Stopped
        } else {
            Phase::Dead
        };
        self.handle.update_status(|s| s.phase = phase);
        match &result {
            Ok(()) => info!("Instance shut down gracefully"),
            Err(Error::StartFailed(_)) => {}
            Err(e) => error!("service ended with an error: {e}"),
        }
        result
    }

    async fn generations(
        &mut self,
        signals: &mut Option<Signals>,
        started: &mut Option<oneshot::Sender<Result<(), String>>>,
    ) -> Result<()> {
        loop {
            self.handle.update_status(|s| {
                s.phase = Phase::Starting;
                s.clear_deaths();
            });
            // A task whose init hangs must not make SIGTERM wait forever:
            // a stop signal abandons the start (no worker runs before every
            // init returned, so nothing is left running).
            let started_generation = {
                let start = self.start();
                tokio::pin!(start);
                loop {
                    tokio::select! {
                        generation = &mut start => break Some(generation),
                        request = signals::recv(signals) => match request {
                            Request::Stop(_, name) => {
                                warn!("{name} received while tasks were initializing: start abandoned");
                                break None;
                            }
                            Request::Restart => info!("SIGHUP ignored while tasks are initializing"),
                        },
                    }
                }
            };
            let Some(started_generation) = started_generation else {
                self.handle.request_shutdown();
                self.handle.write_tasks().clear();
                return Ok(());
            };
            let mut generation = match started_generation {
                Ok(g) => g,
                Err(e) => {
                    error!("{e}");
                    return Err(e);
                }
            };
            // A shutdown requested while starting still wins.
            let shutdown_early = self.handle.status() == crate::Status::Stopping;
            self.handle.update_status(|s| {
                if s.phase == Phase::Starting {
                    s.phase = Phase::Running;
                }
            });
            info!("All tasks started");
            self.handle.notifier().ready();
            if let Some(hook) = &self.hooks.on_started {
                hook(&self.handle);
            }
            if let Some(tx) = started.take() {
                let _ = tx.send(Ok(()));
            }

            let end = if shutdown_early {
                End::Shutdown
            } else {
                self.wait(&mut generation, signals).await
            };
            if matches!(end, End::Restart) {
                self.handle.update_status(|s| s.phase = Phase::Starting);
                self.handle.notifier().reloading();
            } else {
                self.handle.update_status(|s| s.phase = Phase::Stopping);
                self.handle.notifier().stopping();
            }
            let stop_errors = tokio::select! {
                errors = self.stop(generation) => errors,
                signo = second_signal(signals) => return Err(Error::Interrupted(signo)),
            };
            match end {
                // A shutdown asked for during the restart wins.
                End::Restart if self.handle.status() == crate::Status::Stopping => {
                    return Ok(());
                }
                End::Restart if stop_errors.is_empty() => {
                    if let Some(log) = &self.logging {
                        if let Err(e) = log.reopen() {
                            warn!("could not reopen the log file: {e}");
                        }
                    }
                    info!("Restarting: all tasks stopped, starting them again");
                }
                End::Failed(failure) => return Err(Error::TaskFailed(failure)),
                _ => {
                    return match stop_errors.into_iter().next() {
                        Some(failure) => Err(Error::TaskFailed(failure)),
                        None => Ok(()),
                    };
                }
            }
        }
    }

    /// Tasks to run: every registered one, or those of `--tasks` and their
    /// dependencies.
    fn selected(&self) -> Result<Vec<TaskSpec>> {
        let Some(wanted) = self.handle.service_options().tasks.clone() else {
            return Ok(self.specs.iter().map(|(s, _)| s.clone()).collect());
        };
        let mut keep: Vec<String> = Vec::new();
        let mut queue = wanted;
        while let Some(name) = queue.pop() {
            if keep.contains(&name) {
                continue;
            }
            let Some((_, deps)) = self.specs.iter().find(|(s, _)| s.name == name) else {
                return Err(Error::UnknownTask {
                    name,
                    available: self.task_list(),
                });
            };
            queue.extend(deps.iter().cloned());
            keep.push(name);
        }
        Ok(self
            .specs
            .iter()
            .filter(|(s, _)| keep.contains(&s.name))
            .map(|(s, _)| s.clone())
            .collect())
    }

    pub(crate) fn task_list(&self) -> String {
        self.specs
            .iter()
            .map(|(s, _)| s.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Builds and initializes every task, then starts their workers.
    async fn start(&mut self) -> Result<Generation> {
        self.handle.write_tasks().clear();
        let specs = self.selected()?;
        let root = CancellationToken::new();
        let mut failures = Vec::new();
        if let Some(hook) = &self.hooks.on_init {
            if let Err(error) = hook(&self.handle) {
                failures.push(TaskFailure {
                    task: self.handle.name().to_owned(),
                    stage: "init",
                    error,
                });
            }
        }
        let mut ready = Vec::new();
        for spec in &specs {
            let token = root.child_token();
            let counters = CounterRegistry::with_clock(self.handle.shared.counters.clock().clone());
            let shared = Arc::new(ContextShared {
                name: spec.name.clone(),
                prefix: spec.prefix.clone(),
                token: token.clone(),
                counters: counters.clone(),
                service: self.handle.clone(),
            });
            let Some(options) = self
                .handle
                .options_store()
                .watch(&Owner::Task(spec.name.clone()))
            else {
                return Err(Error::TaskNotFound(spec.name.clone()));
            };
            let mut pending = spec.factory.build(ErasedContext { shared, options });
            let span = info_span!("task", name = %spec.name);
            match pending.init().instrument(span).await {
                Ok(()) => {
                    let (running, instance) = pending.start();
                    self.handle.write_tasks().push(TaskEntry {
                        name: spec.name.clone(),
                        type_id: spec.type_id,
                        instance,
                        counters,
                    });
                    ready.push((spec.name.clone(), running, token));
                }
                Err(e) if e.downcast_ref::<SkipTask>().is_some() => {
                    info!("Skipping task {}: {e}", spec.name);
                }
                Err(error) => {
                    error!("task {} failed to initialize: {error}", spec.name);
                    failures.push(TaskFailure {
                        task: spec.name.clone(),
                        stage: "init",
                        error,
                    });
                }
            }
        }
        if !failures.is_empty() {
            root.cancel();
            self.handle.write_tasks().clear();
            let e = Error::StartFailed(failures);
            return Err(e);
        }

        let (events_tx, events) = mpsc::unbounded_channel();
        let mut tasks = Vec::new();
        let mut live_workers = 0;
        for (name, running, token) in ready {
            let tracker = TaskTracker::new();
            let count = running.workers();
            let mut workers = Vec::new();
            for index in 0..count {
                let (worker, future) = running.worker(index, count);
                let span = info_span!("task", name = %worker);
                let join = tokio::spawn(future.instrument(span));
                workers.push((worker.clone(), join.abort_handle()));
                let tx = events_tx.clone();
                let task = name.clone();
                tracker.spawn(async move {
                    let result = match join.await {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(e)) => Err(e.to_string()),
                        Err(e) if e.is_panic() => Err(panic_message(e.into_panic().as_ref())),
                        Err(_) => Err("aborted".to_owned()),
                    };
                    let _ = tx.send(WorkerEvent {
                        task,
                        worker,
                        result,
                    });
                });
                live_workers += 1;
            }
            tasks.push(Started {
                name,
                running,
                token,
                tracker,
                workers,
            });
        }
        Ok(Generation {
            tasks,
            events,
            live_workers,
        })
    }

    /// Waits for a reason to stop: a request, a signal, a failure, or every
    /// worker having finished.
    async fn wait(&mut self, g: &mut Generation, signals: &mut Option<Signals>) -> End {
        loop {
            tokio::select! {
                control = self.control.recv() => match control {
                    Some(Control::Shutdown) | None => {
                        info!("Shutdown requested, stopping tasks...");
                        return End::Shutdown;
                    }
                    Some(Control::Restart) => {
                        info!("Restart requested, stopping tasks...");
                        return End::Restart;
                    }
                },
                request = signals::recv(signals) => match request {
                    Request::Stop(_, name) => {
                        info!("{name} received, stopping tasks...");
                        self.handle.request_shutdown();
                        return End::Shutdown;
                    }
                    Request::Restart => {
                        info!("SIGHUP received, restarting...");
                        return End::Restart;
                    }
                },
                Some(event) = g.events.recv() => {
                    g.live_workers -= 1;
                    match event.result {
                        Ok(()) => info!("worker {} finished", event.worker),
                        Err(reason) => {
                            error!("task {} died: {reason}", event.worker);
                            self.handle.update_status(|s| {
                                s.record_death(format!("task {} died: {reason}", event.worker));
                            });
                            if self.policy == TaskFailurePolicy::Shutdown {
                                return End::Failed(TaskFailure {
                                    task: event.task,
                                    stage: "run",
                                    error: reason.into(),
                                });
                            }
                        }
                    }
                    if g.live_workers == 0 && !g.tasks.iter().all(|t| t.workers.is_empty()) {
                        info!("every task has finished");
                        return End::AllFinished;
                    }
                }
            }
        }
    }

    /// Stops tasks in reverse order within `--shutdown-timeout`; tasks that
    /// overrun are aborted and named. Returns the errors tasks returned.
    async fn stop(&self, mut g: Generation) -> Vec<TaskFailure> {
        let grace = self.handle.service_options().shutdown_timeout;
        let deadline = Instant::now() + grace;
        let mut overrun = Vec::new();
        for task in g.tasks.iter().rev() {
            task.token.cancel();
            if timeout_at(deadline, task.running.stop()).await.is_err() {
                overrun.push(format!("{} (stop hook)", task.name));
            }
            task.tracker.close();
            if timeout_at(deadline, task.tracker.wait()).await.is_err() {
                for (worker, abort) in &task.workers {
                    if !abort.is_finished() {
                        abort.abort();
                        overrun.push(worker.clone());
                    }
                }
                // Aborted workers end at their next await point.
                let _ = tokio::time::timeout(Duration::from_secs(1), task.tracker.wait()).await;
            }
        }
        if !overrun.is_empty() {
            warn!(
                "tasks still running after the shutdown timeout of {grace:?} were aborted: {}",
                overrun.join(", ")
            );
        }
        let mut failures = Vec::new();
        g.events.close();
        while let Ok(event) = g.events.try_recv() {
            if let Err(reason) = event.result {
                if reason == "aborted" {
                    continue;
                }
                error!("task {} failed while stopping: {reason}", event.worker);
                failures.push(TaskFailure {
                    task: event.task,
                    stage: "stop",
                    error: BoxError::from(reason),
                });
            }
        }
        failures
    }

    /// Background jobs for the whole run: the systemd watchdog.
    fn spawn_watchers(&self) -> CancellationToken {
        let token = CancellationToken::new();
        if let Some(period) = self.handle.notifier().watchdog_interval() {
            let handle = self.handle.clone();
            let token = token.clone();
            tokio::spawn(async move {
                let mut ticks = tokio::time::interval(period);
                loop {
                    tokio::select! {
                        () = token.cancelled() => break,
                        _ = ticks.tick() => handle.notifier().watchdog(),
                    }
                }
            });
        }
        token
    }
}

/// Completes on a second SIGINT or SIGTERM (the first started the shutdown).
async fn second_signal(signals: &mut Option<Signals>) -> i32 {
    loop {
        match signals::recv(signals).await {
            Request::Stop(signo, name) => {
                warn!("{name} received during shutdown: exiting at once");
                return signo;
            }
            Request::Restart => info!("SIGHUP ignored during shutdown"),
        }
    }
}
