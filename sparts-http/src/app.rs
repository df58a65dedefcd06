//! What serves each request: the built-in endpoints or the user's router,
//! counted, with the peer's address in the request's extensions, and
//! logged when the access log is on.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::Response;
use axum::routing::future::RouteFuture;
use hyper::body::Incoming;
use sparts_core::Peer;
use sparts_core::server::AccessLog;
use tower::Service;

use crate::access;
use crate::endpoints::Endpoints;
use crate::metrics::Metrics;

/// The routers of one run of the task and its counters.
#[derive(Debug)]
pub(crate) struct App {
    pub(crate) user: Router,
    /// The user's router for the access log: its responses carry the
    /// method and the matched route.
    pub(crate) logged: Router,
    pub(crate) builtin: Router,
    pub(crate) endpoints: Endpoints,
    /// Whether the user's handlers get the peer's address.
    pub(crate) connect_info: bool,
    pub(crate) metrics: Metrics,
    /// The built-in endpoints are left out of it: probes and scrapes
    /// would drown the user's requests.
    pub(crate) access: AccessLog,
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
}

impl ConnectionService {
    pub(crate) fn new(app: Arc<App>, peer: Peer, remote: Option<SocketAddr>) -> Self {
        Self {
            conn: Arc::new(Connection { app, peer, remote }),
        }
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
        app.metrics.request();
        let mut req = req.map(Body::new);
        // Extensions cost allocations per request: added only where asked
        // for (the admin endpoints always need the peer).
        let builtin = app.endpoints.serves(req.uri().path());
        if builtin || app.connect_info {
            let extensions = req.extensions_mut();
            extensions.insert(ConnectInfo(conn.peer));
            if let Some(remote) = conn.remote {
                extensions.insert(ConnectInfo(remote));
            }
        }
        // Cloning a router is one reference count; `call` needs `&mut`.
        let logged = !builtin && app.access.is_on();
        let mut router = if builtin {
            app.builtin.clone()
        } else if logged {
            app.logged.clone()
        } else {
            app.user.clone()
        };
        Counted {
            inner: router.call(req),
            start,
            conn: Arc::clone(&self.conn),
            logged,
        }
    }
}

pin_project_lite::pin_project! {
    /// A response on its way, counted when it is ready.
    pub(crate) struct Counted {
        #[pin]
        inner: RouteFuture<Infallible>,
        start: Instant,
        conn: Arc<Connection>,
        logged: bool,
    }
}

impl Future for Counted {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        this.conn
            .app
            .metrics
            .response(response.status(), this.start.elapsed());
        if *this.logged {
            let conn = &this.conn;
            let latency = this.start.elapsed();
            access::log(&conn.app.access, &mut response, latency, conn.peer);
        }
        Poll::Ready(Ok(response))
    }
}
