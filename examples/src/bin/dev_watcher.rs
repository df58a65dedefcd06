//! Logs what changes in a directory (`--dev-watcher-path`, default `/dev`):
//! a `DirectoryWatcherTask` without a handler logs each entry created,
//! changed or deleted. Plug in a USB stick, or point it at a directory of
//! your own and touch some files.
//!
//! ```sh
//! cargo run -p sparts-examples --bin dev_watcher
//! cargo run -p sparts-examples --bin dev_watcher -- --dev-watcher-path /tmp --dev-watcher-force-polling
//! ```
use sparts::{IntoTaskSpec, VService, tasks::DirectoryWatcherTask};

fn main() -> std::process::ExitCode {
    let watcher = DirectoryWatcherTask::logging().with_name("DevWatcher");
    VService::new("DevWatcher")
        .with_task(watcher.with_default("path", "/dev"))
        .run_from_cli()
}
