//! The request counters every server exports under the same names:
//! `requests`, `errors`, `latency_ms`, and `<method>.latency_ms` for the
//! methods it knows.

use std::time::Duration;

use crate::counters::{Counter, CounterRegistry, SampleType, Samples, SamplesConfig, Window};

/// Counter names, the same on every transport (`<Task>.requests`).
pub(crate) const REQUESTS: &str = "requests";
pub(crate) const ERRORS: &str = "errors";
pub(crate) const LATENCY: &str = "latency_ms";

/// A server's request counters: `requests`, `errors` (requests answered
/// with an error: a 5xx, a gRPC status other than OK, a Thrift exception)
/// and `latency_ms` (count, avg and max over 60 and 600 s).
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    registry: CounterRegistry,
    prefix: String,
    requests: Counter,
    errors: Counter,
    latency: Samples,
}

impl RequestMetrics {
    /// The counters in `registry`.
    pub fn register(registry: &CounterRegistry) -> Self {
        Self::register_with_prefix(registry, "")
    }

    /// The counters in `registry`, each name after `prefix` (`thrift.` for
    /// Thrift served on an HTTP route, beside the HTTP task's own).
    pub fn register_with_prefix(registry: &CounterRegistry, prefix: &str) -> Self {
        let name = |name: &str| format!("{prefix}{name}");
        Self {
            registry: registry.clone(),
            prefix: prefix.to_owned(),
            requests: registry.counter(&name(REQUESTS)),
            errors: registry.counter(&name(ERRORS)),
            latency: registry.samples_with(&name(LATENCY), latency_samples()),
        }
    }

    /// Counts a request as it arrives.
    #[inline]
    pub fn request(&self) {
        self.requests.increment();
    }

    /// Counts an error answer.
    #[inline]
    pub fn error(&self) {
        self.errors.increment();
    }

    /// Adds a request's latency.
    #[inline]
    pub fn latency(&self, latency: Duration) {
        self.latency.add(latency.as_secs_f64() * 1000.0);
    }

    /// The latency samples of one method, `<method>.latency_ms`, registered
    /// at the first call. Only call it for methods the server knows, so
    /// that a client sending random names cannot grow the registry.
    pub fn method_latency(&self, method: &str) -> Samples {
        let name = format!("{}{method}.{LATENCY}", self.prefix);
        self.registry.samples_with(&name, latency_samples())
    }
}

/// How every server's latencies are sampled: count, average and maximum
/// over 60 and 600 seconds.
pub fn latency_samples() -> SamplesConfig {
    SamplesConfig::default()
        .with_types([SampleType::Count, SampleType::Avg, SampleType::Max])
        .with_windows([Window::Secs(60), Window::Secs(600)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_same_on_every_transport() {
        let registry = CounterRegistry::new();
        let metrics = RequestMetrics::register(&registry);
        metrics.request();
        metrics.error();
        metrics.latency(Duration::from_millis(3));
        metrics.method_latency("Greeter.SayHello").add(1.0);
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.get("requests"), Some(1.0));
        assert_eq!(snapshot.get("errors"), Some(1.0));
        assert_eq!(snapshot.get("latency_ms.avg.60"), Some(3.0));
        assert_eq!(
            snapshot.get("Greeter.SayHello.latency_ms.count.60"),
            Some(1.0)
        );
        let routed = RequestMetrics::register_with_prefix(&registry, "thrift.");
        routed.request();
        assert_eq!(registry.snapshot().get("thrift.requests"), Some(1.0));
    }
}
