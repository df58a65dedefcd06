//! `CommandTask`: a subprocess whose output lines go to callbacks, whose
//! exit status is a future, and which never outlives its service.

mod group;
mod lines;
mod supervise;

use std::ffi::{OsStr, OsString};
use std::future::Future;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use self::lines::LineCallback;
use self::supervise::{Outputs, supervise};
use crate::error::{BoxError, Error, Result};
use crate::handle::ServiceHandle;
use crate::options::parse_seconds;
use crate::status::WarningId;
use crate::task::TaskContext;
use crate::task::VTask;

/// Options of a [`CommandTask`], under its prefix (`--command-task-…` by
/// default; register it with a name, e.g.
/// `task.with_name("Tail")`, to get `--tail-…`).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct CommandOptions {
    /// Start the command again when it exits: true or false (default: as the service built it).
    #[arg(long, value_name = "BOOL")]
    pub restart: Option<bool>,

    /// Seconds between an exit and the next start, when restarting.
    #[arg(long, default_value = "1", value_parser = parse_seconds, value_name = "SECONDS")]
    pub restart_delay: Duration,

    /// Seconds between SIGTERM and SIGKILL at shutdown (default: 90% of --shutdown-timeout).
    #[arg(long, value_parser = parse_seconds, value_name = "SECONDS")]
    pub kill_timeout: Option<Duration>,
}

/// What the command is, as built.
#[derive(Clone)]
struct CommandLine {
    program: OsString,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    env_clear: bool,
    current_dir: Option<PathBuf>,
    on_stdout: LineCallback,
    on_stderr: LineCallback,
    restart: bool,
}

impl CommandLine {
    fn command(&self) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            // The command leads its own process group, so that a signal to
            // the group reaches whatever it starts.
            .process_group(0)
            // The last resort, should the task be dropped mid-run.
            .kill_on_drop(true);
        if self.env_clear {
            command.env_clear();
        }
        command.envs(self.env.iter().map(|(k, v)| (k, v)));
        if let Some(dir) = &self.current_dir {
            command.current_dir(dir);
        }
        command
    }

    fn name(&self) -> String {
        self.program.to_string_lossy().into_owned()
    }
}

/// The runs of the command so far, as seen by [`CommandTask::exit_status`].
#[derive(Debug, Default)]
struct Runs {
    starts: u64,
    exits: u64,
    last: Option<ExitStatus>,
    pid: Option<u32>,
    /// The task has stopped: no more runs.
    ended: bool,
}

/// Runs a command (a program with its arguments, environment and working
/// directory) as a subprocess of the service.
///
/// - Its stdin is `/dev/null`. Each line of its stdout and stderr goes to
///   a callback as it comes (invalid UTF-8 is replaced, never fatal; a
///   line longer than 64 KiB comes in pieces); by default, to the log at
///   info level, in the task's span, with a `stream` field.
/// - Its exit status is a future: [`exit_status`](Self::exit_status).
/// - With [`restart_on_exit`](Self::restart_on_exit) (or
///   `--<prefix>-restart true`), it is started again
///   `--<prefix>-restart-delay` after each exit; otherwise the task ends
///   (successfully, whatever the status) when the command exits.
/// - A command that cannot be started (program not found, not executable)
///   fails the task with [`Error::Spawn`] naming the program, which shuts
///   the service down by default ([`TaskFailurePolicy`](crate::TaskFailurePolicy));
///   when restarting, it is a service warning instead, and the start is
///   tried again every restart delay.
/// - The command leads its own process group. On shutdown the group gets
///   SIGTERM, then SIGKILL after `--<prefix>-kill-timeout` (default: 90% of
///   the service's `--shutdown-timeout`); once the command has exited (on
///   shutdown or by itself), whatever it left in its group is killed. A
///   stopped service leaves no process behind. (A process that puts itself
///   in another group or session, as daemons do, is on its own.)
///
/// Counters: `n_starts`, `n_exits`, `n_spawn_errors`, `n_lines_stdout`,
/// `n_lines_stderr`.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use sparts_core::{IntoTaskSpec, VService, tasks::CommandTask};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&seen);
/// let echo = CommandTask::new("sh", ["-c", "echo hello; exit 3"])
///     .on_stdout(move |line| sink.lock().expect("lines").push(line.to_owned()));
/// let service = VService::new("Echo").with_task(echo.with_name("Echo"));
/// let running = service.start_with_args(["echo"]).await?;
/// let task = running.handle().require_named::<CommandTask>("Echo")?;
/// let status = task.exit_status().await?;
/// assert_eq!(status.code(), Some(3));
/// assert_eq!(*seen.lock().expect("lines"), ["hello"]);
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct CommandTask {
    line: CommandLine,
    runs: Arc<watch::Sender<Runs>>,
}

