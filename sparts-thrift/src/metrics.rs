//! The request metrics of a Thrift server or route: core's
//! [`RequestMetrics`] (`requests`, `errors`, `latency_ms`,
//! `<service>.<method>.latency_ms`,
//! `rpc_server_call_duration_seconds` with `system="thrift"`, and the
//! access log line while the task's log is on).

use std::borrow::Cow;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use rustc_hash::FxHashMap;
use sparts_core::server::{Arrival, Called, KnownMethod, RequestMetrics};
use sparts_core::{Peer, TaskContext};

/// The `system` label of Thrift calls.
const SYSTEM: &str = "thrift";

/// The request metrics of one server (or one HTTP route). A server's
/// connections, and the bad input that closes them, are counted apart, by
/// core's `Connections`.
#[derive(Debug)]
pub(crate) struct Metrics {
    pub(crate) requests: RequestMetrics,
    /// Per-method metrics, filled only for methods a handler knows, so a
    /// client sending random names cannot grow it.
    /// By service, then method: looked up by `&str`, no key built per call.
    methods: RwLock<FxHashMap<String, FxHashMap<String, Arc<KnownMethod>>>>,
}

impl Metrics {
    /// Registers the metrics of the task whose context this is, their
    /// fb303 names after `prefix`: nothing on a server, `thrift.` on a
    /// route of an HTTP task.
    pub(crate) fn register<O: Send + Sync + 'static>(ctx: &TaskContext<O>, prefix: &str) -> Self {
        Self {
            requests: RequestMetrics::register_with_prefix(ctx, prefix),
            methods: RwLock::default(),
        }
    }

    /// Records the call of `arrival`, of `service`'s `method`, from `peer`,
    /// that ended with `code` after `latency`: per method when the handler
    /// knows it (`known`), in the totals only otherwise; in the access log
    /// either way.
    pub(crate) fn record(
        &self,
        arrival: Arrival,
        (service, method, known): (&str, &str, bool),
        code: Cow<'static, str>,
        latency: Duration,
        peer: Peer,
    ) {
        if !known {
            let called = Called::Unknown {
                system: SYSTEM,
                service,
                method,
            };
            self.requests
                .rpc_call(arrival, called, code, latency, Some(peer));
            return;
        }
        {
            let methods = self.methods.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(known) = methods.get(service).and_then(|m| m.get(method)) {
                let called = Called::Known(known);
                self.requests
                    .rpc_call(arrival, called, code, latency, Some(peer));
                return;
            }
        }
        // The first call of this method: register its metrics.
        let known = Arc::new(self.requests.known_method(SYSTEM, service, method));
        let known = {
            let mut methods = self.methods.write().unwrap_or_else(PoisonError::into_inner);
            let by_method = methods.entry(service.to_owned()).or_default();
            Arc::clone(by_method.entry(method.to_owned()).or_insert(known))
        };
        let called = Called::Known(&known);
        self.requests
            .rpc_call(arrival, called, code, latency, Some(peer));
    }
}
