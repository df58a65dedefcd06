//! Thrift over HTTP: a processor served on an axum route, one message per
//! POST, as the original's `http_thrift` demo and Thrift's `THttpClient`
//! do.
//!
//! The request body is one message (no frame header), the response body its
//! reply (`200`, `content-type: application/x-thrift`; empty for a oneway
//! call). Bytes that are not a Thrift message get `400` with the reason, a
//! body over the limit `413`. Handler code runs on tokio's blocking threads,
//! never on the runtime's.
//!
//! ```
//! use axum::Router;
//! use sparts_http::HttpTask;
//! use sparts_thrift::Fb303Handler;
//!
//! let task = HttpTask::from_fn(|ctx| {
//!     Router::new().route(
//!         "/thrift",
//!         sparts_thrift::http::post(Fb303Handler::new(ctx.service()).processor(), ctx),
//!     )
//! });
//! ```
//!
//! # The peer
//!
//! fb303's `setOption`, `reinitialize` and `shutdown` are for trusted peers
//! only ([`current_peer`](crate::current_peer) and `--admin-trusted`). The
//! route knows the peer when the HTTP server gives it: sparts-http's
//! `HttpTask` does with `with_connect_info()`. Without it the peer is taken to be
//! `0.0.0.0`, an address no TCP connection comes from: a caller is then
//! trusted only when `--admin-trusted` trusts every IPv4 address
//! (`0.0.0.0/0`), where any real peer would have been trusted too.
//!
//! # Access log
//!
//! The route's calls are recorded by core's request metrics of the task
//! whose context is given, so they share its access log: while the
//! `HttpTask`'s is on (`--http-access-log`), each call also writes a
//! Thrift line (`system` `thrift`, the service and method, `OK`, the
//! exception's type name or `APPLICATION_ERROR`, the peer as above)
//! beside the HTTP one.
//!
//! # Counters
//!
//! In the counters of the task whose context is given (the `HttpTask`'s:
//! `HttpTask.thrift.requests`): `thrift.requests`, `thrift.errors`
//! (exception replies and malformed requests), `thrift.bad_input`
//! (malformed requests), `thrift.latency_ms` and
//! `thrift.<service>.<method>.latency_ms`. Several routes on one task add
//! to the same `thrift.requests`.
//!
//! On `/metrics`, as a Thrift server's, labelled with that task:
//! `rpc_server_call_duration_seconds{system="thrift",...}` and, for
//! malformed requests, `sparts_server_bad_input_total` (the POST itself is
//! in the HTTP task's `http_server_request_duration_seconds`).

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::connect_info::ConnectInfo;
use axum::extract::{DefaultBodyLimit, Extension};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use bytes::Bytes;
use sparts_core::counters::Counter;
use sparts_core::server::RequestSpan;
use sparts_core::telemetry::ConnectionMetrics;
use sparts_core::{Peer, TaskContext, short_type_name};
use thrift::server::TProcessor;

use crate::dispatch::{Dispatcher, Outcome, Route, Routes};
use crate::error::{Error, Result};
use crate::fb303_handler::Fb303Handler;
use crate::handler::{Processor, ThriftHandlerTask};
use crate::metrics::Metrics;
use crate::wire::Protocol;

/// The content type of Thrift requests and replies over HTTP.
pub const CONTENT_TYPE: &str = "application/x-thrift";

/// Largest request body accepted by default: 16 MiB, as the server's
/// `--thrift-max-frame-bytes`.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

