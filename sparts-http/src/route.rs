//! The route template a user request matched, for its metrics' `route`
//! label, its access log line and its span's name (`GET /kv/{key}`). axum
//! knows it ([`MatchedPath`]) only inside the user's router, while the
//! task records the answer outside it: a layer on the router
//! notes the template in a thread-local slot as the router calls the
//! route, and the task's response future reads it back after polling the
//! router, in the same poll on the same thread. A shared reference count,
//! no allocation per request.
//!
//! That layer is a second boxed service around each route, which axum
//! clones and boxes again at every request: about as much work as the rest
//! of the task's own per request. A path that is its route's template
//! (`/`, `/healthz`, `/api/items`: every route without parameters) always
//! matches that route, since axum routes by the path alone, so each thread
//! keeps the last few such paths it saw and serves them
//! through the router without the layer. Other paths, and any path not
//! seen lately, go through the layer.

use std::cell::{Cell, RefCell};
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
use sparts_core::server::RecentRing;
use tower::{Layer, Service};

thread_local! {
    static NOTED: Cell<Option<MatchedPath>> = const { Cell::new(None) };
}

/// Runs `poll` (a call or poll of the user's router) and returns what it
/// returned, with the route template a request matched during it, if one
/// did.
pub(crate) fn noting<T>(poll: impl FnOnce() -> T) -> (T, Option<MatchedPath>) {
    NOTED.set(None);
    let polled = poll();
    (polled, NOTED.take())
}

/// The layer on the user's router: each route notes its template when
/// called.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NoteRoute;

impl<S> Layer<S> for NoteRoute {
    type Service = Noting<S>;

    fn layer(&self, inner: S) -> Noting<S> {
        Noting(inner)
    }
}

/// A route that notes its template.
#[derive(Debug, Clone)]
pub(crate) struct Noting<S>(S);

impl<S: Service<Request>> Service<Request> for Noting<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> S::Future {
        if let Some(matched) = req.extensions().get::<MatchedPath>() {
            NOTED.set(Some(matched.clone()));
        }
        self.0.call(req)
    }
}

/// Names one run's user router among the routes every thread keeps:
/// a new router (at a restart) may route the same paths elsewhere.
pub(crate) fn new_router_id() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

thread_local! {
    /// The routes without parameters that this thread's requests matched
    /// lately, of any router, by router. Each is found by the path that is
    /// its own template; nothing is ever learnt from a path that differs
    /// from its template, so a client's random paths neither enter nor
    /// evict anything.
    static STATIC_ROUTES: RefCell<RecentRing<(u64, MatchedPath), STATIC_PATHS>> =
        const { RefCell::new(RecentRing::new()) };
}

/// How many paths each thread keeps.
const STATIC_PATHS: usize = 8;

/// The route `path` matches in the router `router`, if `path` is a route's
/// template that this thread has seen that router match lately.
pub(crate) fn static_route(router: u64, path: &str) -> Option<MatchedPath> {
    STATIC_ROUTES
        .try_with(|routes| {
            let routes = routes.borrow();
            let found = routes.find(|(id, matched)| *id == router && matched.as_str() == path);
            found.map(|(_, matched)| matched.clone())
        })
        .ok()
        .flatten()
}

/// Notes that `path` matched `matched` in the router `router`; kept only
/// when the path is the template itself.
pub(crate) fn learn_route(router: u64, path: &str, matched: &MatchedPath) {
    if matched.as_str() != path {
        return;
    }
    let _ = STATIC_ROUTES.try_with(|routes| routes.borrow_mut().keep((router, matched.clone())));
}
