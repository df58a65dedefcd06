//! The server span of each request, for OpenTelemetry: one constructor per
//! kind of server (HTTP, gRPC, Thrift), each continuing the caller's W3C
//! `traceparent` when the request has headers. A request's span travels in
//! its [`Arrival`](super::Arrival): the record of its answer
//! ([`RequestMetrics`](super::RequestMetrics)) writes its route and status
//! on it and ends it, where the metrics and the access log line are
//! written.
//!
//! Spans exist only with the `otel` feature and an OTLP endpoint
//! configured ([`RequestSpan::enabled`]); otherwise every function here
//! returns at once and a [`RequestSpan`] is empty: a request pays one
//! atomic load (a constant without the feature), and no allocation.
//!
//! ```
//! use std::time::Duration;
//! use sparts_core::Peer;
//! use sparts_core::counters::CounterRegistry;
//! use sparts_core::server::{RequestMetrics, RequestSpan};
//! use sparts_core::telemetry::Telemetry;
//!
//! let metrics = RequestMetrics::new(&CounterRegistry::new(), &Telemetry::new("Svc", None, None), "HttpTask", "");
//! let headers = [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")];
//! let span = RequestSpan::http("GET", |name| {
//!     headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
//! });
//! let arrival = metrics.request().with_span(span);
//! {
//!     let _entered = arrival.span().enter();
//!     // The handler runs here; its own spans are children of this one.
//! }
//! // Names the span `GET /kv/{key}`, records the status, and ends it.
//! metrics.http_response(arrival, "GET", Some("/kv/{key}"), 200, Duration::from_millis(1), Peer::Unix);
//! ```

#[cfg(feature = "otel")]
use tracing::field::Empty;

/// The server span of one request (an HTTP request, a gRPC or Thrift
/// call), named by its route or method, with the OpenTelemetry semantic
/// conventions' attributes (`http.request.method`, `http.route`,
/// `http.response.status_code`, `rpc.system`, `rpc.service`, `rpc.method`,
/// `rpc.grpc.status_code`). Given to the request's
/// [`Arrival`](super::Arrival), it ends as the answer is recorded, or when
/// dropped.
///
/// Empty, and free, when OpenTelemetry is off ([`RequestSpan::enabled`]).
#[derive(Debug)]
#[must_use]
pub struct RequestSpan {
    #[cfg(feature = "otel")]
    span: tracing::Span,
}

impl Default for RequestSpan {
    /// An empty span.
    #[inline]
    fn default() -> Self {
        Self {
            #[cfg(feature = "otel")]
            span: tracing::Span::none(),
        }
    }
}

/// Enters a [`RequestSpan`] until dropped: spans and events of the code
/// that runs meanwhile belong to the request.
#[derive(Debug)]
#[must_use]
pub struct RequestSpanGuard<'a> {
    #[cfg(feature = "otel")]
    _entered: tracing::span::Entered<'a>,
    #[cfg(not(feature = "otel"))]
    _span: std::marker::PhantomData<&'a RequestSpan>,
}

impl RequestSpan {
    /// Whether requests get spans: the `otel` feature is on and the
    /// service exports traces (an OTLP endpoint is configured). A
    /// constant `false` without the feature.
    #[inline]
    #[must_use]
    pub fn enabled() -> bool {
        #[cfg(feature = "otel")]
        {
            crate::otel::is_on()
        }
        #[cfg(not(feature = "otel"))]
        {
            false
        }
    }

    /// An empty span: records nothing.
    #[inline]
    pub fn none() -> Self {
        Self::default()
    }

