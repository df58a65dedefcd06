//! The counters a Thrift server exports under its task's name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use sparts_core::counters::{Counter, CounterRegistry, SampleType, Samples, SamplesConfig, Window};

/// The counters of one server (or one HTTP route).
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: CounterRegistry,
    pub(crate) requests: Counter,
    pub(crate) errors: Counter,
    pub(crate) latency: Samples,
    pub(crate) connections: Counter,
    pub(crate) bad_input: Counter,
    /// Per-method latency, filled only for methods a handler knows, so a
    /// client sending random names cannot grow it.
    /// By service, then method: looked up by `&str`, no key built per call.
    methods: RwLock<HashMap<String, HashMap<String, Samples>>>,
    open: Arc<AtomicUsize>,
    /// Put before every name: `thrift.` on an HTTP route, nothing on a server.
    prefix: String,
}

fn samples_config() -> SamplesConfig {
    SamplesConfig::default()
        .with_types([SampleType::Count, SampleType::Avg, SampleType::Max])
        .with_windows([Window::Secs(60), Window::Secs(600)])
}

impl Metrics {
    /// Registers `requests`, `errors`, `latency_ms`, `connections`,
    /// `open_connections` and `bad_input`.
    pub(crate) fn register(registry: &CounterRegistry) -> Self {
        let metrics = Self::register_route(registry, "");
        let gauge = Arc::clone(&metrics.open);
        // usize to f64 is exact for any number of connections a process holds.
        registry.callback("open_connections", move || {
            Some(gauge.load(Ordering::Relaxed) as f64)
        });
        Self {
            connections: registry.counter("connections"),
            ..metrics
        }
    }

    /// Registers `requests`, `errors`, `latency_ms` and `bad_input` after
    /// `prefix`: the counters of a route on another server, whose
    /// connections are that server's to count.
    pub(crate) fn register_route(registry: &CounterRegistry, prefix: &str) -> Self {
        let name = |name: &str| format!("{prefix}{name}");
        Self {
            registry: registry.clone(),
            requests: registry.counter(&name("requests")),
            errors: registry.counter(&name("errors")),
            latency: registry.samples_with(&name("latency_ms"), samples_config()),
            connections: Counter::new(),
            bad_input: registry.counter(&name("bad_input")),
            methods: RwLock::new(HashMap::new()),
            open: Arc::new(AtomicUsize::new(0)),
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

    /// Counts a connection open until the guard drops.
    pub(crate) fn open_connection(self: &Arc<Self>) -> OpenConnection {
        self.connections.increment();
        self.open.fetch_add(1, Ordering::Relaxed);
        OpenConnection(Arc::clone(&self.open))
    }

    /// Connections open now.
    pub(crate) fn open_connections(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

/// One open connection in `open_connections`.
#[derive(Debug)]
pub(crate) struct OpenConnection(Arc<AtomicUsize>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
