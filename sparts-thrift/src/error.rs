//! The crate's error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sparts-thrift`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not be set up: an address in use or unavailable, a
    /// host that does not resolve, a unix socket that cannot be created
    /// (`sparts_core::listen`).
    #[error(transparent)]
    Listen(#[from] sparts_core::Error),

    /// The server task found no handler to serve, or several without
    /// multiplexing, or not the ones it was told to serve.
    #[error("{task}: {problem} (handler tasks found: {found})")]
    Handlers {
        /// The server task.
        task: String,
        /// What is wrong.
        problem: String,
        /// The handler tasks the service has, by name and service name.
        found: String,
    },

    /// The worker threads could not be started.
    #[error("cannot start Thrift worker thread: {0}")]
    Spawn(#[source] std::io::Error),

    /// A Thrift protocol, transport or application error; from a
    /// [`ThriftClient`](crate::ThriftClient), an exception the IDL declares
    /// (`thrift::Error::User`).
    #[error(transparent)]
    Thrift(#[from] thrift::Error),

    /// A client's call was answered with an exception the IDL does not
    /// declare: an unknown method, a handler's refusal or panic.
    #[error("{target} answered: {} ({:?})", .exception.message, .exception.kind)]
    Application {
        /// The address or URL.
        target: String,
        /// The exception, with the server's message.
        exception: thrift::ApplicationError,
    },

    /// A client could not connect to its server.
    #[error("cannot connect to {target}: {source}")]
    Connect {
        /// The address or URL.
        target: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },

    /// A client's server sent nothing for the call timeout; the connection
    /// is closed and the next call opens another.
    #[error("no reply from {target} within {after:?}")]
    Timeout {
        /// The address or URL.
        target: String,
        /// The call timeout.
        after: std::time::Duration,
    },

    /// A client's connection failed or carried something that is not a
    /// reply; the next call opens another.
    #[error("connection to {target} failed: {source}")]
    Connection {
        /// The address or URL.
        target: String,
        /// Why.
        #[source]
        source: sparts_core::BoxError,
    },

    /// A client's server reset the connection before any byte of the reply:
    /// it closed the connection with the request unread (a restart or a
    /// shutdown between two calls, its idle timeout), so the call did not
    /// run and sending it again is safe. The next call opens another
    /// connection.
    #[error("{target} reset the connection before reading the call, which did not run")]
    Reset {
        /// The address or URL.
        target: String,
    },

    /// A Thrift-over-HTTP server answered with another status than 200
    /// (the client of the `http` feature).
    #[error("{url} answered HTTP {status}: {body}")]
    HttpStatus {
        /// The URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },

    /// A client's call did not run: the runtime is shutting down.
    #[error("call to {target} cancelled: the runtime is shutting down")]
    Cancelled {
        /// The address or URL.
        target: String,
    },
}
