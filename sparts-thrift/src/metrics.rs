//! The request counters of a Thrift server or route: core's
//! [`RequestMetrics`] (`requests`, `errors`, `latency_ms`,
//! `<service>.<method>.latency_ms`) and Thrift's own `bad_input`.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use sparts_core::counters::{Counter, CounterRegistry, Samples};
use sparts_core::server::RequestMetrics;

/// The request counters of one server (or one HTTP route). A server's
/// connections are counted apart, by core's `Connections`.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) requests: RequestMetrics,
    /// Connections closed (or HTTP requests refused) for bad input.
    pub(crate) bad_input: Counter,
    /// Per-method latency, filled only for methods a handler knows, so a
    /// client sending random names cannot grow it.
    /// By service, then method: looked up by `&str`, no key built per call.
    methods: RwLock<HashMap<String, HashMap<String, Samples>>>,
}

impl Metrics {
    /// Registers `requests`, `errors`, `latency_ms` and `bad_input` after
    /// `prefix`: nothing on a server, `thrift.` on a route of an HTTP task.
    pub(crate) fn register(registry: &CounterRegistry, prefix: &str) -> Self {
        Self {
            requests: RequestMetrics::register_with_prefix(registry, prefix),
            bad_input: registry.counter(&format!("{prefix}bad_input")),
            methods: RwLock::new(HashMap::new()),
        }
    }

    /// Records one call's latency, overall and as
    /// `<service>.<method>.latency_ms`.
    pub(crate) fn record(&self, service: &str, method: &str, latency: Duration) {
        self.requests.latency(latency);
        let millis = latency.as_secs_f64() * 1000.0;
        {
            let methods = self.methods.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(samples) = methods.get(service).and_then(|m| m.get(method)) {
                samples.add(millis);
                return;
            }
        }
        // The first call of this method: register its samples.
        let samples = self.requests.method_latency(&format!("{service}.{method}"));
        samples.add(millis);
        self.methods
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(service.to_owned())
            .or_default()
            .insert(method.to_owned(), samples);
    }
}
