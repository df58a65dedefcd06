//! The gRPC task: binds in `init`, serves in `run`.

use std::borrow::Cow;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use sparts_core::server::{Bound, Connections, Handoff};
use sparts_core::{BoxError, TaskContext, VTask};
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::codegen::{Bytes, StdError};
use tonic::server::NamedService;

use crate::admin::AdminService;
use crate::error::Error;
use crate::health::Health;
use crate::metrics::Metrics;
use crate::options::GrpcOptions;
use crate::pb;
use crate::router::Router;
use crate::serve::Prepared;

/// A gRPC server task built on [tonic]: the user's services plus health,
/// reflection and the admin service, with counters and a drain on shutdown.
///
/// Options, under the prefix `grpc` (see [`GrpcOptions`](crate::GrpcOptions)):
/// `--grpc-host` (default: every interface, IPv4 and IPv6), `--grpc-port`
/// (default 0: any free port), `--grpc-sock PATH` (a unix socket instead),
/// `--grpc-lameduck SECONDS` (default 0), `--grpc-max-message-size`,
/// `--grpc-concurrency-per-connection`, `--grpc-max-concurrent-streams`,
/// `--grpc-request-timeout`, `--grpc-keepalive`, `--grpc-access-log` (see
/// below). Register a second one
/// with another name and prefix: `GrpcTask::new().with_name("AdminGrpc").with_prefix("admin")`
/// reads `--admin-port`.
///
/// The sockets are bound in `init`, so a port in use stops the service from
/// starting, and [`bound`](Self::bound) is known (and logged as `GrpcTask
/// Server Started on 0.0.0.0 (port 50051)`) before the service runs.
///
/// # Built-in services
///
/// Served unless turned off:
///
/// - `grpc.health.v1.Health` ([`without_health`](Self::without_health)):
///   SERVING while the service is ready (ALIVE or WARNING, and no task
///   holds it not ready with
///   [`hold_not_ready`](sparts_core::ServiceHandle::hold_not_ready)),
///   NOT_SERVING while it starts, while it is held and from the moment
///   shutdown begins; for the overall entry `""` and for each hosted
///   service.
/// - `grpc.reflection.v1` and `grpc.reflection.v1alpha.ServerReflection`
///   ([`without_reflection`](Self::without_reflection)), listing the
///   services whose descriptors the task knows: the built-in ones and those
///   given with [`with_file_descriptor_set`](Self::with_file_descriptor_set).
/// - `sparts.admin.v1.Admin` ([`without_admin`](Self::without_admin)): see
///   `sparts-grpc/proto/sparts_admin.proto`. Mutating calls only from a unix
///   socket peer or an address in `--admin-trusted` (PERMISSION_DENIED
///   otherwise).
///
/// # Counters
///
/// In fb303's view, under the task's name (`GrpcTask.requests`), for every
/// call the task serves, the built-in services' included, with the names
/// every sparts server uses ([`sparts_core::server`]): `requests`, `errors`
/// (any status but OK), `latency_ms` and, per method of a hosted service,
/// `<package.Service>.<Method>.latency_ms` (count, avg and max over 60 and
/// 600 s, until the call's status: the whole call for a unary one),
/// `connections` (accepted), `open_connections`, `cut_connections` (cut at
/// the end of the shutdown budget); and gRPC's own `errors.<CODE>`
/// (`errors.NOT_FOUND`, registered at the first such error) and
/// `open_streams` (calls whose response has not ended). A call whose
/// response ends without a status (the client reset it) counts as
/// `CANCELLED`.
///
/// On `/metrics`, labelled with `task`: the histogram
/// `rpc_server_call_duration_seconds{task,system="grpc",service,method,code}`
/// (`code` the status name, `OK` or `NOT_FOUND`), for the methods of the
/// hosted services only (a method that answers UNIMPLEMENTED is left out,
/// so the number of series stays bounded); `sparts_server_connections_total`,
/// `sparts_server_open_connections`, `sparts_server_cut_connections_total`;
/// and `open_streams`.
///
/// # Access log
///
/// With `--grpc-access-log` (changeable at run time) every call writes one
/// line at info under the target `sparts::access` from the same record as
/// its metrics, when its status is known: `service`, `method`, `status`
/// (the `code` label: `OK`, `NOT_FOUND`, ...; `CANCELLED` when the
/// response is dropped before it ends), `duration_ms` and `peer`, as
/// fields (see [`AccessLog`](sparts_core::server::AccessLog)). Calls of
/// the health, reflection and admin services' methods are counted but not
/// logged, nor are the requests of the HTTP router of `with_http_router`;
/// a call of a method the task does not have is logged whatever service
/// it names. Off, it costs a call one atomic load.
///
/// # Shutdown
///
/// From the moment shutdown begins health answers NOT_SERVING; the task
/// keeps serving for `--grpc-lameduck` seconds (`GrpcTask lame duck:
/// serving 2.000 s more while readiness reports not ready`), then stops
/// accepting and tells every connection to go away once its calls finish
/// (`GrpcTask stopped accepting; draining 3 open connections`), and cuts
/// the connections still open (streams that never end included) shortly
/// before `--shutdown-timeout` runs out, counted from the moment the
/// shutdown began (`GrpcTask: 1 connections still open at the end of the
/// shutdown budget: cut`).
///
/// ```
/// use sparts_core::VService;
/// use sparts_grpc::GrpcTask;
/// use sparts_grpc::pb::helloworld::greeter_server::{Greeter, GreeterServer};
/// use sparts_grpc::pb::helloworld::{HelloReply, HelloRequest};
/// use tonic::{Request, Response, Status};
///
/// struct Hello;
///
/// #[tonic::async_trait]
/// impl Greeter for Hello {
///     async fn say_hello(&self, req: Request<HelloRequest>) -> Result<Response<HelloReply>, Status> {
///         let message = format!("Hello {}!", req.into_inner().name);
///         Ok(Response::new(HelloReply { message }))
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let task = GrpcTask::new()
///     .with_service(GreeterServer::new(Hello))
///     .with_file_descriptor_set(sparts_grpc::pb::helloworld::FILE_DESCRIPTOR_SET);
/// let running = VService::new("Hello")
///     .with_task(task)
///     .start_with_args(["hello", "--grpc-host", "127.0.0.1"])
///     .await?;
/// let grpc = running.handle().require::<GrpcTask>()?;
/// assert!(grpc.port().is_some_and(|p| p != 0));
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[must_use]
pub struct GrpcTask {
    router: Router,
    services: Vec<String>,
    descriptors: Vec<&'static [u8]>,
    health: bool,
    reflection: bool,
    admin: bool,
    #[cfg(feature = "http")]
    http: Option<axum::Router>,
    bound: Bound,
    prepared: Handoff<Prepared>,
}

