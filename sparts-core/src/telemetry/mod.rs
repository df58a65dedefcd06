//! The service's metrics as Prometheus and OpenMetrics scrapers read them:
//! labelled families with a HELP line each, `_total` counters, latencies in
//! seconds as cumulative histograms. Built on `prometheus-client`, whose
//! registry and encoders (OpenMetrics text and the classic Prometheus text
//! format) this wraps.
//!
//! The fb303 view ([`counters`](crate::counters): flat names, windowed
//! samples, `getCounters`) is kept beside it; the two are recorded together
//! by the server kit and the built-in tasks, so each event is recorded once
//! in each view. The switches of the server tasks' access logs live here
//! too, one per task ([`AccessLog::of`](crate::server::AccessLog::of)).
//!
//! ```
//! use sparts_core::telemetry::{Format, Telemetry};
//!
//! let telemetry = Telemetry::new("Demo", Some("1.0"), None);
//! let http = telemetry.http_server("HttpTask");
//! http.observe("GET", "/kv/{key}", 200, std::time::Duration::from_millis(3));
//! let text = telemetry.render(Format::Prometheus).expect("encodes");
//! assert!(text.contains(r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/kv/{key}",status="200"} 1"#));
//! assert!(text.contains(r#"sparts_build_info{service="Demo",version="1.0"} 1"#));
//! ```

mod bridge;
mod callback;
mod histogram;
mod labels;
#[cfg(target_os = "linux")]
mod process;
mod recorder;
mod server;
mod tasks;

use std::collections::HashMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use prometheus_client::collector::Collector;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Metric, Registry};

use crate::status::Status;
pub(crate) use bridge::Fb303Counters;
use callback::CallbackGauges;
pub use histogram::Histogram;
use labels::{BuildLabels, HttpLabels, RpcLabels, TaskLabels};
pub(crate) use recorder::{install as install_recorder, uninstall as uninstall_recorder};

pub use server::{ConnectionMetrics, HttpServerMetrics, RpcMethod, RpcServerMetrics};
#[cfg(feature = "otel")]
pub(crate) use server::{method_label, standard_method};
pub(crate) use tasks::{PeriodicMetrics, QueueMetrics};

/// Re-exported so users and libraries can register families of their own
/// ([`Telemetry::register`]) without a direct dependency.
pub use prometheus_client;

/// The default bucket boundaries of every latency histogram, in seconds:
/// from half a millisecond to ten seconds.
pub const DEFAULT_LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Which text format a scrape gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// The classic Prometheus text format, version 0.0.4.
    Prometheus,
    /// The OpenMetrics text format, 1.0.0 (ends with `# EOF`).
    OpenMetrics,
}

impl Format {
    /// The format a scraper asks for in its `Accept` header: OpenMetrics
    /// when it lists `application/openmetrics-text`, the classic format
    /// otherwise (as Prometheus itself negotiates).
    pub fn from_accept(accept: Option<&str>) -> Self {
        match accept {
            Some(accept) if accept.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    /// The `Content-Type` of a rendering in this format.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Builds every latency histogram with the service's bucket boundaries.
#[derive(Debug, Clone)]
pub(crate) struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::with_bounds(Arc::clone(&self.0))
    }
}

type Histograms<L> = Family<L, Histogram, Buckets>;

/// The service's Prometheus registry and the families sparts records in.
/// Cheap to clone; every task reaches it through
/// [`ServiceHandle::telemetry`](crate::ServiceHandle::telemetry).
#[derive(Debug, Clone)]
pub struct Telemetry {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    registry: RwLock<Registry>,
    buckets: Buckets,
    http: Histograms<HttpLabels>,
    rpc: Histograms<RpcLabels>,
    accepted: Family<TaskLabels, Counter>,
    cut: Family<TaskLabels, Counter>,
    bad_input: Family<TaskLabels, Counter>,
    header_timeouts: Family<TaskLabels, Counter>,
    idle_timeouts: Family<TaskLabels, Counter>,
    limit_reached: Family<TaskLabels, Counter>,
    open: Arc<CallbackGauges>,
    periodic_runs: Family<TaskLabels, Counter>,
    periodic_slow: Family<TaskLabels, Counter>,
    periodic_retries: Family<TaskLabels, Counter>,
    periodic_duration: Histograms<TaskLabels>,
    queue_completed: Family<TaskLabels, Counter>,
    queue_retried: Family<TaskLabels, Counter>,
    queue_failed: Family<TaskLabels, Counter>,
    queue_duration: Histograms<TaskLabels>,
    queue_depth: Arc<CallbackGauges>,
    status: Gauge,
    facade: recorder::Facade,
    /// The access logs' switches by task name, made at the first ask.
    access_switches: Mutex<HashMap<String, Arc<AtomicBool>>>,
}

impl Telemetry {
    /// The registry of service `service` (its version in `sparts_build_info`),
    /// latency histograms with `buckets` (default
    /// [`DEFAULT_LATENCY_BUCKETS`]; sorted, those that are not finite left
    /// out), and every family sparts records in.
    pub fn new(service: &str, version: Option<&str>, buckets: Option<Vec<f64>>) -> Self {
        let bounds = buckets.unwrap_or_else(|| DEFAULT_LATENCY_BUCKETS.to_vec());
        let buckets = Buckets(histogram::normalized(bounds).into());
        let inner = Inner {
            registry: RwLock::new(Registry::default()),
            http: Family::new_with_constructor(buckets.clone()),
            rpc: Family::new_with_constructor(buckets.clone()),
            accepted: Family::default(),
            cut: Family::default(),
            bad_input: Family::default(),
            header_timeouts: Family::default(),
            idle_timeouts: Family::default(),
            limit_reached: Family::default(),
            open: Arc::new(CallbackGauges::new(
                "sparts_server_open_connections",
                "Connections a server task has open.",
            )),
            periodic_runs: Family::default(),
            periodic_slow: Family::default(),
            periodic_retries: Family::default(),
            periodic_duration: Family::new_with_constructor(buckets.clone()),
            queue_completed: Family::default(),
            queue_retried: Family::default(),
            queue_failed: Family::default(),
            queue_duration: Family::new_with_constructor(buckets.clone()),
            queue_depth: Arc::new(CallbackGauges::new(
                "sparts_queue_depth",
                "Items a queue task holds, queued or waiting for a retry.",
            )),
            status: Gauge::default(),
            facade: recorder::Facade::default(),
            access_switches: Mutex::default(),
            buckets,
        };
        let telemetry = Self {
            inner: Arc::new(inner),
        };
        telemetry.register_builtins(service, version);
        telemetry
    }

