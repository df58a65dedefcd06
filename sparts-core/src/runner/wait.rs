//! Waiting on a generation: for a request, a signal, a failure, or every
//! worker having finished.

use tracing::{error, info};

use super::start::Generation;
use super::{Runner, TaskFailurePolicy};
use crate::error::TaskFailure;
use crate::handle::Control;
use crate::signals::{self, Request, Signals};

/// Why the service stops running its tasks.
pub(super) enum End {
    Shutdown,
    Restart,
    Failed(TaskFailure),
    AllFinished,
}

impl Runner {
    /// Waits for a reason to stop the generation.
    pub(super) async fn wait(&mut self, g: &mut Generation, signals: &mut Option<Signals>) -> End {
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
}
