//! The request metrics every server records, once per request, in both
//! views: the fb303 counters under the same names on every transport
//! (`requests`, `errors`, `latency_ms`, `<method>.latency_ms` for the
//! methods it knows, HTTP's `responses_1xx` to `responses_5xx`), and the
//! service's Prometheus histograms
//! (`http_server_request_duration_seconds`,
//! `rpc_server_call_duration_seconds`).

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::counters::{Counter, CounterRegistry, SampleType, Samples, SamplesConfig, Window};
use crate::task::TaskContext;
use crate::telemetry::{HttpServerMetrics, RpcMethod, RpcServerMetrics, Telemetry};

/// Counter names, the same on every transport (`<Task>.requests`).
pub(crate) const REQUESTS: &str = "requests";
pub(crate) const ERRORS: &str = "errors";
pub(crate) const LATENCY: &str = "latency_ms";

/// HTTP's responses by status class.
const CLASSES: [&str; 5] = [
    "responses_1xx",
    "responses_2xx",
    "responses_3xx",
    "responses_4xx",
    "responses_5xx",
];

/// The code of an RPC that succeeded, on gRPC and Thrift alike.
pub const RPC_OK: &str = "OK";

/// A server's request metrics. Its fb303 counters: `requests` (counted as
/// a request arrives), `errors` (requests answered with an error: a 5xx,
/// an RPC code other than [`RPC_OK`], a request that is not one) and
/// `latency_ms` (count, avg and max over 60 and 600 s); HTTP adds
/// `responses_1xx` to `responses_5xx`, RPC servers `<method>.latency_ms`
/// per method they know. Each answer also lands in the service's
/// Prometheus histogram of its kind, labelled with the task.
///
/// The fb303 counters are registered
/// [`fb303_only`](CounterRegistry::fb303_only): `/metrics` shows the
/// histograms instead. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use sparts_core::counters::CounterRegistry;
/// use sparts_core::server::{RPC_OK, RequestMetrics};
/// use sparts_core::telemetry::{Format, Telemetry};
///
/// let counters = CounterRegistry::new();
/// let telemetry = Telemetry::new("Svc", None, None);
/// let metrics = RequestMetrics::new(&counters, &telemetry, "GrpcTask", "");
/// // Once per method the server knows, then at every call:
/// let say_hello = metrics.known_method("grpc", "helloworld.Greeter", "SayHello");
/// metrics.request();
/// metrics.rpc_call(Some(&say_hello), RPC_OK, Duration::from_millis(2));
/// assert_eq!(counters.snapshot().get("requests"), Some(1.0));
/// let text = telemetry.render(Format::Prometheus).expect("encodes");
/// assert!(text.contains(r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="helloworld.Greeter",method="SayHello",code="OK"} 1"#));
/// ```
#[derive(Debug, Clone)]
pub struct RequestMetrics {
    counters: CounterRegistry,
    prefix: Arc<str>,
    requests: Counter,
    errors: Counter,
    latency: Samples,
    telemetry: Telemetry,
    task: Arc<str>,
    /// Registered at the first HTTP answer, so only HTTP servers have them.
    http: Arc<OnceLock<HttpMetrics>>,
}

#[derive(Debug)]
struct HttpMetrics {
    classes: [Counter; 5],
    histogram: HttpServerMetrics,
}

/// A method an RPC server knows: its `<method>.latency_ms` samples and its
/// labels in `rpc_server_call_duration_seconds`. Made once per method
/// ([`RequestMetrics::known_method`]) and kept, so a call costs no
/// allocation. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KnownMethod {
    latency: Samples,
    histogram: RpcServerMetrics,
    labels: RpcMethod,
}

impl RequestMetrics {
    /// The metrics of the task whose context this is, in its counters and
    /// the service's telemetry.
    pub fn register<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> Self {
        Self::register_with_prefix(ctx, "")
    }