/// The peer of a request when the HTTP server does not say: `0.0.0.0` is no
/// TCP connection's source, so only a `--admin-trusted` that trusts every
/// IPv4 address trusts it.
const UNKNOWN_PEER: Peer = Peer::Ip(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

/// Serves `processor` on POST with the defaults (binary protocol, 16 MiB
/// bodies), counted in `ctx`'s task (its counters under `thrift.`). The
/// service name in
/// the per-method counters is the processor's (`FooServiceSyncProcessor`
/// gives `FooService`).
///
/// ```
/// use axum::Router;
/// use sparts_http::HttpTask;
/// use sparts_thrift::Fb303Handler;
///
/// let task = HttpTask::from_fn(|ctx| {
///     let fb303 = Fb303Handler::new(ctx.service()).processor();
///     Router::new().route("/thrift", sparts_thrift::http::post(fb303, ctx))
/// });
/// ```
pub fn post<P, O>(processor: P, ctx: &TaskContext<O>) -> MethodRouter
where
    P: TProcessor + Send + Sync + 'static,
    O: Send + Sync + 'static,
{
    ThriftRoute::new(processor).into_method_router(ctx)
}

/// fb303 over HTTP, answered by the service's admin model: the
/// [`Fb303Handler`] that [`ThriftHandlerTask::fb303`] serves on a Thrift
/// port, here on an HTTP route of the task whose context this is (no
/// handler task needed), its counters under `thrift.`. The original's
/// `http_thrift` demo serves it at `POST /thrift`.
///
/// ```
/// use axum::Router;
/// use sparts_http::HttpTask;
///
/// use sparts_thrift::http::fb303;
///
/// let task = HttpTask::from_fn(|ctx| Router::new().route("/thrift", fb303(ctx)));
/// ```
pub fn fb303<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> MethodRouter {
    post(Fb303Handler::new(ctx.service()).processor(), ctx)
}

/// Serves the processor of the [`ThriftHandlerTask`] with this task or
/// service name, counted in `ctx`'s task (its counters under `thrift.`).
///
/// The handler task must be registered before the task whose context this
/// is (an `HttpTask::from_fn` closure runs in that task's `init`), so that
/// it has started.
///
/// ```
/// use axum::Router;
/// use sparts_core::VService;
/// use sparts_http::HttpTask;
/// use sparts_thrift::ThriftHandlerTask;
///
/// let service = VService::new("Admin")
///     .with_task(ThriftHandlerTask::fb303())
///     .with_task(HttpTask::from_fn(|ctx| {
///         let mut router = Router::new();
///         match sparts_thrift::http::handler_route(ctx, "fb303") {
///             Ok(route) => router = router.route("/thrift", route),
///             Err(e) => tracing::error!("{e}"),
///         }
///         router
///     }));
/// ```
///
/// # Errors
///
/// [`Error::Handlers`] when no handler task has that name or it has not
/// started.
pub fn handler_route<O: Send + Sync + 'static>(
    ctx: &TaskContext<O>,
    name: &str,
) -> Result<MethodRouter> {
    Ok(ThriftRoute::from_handler(ctx, name)?.into_method_router(ctx))
}

/// A Thrift-over-HTTP route with its settings, for when [`post`] and
/// [`handler_route`] do not fit.
///
/// ```
/// use axum::Router;
/// use sparts_http::HttpTask;
/// use sparts_thrift::http::ThriftRoute;
/// use sparts_thrift::{Fb303Handler, Protocol};
///
/// let task = HttpTask::from_fn(|ctx| {
///     let fb303 = ThriftRoute::new(Fb303Handler::new(ctx.service()).processor())
///         .with_service_name("fb303")
///         .with_protocol(Protocol::Compact)
///         .with_max_body_bytes(64 * 1024);
///     Router::new().route("/thrift", fb303.into_method_router(ctx))
/// })
/// .with_connect_info();
/// ```
#[must_use]
pub struct ThriftRoute {
    processor: Processor,
    service: String,
    protocol: Protocol,
    max_body_bytes: usize,
}

impl std::fmt::Debug for ThriftRoute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThriftRoute")
            .field("service", &self.service)
            .field("protocol", &self.protocol)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

impl ThriftRoute {
    /// A route serving `processor` (a generated `FooServiceSyncProcessor`).
    pub fn new<P>(processor: P) -> Self
    where
        P: TProcessor + Send + Sync + 'static,
    {
        let name = short_type_name::<P>();
        let service = name.strip_suffix("SyncProcessor").unwrap_or(name);
        Self::with_processor(service.to_owned(), Arc::new(processor))
    }

