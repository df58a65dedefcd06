//! sparts-core: services made of tasks.

mod error;

pub use error::{BoxError, Error, Result, TaskFailure};
