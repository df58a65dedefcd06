//! `sparts-top`: the dashboard of a service running elsewhere, read
//! through its HTTP admin endpoints.

use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};

use crate::dashboard::{AdminSource, Dashboard};
use crate::drive::run_full_screen;
use crate::error::{Error, Result};
use crate::remote::HttpAdmin;
use crate::terminal::missing_terminal;

/// How [`watch`] reads and draws.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TopOptions {
    /// Time between reads of the service. Default: 1 s.
    pub interval: Duration,
    /// Time between refreshes of the screen. Default: 250 ms.
    pub refresh: Duration,
}

impl Default for TopOptions {
    fn default() -> Self {
        Self {
            interval: Duration::from_secs(1),
            refresh: Duration::from_millis(250),
        }
    }
}

impl TopOptions {
    /// Reads the service every `interval`.
    #[must_use]
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }
}

/// Shows the dashboard of the service `admin` reaches until the user quits
/// (`q`, Esc, Ctrl-C) or the process gets SIGTERM, SIGINT or SIGHUP.
///
/// The service is read once before the terminal is taken, so a target
/// that does not answer, or answers with something other than a sparts
/// admin API, is a plain error. Once the dashboard is up, a service that
/// goes away shows `disconnected` and is read again every interval until
/// it comes back.
///
/// # Errors
///
/// [`Error::Unreachable`] or [`Error::NotAdmin`] from the first read,
/// [`Error::NoTerminal`] without a terminal, [`Error::Terminal`] when the
/// terminal fails.
pub async fn watch(admin: HttpAdmin, options: TopOptions) -> Result<()> {
    admin.snapshot().await?;
    if let Some(reason) = missing_terminal() {
        return Err(Error::NoTerminal {
            task: "sparts-top".to_owned(),
            reason,
        });
    }
    let mut dashboard = Dashboard::new(admin, options.interval);
    run_full_screen(&mut dashboard, options.refresh, stop_signal())
        .await
        .map(|_| ())
}

/// Completes at the first SIGTERM, SIGINT or SIGHUP.
async fn stop_signal() {
    let mut streams: Vec<_> = [
        SignalKind::terminate(),
        SignalKind::interrupt(),
        SignalKind::hangup(),
    ]
    .into_iter()
    .filter_map(|kind| signal(kind).ok())
    .collect();
    if streams.is_empty() {
        return std::future::pending().await;
    }
    let waits = streams.iter_mut().map(|s| Box::pin(s.recv()));
    futures_util::future::select_all(waits).await;
}
