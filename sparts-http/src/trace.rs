//! A server span around each request to the user's routes, for
//! OpenTelemetry (the `otel` feature): named by the matched route template
//! (`GET /kv/{key}`), continuing the caller's `traceparent`. Built-in
//! endpoints (health, metrics, admin) get none.

use axum::Router;

/// The user's router, every route and the fallback in a request span
/// while OpenTelemetry exports traces; unchanged (and free) otherwise.
pub(crate) fn traced(router: Router) -> Router {
    #[cfg(feature = "otel")]
    if sparts_core::server::RequestSpan::enabled() {
        // A layer on the router wraps each route after matching, where the
        // matched template is known.
        return router.layer(imp::TraceLayer);
    }
    router
}

#[cfg(feature = "otel")]
mod imp {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Poll, ready};

    use axum::extract::{MatchedPath, Request};
    use axum::response::Response;
    use sparts_core::server::RequestSpan;

    #[derive(Debug, Clone, Copy)]
    pub(super) struct TraceLayer;

    impl<S> tower::Layer<S> for TraceLayer {
        type Service = Traced<S>;

        fn layer(&self, inner: S) -> Traced<S> {
            Traced { inner }
        }
    }

    /// A route whose requests run in their span.
    #[derive(Debug, Clone)]
    pub(super) struct Traced<S> {
        inner: S,
    }

    impl<S> tower::Service<Request> for Traced<S>
    where
        S: tower::Service<Request, Response = Response>,
    {
        type Response = Response;
        type Error = S::Error;
        type Future = TracedFuture<S::Future>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, req: Request) -> Self::Future {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(MatchedPath::as_str);
            let headers = req.headers();
            let span = RequestSpan::http(req.method().as_str(), route, |name| {
                headers.get(name).and_then(|v| v.to_str().ok())
            });
            let inner = span.in_scope(|| self.inner.call(req));
            TracedFuture { inner, span }
        }
    }

    pin_project_lite::pin_project! {
        /// A response on its way, in its request's span; the span ends
        /// with the response's head.
        pub(super) struct TracedFuture<F> {
            #[pin]
            inner: F,
            span: RequestSpan,
        }
    }

    impl<F, E> Future for TracedFuture<F>
    where
        F: Future<Output = Result<Response, E>>,
    {
        type Output = Result<Response, E>;

        fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let this = self.project();
            let _entered = this.span.enter();
            let result = ready!(this.inner.poll(cx));
            if let Ok(response) = &result {
                this.span.http_status(response.status().as_u16());
            }
            Poll::Ready(result)
        }
    }
}
