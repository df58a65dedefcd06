//! The HTTP task: binds in `init`, serves in `run`.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use sparts_core::server::{Bound, Connections, Handoff, RequestMetrics};
use sparts_core::{BoxError, TaskContext, VTask};

use crate::app::App;
use crate::endpoints::Endpoints;
use crate::error::Error;
use crate::options::HttpOptions;
use crate::route::{NoteRoute, new_router_id};
use crate::serve::Server;

type RouterFn = dyn Fn(&TaskContext<HttpOptions>) -> Router + Send + Sync;

/// Where the task's router comes from.
#[derive(Clone)]
enum Routes {
    /// One router, cloned at each start (its state is shared by all starts).
    Fixed(Router),
    /// Built at each start, with the task's context at hand.
    Built(Arc<RouterFn>),
}

/// An HTTP server task built on [axum]: the user's [`Router`] plus the
/// endpoints a platform expects, on TCP or a unix socket.
///
/// Options, under the prefix `http` (see [`HttpOptions`](crate::HttpOptions)):
/// `--http-host` (default: every interface, IPv4 and IPv6), `--http-port`
/// (default 0: any free port), `--http-sock PATH` (a unix socket instead,
/// mode 0600, or 0660 with `--http-sock-group GROUP`), `--http-lameduck
/// SECONDS` (default 0), `--http-access-log` (see below). Register a
/// second one with another name and prefix:
/// `HttpTask::new(admin).with_name("AdminHttp").with_prefix("admin")`
/// reads `--admin-port`.
///
/// The sockets are bound in `init`, so a port in use stops the service from
/// starting, and [`bound`](Self::bound) is known (and logged as `HttpTask
/// Server Started on 0.0.0.0 (port 8000)`) before the service runs.
///
/// # Built-in endpoints
///
/// Served unless turned off ([`without_health`](Self::without_health),
/// [`without_metrics`](Self::without_metrics),
/// [`without_admin`](Self::without_admin)); they take precedence over the
/// user's routes at the same paths:
///
/// - `GET /livez` (and `/healthz`, its older name): liveness, 200 while the
///   process runs, 503 once DEAD or STOPPED.
/// - `GET /readyz`: readiness, 200 while ALIVE or WARNING and no task holds
///   the service not ready
///   ([`hold_not_ready`](sparts_core::ServiceHandle::hold_not_ready)); 503
///   while starting, while held (with the reasons) and from the moment
///   shutdown begins.
/// - `GET /metrics`: the service's metrics for Prometheus
///   ([`sparts_core::telemetry`]): OpenMetrics text when the scraper's
///   `Accept` asks for `application/openmetrics-text`, the classic text
///   format otherwise, gzip-compressed when its `Accept-Encoding` allows.
/// - `GET /admin/status`, `/admin/counters[?filter=REGEX]`,
///   `/admin/counters/{name}`, `/admin/options`, `/admin/options/{name}`,
///   `/admin/exported` (JSON); `PUT /admin/options/{name}` (body: the
///   value), `POST /admin/reinitialize`, `POST /admin/shutdown`: these
///   three only from a unix socket peer or an address in `--admin-trusted`,
///   others get 403. Errors are `{"error": "..."}` with the status of their
///   [`AdminErrorKind`](sparts_core::AdminErrorKind) (404, 400, 409, 403,
///   503, 500).
/// - `GET /debug/pprof/profile[?seconds=N]` (with the admin endpoints): a
///   CPU profile of N seconds (1 to 300, default 30) in pprof's format,
///   gzip-compressed `profile.proto` as Go serves it
///   ([`Admin::cpu_profile_pprof`](sparts_core::Admin::cpu_profile_pprof)),
///   for `go tool pprof http://host:port/debug/pprof/profile?seconds=5`,
///   Pyroscope or Parca. Trusted peers only (403); 409 while another
///   profile runs, 400 for a bad N, 501 without the `cpu-profile` feature.
///
/// # Counters
///
/// The user's requests are counted; the built-in endpoints' (scrapes,
/// probes, admin calls: every endpoint above) are not, so they do not
/// dilute the user's traffic and latency.
///
/// In fb303's view, under the task's name (`HttpTask.requests`), with the
/// names every sparts server uses ([`sparts_core::server`]): `requests`,
/// `errors` (responses 5xx), `latency_ms` (count, avg and max over 60 and
/// 600 s, from the request to the response head), `connections`
/// (accepted), `open_connections`, `cut_connections` (cut at the end of the
/// shutdown budget), `bad_input` (connections closed for a request hyper
/// could not parse, from the first); and HTTP's own `responses_1xx` to
/// `responses_5xx` (from the first response).
///
/// On `/metrics`, labelled with `task`: the histogram
/// `http_server_request_duration_seconds{task,method,route,status}`, whose
/// `route` is the template the request matched (`/kv/{key}`; `unmatched`
/// for requests no route matched, never the raw path) and `status` the
/// numeric code; and `sparts_server_connections_total`,
/// `sparts_server_open_connections`, `sparts_server_cut_connections_total`,
/// `sparts_server_bad_input_total`.
///
/// # Access log
///
/// With `--http-access-log` (changeable at run time) every request to the
/// user's routes writes one line at info under the target `sparts::access`,
/// from the same record as its metrics: `method`, `route` (the template
/// of the `route` label; absent when no route matched), `status`,
/// `duration_ms` and `peer`, as fields (see
/// [`AccessLog`](sparts_core::server::AccessLog)). The built-in endpoints
/// are not logged, as they are not counted. Off, it costs a request one
/// atomic load.
///
/// # Requests
///
/// With [`with_connect_info`](Self::with_connect_info), handlers can
/// extract the peer: `ConnectInfo<sparts_core::Peer>`, and
/// `ConnectInfo<std::net::SocketAddr>` on TCP.
///
/// # Shutdown
///
/// From the moment shutdown begins `/readyz` answers 503; the task keeps
/// serving for `--http-lameduck` seconds (`HttpTask lame duck: serving
/// 2.000 s more while readiness reports not ready`), then stops accepting,
/// lets requests in flight finish and closes idle connections (`HttpTask
/// stopped accepting; draining 3 open connections`), and cuts the
/// connections still open (long responses and streams included) shortly
/// before `--shutdown-timeout` runs out, counted from the moment the
/// shutdown began (`HttpTask: 1 connections still open at the end of the
/// shutdown budget: cut`). An upgraded connection (a WebSocket) belongs to
/// its handler once upgraded and is not cut.
///
/// ```
/// use axum::{Router, routing::get};
/// use sparts_core::VService;
/// use sparts_http::HttpTask;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let api = Router::new().route("/ping", get(|| async { "pong" }));
/// let service = VService::new("Api").with_task(HttpTask::new(api));
/// let running = service
///     .start_with_args(["api", "--http-host", "127.0.0.1", "--http-port", "0"])
///     .await?;
/// let http = running.handle().require::<HttpTask>()?;
/// let port = http.port().expect("a TCP port");
/// assert_ne!(port, 0);
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct HttpTask {
    routes: Routes,
    endpoints: Endpoints,
    connect_info: bool,
    bound: Bound,
    server: Handoff<Server>,
}

