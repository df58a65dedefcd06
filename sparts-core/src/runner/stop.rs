//! Stopping a generation: tasks in reverse order within the shutdown
//! budget; those that overrun it are aborted and named.

use std::time::Duration;

use tokio::time::{Instant, timeout_at};
use tracing::{error, warn};

use super::Runner;
use super::start::Generation;
use crate::error::{BoxError, TaskFailure};

impl Runner {
    /// Stops the generation's tasks within `--shutdown-timeout`, counted
    /// from the moment the shutdown began (from now on a restart). Returns
    /// the errors tasks returned while stopping.
    pub(super) async fn stop(&self, mut g: Generation) -> Vec<TaskFailure> {
        let grace = self.handle.service_options().shutdown_timeout;
        let began = self.handle.shutdown_began().unwrap_or_else(Instant::now);
        self.handle.set_stop_began(Some(began));
        let deadline = began + grace;
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
}
