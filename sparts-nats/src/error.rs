//! The crate's error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can stop a queue or a lease on NATS. Each names the task and the
/// URL, since that is what an operator must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL of `--<prefix>-backend` or `--<prefix>-coordination` is not
    /// one this crate reads.
    #[error(
        "{task}: {url:?} is not a NATS URL ({reason}); expected nats://HOST:PORT[,HOST:PORT…][?replicas=N]"
    )]
    BadUrl {
        /// The task.
        task: String,
        /// The URL, as given.
        url: String,
        /// What is wrong with it.
        reason: String,
    },

    /// No NATS server answered at start.
    #[error("{task}: cannot reach the NATS server at {url}: {reason}")]
    Unreachable {
        /// The task.
        task: String,
        /// The URL.
        url: String,
        /// Why.
        reason: String,
    },

    /// The server refused to create or open what the task needs (a stream
    /// created earlier with other settings, JetStream not enabled, …).
    #[error("{task}: NATS JetStream refused {what}: {reason}")]
    Declare {
        /// The task.
        task: String,
        /// The stream, consumer or bucket.
        what: String,
        /// The server's answer.
        reason: String,
    },

    /// A message the task read could not be decoded.
    #[error("{task}: cannot decode {what}: {reason}")]
    Decode {
        /// The task.
        task: String,
        /// What it was.
        what: String,
        /// Why.
        reason: String,
    },

    /// A request to the server failed while running.
    #[error("{task}: NATS {what} failed: {reason}")]
    Request {
        /// The task.
        task: String,
        /// The operation (publish, ack, fetch, …).
        what: &'static str,
        /// Why.
        reason: String,
    },
}
