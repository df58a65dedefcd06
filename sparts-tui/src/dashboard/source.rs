//! Where the dashboard's reads come from (the service in this process, or
//! one reached over HTTP), and the task that reads it in the background so
//! that a slow or gone service never stalls the screen.

use std::future::Future;
use std::time::Duration;

use sparts_core::logging::ConsoleCapture;
use sparts_core::{Admin, Peer};
use tokio::sync::{mpsc, watch};
use tokio::time::MissedTickBehavior;

use super::model::AdminSnapshot;
use crate::error::Result;

/// A service's admin model, as the dashboard reads and changes it.
pub trait AdminSource: Send + Sync + 'static {
    /// Where the service is, as the header shows it.
    fn describe(&self) -> String;

    /// Reads status, counters, options and exported values.
    fn snapshot(&self) -> impl Future<Output = Result<AdminSnapshot>> + Send;

    /// Sets an option through the admin model (with its validation and
    /// its trust check); answers the option's new value.
    fn set_option(
        &self,
        name: &str,
        value: &str,
    ) -> impl Future<Output = Result<Option<String>>> + Send;
}

/// The service this process runs. Holds the log's terminal lines while it
/// lives, to show them.
#[derive(Debug)]
pub struct LocalAdmin {
    admin: Admin,
    log: ConsoleCapture,
}

/// How many log lines the dashboard keeps from the service in process.
const LOG_LINES: usize = 200;

impl LocalAdmin {
    /// Reads `admin`, in process.
    pub fn new(admin: Admin) -> Self {
        Self {
            admin,
            log: ConsoleCapture::start(),
        }
    }

    fn read(&self) -> AdminSnapshot {
        let admin = &self.admin;
        AdminSnapshot {
            name: admin.name().to_owned(),
            version: admin.version().to_owned(),
            status: admin.status().as_str().to_owned(),
            details: admin.status_details().lines().map(str::to_owned).collect(),
            uptime: admin.uptime(),
            tasks: admin.task_names(),
            counters: admin.counters().to_map(),
            options: admin.options(),
            exported: admin.exported_values(),
            log: Some(self.log.recent_lines(LOG_LINES)),
        }
    }
}

impl AdminSource for LocalAdmin {
    fn describe(&self) -> String {
        "in process".to_owned()
    }

    async fn snapshot(&self) -> Result<AdminSnapshot> {
        Ok(self.read())
    }

    async fn set_option(&self, name: &str, value: &str) -> Result<Option<String>> {
        // The operator at the service's own terminal is the process.
        self.admin.set_option(&Peer::InProcess, name, value)?;
        Ok(self.admin.option(name)?)
    }
}

/// A read as the dashboard gets it: the snapshot, or why there is none.
pub(crate) type Read = std::result::Result<AdminSnapshot, String>;

/// An option change asked by the user.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct SetOption {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// What became of an option change.
pub(crate) type SetResult = (String, std::result::Result<Option<String>, String>);

/// The dashboard's end of the background reader.
#[derive(Debug)]
pub(crate) struct Feed {
    pub(crate) reads: watch::Receiver<Option<Read>>,
    pub(crate) changes: mpsc::UnboundedSender<SetOption>,
    pub(crate) results: mpsc::UnboundedReceiver<SetResult>,
}

/// Reads `source` every `interval` on a task of the current runtime, and
/// applies the option changes sent to it; ends when the [`Feed`] is dropped.
pub(crate) fn spawn_feed<S: AdminSource>(source: S, interval: Duration) -> Feed {
    let (reads_tx, reads) = watch::channel(None);
    let (changes, mut changes_rx) = mpsc::unbounded_channel::<SetOption>();
    let (results_tx, results) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                change = changes_rx.recv() => {
                    let Some(SetOption { name, value }) = change else { return };
                    let result = source.set_option(&name, &value).await;
                    let _ = results_tx.send((name, result.map_err(|e| e.to_string())));
                    // The next read shows the change (and what followed it).
                    ticks.reset_immediately();
                }
                _ = ticks.tick() => {
                    let read = source.snapshot().await.map_err(|e| e.to_string());
                    if reads_tx.send(Some(read)).is_err() {
                        return;
                    }
                }
            }
        }
    });
    Feed {
        reads,
        changes,
        results,
    }
}
