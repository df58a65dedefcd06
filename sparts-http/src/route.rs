//! The route template a user request matched, for its metrics' `route`
//! label, its access log line and its span's name (`GET /kv/{key}`). axum
//! knows it ([`MatchedPath`]) only inside the user's router, while the
//! task records the answer outside it: a layer on the router
//! notes the template in a thread-local slot as the router calls the
//! route, and the task's response future reads it back after polling the
//! router, in the same poll on the same thread. A shared reference count,
//! no allocation per request.

use std::cell::Cell;
use std::task::{Context, Poll};

use axum::extract::{MatchedPath, Request};
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