    /// The span of an HTTP request, named by its method (`GET`) until its
    /// answer is recorded with the route it matched: then `GET /kv/{key}`,
    /// by the route's template, never the raw path. `header` reads a
    /// request header by its lower-case name; a valid `traceparent` makes
    /// the span its child.
    #[inline]
    pub fn http<'h>(method: &str, header: impl Fn(&str) -> Option<&'h str>) -> Self {
        #[cfg(feature = "otel")]
        if Self::enabled() {
            return imp::http(method, &header);
        }
        let _ = (method, header);
        Self::none()
    }

    /// The span of a gRPC call to `service`/`method`, named
    /// `helloworld.Greeter/SayHello`. `header` reads a request header
    /// (metadata) by its lower-case name; a valid `traceparent` makes the
    /// span its child.
    #[inline]
    pub fn grpc<'h>(service: &str, method: &str, header: impl Fn(&str) -> Option<&'h str>) -> Self {
        #[cfg(feature = "otel")]
        if Self::enabled() {
            return imp::grpc(service, method, &header);
        }
        let _ = (service, method, header);
        Self::none()
    }

    /// The span of a Thrift call, named `FooService.getName`. Thrift
    /// messages carry no headers: the span is the child of the span the
    /// caller is in (Thrift over HTTP: the HTTP request's, which continues
    /// the HTTP headers' `traceparent`), or else the root of a trace.
    #[inline]
    pub fn thrift(service: &str, method: &str) -> Self {
        #[cfg(feature = "otel")]
        if Self::enabled() {
            return imp::thrift(service, method);
        }
        let _ = (service, method);
        Self::none()
    }

    /// The span the caller is in, to carry to another thread
    /// ([`in_scope`](Self::in_scope) there): a request handed to a blocking
    /// thread stays in its trace.
    #[inline]
    pub fn current() -> Self {
        #[cfg(feature = "otel")]
        if Self::enabled() {
            return Self {
                span: tracing::Span::current(),
            };
        }
        Self::none()
    }

    /// Enters the span until the guard is dropped.
    #[inline]
    pub fn enter(&self) -> RequestSpanGuard<'_> {
        RequestSpanGuard {
            #[cfg(feature = "otel")]
            _entered: self.span.enter(),
            #[cfg(not(feature = "otel"))]
            _span: std::marker::PhantomData,
        }
    }

    /// Runs `f` inside the span.
    #[inline]
    pub fn in_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        let _entered = self.enter();
        f()
    }

    /// Records an HTTP answer: the route's template (the span takes its
    /// name from it) and the status; a 5xx marks the span as an error.
    #[inline]
    pub(crate) fn http_answer(&self, method: &str, route: Option<&str>, status: u16) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            imp::http_answer(&self.span, method, route, status);
        }
        let _ = (method, route, status);
    }

    /// Records an RPC's answer, `code` as its metrics name it (`OK`,
    /// gRPC's status name, the Thrift exception's). A gRPC code that means
    /// the server failed (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED,
    /// INTERNAL, UNAVAILABLE, DATA_LOSS) marks the span as an error, as the
    /// semantic conventions ask of server spans; on Thrift any exception
    /// does.
    #[inline]
    pub(crate) fn rpc_answer(&self, system: &str, code: &str) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            imp::rpc_answer(&self.span, system, code);
        }
        let _ = (system, code);
    }

    /// Marks the span as an error: a request that got no answer.
    #[inline]
    pub(crate) fn error(&self) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            self.span.record("otel.status_code", "error");
        }
    }
}

#[cfg(feature = "otel")]
mod imp {
    //! Making spans, once [`RequestSpan::enabled`] said yes, and recording
    //! their answers.

    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::{Empty, RequestSpan};
    use crate::logging::REQUEST_SPAN_TARGET as TARGET;
    use crate::server::{GRPC_CODES, RPC_OK};
    use crate::telemetry::{method_label, standard_method};

