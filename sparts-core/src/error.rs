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

    /// The service stopped while a caller waited for its tasks to start
    /// ([`ServiceHandle::wait_for_start`](crate::ServiceHandle::wait_for_start)).
    #[error("the service stopped before its tasks started")]
    ServiceStopped,

    /// A task was looked up with a type it does not have (a queue of
    /// other items, say).
    #[error("task `{task}` is not {expected}")]
    WrongTaskType {
        /// The task's name.
        task: String,
        /// What the caller expected, e.g. `a queue of u64 giving ()`.
        expected: String,
    },

    /// A task's `run` found nothing its `init` should have prepared (a
    /// server without its bound listeners).
    #[error("task {0} runs without what its init prepares")]
    NotPrepared(String),

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

    /// The sockets systemd passed (`LISTEN_PID`, `LISTEN_FDS`,
    /// `LISTEN_FDNAMES`) are not what the protocol says: a count that is
    /// not a number, names that are not one per fd, an fd that is not a
    /// listening TCP or unix stream socket. Nothing was bound.
    #[error("socket activation: {0}")]
    Activation(String),

    /// A server task's TLS certificate, key or client CA could not be
    /// used: the message names the file and why.
    #[error("TLS: {0}")]
    Tls(String),

    /// A socket passed by systemd was taken by no server task: its name is
    /// no task's prefix (or the task did not start).
    #[error(
        "socket activation: {} matches no server task (the prefixes of the server tasks: {prefixes}); \
         name it after one with FileDescriptorName=<prefix> in the .socket unit \
         or systemd-socket-activate --fdname=<prefix>",
        describe_fd(*.fd, .name.as_deref())
    )]
    UntakenSocket {
        /// The fd number.
        fd: i32,
        /// Its name in `LISTEN_FDNAMES`, unless it has none.
        name: Option<String>,
        /// The prefixes of the server tasks that started, comma separated.
        prefixes: String,
    },

    /// An unnamed socket passed by systemd, taken by one server task, was
    /// asked for by a second: which one it is for is ambiguous.
    #[error(
        "socket activation: the unnamed fd {fd} is ambiguous: server tasks `{first}` and \
         `{second}` could both take it; name it with systemd-socket-activate \
         --fdname=<prefix> (FileDescriptorName=<prefix> in the .socket unit)"
    )]
    AmbiguousSocket {
        /// The (first) unnamed fd.
        fd: i32,
        /// The prefix of the server task that took it.
        first: String,
        /// The prefix of the one that asked next.
        second: String,
    },

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

    /// A queue's or a periodic task's backend (`--<prefix>-backend`,
    /// `--<prefix>-coordination`) refused or failed; the message names the
    /// task and what to fix.
    #[error("{0}")]
    Backend(String),

    /// A coordinated periodic task was asked to execute on a replica that
    /// does not hold its lease; the text names the task and the holder.
    #[error("{0}")]
    NotLeader(String),

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

/// What kind of failure an [`Error`] is to a caller of the admin model, so
/// that every transport answers the same mistake with the same kind of
/// wire code (HTTP status, gRPC code, Thrift exception, D-Bus error name).
///
/// The kinds are gRPC's codes that admin calls need, with the same meaning.
/// [`Error::admin_kind`] picks one for every error.
///
/// ```
/// use sparts_core::{AdminErrorKind, Error};
///
/// let unknown = Error::UnknownCounter("No.such".into());
/// assert_eq!(unknown.admin_kind(), AdminErrorKind::NotFound);
/// assert_eq!(AdminErrorKind::NotFound.as_str(), "NOT_FOUND");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AdminErrorKind {
    /// The call named something the service does not have: a counter, an
    /// option, a task. Asking again gives the same answer.
    NotFound,
    /// A value the caller gave is malformed or out of range: an option
    /// value its parser refuses, a filter pattern that does not compile, a
    /// profile duration outside its bounds. Asking again with the same
    /// value gives the same answer.
    InvalidArgument,
    /// The request is well formed but the service's state refuses it until
    /// something else changes: an option that cannot change while the
    /// service runs, an item a unique queue already holds. Retrying the
    /// same call does not help.
    FailedPrecondition,
    /// The caller may not make this call: a mutating admin call from a peer
    /// outside `--admin-trusted`.
    PermissionDenied,
    /// The call is fine but cannot be served now; the same call may succeed
    /// later, so a client may retry with back-off. A CPU profile is already
    /// running (the process has one profiler), a task is not running
    /// (starting, stopping, stopped), a queue is full, a poller has no value
    /// yet.
    Unavailable,
    /// The service failed at something it should have been able to do: an
    /// I/O error, a task that failed, the profiler breaking down. Not the
    /// caller's fault.
    Internal,
}

