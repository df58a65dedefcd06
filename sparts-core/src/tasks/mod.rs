//! Built-in tasks: the shapes most background work takes.

mod try_later;

pub use try_later::TryLater;
