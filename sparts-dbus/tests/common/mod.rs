//! Helpers for tests against a real bus.
#![allow(dead_code, unreachable_pub)]

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use sparts_core::{RunningService, Status, VService};
use sparts_dbus::DBusServiceTask;

/// Whether a session bus is there; prints why the test is skipped if not.
pub fn session_bus(test: &str) -> bool {
    let there = std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some();
    if !there {
        eprintln!("skipping {test}: no session bus (run under dbus-run-session)");
    }
    there
}

/// A bus name no other test (or test process) uses.
pub fn unique_name(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "org.sparts.Test.{what}.P{}N{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Starts service `service` exporting itself as `bus_name`, with more flags.
pub async fn start(
    service: &str,
    bus_name: &str,
    extra: &[&str],
) -> sparts_core::Result<RunningService> {
    let mut args = vec!["svc", "--dbus-bus-name", bus_name];
    args.extend_from_slice(extra);
    VService::new(service)
        .with_task(DBusServiceTask::new())
        .start_with_args(args)
        .await
}

/// Waits (at most 5 s) for the service's status to be `want`.
pub async fn wait_status(running: &RunningService, want: Status) {
    let mut status = running.handle().watch_status();
    let seen = tokio::time::timeout(Duration::from_secs(5), status.wait_for(|s| *s == want)).await;
    if !matches!(seen, Ok(Ok(_))) {
        panic!(
            "status stayed {:?}, not {want:?}: {}",
            running.handle().status(),
            running.handle().status_details()
        );
    }
}
