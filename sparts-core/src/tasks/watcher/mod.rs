//! `DirectoryWatcherTask`: callbacks for the files created, deleted and
//! changed in one directory. Needs the `watcher` feature.

mod snapshot;
mod source;
mod watch;

use std::any::TypeId;
use std::borrow::Cow;
use std::fs::Metadata;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch as state;

use crate::error::BoxError;
use crate::error::short_type_name;
use crate::options::parse_seconds;
use crate::task::{TaskContext, VTask};

/// What to do when a watched directory changes; the user's half of a
/// [`DirectoryWatcherTask`].
///
/// Every callback gets the entry's path (the watched path joined with the
/// entry's name) and its metadata, read with `lstat` (a symlink is reported
/// as itself). Callbacks run one at a time, in the order the changes were
/// seen: within one look at the directory, deletions first, then changes,
/// then creations. The defaults log at debug level; [`LogChanges`] is the
/// handler that logs every change at info level.
///
/// ```
/// use std::fs::Metadata;
/// use std::path::Path;
/// use sparts_core::tasks::DirectoryHandler;
///
/// struct Spool;
///
/// impl DirectoryHandler for Spool {
///     const PATH: &'static str = "/var/spool/jobs";
///
///     async fn on_created(&self, path: &Path, meta: &Metadata) {
///         tracing::info!("new job {} ({} bytes)", path.display(), meta.len());
///     }
/// }
/// ```
pub trait DirectoryHandler: Send + Sync + 'static {
    /// The default of `--<prefix>-path`. Default: `.`.
    const PATH: &'static str = ".";

    /// The default of `--<prefix>-poll-interval`. Default: 1 s.
    const POLL_INTERVAL: Duration = Duration::from_secs(1);

    /// A new entry appeared: created, or renamed into the directory.
    fn on_created(&self, path: &Path, meta: &Metadata) -> impl Future<Output = ()> + Send {
        tracing::debug!("created {} ({:?})", path.display(), meta.file_type());
        async {}
    }

    /// An entry disappeared: deleted, or renamed out of the directory.
    /// `last` is its metadata as last reported.
    fn on_deleted(&self, path: &Path, last: &Metadata) -> impl Future<Output = ()> + Send {
        tracing::debug!("deleted {} ({:?})", path.display(), last.file_type());
        async {}
    }

    /// An entry changed: its data (size, modification time) or its
    /// metadata (mode, owner, change time); reading it is not a change. For
    /// a subdirectory, only its mode and owner: what happens inside it is
    /// not watched.
    fn on_changed(
        &self,
        path: &Path,
        old: &Metadata,
        new: &Metadata,
    ) -> impl Future<Output = ()> + Send {
        tracing::debug!(
            "changed {} ({} -> {} bytes)",
            path.display(),
            old.len(),
            new.len()
        );
        async {}
    }
}

/// The handler of a [`DirectoryWatcherTask`] that has none of its own
/// ([`DirectoryWatcherTask::logging`]): logs each change at info level, as
/// `created <path>`, `changed <path>` and `deleted <path>`, so the changes
/// show with the default `--level` (the original logged them at debug, its
/// default level).
#[derive(Debug, Clone, Copy, Default)]
pub struct LogChanges;

impl DirectoryHandler for LogChanges {
    async fn on_created(&self, path: &Path, _: &Metadata) {
        tracing::info!("created {}", path.display());
    }

    async fn on_deleted(&self, path: &Path, _: &Metadata) {
        tracing::info!("deleted {}", path.display());
    }

    async fn on_changed(&self, path: &Path, _: &Metadata, _: &Metadata) {
        tracing::info!("changed {}", path.display());
    }
}

/// Options of a [`DirectoryWatcherTask`], under the handler's prefix
/// (`DevWatcher` gives `--dev-watcher-path`).
#[derive(clap::Args, Debug, Clone)]
#[non_exhaustive]
pub struct DirectoryWatcherOptions {
    /// The directory to watch (its entries; not recursive).
    #[arg(long, default_value = ".", value_name = "DIR")]
    pub path: PathBuf,

    /// Report the entries present at start as created.
    #[arg(long)]
    pub include_existing: bool,

    /// Seconds between scans when polling, and between attempts while the directory is missing.
    #[arg(long, default_value = "1", value_parser = parse_seconds, value_name = "SECONDS")]
    pub poll_interval: Duration,

    /// Scan every poll interval instead of using the system's notifications (inotify).
    #[arg(long)]
    pub force_polling: bool,
}

/// How a [`DirectoryWatcherTask`] learns of changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum WatchMode {
    /// The system's notifications (inotify on Linux): changes are seen at
    /// once.
    Notifications,
    /// A scan of the directory every `--<prefix>-poll-interval`: used when
    /// notifications cannot be set up, or with `--<prefix>-force-polling`.
    Polling,
}

