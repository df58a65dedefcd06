//! The limits every server task puts on its clients: how long a request's
//! head may take to arrive, how long a connection may sit idle, and how
//! many connections may be open at once. Each transport's options flatten
//! these in under the task's prefix: `--http-header-timeout`,
//! `--grpc-idle-timeout`, `--thrift-max-connections`.

use std::time::Duration;

use crate::options::parse_seconds;

/// Limits on a server task's connections, so that slow or idle clients
/// cannot hold the server: read when the task starts (and again at each
/// restart).
#[derive(clap::Args, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionOptions {
    /// Seconds a client may take to send a whole request head (HTTP) or frame (Thrift) once its first byte arrived, or an HTTP/2 connection its preface; past it the connection is closed (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = parse_seconds)]
    pub header_timeout: Duration,

    /// Seconds a connection may wait for its next request, with nothing in flight and no byte moving, before it is closed (0: no limit).
    #[arg(long, value_name = "SECONDS", default_value = "300", value_parser = parse_seconds)]
    pub idle_timeout: Duration,

    /// Connections open at once; past it new ones wait in the listen backlog and are accepted as others close (0: no limit but the open-file limit).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_connections: usize,
}

impl Default for ConnectionOptions {
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(300),
            max_connections: 0,
        }
    }
}

impl ConnectionOptions {
    /// The two time limits, `None` where switched off.
    #[must_use]
    pub fn time_limits(&self) -> TimeLimits {
        TimeLimits {
            header: non_zero(self.header_timeout),
            idle: non_zero(self.idle_timeout),
        }
    }
}

fn non_zero(limit: Duration) -> Option<Duration> {
    (!limit.is_zero()).then_some(limit)
}

/// How long a connection may take over a request's head and stay idle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TimeLimits {
    /// From a request's first byte to its whole head (`--<prefix>-header-timeout`).
    pub header: Option<Duration>,
    /// With nothing in flight and no byte moving (`--<prefix>-idle-timeout`).
    pub idle: Option<Duration>,
}

impl TimeLimits {
    /// Limits of `header` and `idle` (`None`: no limit).
    #[must_use]
    pub fn new(header: Option<Duration>, idle: Option<Duration>) -> Self {
        Self { header, idle }
    }
}

/// Why a connection was closed before its client closed it, counted per
/// kind: `header_timeouts` and `idle_timeouts` under the task's name,
/// `sparts_server_header_timeouts_total` and
/// `sparts_server_idle_timeouts_total` on `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Timeout {
    /// A request's head (or an HTTP/2 preface) took longer than
    /// `--<prefix>-header-timeout`.
    Header,
    /// Nothing happened for `--<prefix>-idle-timeout`.
    Idle,
}

impl Timeout {
    /// The fb303 counter this kind is counted in.
    #[must_use]
    pub fn counter(self) -> &'static str {
        match self {
            Timeout::Header => "header_timeouts",
            Timeout::Idle => "idle_timeouts",
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        connection: ConnectionOptions,
    }

    #[test]
    fn defaults_match_the_flags_and_zero_switches_a_limit_off() {
        let cli = Cli::try_parse_from(["svc"]).expect("defaults parse");
        assert_eq!(cli.connection, ConnectionOptions::default());
        assert_eq!(
            cli.connection.time_limits(),
            TimeLimits::new(
                Some(Duration::from_secs(30)),
                Some(Duration::from_secs(300))
            )
        );
        let cli = Cli::try_parse_from([
            "svc",
            "--header-timeout",
            "0",
            "--idle-timeout",
            "2.5",
            "--max-connections",
            "10",
        ])
        .expect("parses");
        assert_eq!(
            cli.connection.time_limits(),
            TimeLimits::new(None, Some(Duration::from_millis(2500)))
        );
        assert_eq!(cli.connection.max_connections, 10);
    }

    #[test]
    fn a_bad_value_is_a_clear_error() {
        for (flag, value) in [
            ("--header-timeout", "soon"),
            ("--idle-timeout", "-1"),
            ("--max-connections", "many"),
        ] {
            let err = Cli::try_parse_from(["svc", flag, value])
                .err()
                .expect("refused");
            assert!(err.to_string().contains(value), "{err}");
        }
    }
}