impl AdminErrorKind {
    /// The kind's name on the wire where a transport has no code of its own
    /// for it (Thrift's message prefix): gRPC's spelling, `NOT_FOUND`,
    /// `INVALID_ARGUMENT`, `FAILED_PRECONDITION`, `PERMISSION_DENIED`,
    /// `UNAVAILABLE`, `INTERNAL`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            AdminErrorKind::NotFound => "NOT_FOUND",
            AdminErrorKind::InvalidArgument => "INVALID_ARGUMENT",
            AdminErrorKind::FailedPrecondition => "FAILED_PRECONDITION",
            AdminErrorKind::PermissionDenied => "PERMISSION_DENIED",
            AdminErrorKind::Unavailable => "UNAVAILABLE",
            AdminErrorKind::Internal => "INTERNAL",
        }
    }
}

impl std::fmt::Display for AdminErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A socket passed by systemd, as its messages name it: `fd 3 (named
/// `http`)`, `fd 3 (unnamed)`.
pub(crate) fn describe_fd(fd: i32, name: Option<&str>) -> String {
    match name {
        Some(name) => format!("fd {fd} (named `{name}`)"),
        None => format!("fd {fd} (unnamed)"),
    }
}

impl Error {
    /// The kind of failure this is to an admin caller; each transport turns
    /// it into its own wire code.
    ///
    /// The match names every variant, so a new variant does not compile
    /// until someone decides its kind.
    #[must_use]
    pub fn admin_kind(&self) -> AdminErrorKind {
        use AdminErrorKind as K;
        match self {
            Error::UnknownOption(_)
            | Error::UnknownCounter(_)
            | Error::TaskNotFound(_)
            | Error::UnknownTask { .. } => K::NotFound,
            // The task is there, but it is not what the caller asked for.
            Error::WrongTaskType { .. } => K::InvalidArgument,
            // A host or group given in an option that names nothing.
            Error::Resolve { .. } | Error::UnknownGroup(_) => K::InvalidArgument,
            Error::Usage(_)
            | Error::InvalidOption { .. }
            | Error::InvalidPattern { .. }
            | Error::InvalidProfileDuration { .. } => K::InvalidArgument,
            // The request is fine; the option's nature, the queue's content
            // or the instance holding the pidfile is in the way, and stays so
            // until someone changes it.
            Error::ReadOnlyOption(_) | Error::DuplicateItem(_) | Error::AlreadyRunning { .. } => {
                K::FailedPrecondition
            }
            Error::NotTrusted { .. } => K::PermissionDenied,
            // Each passes by itself: the profile ends, the task (re)starts,
            // the queue drains, the poller fetches. A stopping task is
            // gRPC's UNAVAILABLE too: the service is shutting down.
            Error::ProfileRunning
            | Error::TaskNotRunning(_)
            | Error::QueueFull { .. }
            | Error::QueueStopped(_)
            | Error::Backend(_)
            | Error::NotLeader(_)
            | Error::NoValue { .. }
            | Error::ServiceStopped => K::Unavailable,
            // A profiler that cannot start (or is left out of the build) is
            // not something a retry fixes, nor the caller's doing.
            Error::DuplicateTask { .. }
            | Error::StartFailed(_)
            | Error::TaskFailed(_)
            | Error::Interrupted(_)
            | Error::File { .. }
            | Error::Aborted(_)
            | Error::Daemon(_)
            | Error::Spawn { .. }
            | Error::ExecutionFailed { .. }
            | Error::ProfilingUnavailable(_)
            | Error::NotPrepared(_)
            | Error::Bind { .. }
            | Error::UnixSocket { .. }
            | Error::Activation(_)
            | Error::Tls(_)
            | Error::UntakenSocket { .. }
            | Error::AmbiguousSocket { .. }
            | Error::Io(_) => K::Internal,
        }
    }
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

/// `panicked: ` and the text of a panic payload: how a caught panic reads
/// in a task failure.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    format!("panicked: {}", panic_text(payload))
}

