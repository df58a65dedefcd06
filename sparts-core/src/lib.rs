//! sparts-core: services made of tasks.

#[cfg(unix)]
#[allow(dead_code, unused_imports)] // Until the service drives daemon mode.
mod daemon;
mod error;
#[allow(dead_code)] // Until the service sends notifications.
mod notify;

pub use error::{BoxError, Error, Result, TaskFailure};
