//! The options of a [`ThriftServerTask`](crate::ThriftServerTask).

use std::time::Duration;

use sparts_core::listen::ListenOptions;
use sparts_core::options::parse_seconds;
use sparts_core::server::ConnectionOptions;
use sparts_core::tls::TlsOptions;

use crate::wire::{Protocol, Transport};

/// Options of a [`ThriftServerTask`](crate::ThriftServerTask), under its
/// prefix (`thrift` by default: `--thrift-port`; a second server registered
/// with `TaskSpec::with_prefix("admin")` reads `--admin-port`).
///
/// Read when the task starts (and again at each restart); `lameduck` is
/// read when shutdown begins; `access_log` applies at once.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct ThriftOptions {
    /// Where to listen: `host` and `port`, or `sock` (its peers are trusted).
    #[command(flatten)]
    pub listen: ListenOptions,

    /// Limits on slow and idle clients and on open connections: the
    /// header timeout bounds the time from a request's first byte to its
    /// whole frame (or message, buffered).
    #[command(flatten)]
    pub connection: ConnectionOptions,

    /// TLS (what Thrift's `TSSLSocket` speaks), and mutual TLS.
    #[command(flatten)]
    pub tls: TlsOptions,

    /// Seconds to keep serving once shutdown begins (fb303's getStatus answers STOPPING meanwhile).
    #[arg(long, value_name = "SECONDS", default_value = "0", value_parser = parse_seconds)]
    pub lameduck: Duration,

    /// Worker threads that run handler code.
    #[arg(long, value_name = "N", default_value_t = 8,
          value_parser = clap::value_parser!(u16).range(1..=4096))]
    pub threads: u16,

    /// How messages are delimited on the connection.
    #[arg(long, value_name = "TRANSPORT", value_enum, default_value_t = Transport::Framed)]
    pub transport: Transport,

    /// How messages are encoded.
    #[arg(long, value_name = "PROTOCOL", value_enum, default_value_t = Protocol::Binary)]
    pub protocol: Protocol,

    /// Microseconds a connection waits for its next request awake before
    /// sleeping, when its client calls quickly (one connection at a time; 0:
    /// never). Saves waking an idle CPU on every call of a busy client.
    #[arg(long, value_name = "MICROSECONDS", default_value_t = 50,
          value_parser = clap::value_parser!(u16).range(0..=10_000))]
    pub busy_poll: u16,

    /// Largest request accepted, in bytes; a larger one closes its connection.
    #[arg(long, value_name = "BYTES", default_value_t = 16 * 1024 * 1024,
          value_parser = clap::value_parser!(u32).range(16..=1 << 30))]
    pub max_frame_bytes: u32,

    /// Log a line per call (service, method, status, duration, peer) at info under the target sparts::access.
    #[arg(long)]
    pub access_log: bool,
}
