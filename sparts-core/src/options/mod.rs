//! Options: the service's own ([`ServiceOptions`]: `--level`,
//! `--shutdown-timeout`, `--admin-trusted`, ...; with the `otel` feature
//! `OtelOptions`: `--otel-endpoint` and the rest) and each task's under its
//! prefix, parsed by clap; [`parse_seconds`] reads the fractional seconds
//! every duration option takes.

mod group;
mod service;
mod store;

#[cfg(feature = "otel")]
pub use crate::otel::OtelOptions;
pub(crate) use group::{AnyOptions, OptionsDef};
pub use service::{ServiceOptions, parse_seconds};
pub(crate) use store::{CliExit, OptionStore, Owner, TaskOptionsDecl};
