//! The crate's error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sparts-grpc`. Every variant names the
/// address involved, since it is what an operator must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
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

    /// The unix socket could not be created or replaced.
    #[error("unix socket {}: {source}", .path.display())]
    UnixSocket {
        /// The socket's path.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },

    /// The task's `run` was called without a successful `init`.
    #[error("task {0} has no bound sockets: init did not run or run was called twice")]
    NotBound(String),
}
