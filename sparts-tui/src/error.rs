//! The crate's one error type.

/// What can go wrong in a terminal UI or in reaching a service's admin API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A UI task was started where it cannot own a terminal.
    #[error("{task} needs a terminal: {reason}")]
    NoTerminal {
        /// The task's name.
        task: String,
        /// Why there is none (stdin not a tty, `--daemon`).
        reason: &'static str,
    },
    /// Setting up, drawing on or restoring the terminal failed.
    #[error("terminal: {0}")]
    Terminal(#[source] std::io::Error),
    /// A `sparts-top` target that is neither `http://HOST:PORT` nor
    /// `unix:/PATH`.
    #[error("invalid target {target:?}: {reason} (expected http://HOST:PORT or unix:/PATH)")]
    InvalidTarget {
        /// The target as given.
        target: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The service could not be reached, or did not answer in time.
    #[error("cannot reach {target}: {reason}")]
    Unreachable {
        /// The target.
        target: String,
        /// What the connection or request met.
        reason: String,
    },
    /// Something answered, but not a sparts admin API.
    #[error("{target} does not serve a sparts admin API: {reason}")]
    NotAdmin {
        /// The target.
        target: String,
        /// What the answer was.
        reason: String,
    },
    /// The admin API refused a call (an unknown option, a bad value, an
    /// untrusted peer): its own message.
    #[error("{message} (HTTP {status})")]
    Refused {
        /// The HTTP status of the refusal.
        status: u16,
        /// The service's message.
        message: String,
    },
    /// An in-process admin call failed.
    #[error(transparent)]
    Admin(#[from] sparts_core::Error),
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
