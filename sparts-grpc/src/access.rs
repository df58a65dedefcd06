//! The access log as a tower layer around every hosted service: one line
//! per call, written when its status is known (in the response headers
//! for an error the handler returned, else in the trailers at the end of
//! the response), or `CANCELLED` when the response is dropped before it
//! ends (the client went away, a timeout, a cut). While the log is off a
//! call costs one atomic load more.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use http_body::{Body, Frame, SizeHint};
use sparts_core::Peer;
use sparts_core::server::AccessLog;
use tonic::codegen::http::{self, HeaderValue};
use tonic::transport::server::TcpConnectInfo;

use crate::metrics::code_name;

/// The built-in services, left out of the log as the HTTP task leaves out
/// its built-in endpoints: health probes would drown the user's calls.
const BUILTIN: [&str; 4] = [
    "grpc.health.v1.Health",
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
    "sparts.admin.v1.Admin",
];

/// The layer: [`tonic::transport::Server::layer`] wraps the router in it.
#[derive(Debug, Clone)]
pub(crate) struct AccessLayer(pub(crate) AccessLog);

impl<S> tower::Layer<S> for AccessLayer {
    type Service = Logged<S>;

    fn layer(&self, inner: S) -> Logged<S> {
        Logged {
            inner,
            log: self.0.clone(),
        }
    }
}

/// A service whose calls are logged while the access log is on.
#[derive(Debug, Clone)]
pub(crate) struct Logged<S> {
    inner: S,
    log: AccessLog,
}

impl<S, B, R> tower::Service<http::Request<B>> for Logged<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>>,
{
    type Response = http::Response<LoggedBody<R>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = if self.log.is_on() {
            Call::of(&self.log, &req).map(Box::new)
        } else {
            None
        };
        ResponseFuture {
            inner: self.inner.call(req),
            call,
        }
    }
}

/// One logged call until its line is written.
#[derive(Debug)]
struct Call {
    log: AccessLog,
    /// `/package.Service/Method`.
    path: String,
    peer: Peer,
    start: Instant,
    written: bool,
}

impl Call {
    /// The call of `req`, unless it is to a built-in service.
    fn of<B>(log: &AccessLog, req: &http::Request<B>) -> Option<Self> {
        let path = req.uri().path();
        let (service, _) = split(path);
        if BUILTIN.contains(&service) {
            return None;
        }
        let peer = match req
            .extensions()
            .get::<TcpConnectInfo>()
            .and_then(|info| info.remote_addr)
        {
            Some(addr) => Peer::Ip(addr.ip()),
            None => Peer::Unix,
        };
        Some(Self {
            log: log.clone(),
            path: path.to_owned(),
            peer,
            start: Instant::now(),
            written: false,
        })
    }

    /// Writes the line once, with the status as gRPC names it.
    fn status(&mut self, status: &str) {
        if std::mem::replace(&mut self.written, true) {
            return;
        }
        let (service, method) = split(&self.path);
        let latency = self.start.elapsed();
        self.log
            .rpc("grpc", service, method, status, latency, self.peer);
    }

    /// Writes the line if `value` is a `grpc-status` header.
    fn status_header(&mut self, value: Option<&HeaderValue>) {
        if let Some(value) = value {
            let code = std::str::from_utf8(value.as_bytes())
                .ok()
                .and_then(|s| s.parse::<usize>().ok())
                .unwrap_or(2);
            self.status(code_name(code));
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        self.status("CANCELLED");
    }
}

/// `/package.Service/Method` as its service and method; a path of another
/// shape is all service.
fn split(path: &str) -> (&str, &str) {
    let path = path.strip_prefix('/').unwrap_or(path);
    path.split_once('/').unwrap_or((path, ""))
}

pin_project_lite::pin_project! {
    /// The response of a [`Logged`] service.
    #[derive(Debug)]
    pub(crate) struct ResponseFuture<F> {
        #[pin]
        inner: F,
        // Boxed: the future stays one word larger while the log is off.
        call: Option<Box<Call>>,
    }
}

impl<F, R, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<http::Response<R>, E>>,
{
    type Output = Result<http::Response<LoggedBody<R>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let result = ready!(this.inner.poll(cx));
        let mut call = this.call.take();
        Poll::Ready(match result {
            Ok(response) => {
                if let Some(call) = &mut call {
                    // An error the handler returned comes in the headers
                    // ("trailers-only"); otherwise in the trailers.
                    call.status_header(response.headers().get("grpc-status"));
                }
                Ok(response.map(|inner| LoggedBody { inner, call }))
            }
            Err(e) => {
                if let Some(call) = &mut call {
                    call.status("UNKNOWN");
                }
                Err(e)
            }
        })
    }
}

pin_project_lite::pin_project! {
    /// A response body that writes its call's line at its `grpc-status`.
    #[derive(Debug)]
    pub(crate) struct LoggedBody<B> {
        #[pin]
        inner: B,
        call: Option<Box<Call>>,
    }
}

impl<B: Body> Body for LoggedBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let polled = this.inner.poll_frame(cx);
        if let (Poll::Ready(Some(Ok(frame))), Some(call)) = (&polled, this.call.as_mut()) {
            if let Some(trailers) = frame.trailers_ref() {
                call.status_header(trailers.get("grpc-status"));
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
}