/// Calls a [`DirectoryHandler`] for the entries created, deleted and
/// changed in the directory `--<prefix>-path` (default
/// [`H::PATH`](DirectoryHandler::PATH)). Needs the `watcher` feature (on by
/// default in the `sparts` crate).
///
/// The task is named after the handler (`Inbox` gives `--inbox-path`).
///
/// - Entries present at start are not reported, unless
///   `--<prefix>-include-existing` is set.
/// - Changes come from the system's notifications (inotify, through the
///   `notify` crate); when those cannot be set up (no support, watch limits
///   reached) or with `--<prefix>-force-polling`, the directory is scanned
///   every `--<prefix>-poll-interval`. Either way the task compares what it
///   sees with what it reported, so both modes report the same things, and
///   lost notifications (a queue overflow) are caught up with a scan.
/// - A rename within the directory is a deletion then a creation; a rename
///   out of it is a deletion, into it a creation.
/// - Only the directory's own entries are watched (like the original); a
///   subdirectory is one entry.
/// - A missing or unreadable directory is a service warning (status
///   `WARNING`, naming the path and the system's reason), tried again every
///   poll interval; the task never fails for it. When it comes back, its
///   entries are reported as created and the warning is cleared. If the
///   directory goes away while watched, its entries are reported deleted
///   and the same applies.
/// - Changing `--<prefix>-path` or `--<prefix>-force-polling` at run time
///   starts watching afresh (the new directory's entries count as present
///   at start).
///
/// Counters: `n_created`, `n_deleted`, `n_changed`, `n_scans` (whole
/// directory reads).
///
/// ```
/// # use std::path::Path;
/// use sparts_core::VService;
/// use sparts_core::tasks::{DirectoryHandler, DirectoryWatcherTask, WatchMode};
///
/// #[derive(Default)]
/// struct Inbox;
///
/// impl DirectoryHandler for Inbox {
///     const PATH: &'static str = "/tmp";
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// # let path = dir.path().to_str().ok_or("path")?;
/// let service = VService::new("Mail").with_task(DirectoryWatcherTask::new(Inbox));
/// let running = service.start_with_args(["mail", "--inbox-path", path]).await?;
/// let watcher = running.handle().require::<DirectoryWatcherTask<Inbox>>()?;
/// let mode = tokio::time::timeout(std::time::Duration::from_secs(10), watcher.watching()).await?;
/// assert_eq!(mode, WatchMode::Notifications);
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
///
/// Without a handler of its own ([`DirectoryWatcherTask::logging`]), the
/// task logs each change ([`LogChanges`]), is named `DirectoryWatcher` and
/// watches `.` unless told otherwise:
///
/// ```
/// use sparts_core::{IntoTaskSpec, VService, tasks::DirectoryWatcherTask};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let watcher = DirectoryWatcherTask::logging().with_default("path", "/tmp");
/// let running = VService::new("Tmp").with_task(watcher).start_with_args(["tmp"]).await?;
/// let path = running.handle().option("directory_watcher_path")?;
/// assert_eq!(path.as_deref(), Some("/tmp"));
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
pub struct DirectoryWatcherTask<H = LogChanges> {
    handler: Arc<H>,
    state: Arc<state::Sender<Option<WatchMode>>>,
}

impl<H> Clone for DirectoryWatcherTask<H> {
    fn clone(&self) -> Self {
        Self {
            handler: Arc::clone(&self.handler),
            state: Arc::clone(&self.state),
        }
    }
}

impl<H> std::fmt::Debug for DirectoryWatcherTask<H> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DirectoryWatcherTask")
            .field("handler", &short_type_name::<H>())
            .field("mode", &self.mode())
            .finish()
    }
}

impl<H: Default> Default for DirectoryWatcherTask<H> {
    fn default() -> Self {
        Self::new(H::default())
    }
}

impl DirectoryWatcherTask {
    /// A watcher that logs what changes ([`LogChanges`]), named
    /// `DirectoryWatcher`: `--directory-watcher-path`, default `.`.
    pub fn logging() -> Self {
        Self::new(LogChanges)
    }
}

impl<H> DirectoryWatcherTask<H> {
    /// A watcher calling `handler`. The handler is shared by every start of
    /// the task (restarts included).
    pub fn new(handler: H) -> Self {
        Self {
            handler: Arc::new(handler),
            state: Arc::new(state::channel(None).0),
        }
    }

    /// The handler.
    pub fn handler(&self) -> &H {
        &self.handler
    }

    /// How the directory is watched now; `None` while it is missing or
    /// unreadable (or the task is not running).
    pub fn mode(&self) -> Option<WatchMode> {
        *self.state.borrow()
    }

    /// Waits until the directory is watched: from then on, every change is
    /// reported. Waits as long as the directory is missing; bound it with a
    /// timeout.
    pub async fn watching(&self) -> WatchMode {
        let mut rx = self.state.subscribe();
        loop {
            if let Some(mode) = *rx.borrow_and_update() {
                return mode;
            }
            if rx.changed().await.is_err() {
                // The sender lives as long as `self`.
                std::future::pending::<()>().await;
            }
        }
    }
}

impl<H: DirectoryHandler> VTask<DirectoryWatcherOptions> for DirectoryWatcherTask<H> {
    fn name() -> Cow<'static, str> {
        // Named for what it does when it has no handler to be named after.
        if TypeId::of::<H>() == TypeId::of::<LogChanges>() {
            return "DirectoryWatcher".into();
        }
        short_type_name::<H>().into()
    }

    fn option_defaults() -> Vec<(&'static str, String)> {
        vec![
            ("path", H::PATH.to_owned()),
            ("poll_interval", H::POLL_INTERVAL.as_secs_f64().to_string()),
        ]
    }

    async fn init(&mut self, _: &TaskContext<DirectoryWatcherOptions>) -> Result<(), BoxError> {
        // Each start gets its own state: a restarted task is not watching yet.
        self.state = Arc::new(state::channel(None).0);
        Ok(())
    }

    async fn run(&self, ctx: TaskContext<DirectoryWatcherOptions>) -> Result<(), BoxError> {
        watch::run(&ctx, self.handler.as_ref(), &self.state).await;
        Ok(())
    }
}
