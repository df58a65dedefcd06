//! The crate's error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sparts-grpc`. Every variant names the
/// address or service involved, since it is what must be fixed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not be set up: an address in use or unavailable, a
    /// host that does not resolve, a unix socket that cannot be created
    /// (`sparts_core::listen`).
    #[error(transparent)]
    Listen(#[from] sparts_core::Error),

    /// Two services of the task have the same name (two `with_service` of
    /// one type, or a service of a built-in's name).
    #[error("gRPC service `{0}` is added twice: leave one out")]
    DuplicateService(String),
}
