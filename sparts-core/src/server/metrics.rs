//! The request metrics every server records, once per request, in both
//! views: the fb303 counters under the same names on every transport
//! (`requests`, `errors`, `latency_ms`, `<method>.latency_ms` for the
//! methods it knows, HTTP's `responses_1xx` to `responses_5xx`), and the
//! service's Prometheus histograms
//! (`http_server_request_duration_seconds`,
//! `rpc_server_call_duration_seconds`); and, from the same record, the
//! request's access log line while the task's log is on, and the end of its
//! OpenTelemetry span ([`RequestSpan`]), with its route and status.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use super::{AccessLog, RequestSpan};
use crate::admin::Peer;
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

/// gRPC's status codes' names, by number (`GRPC_CODES[5]` is
/// `NOT_FOUND`): the `code` of a gRPC call's metrics and access log line;
/// a call's span records the number (`rpc.grpc.status_code`).
pub const GRPC_CODES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];

/// The `route` label of HTTP requests that matched no route (the
/// fallback's 404 among them): one fixed name, never the raw path, so that
/// a scanner cannot grow the number of series.
const UNMATCHED: &str = "unmatched";

/// A server's request metrics, access log and spans: the one thing a
/// transport calls for each request, as it arrives
/// ([`request`](Self::request), which gives an [`Arrival`], to which the
/// transport gives the request's [`RequestSpan`]) and as it is answered,
/// with that arrival ([`http_response`](Self::http_response),
/// [`rpc_call`](Self::rpc_call), or [`error`](Self::error) for a request
/// that gets no answer).
///
/// Its fb303 counters: `requests` (counted as a request arrives), `errors`
/// (requests answered with an error: a 5xx, an RPC code other than
/// [`RPC_OK`], a request that is not one) and `latency_ms` (count, avg and
/// max over 60 and 600 s); HTTP adds `responses_1xx` to `responses_5xx`,
/// RPC servers `<method>.latency_ms` per method they know. Each answer
/// also lands in the service's Prometheus histogram of its kind, labelled
/// with the task, and in a line of the task's [`AccessLog`] if it was on
/// when the request arrived; while it is off, the log costs a request one
/// atomic load, in [`request`](Self::request). The same record writes the
/// answer on the request's span and ends it.
///
/// The fb303 counters are registered
/// [`fb303_only`](CounterRegistry::fb303_only): `/metrics` shows the
/// histograms instead. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use sparts_core::counters::CounterRegistry;
/// use sparts_core::server::{Called, RPC_OK, RequestMetrics};
/// use sparts_core::telemetry::{Format, Telemetry};
///
/// let counters = CounterRegistry::new();
/// let telemetry = Telemetry::new("Svc", None, None);
/// let metrics = RequestMetrics::new(&counters, &telemetry, "GrpcTask", "");
/// // Once per method the server knows, then at every call:
/// let say_hello = metrics.known_method("grpc", "helloworld.Greeter", "SayHello");
/// let arrival = metrics.request();
/// // What only the access log line needs is looked up while the log is on.
/// let peer = arrival.is_logged().then(|| sparts_core::Peer::Ip([127, 0, 0, 1].into()));
/// let said_hello = Called::Known(&say_hello);
/// metrics.rpc_call(arrival, said_hello, RPC_OK, Duration::from_millis(2), peer);
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
    access: AccessLog,
}

#[derive(Debug)]
struct HttpMetrics {
    classes: [Counter; 5],
    histogram: HttpServerMetrics,
}

/// A method an RPC server knows: its `<method>.latency_ms` samples, its
/// labels in `rpc_server_call_duration_seconds` and in the access log.
/// Made once per method ([`RequestMetrics::known_method`]) and kept, so a
/// call costs no allocation. Cheap to clone.
#[derive(Debug, Clone)]
pub struct KnownMethod {
    latency: Samples,
    histogram: RpcServerMetrics,
    labels: RpcMethod,
    logged: bool,
}

impl KnownMethod {
    /// Leaves this method's calls out of the access log (they are still
    /// counted): a built-in service's, such as health checks, whose probes
    /// would drown the user's calls. Default: logged.
    #[must_use]
    pub fn without_access_log(mut self) -> Self {
        self.logged = false;
        self
    }
}

/// A request counted as it arrived ([`RequestMetrics::request`]), given
/// back with its answer: whether the access log was on then, so that the
/// line is decided with one atomic load, and what only the line needs
/// (gRPC's peer) is looked up only for a logged request; and the request's
/// span, which the transport enters while the request's code runs and the
/// record of the answer ends.
#[derive(Debug)]
pub struct Arrival {
    logged: bool,
    span: RequestSpan,
}

