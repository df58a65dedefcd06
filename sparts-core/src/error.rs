//! The crate's error type.

use std::path::PathBuf;

/// A boxed error from user code (a task's `init`, `run` or `stop`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sparts-core`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The command line could not be parsed; the message is clap's first line.
    #[error("{0}")]
    Usage(String),

    /// No option has this name.
    #[error("unknown option `{0}`")]
    UnknownOption(String),

    /// A value was rejected by the option's parser; nothing changed.
    #[error("invalid value for option `{name}`: {reason}")]
    InvalidOption {
        /// The option, as `prefix_name`.
        name: String,
        /// What the parser said, including what it expects.
        reason: String,
    },

    /// The option exists but cannot change while the service runs.
    #[error("option `{0}` cannot be changed at run time")]
    ReadOnlyOption(String),

    /// No counter has this name.
    #[error("unknown counter `{0}`")]
    UnknownCounter(String),

    /// A regular expression given to a filter did not compile.
    #[error("invalid pattern `{pattern}`: {source}")]
    InvalidPattern {
        /// The pattern as given.
        pattern: String,
        /// Why it did not compile.
        #[source]
        source: regex::Error,
    },

    /// No task has this name or type.
    #[error("task `{0}` is not part of this service")]
    TaskNotFound(String),

    /// Two tasks were registered with the same name or option prefix.
    #[error("duplicate task {what} `{value}`: give one of them another name or prefix")]
    DuplicateTask {
        /// `name` or `prefix`.
        what: &'static str,
        /// The clashing value.
        value: String,
    },

    /// `--tasks` named a task the service does not have.
    #[error("unknown task `{name}` (available: {available})")]
    UnknownTask {
        /// The name given.
        name: String,
        /// The tasks the service has, comma separated.
        available: String,
    },

    /// One or more tasks failed in `init`; the service did not start.
    #[error("Unable to start service ({} task start errors): {}", .0.len(), join_failures(.0))]
    StartFailed(Vec<TaskFailure>),

    /// A task returned an error or panicked while running.
    #[error("{0}")]
    TaskFailed(TaskFailure),

    /// A peer that is not in `--admin-trusted` asked for a mutating admin call.
    #[error("{action} refused: peer {peer} is not trusted (see --admin-trusted)")]
    NotTrusted {
        /// The refused call.
        action: String,
        /// The peer, as text.
        peer: String,
    },

    /// A second SIGINT or SIGTERM arrived during shutdown.
    #[error("second signal {0} during shutdown: exiting at once")]
    Interrupted(i32),

    /// The pidfile is locked by a running instance.
    #[error("pidfile {}: already locked by a running instance{}", .path.display(), .pid.map(|p| format!(" (pid {p})")).unwrap_or_default())]
    AlreadyRunning {
        /// The pidfile.
        path: PathBuf,
        /// The pid it holds, when readable.
        pid: Option<i32>,
    },

    /// A file the service needs (pidfile, logfile) could not be used.
    #[error("{}: {source}", .path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The service's loop ended without a result (it panicked or was cancelled).
    #[error("the service ended abnormally: {0}")]
    Aborted(String),

    /// Daemonizing or signalling a daemon failed.
    #[error("daemon: {0}")]
    Daemon(String),

    // listen
    /// A TCP address could not be bound (in use, not available, no permission).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address, as `host:port`.
        addr: String,
        /// Why the system refused.
        #[source]
        source: std::io::Error,
    },

    /// `--<prefix>-host` did not resolve to any address.
    #[error("cannot resolve host `{host}`: {source}")]
    Resolve {
        /// The host, as given.
        host: String,
        /// Why the lookup failed.
        #[source]
        source: std::io::Error,
    },

    /// The unix socket could not be created, replaced or given its mode.
    #[error("unix socket {}: {source}", .path.display())]
    UnixSocket {
        /// The socket's path.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// `--<prefix>-sock-group` names no group on this system.
    #[error("unknown group `{0}` for the unix socket")]
    UnknownGroup(String),

    // CommandTask
    /// A command could not be started (not found, not executable, ...).
    #[error("cannot start `{program}`: {source}")]
    Spawn {
        /// The program, as given.
        program: String,
        /// Why the system refused.
        #[source]
        source: std::io::Error,
    },

    // PeriodicTask, PollerTask, CommandTask
    /// The task is not running (not started yet, stopping or stopped), so
    /// it will not execute again or accept more work.
    #[error("task {0} is not running")]
    TaskNotRunning(String),

    /// An execution of a periodic task failed; everyone who waited for it
    /// gets the error `execute` returned.
    #[error("task {task} failed: {error}")]
    ExecutionFailed {
        /// The task.
        task: String,
        /// The error `execute` returned, shared by all who waited.
        #[source]
        error: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    },

    /// A poller had no value yet when the wait ran out.
    #[error("task {task} has no value after waiting {waited:?}")]
    NoValue {
        /// The task.
        task: String,
        /// How long the caller waited.
        waited: std::time::Duration,
    },
    // QueueTask
    /// A bounded queue is full (from `try_submit` and `try_enqueue`).
    #[error("queue task `{task}` is full ({capacity} items)")]
    QueueFull {
        /// The queue task.
        task: String,
        /// Its `--<prefix>-max-items`.
        capacity: usize,
    },

    /// A unique queue already has this item (queued, waiting for a retry,
    /// or executing).
    #[error("queue task `{0}` already has this item (queued or in flight)")]
    DuplicateItem(String),

    /// The queue task stopped before the item was done.
    #[error("queue task `{0}` stopped before the item was done")]
    QueueStopped(String),

    // Admin::cpu_profile
    /// A CPU profile was asked for no time or for longer than allowed.
    #[error("a CPU profile lasts more than 0 s and at most {} s, not {requested:?}", .max.as_secs())]
    InvalidProfileDuration {
        /// The duration asked for.
        requested: std::time::Duration,
        /// The longest profile allowed.
        max: std::time::Duration,
    },

    /// A CPU profile is already running: the process has one profiler.
    #[error("a CPU profile is already running: try again when it ends")]
    ProfileRunning,

    /// The profiler could not start or report; the message is its reason.
    #[error("CPU profiling is unavailable: {0}")]
    ProfilingUnavailable(String),

    /// Any other I/O error.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// A task's failure, carrying the task's name.
#[derive(Debug)]
pub struct TaskFailure {
    /// The task (or worker) that failed.
    pub task: String,
    /// What it failed in: `init`, `run`, `stop`.
    pub stage: &'static str,
    /// The error, or the panic message.
    pub error: BoxError,
}

impl std::fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "task {} failed in {}: {}",
            self.task, self.stage, self.error
        )
    }
}

impl std::error::Error for TaskFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.error.as_ref())
    }
}

fn join_failures(failures: &[TaskFailure]) -> String {
    failures
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The text of a caught panic's payload (`panic!` gives a `&str` or a
/// `String`), for logs and error replies.
///
/// ```
/// let caught = std::panic::catch_unwind(|| panic!("at {}", 3)).unwrap_err();
/// assert_eq!(sparts_core::panic_text(caught.as_ref()), "at 3");
/// ```
#[must_use]
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a non-text panic payload".to_owned())
}