    /// A route serving the processor of the started [`ThriftHandlerTask`]
    /// with this task or service name, under its service name.
    ///
    /// # Errors
    ///
    /// [`Error::Handlers`] when no handler task has that name or it has not
    /// started.
    pub fn from_handler<O: Send + Sync + 'static>(
        ctx: &TaskContext<O>,
        name: &str,
    ) -> Result<Self> {
        let all = ctx.service().get_all::<ThriftHandlerTask>();
        let handler = all
            .iter()
            .find(|h| h.task_name() == name || h.service_name() == name);
        let problem = match handler {
            Some(handler) => match handler.processor() {
                Some(processor) => {
                    return Ok(Self::with_processor(
                        handler.service_name().to_owned(),
                        processor,
                    ));
                }
                None => format!("handler {name} has not started: register it before this task"),
            },
            None => format!("no handler named {name}"),
        };
        let found = if all.is_empty() {
            "none".to_owned()
        } else {
            all.iter()
                .map(|h| format!("{} (service {})", h.task_name(), h.service_name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        Err(Error::Handlers {
            task: ctx.name().to_owned(),
            problem,
            found,
        })
    }

    fn with_processor(service: String, processor: Processor) -> Self {
        Self {
            processor,
            service,
            protocol: Protocol::Binary,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
        }
    }

    /// The service name in the per-method counters
    /// (`thrift.<service>.<method>.latency_ms`). Default: the processor's
    /// (`FooService`), or the handler task's service name.
    pub fn with_service_name(mut self, name: impl Into<String>) -> Self {
        self.service = name.into();
        self
    }

    /// The protocol of requests and replies. Default: binary.
    pub fn with_protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Largest request body accepted; a larger one gets `413`. Default:
    /// 16 MiB.
    pub fn with_max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The axum route, counted in `ctx`'s task: its counters under
    /// `thrift.`, and the service's telemetry.
    pub fn into_method_router<O: Send + Sync + 'static>(
        self,
        ctx: &TaskContext<O>,
    ) -> MethodRouter {
        let route = Route {
            service: self.service,
            processor: self.processor,
            inline: Arc::default(),
        };
        let metrics = Arc::new(Metrics::register(ctx, "thrift."));
        let served = Arc::new(Served {
            dispatcher: Dispatcher::new(Routes::Single(route), self.protocol, metrics),
            // `/metrics` shows it as the task's `sparts_server_bad_input`.
            bad_input: ctx.counters().fb303_only().counter("thrift.bad_input"),
            bad_input_total: ctx.service().telemetry().connections(ctx.name()),
            warned: AtomicBool::new(false),
        });
        axum::routing::post(
            move |peer: Option<Extension<ConnectInfo<Peer>>>, body: Bytes| async move {
                served.handle(peer.map(|p| (p.0).0), body).await
            },
        )
        .layer(DefaultBodyLimit::max(self.max_body_bytes))
    }
}

/// What every request to one route shares.
struct Served {
    dispatcher: Dispatcher,
    /// Malformed requests, in fb303's view and on `/metrics`.
    bad_input: Counter,
    bad_input_total: ConnectionMetrics,
    /// Whether the missing peer has been logged.
    warned: AtomicBool,
}

impl Served {
    async fn handle(self: Arc<Self>, peer: Option<Peer>, body: Bytes) -> Response {
        let peer = peer.unwrap_or_else(|| {
            if !self.warned.swap(true, Ordering::Relaxed) {
                tracing::info!(
                    "Thrift over HTTP: the HTTP server gives no peer address (HttpTask::with_connect_info), so admin calls that need a trusted peer are refused"
                );
            }
            UNKNOWN_PEER
        });
        let served = Arc::clone(&self);
        // The call's span is the child of the HTTP request's, on the thread
        // it moves to.
        let parent = RequestSpan::current();
        let outcome = tokio::task::spawn_blocking(move || {
            parent.in_scope(|| served.dispatcher.call(&body, peer, 0))
        })
        .await;
        match outcome {
            Ok(Outcome::Reply(reply)) => {
                ([(header::CONTENT_TYPE, CONTENT_TYPE)], reply).into_response()
            }
            Ok(Outcome::Malformed(reason)) => {
                self.bad_input.increment();
                self.bad_input_total.bad_input();
                tracing::info!("bad Thrift request over HTTP from {peer}: {reason}");
                (StatusCode::BAD_REQUEST, reason).into_response()
            }
            // The dispatcher catches handler panics; this is the runtime
            // shutting down under the request.
            Err(e) => (StatusCode::SERVICE_UNAVAILABLE, e.to_string()).into_response(),
        }
    }
}
