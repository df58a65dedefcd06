//! The server task: binds in `init`, serves its handlers in `run`.

use rustc_hash::FxHashMap;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use sparts_core::server::{Bound, Connections, Handoff};
use sparts_core::{BoxError, TaskContext, VTask};

use crate::busy_poll::BusyPoll;
use crate::conn::Shared;
use crate::dispatch::{Dispatcher, Route, Routes};
use crate::error::Error;
use crate::handler::ThriftHandlerTask;
use crate::metrics::Metrics;
use crate::options::ThriftOptions;
use crate::pool::Pool;
use crate::serve::Server;

/// A Thrift server on tokio: serves the service's [`ThriftHandlerTask`]
/// (or, [`multiplexed`](Self::multiplexed), every handler under its service
/// name, and calls that name none by the
/// [default service](Self::with_default_service) if one is chosen) on one
/// TCP port.
///
/// Connections and their reads are async, so thousands of open connections
/// cost no thread each; handler code runs on `--thrift-threads` worker
/// threads, so a slow handler does not stall other connections (methods a
/// handler declares non-blocking with
/// [`ThriftHandlerTask::with_inline_methods`] run where the request was
/// read, as fb303's getters do).
///
/// Options, under the prefix `thrift` (see [`ThriftOptions`]):
/// `--thrift-host` (default: every interface, IPv4 and IPv6),
/// `--thrift-port` (0: any free port) or `--thrift-sock PATH` (a unix
/// socket, mode 0600, whose peers are trusted like any local admin),
/// `--thrift-lameduck SECONDS` (default 0), `--thrift-threads` (default 8),
/// `--thrift-transport framed|buffered` (default framed),
/// `--thrift-protocol binary|compact` (default binary),
/// `--thrift-max-frame-bytes` (default 16 MiB), `--thrift-idle-timeout`
/// (seconds, default 300, 0: none), `--thrift-access-log`: one line per
/// call at info under the target `sparts::access`, from the same record as
/// its metrics (`service`, `method`, `status`: the `code` label below;
/// `duration_ms`, `peer`; see `sparts_core::server::AccessLog`),
/// changeable at run time, off by default. A second server registered with
/// `ThriftServerTask::new().with_name("Internal").with_prefix("internal")`
/// reads `--internal-port`.
///
/// The port is bound in `init` (a port in use stops the service from
/// starting) and logged as `ThriftServerTask Server Started on 0.0.0.0
/// (port 9090)`; [`bound`](Self::bound) reads the addresses and
/// [`port`](Self::port) the TCP port. Handler tasks must be
/// registered before the server task. No handler, or several without
/// multiplexing, stops the service from starting with an error listing the
/// handlers found.
///
/// A request larger than `--thrift-max-frame-bytes`, bytes that are not
/// Thrift, a connection that ends inside a request or stays silent past the
/// idle timeout: each closes only that connection, logged with the peer.
///
/// # Counters
///
/// In fb303's view, under the task's name (`ThriftServerTask.requests`):
/// `requests`, `errors` (exception replies, declared or not, and malformed
/// requests), `latency_ms` and `<service>.<method>.latency_ms` (count, avg,
/// max over 60 and 600 s), `connections` (accepted), `open_connections`,
/// `cut_connections` (closed by the shutdown's cut), the same names as on
/// HTTP and gRPC, and `bad_input` (connections closed for bad input, from
/// the first).
///
/// On `/metrics`, labelled with `task`: the histogram
/// `rpc_server_call_duration_seconds{task,system="thrift",service,method,code}`
/// for the methods the handlers know, whose `code` is `OK`, a declared
/// exception's type name (`NotFound`), or `APPLICATION_ERROR` (an
/// application exception: a handler's error outside the IDL, a panic);
/// and `sparts_server_connections_total`,
/// `sparts_server_open_connections`, `sparts_server_cut_connections_total`,
/// `sparts_server_bad_input_total`.
///
/// # Shutdown
///
/// The shutdown follows `sparts_core::server::ShutdownPlan`, as HTTP and
/// gRPC do. From the moment the service begins to shut down (its status,
/// and fb303's getStatus, say STOPPING) the server keeps serving for
/// `--thrift-lameduck` seconds, then stops accepting (a unix socket's file
/// is removed), closes idle connections at once, answers the requests in
/// flight and closes their connections, and cuts what is left shortly
/// before `--shutdown-timeout` runs out, logging how many. The budget
/// counts from that moment, not from when the service stops this task,
/// which may come much later: tasks stop in reverse order. A restart
/// stops the server the same way, from the moment it stops the task.
///
/// ```
/// use sparts_core::VService;
/// use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
///
/// let service = VService::new("Admin")
///     .with_task(ThriftHandlerTask::fb303())
///     .with_task(ThriftServerTask::new());
/// ```
#[derive(Default)]
pub struct ThriftServerTask {
    multiplexed: bool,
    handlers: Option<Vec<String>>,
    default_service: Option<String>,
    bound: Bound,
    server: Handoff<Server>,
}

