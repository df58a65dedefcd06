//! What every server task shares, whatever its protocol: binding in `init`
//! (logged the same way everywhere) and the addresses bound, the hand-off
//! of the listeners from `init` to `run`, the open connections and the phase
//! of their shutdown, one shutdown plan (lame duck, stop accepting, drain,
//! cut, counted and logged in the same words everywhere), and the request
//! and connection metrics, recorded once per event in both views: fb303
//! counters under the same names on every transport, and the service's
//! labelled Prometheus families ([`telemetry`](crate::telemetry)). The
//! same record of a request writes its access log line, in the same shape
//! on every transport, while the task's access log is on, and ends the
//! request's OpenTelemetry span ([`RequestSpan`]), which its arrival
//! carries.
//!
//! Every server also puts the same limits on its clients
//! ([`ConnectionOptions`]): a maximum of open connections, a header
//! timeout and an idle timeout ([`Watched`]), each cut counted by kind.
//!
//! A transport owns only how it speaks on a connection; HTTP, gRPC and
//! Thrift build on these pieces.

mod accept;
mod access;
mod bound;
mod connections;
mod handoff;
mod incoming;
mod io;
mod limits;
mod metrics;
mod plan;
mod trace;
mod watched;

pub use crate::recent::RecentRing;
pub use accept::accept_within_limit;
pub use access::{ACCESS_LOG_TARGET, AccessLog};
pub use bound::Bound;
pub use connections::{ConnectionGuard, Connections, Phase};
pub use handoff::Handoff;
pub use incoming::Incoming;
pub use io::Cuttable;
pub use limits::{ConnectionOptions, TimeLimits, Timeout};
pub use metrics::{
    Arrival, Called, GRPC_CODES, KnownMethod, RPC_OK, RequestMetrics, latency_samples,
};
pub use plan::ShutdownPlan;
pub use trace::{RequestSpan, RequestSpanGuard};
pub use watched::{Activity, Watched};
