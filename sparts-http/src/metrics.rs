//! The task's counters: requests, responses by status class, latency,
//! connections.

use std::time::Duration;

use axum::http::StatusCode;
use sparts_core::counters::{Counter, CounterRegistry, SampleType, Samples, SamplesConfig, Window};
use tokio_util::task::TaskTracker;

/// Counter names, as exported under the task's name (`HttpTask.requests`).
pub(crate) const REQUESTS: &str = "requests";
pub(crate) const LATENCY: &str = "latency_ms";
pub(crate) const CONNECTIONS: &str = "connections";
pub(crate) const OPEN_CONNECTIONS: &str = "open_connections";
pub(crate) const CUT_CONNECTIONS: &str = "cut_connections";
const CLASSES: [&str; 5] = [
    "responses_1xx",
    "responses_2xx",
    "responses_3xx",
    "responses_4xx",
    "responses_5xx",
];

/// Handles on the task's counters, got once at init.
#[derive(Debug)]
pub(crate) struct Metrics {
    requests: Counter,
    by_class: [Counter; 5],
    latency: Samples,
    pub(crate) connections: Counter,
    pub(crate) cut: Counter,
}

impl Metrics {
    /// Registers the counters; `open` tracks one task per open connection.
    pub(crate) fn register(counters: &CounterRegistry, open: TaskTracker) -> Self {
        let config = SamplesConfig::default()
            .with_types([SampleType::Count, SampleType::Avg, SampleType::Max])
            .with_windows([Window::Secs(60), Window::Secs(600)]);
        // usize to f64 is exact for any number of connections a process holds.
        counters.callback(OPEN_CONNECTIONS, move || Some(open.len() as f64));
        Self {
            requests: counters.counter(REQUESTS),
            by_class: CLASSES.map(|name| counters.counter(name)),
            latency: counters.samples_with(LATENCY, config),
            connections: counters.counter(CONNECTIONS),
            cut: counters.counter(CUT_CONNECTIONS),
        }
    }

    #[inline]
    pub(crate) fn request(&self) {
        self.requests.increment();
    }

    /// Counts a response by class and adds its latency (until the handler
    /// returned the response head; a streamed body is not waited for).
    #[inline]
    pub(crate) fn response(&self, status: StatusCode, latency: Duration) {
        let class = usize::from(status.as_u16() / 100);
        if let Some(counter) = class.checked_sub(1).and_then(|i| self.by_class.get(i)) {
            counter.increment();
        }
        self.latency.add(latency.as_secs_f64() * 1000.0);
    }
}
