//! `CommandTask` with real processes: output lines, exit status, restart,
//! a program that cannot start, and no orphan after shutdown (the child and
//! its own child are gone).
//!
//! Processes run on the real clock; every wait is bounded and no timing is
//! asserted.

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::ExitStatusExt;
use std::time::Duration;

use sparts_core::{Error, IntoTaskSpec, Status, VService, tasks::CommandTask};
use tokio::sync::mpsc;

const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// Lines of one stream, on a channel.
struct Lines(mpsc::UnboundedReceiver<String>);

impl Lines {
    fn new() -> (impl Fn(&str) + Send + Sync + 'static, Self) {
        let (tx, rx) = mpsc::unbounded_channel();
        let send = move |line: &str| {
            let _ = tx.send(line.to_owned());
        };
        (send, Self(rx))
    }

    async fn next(&mut self) -> Result<String, String> {
        match tokio::time::timeout(PATIENCE, self.0.recv()).await {
            Ok(Some(line)) => Ok(line),
            Ok(None) => Err("the stream ended".into()),
            Err(_) => Err(format!("no line within {PATIENCE:?}")),
        }
    }

    fn rest(&mut self) -> Vec<String> {
        let mut rest = Vec::new();
        while let Ok(line) = self.0.try_recv() {
            rest.push(line);
        }
        rest
    }
}

/// Whether `pid` runs (a zombie does not: it has ended and waits to be reaped
/// by whoever adopted it).
fn is_running(pid: i32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    let state = stat
        .rsplit_once(") ")
        .and_then(|(_, rest)| rest.chars().next());
    !matches!(state, Some('Z' | 'X'))
}

