//! What every server task shares, whatever its protocol: binding in `init`
//! (logged the same way everywhere) and the addresses bound, the hand-off
//! of the listeners from `init` to `run`, the open connections and the phase
//! of their shutdown, one shutdown plan (lame duck, stop accepting, drain,
//! cut, counted and logged in the same words everywhere), the request
//! counters under the same names, and each request's span for
//! OpenTelemetry.
//!
//! A transport owns only how it speaks on a connection; HTTP, gRPC and
//! Thrift build on these pieces.

mod bound;
mod connections;
mod handoff;
mod io;
mod metrics;
mod plan;
mod trace;

pub use bound::Bound;
pub use connections::{ConnectionGuard, Connections, Phase};
pub use handoff::Handoff;
pub use io::Cuttable;
pub use metrics::{RequestMetrics, latency_samples};
pub use plan::ShutdownPlan;
pub(crate) use trace::TARGET as REQUEST_SPAN_TARGET;
pub use trace::{RequestSpan, RequestSpanGuard};