impl std::fmt::Debug for CommandTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommandTask")
            .field("program", &self.line.program)
            .field("args", &self.line.args)
            .field("runs", &*self.runs.borrow())
            .finish_non_exhaustive()
    }
}

impl CommandTask {
    /// A task running `program` with `args`; the program is looked up in
    /// `PATH` unless it contains a `/`.
    pub fn new<I, S>(program: impl Into<OsString>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        Self {
            line: CommandLine {
                program: program.into(),
                args: args.into_iter().map(Into::into).collect(),
                env: Vec::new(),
                env_clear: false,
                current_dir: None,
                on_stdout: Arc::new(|line| tracing::info!(stream = "stdout", "{line}")),
                on_stderr: Arc::new(|line| tracing::info!(stream = "stderr", "{line}")),
                restart: false,
            },
            runs: Arc::new(watch::channel(Runs::default()).0),
        }
    }

    /// Sets an environment variable of the command. Default: the service's
    /// environment, inherited.
    #[must_use]
    pub fn env(mut self, key: impl Into<OsString>, value: impl Into<OsString>) -> Self {
        self.line.env.push((key.into(), value.into()));
        self
    }

    /// Starts the command with no environment but what [`env`](Self::env)
    /// sets. Default: inherited.
    #[must_use]
    pub fn env_clear(mut self) -> Self {
        self.line.env_clear = true;
        self
    }

