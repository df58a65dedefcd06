//! The task's request counters: the ones every server exports, plus the
//! responses by status class.

use std::time::Duration;

use axum::http::StatusCode;
use sparts_core::counters::{Counter, CounterRegistry};
use sparts_core::server::RequestMetrics;

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
    requests: RequestMetrics,
    by_class: [Counter; 5],
}

impl Metrics {
    /// Registers `requests`, `errors`, `latency_ms` and `responses_1xx` to
    /// `responses_5xx`.
    pub(crate) fn register(counters: &CounterRegistry) -> Self {
        Self {
            requests: RequestMetrics::register(counters),
            by_class: CLASSES.map(|name| counters.counter(name)),
        }
    }

    #[inline]
    pub(crate) fn request(&self) {
        self.requests.request();
    }

    /// Counts a response by class (a 5xx is an error) and adds its latency
    /// (until the handler returned the response head; a streamed body is
    /// not waited for).
    #[inline]
    pub(crate) fn response(&self, status: StatusCode, latency: Duration) {
        let class = usize::from(status.as_u16() / 100);
        if let Some(counter) = class.checked_sub(1).and_then(|i| self.by_class.get(i)) {
            counter.increment();
        }
        if status.is_server_error() {
            self.requests.error();
        }
        self.requests.latency(latency);
    }
}
