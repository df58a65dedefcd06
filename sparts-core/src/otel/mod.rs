//! OpenTelemetry traces (the `otel` feature): their configuration, from
//! the options ([`OtelOptions`](crate::options::OtelOptions)) and the
//! standard variables, and the pipeline that exports the request spans ([`RequestSpan`](crate::server::RequestSpan)) over OTLP.
//!
//! Nothing is built, and requests get no span, until an endpoint is
//! configured. Spans leave through a bounded queue on a thread of their
//! own: a slow or unreachable collector costs dropped spans (logged), never
//! a request's time.

mod config;
mod filter;
mod on_runtime;
mod pipeline;

use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use config::Config;
pub(crate) use pipeline::Pipeline;

/// Whether a pipeline is installed: requests get spans from then on.
static ON: AtomicBool = AtomicBool::new(false);

/// Whether requests get spans.
#[inline]
pub(crate) fn is_on() -> bool {
    ON.load(Ordering::Relaxed)
}
