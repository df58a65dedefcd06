//! The `dbus_service` example as a real process on the session bus: it
//! answers its own interface and the built-in ones, signals, and exits 0
//! when asked to shut down over D-Bus. Run under `dbus-run-session`; without
//! a session bus the test says so and passes.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{Example, PATIENCE, TestResult};
use futures_util::StreamExt;
use sparts::dbus::zbus::{self, Connection};

#[zbus::proxy(
    interface = "org.sparts.Demo",
    default_path = "/DBusDemo",
    crate = "sparts::dbus::zbus"
)]
trait Demo {
    fn greet(&self, name: &str) -> zbus::Result<String>;
    #[zbus(signal)]
    fn greeted(&self, name: String) -> zbus::Result<()>;
}

#[zbus::proxy(
    interface = "org.sparts.Service",
    default_path = "/DBusDemo/sparts",
    crate = "sparts::dbus::zbus"
)]
trait Sparts {
    #[zbus(name = "listTasks")]
    fn list_tasks(&self) -> zbus::Result<Vec<String>>;
    #[zbus(name = "shutdown")]
    fn shutdown(&self) -> zbus::Result<()>;
}

/// Whether `name` has an owner on the bus, polled until it has (bounded).
async fn wait_for_name(conn: &Connection, name: &str) -> TestResult {
    let fdo = zbus::fdo::DBusProxy::new(conn).await?;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if fdo.name_has_owner(name.try_into()?).await? {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Err(format!("{name} never appeared on the bus").into())
}

#[tokio::test]
async fn dbus_service_greets_signals_and_shuts_down() -> TestResult {
    if std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_none() {
        eprintln!("skipping dbus_service_greets_signals_and_shuts_down: no session bus");
        return Ok(());
    }
    let name = format!("org.sparts.DBusDemo.P{}", std::process::id());
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_dbus_service"),
        &["--dbus-bus-name", &name],
    )?;
    let conn = Connection::session().await?;
    wait_for_name(&conn, &name).await?;
    let demo = DemoProxy::builder(&conn)
        .destination(name.as_str())?
        .build()
        .await?;
    let mut greetings = demo.receive_greeted().await?;
    assert_eq!(demo.greet("you").await?, "Hello, you!");
    let greeted = tokio::time::timeout(PATIENCE, greetings.next())
        .await?
        .ok_or("no Greeted signal")?;
    assert_eq!(greeted.args()?.name, "you");
    let sparts = SpartsProxy::builder(&conn)
        .destination(name.as_str())?
        .build()
        .await?;
    assert_eq!(sparts.list_tasks().await?, ["DBusServiceTask"]);
    sparts.shutdown().await?;
    let status = tokio::task::spawn_blocking(move || child.wait_exit()).await??;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn dbus_service_without_a_session_bus_exits_with_a_clear_error() -> TestResult {
    // An empty runtime dir, so that zbus's fallback ($XDG_RUNTIME_DIR/bus)
    // finds no user bus either.
    let runtime = tempfile::tempdir()?;
    let (status, log) = common::run(
        Command::new(env!("CARGO_BIN_EXE_dbus_service"))
            .args(["--dbus-bus-name", "org.sparts.DBusDemo.NoBus"])
            .env_remove("DBUS_SESSION_BUS_ADDRESS")
            .env("XDG_RUNTIME_DIR", runtime.path()),
    )?;
    assert!(!status.success(), "{status:?}");
    assert!(
        log.contains("cannot connect to the session bus (DBUS_SESSION_BUS_ADDRESS is unset"),
        "{log}"
    );
    Ok(())
}
