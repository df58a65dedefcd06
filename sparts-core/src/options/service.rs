//! The options every service has.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

use super::log::{LogFilter, LogFormat};

/// Options of the service itself (no prefix): logging, task selection,
/// shutdown, admin trust and daemon control.
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct ServiceOptions {
    /// What to log: a level (error, warn, info, debug, trace, off; WARNING and CRITICAL too) or tracing's filter directives, e.g. info,h2=warn,my_crate=debug.
    #[arg(long, default_value = "info", value_parser = LogFilter::from_str, value_name = "DIRECTIVES")]
    pub level: LogFilter,

    /// How log lines are written: text, or json (one object per line).
    #[arg(long, value_enum, default_value_t = LogFormat::Text, value_name = "FORMAT")]
    pub log_format: LogFormat,

    /// Append logs to this file instead of stderr (reopened on SIGHUP, for logrotate).
    #[arg(long, value_name = "PATH")]
    pub logfile: Option<PathBuf>,

    /// Tell tasks to make no changes outside the process.
    #[arg(long)]
    pub dryrun: bool,

    /// Run only these tasks (and what they depend on); with no names, list the tasks and exit.
    #[arg(long, num_args = 0.., value_name = "TASK")]
    pub tasks: Option<Vec<String>>,

    /// Seconds that stopping all tasks may take before the rest are aborted.
    #[arg(long, default_value = "10", value_parser = parse_seconds, value_name = "SECONDS")]
    pub shutdown_timeout: Duration,

    /// Networks (CIDRs) whose peers may call mutating admin methods (set option, reinitialize, shutdown).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "127.0.0.0/8,::1/128",
        value_name = "CIDR"
    )]
    pub admin_trusted: Vec<IpNet>,

    /// Detach from the terminal and run in the background (needs --logfile to keep logs).
    #[arg(long)]
    pub daemon: bool,

    /// The pidfile, locked while the service runs (default: /var/run/SERVICE.pid).
    #[arg(long, value_name = "PATH")]
    pub pidfile: Option<PathBuf>,

    /// Stop the daemon named by --pidfile (SIGTERM, then wait up to --shutdown-timeout) and exit.
    #[arg(long, conflicts_with_all = ["status", "daemon"])]
    pub kill: bool,

    /// Exit 0 if the daemon named by --pidfile runs, 1 if not.
    #[arg(long, conflicts_with = "daemon")]
    pub status: bool,

    /// Take over from the process running with the same --pidfile: its listening sockets pass to this one, which serves on them once started while the old one drains and exits.
    #[arg(long, conflicts_with_all = ["status", "kill"])]
    pub upgrade: bool,

    /// Read options from this TOML file: the service's at the top level, each task's in a table named by its prefix. The command line and the environment take precedence; read again on SIGHUP.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print a complete, commented config file of every option and its current value, and exit.
    #[arg(long)]
    pub generate_config: bool,

    /// Installing under a supervisor: `--print-systemd-unit`,
    /// `--install-systemd`, `--runit-install` and their companions.
    #[command(flatten)]
    pub supervise: super::SuperviseOptions,

    /// OpenTelemetry traces: `--otel-endpoint` and the rest.
    #[cfg(feature = "otel")]
    #[command(flatten)]
    pub otel: super::OtelOptions,
}

/// The service options that take effect while the service runs; the others
/// are read at start (or restart) and refuse to change at run time.
pub(crate) const LIVE_SERVICE_OPTIONS: &[&str] =
    &["level", "dryrun", "shutdown_timeout", "admin_trusted"];

/// Parses non-negative, finite, fractional seconds.
pub fn parse_seconds(s: &str) -> Result<Duration, String> {
    let secs: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("`{s}` is not a number of seconds"))?;
    Duration::try_from_secs_f64(secs)
        .map_err(|_| format!("`{s}` is not a non-negative, finite number of seconds"))
}

/// Parses positive, finite, fractional seconds: an interval of zero would
/// run a loop without pause.
pub fn parse_interval(s: &str) -> Result<Duration, String> {
    let interval = parse_seconds(s)?;
    if interval.is_zero() {
        return Err(format!("`{s}`: the interval must be more than 0 seconds"));
    }
    Ok(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_reject_nonsense() {
        assert_eq!(parse_seconds("0.5"), Ok(Duration::from_millis(500)));
        assert!(parse_seconds("-1").is_err());
        assert!(parse_seconds("inf").is_err());
        assert!(parse_seconds("NaN").is_err());
        assert!(parse_seconds("soon").is_err());
    }
}