impl fmt::Debug for GrpcTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcTask")
            .field("services", &self.services)
            .field("health", &self.health)
            .field("reflection", &self.reflection)
            .field("admin", &self.admin)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Clone for GrpcTask {
    /// A fresh, unbound task with the same services.
    fn clone(&self) -> Self {
        Self {
            router: self.router.clone(),
            services: self.services.clone(),
            descriptors: self.descriptors.clone(),
            health: self.health,
            reflection: self.reflection,
            admin: self.admin,
            #[cfg(feature = "http")]
            http: self.http.clone(),
            bound: Bound::default(),
            prepared: Handoff::default(),
        }
    }
}

impl Default for GrpcTask {
    fn default() -> Self {
        Self::new()
    }
}

impl GrpcTask {
    /// A task with the built-in services and none of the user's yet.
    pub fn new() -> Self {
        Self {
            router: Router::default(),
            services: Vec::new(),
            descriptors: Vec::new(),
            health: true,
            reflection: true,
            admin: true,
            #[cfg(feature = "http")]
            http: None,
            bound: Bound::default(),
            prepared: Handoff::default(),
        }
    }

    /// Adds a tonic service (`GreeterServer::new(..)`); its state is shared
    /// by every start of the task, restarts included. It gets a health
    /// entry under its name. A second service of the same name makes the
    /// start fail ([`Error::DuplicateService`]).
    pub fn with_service<S, B>(mut self, service: S) -> Self
    where
        S: tower::Service<Request<Body>, Response = Response<B>, Error = Infallible>
            + NamedService
            + Clone
            + Send
            + Sync
            + 'static,
        S::Future: Send + 'static,
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<StdError>,
    {
        self.services.push(S::NAME.to_owned());
        self.router.add(service);
        self
    }

    /// Lets reflection describe the services of an encoded
    /// `FileDescriptorSet` (what `tonic_prost_build`'s
    /// `file_descriptor_set_path` writes, or
    /// [`pb::helloworld::FILE_DESCRIPTOR_SET`](crate::pb::helloworld::FILE_DESCRIPTOR_SET)).
    /// Services without one are served but not listed.
    pub fn with_file_descriptor_set(mut self, encoded: &'static [u8]) -> Self {
        self.descriptors.push(encoded);
        self
    }

    /// Serves `router` on the same port for every request that is not
    /// gRPC (whose content type is not `application/grpc…`), over HTTP/1.1
    /// and HTTP/2, for deployments that expose one port only. Its requests
    /// are not counted in the gRPC counters. Default: gRPC only (HTTP/2).
    ///
    /// With the crate's `http` feature only.
    ///
    /// ```
    /// use axum::{Router, routing::get};
    /// use sparts_grpc::GrpcTask;
    ///
    /// let web = Router::new().route("/", get(|| async { "Hello, world" }));
    /// let task = GrpcTask::new().with_http_router(web);
    /// ```
    #[cfg(feature = "http")]
    pub fn with_http_router(mut self, router: axum::Router) -> Self {
        self.http = Some(router);
        self
    }

