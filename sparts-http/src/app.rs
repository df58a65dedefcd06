//! What serves each request: the built-in endpoints or the user's router,
//! with the peer's address in the request's extensions. The user's
//! requests are recorded (counted, logged while the access log is on, and
//! traced while OpenTelemetry is) in one place: their span starts as they
//! arrive, in [`ConnectionService`]'s `call`, runs around each poll of the
//! router, and ends with the rest of the record, in [`Counted`]'s poll,
//! named after the route the router matched meanwhile. The built-in
//! endpoints' requests (scrapes, probes, admin calls) are not user traffic.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, MatchedPath};
use axum::http::{Method, StatusCode, Uri};
use axum::response::Response;
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use sparts_core::Peer;
use sparts_core::server::{Activity, Arrival, RequestMetrics, RequestSpan};
use sparts_core::tls::ClientIdentity;
use tower::Service;

use crate::endpoints::Endpoints;
use crate::route::{learn_route, noting, static_route};

/// The routers of one run of the task and its counters.
#[derive(Debug)]
pub(crate) struct App {
    /// The user's router, for the paths whose route is known.
    pub(crate) user: Router,
    /// The same with [`NoteRoute`](crate::route::NoteRoute) on every route,
    /// for the others.
    pub(crate) noting: Router,
    /// Names `user` among the routes each thread knows.
    pub(crate) router_id: u64,
    pub(crate) builtin: Router,
    pub(crate) endpoints: Endpoints,
    /// Whether the user's handlers get the peer's address.
    pub(crate) connect_info: bool,
    /// The user's requests' metrics and access log.
    pub(crate) metrics: RequestMetrics,
    /// The largest request body (`--<prefix>-max-body-bytes`).
    pub(crate) max_body: Option<usize>,
}

/// Answers 413 to a request whose declared body is over the limit, before
/// any handler sees it; one read past the limit fails the body instead,
/// which axum's extractors answer 413 too.
fn too_large() -> Router {
    Router::new().fallback(|| async {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "the request body is over this server's max-body-bytes limit\n",
        )
    })
}

/// The hyper service of one connection.
#[derive(Debug, Clone)]
pub(crate) struct ConnectionService {
    // Per connection, so that the reference count each response future
    // takes is not one cache line that every thread fights over.
    conn: Arc<Connection>,
}

#[derive(Debug)]
struct Connection {
    app: Arc<App>,
    peer: Peer,
    /// The TCP peer (none on a unix socket).
    remote: Option<SocketAddr>,
    /// The verified client certificate, under mutual TLS.
    identity: Option<ClientIdentity>,
    /// Its requests in flight, which keep it from being idle.
    activity: Arc<Activity>,
}

impl ConnectionService {
    pub(crate) fn new(
        app: Arc<App>,
        peer: Peer,
        remote: Option<SocketAddr>,
        identity: Option<ClientIdentity>,
        activity: Arc<Activity>,
    ) -> Self {
        Self {
            conn: Arc::new(Connection {
                app,
                peer,
                remote,
                identity,
                activity,
            }),
        }
    }
}

/// A request of a connection, in flight until dropped.
struct InFlight(Arc<Connection>);

impl InFlight {
    fn begin(conn: &Arc<Connection>) -> Self {
        conn.activity.begin();
        Self(Arc::clone(conn))
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.activity.end();
    }
}

impl std::ops::Deref for InFlight {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        &self.0
    }
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnectionService {
    type Response = Response;
    type Error = Infallible;
    type Future = Counted;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let start = Instant::now();
        let conn = &*self.conn;
        let app = &*conn.app;
        let in_flight = InFlight::begin(&self.conn);
        // hyper knows the length a request declares: a body within it
        // needs no limit of its own, one over it is refused, and only a
        // body of unknown length (chunked) is counted as it arrives.
        let declared = http_body::Body::size_hint(req.body());
        let (over, unbounded) = match app.max_body {
            Some(max) => (
                declared.lower() > max as u64,
                declared.upper().is_none_or(|upper| upper > max as u64),
            ),
            None => (false, false),
        };
        let mut req = match app.max_body {
            Some(max) if unbounded && !over => {
                req.map(|body| Body::new(http_body_util::Limited::new(body, max)))
            }
            _ => req.map(Body::new),
        };
        // Extensions cost allocations per request: added only where asked
        // for (the admin endpoints always need the peer).
        let builtin = app.endpoints.serves(req.uri().path());
        if let Some(identity) = &conn.identity {
            req.extensions_mut().insert(identity.clone());
        }
        if builtin || app.connect_info {
            let extensions = req.extensions_mut();
            extensions.insert(ConnectInfo(conn.peer));
            if let Some(remote) = conn.remote {
                extensions.insert(ConnectInfo(remote));
            }
        }
        if builtin {
            // Cloning a router is one reference count; `call` needs `&mut`.
            let mut router = if over {
                too_large()
            } else {
                app.builtin.clone()
            };
            return Counted {
                inner: router.call(req),
                start,
                conn: in_flight,
                user: None,
            };
        }
        let method = req.method().clone();
        let headers = req.headers();
        let span = RequestSpan::http(method.as_str(), |name| {
            headers.get(name).and_then(|v| v.to_str().ok())
        });
        let arrival = app.metrics.request().with_span(span);
        let (inner, route, learning) = match static_route(app.router_id, req.uri().path()) {
            _ if over => (too_large().call(req), None, None),
            Some(route) => {
                let inner = arrival.span().in_scope(|| app.user.clone().call(req));
                (inner, Some(route), None)
            }
            None => {
                let uri = req.uri().clone();
                let (inner, route) = arrival
                    .span()
                    .in_scope(|| noting(|| app.noting.clone().call(req)));
                (inner, route, Some(uri))
            }
        };
        Counted {
            inner,
            start,
            conn: in_flight,
            user: Some(UserRequest {
                arrival,
                method,
                route,
                learning,
            }),
        }
    }
}

/// What the metrics of a user's request need besides its answer.
struct UserRequest {
    arrival: Arrival,
    method: Method,
    /// Noted by the router when it calls the route, or known beforehand.
    route: Option<MatchedPath>,
    /// The request's URI, while its route is to be noted (and learnt, if
    /// the path is the route's template).
    learning: Option<Uri>,
}

pin_project_lite::pin_project! {
    /// A response on its way, counted when it is ready if the user's
    /// router serves it.
    pub(crate) struct Counted {
        #[pin]
        inner: RouteFuture<Infallible>,
        start: Instant,
        conn: InFlight,
        user: Option<UserRequest>,
    }
}

impl Future for Counted {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(user) = this.user.as_mut() else {
            return this.inner.poll(cx);
        };
        let polled = {
            let _entered = user.arrival.span().enter();
            if let Some(uri) = &user.learning {
                // The route is called at the router's first poll (or later,
                // if a layer of the user's is not ready): note it then.
                let (polled, route) = noting(|| this.inner.poll(cx));
                if let Some(route) = route {
                    learn_route(this.conn.app.router_id, uri.path(), &route);
                    user.route = Some(route);
                    user.learning = None;
                }
                polled
            } else {
                this.inner.poll(cx)
            }
        };
        let Ok(response) = ready!(polled);
        if let Some(user) = this.user.take() {
            let conn = &*this.conn;
            conn.app.metrics.http_response(
                user.arrival,
                user.method.as_str(),
                user.route.as_ref().map(MatchedPath::as_str),
                response.status().as_u16(),
                this.start.elapsed(),
                conn.peer,
            );
        }
        Poll::Ready(Ok(response))
    }
}
