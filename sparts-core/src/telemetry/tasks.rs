//! What the built-in tasks record, labelled with their task.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use super::histogram::Histogram;

/// A periodic task's `sparts_periodic_*` series.
#[derive(Debug, Clone)]
pub(crate) struct PeriodicMetrics {
    pub(crate) runs: Counter,
    pub(crate) slow: Counter,
    pub(crate) retries: Counter,
    pub(crate) duration: Histogram,
}

impl PeriodicMetrics {
    /// A successful execution that took `took`.
    pub(crate) fn ran(&self, took: Duration) {
        self.runs.inc();
        self.duration.observe(took.as_secs_f64());
    }
}

/// A queue task's `sparts_queue_*` series.
#[derive(Debug, Clone)]
pub(crate) struct QueueMetrics {
    pub(crate) completed: Counter,
    pub(crate) retried: Counter,
    pub(crate) failed: Counter,
    pub(crate) duration: Histogram,
}
