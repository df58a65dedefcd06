//! sparts-core: long-running services made of tasks.
//!
//! A [`VService`] owns tasks ([`VTask`]). Every task gets, without writing
//! them: command-line options under its own prefix (`--<prefix>-<option>`,
//! also read from `<SERVICE>_<PREFIX>_<OPTION>` environment variables),
//! logging that names the service and the task, counters exported as
//! `<Task>.<counter>`, a health [`Status`] with fb303 semantics, options
//! that can be changed at run time, graceful shutdown on SIGINT/SIGTERM,
//! in-process restart on SIGHUP, and daemonizing with a locked pidfile. One
//! [`Admin`] model (status, counters, options, uptime, reinitialize,
//! shutdown) is what every transport serves.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use sparts_core::{BoxError, TaskContext, VService, VTask};
//!
//! /// Options of the task: `--ticker-every` on the command line.
//! #[derive(clap::Args, Clone, Debug)]
//! struct TickerOptions {
//!     /// Seconds between ticks.
//!     #[arg(long, default_value_t = 1.0)]
//!     every: f64,
//! }
//!
//! #[derive(Clone)]
//! struct Ticker;
//!
//! impl VTask<TickerOptions> for Ticker {
//!     async fn run(&self, ctx: TaskContext<TickerOptions>) -> Result<(), BoxError> {
//!         let ticks = ctx.counters().counter("ticks");
//!         loop {
//!             ticks.increment();
//!             let every = Duration::from_secs_f64(ctx.options().every);
//!             if !ctx.sleep(every).await {
//!                 return Ok(());
//!             }
//!         }
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> sparts_core::Result<()> {
//! let service = VService::new("Clock").with_task(Ticker);
//! let running = service.start_with_args(["clock", "--ticker-every", "0.01"]).await?;
//! assert_eq!(running.handle().option("ticker_every")?.as_deref(), Some("0.01"));
//! running.handle().set_option("ticker_every", "0.5")?;
//! assert!(running.handle().set_option("ticker_every", "soon").is_err());
//! assert!(running.handle().counter("Ticker.ticks")? >= 1.0);
//! running.shutdown().await?;
//! # Ok(())
//! # }
//! ```
//!
//! A program's whole `main` is then
//! `VService::new("Clock").with_task(Ticker).run_from_cli()`.

mod admin;
pub mod backend;
mod cli;
pub mod counters;
#[cfg(unix)]
mod daemon;
mod error;
mod exported;
mod handle;
mod limits;
pub mod listen;
pub mod logging;
mod notify;
pub mod options;
#[cfg(feature = "otel")]
mod otel;
mod profile;
mod readiness;
mod recent;
mod runner;
pub mod server;
mod service;
mod signals;
mod status;
#[cfg(unix)]
mod supervise;
pub mod task;
pub mod tasks;
pub mod telemetry;
pub mod tls;

pub use admin::{Admin, Peer};
pub use error::{
    AdminErrorKind, BoxError, Error, Result, TaskFailure, panic_text, short_type_name,
};
pub use handle::ServiceHandle;
pub use readiness::NotReady;
pub use runner::TaskFailurePolicy;
pub use service::{RunningService, VService};
pub use status::{Readiness, Status, WarningId};
pub use task::{IntoTaskSpec, NoOptions, SkipTask, TaskContext, TaskSpec, VTask};
pub use tasks::{ItemContext, QueueSender, QueueTask, QueueWork, TryLater};
pub use tasks::{Periodic, PeriodicContext, PeriodicTask, PeriodicTick};

/// Re-exported so task options can derive `clap::Args` without a direct
/// dependency on clap.
pub use clap;
/// Re-exported so the layers given to
/// [`VService::with_log_layer`] are of the version the service installs.
pub use tracing_subscriber;
