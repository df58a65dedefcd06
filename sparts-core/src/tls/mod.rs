//! TLS for every TCP transport, with rustls: a server task's certificate
//! and key (`--<prefix>-tls-cert`, `--<prefix>-tls-key`, PEM files), and
//! with `--<prefix>-tls-client-ca` mutual TLS, where a client without a
//! certificate that CA signed is refused at the handshake and the verified
//! identity reaches the handlers ([`ClientIdentity`]).
//!
//! A task loads its files in `init` ([`TlsOptions::acceptor`]): a missing
//! or unreadable file, a file with no certificate or key, or a key that
//! does not match the certificate is an error naming the file, which stops
//! the start. While it serves, the files are looked at every
//! [`RELOAD_CHECK`]: a changed pair is loaded for the next handshakes, and
//! a bad one is logged and the old pair kept. A restart (SIGHUP) loads
//! them again too. No connection is dropped by either.
//!
//! Each accepted connection's handshake runs in its own task, bounded by
//! the header timeout, and yields a [`Secured`] stream, which a plain
//! listener's connections are too, so a transport serves one type.

mod acceptor;
mod load;
mod options;
mod reload;
mod secured;

pub use acceptor::{TlsAcceptor, secure};
pub use options::TlsOptions;
pub use reload::RELOAD_CHECK;
pub use secured::{ClientIdentity, Secured};
