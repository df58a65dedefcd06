//! What a queue's parts share for one start of the task: the connection,
//! the names, the limits and the counters.

use std::time::{Duration, SystemTime};

use async_nats::Subject;
use sparts_core::counters::Counter;
use tokio::sync::watch;

use super::Limits;
use super::names::Names;
use crate::connection::Connection;

/// Header naming the inbox of a submitter that waits for the result.
pub(crate) const REPLY_HEADER: &str = "Sparts-Reply";

/// The queue's counters beside the task's own.
#[derive(Debug, Clone)]
pub(crate) struct Counters {
    pub(crate) redelivered: Counter,
    pub(crate) dead_lettered: Counter,
    pub(crate) backend_errors: Counter,
}

/// What the queue and its deliveries share.
#[derive(Debug)]
pub(crate) struct Inner {
    pub(crate) task: String,
    pub(crate) connection: Connection,
    pub(crate) names: Names,
    /// `names.items`, made once: a fifo queue stores every item there.
    pub(crate) items_subject: Subject,
    pub(crate) limits: Limits,
    pub(crate) ack_wait: Duration,
    pub(crate) counters: Counters,
}

/// The wall-clock time of a JetStream timestamp.
pub(crate) fn system_time(at: async_nats::datetime::DateTime) -> SystemTime {
    SystemTime::from(at)
}

/// Resolves once the queue is closed (the watch's guard is not held across
/// an await).
pub(crate) async fn stopped(closed: &mut watch::Receiver<bool>) {
    let _ = closed.wait_for(|closed| *closed).await.map(|_| ());
}
