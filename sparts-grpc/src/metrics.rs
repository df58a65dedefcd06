//! The task's counters, as a tower layer around every hosted service: the
//! request counters every server exports (requests, errors, latency overall
//! and per method), plus gRPC's own errors by status code and open streams.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use sparts_core::counters::{Counter, CounterRegistry, Samples};
use sparts_core::server::{RequestMetrics, RequestSpan};
use tonic::codegen::http::{self, HeaderValue};

/// gRPC's own counter names, as exported under the task's name
/// (`GrpcTask.open_streams`, `GrpcTask.errors.NOT_FOUND`).
const OPEN_STREAMS: &str = "open_streams";
const ERRORS_BY_CODE: &str = "errors.";

/// The gRPC status codes' names, by number.
const CODES: [&str; 17] = [
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

/// The counters of one start of the task.
#[derive(Debug)]
pub(crate) struct Metrics {
    registry: CounterRegistry,
    /// `requests`, `errors` (any status but OK), `latency_ms`.
    requests: RequestMetrics,
    /// `errors.NOT_FOUND` and the like, registered at the first error with
    /// that code so the list shows only codes that happened.
    by_code: [OnceLock<Counter>; 17],
    /// Per-method latency of the hosted services; other paths (unknown
    /// services) are left out so a scanner cannot grow the map.
    methods: RwLock<HashMap<String, Samples>>,
    services: Vec<String>,
    open: Arc<AtomicUsize>,
}

impl Metrics {
    /// Registers the counters; `services` are the names of the hosted services.
    pub(crate) fn register(registry: &CounterRegistry, services: Vec<String>) -> Self {
        let open = Arc::new(AtomicUsize::new(0));
        let gauge = Arc::clone(&open);
        // usize to f64 is exact for any number of streams a process holds.
        registry.callback(OPEN_STREAMS, move || {
            Some(gauge.load(Ordering::Relaxed) as f64)
        });
        Self {
            registry: registry.clone(),
            requests: RequestMetrics::register(registry),
            by_code: Default::default(),
            methods: RwLock::new(HashMap::new()),
            services,
            open,
        }
    }

    /// The latency samples of the method at `path` (`/pkg.Service/Method`),
    /// if its service is hosted.
    fn method(&self, path: &str) -> Option<Samples> {
        if let Some(found) = self
            .methods
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(path)
        {
            return Some(found.clone());
        }
        let (service, method) = path.strip_prefix('/')?.split_once('/')?;
        if method.is_empty() || method.contains('/') || !self.services.iter().any(|s| s == service)
        {
            return None;
        }
        let samples = self.requests.method_latency(&format!("{service}.{method}"));
        self.methods
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(path.to_owned(), samples.clone());
        Some(samples)
    }

    /// Counts a `grpc-status` value other than OK.
    fn status(&self, value: &HeaderValue) {
        let code = std::str::from_utf8(value.as_bytes())
            .ok()
            .and_then(|s| s.parse::<usize>().ok())
            .unwrap_or(2);
        if code == 0 {
            return;
        }
        self.requests.error();
        let name = CODES.get(code).copied().unwrap_or("UNKNOWN");
        let index = if code < CODES.len() { code } else { 2 };
        self.by_code[index]
            .get_or_init(|| self.registry.counter(&format!("{ERRORS_BY_CODE}{name}")))
            .increment();
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

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        self.metrics.requests.request();
        self.metrics.open.fetch_add(1, Ordering::Relaxed);
        let method = self.metrics.method(req.uri().path());
        let span = crate::trace::span(&req, method.is_some());
        let inner = span.in_scope(|| self.inner.call(req));
        ResponseFuture {
            inner,
            stream: Some(Stream {
                metrics: Arc::clone(&self.metrics),
                status_seen: false,
                span,
            }),
            method,
            start: Instant::now(),
        }
    }
}

/// One request until its response ends: counted in `open_streams` while it lives.
#[derive(Debug)]
struct Stream {
    metrics: Arc<Metrics>,
    status_seen: bool,
    /// The call's span, ended with the stream.
    span: RequestSpan,
}

impl Stream {
    fn status(&mut self, value: Option<&HeaderValue>) {
        if let Some(value) = value {
            if !self.status_seen {
                self.status_seen = true;
                self.metrics.status(value);
                crate::trace::status(&self.span, value);
            }
        }
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
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
        method: Option<Samples>,
        start: Instant,
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
            let _entered = this.stream.as_ref().map(|s| s.span.enter());
            ready!(this.inner.poll(cx))
        };
        let latency = this.start.elapsed();
        let Some(mut stream) = this.stream.take() else {
            // Polled after completion: a contract breach by the caller.
            return Poll::Ready(result.map(|r| r.map(MeteredBody::untracked)));
        };
        stream.metrics.requests.latency(latency);
        if let Some(method) = this.method {
            method.add(latency.as_secs_f64() * 1000.0);
        }
        Poll::Ready(result.map(|response| {
            // An error the handler returned comes in the headers
            // ("trailers-only"); otherwise it comes in the trailers.
            stream.status(response.headers().get("grpc-status"));
            response.map(|body| MeteredBody {
                inner: body,
                stream: Some(stream),
            })
        }))
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
            let _entered = this.stream.as_ref().map(|s| s.span.enter());
            this.inner.poll_frame(cx)
        };
        if let (Poll::Ready(Some(Ok(frame))), Some(stream)) = (&polled, this.stream.as_mut()) {
            if let Some(trailers) = frame.trailers_ref() {
                stream.status(trailers.get("grpc-status"));
            }
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