    /// Sets the command's working directory. Default: the service's.
    #[must_use]
    pub fn current_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.line.current_dir = Some(dir.into());
        self
    }

    /// Receives each line of the command's stdout. Default: the log.
    #[must_use]
    pub fn on_stdout(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.line.on_stdout = Arc::new(callback);
        self
    }

    /// Receives each line of the command's stderr. Default: the log.
    #[must_use]
    pub fn on_stderr(mut self, callback: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.line.on_stderr = Arc::new(callback);
        self
    }

    /// Whether the command starts again when it exits; `--<prefix>-restart`
    /// overrides it. Default: `false`.
    #[must_use]
    pub fn restart_on_exit(mut self, restart: bool) -> Self {
        self.line.restart = restart;
        self
    }

    /// The program.
    pub fn program(&self) -> &OsStr {
        &self.line.program
    }

    /// The pid of the running command (which is also its process group's
    /// id); `None` between runs.
    pub fn pid(&self) -> Option<u32> {
        self.runs.borrow().pid
    }

    /// The status of the last exit, if the command has exited.
    pub fn last_exit_status(&self) -> Option<ExitStatus> {
        self.runs.borrow().last
    }

    /// The exit status of the current run: if the command is running, the
    /// future completes when it exits; between runs or after the last one,
    /// at once with the last status; before the first start, with the
    /// first run's. An error if the task stops first (for a command that
    /// never started).
    ///
    /// Call it on the running task (from
    /// [`ServiceHandle::get`](crate::ServiceHandle::get)), not on the
    /// template given to the service.
    pub fn exit_status(&self) -> impl Future<Output = Result<ExitStatus>> + Send + 'static {
        let mut rx = self.runs.subscribe();
        let target = {
            let runs = rx.borrow_and_update();
            if runs.starts > runs.exits {
                runs.exits + 1
            } else {
                runs.exits.max(1)
            }
        };
        let program = format!("command `{}`", self.line.name());
        async move {
            loop {
                {
                    let runs = rx.borrow_and_update();
                    if runs.exits >= target
                        && let Some(status) = runs.last
                    {
                        return Ok(status);
                    }
                    if runs.ended {
                        return Err(Error::TaskNotRunning(program));
                    }
                }
                if rx.changed().await.is_err() {
                    return Err(Error::TaskNotRunning(program));
                }
            }
        }
    }

    async fn run_command(&self, ctx: &TaskContext<CommandOptions>) -> Result<(), BoxError> {
        let counters = ctx.counters();
        let starts = counters.counter("n_starts");
        let exits = counters.counter("n_exits");
        let spawn_errors = counters.counter("n_spawn_errors");
        let stdout_lines = counters.counter("n_lines_stdout");
        let stderr_lines = counters.counter("n_lines_stderr");
        let name = self.line.name();
        let mut warning = Warning {
            service: ctx.service(),
            id: None,
        };
        while !ctx.is_stopping() {
            let restart = ctx.options().restart.unwrap_or(self.line.restart);
            match self.line.command().spawn() {
                Err(source) => {
                    spawn_errors.increment();
                    let error = Error::Spawn {
                        program: name.clone(),
                        source,
                    };
                    if !restart {
                        return Err(error.into());
                    }
                    if warning.id.is_none() {
                        let message = format!("{}: {error}", ctx.name());
                        warning.id = Some(ctx.service().register_warning(message));
                    }
                }
                Ok(child) => {
                    warning.clear();
                    starts.increment();
                    let pid = child.id();
                    tracing::info!("started `{name}` (pid {})", pid.unwrap_or_default());
                    self.runs.send_modify(|r| {
                        r.starts += 1;
                        r.pid = pid;
                    });
                    let outputs = Outputs {
                        on_stdout: &self.line.on_stdout,
                        on_stderr: &self.line.on_stderr,
                        stdout_lines: &stdout_lines,
                        stderr_lines: &stderr_lines,
                    };
                    let exit = supervise(child, ctx, outputs, || kill_timeout(ctx)).await?;
                    exits.increment();
                    tracing::info!("`{name}` exited ({})", exit.status);
                    self.runs.send_modify(|r| {
                        r.exits += 1;
                        r.last = Some(exit.status);
                        r.pid = None;
                    });
                    if exit.stopped || !ctx.options().restart.unwrap_or(self.line.restart) {
                        return Ok(());
                    }
                }
            }
            if !ctx.sleep(ctx.options().restart_delay).await {
                return Ok(());
            }
        }
        Ok(())
    }
}

/// The time between SIGTERM and SIGKILL: the option, or most of the
/// service's shutdown timeout (the rest is for reaping and the other tasks).
fn kill_timeout(ctx: &TaskContext<CommandOptions>) -> Duration {
    ctx.options()
        .kill_timeout
        .unwrap_or_else(|| ctx.service().service_options().shutdown_timeout * 9 / 10)
}

impl VTask<CommandOptions> for CommandTask {
    async fn init(&mut self, _: &TaskContext<CommandOptions>) -> Result<(), BoxError> {
        // Each start gets its own runs: a restarted task has not run yet.
        self.runs = Arc::new(watch::channel(Runs::default()).0);
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<CommandOptions>) -> Result<(), BoxError> {
        let _ended = Ended(&self.runs);
        self.run_command(&ctx).await
    }
}

/// Marks the runs ended however `run` ends (returned, failed or aborted),
/// so that no [`CommandTask::exit_status`] waits forever.
struct Ended<'a>(&'a watch::Sender<Runs>);

impl Drop for Ended<'_> {
    fn drop(&mut self) {
        self.0.send_modify(|r| {
            r.ended = true;
            r.pid = None;
        });
    }
}

/// The warning of a command that cannot start, cleared once it starts or
/// the task stops.
struct Warning<'a> {
    service: &'a ServiceHandle,
    id: Option<WarningId>,
}

impl Warning<'_> {
    fn clear(&mut self) {
        if let Some(id) = self.id.take() {
            self.service.clear_warning(id);
        }
    }
}

impl Drop for Warning<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}
