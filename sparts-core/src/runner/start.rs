//! Starting a generation: build every selected task, run the init hooks in
//! order, then spawn the workers.

use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{Instrument, error, info, info_span};

use super::Runner;
use crate::counters::CounterRegistry;
use crate::error::{Error, Result, TaskFailure, panic_message};
use crate::handle::{TaskEntry, lock};
use crate::options::Owner;
use crate::task::erased::{ErasedContext, RunningTask};
use crate::task::{ContextShared, SkipTask, TaskSpec};

/// How a worker ended.
pub(super) struct WorkerEvent {
    pub(super) task: String,
    pub(super) worker: String,
    pub(super) result: Result<(), String>,
}

/// A started task and what it takes to stop it.
pub(super) struct Started {
    pub(super) name: String,
    pub(super) running: Arc<dyn RunningTask>,
    pub(super) token: CancellationToken,
    pub(super) tracker: TaskTracker,
    pub(super) workers: Vec<(String, AbortHandle)>,
}

/// One start of the tasks (the first, or one after a restart).
pub(super) struct Generation {
    pub(super) tasks: Vec<Started>,
    pub(super) events: mpsc::UnboundedReceiver<WorkerEvent>,
    pub(super) live_workers: usize,
}

/// The tasks to run: every registered one, or those `--tasks` names and
/// their dependencies. A name the service does not have is an error that
/// lists the tasks it has.
pub(crate) fn select(
    specs: &[(TaskSpec, Vec<String>)],
    wanted: Option<&[String]>,
) -> Result<Vec<TaskSpec>> {
    let Some(wanted) = wanted else {
        return Ok(specs.iter().map(|(s, _)| s.clone()).collect());
    };
    let mut keep: Vec<&str> = Vec::new();
    let mut queue: Vec<&str> = wanted.iter().map(String::as_str).collect();
    while let Some(name) = queue.pop() {
        if keep.contains(&name) {
            continue;
        }
        let Some((_, deps)) = specs.iter().find(|(s, _)| s.name == name) else {
            let available: Vec<_> = specs.iter().map(|(s, _)| s.name.as_str()).collect();
            return Err(Error::UnknownTask {
                name: name.to_owned(),
                available: available.join(", "),
            });
        };
        queue.extend(deps.iter().map(String::as_str));
        keep.push(name);
    }
    Ok(specs
        .iter()
        .filter(|(s, _)| keep.contains(&s.name.as_str()))
        .map(|(s, _)| s.clone())
        .collect())
}

impl Runner {
    /// Builds and initializes every task, then starts their workers.
    pub(super) async fn start(&mut self) -> Result<Generation> {
        self.handle.write_tasks().clear();
        self.handle.set_stop_began(None);
        let wanted = self.handle.service_options().tasks.clone();
        let specs = select(&self.specs, wanted.as_deref())?;
        let root = CancellationToken::new();
        let mut failures = Vec::new();
        // Before any task binds: sockets systemd passed wrongly stop the
        // start with nothing bound.
        let inherited = match crate::listen::activation::inherited() {
            Ok(sockets) => sockets,
            Err(e) => return Err(self.start_failed(e)),
        };
        lock(&self.handle.shared.activation).begin(inherited);
        lock(&self.handle.shared.kept).begin();
        if let Some(hook) = &self.hooks.on_init
            && let Err(error) = hook(&self.handle)
        {
            failures.push(TaskFailure {
                task: self.handle.name().to_owned(),
                stage: "init",
                error,
            });
        }
        let mut ready = Vec::new();
        for spec in &specs {
            let token = root.child_token();
            let counters = CounterRegistry::with_clock(self.handle.shared.counters.clock().clone());
            let shared = Arc::new(ContextShared::new(
                spec.name.clone(),
                spec.prefix.clone(),
                token.clone(),
                counters.clone(),
                self.handle.clone(),
                tokio::runtime::Handle::current(),
            ));
            let Some(options) = self
                .handle
                .options_store()
                .watch(&Owner::Task(spec.name.clone()))
            else {
                return Err(Error::TaskNotFound(spec.name.clone()));
            };
            let context = ErasedContext {
                shared: Arc::clone(&shared),
                options,
            };
            let mut pending = spec.factory.build(context);
            let span = info_span!("task", name = %spec.name);
            match pending.init().instrument(span).await {
                Ok(()) => {
                    let (running, instance) = pending.start();
                    self.handle.write_tasks().push(TaskEntry {
                        name: spec.name.clone(),
                        type_id: spec.type_id,
                        instance,
                        counters,
                        provided: shared.take_provided(),
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
        if failures.is_empty()
            && let Err(e) = lock(&self.handle.shared.activation).finish(inherited)
        {
            failures.push(self.service_failure(e));
        }
        // The sockets of the last generation no task asked for again close
        // now; after a failed start the service ends, which closes them all.
        lock(&self.handle.shared.kept).finish();
        if !failures.is_empty() {
            root.cancel();
            self.handle.write_tasks().clear();
            return Err(Error::StartFailed(failures));
        }
        Ok(spawn_workers(ready))
    }

    /// A start failure of the service rather than of one task (an
    /// inherited socket no task took), under the service's name, as a
    /// failure of its `on_init` hook is.
    fn service_failure(&self, error: Error) -> TaskFailure {
        TaskFailure {
            task: self.handle.name().to_owned(),
            stage: "init",
            error: Box::new(error),
        }
    }

    /// The start error of a service failure alone.
    fn start_failed(&self, error: Error) -> Error {
        Error::StartFailed(vec![self.service_failure(error)])
    }
}

/// Spawns every worker of the initialized tasks; each reports how it ended
/// on the generation's event channel.
fn spawn_workers(ready: Vec<(String, Arc<dyn RunningTask>, CancellationToken)>) -> Generation {
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
    Generation {
        tasks,
        events,
        live_workers,
    }
}
