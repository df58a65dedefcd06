//! Built-in tasks: the shapes most background work takes.

mod periodic;
mod poller;
mod try_later;

pub use periodic::{Periodic, PeriodicContext, PeriodicOptions, PeriodicTask};
pub use poller::{Poller, PollerContext, PollerTask};
pub use try_later::TryLater;
