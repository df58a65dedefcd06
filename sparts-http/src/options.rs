//! The options of an [`HttpTask`](crate::HttpTask).

use std::time::Duration;

use sparts_core::{clap, options::parse_seconds};

use sparts_core::listen::ListenOptions;
use sparts_core::server::ConnectionOptions;
use sparts_core::tls::TlsOptions;

/// Options of an [`HttpTask`](crate::HttpTask), under its prefix (`http` by
/// default: `--http-port`; a second task registered with
/// `TaskSpec::with_prefix("admin")` reads `--admin-port`).
///
/// The addresses, the connection limits and the body limit are read when
/// the task starts (and again at each restart), so a change at run time
/// applies from the next restart; `lameduck` is read when shutdown begins;
/// `access_log` applies at once.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Where to listen: `host` and `port`, or `sock`.
    #[command(flatten)]
    pub listen: ListenOptions,

    /// Limits on slow and idle clients and on open connections.
    #[command(flatten)]
    pub connection: ConnectionOptions,

    /// TLS (HTTP/2 and HTTP/1.1 by ALPN), and mutual TLS.
    #[command(flatten)]
    pub tls: TlsOptions,

    /// Largest request body, in bytes: a larger one is answered 413 (0: no limit).
    #[arg(long, value_name = "BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Give the unix socket to this group, with mode 0660.
    #[arg(long, value_name = "GROUP", requires = "sock")]
    pub sock_group: Option<String>,

    /// Seconds to keep serving once shutdown begins (/readyz answers 503 meanwhile).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub lameduck: Duration,

    /// Log a line per request (method, route, status, duration, peer) at info under the target sparts::access.
    #[arg(long)]
    pub access_log: bool,
}