    /// The metrics of the task whose context this is, each fb303 name
    /// after `prefix` (`thrift.` for Thrift served on an HTTP route,
    /// beside the HTTP task's own).
    pub fn register_with_prefix<O: Send + Sync + 'static>(
        ctx: &TaskContext<O>,
        prefix: &str,
    ) -> Self {
        Self::new(
            ctx.counters(),
            ctx.service().telemetry(),
            ctx.name(),
            prefix,
        )
    }

    /// The metrics of task `task`: fb303 counters in `counters` after
    /// `prefix`, histograms in `telemetry`.
    pub fn new(
        counters: &CounterRegistry,
        telemetry: &Telemetry,
        task: &str,
        prefix: &str,
    ) -> Self {
        let counters = counters.fb303_only();
        let name = |name: &str| format!("{prefix}{name}");
        Self {
            requests: counters.counter(&name(REQUESTS)),
            errors: counters.counter(&name(ERRORS)),
            latency: counters.samples_with(&name(LATENCY), latency_samples()),
            counters,
            prefix: prefix.into(),
            telemetry: telemetry.clone(),
            task: task.into(),
            http: Arc::default(),
        }
    }

    /// Counts a request as it arrives.
    #[inline]
    pub fn request(&self) {
        self.requests.increment();
    }

    /// Counts an error that is no answer of a method: bytes that are not a
    /// request of the protocol.
    #[inline]
    pub fn error(&self) {
        self.errors.increment();
    }

    /// Records an HTTP answer: `status` (a 5xx is an error) after `latency`
    /// (until the response head), to a request with `method` that matched
    /// `route`, the route's template (`/kv/{key}`), never the raw path:
    /// requests that matched no route share one fixed name, so the number
    /// of series stays bounded.
    pub fn http_response(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let http = self.http.get_or_init(|| HttpMetrics {
            classes: CLASSES.map(|name| self.counters.counter(&format!("{}{name}", self.prefix))),
            histogram: self.telemetry.http_server(&self.task),
        });
        let class = usize::from(status / 100);
        if let Some(counter) = class.checked_sub(1).and_then(|i| http.classes.get(i)) {
            counter.increment();
        }
        if status >= 500 {
            self.errors.increment();
        }
        self.add_latency(latency);
        http.histogram.observe(method, route, status, latency);
    }

    /// The metrics of `service`'s method `method` on an RPC server of
    /// `system` (`grpc` or `thrift`): `<service>.<method>.latency_ms`, and
    /// its labels on `/metrics`. Only make one for methods the server
    /// knows, so that a client sending random names cannot grow the
    /// counters or the series.
    pub fn known_method(&self, system: &'static str, service: &str, method: &str) -> KnownMethod {
        let name = format!("{}{service}.{method}.{LATENCY}", self.prefix);
        let histogram = self.telemetry.rpc_server(&self.task, system);
        KnownMethod {
            latency: self.counters.samples_with(&name, latency_samples()),
            labels: histogram.method(service, method),
            histogram,
        }
    }

    /// Records an RPC's answer after `latency`: `code` is [`RPC_OK`] or the
    /// error's name (gRPC's status name such as `NOT_FOUND`; for Thrift the
    /// exception's). A call of a method the server does not know (`None`)
    /// counts in the totals only.
    pub fn rpc_call(
        &self,
        method: Option<&KnownMethod>,
        code: impl Into<Cow<'static, str>>,
        latency: Duration,
    ) {
        let code = code.into();
        if code != RPC_OK {
            self.errors.increment();
        }
        self.add_latency(latency);
        if let Some(method) = method {
            method.latency.add(millis(latency));
            method.histogram.observe(&method.labels, code, latency);
        }
    }

    #[inline]
    fn add_latency(&self, latency: Duration) {
        self.latency.add(millis(latency));
    }
}

fn millis(latency: Duration) -> f64 {
    latency.as_secs_f64() * 1000.0
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
    use crate::telemetry::Format;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn the_names_are_the_same_on_every_transport() {
        let registry = CounterRegistry::new();
        let telemetry = Telemetry::new("Svc", None, None);
        let metrics = RequestMetrics::new(&registry, &telemetry, "GrpcTask", "");
        let say_hello = metrics.known_method("grpc", "Greeter", "SayHello");
        metrics.request();
        metrics.rpc_call(Some(&say_hello), "NOT_FOUND", ms(3));
        metrics.request();
        metrics.rpc_call(None, "UNIMPLEMENTED", ms(1));
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.get("requests"), Some(2.0));
        assert_eq!(snapshot.get("errors"), Some(2.0));
        assert_eq!(snapshot.get("latency_ms.avg.60"), Some(2.0));
        assert_eq!(
            snapshot.get("Greeter.SayHello.latency_ms.count.60"),
            Some(1.0)
        );
        assert!(
            registry.exported().is_empty(),
            "/metrics has them as histograms"
        );
        let routed = RequestMetrics::new(&registry, &telemetry, "HttpTask", "thrift.");
        routed.request();
        assert_eq!(registry.snapshot().get("thrift.requests"), Some(1.0));
        let text = telemetry.render(Format::Prometheus).expect("encodes");
        assert!(
            text.contains(r#"rpc_server_call_duration_seconds_count{task="GrpcTask",system="grpc",service="Greeter",method="SayHello",code="NOT_FOUND"} 1"#),
            "{text}"
        );
        assert!(
            !text.contains("UNIMPLEMENTED"),
            "unknown methods stay off: {text}"
        );
    }

    #[test]
    fn http_answers_count_by_class_and_by_route() {
        let registry = CounterRegistry::new();
        let telemetry = Telemetry::new("Svc", None, None);
        let metrics = RequestMetrics::new(&registry, &telemetry, "HttpTask", "");
        assert_eq!(
            registry.snapshot().get("responses_2xx"),
            None,
            "HTTP's own counters come with the first answer"
        );
        for status in [200, 200, 404, 503] {
            metrics.request();
            metrics.http_response("GET", "/kv/{key}", status, ms(2));
        }
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.get("responses_2xx"), Some(2.0));
        assert_eq!(snapshot.get("responses_4xx"), Some(1.0));
        assert_eq!(snapshot.get("responses_5xx"), Some(1.0));
        assert_eq!(snapshot.get("responses_1xx"), Some(0.0));
        assert_eq!(snapshot.get("errors"), Some(1.0), "the 503");
        assert_eq!(snapshot.get("latency_ms.count.60"), Some(4.0));
        let text = telemetry.render(Format::Prometheus).expect("encodes");
        assert!(
            text.contains(r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/kv/{key}",status="200"} 2"#),
            "{text}"
        );
        assert!(!text.contains("responses_2xx"), "{text}");
    }
}
