//! The task's metrics and access log, as a tower layer around every hosted
//! service: the request metrics every server records (core's
//! [`RequestMetrics`]: requests, errors, latency overall and per method,
//! `rpc_server_call_duration_seconds` with `system="grpc"`, and the access
//! log line while the log is on, and the call's OpenTelemetry span while
//! traces are exported), plus gRPC's own errors by status code and open
//! streams.
//!
//! A call's span starts as it arrives, in [`Metered`]'s `call`, is entered
//! around each poll of the handler and of the response body, and ends as
//! the call is recorded, once its status is known, in one place
//! ([`Stream::record`]): in the response head for an error the handler
//! returned ("trailers-only"), in the trailers otherwise; a call whose
//! response ends without a status (the client reset it, a timeout, a cut)
//! is recorded as `CANCELLED`.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use sparts_core::counters::{Counter, CounterRegistry};
use sparts_core::server::{
    AccessLog, Arrival, Called, GRPC_CODES, KnownMethod, RequestMetrics, RequestSpan,
    RequestSpanGuard,
};
use sparts_core::{Peer, TaskContext};
use tonic::codegen::http::{self, HeaderValue};
use tonic::transport::server::TcpConnectInfo;

use crate::connection::ConnectInfo;

/// gRPC's own counter names, as exported under the task's name
/// (`GrpcTask.open_streams`, `GrpcTask.errors.NOT_FOUND`).
const OPEN_STREAMS: &str = "open_streams";
const ERRORS_BY_CODE: &str = "errors.";

/// The `system` label of gRPC calls.
const SYSTEM: &str = "grpc";

/// The built-in services, counted but left out of the access log and of
/// the traces, as the HTTP task leaves its built-in endpoints out: health
/// probes would drown the user's calls.
const BUILTIN: [&str; 4] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "sparts.admin.v1.Admin",
];

const CANCELLED: usize = 1;
const UNKNOWN: usize = 2;
const UNIMPLEMENTED: usize = 12;

/// The name of gRPC status code `code` (`NOT_FOUND`): the `code` label of
/// its metrics and the `status` of its access log line.
fn code_name(code: usize) -> &'static str {
    GRPC_CODES.get(code).copied().unwrap_or(GRPC_CODES[UNKNOWN])
}

/// The code a `grpc-status` value gives: `UNKNOWN` for one gRPC does not
/// define.
fn code_of(value: &HeaderValue) -> usize {
    std::str::from_utf8(value.as_bytes())
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .filter(|code| *code < GRPC_CODES.len())
        .unwrap_or(UNKNOWN)
}

/// The metrics of one start of the task.
#[derive(Debug)]
pub(crate) struct Metrics {
    counters: CounterRegistry,
    /// `requests`, `errors` (any status but OK), `latency_ms`, per-method
    /// latency, the call histogram and the access log.
    requests: RequestMetrics,
    /// `errors.NOT_FOUND` and the like, registered at the first error with
    /// that code so the list shows only codes that happened.
    by_code: [OnceLock<Counter>; 17],
    /// The methods of the hosted services that answered something other
    /// than UNIMPLEMENTED, by path; other paths (unknown services and
    /// methods) are left out so a scanner cannot grow the map.
    methods: RwLock<HashMap<String, Arc<KnownMethod>>>,
    services: Vec<String>,
    open: Arc<AtomicUsize>,
}

/// What a call's path says about its method.
#[derive(Debug)]
enum Method {
    Known(Arc<KnownMethod>),
    /// A method of a hosted service not seen yet: known once it answers
    /// something other than UNIMPLEMENTED.
    Unseen {
        path: String,
        service_len: usize,
    },
    /// Not a method of a hosted service; its path kept for the access log
    /// only while the log is on.
    Unknown(Option<String>),
}

impl Metrics {
    /// Registers the metrics of the task whose context this is; `services`
    /// are the names of the hosted services.
    pub(crate) fn register(
        ctx: &TaskContext<impl Send + Sync + 'static>,
        services: Vec<String>,
    ) -> Self {
        // `/metrics` shows the calls as `rpc_server_call_duration_seconds`;
        // open streams have no family of their own and stay on it through
        // the counters.
        let counters = ctx.counters();
        let open = Arc::new(AtomicUsize::new(0));
        let gauge = Arc::clone(&open);
        // usize to f64 is exact for any number of streams a process holds.
        counters
            .describe(OPEN_STREAMS, "gRPC calls whose response has not ended.")
            .callback(OPEN_STREAMS, move || {
                Some(gauge.load(Ordering::Relaxed) as f64)
            });
        Self {
            counters: counters.fb303_only(),
            requests: RequestMetrics::register(ctx),
            by_code: Default::default(),
            methods: RwLock::new(HashMap::new()),
            services,
            open,
        }
    }

