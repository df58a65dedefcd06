//! Built-in tasks: the shapes most background work takes. Each is a
//! trait to implement and a task that runs it, or a closure given to
//! [`TaskSpec`](crate::TaskSpec):
//!
//! - [`PeriodicTask`] runs a [`Periodic`] every interval
//!   ([`TaskSpec::periodic`](crate::TaskSpec::periodic));
//! - [`QueueTask`] works items of a [`QueueWork`] on several workers
//!   ([`TaskSpec::queue`](crate::TaskSpec::queue));
//! - [`PollerTask`] fetches a [`Poller`]'s value and reacts to changes
//!   ([`TaskSpec::poller`](crate::TaskSpec::poller));
//! - `DirectoryWatcherTask` reports what changes in a directory (with the
//!   `watcher` feature);
//! - `CommandTask` runs a subprocess (on unix);
//! - [`DedicatedRuntime`] runs work on a runtime of its own
//!   ([`TaskSpec::runtime`](crate::TaskSpec::runtime)); work that is not
//!   `Send`, or a foreign loop, runs on a thread of its own
//!   ([`TaskSpec::local`](crate::TaskSpec::local),
//!   [`TaskContext::run_local`](crate::TaskContext::run_local),
//!   [`TaskContext::run_blocking`](crate::TaskContext::run_blocking)).

#[cfg(unix)]
mod command;
pub(crate) mod periodic;
mod poller;
pub(crate) mod queue;
mod runtime;
mod scheme;
mod try_later;
#[cfg(feature = "watcher")]
mod watcher;

#[cfg(unix)]
pub use command::{CommandOptions, CommandTask};
pub use periodic::{
    Periodic, PeriodicContext, PeriodicOptions, PeriodicOutput, PeriodicTask, PeriodicTick,
};
pub use poller::{Poller, PollerContext, PollerTask};
pub use queue::{ItemContext, ItemFuture, QueueOptions, QueueSender, QueueTask, QueueWork};
pub use runtime::{DedicatedRuntime, RuntimeOptions};
pub use try_later::TryLater;
#[cfg(feature = "watcher")]
pub use watcher::{
    DirectoryHandler, DirectoryWatcherOptions, DirectoryWatcherTask, LogChanges, WatchMode,
};
