//! The watcher's loop: open the directory, follow it, report, and start
//! again when it goes away.

use std::ffi::OsString;
use std::io;
use std::path::Path;
use std::sync::Arc;

use tokio::sync::watch as state;

use super::snapshot::{self, Change, Entries, RootId};
use super::source::Notifications;
use super::{DirectoryHandler, DirectoryWatcherOptions, WatchMode};
use crate::counters::Counter;
use crate::status::WarningId;
use crate::task::{OptionsWatch, TaskContext};

type Ctx = TaskContext<DirectoryWatcherOptions>;

/// Why following a directory ended.
enum End {
    /// The task is stopping.
    Stopped,
    /// The path or the mode changed: watch afresh.
    Reconfigure,
    /// The directory cannot be read any more.
    Lost(io::Error),
    /// Open the directory again now: another directory is at the path,
    /// notifications ended, or it is time to retry.
    Reopen,
}

/// Watches until the task stops, afresh at each change of path or mode.
pub(super) async fn run<H: DirectoryHandler>(
    ctx: &Ctx,
    handler: &H,
    state: &state::Sender<Option<WatchMode>>,
) {
    let mut options = ctx.watch_options();
    let counters = Counters::new(ctx);
    loop {
        let mut watch = Watch {
            ctx,
            handler,
            state,
            counters: &counters,
            opts: options.current(),
            known: Entries::new(),
            warning: None,
        };
        let end = watch.run(&mut options).await;
        watch.clear_warning();
        state.send_replace(None);
        if matches!(end, End::Stopped) {
            return;
        }
    }
}

struct Counters {
    created: Counter,
    deleted: Counter,
    changed: Counter,
    scans: Counter,
}

impl Counters {
    fn new(ctx: &Ctx) -> Self {
        let c = ctx.counters();
        Self {
            created: c.counter("n_created"),
            deleted: c.counter("n_deleted"),
            changed: c.counter("n_changed"),
            scans: c.counter("n_scans"),
        }
    }
}

/// One directory, watched with one set of options.
struct Watch<'a, H> {
    ctx: &'a Ctx,
    handler: &'a H,
    state: &'a state::Sender<Option<WatchMode>>,
    counters: &'a Counters,
    /// The options this watch started with; the poll interval is re-read.
    opts: Arc<DirectoryWatcherOptions>,
    /// The entries as last reported.
    known: Entries,
    warning: Option<(WarningId, String)>,
}

/// A directory just opened.
struct Opened {
    root: RootId,
    entries: Entries,
    /// `None` when polling.
    notifications: Option<Notifications>,
    /// Why notifications could not be set up, when they were wanted.
    fallback: Option<notify::Error>,
}

