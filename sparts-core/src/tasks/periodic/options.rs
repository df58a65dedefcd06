//! The options of a periodic task: its interval and the task's own.

use std::time::Duration;

use crate::options::parse_interval;

/// Options of a [`PeriodicTask`](super::PeriodicTask) (and a
/// [`PollerTask`](crate::tasks::PollerTask)): `--<prefix>-interval`,
/// `--<prefix>-coordination`, `--<prefix>-lease-ttl` and the task's own
/// options (the `O` of [`Periodic`](super::Periodic)), which this struct
/// derefs to.
///
/// ```
/// use sparts_core::{clap::Parser, tasks::PeriodicOptions};
///
/// /// The task's own options.
/// #[derive(sparts_core::clap::Args, Debug, Clone)]
/// struct Greeting {
///     /// Whom to greet.
///     #[arg(long, default_value = "world")]
///     name: String,
/// }
///
/// #[derive(Parser)]
/// struct Cli {
///     #[command(flatten)]
///     task: PeriodicOptions<Greeting>,
/// }
///
/// let cli = Cli::parse_from(["cli", "--interval", "0.25", "--name", "you"]);
/// assert_eq!(cli.task.interval, std::time::Duration::from_millis(250));
/// assert_eq!(cli.task.name, "you", "through Deref");
/// assert_eq!(cli.task.coordination, "none", "every replica runs every tick");
/// ```
#[derive(clap::Args, Debug, Clone)]
pub struct PeriodicOptions<O: clap::Args> {
    /// Seconds between executions (fractional); a change applies from the next tick.
    #[arg(long, default_value = "1", value_parser = parse_interval, value_name = "SECONDS")]
    pub interval: Duration,

    /// Where the replicas of the service agree on which one runs each
    /// tick: `none` (each runs every tick), or a coordinator's URL such as
    /// `nats://127.0.0.1:4222`.
    ///
    /// With one, ticks sit on a wall-clock grid (tick k is due k intervals
    /// after the Unix epoch), and the interval is read at start: give every
    /// replica the same. Read at start.
    #[arg(long, default_value = "none", value_name = "none|URL")]
    pub coordination: String,

    /// With coordination: how long the lease outlives its holder's last
    /// renewal, so how long a replica that dies holds the ticks up.
    ///
    /// Read at start.
    #[arg(long, default_value = "10", value_parser = parse_interval, value_name = "SECONDS")]
    pub lease_ttl: Duration,

    /// The task's own options.
    #[command(flatten)]
    pub extra: O,
}

impl<O: clap::Args> std::ops::Deref for PeriodicOptions<O> {
    type Target = O;

    fn deref(&self) -> &O {
        &self.extra
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intervals_are_positive_seconds() {
        assert_eq!(parse_interval("0.01"), Ok(Duration::from_millis(10)));
        assert_eq!(parse_interval("2"), Ok(Duration::from_secs(2)));
        assert!(parse_interval("0").is_err());
        assert!(parse_interval("-1").is_err());
        assert!(parse_interval("soon").is_err());
    }
}