/// A type's name without its path or generic arguments: the name a task
/// gets by default from its type (`my_crate::tasks::PeriodicTask<my_crate::Clock>`
/// becomes `PeriodicTask`). Transport crates name the tasks that wrap a
/// user's type after that type with it.
///
/// ```
/// assert_eq!(sparts_core::short_type_name::<Vec<String>>(), "Vec");
/// ```
#[must_use]
pub fn short_type_name<T: ?Sized>() -> &'static str {
    let full = std::any::type_name::<T>();
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Duration;

    use super::{AdminErrorKind as K, Error, TaskFailure};

    /// The number of `Error` variants: the length of [`index`]'s match.
    const VARIANTS: usize = 41;

    /// A number per variant. The match has no wildcard, so a new variant
    /// does not compile until it has a row in the table below too.
    fn index(error: &Error) -> usize {
        match error {
            Error::Usage(_) => 0,
            Error::UnknownOption(_) => 1,
            Error::InvalidOption { .. } => 2,
            Error::ReadOnlyOption(_) => 3,
            Error::UnknownCounter(_) => 4,
            Error::InvalidPattern { .. } => 5,
            Error::TaskNotFound(_) => 6,
            Error::DuplicateTask { .. } => 7,
            Error::UnknownTask { .. } => 8,
            Error::StartFailed(_) => 9,
            Error::TaskFailed(_) => 10,
            Error::NotTrusted { .. } => 11,
            Error::Interrupted(_) => 12,
            Error::AlreadyRunning { .. } => 13,
            Error::File { .. } => 14,
            Error::Aborted(_) => 15,
            Error::Daemon(_) => 16,
            Error::Spawn { .. } => 17,
            Error::TaskNotRunning(_) => 18,
            Error::ExecutionFailed { .. } => 19,
            Error::NoValue { .. } => 20,
            Error::QueueFull { .. } => 21,
            Error::DuplicateItem(_) => 22,
            Error::QueueStopped(_) => 23,
            Error::InvalidProfileDuration { .. } => 24,
            Error::ProfileRunning => 25,
            Error::ProfilingUnavailable(_) => 26,
            Error::Io(_) => 27,
            Error::ServiceStopped => 28,
            Error::WrongTaskType { .. } => 29,
            Error::NotPrepared(_) => 30,
            Error::Bind { .. } => 31,
            Error::Resolve { .. } => 32,
            Error::UnixSocket { .. } => 33,
            Error::UnknownGroup(_) => 34,
            Error::Backend(_) => 35,
            Error::NotLeader(_) => 36,
            Error::Activation(_) => 37,
            Error::UntakenSocket { .. } => 38,
            Error::AmbiguousSocket { .. } => 39,
            Error::Tls(_) => 40,
        }
    }

    fn failure() -> TaskFailure {
        TaskFailure {
            task: "T".into(),
            stage: "run",
            error: "boom".into(),
        }
    }

    fn io() -> std::io::Error {
        std::io::Error::other("disk gone")
    }

    #[test]
    fn every_variant_has_its_admin_kind() {
        // An invalid pattern is the point here.
        #[allow(clippy::invalid_regex)]
        let pattern = regex::Regex::new("(").expect_err("an unclosed group");
        let table = [
            (Error::Usage("bad flag".into()), K::InvalidArgument),
            (Error::UnknownOption("nope".into()), K::NotFound),
            (
                Error::InvalidOption {
                    name: "http_port".into(),
                    reason: "not a number".into(),
                },
                K::InvalidArgument,
            ),
            (
                Error::ReadOnlyOption("pidfile".into()),
                K::FailedPrecondition,
            ),
            (Error::UnknownCounter("No.such".into()), K::NotFound),
            (
                Error::InvalidPattern {
                    pattern: "(".into(),
                    source: pattern,
                },
                K::InvalidArgument,
            ),
            (Error::TaskNotFound("Nope".into()), K::NotFound),
            (
                Error::DuplicateTask {
                    what: "name",
                    value: "T".into(),
                },
                K::Internal,
            ),
            (
                Error::UnknownTask {
                    name: "Nope".into(),
                    available: "T".into(),
                },
                K::NotFound,
            ),
            (Error::StartFailed(vec![failure()]), K::Internal),
            (Error::TaskFailed(failure()), K::Internal),
            (
                Error::NotTrusted {
                    action: "shutdown".into(),
                    peer: "192.0.2.7".into(),
                },
                K::PermissionDenied,
            ),
            (Error::Interrupted(15), K::Internal),
            (
                Error::AlreadyRunning {
                    path: "/run/svc.pid".into(),
                    pid: Some(42),
                },
                K::FailedPrecondition,
            ),
            (
                Error::File {
                    path: "/var/log/svc.log".into(),
                    source: io(),
                },
                K::Internal,
            ),
            (Error::Aborted("cancelled".into()), K::Internal),
            (Error::Daemon("fork failed".into()), K::Internal),
            (
                Error::Spawn {
                    program: "nope".into(),
                    source: io(),
                },
                K::Internal,
            ),
            (Error::TaskNotRunning("T".into()), K::Unavailable),
            (
                Error::ExecutionFailed {
                    task: "T".into(),
                    error: Arc::new(io()),
                },
                K::Internal,
            ),
            (
                Error::NoValue {
                    task: "T".into(),
                    waited: Duration::from_secs(1),
                },
                K::Unavailable,
            ),
            (
                Error::QueueFull {
                    task: "Q".into(),
                    capacity: 8,
                },
                K::Unavailable,
            ),
            (Error::DuplicateItem("Q".into()), K::FailedPrecondition),
            (Error::QueueStopped("Q".into()), K::Unavailable),
            (Error::Backend("Q: gone".into()), K::Unavailable),
            (Error::NotLeader("T: led by b".into()), K::Unavailable),
            (
                Error::InvalidProfileDuration {
                    requested: Duration::ZERO,
                    max: Duration::from_secs(300),
                },
                K::InvalidArgument,
            ),
            (Error::ProfileRunning, K::Unavailable),
            (Error::ProfilingUnavailable("no perf".into()), K::Internal),
            (Error::Io(io()), K::Internal),
            (Error::ServiceStopped, K::Unavailable),
            (
                Error::WrongTaskType {
                    task: "Jobs".into(),
                    expected: "a queue of u64 giving ()".into(),
                },
                K::InvalidArgument,
            ),
            (Error::NotPrepared("HttpTask".into()), K::Internal),
            (
                Error::Bind {
                    addr: "0.0.0.0:80".into(),
                    source: io(),
                },
                K::Internal,
            ),
            (
                Error::Resolve {
                    host: "nowhere.invalid".into(),
                    source: io(),
                },
                K::InvalidArgument,
            ),
            (
                Error::UnixSocket {
                    path: "/run/svc.sock".into(),
                    source: io(),
                },
                K::Internal,
            ),
            (Error::UnknownGroup("nogroup".into()), K::InvalidArgument),
            (Error::Activation("LISTEN_FDS is `x`".into()), K::Internal),
            (
                Error::UntakenSocket {
                    fd: 3,
                    name: Some("nope".into()),
                    prefixes: "http".into(),
                },
                K::Internal,
            ),
            (
                Error::AmbiguousSocket {
                    fd: 3,
                    first: "http".into(),
                    second: "grpc".into(),
                },
                K::Internal,
            ),
            (Error::Tls("cert.pem: no certificate".into()), K::Internal),
        ];
        let mut seen = [false; VARIANTS];
        for (error, kind) in &table {
            assert_eq!(error.admin_kind(), *kind, "{error:?}");
            let i = index(error);
            assert!(!seen[i], "two rows for {error:?}");
            seen[i] = true;
        }
        assert!(seen.iter().all(|s| *s), "a variant has no row: {seen:?}");
    }

    #[test]
    fn kinds_have_grpc_style_names() {
        let names = [
            K::NotFound,
            K::InvalidArgument,
            K::FailedPrecondition,
            K::PermissionDenied,
            K::Unavailable,
            K::Internal,
        ]
        .map(|k| k.to_string());
        assert_eq!(
            names,
            [
                "NOT_FOUND",
                "INVALID_ARGUMENT",
                "FAILED_PRECONDITION",
                "PERMISSION_DENIED",
                "UNAVAILABLE",
                "INTERNAL"
            ]
        );
    }
}