impl Arrival {
    /// Whether the request's access log line is due.
    #[inline]
    #[must_use]
    pub fn is_logged(&self) -> bool {
        self.logged
    }

    /// Gives the request its span ([`RequestSpan::http`],
    /// [`RequestSpan::grpc`], [`RequestSpan::thrift`]; each is empty, and
    /// free, while spans are off). Default: an empty one.
    #[inline]
    pub fn with_span(mut self, span: RequestSpan) -> Self {
        self.span = span;
        self
    }

    /// The request's span, to enter while the request's code runs.
    #[inline]
    pub fn span(&self) -> &RequestSpan {
        &self.span
    }
}

/// The method an RPC called, as its server recorded it.
#[derive(Debug, Clone, Copy)]
pub enum Called<'a> {
    /// A method the server knows: recorded per method.
    Known(&'a KnownMethod),
    /// Any other (a method or service the server does not have, a name of
    /// no known shape): counted in the totals only, so that a client
    /// sending random names cannot grow the counters or the series, and
    /// logged with the names the call gave.
    Unknown {
        /// `grpc` or `thrift`.
        system: &'static str,
        /// The service the call named (empty when it named none).
        service: &'a str,
        /// The method the call named.
        method: &'a str,
    },
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
            access: AccessLog::of(telemetry, task),
        }
    }

    /// The task's access log, whose lines these metrics write: the task
    /// switches it with its option
    /// ([`while_serving`](AccessLog::while_serving)).
    pub fn access_log(&self) -> &AccessLog {
        &self.access
    }

    /// Counts a request as it arrives; give the arrival back with its
    /// answer.
    #[inline]
    pub fn request(&self) -> Arrival {
        self.requests.increment();
        Arrival {
            logged: self.access.is_on(),
            span: RequestSpan::none(),
        }
    }

    /// Records the request of `arrival` as an error that is no answer of a
    /// method: bytes that are not a request of the protocol. Its span ends
    /// as an error.
    #[inline]
    pub fn error(&self, arrival: Arrival) {
        self.errors.increment();
        arrival.span.error();
    }

    /// Records an HTTP answer: `status` (a 5xx is an error) after `latency`
    /// (until the response head), to the request of `arrival` from `peer`
    /// with `method` that matched `route`, the route's template
    /// (`/kv/{key}`), never the raw path: requests that matched no route
    /// (`None`) share the label `unmatched`, so the number of series stays
    /// bounded, and their log line has no route. The request's span is
    /// named after the route (`GET /kv/{key}`), and ends.
    pub fn http_response(
        &self,
        arrival: Arrival,
        method: &str,
        route: Option<&str>,
        status: u16,
        latency: Duration,
        peer: Peer,
    ) {
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
        if arrival.logged {
            self.access.http(method, route, status, latency, peer);
        }
        arrival.span.http_answer(method, route, status);
        let route = route.unwrap_or(UNMATCHED);
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
            logged: true,
        }
    }

    /// Records an RPC's answer after `latency`, to the call of `arrival`,
    /// of `called`, from `peer` (`None` when the transport does not know
    /// it, or looked it up only for a logged call): `code` is [`RPC_OK`] or
    /// the error's name (gRPC's status name such as `NOT_FOUND`, one of
    /// [`GRPC_CODES`]; for Thrift the exception's type name or
    /// `APPLICATION_ERROR`). The call's span records it, and ends.
    pub fn rpc_call(
        &self,
        arrival: Arrival,
        called: Called<'_>,
        code: impl Into<Cow<'static, str>>,
        latency: Duration,
        peer: Option<Peer>,
    ) {
        let code = code.into();
        if code != RPC_OK {
            self.errors.increment();
        }
        self.add_latency(latency);
        let system = match called {
            Called::Known(method) => method.histogram.system(),
            Called::Unknown { system, .. } => system,
        };
        arrival.span.rpc_answer(system, &code);
        match called {
            Called::Known(method) => {
                method.latency.add(millis(latency));
                if arrival.logged && method.logged {
                    let (system, labels) = (method.histogram.system(), &method.labels);
                    let (service, name) = (labels.service(), labels.method());
                    self.access.rpc(system, service, name, &code, latency, peer);
                }
                method.histogram.observe(&method.labels, code, latency);
            }
            Called::Unknown {
                system,
                service,
                method,
            } => {
                if arrival.logged {
                    self.access
                        .rpc(system, service, method, &code, latency, peer);
                }
            }
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
        let arrival = metrics.request();
        metrics.rpc_call(arrival, Called::Known(&say_hello), "NOT_FOUND", ms(3), None);
        let arrival = metrics.request();
        let unknown = Called::Unknown {
            system: "grpc",
            service: "Greeter",
            method: "Nope",
        };
        metrics.rpc_call(arrival, unknown, "UNIMPLEMENTED", ms(1), None);
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
            let arrival = metrics.request();
            let route = Some("/kv/{key}");
            metrics.http_response(arrival, "GET", route, status, ms(2), Peer::Unix);
        }
        let arrival = metrics.request();
        metrics.http_response(arrival, "GET", None, 404, ms(1), Peer::Unix);
        let snapshot = registry.snapshot();
        assert_eq!(snapshot.get("responses_2xx"), Some(2.0));
        assert_eq!(snapshot.get("responses_4xx"), Some(2.0));
        assert_eq!(snapshot.get("responses_5xx"), Some(1.0));
        assert_eq!(snapshot.get("responses_1xx"), Some(0.0));
        assert_eq!(snapshot.get("errors"), Some(1.0), "the 503");
        assert_eq!(snapshot.get("latency_ms.count.60"), Some(5.0));
        let text = telemetry.render(Format::Prometheus).expect("encodes");
        assert!(
            text.contains(r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/kv/{key}",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="unmatched",status="404"} 1"#),
            "requests that matched no route share one label: {text}"
        );
        assert!(!text.contains("responses_2xx"), "{text}");
    }

    /// The lines a subscriber writes, in the text format without time.
    #[derive(Clone, Default)]
    struct Lines(Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Lines {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            let mut lines = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            lines.extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl Lines {
        fn take(&self) -> String {
            let mut lines = self
                .0
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            String::from_utf8(std::mem::take(&mut *lines)).expect("text")
        }
    }

    #[test]
    fn the_record_writes_the_access_line_while_the_log_is_on() {
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .without_time()
            .finish();
        let telemetry = Telemetry::new("Svc", None, None);
        let http = RequestMetrics::new(&CounterRegistry::new(), &telemetry, "HttpTask", "");
        let thrift =
            RequestMetrics::new(&CounterRegistry::new(), &telemetry, "HttpTask", "thrift.");
        let fb303 = thrift.known_method("thrift", "fb303", "getStatus");
        let health = thrift
            .known_method("thrift", "Health", "check")
            .without_access_log();
        let peer = Peer::Ip([127, 0, 0, 1].into());
        let answer = || {
            let route = Some("/kv/{key}");
            http.http_response(http.request(), "GET", route, 200, ms(2), peer);
            http.http_response(http.request(), "GET", None, 404, ms(1), peer);
            let (fb303, health) = (Called::Known(&fb303), Called::Known(&health));
            thrift.rpc_call(thrift.request(), fb303, RPC_OK, ms(1), None);
            thrift.rpc_call(thrift.request(), health, RPC_OK, ms(1), Some(peer));
            let unknown = Called::Unknown {
                system: "thrift",
                service: "nobody",
                method: "makeFoos",
            };
            let code = "APPLICATION_ERROR";
            thrift.rpc_call(thrift.request(), unknown, code, ms(1), Some(peer));
        };
        let switch = AccessLog::of(&telemetry, "HttpTask");
        tracing::subscriber::with_default(subscriber, || {
            answer();
            assert_eq!(lines.take(), "", "off by default");
            // Decided as a request arrives: one in flight as the switch
            // turns keeps what it had.
            let before = http.request();
            switch.set(true);
            http.http_response(before, "GET", None, 200, ms(1), peer);
            assert_eq!(lines.take(), "", "arrived while off");
            assert!(thrift.access_log().is_on(), "one switch for the task");
            let during = http.request();
            switch.set(false);
            http.http_response(during, "GET", Some("/during"), 200, ms(1), peer);
            assert!(lines.take().contains("route=/during"), "arrived while on");
            switch.set(true);
            answer();
        });
        let text = lines.take();
        let written: Vec<&str> = text.lines().collect();
        assert_eq!(written.len(), 4, "{text}");
        assert!(written[0].contains("INFO sparts::access: request task=HttpTask method=GET route=/kv/{key} status=200 duration_ms=2.0 peer=127.0.0.1"), "{text}");
        assert!(!written[1].contains("route="), "{text}");
        assert!(written[1].contains("status=404"), "{text}");
        assert!(written[2].contains("task=HttpTask system=thrift service=fb303 method=getStatus status=OK duration_ms=1.0"), "{text}");
        assert!(!written[2].contains("peer="), "an unknown peer: {text}");
        assert!(
            written[3].contains("service=nobody method=makeFoos status=APPLICATION_ERROR"),
            "{text}"
        );
        assert!(
            !text.contains("Health"),
            "a method left out of the log: {text}"
        );
    }
}
