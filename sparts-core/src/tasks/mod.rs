//! Built-in tasks: the shapes most background work takes.

mod queue;
mod try_later;

pub use queue::{ItemContext, ItemFuture, QueueOptions, QueueSender, QueueTask, QueueWork};
pub use try_later::TryLater;
