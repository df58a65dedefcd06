//! The access log's part in the request path. While the log is on, the
//! user's requests go through a copy of the user's router wrapped in
//! [`KeepRoute`], which hands the request's method and matched route (a
//! request's, not a response's, extension in axum) to the response, where
//! the connection writes the line. While it is off, nothing of this runs.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use sparts_core::Peer;
use sparts_core::server::AccessLog;

/// Wraps every route and the fallback of a router in [`KeepRoute`].
#[derive(Debug, Clone)]
pub(crate) struct KeepRouteLayer(pub(crate) AccessLog);

impl<S> tower::Layer<S> for KeepRouteLayer {
    type Service = KeepRoute<S>;

    fn layer(&self, inner: S) -> KeepRoute<S> {
        KeepRoute {
            inner,
            log: self.0.clone(),
        }
    }
}

/// A route whose responses carry what the access log line needs.
#[derive(Debug, Clone)]
pub(crate) struct KeepRoute<S> {
    inner: S,
    log: AccessLog,
}

/// What a response carries to the access log.
#[derive(Debug, Clone)]
struct Served {
    method: Method,
    /// The route template; none for the fallback.
    route: Option<MatchedPath>,
}

impl<S> tower::Service<Request> for KeepRoute<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Kept<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let served = Served {
            method: req.method().clone(),
            route: req.extensions().get::<MatchedPath>().cloned(),
        };
        // Routes of another protocol (Thrift over HTTP) log their calls
        // through it.
        req.extensions_mut().insert(self.log.clone());
        Kept {
            inner: self.inner.call(req),
            served: Some(served),
        }
    }
}

pin_project_lite::pin_project! {
    /// The response of a [`KeepRoute`].
    pub(crate) struct Kept<F> {
        #[pin]
        inner: F,
        served: Option<Served>,
    }
}

impl<F> Future for Kept<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        if let Some(served) = this.served.take() {
            response.extensions_mut().insert(served);
        }
        Poll::Ready(Ok(response))
    }
}

/// Writes the line of a response from the logged router.
pub(crate) fn log(log: &AccessLog, response: &mut Response, latency: Duration, peer: Peer) {
    let served = response.extensions_mut().remove::<Served>();
    let (method, route) = match &served {
        Some(served) => (
            served.method.as_str(),
            served.route.as_ref().map(MatchedPath::as_str),
        ),
        // A response made around the router (none today): no method known.
        None => ("-", None),
    };
    log.http(method, route, response.status().as_u16(), latency, peer);
}
