//! The task on a real session bus. Run under `dbus-run-session -- cargo
//! test`; without a session bus each test says so and passes.

mod common;

use std::time::Duration;

use common::{session_bus, start, unique_name, wait_status};
use futures_util::StreamExt;
use sparts_core::Status;
use zbus::Connection;

#[zbus::proxy(interface = "org.sparts.Service")]
trait Sparts {
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> zbus::Result<zbus::zvariant::OwnedValue>;
    #[zbus(name = "listTasks")]
    fn list_tasks(&self) -> zbus::Result<Vec<String>>;
    #[zbus(name = "shutdown")]
    fn shutdown(&self) -> zbus::Result<()>;
    #[zbus(property, name = "Status")]
    fn status(&self) -> zbus::Result<String>;
}

async fn proxy<'a>(conn: &'a Connection, bus_name: &'a str, service: &str) -> SpartsProxy<'a> {
    SpartsProxy::builder(conn)
        .destination(bus_name)
        .expect("destination")
        .path(sparts_dbus::sparts_object_path(service))
        .expect("path")
        .build()
        .await
        .expect("proxy")
}

/// `busctl --user call <name> <path> <iface> <method> [signature args...]`.
async fn busctl(args: &[&str]) -> String {
    let out = tokio::process::Command::new("busctl")
        .arg("--user")
        .args(args)
        .output()
        .await
        .expect("busctl runs");
    assert!(
        out.status.success(),
        "busctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn every_method_answers_busctl() {
    if !session_bus("every_method_answers_busctl") {
        return;
    }
    if std::process::Command::new("busctl")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping every_method_answers_busctl: no busctl (systemd)");
        return;
    }
    let name = unique_name("Busctl");
    let running = start("Ctl", &name, &[]).await.expect("starts");
    let s = ["call", name.as_str(), "/Ctl/sparts", "org.sparts.Service"];
    let f = [
        "call",
        name.as_str(),
        "/Ctl/fb303",
        "com.facebook.fb303.Service",
    ];
    let v = [
        "call",
        name.as_str(),
        "/Ctl/fb303",
        "org.sparts.FB303Service",
    ];
    let run = |base: &[&str], rest: &[&str]| {
        let mut all: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
        all.extend(rest.iter().map(|s| (*s).to_owned()));
        async move {
            let refs: Vec<&str> = all.iter().map(String::as_str).collect();
            busctl(&refs).await
        }
    };
    assert_eq!(
        run(&s, &["getOption", "s", "dbus_address"]).await,
        "v s \"__None__\"\n"
    );
    assert_eq!(
        run(&s, &["getOption", "s", "dbus_bus_name"]).await,
        format!("v s \"{name}\"\n")
    );
    run(&s, &["setOption", "sv", "shutdown_timeout", "s", "3"]).await;
    assert!(run(&s, &["getOptions"]).await.starts_with("a{sv} "));
    assert!(
        run(&s, &["listOptions"])
            .await
            .contains("\"dbus_bus_name\"")
    );
    assert_eq!(run(&s, &["listTasks"]).await, "as 1 \"DBusServiceTask\"\n");
    assert!(run(&s, &["uptime"]).await.starts_with("x "));
    assert_eq!(run(&f, &["getName"]).await, "s \"Ctl\"\n");
    assert_eq!(run(&f, &["getVersion"]).await, "s \"\"\n");
    assert_eq!(run(&f, &["getStatus"]).await, "s \"ALIVE\"\n");
    assert!(run(&f, &["getStatusDetails"]).await.starts_with("s "));
    assert!(run(&f, &["getCounters"]).await.starts_with("a{sx} "));
    run(&f, &["setOption", "ss", "shutdown_timeout", "4"]).await;
    assert_eq!(
        run(&f, &["getOption", "s", "shutdown_timeout"]).await,
        "s \"4\"\n"
    );
    assert_eq!(
        run(&f, &["getOption", "s", "dbus_address"]).await,
        "s \"__None__\"\n"
    );
    assert!(
        run(&f, &["getOptions"])
            .await
            .contains("\"dbus_address\" \"__None__\"")
    );
    let since = run(&f, &["aliveSince"]).await;
    run(&v, &["setOptionV", "sv", "shutdown_timeout", "i", "5"]).await;
    assert_eq!(
        run(&f, &["getOption", "s", "shutdown_timeout"]).await,
        "s \"5\"\n"
    );
    let since_str = run(&v, &["aliveSinceStr"]).await;
    assert_eq!(
        since.trim_start_matches("x ").trim(),
        since_str.trim_start_matches("s ").trim().trim_matches('"')
    );
    let props = busctl(&[
        "get-property",
        name.as_str(),
        "/Ctl/sparts",
        "org.sparts.Service",
        "Status",
    ])
    .await;
    assert_eq!(props, "s \"ALIVE\"\n");
    // An error is a D-Bus error with a readable message, and the service lives on.
    let out = tokio::process::Command::new("busctl")
        .args([
            "--user",
            "call",
            name.as_str(),
            "/Ctl/fb303",
            "com.facebook.fb303.Service",
            "getCounter",
            "s",
            "No.such",
        ])
        .output()
        .await
        .expect("busctl runs");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("No.such"));
    // No profiler is built in: an explicit error, not an empty profile.
    let out = tokio::process::Command::new("busctl")
        .args(["--user", "call", name.as_str(), "/Ctl/fb303"])
        .args(["com.facebook.fb303.Service", "getCpuProfile", "i", "1"])
        .output()
        .await
        .expect("busctl runs");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not available"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    run(&f, &["reinitialize"]).await;
    wait_status(&running, Status::Alive).await;
    run(&f, &["shutdown"]).await;
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("stops in time")
        .expect("clean exit");
}

