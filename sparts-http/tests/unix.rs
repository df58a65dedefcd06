//! Serving on a unix socket: the socket options, removal, trust, restart.
//! Stale and live sockets, unknown groups are tested with the listeners, in
//! sparts-core.

mod common;

use std::os::unix::fs::{MetadataExt, PermissionsExt};

use common::{TestResult, start, unix_request};
use nix::unistd::{Group, getegid};
use sparts_core::VService;
use sparts_http::{BoundAddr, HttpTask};

fn hello() -> VService {
    VService::new("Hello").with_task(HttpTask::default())
}

#[tokio::test]
async fn serves_on_a_socket_with_mode_0600_and_removes_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("hello.sock");
    let s = start(hello(), &["--http-sock", path.to_str().ok_or("utf-8")?]).await?;
    assert_eq!(s.http.bound().addresses(), [BoundAddr::Unix(path.clone())]);
    assert_eq!(s.http.bound().unix_path(), Some(path.as_path()));
    assert_eq!(s.http.port(), None);
    let meta = std::fs::symlink_metadata(&path)?;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    assert_eq!(
        unix_request(&path, "GET", "/", "").await?,
        (200, "Hello, world".to_owned())
    );
    // Unix peers are local users: trusted for admin writes.
    let (status, _) = unix_request(&path, "PUT", "/admin/options/level", "debug").await?;
    assert_eq!(status, 200);
    assert_eq!(
        s.running.handle().option("level")?.as_deref(),
        Some("debug")
    );

    s.running.shutdown().await?;
    assert!(!path.exists(), "the socket file is removed at shutdown");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert!(
        leftovers.is_empty(),
        "no staging directory left: {leftovers:?}"
    );
    Ok(())
}

#[tokio::test]
async fn the_sock_group_option_gives_the_socket_mode_0660_and_that_group() -> TestResult {
    let gid = getegid();
    let group = Group::from_gid(gid)?.ok_or("the test's group has a name")?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("group.sock");
    let s = start(
        hello(),
        &[
            "--http-sock",
            path.to_str().ok_or("utf-8")?,
            "--http-sock-group",
            &group.name,
        ],
    )
    .await?;
    let meta = std::fs::symlink_metadata(&path)?;
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid.as_raw());
    assert_eq!(unix_request(&path, "GET", "/", "").await?.0, 200);
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn reinitialize_rebinds_the_same_socket() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("re.sock");
    let s = start(hello(), &["--http-sock", path.to_str().ok_or("utf-8")?]).await?;
    let before = std::sync::Arc::clone(&s.http);
    let handle = s.running.handle().clone();
    let (code, body) = unix_request(&path, "POST", "/admin/reinitialize", "").await?;
    assert_eq!(code, 202, "{body}");
    // The restart is over once a new task instance serves.
    let restarted = async {
        loop {
            let fresh = handle
                .get::<HttpTask>()
                .is_some_and(|t| !std::sync::Arc::ptr_eq(&before, &t));
            if fresh && handle.status().is_serving() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(common::PATIENCE, restarted).await?;
    assert_eq!(unix_request(&path, "GET", "/", "").await?.0, 200);
    assert_eq!(
        std::fs::symlink_metadata(&path)?.permissions().mode() & 0o777,
        0o600
    );
    s.running.shutdown().await?;
    assert!(!path.exists());
    Ok(())
}