impl fmt::Debug for HttpTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpTask")
            .field("endpoints", &self.endpoints)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Clone for HttpTask {
    /// A fresh, unbound task with the same routes and endpoints.
    fn clone(&self) -> Self {
        Self {
            connect_info: self.connect_info,
            ..Self::with_routes(self.routes.clone(), self.endpoints)
        }
    }
}

impl Default for HttpTask {
    /// The original's default: `/` answers `Hello, world`.
    fn default() -> Self {
        Self::new(Router::new().route("/", get(|| async { "Hello, world" })))
    }
}

impl HttpTask {
    /// A task serving `router` (with its state applied by `with_state`).
    /// Its state is shared by every start of the task, restarts included.
    pub fn new(router: Router) -> Self {
        Self::with_routes(Routes::Fixed(router), Endpoints::ALL)
    }

    /// A task whose router `build` makes at each start, with the task's
    /// context at hand: its counters (exported as `<Task>.<name>`), options
    /// and service.
    ///
    /// ```
    /// use axum::{Router, extract::State, routing::post};
    /// use sparts_core::counters::Counter;
    /// use sparts_http::HttpTask;
    ///
    /// let task = HttpTask::from_fn(|ctx| {
    ///     let hits = ctx.counters().counter("hits");
    ///     Router::new()
    ///         .route("/hit", post(|State(hits): State<Counter>| async move { hits.increment() }))
    ///         .with_state(hits)
    /// });
    /// ```
    pub fn from_fn<F>(build: F) -> Self
    where
        F: Fn(&TaskContext<HttpOptions>) -> Router + Send + Sync + 'static,
    {
        Self::with_routes(Routes::Built(Arc::new(build)), Endpoints::ALL)
    }