    fn register_builtins(&self, service: &str, version: Option<&str>) {
        let i = &self.inner;
        let mut r = self.registry_mut();
        r.register(
            "http_server_request_duration_seconds",
            "Time from an HTTP request to its response head, user routes only.",
            i.http.clone(),
        );
        r.register(
            "rpc_server_call_duration_seconds",
            "Time a gRPC or Thrift call took, by service, method and status code.",
            i.rpc.clone(),
        );
        r.register(
            "sparts_server_connections",
            "Connections a server task accepted.",
            i.accepted.clone(),
        );
        r.register(
            "sparts_server_cut_connections",
            "Connections a server task closed at the end of the shutdown budget.",
            i.cut.clone(),
        );
        r.register(
            "sparts_server_bad_input",
            "Connections a server task closed, or requests it refused, for input that broke its protocol.",
            i.bad_input.clone(),
        );
        r.register(
            "sparts_server_header_timeouts",
            "Connections a server task closed because a request's head (or an HTTP/2 preface) took longer than its header timeout.",
            i.header_timeouts.clone(),
        );
        r.register(
            "sparts_server_idle_timeouts",
            "Connections a server task closed after its idle timeout with nothing in flight.",
            i.idle_timeouts.clone(),
        );
        r.register(
            "sparts_server_connection_limit_reached",
            "Times a server task had its maximum of connections open and left new ones waiting in the backlog.",
            i.limit_reached.clone(),
        );
        r.register_collector(Box::new(Arc::clone(&i.open)));
        r.register(
            "sparts_periodic_runs",
            "Executions of a periodic task that succeeded.",
            i.periodic_runs.clone(),
        );
        r.register(
            "sparts_periodic_slow_runs",
            "Executions of a periodic task that ran past the next deadline.",
            i.periodic_slow.clone(),
        );
        r.register(
            "sparts_periodic_retries",
            "Executions of a periodic task that asked to be tried later.",
            i.periodic_retries.clone(),
        );
        r.register(
            "sparts_periodic_execution_duration_seconds",
            "Time a periodic task's successful executions took.",
            i.periodic_duration.clone(),
        );
        r.register(
            "sparts_queue_items_completed",
            "Items a queue task executed successfully.",
            i.queue_completed.clone(),
        );
        r.register(
            "sparts_queue_items_retried",
            "Executions of queued items that asked to be tried later.",
            i.queue_retried.clone(),
        );
        r.register(
            "sparts_queue_items_failed",
            "Items a queue task's execution failed or panicked on.",
            i.queue_failed.clone(),
        );
        r.register(
            "sparts_queue_execution_duration_seconds",
            "Time a queue task's executions took, failed ones included.",
            i.queue_duration.clone(),
        );
        r.register_collector(Box::new(Arc::clone(&i.queue_depth)));
        #[cfg(target_os = "linux")]
        r.register_collector(Box::new(process::ProcessCollector));
        r.register(
            "sparts_status",
            "The service's fb303 status: 0 DEAD, 1 STARTING, 2 ALIVE, 3 STOPPING, 4 STOPPED, 5 WARNING.",
            i.status.clone(),
        );
        let build = BuildLabels {
            service: service.to_owned(),
            version: version.unwrap_or_default().to_owned(),
        };
        r.register(
            "sparts_build",
            "The service's name and version.",
            Info::new(build),
        );
        i.status.set(Status::Starting as i64);
    }

