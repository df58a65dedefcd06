//! Options: the service's own ([`ServiceOptions`]: `--level`,
//! `--log-format`, `--shutdown-timeout`, `--admin-trusted`, ...; with the
//! `otel` feature `OtelOptions`: `--otel-endpoint` and the rest;
//! [`SuperviseOptions`]: `--install-systemd`, `--runit-install`) and each
//! task's under its prefix, parsed by clap; [`parse_seconds`] reads the
//! fractional seconds every duration option takes, [`LogFilter`] the
//! filter directives of `--level`.

mod config;
mod group;
mod log;
#[cfg(feature = "otel")]
pub(crate) mod otel;
mod service;
mod store;
mod supervise;

pub use group::OptionSource;
pub(crate) use group::{AnyOptions, OptionsDef, prefixed};
pub use log::{LogFilter, LogFormat};
#[cfg(feature = "otel")]
pub use otel::OtelOptions;
pub use service::{ServiceOptions, parse_interval, parse_seconds};
pub(crate) use store::{CliExit, OptionStore, Owner, TaskOptionsDecl};
pub use supervise::SuperviseOptions;