    fn with_routes(routes: Routes, endpoints: Endpoints) -> Self {
        Self {
            routes,
            endpoints,
            connect_info: false,
            bound: Bound::default(),
            server: Handoff::default(),
        }
    }

    /// Leaves out `/livez`, `/healthz` and `/readyz`. Default: served.
    pub fn without_health(mut self) -> Self {
        self.endpoints.health = false;
        self
    }

    /// Leaves out `/metrics`. Default: served.
    pub fn without_metrics(mut self) -> Self {
        self.endpoints.metrics = false;
        self
    }

    /// Leaves out every `/admin/...` endpoint. Default: served.
    pub fn without_admin(mut self) -> Self {
        self.endpoints.admin = false;
        self
    }

    /// Gives the user's handlers the peer: the extractors
    /// `ConnectInfo<sparts_core::Peer>` (always) and
    /// `ConnectInfo<std::net::SocketAddr>` (on TCP) work, like axum's
    /// `into_make_service_with_connect_info`. Default: off, as in axum,
    /// since it costs a few allocations per request.
    ///
    /// ```
    /// use std::net::SocketAddr;
    /// use axum::{Router, extract::ConnectInfo, routing::get};
    /// use sparts_http::HttpTask;
    ///
    /// let router = Router::new().route(
    ///     "/ip",
    ///     get(|ConnectInfo(peer): ConnectInfo<SocketAddr>| async move { peer.ip().to_string() }),
    /// );
    /// let task = HttpTask::new(router).with_connect_info();
    /// ```
    pub fn with_connect_info(mut self) -> Self {
        self.connect_info = true;
        self
    }

    /// The addresses the task listens on, once started: the TCP addresses
    /// with their real ports, or the unix socket.
    #[must_use]
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// The TCP port, once started (`None` on a unix socket): a shortcut
    /// for `bound().port()`.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.bound.port()
    }
}

impl VTask<HttpOptions> for HttpTask {
    fn default_prefix() -> Cow<'static, str> {
        "http".into()
    }

    async fn init(&mut self, ctx: &TaskContext<HttpOptions>) -> Result<(), BoxError> {
        let opts = ctx.options();
        // Before binding: a bad certificate leaves nothing bound.
        let tls = opts
            .tls
            .acceptor(ctx.name(), &[b"h2", b"http/1.1"])
            .map_err(Error::from)?;
        let (listeners, bound) = opts
            .listen
            .bind_for(ctx, opts.sock_group.as_deref())
            .await
            .map_err(Error::from)?;
        self.bound = bound;
        let user = match &self.routes {
            Routes::Fixed(router) => router.clone(),
            Routes::Built(build) => build(ctx),
        };
        let service = ctx.service();
        let app = App {
            // Turns every handler into a route now rather than at each
            // request (what axum::serve does for each connection).
            noting: user.clone().with_state(()).layer(NoteRoute),
            user: user.with_state(()),
            router_id: new_router_id(),
            builtin: self
                .endpoints
                .router(service.admin(), service.telemetry().clone()),
            endpoints: self.endpoints,
            connect_info: self.connect_info,
            metrics: RequestMetrics::register(ctx),
            max_body: (opts.max_body_bytes > 0).then_some(opts.max_body_bytes),
        };
        self.server.put(Server {
            listeners,
            app: Arc::new(app),
            connections: Connections::register_limited(ctx, &opts.connection),
            tls,
            limits: opts.connection.time_limits(),
        });
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<HttpOptions>) -> Result<(), BoxError> {
        let server = self.server.take(ctx.name())?;
        let access = server.app.metrics.access_log().clone();
        access
            .while_serving(&ctx, |o| o.access_log, server.run(&ctx))
            .await
    }
}