    /// Leaves out `grpc.health.v1.Health`. Default: served.
    pub fn without_health(mut self) -> Self {
        self.health = false;
        self
    }

    /// Leaves out the reflection services. Default: served.
    pub fn without_reflection(mut self) -> Self {
        self.reflection = false;
        self
    }

    /// Leaves out `sparts.admin.v1.Admin`. Default: served.
    pub fn without_admin(mut self) -> Self {
        self.admin = false;
        self
    }

    /// The names of the services hosted, built-in ones included, as of the
    /// last start (the user's only, before).
    #[must_use]
    pub fn service_names(&self) -> &[String] {
        &self.services
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

    /// The user's services plus the built-in ones; records their names.
    async fn router(
        &mut self,
        ctx: &TaskContext<GrpcOptions>,
    ) -> Result<(Router, Option<Health>), Error> {
        let limit = ctx.options().max_message_size;
        let mut router = self.router.clone();
        let mut services = self.services.clone();
        if self.admin {
            let admin = AdminService {
                admin: ctx.service().admin(),
            };
            let server = pb::admin::admin_server::AdminServer::new(admin)
                .max_decoding_message_size(limit)
                .max_encoding_message_size(limit);
            services.push(pb::admin::admin_server::SERVICE_NAME.to_owned());
            router.add(server);
        }
        let health = if self.health {
            let (reporter, server) = tonic_health::server::health_reporter();
            let mut names = vec![String::new()];
            names.extend(services.iter().cloned());
            let health = Health { reporter, names };
            // tonic-health starts "" as SERVING; the service is not yet.
            health.set(false).await;
            services.push(
                <tonic_health::pb::health_server::HealthServer<()> as NamedService>::NAME
                    .to_owned(),
            );
            router.add(
                server
                    .max_decoding_message_size(limit)
                    .max_encoding_message_size(limit),
            );
            Some(health)
        } else {
            None
        };
        if self.reflection {
            let mut sets: Vec<&'static [u8]> = Vec::new();
            if self.admin {
                sets.push(pb::admin::FILE_DESCRIPTOR_SET);
            }
            if self.health {
                sets.push(tonic_health::pb::FILE_DESCRIPTOR_SET);
            }
            sets.extend(self.descriptors.iter().copied());
            let builder = || {
                sets.iter()
                    .fold(tonic_reflection::server::Builder::configure(), |b, set| {
                        b.register_encoded_file_descriptor_set(set)
                    })
            };
            match (builder().build_v1(), builder().build_v1alpha()) {
                (Ok(v1), Ok(v1alpha)) => {
                    services.push(
                        tonic_reflection::pb::v1::server_reflection_server::SERVICE_NAME.to_owned(),
                    );
                    services.push(
                        tonic_reflection::pb::v1alpha::server_reflection_server::SERVICE_NAME
                            .to_owned(),
                    );
                    router.add(v1);
                    router.add(v1alpha);
                }
                (Err(e), _) | (_, Err(e)) => {
                    tracing::warn!("{}: reflection left out: {e}", ctx.name());
                }
            }
        }
        if let Some(twice) = first_duplicate(&services) {
            return Err(Error::DuplicateService(twice.to_owned()));
        }
        self.services = services;
        Ok((router, health))
    }
}

impl VTask<GrpcOptions> for GrpcTask {
    fn default_prefix() -> Cow<'static, str> {
        "grpc".into()
    }

    async fn init(&mut self, ctx: &TaskContext<GrpcOptions>) -> Result<(), BoxError> {
        // The services first: a task that cannot serve them binds nothing.
        let (router, health) = self.router(ctx).await?;
        // One-port mode also serves HTTP/1.1 to browsers and curl.
        #[cfg(feature = "http")]
        let alpn: &[&[u8]] = if self.http.is_some() {
            &[b"h2", b"http/1.1"]
        } else {
            &[b"h2"]
        };
        #[cfg(not(feature = "http"))]
        let alpn: &[&[u8]] = &[b"h2"];
        let tls = ctx
            .options()
            .tls
            .acceptor(ctx.name(), alpn)
            .map_err(Error::from)?;
        let (listeners, bound) = ctx
            .options()
            .listen
            .bind_for(ctx, None)
            .await
            .map_err(Error::from)?;
        self.bound = bound;
        let metrics = Arc::new(Metrics::register(ctx, self.services.clone()));
        self.prepared.put(Prepared {
            listeners,
            router,
            health,
            metrics,
            connections: Connections::register_limited(ctx, &ctx.options().connection),
            tls,
            #[cfg(feature = "http")]
            http: self.http.clone(),
        });
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<GrpcOptions>) -> Result<(), BoxError> {
        self.prepared.take(ctx.name())?.run(&ctx).await
    }
}

/// The first name that comes twice in `names`.
fn first_duplicate(names: &[String]) -> Option<&str> {
    let mut seen = std::collections::HashSet::new();
    names
        .iter()
        .find(|name| !seen.insert(name.as_str()))
        .map(String::as_str)
}
