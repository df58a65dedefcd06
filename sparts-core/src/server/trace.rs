//! The server span of each request, for OpenTelemetry: one constructor per
//! kind of server (HTTP, gRPC, Thrift), each continuing the caller's W3C
//! `traceparent` when the request has headers.
//!
//! Spans exist only with the `otel` feature and an OTLP endpoint
//! configured ([`RequestSpan::enabled`]); otherwise every function here
//! returns at once and a [`RequestSpan`] is empty. A transport asks
//! [`RequestSpan::enabled`] before doing any work of its own for a span.
//!
//! ```
//! use sparts_core::server::RequestSpan;
//!
//! let headers = [("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")];
//! let span = RequestSpan::http("GET", Some("/kv/{key}"), |name| {
//!     headers.iter().find(|(n, _)| *n == name).map(|(_, v)| *v)
//! });
//! {
//!     let _entered = span.enter();
//!     // The handler runs here; its own spans are children of this one.
//! }
//! span.http_status(200);
//! ```

#[cfg(feature = "otel")]
use tracing::field::Empty;

/// The target of request spans: the log output leaves them out, the
/// OpenTelemetry layer takes them.
pub(crate) const TARGET: &str = "sparts::request";

/// The server span of one request (an HTTP request, a gRPC or Thrift
/// call), named by its route or method, with the OpenTelemetry semantic
/// conventions' attributes (`http.request.method`, `http.route`,
/// `http.response.status_code`, `rpc.system`, `rpc.service`, `rpc.method`,
/// `rpc.grpc.status_code`). It ends when dropped.
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

    /// The span of an HTTP request: named `GET /kv/{key}` by its method and
    /// matched route template (never the raw path), or by the method alone
    /// when no route matched. `header` reads a request header by its
    /// lower-case name; a valid `traceparent` makes the span its child.
    #[inline]
    pub fn http<'h>(
        method: &str,
        route: Option<&str>,
        header: impl Fn(&str) -> Option<&'h str>,
    ) -> Self {
        #[cfg(feature = "otel")]
        if Self::enabled() {
            return imp::http(method, route, &header);
        }
        let _ = (method, route, header);
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

    /// Records the HTTP response's status; a 5xx marks the span as an error.
    #[inline]
    pub fn http_status(&self, status: u16) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            self.span
                .record("http.response.status_code", i64::from(status));
            if status >= 500 {
                self.span.record("otel.status_code", "error");
            }
        }
        let _ = status;
    }

    /// Records a gRPC call's status code; those that mean the server failed
    /// (UNKNOWN, DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE,
    /// DATA_LOSS) mark the span as an error, as the semantic conventions
    /// ask of server spans.
    #[inline]
    pub fn grpc_status(&self, code: i32) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            self.span.record("rpc.grpc.status_code", i64::from(code));
            if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
                self.span.record("otel.status_code", "error");
            }
        }
        let _ = code;
    }

    /// Marks the span as an error (a Thrift exception, a panicked handler).
    #[inline]
    pub fn error(&self) {
        #[cfg(feature = "otel")]
        if !self.span.is_none() {
            self.span.record("otel.status_code", "error");
        }
    }
}

#[cfg(feature = "otel")]
mod imp {
    //! Making spans, once [`RequestSpan::enabled`] said yes.

    use opentelemetry::propagation::{Extractor, TextMapPropagator};
    use opentelemetry::trace::TraceContextExt;
    use opentelemetry_sdk::propagation::TraceContextPropagator;
    use tracing_opentelemetry::OpenTelemetrySpanExt;

    use super::{Empty, RequestSpan, TARGET};

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

    /// The method as the semantic conventions want it: one of HTTP's own,
    /// or `_OTHER` (a client cannot grow the set of span names).
    fn known_method(method: &str) -> Option<&str> {
        const KNOWN: [&str; 9] = [
            "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
        ];
        KNOWN.iter().copied().find(|m| *m == method)
    }

    pub(super) fn http<'h>(
        method: &str,
        route: Option<&str>,
        header: &impl Fn(&str) -> Option<&'h str>,
    ) -> RequestSpan {
        let known = known_method(method);
        let name = match (known, route) {
            (Some(method), Some(route)) => format!("{method} {route}"),
            (Some(method), None) => method.to_owned(),
            (None, _) => "HTTP".to_owned(),
        };
        // An explicit root: the task's own spans are no request's parent.
        let span = tracing::info_span!(
            target: TARGET,
            parent: None,
            "request",
            otel.name = name.as_str(),
            otel.kind = "server",
            http.request.method = known.unwrap_or("_OTHER"),
            http.route = Empty,
            http.response.status_code = Empty,
            otel.status_code = Empty,
        );
        if let Some(route) = route {
            span.record("http.route", route);
        }
        continue_trace(&span, header);
        RequestSpan { span }
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
        span.in_scope(|| span.grpc_status(13));
        span.http_status(500);
        span.error();
        let current = RequestSpan::current();
        let _guard = current.enter();
        #[cfg(feature = "otel")]
        assert!(span.span.is_none());
    }
}
