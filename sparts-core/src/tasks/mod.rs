//! Built-in tasks: the shapes most background work takes.

#[cfg(unix)]
mod command;
mod periodic;
mod poller;
mod queue;
mod try_later;
#[cfg(feature = "watcher")]
mod watcher;

#[cfg(unix)]
pub use command::{CommandOptions, CommandTask};
pub use periodic::{Periodic, PeriodicContext, PeriodicOptions, PeriodicOutput, PeriodicTask};
pub use poller::{Poller, PollerContext, PollerTask};
pub use queue::{ItemContext, ItemFuture, QueueOptions, QueueSender, QueueTask, QueueWork};
pub use try_later::TryLater;
#[cfg(feature = "watcher")]
pub use watcher::{
    DirectoryHandler, DirectoryWatcherOptions, DirectoryWatcherTask, LogChanges, WatchMode,
};
