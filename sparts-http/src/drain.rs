//! Draining a connection without racing its client.
//!
//! hyper's `graceful_shutdown` closes an HTTP/1.1 connection at once when
//! it is between requests. A busy keep-alive client (a load balancer, a
//! benchmark) is almost never idle for long: its next request is often
//! already on the wire, or in the socket's buffer unread, and closing then
//! resets the connection under it, a failed request. So an HTTP/1.1
//! connection drains differently: its next response carries
//! `Connection: close` (hyper then closes it once that response is
//! written), and only a connection still open [`IDLE_GRACE`] into the
//! drain (one that sent nothing meanwhile, or whose request is still in
//! flight) is shut down as hyper does. HTTP/2 has no such race (the
//! client learns from GOAWAY which requests were taken), so an HTTP/2
//! connection gets GOAWAY at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;

use axum::http::{HeaderValue, Request, Response, Version, header};

/// How long a draining HTTP/1.1 connection may stay idle before it is
/// closed: longer than a busy client takes between a response and its
/// next request, short enough not to hold a restart or a shutdown up.
pub(crate) const IDLE_GRACE: Duration = Duration::from_millis(500);

/// What a connection's requests tell its drain, and the drain tells them.
#[derive(Debug, Default)]
pub(crate) struct DrainState {
    draining: AtomicBool,
    http2: AtomicBool,
}

impl DrainState {
    /// The drain began: responses from now on close their HTTP/1.1
    /// connection.
    pub(crate) fn begin(&self) {
        self.draining.store(true, Ordering::Relaxed);
    }

    /// Whether the connection speaks HTTP/2 (as far as its requests told).
    pub(crate) fn is_http2(&self) -> bool {
        self.http2.load(Ordering::Relaxed)
    }
}

/// A connection's service whose responses close an HTTP/1.x connection
/// once it drains.
#[derive(Debug, Clone)]
pub(crate) struct CloseWhenDraining<S> {
    inner: S,
    state: Arc<DrainState>,
}

impl<S> CloseWhenDraining<S> {
    pub(crate) fn new(inner: S, state: Arc<DrainState>) -> Self {
        Self { inner, state }
    }
}

impl<S, Req, Res> hyper::service::Service<Request<Req>> for CloseWhenDraining<S>
where
    S: hyper::service::Service<Request<Req>, Response = Response<Res>>,
{
    type Response = Response<Res>;
    type Error = S::Error;
    type Future = Closing<S::Future>;

    fn call(&self, req: Request<Req>) -> Self::Future {
        let http1 = req.version() < Version::HTTP_2;
        if !http1 {
            self.state.http2.store(true, Ordering::Relaxed);
        }
        Closing {
            inner: self.inner.call(req),
            state: http1.then(|| Arc::clone(&self.state)),
        }
    }
}

pin_project_lite::pin_project! {
    /// A response on its way: `Connection: close` is added if the
    /// connection drains by the time it is ready.
    pub(crate) struct Closing<F> {
        #[pin]
        inner: F,
        // Only for an HTTP/1.x request.
        state: Option<Arc<DrainState>>,
    }
}

impl<F, Res, E> Future for Closing<F>
where
    F: Future<Output = Result<Response<Res>, E>>,
{
    type Output = Result<Response<Res>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if this
            .state
            .as_ref()
            .is_some_and(|s| s.draining.load(Ordering::Relaxed))
        {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use hyper::service::Service as _;

    use super::*;

    #[derive(Clone)]
    struct Ok200;

    impl hyper::service::Service<Request<()>> for Ok200 {
        type Response = Response<()>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Response<()>, Infallible>>;

        fn call(&self, _: Request<()>) -> Self::Future {
            std::future::ready(Ok(Response::new(())))
        }
    }

    fn request(version: Version) -> Request<()> {
        let mut req = Request::new(());
        *req.version_mut() = version;
        req
    }

    #[tokio::test]
    async fn responses_close_an_http1_connection_once_it_drains() -> Result<(), Infallible> {
        let state = Arc::new(DrainState::default());
        let service = CloseWhenDraining::new(Ok200, Arc::clone(&state));
        let before = service.call(request(Version::HTTP_11)).await?;
        assert!(before.headers().get(header::CONNECTION).is_none());
        let in_flight = service.call(request(Version::HTTP_11));
        state.begin();
        assert_eq!(in_flight.await?.headers()[header::CONNECTION], "close");
        assert!(!state.is_http2());
        let h2 = service.call(request(Version::HTTP_2)).await?;
        assert!(
            h2.headers().get(header::CONNECTION).is_none(),
            "not in HTTP/2"
        );
        assert!(state.is_http2());
        Ok(())
    }
}
