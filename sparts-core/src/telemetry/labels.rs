//! The label sets of the service's Prometheus families. Label values are
//! shared strings, so recording a request allocates nothing once its route
//! or method has been seen.

use std::borrow::Cow;
use std::sync::Arc;

use prometheus_client::encoding::EncodeLabelSet;

/// `task`: every task's own metrics.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct TaskLabels {
    pub(crate) task: Arc<str>,
}

/// `http_server_request_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct HttpLabels {
    pub(crate) task: Arc<str>,
    /// A standard method, or `_OTHER`.
    pub(crate) method: &'static str,
    /// The matched route template, never the raw path.
    pub(crate) route: Arc<str>,
    pub(crate) status: u16,
}

/// `rpc_server_call_duration_seconds`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct RpcLabels {
    pub(crate) task: Arc<str>,
    pub(crate) system: &'static str,
    pub(crate) service: Arc<str>,
    pub(crate) method: Arc<str>,
    pub(crate) code: Cow<'static, str>,
}

/// `sparts_build_info`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub(crate) struct BuildLabels {
    pub(crate) service: String,
    pub(crate) version: String,
}
