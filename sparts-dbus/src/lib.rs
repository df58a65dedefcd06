//! sparts-dbus: a D-Bus task for sparts services, built on [zbus].
//!
//! [`DBusServiceTask`] owns a well-known name on the session (or system) bus
//! and exports the service the way the original sparts did, so its clients
//! keep working: `/<Service>/sparts` with `org.sparts.Service`
//! (`getOption`, `setOption`, `getOptions`, `listOptions`, `shutdown`,
//! `restart`, `listTasks`, `uptime`, and a `Status` property that signals
//! its changes) and `/<Service>/fb303` with `com.facebook.fb303.Service`
//! and `org.sparts.FB303Service`. A refused call is a D-Bus error named
//! after its [`AdminErrorKind`](sparts_core::AdminErrorKind):
//! `org.sparts.Error.NotFound`, `org.freedesktop.DBus.Error.InvalidArgs`,
//! `org.sparts.Error.FailedPrecondition`,
//! `org.freedesktop.DBus.Error.AccessDenied`, `org.sparts.Error.Unavailable`
//! or `org.freedesktop.DBus.Error.Failed`. The user's own
//! [`#[zbus::interface]`](zbus::interface) objects go on the same
//! connection with [`DBusServiceTask::with_interface`].
//!
//! ```no_run
//! use sparts_core::VService;
//! use sparts_dbus::DBusServiceTask;
//!
//! fn main() -> std::process::ExitCode {
//!     VService::new("Demo").with_task(DBusServiceTask::new()).run_from_cli()
//! }
//! ```
//!
//! Run it with `--dbus-bus-name org.example.Demo`, then
//! `busctl --user call org.example.Demo /Demo/sparts org.sparts.Service listTasks`.
//!
//! Started in a program; without a bus the start fails with a clear error:
//!
//! ```
//! use sparts_core::VService;
//! use sparts_dbus::DBusServiceTask;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let started = VService::new("Demo")
//!     .with_task(DBusServiceTask::new())
//!     .start_with_args([
//!         "demo",
//!         "--dbus-bus-name", "org.example.Demo",
//!         "--dbus-address", "unix:path=/nonexistent/bus",
//!     ])
//!     .await;
//! let err = started.err().expect("no bus there");
//! assert!(format!("{err:#}").contains("cannot connect to the bus at unix:path=/nonexistent/bus"));
//! # }
//! ```

mod admin_error;
mod builtins;
mod connect;
mod error;
mod fb303;
mod options;
mod sparts;
mod task;
mod value;

#[cfg(test)]
mod p2p_tests;

pub use builtins::{fb303_object_path, sparts_object_path};
pub use error::{Error, Result};
pub use options::DBusOptions;
pub use task::DBusServiceTask;

/// Re-exported so that users write interfaces without a direct dependency
/// on zbus (their own `zbus` of the same version works as well).
pub use zbus;