    /// The task's access log, written as calls are recorded.
    pub(crate) fn access_log(&self) -> &AccessLog {
        self.requests.access_log()
    }

    /// What the method at `path` (`/pkg.Service/Method`) is to the task;
    /// `logged` when the access log is on.
    fn method(&self, path: &str, logged: bool) -> Method {
        if let Some(found) = self
            .methods
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
        {
            return Method::Known(Arc::clone(found));
        }
        let unknown = || Method::Unknown(logged.then(|| path.to_owned()));
        let Some((service, method)) = path.strip_prefix('/').and_then(|p| p.split_once('/')) else {
            return unknown();
        };
        if method.is_empty() || method.contains('/') || !self.services.iter().any(|s| s == service)
        {
            return unknown();
        }
        Method::Unseen {
            path: path.to_owned(),
            service_len: service.len(),
        }
    }

    /// The metrics of the method at `path` (`/<service>/<method>`, the
    /// service's name `service_len` bytes long) once it answered:
    /// registered at its first call.
    fn learn(&self, path: String, service_len: usize) -> Arc<KnownMethod> {
        let (service, method) = (&path[1..=service_len], &path[service_len + 2..]);
        let mut known = self.requests.known_method(SYSTEM, service, method);
        if BUILTIN.contains(&service) {
            known = known.without_access_log();
        }
        let known = Arc::new(known);
        let mut methods = self.methods.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(methods.entry(path).or_insert(known))
    }

    /// Records the call of `arrival` from `peer` that ended with status
    /// `code` (an index of [`GRPC_CODES`]) after `latency`.
    fn record(
        &self,
        arrival: Arrival,
        method: Method,
        code: usize,
        latency: std::time::Duration,
        peer: Option<Peer>,
    ) {
        let name = code_name(code);
        if code != 0
            && let Some(counter) = self.by_code.get(code)
        {
            counter
                .get_or_init(|| self.counters.counter(&format!("{ERRORS_BY_CODE}{name}")))
                .increment();
        }
        let (known, path) = match method {
            Method::Known(known) => (Some(known), None),
            Method::Unseen { path, service_len } if code != UNIMPLEMENTED => {
                (Some(self.learn(path, service_len)), None)
            }
            Method::Unseen { path, .. } => (None, Some(path)),
            Method::Unknown(path) => (None, path),
        };
        let called = match (&known, &path) {
            (Some(known), _) => Called::Known(known),
            (None, path) => {
                let (service, method) = split(path.as_deref().unwrap_or_default());
                Called::Unknown {
                    system: SYSTEM,
                    service,
                    method,
                }
            }
        };
        self.requests.rpc_call(arrival, called, name, latency, peer);
    }
}

/// The layer: [`tonic::transport::Server::layer`] wraps the router in it.
#[derive(Debug, Clone)]
pub(crate) struct MetricsLayer(pub(crate) Arc<Metrics>);

impl<S> tower::Layer<S> for MetricsLayer {
    type Service = Metered<S>;

    fn layer(&self, inner: S) -> Metered<S> {
        Metered {
            inner,
            metrics: Arc::clone(&self.0),
        }
    }
}

/// A service whose requests are counted.
#[derive(Debug, Clone)]
pub(crate) struct Metered<S> {
    inner: S,
    metrics: Arc<Metrics>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Metered<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<MeteredBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        split_connect_info(&mut req);
        let arrival = self.metrics.requests.request();
        self.metrics.open.fetch_add(1, Ordering::Relaxed);
        // What only the access log line needs is looked up for a logged
        // call only.
        let logged = arrival.is_logged();
        let peer = logged.then(|| peer_of(&req));
        let method = self.metrics.method(req.uri().path(), logged);
        let arrival = arrival.with_span(span_of(&req, &method));
        let inner = arrival.span().in_scope(|| self.inner.call(req));
        ResponseFuture {
            inner,
            stream: Some(Stream {
                metrics: Arc::clone(&self.metrics),
                call: Some(Call { method, arrival }),
                start: Instant::now(),
                peer,
            }),
        }
    }
}

/// The span of a call to a method of a hosted service (a built-in one's
/// calls get none); an empty one while spans are off.
fn span_of<B>(req: &http::Request<B>, method: &Method) -> RequestSpan {
    if !RequestSpan::enabled() || matches!(method, Method::Unknown(_)) {
        return RequestSpan::none();
    }
    let (service, name) = split(req.uri().path());
    if BUILTIN.contains(&service) {
        return RequestSpan::none();
    }
    let headers = req.headers();
    RequestSpan::grpc(service, name, |header| {
        headers.get(header).and_then(|v| v.to_str().ok())
    })
}

