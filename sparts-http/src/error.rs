//! The crate's error type.

/// A `Result` whose error defaults to [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong in `sparts-http`. Every variant names the
/// address, socket, group or task involved, since it is what an operator
/// must fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A listener could not be set up: an address in use or unavailable, a
    /// host that does not resolve, a unix socket that cannot be created, an
    /// unknown group (`sparts_core::listen`).
    #[error(transparent)]
    Listen(#[from] sparts_core::Error),
}
