//! The options of an [`HttpTask`](crate::HttpTask).

use std::path::PathBuf;
use std::time::Duration;

use sparts_core::{clap, parse_seconds};

/// Options of an [`HttpTask`](crate::HttpTask), under its prefix (`http` by
/// default: `--http-port`; a second task registered with
/// `TaskSpec::with_prefix("admin")` reads `--admin-port`).
///
/// The addresses are read when the task starts (and again at each restart),
/// so a change at run time applies from the next restart; `lameduck` is read
/// when shutdown begins.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct HttpOptions {
    /// Address or host name to listen on (default: every interface, IPv4 and IPv6).
    #[arg(long, value_name = "HOST", conflicts_with = "sock")]
    pub host: Option<String>,

    /// TCP port to listen on; 0 picks a free port (logged at start).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 0,
        conflicts_with = "sock"
    )]
    pub port: u16,

    /// Listen on this unix socket instead of TCP (mode 0600; a stale socket file is replaced).
    #[arg(long, value_name = "PATH")]
    pub sock: Option<PathBuf>,

    /// Give the unix socket to this group, with mode 0660.
    #[arg(long, value_name = "GROUP", requires = "sock")]
    pub sock_group: Option<String>,

    /// Seconds to keep serving once shutdown begins (/readyz answers 503 meanwhile).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub lameduck: Duration,
}
