//! The options of a [`GrpcTask`](crate::GrpcTask).

use std::time::Duration;

use sparts_core::listen::ListenOptions;
use sparts_core::server::ConnectionOptions;
use sparts_core::tls::TlsOptions;
use sparts_core::{clap, options::parse_seconds};

/// Options of a [`GrpcTask`](crate::GrpcTask), under its prefix (`grpc` by
/// default: `--grpc-port`; a second task registered with
/// `TaskSpec::with_prefix("admin")` reads `--admin-port`).
///
/// Read when the task starts (and again at each restart); `lameduck` is
/// read when shutdown begins; `access_log` applies at once.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct GrpcOptions {
    /// Where to listen: `host` and `port`, or `sock`.
    #[command(flatten)]
    pub listen: ListenOptions,

    /// Limits on slow and idle clients and on open connections. A call in
    /// flight moves no byte while its handler runs: with a handler slower
    /// than the idle timeout, raise it or turn `keepalive` on.
    #[command(flatten)]
    pub connection: ConnectionOptions,

    /// TLS (`h2` by ALPN), and mutual TLS.
    #[command(flatten)]
    pub tls: TlsOptions,

    /// Seconds to keep serving once shutdown begins (health answers NOT_SERVING meanwhile).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub lameduck: Duration,

    /// Largest message the built-in services (admin, health, reflection) accept or send, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_message_size: usize,

    /// Most requests served at once on one connection (0: no limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub concurrency_per_connection: usize,

    /// Most concurrent streams a client may open on one connection (0: HTTP/2's default).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_concurrent_streams: u32,

    /// Seconds a request may take before it is answered CANCELLED (0: no limit; a client's grpc-timeout still applies).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub request_timeout: Duration,

    /// Seconds between HTTP/2 keepalive pings to idle clients (0: none).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub keepalive: Duration,

    /// Log a line per call (service, method, status, duration, peer) at info under the target sparts::access.
    #[arg(long)]
    pub access_log: bool,
}
