//! What a server task records per request and per connection.

use std::borrow::Cow;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use prometheus_client::metrics::counter::Counter;
use rustc_hash::FxHashMap;

use super::Histograms;
use super::callback::CallbackGauges;
use super::histogram::Histogram;
use super::labels::{HttpLabels, RpcLabels};
use crate::recent::RecentRing;

/// The HTTP request histogram of one task,
/// `http_server_request_duration_seconds{task,method,route,status}`.
#[derive(Debug, Clone)]
pub struct HttpServerMetrics {
    family: Histograms<HttpLabels>,
    task: Arc<str>,
    /// Names this task's series in the threads' recent series; clones
    /// share it, as they share the series.
    id: u64,
    /// The series recorded so far, by route: read without a lock or a
    /// shared reference count, so that requests on different threads
    /// write no common cache line before their series' own. Hashed with
    /// Fx: the keys are the application's route templates, which no client
    /// chooses.
    series: Arc<ArcSwap<FxHashMap<Arc<str>, Vec<HttpSeries>>>>,
}

/// One series of [`HttpServerMetrics`], under its route.
#[derive(Debug, Clone)]
struct HttpSeries {
    method: &'static str,
    status: u16,
    histogram: Histogram,
}

impl HttpServerMetrics {
    pub(super) fn new(family: Histograms<HttpLabels>, task: &str) -> Self {
        static NEXT_ID: AtomicU64 = AtomicU64::new(0);
        Self {
            family,
            task: task.into(),
            id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
            series: Arc::default(),
        }
    }

    /// Records one request: its method (`_OTHER` for a method HTTP does
    /// not define, as OpenTelemetry's conventions say, so that a client
    /// cannot grow the number of series), the route template it matched
    /// (`/kv/{key}`; a fixed placeholder for requests that matched none,
    /// never the raw path), the response status and the time to the
    /// response head.
    pub fn observe(&self, method: &str, route: &str, status: u16, latency: Duration) {
        let method = method_label(method);
        let seconds = latency.as_secs_f64();
        // A thread destroying its locals records through the map.
        let recorded = RECENT
            .try_with(|recent| {
                let recent = recent.borrow();
                let found = recent.find(|key| {
                    key.owner == self.id
                        && key.status == status
                        && key.method == method
                        && *key.route == *route
                });
                found
                    .inspect(|key| key.histogram.observe(seconds))
                    .is_some()
            })
            .unwrap_or(false);
        if recorded {
            return;
        }
        let (route, histogram) = self.series_of(method, route, status);
        histogram.observe(seconds);
        let _ = RECENT.try_with(|recent| {
            recent.borrow_mut().keep(SeriesKey {
                owner: self.id,
                route,
                method,
                status,
                histogram,
            });
        });
    }

    /// The series of a request and its route's key in the map: found in
    /// the map, or made and kept.
    fn series_of(&self, method: &'static str, route: &str, status: u16) -> (Arc<str>, Histogram) {
        let known = self.series.load();
        let found = known.get_key_value(route).and_then(|(route, series)| {
            series
                .iter()
                .find(|s| s.method == method && s.status == status)
                .map(|s| (Arc::clone(route), s.histogram.clone()))
        });
        match found {
            Some(found) => found,
            None => {
                drop(known);
                self.add(method, route, status)
            }
        }
    }

    /// The series of a request not seen before, made and kept.
    #[cold]
    fn add(&self, method: &'static str, route: &str, status: u16) -> (Arc<str>, Histogram) {
        let route: Arc<str> = route.into();
        let labels = HttpLabels {
            task: Arc::clone(&self.task),
            method,
            route: Arc::clone(&route),
            status,
        };
        let histogram = self.family.get_or_create_owned(&labels);
        self.series.rcu(|known| {
            let mut next = FxHashMap::clone(known);
            let series = next.entry(Arc::clone(&route)).or_default();
            // Another thread may have added it meanwhile.
            if !series
                .iter()
                .any(|s| s.method == method && s.status == status)
            {
                series.push(HttpSeries {
                    method,
                    status,
                    histogram: histogram.clone(),
                });
            }
            next
        });
        (route, histogram)
    }
}

thread_local! {
    /// The few HTTP series this thread recorded last, of any task: the
    /// requests of a keep-alive connection mostly ask for the same routes
    /// again, and find their series here without loading the shared map or
    /// hashing the route. Keys are compared by value (a task's id is never
    /// reused), so a freed route cannot be mistaken for another.
    static RECENT: RefCell<RecentRing<SeriesKey, RECENT_SERIES>> = const { RefCell::new(RecentRing::new()) };
}