/// Puts the parts of the connection's info where handlers look for them:
/// tonic's `TcpConnectInfo` (for `Request::remote_addr`) and, under mutual
/// TLS, the client's `ClientIdentity`.
fn split_connect_info<B>(req: &mut http::Request<B>) {
    let extensions = req.extensions_mut();
    if let Some(info) = extensions.remove::<ConnectInfo>() {
        extensions.insert(info.tcp);
        if let Some(identity) = info.identity {
            extensions.insert(identity);
        }
    }
}

/// The client of a call: its TCP address, or a unix socket's.
fn peer_of<B>(req: &http::Request<B>) -> Peer {
    match req
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
    {
        Some(addr) => Peer::Ip(addr.ip()),
        None => Peer::Unix,
    }
}

/// `/package.Service/Method` as its service and method; a path of another
/// shape is all service.
fn split(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, ""))
}

/// One call until its response ends: counted in `open_streams` while it
/// lives, recorded once its status is seen (or, without one, as it ends).
#[derive(Debug)]
struct Stream {
    metrics: Arc<Metrics>,
    /// Taken when the call is recorded.
    call: Option<Call>,
    start: Instant,
    /// Looked up for a logged call only.
    peer: Option<Peer>,
}

/// A call not recorded yet.
#[derive(Debug)]
struct Call {
    method: Method,
    /// With the call's span.
    arrival: Arrival,
}

impl Stream {
    /// Enters the call's span until it is recorded: the handler's code and
    /// its response body run in it.
    fn enter(&self) -> Option<RequestSpanGuard<'_>> {
        self.call.as_ref().map(|call| call.arrival.span().enter())
    }

    /// Records the call if `value` is its `grpc-status`.
    fn status(&mut self, value: Option<&HeaderValue>) {
        if let Some(value) = value {
            self.record(code_of(value));
        }
    }

    /// Records the call, unless it has been: the one place a gRPC call is
    /// recorded, in the metrics, the access log and its span, which ends.
    fn record(&mut self, code: usize) {
        if let Some(Call { method, arrival }) = self.call.take() {
            let latency = self.start.elapsed();
            self.metrics
                .record(arrival, method, code, latency, self.peer);
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        // Ended with no status: the client reset the call, or the server
        // cut it.
        self.record(CANCELLED);
        self.metrics.open.fetch_sub(1, Ordering::Relaxed);
    }
}

pin_project_lite::pin_project! {
    /// The response of a [`Metered`] service.
    #[derive(Debug)]
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        inner: F,
        stream: Option<Stream>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<MeteredBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = {
            let _entered = this.stream.as_ref().and_then(Stream::enter);
            ready!(this.inner.poll(cx))
        };
        let Some(mut stream) = this.stream.take() else {
            // Polled after completion: a contract breach by the caller.
            return Poll::Ready(result.map(|r| r.map(MeteredBody::untracked)));
        };
        let response = match result {
            Ok(response) => response,
            Err(e) => {
                stream.record(UNKNOWN);
                return Poll::Ready(Err(e));
            }
        };
        // An error the handler returned comes in the headers
        // ("trailers-only"); otherwise it comes in the trailers.
        stream.status(response.headers().get("grpc-status"));
        Poll::Ready(Ok(response.map(|body| MeteredBody {
            inner: body,
            stream: Some(stream),
        })))
    }
}

pin_project_lite::pin_project! {
    /// A response body that counts its `grpc-status` and holds its stream open.
    #[derive(Debug)]
    pub(crate) struct MeteredBody<B> {
        #[pin]
        inner: B,
        stream: Option<Stream>,
    }
}

impl<B> MeteredBody<B> {
    fn untracked(inner: B) -> Self {
        Self {
            inner,
            stream: None,
        }
    }
}

impl<B: Body> Body for MeteredBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = {
            let _entered = this.stream.as_ref().and_then(Stream::enter);
            this.inner.poll_frame(cx)
        };
        if let (Poll::Ready(Some(Ok(frame))), Some(stream)) = (&polled, this.stream.as_mut())
            && let Some(trailers) = frame.trailers_ref()
        {
            stream.status(trailers.get("grpc-status"));
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_split_into_service_and_method() {
        assert_eq!(
            split("/helloworld.Greeter/SayHello"),
            ("helloworld.Greeter", "SayHello")
        );
        assert_eq!(split("/nonsense"), ("nonsense", ""));
        assert_eq!(split("/a/b/c"), ("a", "b/c"));
    }

    #[test]
    fn codes_are_named_as_grpc_names_them() {
        assert_eq!(code_name(0), "OK");
        assert_eq!(code_name(5), "NOT_FOUND");
        assert_eq!(code_name(16), "UNAUTHENTICATED");
        assert_eq!(code_name(17), "UNKNOWN", "a number gRPC does not define");
        assert_eq!(code_of(&HeaderValue::from_static("12")), UNIMPLEMENTED);
        assert_eq!(code_of(&HeaderValue::from_static("99")), UNKNOWN);
        assert_eq!(code_of(&HeaderValue::from_static("x")), UNKNOWN);
    }
}
