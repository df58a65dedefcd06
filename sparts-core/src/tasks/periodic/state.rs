//! Whether a periodic task runs, and who waits for its next execution.

use std::sync::Arc;

use tokio::sync::{oneshot, watch};
use tokio_util::sync::CancellationToken;

use crate::error::Error;

/// An error shared by everyone who waited for a failed execution.
pub(super) type SharedError = Arc<dyn std::error::Error + Send + Sync>;

/// One caller of `execute_async`.
pub(super) type Waiter<T> = oneshot::Sender<Result<T, Error>>;

/// Where a task instance is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Built but not (yet) initialized: a template, or a task that failed
    /// or skipped its init.
    Idle,
    /// Initialized, and at least one worker has not ended.
    Running,
    /// Stopping or stopped: it will not execute again.
    Stopped,
}

struct Inner<T> {
    name: String,
    phase: Phase,
    live_workers: usize,
    token: Option<CancellationToken>,
    waiters: Vec<Waiter<T>>,
}

impl<T> Inner<T> {
    fn is_running(&self) -> bool {
        self.phase == Phase::Running && !self.token.as_ref().is_some_and(|t| t.is_cancelled())
    }

    fn stop(&mut self) -> bool {
        for waiter in self.waiters.drain(..) {
            let _ = waiter.send(Err(Error::TaskNotRunning(self.name.clone())));
        }
        let changed = self.phase != Phase::Stopped;
        self.phase = Phase::Stopped;
        changed
    }
}

/// A task instance's phase and its waiters, behind one lock. Receivers
/// (see [`subscribe`](Self::subscribe)) are woken on phase changes only.
pub(crate) struct State<T> {
    tx: watch::Sender<Inner<T>>,
}

impl<T> std::fmt::Debug for State<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.tx.borrow();
        f.debug_struct("State")
            .field("phase", &inner.phase)
            .field("live_workers", &inner.live_workers)
            .field("waiters", &inner.waiters.len())
            .finish()
    }
}

/// Sees the phase of a task instance change.
pub(crate) struct PhaseWatch<T> {
    rx: watch::Receiver<Inner<T>>,
}

impl<T> PhaseWatch<T> {
    /// Completes once the instance is not running (at once if it is not).
    pub(crate) async fn not_running(&mut self) {
        // The sender lives as long as the task instance, which the caller borrows.
        let _ = self.rx.wait_for(|i| !i.is_running()).await;
    }
}

impl<T: Clone> State<T> {
    /// An idle instance called `name`.
    pub(super) fn new(name: String) -> Self {
        let (tx, _) = watch::channel(Inner {
            name,
            phase: Phase::Idle,
            live_workers: 0,
            token: None,
            waiters: Vec::new(),
        });
        Self { tx }
    }

    /// The task's name as the service knows it (its type's before init).
    pub(crate) fn name(&self) -> String {
        self.tx.borrow().name.clone()
    }

    /// Whether the instance will execute again.
    pub(crate) fn is_running(&self) -> bool {
        self.tx.borrow().is_running()
    }

    /// Sees phase changes.
    pub(crate) fn subscribe(&self) -> PhaseWatch<T> {
        PhaseWatch {
            rx: self.tx.subscribe(),
        }
    }

    /// Init succeeded: `workers` workers are about to run.
    pub(super) fn start(&self, name: &str, token: CancellationToken, workers: usize) {
        self.tx.send_modify(|i| {
            name.clone_into(&mut i.name);
            i.phase = Phase::Running;
            i.live_workers = workers;
            i.token = Some(token);
        });
    }

    /// A waiter for the next execution to start, or an error at once when
    /// the task will not execute again.
    pub(super) fn register(&self) -> Result<oneshot::Receiver<Result<T, Error>>, Error> {
        self.register_if(|_| Ok(()))
    }

    /// Like [`register`](Self::register), once `allowed` (asked under the
    /// same lock as [`refuse_waiters`](Self::refuse_waiters), so that a
    /// waiter is either refused or failed, never forgotten) says this
    /// replica may execute.
    pub(super) fn register_if(
        &self,
        allowed: impl FnOnce(&str) -> Result<(), Error>,
    ) -> Result<oneshot::Receiver<Result<T, Error>>, Error> {
        let mut result = None;
        self.tx.send_if_modified(|i| {
            result = Some(if !i.is_running() {
                Err(Error::TaskNotRunning(i.name.clone()))
            } else if let Err(error) = allowed(&i.name) {
                Err(error)
            } else {
                let (tx, rx) = oneshot::channel();
                i.waiters.push(tx);
                Ok(rx)
            });
            false
        });
        result.unwrap_or_else(|| Err(Error::TaskNotRunning(self.name())))
    }

    /// Fails every waiter with `error(task name)`: this replica no longer
    /// executes (it lost the lease).
    pub(super) fn refuse_waiters(&self, error: impl Fn(&str) -> Error) {
        self.tx.send_if_modified(|i| {
            for waiter in i.waiters.drain(..) {
                let _ = waiter.send(Err(error(&i.name)));
            }
            false
        });
    }

    /// Takes the waiters for the execution that starts now.
    pub(super) fn take(&self) -> Vec<Waiter<T>> {
        let mut taken = Vec::new();
        self.tx.send_if_modified(|i| {
            std::mem::swap(&mut taken, &mut i.waiters);
            false
        });
        taken
    }

    /// Gives waiters back after an execution that will be retried; they
    /// fail at once if the task stopped meanwhile.
    pub(super) fn put_back(&self, mut taken: Vec<Waiter<T>>) {
        if taken.is_empty() {
            return;
        }
        self.tx.send_if_modified(|i| {
            if i.phase == Phase::Running {
                taken.append(&mut i.waiters);
                i.waiters = taken;
            } else {
                for waiter in taken {
                    let _ = waiter.send(Err(Error::TaskNotRunning(i.name.clone())));
                }
            }
            false
        });
    }

    /// Gives every waiter the error an execution failed with: those of the
    /// failed execution and those waiting for the next one, which will not
    /// come from this worker.
    pub(super) fn fail(&self, taken: Vec<Waiter<T>>, error: &SharedError) {
        self.tx.send_if_modified(|i| {
            for waiter in taken.into_iter().chain(i.waiters.drain(..)) {
                let _ = waiter.send(Err(Error::ExecutionFailed {
                    task: i.name.clone(),
                    error: Arc::clone(error),
                }));
            }
            false
        });
    }

    /// The task is stopping: no more executions. Pending waiters fail.
    pub(super) fn stop(&self) {
        self.tx.send_if_modified(Inner::stop);
    }

    /// A worker ended; the last one stops the task.
    pub(super) fn worker_ended(&self) {
        self.tx.send_if_modified(|i| {
            i.live_workers = i.live_workers.saturating_sub(1);
            i.live_workers == 0 && i.stop()
        });
    }
}

/// Gives an execution's output to the waiters it took.
pub(super) fn resolve<T: Clone>(taken: Vec<Waiter<T>>, output: &T) {
    for waiter in taken {
        let _ = waiter.send(Ok(output.clone()));
    }
}

/// Tells the state when a worker ends, however it ends (return, error,
/// panic, abort).
pub(super) struct WorkerGuard<'a, T: Clone>(pub(super) &'a State<T>);

impl<T: Clone> Drop for WorkerGuard<'_, T> {
    fn drop(&mut self) {
        self.0.worker_ended();
    }
}
