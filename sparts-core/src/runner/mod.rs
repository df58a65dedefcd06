//! The lifecycle loop: build, init, start, wait, stop, and again on restart.
//!
//! One start of the tasks is a [`Generation`]: [`start`] builds and
//! initializes them and spawns their workers, [`wait`] waits for a reason to
//! stop, [`stop`] stops them in reverse order within the shutdown budget.

mod hooks;
mod start;
mod stop;
mod wait;

use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use crate::error::{Error, Result};
use crate::handle::{Control, ServiceHandle};
use crate::logging::LogControl;
use crate::signals::{self, Request, Signals};
use crate::status::Phase;
use crate::task::TaskSpec;
use crate::telemetry::uninstall_recorder;

pub(crate) use hooks::Hooks;
pub use hooks::TaskFailurePolicy;
use start::Generation;
pub(crate) use start::select;
use wait::End;

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

impl Runner {
    /// The registered tasks' names, comma separated.
    pub(crate) fn task_list(&self) -> String {
        let names: Vec<_> = self.specs.iter().map(|(s, _)| s.name.as_str()).collect();
        names.join(", ")
    }

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
        // No generation follows: the listening sockets close with the service.
        crate::handle::lock(&self.handle.shared.kept).clear();
        uninstall_recorder(self.handle.telemetry());
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

    /// Starts, waits and stops generations of tasks until one ends for good.
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
            let Some(mut generation) = self.start_unless_stopped(signals).await? else {
                self.handle.request_shutdown();
                self.handle.write_tasks().clear();
                return Ok(());
            };
            // A shutdown requested while starting still wins.
            let shutdown_early = self.handle.status() == crate::Status::Stopping;
            self.handle.update_status(|s| {
                if s.phase == Phase::Starting {
                    s.phase = Phase::Running;
                }
            });
            info!("All tasks started");
            let count = self.handle.count_start();
            self.handle.notifier().ready();
            self.hooks.started(&self.handle, count);
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
                // No generation follows: each socket closes once its server
                // stops accepting, so that new clients are refused (and try
                // another instance) rather than wait in a backlog no one
                // accepts from.
                crate::handle::lock(&self.handle.shared.kept).let_go();
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
                    if let Some(log) = &self.logging
                        && let Err(e) = log.reopen()
                    {
                        warn!("could not reopen the log file: {e}");
                    }
                    self.handle.reload_config();
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

    /// Starts a generation, unless a stop signal comes first: a task whose
    /// init hangs must not make SIGTERM wait forever (no worker runs before
    /// every init returned, so nothing is left running). `None` when the
    /// start was abandoned.
    async fn start_unless_stopped(
        &mut self,
        signals: &mut Option<Signals>,
    ) -> Result<Option<Generation>> {
        let start = self.start();
        tokio::pin!(start);
        loop {
            tokio::select! {
                generation = &mut start => {
                    return generation.map(Some).inspect_err(|e| error!("{e}"));
                }
                request = signals::recv(signals) => match request {
                    Request::Stop(_, name) => {
                        warn!("{name} received while tasks were initializing: start abandoned");
                        return Ok(None);
                    }
                    Request::Restart => info!("SIGHUP ignored while tasks are initializing"),
                },
            }
        }
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
