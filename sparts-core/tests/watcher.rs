//! `DirectoryWatcherTask` on real directories: creations, changes,
//! deletions and renames, files present at start, a missing directory (a
//! warning, then recovery), a directory deleted while watched, polling, and
//! a new path at run time; and the watcher without a handler, which logs.
//!
//! Notifications arrive on the real clock, so those tests wait for each
//! report with a generous bound and never assert timings. Polling tests run
//! on the paused clock. Files are created by renaming them in from a
//! sibling directory, so that each creation is one atomic step (a file
//! written in place could be reported created empty, then changed).

mod common;

use common::Logs;
use std::fs::Metadata;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use sparts_core::{
    IntoTaskSpec, RunningService, Status, VService,
    tasks::{DirectoryHandler, DirectoryWatcherTask, WatchMode},
};
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What the handler saw, by file name.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seen {
    Created(String),
    Deleted(String),
    Changed(String),
}
use Seen::{Changed, Created, Deleted};

fn name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

struct Recorder(mpsc::UnboundedSender<Seen>);

impl DirectoryHandler for Recorder {
    async fn on_created(&self, path: &Path, _: &Metadata) {
        let _ = self.0.send(Created(name(path)));
    }

    async fn on_deleted(&self, path: &Path, _: &Metadata) {
        let _ = self.0.send(Deleted(name(path)));
    }

    async fn on_changed(&self, path: &Path, _: &Metadata, _: &Metadata) {
        let _ = self.0.send(Changed(name(path)));
    }
}

type Watcher = DirectoryWatcherTask<Recorder>;

/// A service watching `dir`, with the reports on a channel.
struct Harness {
    running: RunningService,
    seen: mpsc::UnboundedReceiver<Seen>,
    task: Arc<Watcher>,
    /// Where files are prepared before being renamed in.
    staging: tempfile::TempDir,
    staged: usize,
}

impl Harness {
    async fn start(dir: &Path, extra: &[&str]) -> Result<Self, Box<dyn std::error::Error>> {
        let (tx, seen) = mpsc::unbounded_channel();
        let path = dir.to_str().ok_or("utf-8 path")?;
        let mut args = vec!["watch", "--recorder-path", path];
        args.extend_from_slice(extra);
        let running = VService::new("Watch")
            .with_task(Watcher::new(Recorder(tx)))
            .start_with_args(args)
            .await?;
        let task = running.handle().require::<Watcher>()?;
        let parent = dir.parent().ok_or("a parent")?;
        Ok(Self {
            running,
            seen,
            task,
            staging: tempfile::tempdir_in(parent)?,
            staged: 0,
        })
    }

    /// Creates `name` in `dir` with `content`, in one step.
    fn create(&mut self, dir: &Path, name: &str, content: &str) -> std::io::Result<()> {
        self.staged += 1;
        let staged = self.staging.path().join(self.staged.to_string());
        std::fs::write(&staged, content)?;
        std::fs::rename(staged, dir.join(name))
    }

    async fn next(&mut self) -> Result<Seen, String> {
        match tokio::time::timeout(PATIENCE, self.seen.recv()).await {
            Ok(Some(seen)) => Ok(seen),
            Ok(None) => Err("the handler is gone".into()),
            Err(_) => Err(format!("nothing reported within {PATIENCE:?}")),
        }
    }

    async fn expect(&mut self, want: &[Seen]) -> Result<(), String> {
        let mut got = Vec::new();
        for _ in want {
            got.push(self.next().await.map_err(|e| format!("{e}; got {got:?}"))?);
        }
        if got != want {
            return Err(format!("expected {want:?}, got {got:?}"));
        }
        Ok(())
    }

    /// Proves nothing else was reported: a marker created now must be the
    /// next report.
    async fn expect_nothing_more(&mut self, dir: &Path) -> TestResult {
        let marker = format!("marker-{}", self.staged);
        self.create(dir, &marker, "")?;
        self.expect(&[Created(marker)]).await?;
        Ok(())
    }

    async fn watching(&self) -> Result<WatchMode, String> {
        tokio::time::timeout(PATIENCE, self.task.watching())
            .await
            .map_err(|_| "not watching".to_owned())
    }

    /// Waits (bounded) for the status to become `want`.
    async fn status(&self, want: Status) -> Result<String, String> {
        let handle = self.running.handle();
        let mut rx = handle.watch_status();
        let wait = rx.wait_for(|s| *s == want);
        match tokio::time::timeout(PATIENCE, wait).await {
            Ok(Ok(_)) => Ok(handle.status_details()),
            _ => Err(format!(
                "status {} ({}), not {want}",
                handle.status(),
                handle.status_details()
            )),
        }
    }
}

/// Changes a file in one write: `fs::write` truncates first, and the
/// truncation alone can be seen (and rightly reported) as a change.
fn append(path: &Path, more: &str) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)?
        .write_all(more.as_bytes())
}