impl Clone for ThriftServerTask {
    /// A fresh template: the configuration, not the sockets.
    fn clone(&self) -> Self {
        Self {
            multiplexed: self.multiplexed,
            handlers: self.handlers.clone(),
            default_service: self.default_service.clone(),
            ..Self::default()
        }
    }
}

impl fmt::Debug for ThriftServerTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThriftServerTask")
            .field("multiplexed", &self.multiplexed)
            .field("handlers", &self.handlers)
            .field("default_service", &self.default_service)
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl ThriftServerTask {
    /// A server for the service's one handler task.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves every handler (or those named by
    /// [`with_handlers`](Self::with_handlers)) under its service name:
    /// clients call `service:method`, as `TMultiplexedProtocol` does.
    #[must_use]
    pub fn multiplexed(mut self) -> Self {
        self.multiplexed = true;
        self
    }

    /// On a [`multiplexed`](Self::multiplexed) server, answers calls that
    /// name no service (`getStatus` rather than `fb303:getStatus`) with the
    /// handler of this task or service name, as Apache Thrift's
    /// `TMultiplexedProcessor::registerDefault` does: plain clients, such
    /// as fb303 monitoring tools, then reach one service while multiplexed
    /// clients reach every one. A name the server does not serve stops the
    /// service from starting. Default: none, and such calls are answered
    /// with an exception naming the problem.
    ///
    /// ```
    /// use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
    ///
    /// let server = ThriftServerTask::new().multiplexed().with_default_service("fb303");
    /// # let _ = (ThriftHandlerTask::fb303(), server);
    /// ```
    #[must_use]
    pub fn with_default_service(mut self, name: impl Into<String>) -> Self {
        self.default_service = Some(name.into());
        self
    }

    /// Serves only the handlers with these task or service names.
    #[must_use]
    pub fn with_handlers<I, S>(mut self, names: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.handlers = Some(names.into_iter().map(Into::into).collect());
        self
    }

    /// The addresses the server listens on, once started: TCP addresses
    /// with their real ports, or a unix socket.
    #[must_use]
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    /// The TCP port, once started: `bound().port()`.
    #[must_use]
    pub fn port(&self) -> Option<u16> {
        self.bound.port()
    }

    /// The routes to the handlers this server serves.
    fn routes(&self, ctx: &TaskContext<ThriftOptions>) -> Result<Routes, Error> {
        let all = ctx.service().get_all::<ThriftHandlerTask>();
        let found = if all.is_empty() {
            "none; register them before the server".to_owned()
        } else {
            all.iter()
                .map(|h| format!("{} (service {})", h.task_name(), h.service_name()))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let problem = |problem: String| Error::Handlers {
            task: ctx.name().to_owned(),
            problem,
            found: found.clone(),
        };
        let mut chosen = Vec::new();
        match &self.handlers {
            None => chosen.extend(all.iter()),
            Some(names) => {
                for name in names {
                    let handler = all
                        .iter()
                        .find(|h| h.task_name() == name || h.service_name() == name)
                        .ok_or_else(|| problem(format!("no handler named {name}")))?;
                    chosen.push(handler);
                }
            }
        }
        let default = match &self.default_service {
            Some(name) if self.multiplexed => Some(
                chosen
                    .iter()
                    .find(|h| h.task_name() == name || h.service_name() == name)
                    .map(|h| h.service_name().to_owned())
                    .ok_or_else(|| {
                        problem(format!(
                            "no handler named {name} for calls that name no service"
                        ))
                    })?,
            ),
            Some(_) => {
                return Err(problem(
                    "a default service without multiplexing: call .multiplexed()".to_owned(),
                ));
            }
            None => None,
        };
        let mut routes = chosen.into_iter().filter_map(|h| {
            let route = Route {
                service: h.service_name().to_owned(),
                processor: h.processor()?,
                inline: h.inline_methods(),
            };
            Some(route)
        });
        if self.multiplexed {
            let mut by_name = FxHashMap::default();
            for route in routes {
                if by_name.contains_key(&route.service) {
                    return Err(problem(format!(
                        "two handlers have the service name {}",
                        route.service
                    )));
                }
                by_name.insert(route.service.clone(), route);
            }
            if by_name.is_empty() {
                return Err(problem("no handler to serve".to_owned()));
            }
            return Ok(Routes::Multiplexed {
                routes: by_name,
                default,
            });
        }
        match (routes.next(), routes.next()) {
            (Some(route), None) => Ok(Routes::Single(route)),
            (None, _) => Err(problem("no handler to serve".to_owned())),
            (Some(_), Some(_)) => Err(problem(
                "several handlers and no multiplexing: call .multiplexed() or .with_handlers(..)"
                    .to_owned(),
            )),
        }
    }
}

impl VTask<ThriftOptions> for ThriftServerTask {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("ThriftServerTask")
    }

    fn default_prefix() -> Cow<'static, str> {
        Cow::Borrowed("thrift")
    }

    async fn init(&mut self, ctx: &TaskContext<ThriftOptions>) -> Result<(), BoxError> {
        let options = ctx.options();
        let routes = self.routes(ctx)?;
        let tls = options.tls.acceptor(ctx.name(), &[]).map_err(Error::from)?;
        let (listeners, bound) = options
            .listen
            .bind_for(ctx, None)
            .await
            .map_err(Error::from)?;
        let max_bytes = usize::try_from(options.max_frame_bytes).unwrap_or(usize::MAX);
        let metrics = Arc::new(Metrics::register(ctx, ""));
        let dispatcher = Dispatcher::new(routes, options.protocol, metrics);
        let pool = Pool::start(&worker_prefix(ctx.name()), usize::from(options.threads))?;
        let shared = Shared {
            dispatcher: Arc::new(dispatcher),
            pool,
            transport: options.transport,
            protocol: options.protocol,
            max_bytes,
            limits: options.connection.time_limits(),
            tls,
            busy_poll: BusyPoll::new(Duration::from_micros(u64::from(options.busy_poll))),
        };
        self.bound = bound;
        self.server.put(Server {
            listeners,
            shared: Arc::new(shared),
            connections: Connections::register_limited(ctx, &options.connection),
        });
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<ThriftOptions>) -> Result<(), BoxError> {
        let server = self.server.take(ctx.name())?;
        let access = server.shared.dispatcher.access_log().clone();
        access
            .while_serving(&ctx, |o| o.access_log, server.run(&ctx))
            .await;
        Ok(())
    }
}

/// Thread names are cut at 15 bytes on Linux: keep the index visible.
fn worker_prefix(task: &str) -> String {
    let short: String = task.chars().take(10).collect();
    format!("{short}-w")
}
