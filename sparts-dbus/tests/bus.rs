//! The task on a real session bus. Run under `dbus-run-session -- cargo
//! test`; without a session bus each test says so and passes.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::{session_bus, start, unique_name, wait_status};
use futures_util::StreamExt;
use sparts_core::{Status, VService};
use sparts_dbus::DBusServiceTask;
use zbus::Connection;

#[zbus::proxy(interface = "org.sparts.Service")]
trait Sparts {
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> zbus::Result<zbus::zvariant::OwnedValue>;
    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: &zbus::zvariant::Value<'_>) -> zbus::Result<()>;
    #[zbus(name = "listTasks")]
    fn list_tasks(&self) -> zbus::Result<Vec<String>>;
    #[zbus(name = "getOptionSources")]
    fn get_option_sources(&self) -> zbus::Result<std::collections::HashMap<String, String>>;
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

async fn fb303_proxy<'a>(conn: &'a Connection, bus_name: &'a str, service: &str) -> Fb303Proxy<'a> {
    Fb303Proxy::builder(conn)
        .destination(bus_name)
        .expect("destination")
        .path(sparts_dbus::fb303_object_path(service))
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
    // A profile needs 1 to 300 s: anything else is refused with the reason.
    for seconds in ["0", "-3", "301"] {
        let out = tokio::process::Command::new("busctl")
            // `--` so that `-3` is an argument, not an option.
            .args(["--user", "call", "--", name.as_str(), "/Ctl/fb303"])
            .args(["com.facebook.fb303.Service", "getCpuProfile", "i", seconds])
            .output()
            .await
            .expect("busctl runs");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{seconds}");
        assert!(stderr.contains("300"), "{seconds}: {stderr}");
    }
    run(&f, &["reinitialize"]).await;
    wait_status(&running, Status::Alive).await;
    run(&f, &["shutdown"]).await;
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("stops in time")
        .expect("clean exit");
}

#[zbus::proxy(interface = "com.facebook.fb303.Service")]
trait Fb303 {
    #[zbus(name = "getName")]
    fn get_name(&self) -> zbus::Result<String>;
    #[zbus(name = "getCounter")]
    fn get_counter(&self, name: &str) -> zbus::Result<i64>;
    #[zbus(name = "getOption")]
    fn get_option(&self, name: &str) -> zbus::Result<String>;
    #[zbus(name = "setOption")]
    fn set_option(&self, name: &str, value: &str) -> zbus::Result<()>;
    #[zbus(name = "getCpuProfile")]
    fn get_cpu_profile(&self, seconds: i32) -> zbus::Result<String>;
}

/// Spins until `stop`: a function the profile must name.
#[inline(never)]
fn burn_cpu_for_dbus_profile(stop: &AtomicBool) -> u64 {
    let mut x = 0_u64;
    while !stop.load(Ordering::Relaxed) {
        for i in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
    x
}

#[tokio::test]
async fn cpu_profile_is_folded_stacks_and_other_calls_go_on() {
    if !session_bus("cpu_profile_is_folded_stacks_and_other_calls_go_on") {
        return;
    }
    let name = unique_name("Profile");
    let running = start("Prof", &name, &[]).await.expect("starts");
    let conn = Connection::session().await.expect("client");
    let fb303 = fb303_proxy(&conn, &name, "Prof").await;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let burner = std::thread::Builder::new()
        .name("dbus-burner".to_owned())
        .spawn(move || burn_cpu_for_dbus_profile(&flag))
        .expect("thread starts");
    let ((profile, profile_done), (svc_name, name_done)) = tokio::join!(
        async { (fb303.get_cpu_profile(1).await, Instant::now()) },
        async { (fb303.get_name().await, Instant::now()) },
    );
    stop.store(true, Ordering::Relaxed);
    burner.join().expect("burner ends");
    assert_eq!(svc_name.expect("getName"), "Prof");
    assert!(name_done < profile_done, "getName waited for the profile");
    let folded = profile.expect("getCpuProfile");
    assert!(!folded.is_empty());
    for line in folded.lines() {
        let (stack, count) = line.rsplit_once(' ').expect("`stack count`");
        assert!(
            !stack.is_empty() && count.parse::<u64>().expect("count") > 0,
            "{line}"
        );
    }
    assert!(
        folded
            .lines()
            .any(|line| line.starts_with("dbus-burner;")
                && line.contains("burn_cpu_for_dbus_profile")),
        "{folded}"
    );
    let err = fb303.get_cpu_profile(0).await.expect_err("0 s is refused");
    assert!(
        matches!(&err, zbus::Error::MethodError(name, Some(reason), _)
            if name.as_str() == "org.freedesktop.DBus.Error.InvalidArgs"
                && reason.contains("at most 300 s")),
        "{err:?}"
    );
    running.shutdown().await.expect("stops");
}

/// The same mistakes as in the HTTP, gRPC and Thrift tests, each answered
/// with the error name of its kind. (Every D-Bus caller is local, so
/// trusted: no untrusted peer reaches the bus.)
#[tokio::test]
async fn admin_errors_have_the_name_of_their_kind() {
    if !session_bus("admin_errors_have_the_name_of_their_kind") {
        return;
    }
    const NOT_FOUND: &str = "org.sparts.Error.NotFound";
    const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
    const FAILED_PRECONDITION: &str = "org.sparts.Error.FailedPrecondition";
    const UNAVAILABLE: &str = "org.sparts.Error.Unavailable";
    let name = unique_name("Errors");
    let running = start("Err", &name, &[]).await.expect("starts");
    // A ratio of nothing to nothing: a counter fb303's integers cannot carry.
    running
        .handle()
        .counters()
        .callback("Test.ratio", || Some(f64::NAN));
    let conn = Connection::session().await.expect("client");
    let fb303 = fb303_proxy(&conn, &name, "Err").await;
    let sparts = proxy(&conn, &name, "Err").await;
    let never = zbus::zvariant::Value::from("never");
    let elsewhere = zbus::zvariant::Value::from("/tmp/other.pid");
    let cases = [
        (
            fb303.get_counter("No.such").await.map(drop),
            NOT_FOUND,
            "No.such",
        ),
        (
            fb303.get_option("no_such").await.map(drop),
            NOT_FOUND,
            "no_such",
        ),
        (
            sparts.get_option("no_such").await.map(drop),
            NOT_FOUND,
            "no_such",
        ),
        (fb303.set_option("no_such", "1").await, NOT_FOUND, "no_such"),
        (
            fb303.set_option("shutdown_timeout", "never").await,
            INVALID_ARGS,
            "shutdown_timeout",
        ),
        (
            sparts.set_option("shutdown_timeout", &never).await,
            INVALID_ARGS,
            "shutdown_timeout",
        ),
        (
            fb303.set_option("pidfile", "/tmp/other.pid").await,
            FAILED_PRECONDITION,
            "cannot be changed at run time",
        ),
        (
            sparts.set_option("pidfile", &elsewhere).await,
            FAILED_PRECONDITION,
            "cannot be changed at run time",
        ),
        (
            fb303.get_counter("Test.ratio").await.map(drop),
            UNAVAILABLE,
            "no value yet",
        ),
        (
            fb303.get_cpu_profile(-1).await.map(drop),
            INVALID_ARGS,
            "at most 300 s",
        ),
    ];
    for (result, want, says) in cases {
        assert!(
            matches!(&result, Err(zbus::Error::MethodError(name, Some(reason), _))
                if name.as_str() == want && reason.contains(says)),
            "want {want} saying {says:?}, got {result:?}"
        );
    }
    assert_eq!(running.handle().option("pidfile").expect("pidfile"), None);
    running.shutdown().await.expect("stops");
}

/// Input as an attacker on the bus would send it: every message reaches
/// the service whole (the bus daemon receives and checks it first, and
/// zbus bounds a message at 128 MiB and its nesting at the D-Bus limits),
/// so what is left to the service is what its arguments may say. Each is
/// refused with a clear error, and the service goes on answering.
#[tokio::test]
async fn hostile_values_are_refused_and_the_service_goes_on() {
    if !session_bus("hostile_values_are_refused_and_the_service_goes_on") {
        return;
    }
    const INVALID_ARGS: &str = "org.freedesktop.DBus.Error.InvalidArgs";
    const NOT_FOUND: &str = "org.sparts.Error.NotFound";
    let name = unique_name("Hostile");
    let running = start("Hostile", &name, &[]).await.expect("starts");
    let conn = Connection::session().await.expect("client");
    let fb303 = fb303_proxy(&conn, &name, "Hostile").await;
    let sparts = proxy(&conn, &name, "Hostile").await;
    // 8 MiB values and names, well past what an option may hold.
    let huge = "9".repeat(8 << 20);
    let huge_value = zbus::zvariant::Value::from(huge.as_str());
    let array = zbus::zvariant::Value::from(vec![1_u8; 1 << 20]);
    let map: std::collections::HashMap<String, String> = (0..10_000)
        .map(|i| (i.to_string(), i.to_string()))
        .collect();
    let map = zbus::zvariant::Value::from(map);
    let cases = [
        (
            fb303.set_option("shutdown_timeout", &huge).await,
            INVALID_ARGS,
            "at most 65536 are accepted",
        ),
        (
            sparts.set_option("shutdown_timeout", &huge_value).await,
            INVALID_ARGS,
            "at most 65536 are accepted",
        ),
        (
            sparts.set_option("shutdown_timeout", &array).await,
            INVALID_ARGS,
            "must be a string, number or boolean, not `ay`",
        ),
        (
            sparts.set_option("shutdown_timeout", &map).await,
            INVALID_ARGS,
            "must be a string, number or boolean",
        ),
        (fb303.set_option(&huge, "1").await, NOT_FOUND, "999999"),
        (fb303.get_option(&huge).await.map(drop), NOT_FOUND, "999999"),
        (
            fb303.get_cpu_profile(i32::MAX).await.map(drop),
            INVALID_ARGS,
            "at most 300 s",
        ),
    ];
    for (result, want, says) in cases {
        assert!(
            matches!(&result, Err(zbus::Error::MethodError(name, Some(reason), _))
                if name.as_str() == want && reason.contains(says)),
            "want {want} saying {says:?}, got {:?}",
            result.map_err(|e| e.to_string().chars().take(300).collect::<String>())
        );
    }
    // A string inside 30 variants is still a string.
    let mut nested = zbus::zvariant::Value::from("7");
    for _ in 0..30 {
        nested = zbus::zvariant::Value::Value(Box::new(nested));
    }
    sparts
        .set_option("shutdown_timeout", &nested)
        .await
        .expect("a nested string is set");
    assert_eq!(
        fb303.get_option("shutdown_timeout").await.expect("answers"),
        "7"
    );
    let sources = sparts.get_option_sources().await.expect("sources");
    assert_eq!(sources["shutdown_timeout"], "run_time");
    assert_eq!(sources["dryrun"], "default");
    assert_eq!(fb303.get_name().await.expect("still answers"), "Hostile");
    running.shutdown().await.expect("stops");
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
    // The stream may first yield the value the proxy cached (ALIVE) when
    // its cache fills after the subscription: skip it, boundedly.
    let stopping = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            let change = changes.next().await.expect("a change");
            let value = change.get().await.expect("value");
            if value != "ALIVE" {
                return value;
            }
        }
    })
    .await
    .expect("a PropertiesChanged signal in time");
    assert_eq!(stopping, "STOPPING");
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

#[tokio::test]
async fn an_optional_task_without_a_bus_skips_itself() {
    let running = tokio::time::timeout(
        Duration::from_secs(15),
        VService::new("Optional")
            .with_task(DBusServiceTask::new().optional())
            .start_with_args([
                "optional",
                "--dbus-bus-name",
                "org.sparts.Test.Optional",
                "--dbus-address",
                "unix:path=/nonexistent/sparts-test-bus",
            ]),
    )
    .await
    .expect("fails fast, no hang")
    .expect("starts without D-Bus");
    assert!(running.handle().get::<DBusServiceTask>().is_none());
    assert_eq!(running.handle().status(), Status::Alive);
    running.shutdown().await.expect("clean stop");
}