#[tokio::test]
async fn creations_changes_deletions_and_renames_are_reported() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("watched");
    std::fs::create_dir(&dir)?;
    std::fs::write(dir.join("present"), "at start")?;
    let mut h = Harness::start(&dir, &[]).await?;
    assert_eq!(h.watching().await?, WatchMode::Notifications);

    h.create(&dir, "a", "1")?;
    h.expect(&[Created("a".into())]).await?;

    append(&dir.join("a"), " longer")?;
    h.expect(&[Changed("a".into())]).await?;

    std::fs::rename(dir.join("a"), dir.join("b"))?;
    h.expect(&[Deleted("a".into()), Created("b".into())])
        .await?;

    std::fs::rename(dir.join("b"), root.path().join("outside"))?;
    h.expect(&[Deleted("b".into())]).await?;

    std::fs::rename(root.path().join("outside"), dir.join("c"))?;
    h.expect(&[Created("c".into())]).await?;

    std::fs::remove_file(dir.join("present"))?;
    h.expect(&[Deleted("present".into())]).await?;

    // Reading is not a change, nor is anything inside a subdirectory.
    let _ = std::fs::read(dir.join("c"))?;
    std::fs::create_dir(dir.join("sub"))?;
    h.expect(&[Created("sub".into())]).await?;
    std::fs::write(dir.join("sub").join("inner"), "not watched")?;
    h.expect_nothing_more(&dir).await?;

    let counter = |n: &str| h.running.handle().counter(&format!("Recorder.{n}"));
    assert_eq!(counter("n_created")?, 5.0, "a, b, c, sub, the marker");
    assert_eq!(counter("n_deleted")?, 3.0);
    assert_eq!(counter("n_changed")?, 1.0);
    assert_eq!(h.running.handle().status(), Status::Alive);
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn files_present_at_start_are_reported_when_asked() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("watched");
    std::fs::create_dir(&dir)?;
    std::fs::write(dir.join("y"), "")?;
    std::fs::write(dir.join("x"), "")?;
    let mut h = Harness::start(&dir, &["--recorder-include-existing"]).await?;
    h.expect(&[Created("x".into()), Created("y".into())])
        .await?;
    h.watching().await?;
    h.expect_nothing_more(&dir).await?;
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_missing_directory_is_a_warning_until_it_appears() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("later");
    let mut h = Harness::start(&dir, &["--recorder-poll-interval", "0.05"]).await?;

    let details = h.status(Status::Warning).await?;
    assert!(
        details.contains(&dir.display().to_string()) && details.contains("No such file"),
        "the warning names the path and the reason: {details}"
    );
    assert_eq!(h.task.mode(), None);

    // The directory arrives with a file in it: the file is new.
    let ready = root.path().join("ready");
    std::fs::create_dir(&ready)?;
    std::fs::write(ready.join("first"), "")?;
    std::fs::rename(&ready, &dir)?;
    h.expect(&[Created("first".into())]).await?;
    assert_eq!(h.watching().await?, WatchMode::Notifications);
    assert_eq!(h.status(Status::Alive).await?, "");

    h.create(&dir, "second", "")?;
    h.expect(&[Created("second".into())]).await?;
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_directory_deleted_while_watched_reports_its_files_and_comes_back() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("watched");
    std::fs::create_dir(&dir)?;
    std::fs::write(dir.join("f"), "")?;
    let mut h = Harness::start(&dir, &["--recorder-poll-interval", "0.05"]).await?;
    h.watching().await?;

    std::fs::remove_dir_all(&dir)?;
    h.expect(&[Deleted("f".into())]).await?;
    let details = h.status(Status::Warning).await?;
    assert!(details.contains("cannot watch"), "{details}");

    std::fs::create_dir(&dir)?;
    h.status(Status::Alive).await?;
    h.watching().await?;
    h.create(&dir, "g", "")?;
    h.expect(&[Created("g".into())]).await?;
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_new_path_at_run_time_is_watched_afresh() -> TestResult {
    let root = tempfile::tempdir()?;
    let (one, two) = (root.path().join("one"), root.path().join("two"));
    std::fs::create_dir(&one)?;
    std::fs::create_dir(&two)?;
    std::fs::write(two.join("already"), "")?;
    let mut h = Harness::start(&one, &[]).await?;
    h.watching().await?;

    h.running
        .handle()
        .set_option("recorder_path", two.to_str().ok_or("utf-8")?)?;
    // Bounded: the new directory is watched once a marker shows up there.
    let mut seen = Vec::new();
    for attempt in 0..50 {
        h.create(&two, &format!("probe-{attempt}"), "")?;
        match tokio::time::timeout(Duration::from_millis(200), h.seen.recv()).await {
            Ok(Some(s)) => {
                seen.push(s);
                break;
            }
            Ok(None) => return Err("the handler is gone".into()),
            Err(_) => {}
        }
    }
    let Some(Created(first)) = seen.first() else {
        return Err(format!("nothing from the new path: {seen:?}").into());
    };
    assert!(first.starts_with("probe-"), "{first}");
    h.create(&one, "ignored", "")?;
    h.expect_nothing_more(&two).await?;
    h.running.shutdown().await?;
    Ok(())
}