    fn registry_mut(&self) -> Registering<'_> {
        // A registration or a scrape never leaves the registry half changed.
        Registering(
            self.inner
                .registry
                .write()
                .unwrap_or_else(PoisonError::into_inner),
        )
    }

    /// Registers a family of the caller's own (a prometheus-client metric):
    /// it appears on `/metrics` with this name and HELP text. Names follow
    /// Prometheus' conventions: snake_case, base units, and counters named
    /// without `_total`, which the encoder adds.
    pub fn register(&self, name: &str, help: &str, metric: impl Metric) {
        self.registry_mut().register(name, help, metric);
    }

    /// Registers a collector, asked for its samples at every scrape.
    pub fn register_collector(&self, collector: Box<dyn Collector>) {
        self.registry_mut().register_collector(collector);
    }

    /// Every family, in `format`.
    pub fn render(&self, format: Format) -> Result<String, std::fmt::Error> {
        let registry = self
            .inner
            .registry
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut text = String::with_capacity(16 * 1024);
        match format {
            Format::Prometheus => {
                prometheus_client::encoding::prometheus_text::encode(&mut text, &registry)?;
            }
            Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut text, &registry)?,
        }
        Ok(text)
    }

    /// The bucket boundaries of every latency histogram, in seconds.
    pub fn latency_buckets(&self) -> &[f64] {
        &self.inner.buckets.0
    }

    /// The HTTP request histogram of task `task`.
    pub fn http_server(&self, task: &str) -> HttpServerMetrics {
        HttpServerMetrics::new(self.inner.http.clone(), task)
    }

    /// The call histogram of task `task`, an RPC server of `system`
    /// (`grpc` or `thrift`).
    pub fn rpc_server(&self, task: &str, system: &'static str) -> RpcServerMetrics {
        RpcServerMetrics::new(self.inner.rpc.clone(), task, system)
    }

    /// The connection counters of server task `task`.
    pub fn connections(&self, task: &str) -> ConnectionMetrics {
        let labels = task_labels(task);
        ConnectionMetrics::new(
            self.inner.accepted.get_or_create_owned(&labels),
            self.inner.cut.get_or_create_owned(&labels),
            self.inner.bad_input.get_or_create_owned(&labels),
            [
                self.inner.header_timeouts.get_or_create_owned(&labels),
                self.inner.idle_timeouts.get_or_create_owned(&labels),
                self.inner.limit_reached.get_or_create_owned(&labels),
            ],
            Arc::clone(&self.inner.open),
            labels.task,
        )
    }

    /// The switch of server task `task`'s access log, off until the task
    /// turns it on: the same one at every ask, so that whatever records
    /// the task's requests (its server, a Thrift route on an HTTP task)
    /// follows one switch, the task's `--<prefix>-access-log`.
    pub(crate) fn access_switch(&self, task: &str) -> Arc<AtomicBool> {
        let mut switches = self
            .inner
            .access_switches
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Arc::clone(switches.entry(task.to_owned()).or_default())
    }

    /// The counters of periodic task `task`.
    pub(crate) fn periodic(&self, task: &str) -> PeriodicMetrics {
        let labels = task_labels(task);
        let i = &self.inner;
        PeriodicMetrics {
            runs: i.periodic_runs.get_or_create_owned(&labels),
            slow: i.periodic_slow.get_or_create_owned(&labels),
            retries: i.periodic_retries.get_or_create_owned(&labels),
            duration: i.periodic_duration.get_or_create_owned(&labels),
        }
    }

    /// Reads queue task `task`'s depth at each scrape from `depth`, until it
    /// returns `None` (the queue is gone).
    pub(crate) fn track_queue_depth(
        &self,
        task: &str,
        depth: impl Fn() -> Option<f64> + Send + Sync + 'static,
    ) {
        self.inner.queue_depth.add(task.into(), depth);
    }

    /// The counters of queue task `task`.
    pub(crate) fn queue(&self, task: &str) -> QueueMetrics {
        let labels = task_labels(task);
        let i = &self.inner;
        QueueMetrics {
            completed: i.queue_completed.get_or_create_owned(&labels),
            retried: i.queue_retried.get_or_create_owned(&labels),
            failed: i.queue_failed.get_or_create_owned(&labels),
            duration: i.queue_duration.get_or_create_owned(&labels),
        }
    }

    /// Shows the service's status in `sparts_status`.
    pub(crate) fn set_status(&self, status: Status) {
        self.inner.status.set(status as i64);
    }
}

/// The registry, locked for registrations. prometheus-client ends every
/// HELP text with a period of its own: one the text ends with already is
/// left out, so a description reads the same written either way.
struct Registering<'a>(std::sync::RwLockWriteGuard<'a, Registry>);

impl Registering<'_> {
    fn register(&mut self, name: &str, help: &str, metric: impl Metric) {
        let help = help.strip_suffix('.').unwrap_or(help);
        self.0.register(name, help, metric);
    }

    fn register_collector(&mut self, collector: Box<dyn Collector>) {
        self.0.register_collector(collector);
    }
}

fn task_labels(task: &str) -> TaskLabels {
    TaskLabels { task: task.into() }
}

#[cfg(test)]
mod tests;