#[tokio::test]
async fn status_change_is_signalled_on_shutdown() {
    if !session_bus("status_change_is_signalled_on_shutdown") {
        return;
    }
    let name = unique_name("Signal");
    let running = start("Sig", &name, &[]).await.expect("starts");
    let conn = Connection::session().await.expect("client");
    let sparts = proxy(&conn, &name, "Sig").await;
    assert_eq!(sparts.status().await.expect("status"), "ALIVE");
    assert_eq!(
        String::try_from(sparts.get_option("dbus_address").await.expect("get")).expect("str"),
        "__None__"
    );
    let mut changes = sparts.receive_status_changed().await;
    sparts.shutdown().await.expect("shutdown");
    let change = tokio::time::timeout(Duration::from_secs(5), changes.next())
        .await
        .expect("a PropertiesChanged signal in time")
        .expect("a change");
    assert_eq!(change.get().await.expect("value"), "STOPPING");
    running.wait().await.expect("clean exit");
}

#[tokio::test]
async fn a_taken_name_stops_the_start() {
    if !session_bus("a_taken_name_stops_the_start") {
        return;
    }
    let name = unique_name("Taken");
    let first = start("First", &name, &[]).await.expect("first starts");
    let err = start("Second", &name, &[]).await.expect_err("name taken");
    assert!(
        format!("{err:#}").contains("is taken by another connection"),
        "{err:#}"
    );
    // The first did not allow replacement: --dbus-replace does not help.
    let err = start("Second", &name, &["--dbus-replace"])
        .await
        .expect_err("not replaceable");
    assert!(format!("{err:#}").contains("is taken"), "{err:#}");
    first.shutdown().await.expect("clean exit");
}

#[tokio::test]
async fn replace_takes_the_name_and_warns_the_loser() {
    if !session_bus("replace_takes_the_name_and_warns_the_loser") {
        return;
    }
    let name = unique_name("Replace");
    let first = start("First", &name, &["--dbus-replace"])
        .await
        .expect("first starts");
    let second = start("Second", &name, &["--dbus-replace"])
        .await
        .expect("second replaces");
    wait_status(&first, Status::Warning).await;
    assert!(
        first
            .handle()
            .status_details()
            .contains("lost the D-Bus name")
    );
    let conn = Connection::session().await.expect("client");
    let fdo = zbus::fdo::DBusProxy::new(&conn).await.expect("proxy");
    let owner = fdo
        .get_name_owner(name.as_str().try_into().expect("name"))
        .await
        .expect("owner");
    let second_conn = second
        .handle()
        .require::<sparts_dbus::DBusServiceTask>()
        .expect("task");
    let second_id = second_conn
        .connection()
        .and_then(|c| c.unique_name())
        .expect("id")
        .to_string();
    assert_eq!(owner.to_string(), second_id);
    second.shutdown().await.expect("clean exit");
    first.shutdown().await.expect("clean exit");
}

#[tokio::test]
async fn queue_waits_for_the_name() {
    if !session_bus("queue_waits_for_the_name") {
        return;
    }
    let name = unique_name("Queue");
    let first = start("First", &name, &[]).await.expect("first starts");
    let second = start("Second", &name, &["--dbus-queue"])
        .await
        .expect("second queues");
    assert_eq!(second.handle().status(), Status::Warning);
    assert!(second.handle().status_details().contains("waiting in line"));
    first.shutdown().await.expect("clean exit");
    wait_status(&second, Status::Alive).await;
    second.shutdown().await.expect("clean exit");
}

#[tokio::test]
async fn the_bus_name_is_required() {
    let err = sparts_core::VService::new("Nameless")
        .with_task(sparts_dbus::DBusServiceTask::new())
        .start_with_args(["svc"])
        .await
        .expect_err("no name");
    assert!(
        format!("{err:#}").contains("--dbus-bus-name is required"),
        "{err:#}"
    );
}

#[tokio::test]
async fn no_bus_is_a_clear_error_not_a_hang() {
    for (address, says) in [
        (
            "unix:path=/nonexistent/sparts-test-bus",
            "cannot connect to the bus at unix:path=/nonexistent/sparts-test-bus",
        ),
        (
            "not-an-address",
            "cannot connect to the bus at not-an-address",
        ),
    ] {
        let started = tokio::time::timeout(
            Duration::from_secs(15),
            start(
                "Busless",
                "org.sparts.Test.Busless",
                &["--dbus-address", address],
            ),
        )
        .await
        .expect("fails fast, no hang");
        let err = started.expect_err("no bus");
        assert!(format!("{err:#}").contains(says), "{err:#}");
    }
}