/// Waits on the paused clock; scans run on blocking threads, which hold the
/// clock still while they run.
async fn next_paused(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Result<Seen, String> {
    match tokio::time::timeout(Duration::from_secs(60), seen.recv()).await {
        Ok(Some(s)) => Ok(s),
        _ => Err("nothing reported within 60 s of paused time".into()),
    }
}

#[tokio::test(start_paused = true)]
async fn polling_reports_the_same_changes() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir = root.path().join("watched");
    std::fs::create_dir(&dir)?;
    let mut h = Harness::start(&dir, &["--recorder-force-polling"]).await?;
    assert_eq!(h.watching().await?, WatchMode::Polling);

    h.create(&dir, "a", "1")?;
    assert_eq!(next_paused(&mut h.seen).await?, Created("a".into()));
    append(&dir.join("a"), " longer")?;
    assert_eq!(next_paused(&mut h.seen).await?, Changed("a".into()));
    std::fs::rename(dir.join("a"), dir.join("b"))?;
    assert_eq!(next_paused(&mut h.seen).await?, Deleted("a".into()));
    assert_eq!(next_paused(&mut h.seen).await?, Created("b".into()));
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn polling_a_missing_directory_warns_then_recovers() -> TestResult {
    let root = tempfile::tempdir()?;
    let dir: PathBuf = root.path().join("later");
    let mut h = Harness::start(&dir, &["--recorder-force-polling"]).await?;
    let details = h.status(Status::Warning).await?;
    assert!(details.contains("No such file"), "{details}");

    // Several retries fail the same way: still one warning.
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(h.running.handle().status_details().lines().count(), 1);

    std::fs::create_dir(&dir)?;
    std::fs::write(dir.join("new"), "")?;
    assert_eq!(next_paused(&mut h.seen).await?, Created("new".into()));
    assert_eq!(h.running.handle().status(), Status::Alive);
    h.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_a_handler_the_watcher_is_named_for_itself_and_watches_the_current_directory()
-> TestResult {
    let running = VService::new("Watch")
        .with_task(DirectoryWatcherTask::logging())
        .start_with_args(["watch", "--directory-watcher-force-polling"])
        .await?;
    let handle = running.handle();
    assert_eq!(handle.task_names(), ["DirectoryWatcher"]);
    assert_eq!(
        handle.option("directory_watcher_path")?.as_deref(),
        Some(".")
    );
    let task = handle.require::<DirectoryWatcherTask>()?;
    let mode = tokio::time::timeout(Duration::from_secs(60), task.watching()).await?;
    assert_eq!(mode, WatchMode::Polling);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_a_handler_changes_are_logged_at_info() -> TestResult {
    let (logs, _guard) = Logs::capture();
    let root = tempfile::tempdir()?;
    let dir = root.path().join("watched");
    std::fs::create_dir(&dir)?;
    let path = dir.to_str().ok_or("utf-8 path")?;
    // The path is this registration's default; polling, so that the paused
    // clock drives the scans.
    let running = VService::new("Watch")
        .with_task(DirectoryWatcherTask::logging().with_default("path", path))
        .start_with_args(["watch", "--directory-watcher-force-polling"])
        .await?;
    assert_eq!(
        running
            .handle()
            .option("directory_watcher_path")?
            .as_deref(),
        Some(path)
    );
    // Entries there before the first scan count as existing ones.
    let task = running.handle().require::<DirectoryWatcherTask>()?;
    tokio::time::timeout(Duration::from_secs(60), task.watching()).await?;

    // Created in one step: renamed in from next to the watched directory.
    let file = dir.join("a");
    std::fs::write(root.path().join("staged"), "1")?;
    std::fs::rename(root.path().join("staged"), &file)?;
    let created = logs
        .line_ending(&format!("created {}", file.display()))
        .await?;
    // The task's span is not asserted: the other tests of this binary run
    // the runner's span callsites at the same time without this thread's
    // subscriber, and tracing caches their interest process-wide.
    assert!(created.contains(" INFO "), "at info: {created}");
    append(&file, " longer")?;
    logs.line_ending(&format!("changed {}", file.display()))
        .await?;
    std::fs::remove_file(&file)?;
    logs.line_ending(&format!("deleted {}", file.display()))
        .await?;

    let counter = |n: &str| running.handle().counter(&format!("DirectoryWatcher.{n}"));
    assert_eq!(
        (
            counter("n_created")?,
            counter("n_changed")?,
            counter("n_deleted")?
        ),
        (1.0, 1.0, 1.0)
    );
    running.shutdown().await?;
    Ok(())
}