/// How many series each thread keeps at hand.
const RECENT_SERIES: usize = 4;

/// One series and what finds it.
struct SeriesKey {
    owner: u64,
    route: Arc<str>,
    method: &'static str,
    status: u16,
    histogram: Histogram,
}

/// One of the methods HTTP itself defines, as a static string; `None` for
/// an extension method, which any client may invent.
pub(crate) fn standard_method(method: &str) -> Option<&'static str> {
    const STANDARD: [&str; 9] = [
        "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH",
    ];
    STANDARD.iter().copied().find(|m| *m == method)
}

/// The label of an HTTP method, on metrics and spans alike: the standard
/// ones as they are, `_OTHER` (OpenTelemetry's name) for the rest.
pub(crate) fn method_label(method: &str) -> &'static str {
    standard_method(method).unwrap_or("_OTHER")
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
/// by every call, and its series (one per code) are found without a lock.
/// It records into the series of the server that made it.
#[derive(Debug, Clone)]
pub struct RpcMethod {
    service: Arc<str>,
    method: Arc<str>,
    by_code: Arc<ArcSwap<Vec<CodeSeries>>>,
}

/// One series of an [`RpcMethod`]: its code and its histogram.
type CodeSeries = (Cow<'static, str>, Histogram);

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
            by_code: Arc::default(),
        }
    }

    /// Records one call of `method` (made by [`method`](Self::method) of
    /// this server) that ended with `code` (gRPC's status name such as
    /// `OK` or `NOT_FOUND`; for Thrift `OK`, the exception's name, or
    /// `APPLICATION_ERROR`) after `latency`.
    pub fn observe(
        &self,
        method: &RpcMethod,
        code: impl Into<Cow<'static, str>>,
        latency: Duration,
    ) {
        let code = code.into();
        let seconds = latency.as_secs_f64();
        let known = method.by_code.load();
        match known.iter().find(|(known, _)| *known == code) {
            Some((_, histogram)) => histogram.observe(seconds),
            None => {
                drop(known);
                self.add(method, code).observe(seconds);
            }
        }
    }

    /// The series of a code `method` has not ended with before, made and
    /// kept.
    #[cold]
    fn add(&self, method: &RpcMethod, code: Cow<'static, str>) -> Histogram {
        let labels = RpcLabels {
            task: Arc::clone(&self.task),
            system: self.system,
            service: Arc::clone(&method.service),
            method: Arc::clone(&method.method),
            code: code.clone(),
        };
        let histogram = self.family.get_or_create_owned(&labels);
        method.by_code.rcu(|known| {
            let mut next = Vec::clone(known);
            if !next.iter().any(|(known, _)| *known == code) {
                next.push((code.clone(), histogram.clone()));
            }
            next
        });
        histogram
    }
}

/// The connection counters of one server task:
/// `sparts_server_connections_total`, `sparts_server_cut_connections_total`,
/// `sparts_server_bad_input_total`, `sparts_server_header_timeouts_total`,
/// `sparts_server_idle_timeouts_total`,
/// `sparts_server_connection_limit_reached_total` and the gauge
/// `sparts_server_open_connections`, each with its `task` label.
#[derive(Debug, Clone)]
pub struct ConnectionMetrics {
    accepted: Counter,
    cut: Counter,
    bad_input: Counter,
    header_timeouts: Counter,
    idle_timeouts: Counter,
    limit_reached: Counter,
    open: Arc<CallbackGauges>,
    task: Arc<str>,
}

impl ConnectionMetrics {
    pub(super) fn new(
        accepted: Counter,
        cut: Counter,
        bad_input: Counter,
        [header_timeouts, idle_timeouts, limit_reached]: [Counter; 3],
        open: Arc<CallbackGauges>,
        task: Arc<str>,
    ) -> Self {
        Self {
            accepted,
            cut,
            bad_input,
            header_timeouts,
            idle_timeouts,
            limit_reached,
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

    /// Counts a connection closed for taking too long over a request's
    /// head.
    pub fn header_timed_out(&self) {
        self.header_timeouts.inc();
    }

    /// Counts a connection closed for staying idle.
    pub fn idle_timed_out(&self) {
        self.idle_timeouts.inc();
    }

    /// Counts a time the maximum of connections held new ones back.
    pub fn limit_reached(&self) {
        self.limit_reached.inc();
    }

    /// Reads the open connections at each scrape from `open`, until it
    /// returns `None`.
    pub fn track_open(&self, open: impl Fn() -> Option<f64> + Send + Sync + 'static) {
        self.open.add(Arc::clone(&self.task), open);
    }
}
