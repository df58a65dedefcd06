//! Logs what changes in a directory (`--dev-watcher-path`, default `/dev`):
//! a `DirectoryWatcherTask` with a handler. Plug in a USB stick, or point
//! it at a directory of your own and touch some files.
//!
//! ```sh
//! cargo run -p sparts-examples --bin dev_watcher
//! cargo run -p sparts-examples --bin dev_watcher -- --dev-watcher-path /tmp --dev-watcher-force-polling
//! ```
use std::fs::Metadata;
use std::path::Path;

use sparts::{DirectoryHandler, DirectoryWatcherTask, VService};

struct DevWatcher;

impl DirectoryHandler for DevWatcher {
    const PATH: &'static str = "/dev";

    async fn on_created(&self, path: &Path, _meta: &Metadata) {
        tracing::info!("created {}", path.display());
    }

    async fn on_deleted(&self, path: &Path, _last: &Metadata) {
        tracing::info!("deleted {}", path.display());
    }

    async fn on_changed(&self, path: &Path, _old: &Metadata, _new: &Metadata) {
        tracing::info!("changed {}", path.display());
    }
}

fn main() -> std::process::ExitCode {
    VService::new("DevWatcher")
        .with_task(DirectoryWatcherTask::new(DevWatcher))
        .run_from_cli()
}
