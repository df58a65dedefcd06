//! What a server task records per request and per connection.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;

use super::Histograms;
use super::callback::CallbackGauges;
use super::labels::{HttpLabels, RpcLabels};

/// The HTTP request histogram of one task,
/// `http_server_request_duration_seconds{task,method,route,status}`.
#[derive(Debug, Clone)]
pub struct HttpServerMetrics {
    family: Histograms<HttpLabels>,
    task: Arc<str>,
    /// Route templates seen, so a request costs no allocation for its label.
    routes: Arc<RwLock<HashMap<String, Arc<str>>>>,
}

impl HttpServerMetrics {
    pub(super) fn new(family: Histograms<HttpLabels>, task: &str) -> Self {
        Self {
            family,
            task: task.into(),
            routes: Arc::default(),
        }
    }

    /// Records one request: its method, the route template it matched
    /// (`/kv/{key}`; a fixed placeholder for requests that matched none,
    /// never the raw path, so the number of series stays bounded), the
    /// response status and the time to the response head.
    pub fn observe(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let labels = HttpLabels {
            task: Arc::clone(&self.task),
            method: method_label(method),
            route: self.route(route),
            status,
        };
        self.family
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
    }

    fn route(&self, route: &str) -> Arc<str> {
        if let Some(known) = self
            .routes
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(route)
        {
            return Arc::clone(known);
        }
        let mut routes = self.routes.write().unwrap_or_else(PoisonError::into_inner);
        Arc::clone(
            routes
                .entry(route.to_owned())
                .or_insert_with(|| route.into()),
        )
    }
}

/// The standard methods as static labels; others (extension methods) are
/// copied.
fn method_label(method: &str) -> Cow<'static, str> {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    STANDARD
        .iter()
        .find(|m| **m == method)
        .map_or_else(|| Cow::Owned(method.to_owned()), |m| Cow::Borrowed(*m))
}

/// The call histogram of one RPC server task,
/// `rpc_server_call_duration_seconds{task,system,service,method,code}`.
#[derive(Debug, Clone)]
pub struct RpcServerMetrics {
    family: Histograms<RpcLabels>,
    task: Arc<str>,
    system: &'static str,
}

/// A method an RPC server knows, made once and kept: its labels are shared
/// by every call.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RpcMethod {
    service: Arc<str>,
    method: Arc<str>,
}

impl RpcMethod {
    /// The service's name, `helloworld.Greeter`.
    pub(crate) fn service(&self) -> &str {
        &self.service
    }

    /// The method's name, `SayHello`.
    pub(crate) fn method(&self) -> &str {
        &self.method
    }
}

impl RpcServerMetrics {
    pub(super) fn new(family: Histograms<RpcLabels>, task: &str, system: &'static str) -> Self {
        Self {
            family,
            task: task.into(),
            system,
        }
    }

    /// The `system` label: `grpc` or `thrift`.
    pub(crate) fn system(&self) -> &'static str {
        self.system
    }

    /// The labels of `service`'s method `method` (`helloworld.Greeter`,
    /// `SayHello`). Make one per method the server knows, so that a client
    /// sending random names cannot grow the number of series.
    pub fn method(&self, service: &str, method: &str) -> RpcMethod {
        RpcMethod {
            service: service.into(),
            method: method.into(),
        }
    }

    /// Records one call of `method` that ended with `code` (gRPC's status
    /// name such as `OK` or `NOT_FOUND`; for Thrift `OK`, the exception's
    /// name, or `APPLICATION_ERROR`) after `latency`.
    pub fn observe(
        &self,
        method: &RpcMethod,
        code: impl Into<Cow<'static, str>>,
        latency: Duration,
    ) {
        let labels = RpcLabels {
            task: Arc::clone(&self.task),
            system: self.system,
            service: Arc::clone(&method.service),
            method: Arc::clone(&method.method),
            code: code.into(),
        };
        self.family
            .get_or_create(&labels)
            .observe(latency.as_secs_f64());
    }
}

/// The connection counters of one server task:
/// `sparts_server_connections_total`, `sparts_server_cut_connections_total`,
/// `sparts_server_bad_input_total` and the gauge
/// `sparts_server_open_connections`, each with its `task` label.
#[derive(Debug, Clone)]
pub struct ConnectionMetrics {
    accepted: Counter,
    cut: Counter,
    bad_input: Counter,
    open: Arc<CallbackGauges>,
    task: Arc<str>,
}

impl ConnectionMetrics {
    pub(super) fn new(
        accepted: Counter,
        cut: Counter,
        bad_input: Counter,
        open: Arc<CallbackGauges>,
        task: Arc<str>,
    ) -> Self {
        Self {
            accepted,
            cut,
            bad_input,
            open,
            task,
        }
    }

    /// Counts an accepted connection.
    #[inline]
    pub fn accepted(&self) {
        self.accepted.inc();
    }

    /// Counts connections cut at the end of the shutdown budget.
    pub fn cut(&self, connections: u64) {
        self.cut.inc_by(connections);
    }

    /// Counts a connection closed, or a request refused, for bad input.
    pub fn bad_input(&self) {
        self.bad_input.inc();
    }

    /// Reads the open connections at each scrape from `open`, until it
    /// returns `None`.
    pub fn track_open(&self, open: impl Fn() -> Option<f64> + Send + Sync + 'static) {
        self.open.add(Arc::clone(&self.task), open);
    }
}