/// Waits (bounded) for `pid` to stop running.
async fn gone(pid: i32) -> bool {
    for _ in 0..500 {
        if !is_running(pid) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

#[tokio::test]
async fn output_lines_go_to_callbacks_and_the_exit_status_to_a_future() -> TestResult {
    let (on_out, mut out) = Lines::new();
    let (on_err, mut err) = Lines::new();
    let script = r"echo one; echo oops >&2; printf 'caf\351\n'; printf 'no newline'; exit 3";
    let task = CommandTask::new("sh", ["-c", script])
        .on_stdout(on_out)
        .on_stderr(on_err);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Script"))
        .start_with_args(["cmd"])
        .await?;
    let handle = running.handle().clone();
    let task = handle.require_named::<CommandTask>("Script")?;
    let status = tokio::time::timeout(PATIENCE, task.exit_status()).await??;
    assert_eq!(status.code(), Some(3));
    assert_eq!(task.last_exit_status(), Some(status));

    // Every line was delivered before the status.
    assert_eq!(out.next().await?, "one");
    assert_eq!(out.rest(), ["caf\u{fffd}", "no newline"]);
    assert_eq!(err.next().await?, "oops");
    assert_eq!(handle.counter("Script.n_lines_stdout")?, 3.0);
    assert_eq!(handle.counter("Script.n_lines_stderr")?, 1.0);
    assert_eq!(handle.counter("Script.n_starts")?, 1.0);
    assert_eq!(handle.counter("Script.n_exits")?, 1.0);

    // Without restart the task ends with its command, and so does a service
    // that had nothing else to do.
    tokio::time::timeout(PATIENCE, running.wait()).await??;
    Ok(())
}

#[tokio::test]
async fn the_environment_and_working_directory_are_the_commands() -> TestResult {
    let dir = tempfile::tempdir()?;
    let (on_out, mut out) = Lines::new();
    let task = CommandTask::new(
        "sh",
        ["-c", "echo \"$GREETING\"; pwd; echo \"${HOME:-no home}\""],
    )
    .env_clear()
    .env("GREETING", "hello")
    .current_dir(dir.path())
    .on_stdout(on_out);
    let running = VService::new("Cmd")
        .with_task(task)
        .start_with_args(["cmd"])
        .await?;
    assert_eq!(out.next().await?, "hello");
    assert_eq!(
        std::fs::canonicalize(out.next().await?)?,
        std::fs::canonicalize(dir.path())?
    );
    assert_eq!(out.next().await?, "no home");
    tokio::time::timeout(PATIENCE, running.wait()).await??;
    Ok(())
}

#[tokio::test]
async fn shutdown_leaves_no_orphan() -> TestResult {
    let (on_out, mut out) = Lines::new();
    // The shell starts a grandchild in its process group and waits for it.
    let task = CommandTask::new("sh", ["-c", "sleep 300 & echo $!; wait"]).on_stdout(on_out);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Sleeper"))
        .start_with_args(["cmd"])
        .await?;
    let task = running.handle().require_named::<CommandTask>("Sleeper")?;
    let grandchild: i32 = out.next().await?.parse()?;
    let child = i32::try_from(task.pid().ok_or("a running command has a pid")?)?;
    assert!(is_running(child) && is_running(grandchild));
    let status = task.exit_status();

    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let status = tokio::time::timeout(PATIENCE, status).await??;
    assert_eq!(status.signal(), Some(libc_sigterm()), "{status}");
    assert!(gone(child).await, "the child {child} still runs");
    assert!(
        gone(grandchild).await,
        "the grandchild {grandchild} still runs"
    );
    assert_eq!(task.pid(), None);
    Ok(())
}

#[tokio::test]
async fn a_command_ignoring_sigterm_is_killed_after_the_kill_timeout() -> TestResult {
    let (on_out, mut out) = Lines::new();
    // SIGTERM ignored by the shell and, inherited, by its children.
    let script = "trap '' TERM; sleep 300 & echo $!; wait; wait";
    let task = CommandTask::new("sh", ["-c", script]).on_stdout(on_out);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Stubborn"))
        .start_with_args(["cmd", "--stubborn-kill-timeout", "0.2"])
        .await?;
    let task = running.handle().require_named::<CommandTask>("Stubborn")?;
    let grandchild: i32 = out.next().await?.parse()?;
    let status = task.exit_status();

    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let status = tokio::time::timeout(PATIENCE, status).await??;
    assert_eq!(status.signal(), Some(9), "{status}");
    assert!(
        gone(grandchild).await,
        "the grandchild {grandchild} still runs"
    );
    Ok(())
}

#[tokio::test]
async fn a_command_that_exits_is_restarted_when_asked() -> TestResult {
    let (on_out, mut out) = Lines::new();
    let task = CommandTask::new("sh", ["-c", "echo run"])
        .on_stdout(on_out)
        .restart_on_exit(true);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Again"))
        .start_with_args(["cmd", "--again-restart-delay", "0.01"])
        .await?;
    for _ in 0..3 {
        assert_eq!(out.next().await?, "run");
    }
    let handle = running.handle().clone();
    assert!(handle.counter("Again.n_starts")? >= 3.0);
    assert!(handle.counter("Again.n_exits")? >= 2.0);
    let task = handle.require_named::<CommandTask>("Again")?;
    assert_eq!(task.last_exit_status().and_then(|s| s.code()), Some(0));
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    Ok(())
}

#[tokio::test]
async fn the_restart_option_overrides_the_builder() -> TestResult {
    let task = CommandTask::new("true", Vec::<String>::new()).restart_on_exit(true);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Once"))
        .start_with_args(["cmd", "--once-restart", "false"])
        .await?;
    let handle = running.handle().clone();
    tokio::time::timeout(PATIENCE, running.wait()).await??;
    assert_eq!(handle.counter("Once.n_starts")?, 1.0);
    Ok(())
}

#[tokio::test]
async fn a_program_that_cannot_start_fails_the_task_naming_it() -> TestResult {
    let task = CommandTask::new("/nonexistent/sparts-program", ["--flag"]);
    let running = VService::new("Cmd")
        .with_task(task)
        .start_with_args(["cmd"])
        .await?;
    let result = tokio::time::timeout(PATIENCE, running.wait()).await?;
    let Err(Error::TaskFailed(failure)) = result else {
        return Err(format!("expected a task failure, got {result:?}").into());
    };
    let message = failure.to_string();
    assert!(
        message.contains("cannot start `/nonexistent/sparts-program`")
            && message.contains("No such file"),
        "{message}"
    );
    Ok(())
}

#[tokio::test]
async fn with_restart_a_program_that_cannot_start_is_a_warning_until_it_can() -> TestResult {
    let dir = tempfile::tempdir()?;
    let program = dir.path().join("later.sh");
    let (on_out, mut out) = Lines::new();
    let task = CommandTask::new(&program, Vec::<String>::new())
        .on_stdout(on_out)
        .restart_on_exit(true);
    let running = VService::new("Cmd")
        .with_task(task.with_name("Later"))
        .start_with_args(["cmd", "--later-restart-delay", "0.05"])
        .await?;
    let handle = running.handle().clone();
    let mut status = handle.watch_status();
    tokio::time::timeout(PATIENCE, status.wait_for(|s| *s == Status::Warning)).await??;
    let details = handle.status_details();
    assert!(
        details.contains("cannot start") && details.contains("later.sh"),
        "{details}"
    );
    let task = handle.require_named::<CommandTask>("Later")?;
    // Asked before the first start: the first run's status.
    let first = task.exit_status();

    // The program appears (written aside, then moved in whole).
    let staged = dir.path().join("staged");
    std::fs::write(&staged, "#!/bin/sh\necho started\nexec sleep 300\n")?;
    std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&staged, &program)?;
    assert_eq!(out.next().await?, "started");
    tokio::time::timeout(PATIENCE, status.wait_for(|s| *s == Status::Alive)).await??;
    assert!(handle.counter("Later.n_spawn_errors")? >= 1.0);

    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let first = tokio::time::timeout(PATIENCE, first).await??;
    assert_eq!(first.signal(), Some(libc_sigterm()), "{first}");
    Ok(())
}

#[tokio::test]
async fn an_exit_status_that_will_never_come_is_an_error() -> TestResult {
    let task =
        CommandTask::new("/nonexistent/sparts-program", Vec::<String>::new()).restart_on_exit(true);
    let running = VService::new("Cmd")
        .with_task(task)
        .start_with_args(["cmd"])
        .await?;
    let task = running.handle().require::<CommandTask>()?;
    let status = task.exit_status();
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let result = tokio::time::timeout(PATIENCE, status).await?;
    assert!(
        matches!(&result, Err(Error::TaskNotRunning(p)) if p.contains("/nonexistent/sparts-program")),
        "{result:?}"
    );
    Ok(())
}

fn libc_sigterm() -> i32 {
    nix::sys::signal::Signal::SIGTERM as i32
}
