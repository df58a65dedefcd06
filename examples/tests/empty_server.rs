//! The `empty_server` example as a real process: signals, restart, log
//! file reopening, daemon mode with its pidfile, systemd notification and
//! bad command lines.

mod common;

use std::os::unix::net::UnixDatagram;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use common::{Example, PATIENCE, TestResult, wait_for_file_line};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const BIN: &str = env!("CARGO_BIN_EXE_empty_server");

/// Runs the binary with `args` to its end (bounded): status and output.
fn run(args: &[&str]) -> TestResult<(ExitStatus, String)> {
    common::run(Command::new(BIN).args(args))
}

#[test]
fn sigterm_and_sigint_exit_zero_with_the_two_log_lines() -> TestResult {
    for signal in [Signal::SIGTERM, Signal::SIGINT] {
        let mut server = Example::spawn(BIN, &[])?;
        server.expect_line("All tasks started")?;
        server.signal(signal)?;
        server.expect_line("Instance shut down gracefully")?;
        assert_eq!(server.wait_exit()?.code(), Some(0), "{signal}");
    }
    Ok(())
}

#[test]
fn sighup_restarts_and_reopens_the_log_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("svc.log");
    let rotated = dir.path().join("svc.log.1");
    let log_arg = log.to_str().ok_or("utf-8 path")?;
    let mut server = Example::spawn(BIN, &["--logfile", log_arg])?;
    wait_for_file_line(&log, "All tasks started")?;
    std::fs::rename(&log, &rotated)?;
    server.signal(Signal::SIGHUP)?;
    // The restart writes to a new file at the old path.
    wait_for_file_line(&log, "All tasks started")?;
    server.signal(Signal::SIGTERM)?;
    assert_eq!(server.wait_exit()?.code(), Some(0));
    let old = std::fs::read_to_string(&rotated)?;
    assert!(old.contains("SIGHUP received"), "{old}");
    let new = std::fs::read_to_string(&log)?;
    assert!(new.contains("Instance shut down gracefully"), "{new}");
    Ok(())
}

#[test]
fn daemon_status_kill_and_a_second_instance() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pidfile = dir.path().join("empty.pid");
    let log = dir.path().join("empty.log");
    let pidfile_arg = pidfile.to_str().ok_or("utf-8 path")?;
    let log_arg = log.to_str().ok_or("utf-8 path")?;

    let (status, _) = run(&["--daemon", "--pidfile", pidfile_arg, "--logfile", log_arg])?;
    assert_eq!(
        status.code(),
        Some(0),
        "the foreground process exits once the daemon is ready"
    );
    let daemon_pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    assert!(
        kill(Pid::from_raw(daemon_pid), None).is_ok(),
        "the daemon runs"
    );
    wait_for_file_line(&log, "All tasks started")?;

    let (status, text) = run(&["--status", "--pidfile", pidfile_arg])?;
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(text.contains(&format!("pid {daemon_pid}")), "{text}");

    let (status, text) = run(&["--daemon", "--pidfile", pidfile_arg, "--logfile", log_arg])?;
    assert_eq!(
        status.code(),
        Some(1),
        "a second instance is refused: {text}"
    );
    assert!(
        text.contains("already locked by a running instance"),
        "{text}"
    );

    let (status, text) = run(&["--kill", "--pidfile", pidfile_arg])?;
    assert_eq!(status.code(), Some(0), "{text}");
    assert!(!pidfile.exists(), "a clean exit removes the pidfile");
    wait_gone(daemon_pid)?;
    wait_for_file_line(&log, "Instance shut down gracefully")?;

    let (status, _) = run(&["--status", "--pidfile", pidfile_arg])?;
    assert_eq!(status.code(), Some(1));
    let (status, _) = run(&["--kill", "--pidfile", pidfile_arg])?;
    assert_eq!(status.code(), Some(1), "nothing to kill");
    Ok(())
}

/// Waits (bounded) until a process has exited. `--kill` returns once the
/// pidfile's lock is free, which the daemon lets go just before it exits;
/// an exited daemon may linger as a zombie of whoever reaps orphans here.
fn wait_gone(pid: i32) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        let zombie = std::fs::read_to_string(format!("/proc/{pid}/stat"))
            .map(|stat| {
                stat.rsplit(") ")
                    .next()
                    .is_some_and(|rest| rest.starts_with('Z'))
            })
            .unwrap_or(true);
        if kill(Pid::from_raw(pid), None).is_err() || zombie {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err(format!("pid {pid} still runs"))
}

