//! The operating system's notifications (inotify, through `notify`) for one
//! directory, bridged from notify's thread into the task.

use std::collections::HashSet;
use std::ffi::OsString;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use notify::event::{AccessKind, AccessMode};
use notify::{Event, EventKind, RecommendedWatcher, RecursiveMode, Watcher};
use tokio::sync::mpsc;

/// Events queued between notify's thread and the task. When the task falls
/// this far behind, events are dropped and the next batch rescans the whole
/// directory: memory stays bounded whatever the event rate.
const QUEUE: usize = 4096;

/// Notifications for one directory, not recursive.
pub(super) struct Notifications {
    // Dropping the watcher stops its thread and closes the queue.
    _watcher: RecommendedWatcher,
    rx: mpsc::Receiver<notify::Result<Event>>,
    dropped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Notifications {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Notifications").finish_non_exhaustive()
    }
}

/// What a batch of notifications asks the task to look at again.
#[derive(Debug, Default)]
pub(super) struct Batch {
    /// Entries of the directory, each once, in the order first seen.
    pub(super) names: Vec<OsString>,
    /// The whole directory: events were lost, or the directory itself changed.
    pub(super) rescan: bool,
}

impl Notifications {
    /// Starts watching `root`, an absolute path. Blocking: notify answers
    /// from its own thread.
    pub(super) fn start(root: &Path) -> notify::Result<Self> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&dropped);
        let mut watcher = RecommendedWatcher::new(
            move |event: notify::Result<Event>| {
                if event.as_ref().is_ok_and(is_noise) {
                    return;
                }
                if tx.try_send(event).is_err() {
                    flag.store(true, Ordering::SeqCst);
                }
            },
            notify::Config::default(),
        )?;
        watcher.watch(root, RecursiveMode::NonRecursive)?;
        Ok(Self {
            _watcher: watcher,
            rx,
            dropped,
        })
    }

    /// Waits for notifications, then takes every one already queued.
    /// `None`: notify's thread has ended.
    pub(super) async fn next(&mut self, root: &Path) -> Option<Batch> {
        let first = self.rx.recv().await?;
        let mut batch = Batch::default();
        let mut seen = HashSet::new();
        batch.add(first, root, &mut seen);
        for _ in 0..QUEUE {
            match self.rx.try_recv() {
                Ok(event) => batch.add(event, root, &mut seen),
                Err(_) => break,
            }
        }
        if self.dropped.swap(false, Ordering::SeqCst) {
            batch.rescan = true;
        }
        Some(batch)
    }
}

impl Batch {
    fn add(&mut self, event: notify::Result<Event>, root: &Path, seen: &mut HashSet<OsString>) {
        let event = match event {
            Ok(event) => event,
            Err(e) => {
                tracing::debug!("notification error, rescanning {}: {e}", root.display());
                self.rescan = true;
                return;
            }
        };
        if event.need_rescan() {
            self.rescan = true;
        }
        // A rename within the directory carries both names; each is looked
        // at again, so the old one reads as deleted and the new as created.
        for path in &event.paths {
            if path == root {
                self.rescan = true;
            } else if path.parent() == Some(root)
                && let Some(name) = path.file_name()
                && seen.insert(name.to_owned())
            {
                self.names.push(name.to_owned());
            }
        }
    }
}

/// Opening, reading and closing without writing change nothing; `/dev`
/// sees thousands of those a second.
fn is_noise(event: &Event) -> bool {
    matches!(event.kind, EventKind::Access(kind) if kind != AccessKind::Close(AccessMode::Write))
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{CreateKind, ModifyKind, RenameMode};

    #[test]
    fn batches_keep_direct_children_once_and_rescan_for_the_root() {
        let root = Path::new("/watched");
        let mut batch = Batch::default();
        let mut seen = HashSet::new();
        let create = Event::new(EventKind::Create(CreateKind::File)).add_path(root.join("a"));
        let rename = Event::new(EventKind::Modify(ModifyKind::Name(RenameMode::Both)))
            .add_path(root.join("a"))
            .add_path(root.join("b"));
        let deeper = Event::new(EventKind::Any).add_path(root.join("sub").join("c"));
        batch.add(Ok(create), root, &mut seen);
        batch.add(Ok(rename), root, &mut seen);
        batch.add(Ok(deeper), root, &mut seen);
        assert_eq!(batch.names, ["a", "b"]);
        assert!(!batch.rescan);

        let own = Event::new(EventKind::Any).add_path(root.to_owned());
        batch.add(Ok(own), root, &mut seen);
        assert!(batch.rescan);
    }

    #[test]
    fn reads_are_noise_and_writes_are_not() {
        let open = Event::new(EventKind::Access(AccessKind::Open(AccessMode::Any)));
        let closed = Event::new(EventKind::Access(AccessKind::Close(AccessMode::Write)));
        assert!(is_noise(&open));
        assert!(!is_noise(&closed));
        assert!(!is_noise(&Event::new(EventKind::Any)));
    }
}
