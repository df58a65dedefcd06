//! Faults a running service meets and survives: signals it gives no
//! meaning, a log file it cannot write, a log file deleted, a pidfile whose
//! directory is gone.

mod common;

use std::net::TcpListener;
use std::process::Command;

use common::{Example, TestResult, client, wait_for_file_line};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const HELLO: &str = env!("CARGO_BIN_EXE_http_hello");
const EMPTY: &str = env!("CARGO_BIN_EXE_empty_server");

async fn hello(port: u16) -> TestResult<String> {
    Ok(client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?)
}

#[tokio::test]
async fn sigusr1_sigusr2_and_sigpipe_are_survived() -> TestResult {
    let mut server = Example::spawn(HELLO, &["--http-port", "0", "--http-host", "127.0.0.1"])?;
    let port = server.logged_port("HttpTask")?;
    server.expect_line("All tasks started")?;
    for signal in [
        Signal::SIGUSR1,
        Signal::SIGUSR2,
        Signal::SIGPIPE,
        Signal::SIGUSR1,
    ] {
        server.signal(signal)?;
    }
    let said = server.expect_lines(2, |line| {
        line.contains(" received: it asks nothing of a sparts service, ignored")
    })?;
    let said = said.join("\n");
    assert!(
        said.contains("SIGUSR1") && said.contains("SIGUSR2"),
        "{said}"
    );
    assert_eq!(hello(port).await?, "Hello, world");
    assert_eq!(server.sigterm()?.code(), Some(0));
    Ok(())
}

#[tokio::test]
async fn a_log_file_that_cannot_be_written_is_said_once_and_serving_goes_on() -> TestResult {
    let dir = tempfile::tempdir()?;
    let link = dir.path().join("svc.log");
    let real = dir.path().join("real.log");
    std::os::unix::fs::symlink("/dev/full", &link)?;
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let port_arg = port.to_string();
    let log_arg = link.to_str().ok_or("utf-8 path")?;
    let args = [
        "--http-port",
        &port_arg,
        "--http-host",
        "127.0.0.1",
        "--logfile",
        log_arg,
    ];
    let mut server = Example::spawn(HELLO, &args)?;
    server.expect_line("cannot write to the log file")?;
    // Served all the same, with lines still logged (and lost) meanwhile.
    let mut answered = None;
    for _ in 0..200 {
        if let Ok(text) = hello(port).await {
            answered = Some(text);
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(answered.as_deref(), Some("Hello, world"));
    server.signal(Signal::SIGUSR1)?;
    // The disk has room again: SIGHUP reopens the file, which takes lines.
    std::fs::remove_file(&link)?;
    std::os::unix::fs::symlink(&real, &link)?;
    server.signal(Signal::SIGHUP)?;
    let back = server.expect_line("is written again")?;
    assert!(back.contains("lines were lost"), "{back}");
    wait_for_file_line(&real, "All tasks started")?;
    let text = std::fs::read_to_string(&real)?;
    assert!(
        text.contains("log lines before this one were lost: the log file could not be written"),
        "{text}"
    );
    assert_eq!(server.sigterm()?.code(), Some(0));
    let said = server.output()?;
    assert_eq!(
        said.matches("cannot write to the log file").count(),
        1,
        "said once: {said}"
    );
    Ok(())
}

#[test]
fn a_deleted_log_file_is_made_again_by_sighup() -> TestResult {
    let dir = tempfile::tempdir()?;
    let log = dir.path().join("svc.log");
    let mut server = Example::spawn(EMPTY, &["--logfile", log.to_str().ok_or("utf-8 path")?])?;
    wait_for_file_line(&log, "All tasks started")?;
    std::fs::remove_file(&log)?;
    server.signal(Signal::SIGHUP)?;
    wait_for_file_line(&log, "All tasks started")?;
    assert_eq!(server.sigterm()?.code(), Some(0));
    assert!(std::fs::read_to_string(&log)?.contains("Instance shut down gracefully"));
    Ok(())
}

#[test]
fn a_pidfile_whose_directory_is_gone_is_said_so_by_status_and_kill() -> TestResult {
    let dir = tempfile::tempdir()?;
    let run_dir = dir.path().join("run");
    std::fs::create_dir(&run_dir)?;
    let pidfile = run_dir.join("empty.pid");
    let log = dir.path().join("empty.log");
    let pidfile_arg = pidfile.to_str().ok_or("utf-8 path")?;
    let log_arg = log.to_str().ok_or("utf-8 path")?;
    let (status, out) = common::run(Command::new(EMPTY).args([
        "--daemon",
        "--pidfile",
        pidfile_arg,
        "--logfile",
        log_arg,
    ]))?;
    assert!(status.success(), "{out}");
    let pid: i32 = std::fs::read_to_string(&pidfile)?.trim().parse()?;
    wait_for_file_line(&log, "All tasks started")?;
    std::fs::remove_dir_all(&run_dir)?;
    for flag in ["--status", "--kill"] {
        let (status, out) =
            common::run(Command::new(EMPTY).args([flag, "--pidfile", pidfile_arg]))?;
        assert_eq!(status.code(), Some(1), "{flag}: {out}");
        assert!(
            out.contains("is gone, so whether a daemon runs cannot be told"),
            "{flag}: {out}"
        );
    }
    assert!(
        kill(Pid::from_raw(pid), None).is_ok(),
        "the daemon still runs"
    );
    kill(Pid::from_raw(pid), Signal::SIGTERM)?;
    wait_for_file_line(&log, "Instance shut down gracefully")?;
    Ok(())
}

/// The soft limit on open files is raised to the hard one at start, as
/// Go does: a shell's default of 1,024 (here 256) is not a server's.
#[test]
fn the_open_file_limit_is_raised_to_the_hard_limit() -> TestResult {
    let mut command = Command::new("sh");
    command.args([
        "-c",
        "ulimit -S -n 256 && exec \"$@\"",
        "sh",
        HELLO,
        "--http-port",
        "0",
        "--http-host",
        "127.0.0.1",
        "--level",
        "debug",
    ]);
    let mut server = Example::spawn_command(&mut command)?;
    let raised = server.expect_line("raised the open-file limit from 256 to ")?;
    // Logged before the signal handlers are in place: a SIGTERM now would
    // end the process without them.
    server.expect_line("All tasks started")?;
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.pid()))?;
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or("no open-file limit in /proc")?;
    let numbers: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(numbers.first(), numbers.get(1), "{open_files}");
    assert!(
        raised.contains(&format!("to {}", numbers[1])),
        "{raised} / {open_files}"
    );
    assert_eq!(server.sigterm()?.code(), Some(0));
    Ok(())
}
