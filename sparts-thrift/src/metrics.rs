//! The request metrics of a Thrift server or route: core's
//! [`RequestMetrics`] (`requests`, `errors`, `latency_ms`,
//! `<service>.<method>.latency_ms`, and
//! `rpc_server_call_duration_seconds` with `system="thrift"`).

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use sparts_core::TaskContext;
use sparts_core::server::{KnownMethod, RequestMetrics};

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
    methods: RwLock<HashMap<String, HashMap<String, Arc<KnownMethod>>>>,
}

impl Metrics {
    /// Registers the metrics of the task whose context this is, their
    /// fb303 names after `prefix`: nothing on a server, `thrift.` on a
    /// route of an HTTP task.
    pub(crate) fn register<O: Send + Sync + 'static>(ctx: &TaskContext<O>, prefix: &str) -> Self {
        Self {
            requests: RequestMetrics::register_with_prefix(ctx, prefix),
            methods: RwLock::new(HashMap::new()),
        }
    }

    /// Records one call that ended with `code` after `latency`: of
    /// `service`'s `method` when the handler knows it (`known`), in the
    /// totals only otherwise.
    pub(crate) fn record(
        &self,
        known: Option<(&str, &str)>,
        code: Cow<'static, str>,
        latency: Duration,
    ) {
        let Some((service, method)) = known else {
            self.requests.rpc_call(None, code, latency);
            return;
        };
        let found = self
            .methods
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(service)
            .and_then(|m| m.get(method))
            .cloned();
        let known = found.unwrap_or_else(|| {
            // The first call of this method: register its metrics.
            let known = Arc::new(self.requests.known_method(SYSTEM, service, method));
            let mut methods = self.methods.write().unwrap_or_else(PoisonError::into_inner);
            let by_method = methods.entry(service.to_owned()).or_default();
            Arc::clone(by_method.entry(method.to_owned()).or_insert(known))
        });
        self.requests.rpc_call(Some(&known), code, latency);
    }
}
