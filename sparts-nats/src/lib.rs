//! sparts-nats: a sparts service's `QueueTask` and `PeriodicTask` shared by
//! every replica, on NATS JetStream ([async-nats]).
//!
//! - [`NatsBackend`] keeps a queue's items in a JetStream work-queue stream:
//!   any replica submits, any replica executes, at least once.
//! - [`NatsLease`] runs a periodic task's ticks on one replica at a time,
//!   holding a lease in a JetStream key-value bucket.
//!
//! Both are offered to the task in code and chosen by the operator at run
//! time: without `--<prefix>-backend nats://…` (`--<prefix>-coordination
//! nats://…`) the task keeps its single-process behaviour.

mod connection;
mod error;
mod lease;

pub use error::{Error, Result};
pub use lease::NatsLease;