    /// The W3C trace context headers of a request.
    struct Carrier<'h> {
        traceparent: &'h str,
        tracestate: Option<&'h str>,
    }

    impl Extractor for Carrier<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            match key {
                "traceparent" => Some(self.traceparent),
                "tracestate" => self.tracestate,
                _ => None,
            }
        }

        fn keys(&self) -> Vec<&str> {
            vec!["traceparent", "tracestate"]
        }
    }

    /// Makes `span` the child of the caller's span, when the request names
    /// a valid one; a missing or malformed `traceparent` leaves it a root.
    fn continue_trace<'h>(span: &tracing::Span, header: &impl Fn(&str) -> Option<&'h str>) {
        let Some(traceparent) = header("traceparent") else {
            return;
        };
        let carrier = Carrier {
            traceparent,
            tracestate: header("tracestate"),
        };
        let cx = TraceContextPropagator::new().extract(&carrier);
        if cx.span().span_context().is_valid() {
            // Fails only when the span is disabled: nothing to continue.
            let _ = span.set_parent(cx);
        }
    }

    /// The method in a span's name: `HTTP` for one not of HTTP's own.
    fn name_method(method: &str) -> &'static str {
        standard_method(method).unwrap_or("HTTP")
    }

    pub(super) fn http<'h>(method: &str, header: &impl Fn(&str) -> Option<&'h str>) -> RequestSpan {
        // An explicit root: the task's own spans are no request's parent.
        let span = tracing::info_span!(
            target: TARGET,
            parent: None,
            "request",
            otel.name = name_method(method),
            otel.kind = "server",
            http.request.method = method_label(method),
            http.route = Empty,
            http.response.status_code = Empty,
            otel.status_code = Empty,
        );
        continue_trace(&span, header);
        RequestSpan { span }
    }

    /// The route is known once the router has matched it, after the span
    /// started: OpenTelemetry lets a span be renamed until it ends, for
    /// this very case.
    pub(super) fn http_answer(
        span: &tracing::Span,
        method: &str,
        route: Option<&str>,
        status: u16,
    ) {
        if let Some(route) = route {
            span.record("http.route", route);
            let name = format!("{} {route}", name_method(method));
            span.context().span().update_name(name);
        }
        span.record("http.response.status_code", i64::from(status));
        if status >= 500 {
            span.record("otel.status_code", "error");
        }
    }

    pub(super) fn grpc<'h>(
        service: &str,
        method: &str,
        header: &impl Fn(&str) -> Option<&'h str>,
    ) -> RequestSpan {
        let name = format!("{service}/{method}");
        let span = tracing::info_span!(
            target: TARGET,
            parent: None,
            "request",
            otel.name = name.as_str(),
            otel.kind = "server",
            rpc.system = "grpc",
            rpc.service = service,
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            otel.status_code = Empty,
        );
        continue_trace(&span, header);
        RequestSpan { span }
    }

    pub(super) fn thrift(service: &str, method: &str) -> RequestSpan {
        let name = format!("{service}.{method}");
        let span = tracing::info_span!(
            target: TARGET,
            "request",
            otel.name = name.as_str(),
            otel.kind = "server",
            rpc.system = "thrift",
            rpc.service = service,
            rpc.method = method,
            otel.status_code = Empty,
        );
        RequestSpan { span }
    }

    /// gRPC's codes that say the server failed.
    const SERVER_FAILURES: [&str; 6] = [
        "UNKNOWN",
        "DEADLINE_EXCEEDED",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
    ];

    pub(super) fn rpc_answer(span: &tracing::Span, system: &str, code: &str) {
        let failed = if system == "grpc" {
            if let Some(number) = GRPC_CODES.iter().position(|name| *name == code) {
                // At most 16: exact.
                span.record("rpc.grpc.status_code", number as i64);
            }
            SERVER_FAILURES.contains(&code)
        } else {
            code != RPC_OK
        };
        if failed {
            span.record("otel.status_code", "error");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_an_exporter_spans_are_empty_and_calls_do_nothing() {
        assert!(!RequestSpan::enabled());
        let span = RequestSpan::grpc("helloworld.Greeter", "SayHello", |_| {
            panic!("no header is read while spans are off")
        });
        span.in_scope(|| span.rpc_answer("grpc", "INTERNAL"));
        span.http_answer("GET", Some("/kv/{key}"), 500);
        span.error();
        let current = RequestSpan::current();
        let _guard = current.enter();
        #[cfg(feature = "otel")]
        assert!(span.span.is_none());
    }
}
