//! Options: the service's own, and each task's under its prefix.

mod group;
mod service;
mod store;

pub(crate) use group::{AnyOptions, OptionsDef};
pub use service::{ServiceOptions, parse_seconds};
pub(crate) use store::{CliExit, OptionStore, Owner, TaskOptionsDecl};
