//! Seams for the built-in tasks whose work is shared by every replica of a
//! service: a queue whose items live in a backend (`--<prefix>-backend`),
//! and a periodic task whose ticks run on one replica (`--<prefix>-coordination`).
//!
//! Crates such as `sparts-nats` implement these traits; a service offers
//! one with [`QueueTask::with_backend`](crate::QueueTask::with_backend) and
//! [`PeriodicTask::with_coordinator`](crate::PeriodicTask::with_coordinator),
//! and the defaults (`memory`, `none`) stay exactly the single-process
//! behaviour.

pub use crate::tasks::periodic::coordinate::{
    Coordinator, Leadership, LeaseError, LeaseSpec, Term,
};
pub use crate::tasks::queue::backend::{
    Delivery, NextDelivery, QueueBackend, QueueSpec, RemoteQueue, ResultSender, Settle,
};
