//! A service on the D-Bus session bus: the built-in `/DBusDemo/sparts` and
//! `/DBusDemo/fb303` objects, plus an interface of its own with a method
//! and a signal.
//!
//! ```sh
//! cargo run -p sparts-examples --bin dbus_service -- --dbus-bus-name org.sparts.DBusDemo
//! busctl --user call org.sparts.DBusDemo /DBusDemo/sparts org.sparts.Service listTasks
//! busctl --user call org.sparts.DBusDemo /DBusDemo org.sparts.Demo Greet s you
//! ```
// zbus's generated `DemoSignals` trait carries no docs of its own.
#![allow(missing_docs)]
use sparts::dbus::zbus::{self, object_server::SignalEmitter};
use sparts::{VService, dbus::DBusServiceTask};

#[derive(Clone)]
struct Demo;

#[zbus::interface(name = "org.sparts.Demo", crate = "sparts::dbus::zbus")]
impl Demo {
    /// Answers a greeting and tells every listener about it.
    async fn greet(&self, name: &str, #[zbus(signal_emitter)] signal: SignalEmitter<'_>) -> String {
        if let Err(err) = Self::greeted(&signal, name).await {
            tracing::warn!("cannot signal the greeting: {err}");
        }
        format!("Hello, {name}!")
    }

    /// Sent after each greeting, with the name greeted.
    #[zbus(signal)]
    async fn greeted(emitter: &SignalEmitter<'_>, name: &str) -> zbus::Result<()>;
}

fn main() -> std::process::ExitCode {
    VService::new("DBusDemo")
        .with_task(DBusServiceTask::new().with_interface("/DBusDemo", Demo))
        .run_from_cli()
}
