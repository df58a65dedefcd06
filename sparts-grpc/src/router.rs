//! The task's gRPC services by name: a request goes to the service its path
//! names (`/package.Service/Method`), and a service the task does not host
//! is answered UNIMPLEMENTED, as tonic's own router answers. No HTTP router
//! underneath, so gRPC alone compiles without axum.

use std::collections::HashMap;
use std::convert::Infallible;
use std::fmt;
use std::future::Ready;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_util::future::Either;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{Bytes, StdError};
use tonic::server::NamedService;
use tower::util::{BoxCloneSyncService, Oneshot};
use tower::{Service, ServiceExt as _};

/// One hosted service, its response body made tonic's.
type Hosted = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The hosted services by name; cheap to clone (tonic clones it for every
/// connection and request).
#[derive(Clone, Default)]
pub(crate) struct Router {
    services: Arc<HashMap<String, Hosted>>,
}

impl fmt::Debug for Router {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.services.keys()).finish()
    }
}

impl Router {
    /// Adds `service` under its name ([`NamedService::NAME`]); a service of
    /// that name already there stays (the task refuses to start with two).
    pub(crate) fn add<S, B>(&mut self, service: S)
    where
        S: Service<Request<Body>, Response = Response<B>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<StdError>,
    {
        Arc::make_mut(&mut self.services)
            .entry(S::NAME.to_owned())
            .or_insert_with(|| BoxCloneSyncService::new(service.map_response(tonic_body)));
    }
}

fn tonic_body<B>(response: Response<B>) -> Response<Body>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<StdError>,
{
    response.map(Body::new)
}

/// The service named by a path `/package.Service/Method`.
fn service_name(path: &str) -> Option<&str> {
    let (service, _method) = path.strip_prefix('/')?.split_once('/')?;
    Some(service)
}

/// tonic's answer to a call of a service it does not host: UNIMPLEMENTED
/// with no message, in the headers ("trailers-only").
fn unimplemented() -> Response<Body> {
    let (parts, ()) = tonic::Status::unimplemented("")
        .into_http::<()>()
        .into_parts();
    Response::from_parts(parts, Body::empty())
}

impl Service<Request<Body>> for Router {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Either<Oneshot<Hosted, Request<Body>>, Ready<Result<Response<Body>, Infallible>>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // Each call readies the service it goes to (`oneshot`).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let hosted = service_name(req.uri().path()).and_then(|name| self.services.get(name));
        match hosted {
            Some(service) => Either::Left(service.clone().oneshot(req)),
            None => Either::Right(std::future::ready(Ok(unimplemented()))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_is_the_first_segment_of_the_path() {
        assert_eq!(
            service_name("/helloworld.Greeter/SayHello"),
            Some("helloworld.Greeter")
        );
        assert_eq!(
            service_name("/grpc.health.v1.Health/"),
            Some("grpc.health.v1.Health")
        );
        assert_eq!(service_name("/no-method"), None);
        assert_eq!(service_name("helloworld.Greeter/SayHello"), None);
        assert_eq!(service_name(""), None);
    }

    #[tokio::test]
    async fn an_unknown_service_is_unimplemented_in_the_headers() -> Result<(), Infallible> {
        let mut router = Router::default();
        let mut req = Request::new(Body::empty());
        *req.uri_mut() = tonic::codegen::http::Uri::from_static("/no.Such/Method");
        let response = router.call(req).await?;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers().get("grpc-status").map(|v| v.as_bytes()),
            Some(b"12".as_slice())
        );
        assert_eq!(
            response.headers().get("content-type").map(|v| v.as_bytes()),
            Some(b"application/grpc".as_slice())
        );
        Ok(())
    }
}
