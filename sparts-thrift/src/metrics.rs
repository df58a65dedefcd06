//! The counters a Thrift server exports under its task's name.

use std::collections::HashMap;
use std::sync::{PoisonError, RwLock};

use sparts_core::{Counter, CounterRegistry, SampleType, Samples, SamplesConfig, Window};

/// The request counters of one server (or one HTTP route). A server's
/// connections are counted apart, by core's `Connections`.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: CounterRegistry,
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) latency: Samples,
    pub(crate) bad_input: Counter,
    /// Per-method latency, filled only for methods a handler knows, so a
    /// client sending random names cannot grow it.
    /// By service, then method: looked up by `&str`, no key built per call.
    methods: RwLock<HashMap<String, HashMap<String, Samples>>>,
    /// Put before every name: `thrift.` on an HTTP route, nothing on a server.
    prefix: String,
}

fn samples_config() -> SamplesConfig {
    SamplesConfig::default()
        .with_types([SampleType::Count, SampleType::Avg, SampleType::Max])
        .with_windows([Window::Secs(60), Window::Secs(600)])
}

impl Metrics {
    /// Registers `requests`, `errors`, `latency_ms` and `bad_input`.
    pub(crate) fn register(registry: &CounterRegistry) -> Self {
        Self::register_route(registry, "")
    }

    /// Registers `requests`, `errors`, `latency_ms` and `bad_input` after
    /// `prefix`: the counters of a route on another server.
    pub(crate) fn register_route(registry: &CounterRegistry, prefix: &str) -> Self {
        let name = |name: &str| format!("{prefix}{name}");
        Self {
            registry: registry.clone(),
            requests: registry.counter(&name("requests")),
            errors: registry.counter(&name("errors")),
            latency: registry.samples_with(&name("latency_ms"), samples_config()),
            bad_input: registry.counter(&name("bad_input")),
            methods: RwLock::new(HashMap::new()),
            prefix: prefix.to_owned(),
        }
    }

    /// Records one call's latency, overall and as `<service>.<method>.latency_ms`.
    pub(crate) fn record(&self, service: &str, method: &str, millis: f64) {
        self.latency.add(millis);
        let found = self
            .methods
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(service)
            .and_then(|methods| methods.get(method))
            .cloned();
        let samples = found.unwrap_or_else(|| {
            let samples = self.registry.samples_with(
                &format!("{}{service}.{method}.latency_ms", self.prefix),
                samples_config(),
            );
            self.methods
                .write()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(service.to_owned())
                .or_default()
                .insert(method.to_owned(), samples.clone());
            samples
        });
        samples.add(millis);
    }
}