impl<H: DirectoryHandler> Watch<'_, H> {
    async fn run(&mut self, options: &mut OptionsWatch<DirectoryWatcherOptions>) -> End {
        let path = self.opts.path.clone();
        // Only entries present when the task starts watching are "existing";
        // a directory missing at start has none, so all of its are new.
        let mut at_start = true;
        loop {
            let opened = match std::path::absolute(&path) {
                Ok(abs) => self.open(&abs).await.map(|opened| (abs, opened)),
                Err(e) => Err(e),
            };
            let report_existing = !at_start || self.opts.include_existing;
            at_start = false;
            let end = match opened {
                Ok((abs, opened)) => {
                    self.follow(&path, &abs, opened, report_existing, options)
                        .await
                }
                Err(e) => End::Lost(e),
            };
            self.state.send_replace(None);
            match end {
                End::Stopped | End::Reconfigure => return end,
                End::Reopen => {}
                End::Lost(e) => {
                    let gone = snapshot::delete_all(&mut self.known);
                    if !self.report(gone).await {
                        return End::Stopped;
                    }
                    match self.wait_for_retry(e, options).await {
                        End::Reopen => {}
                        end => return end,
                    }
                }
            }
        }
    }

    /// Sets up notifications (unless polling is forced), then reads the
    /// directory: in that order, so that nothing happens unseen in between.
    async fn open(&self, abs: &Path) -> io::Result<Opened> {
        let abs = abs.to_owned();
        let polling = self.opts.force_polling;
        let opened = tokio::task::spawn_blocking(move || open(&abs, polling)).await;
        self.counters.scans.increment();
        opened.unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    /// Reports the first look at the directory, then follows it.
    async fn follow(
        &mut self,
        path: &Path,
        abs: &Path,
        opened: Opened,
        report_existing: bool,
        options: &mut OptionsWatch<DirectoryWatcherOptions>,
    ) -> End {
        if self.warning.is_some() {
            tracing::info!("{} can be watched again", path.display());
            self.clear_warning();
        }
        let first = if report_existing {
            snapshot::apply_scan(&mut self.known, opened.entries)
        } else {
            self.known = opened.entries;
            Vec::new()
        };
        let root = opened.root;
        match (&opened.notifications, opened.fallback) {
            (Some(_), _) => tracing::info!("watching {} (notifications)", path.display()),
            (None, Some(why)) => tracing::warn!(
                "notifications unavailable for {} ({why}): polling every {:?}",
                path.display(),
                self.ctx.options().poll_interval
            ),
            (None, None) => tracing::info!(
                "polling {} every {:?}",
                path.display(),
                self.ctx.options().poll_interval
            ),
        }
        let mode = if opened.notifications.is_some() {
            WatchMode::Notifications
        } else {
            WatchMode::Polling
        };
        self.state.send_replace(Some(mode));
        if !self.report(first).await {
            return End::Stopped;
        }
        match opened.notifications {
            Some(notifications) => {
                self.follow_notifications(abs, root, notifications, options)
                    .await
            }
            None => self.follow_polling(abs, options).await,
        }
    }

    async fn follow_notifications(
        &mut self,
        abs: &Path,
        root: RootId,
        mut notifications: Notifications,
        options: &mut OptionsWatch<DirectoryWatcherOptions>,
    ) -> End {
        loop {
            let batch = tokio::select! {
                () = self.ctx.stopped() => return End::Stopped,
                opts = options.changed() => {
                    if self.reconfigured(&opts) {
                        return End::Reconfigure;
                    }
                    continue;
                }
                batch = notifications.next(abs) => batch,
            };
            let Some(batch) = batch else {
                tracing::warn!(
                    "notifications for {} ended; opening it again",
                    abs.display()
                );
                return End::Reopen;
            };
            let looked = if batch.rescan {
                None
            } else {
                self.stat(abs, batch.names).await.ok()
            };
            let changes = match looked {
                Some(changes) => changes,
                // Lost events, the directory itself touched, or an entry that
                // could not be read: look at everything.
                None => match self.scan(abs).await {
                    Ok((now, _)) if now != root => return End::Reopen,
                    Ok((_, entries)) => snapshot::apply_scan(&mut self.known, entries),
                    Err(e) => return End::Lost(e),
                },
            };
            if !self.report(changes).await {
                return End::Stopped;
            }
        }
    }

    async fn follow_polling(
        &mut self,
        abs: &Path,
        options: &mut OptionsWatch<DirectoryWatcherOptions>,
    ) -> End {
        loop {
            let interval = self.ctx.options().poll_interval;
            tokio::select! {
                () = self.ctx.stopped() => return End::Stopped,
                opts = options.changed() => {
                    if self.reconfigured(&opts) {
                        return End::Reconfigure;
                    }
                    continue;
                }
                () = tokio::time::sleep(interval) => {}
            }
            let changes = match self.scan(abs).await {
                Ok((_, entries)) => snapshot::apply_scan(&mut self.known, entries),
                Err(e) => return End::Lost(e),
            };
            if !self.report(changes).await {
                return End::Stopped;
            }
        }
    }

    /// Registers the warning for `error` and waits a poll interval (or for
    /// a stop or a new path) before the next attempt.
    async fn wait_for_retry(
        &mut self,
        error: io::Error,
        options: &mut OptionsWatch<DirectoryWatcherOptions>,
    ) -> End {
        self.warn(&error);
        loop {
            let interval = self.ctx.options().poll_interval;
            tokio::select! {
                () = self.ctx.stopped() => return End::Stopped,
                opts = options.changed() => {
                    if self.reconfigured(&opts) {
                        return End::Reconfigure;
                    }
                }
                () = tokio::time::sleep(interval) => return End::Reopen,
            }
        }
    }

    fn reconfigured(&self, new: &DirectoryWatcherOptions) -> bool {
        new.path != self.opts.path || new.force_polling != self.opts.force_polling
    }

    async fn scan(&self, abs: &Path) -> io::Result<(RootId, Entries)> {
        let abs = abs.to_owned();
        let scanned = tokio::task::spawn_blocking(move || snapshot::scan(&abs)).await;
        self.counters.scans.increment();
        scanned.unwrap_or_else(|e| Err(io::Error::other(e)))
    }

    async fn stat(&mut self, abs: &Path, names: Vec<OsString>) -> io::Result<Vec<Change>> {
        let abs = abs.to_owned();
        let seen = tokio::task::spawn_blocking(move || snapshot::stat_names(&abs, names))
            .await
            .unwrap_or_else(|e| Err(io::Error::other(e)))?;
        Ok(snapshot::apply(&mut self.known, seen))
    }

    /// Calls the handler for each change; `false` if the task is stopping.
    async fn report(&self, changes: Vec<Change>) -> bool {
        for change in changes {
            if self.ctx.is_stopping() {
                return false;
            }
            match change {
                Change::Deleted(name, last) => {
                    self.counters.deleted.increment();
                    let path = self.opts.path.join(name);
                    self.handler.on_deleted(&path, &last).await;
                }
                Change::Changed(name, old, new) => {
                    self.counters.changed.increment();
                    let path = self.opts.path.join(name);
                    self.handler.on_changed(&path, &old, &new).await;
                }
                Change::Created(name, meta) => {
                    self.counters.created.increment();
                    let path = self.opts.path.join(name);
                    self.handler.on_created(&path, &meta).await;
                }
            }
        }
        !self.ctx.is_stopping()
    }

    /// Registers the warning for this error, unless it is the one already
    /// registered (a retry that fails the same way says nothing new).
    fn warn(&mut self, error: &io::Error) {
        let message = format!(
            "{}: cannot watch {}: {error}",
            self.ctx.name(),
            self.opts.path.display()
        );
        if self.warning.as_ref().is_some_and(|(_, m)| *m == message) {
            return;
        }
        self.clear_warning();
        let id = self.ctx.service().register_warning(message.clone());
        self.warning = Some((id, message));
    }

    fn clear_warning(&mut self) {
        if let Some((id, _)) = self.warning.take() {
            self.ctx.service().clear_warning(id);
        }
    }
}

/// See [`Watch::open`]. Blocking.
fn open(abs: &Path, polling: bool) -> io::Result<Opened> {
    if polling {
        let (root, entries) = snapshot::scan(abs)?;
        return Ok(Opened {
            root,
            entries,
            notifications: None,
            fallback: None,
        });
    }
    let mut attempt = 0;
    loop {
        attempt += 1;
        let notifications = Notifications::start(abs);
        let (root, entries) = snapshot::scan(abs)?;
        match notifications {
            Ok(n) => {
                return Ok(Opened {
                    root,
                    entries,
                    notifications: Some(n),
                    fallback: None,
                });
            }
            // The directory may have appeared between the two: try once more.
            Err(_) if attempt == 1 => {}
            Err(e) => {
                return Ok(Opened {
                    root,
                    entries,
                    notifications: None,
                    fallback: Some(e),
                });
            }
        }
    }
}
