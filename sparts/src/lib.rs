//! sparts: write long-running services with as little code as possible.
//!
//! This is the facade crate: it re-exports [`sparts-core`](sparts_core)
//! (services, tasks, options, counters, status, the admin model, daemon
//! mode). Transports will be turned on by Cargo features.
//!
//! A whole program:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     sparts::VService::new("EmptyService").run_from_cli()
//! }
//! ```
//!
//! A service with a task of its own, started inside a program:
//!
//! ```
//! use sparts::{BoxError, NoOptions, TaskContext, VService, VTask};
//!
//! #[derive(Clone)]
//! struct Hello;
//!
//! impl VTask for Hello {
//!     type Options = NoOptions;
//!
//!     async fn run(&self, ctx: TaskContext<NoOptions>) -> Result<(), BoxError> {
//!         ctx.counters().counter("greetings").increment();
//!         ctx.stopped().await;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> sparts::Result<()> {
//! let running = VService::new("Hello").with_task(Hello).start_with_args(["hello"]).await?;
//! assert_eq!(running.handle().task_names(), ["Hello"]);
//! running.shutdown().await
//! # }
//! ```

pub use sparts_core::*;

/// The README's examples, compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
