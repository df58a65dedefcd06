//! A private bus whose policy denies owning names: the start fails with the
//! bus's own error name. Needs `dbus-daemon`, not a session bus.

mod common;

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A session-type bus listening in `dir`, where nobody may own a name.
const CONFIG: &str = r#"<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-BUS Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:dir=DIR</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <deny own="*"/>
  </policy>
</busconfig>
"#;

/// Starts the bus; returns it (killed on drop) and its address.
async fn private_bus(dir: &std::path::Path) -> Option<(Child, String)> {
    let config = dir.join("bus.conf");
    let config_text = CONFIG.replace("DIR", &dir.display().to_string());
    std::fs::write(&config, config_text).expect("config written");
    let mut child = match Command::new("dbus-daemon")
        .arg(format!("--config-file={}", config.display()))
        .args(["--print-address", "--nofork"])
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
    {
        Ok(child) => child,
        Err(err) => {
            eprintln!("skipping: cannot run dbus-daemon: {err}");
            return None;
        }
    };
    let stdout = child.stdout.take().expect("piped stdout");
    let mut line = String::new();
    tokio::time::timeout(
        Duration::from_secs(10),
        BufReader::new(stdout).read_line(&mut line),
    )
    .await
    .expect("the bus prints its address in time")
    .expect("address read");
    Some((child, line.trim().to_owned()))
}

#[tokio::test]
async fn a_policy_that_denies_the_name_gives_access_denied() {
    let dir = tempfile::tempdir().expect("temp dir");
    let Some((mut bus, address)) = private_bus(dir.path()).await else {
        return;
    };
    let err = common::start(
        "Denied",
        "org.sparts.Test.Denied",
        &["--dbus-address", &address],
    )
    .await
    .expect_err("the policy denies the name");
    let text = format!("{err:#}");
    assert!(
        text.contains("org.freedesktop.DBus.Error.AccessDenied"),
        "{text}"
    );
    assert!(text.contains("org.sparts.Test.Denied"), "{text}");
    bus.kill().await.expect("bus stopped");
}
