//! gRPC and HTTP on one port: requests whose content type is
//! `application/grpc…` go to the gRPC services, the others to an axum router.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::body::Body;
use tonic::codegen::http::{Request, Response, header};
use tower::Service;

use crate::access::Logged;
use crate::metrics::Metered;
use crate::router::Router;

/// The router of a one-port task.
#[derive(Debug, Clone)]
pub(crate) struct Dispatch {
    pub(crate) grpc: Metered<Logged<Router>>,
    pub(crate) http: axum::Router,
}

fn is_grpc<B>(req: &Request<B>) -> bool {
    req.headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"))
}

impl Service<Request<Body>> for Dispatch {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Both routers are always ready (axum's says so, ours readies each
        // call's service).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        if is_grpc(&req) {
            let call = self.grpc.call(req);
            Box::pin(async move { Ok(call.await?.map(Body::new)) })
        } else {
            let call = self.http.call(req.map(axum::body::Body::new));
            Box::pin(async move { Ok(call.await?.map(Body::new)) })
        }
    }
}
