//! Options: the service's own ([`ServiceOptions`]: `--level`,
//! `--log-format`, `--shutdown-timeout`, `--admin-trusted`, ...; with the
//! `otel` feature `OtelOptions`: `--otel-endpoint` and the rest) and each
//! task's under its prefix, parsed by clap; [`parse_seconds`] reads the
//! fractional seconds every duration option takes, [`LogFilter`] the
//! filter directives of `--level`.

mod group;
mod log;
mod service;
mod store;

#[cfg(feature = "otel")]
pub use crate::otel::OtelOptions;
pub(crate) use group::{AnyOptions, OptionsDef};
pub use log::{LogFilter, LogFormat};
pub use service::{ServiceOptions, parse_seconds};
pub(crate) use store::{CliExit, OptionStore, Owner, TaskOptionsDecl};