#[test]
fn a_stale_pidfile_is_removed_by_status() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pidfile = dir.path().join("stale.pid");
    // A pid from a process that has exited, and no lock held.
    let mut gone = Command::new("true").spawn()?;
    gone.wait()?;
    std::fs::write(&pidfile, format!("{}\n", gone.id()))?;
    let (status, text) = run(&["--status", "--pidfile", pidfile.to_str().ok_or("utf-8")?])?;
    assert_eq!(status.code(), Some(1), "{text}");
    assert!(!pidfile.exists());
    Ok(())
}

#[test]
fn a_foreground_pidfile_refuses_a_second_instance() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pidfile = dir.path().join("fg.pid");
    let pidfile_arg = pidfile.to_str().ok_or("utf-8")?;
    let mut first = Example::spawn(BIN, &["--pidfile", pidfile_arg])?;
    first.expect_line("All tasks started")?;
    let (status, text) = run(&["--pidfile", pidfile_arg])?;
    assert_eq!(status.code(), Some(1));
    assert!(text.contains("already locked"), "{text}");
    first.signal(Signal::SIGTERM)?;
    assert_eq!(first.wait_exit()?.code(), Some(0));
    assert!(!pidfile.exists());
    Ok(())
}

#[test]
fn systemd_notifications() -> TestResult {
    let dir = tempfile::tempdir()?;
    let socket_path = dir.path().join("notify.sock");
    let socket = UnixDatagram::bind(&socket_path)?;
    socket.set_read_timeout(Some(PATIENCE))?;
    // A 200 ms watchdog: the service pings every 100 ms.
    let mut server = Example::spawn_command(
        Command::new(BIN)
            .env("NOTIFY_SOCKET", &socket_path)
            .env("WATCHDOG_USEC", "200000"),
    )?;
    let mut messages = Vec::new();
    let receive_until = |wanted: &str, messages: &mut Vec<String>| -> Result<(), String> {
        let mut buf = [0u8; 4096];
        for _ in 0..50 {
            let n = socket
                .recv(&mut buf)
                .map_err(|e| format!("{e}; got {messages:?}"))?;
            let message = String::from_utf8_lossy(&buf[..n]).into_owned();
            messages.push(message.clone());
            if message.contains(wanted) {
                return Ok(());
            }
        }
        Err(format!("no {wanted}: {messages:?}"))
    };
    receive_until("READY=1", &mut messages)?;
    receive_until("WATCHDOG=1", &mut messages)?;
    server.signal(Signal::SIGHUP)?;
    receive_until("RELOADING=1", &mut messages)?;
    receive_until("READY=1", &mut messages)?;
    server.signal(Signal::SIGTERM)?;
    receive_until("STOPPING=1", &mut messages)?;
    assert_eq!(server.wait_exit()?.code(), Some(0));
    assert!(messages.iter().any(|m| m == "STATUS=ALIVE"), "{messages:?}");
    Ok(())
}

#[test]
fn bad_command_lines_exit_2_with_one_line() -> TestResult {
    for args in [
        &["--bogus"][..],
        &["--level", "loud"],
        &["--shutdown-timeout", "-1"],
        &["--kill", "--daemon"],
    ] {
        let (status, text) = run(args)?;
        assert_eq!(status.code(), Some(2), "{args:?}: {text}");
        assert_eq!(text.trim().lines().count(), 1, "{args:?}: {text}");
        assert!(text.starts_with("error: "), "{text}");
    }
    let (status, text) =
        common::run(Command::new(BIN).env("EMPTYSERVICE_SHUTDOWN_TIMEOUT", "later"))?;
    assert_eq!(status.code(), Some(2));
    assert!(
        text.contains("later") && text.contains("shutdown-timeout"),
        "{text}"
    );
    Ok(())
}

#[test]
fn help_and_task_listing() -> TestResult {
    let (status, text) = run(&["--help"])?;
    assert_eq!(status.code(), Some(0));
    for option in [
        "--level",
        "--logfile",
        "--dryrun",
        "--tasks",
        "--shutdown-timeout",
        "--daemon",
        "--pidfile",
        "--kill",
        "--status",
        "EMPTYSERVICE_LEVEL",
    ] {
        assert!(text.contains(option), "{option} in {text}");
    }
    let (status, text) = run(&["--tasks"])?;
    assert_eq!(status.code(), Some(1));
    assert!(text.contains("Available tasks:"), "{text}");
    Ok(())
}
