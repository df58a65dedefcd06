//! Restarts and upgrades that drop nothing, as real processes under load:
//! `wrk` against `http_hello` while it restarts on SIGHUP or a new process
//! takes over with `--upgrade`, and a gRPC load loop of our own against
//! `grpc_hello` the same way; neither sees a failed request. An upgrade
//! with nothing running, or one whose new process fails, is an error that
//! leaves the running process serving.
//!
//! Without `wrk` (Debian's wrk package) the HTTP tests say so and pass;
//! CI installs it.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::wrk::{self, WrkCounts};
use common::{Example, PATIENCE, TestResult, curl, found};
use nix::sys::signal::Signal;
use sparts::grpc::never_processed;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;

/// How many restarts each test asks for.
const RESTARTS: usize = 5;

#[test]
fn wrk_reports_are_read() -> Result<(), String> {
    let clean = "Running 10s test @ http://127.0.0.1:1/\n  2 threads and 64 connections\n\
                 \x20 52345 requests in 10.00s, 6.49MB read\nRequests/sec:   5233.21\n";
    assert_eq!(
        wrk::parse(clean)?,
        WrkCounts {
            requests: 52345,
            socket_errors: 0,
            non_2xx: 0
        }
    );
    let errors = "  100 requests in 1.00s, 1.00KB read\n\
                  \x20 Socket errors: connect 2, read 3, write 0, timeout 1\n\
                  \x20 Non-2xx or 3xx responses: 7\n";
    assert_eq!(
        wrk::parse(errors)?,
        WrkCounts {
            requests: 100,
            socket_errors: 6,
            non_2xx: 7
        }
    );
    assert!(wrk::parse("nothing").is_err());
    Ok(())
}

/// `wrk` with 64 connections for `seconds` against `url`, started now.
fn start_wrk(url: &str, seconds: u64) -> TestResult<std::process::Child> {
    wrk::start(&["-t2", "-c64", &format!("-d{seconds}s"), url])
}

/// Sends `RESTARTS` SIGHUPs to `child`, each once the last restart ended,
/// spread over about `seconds`.
fn restart_repeatedly(child: &mut Example, seconds: u64) -> TestResult {
    let pause = Duration::from_millis(seconds * 1000 / (RESTARTS as u64 + 1));
    for _ in 0..RESTARTS {
        std::thread::sleep(pause);
        child.signal(Signal::SIGHUP)?;
        child.expect_line("Restarting")?;
        child.expect_line("All tasks started")?;
    }
    Ok(())
}

#[test]
fn http_hello_restarts_under_wrk_without_an_error() -> TestResult {
    if !found("wrk") {
        return Ok(());
    }
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_http_hello"),
        &["--http-host", "127.0.0.1", "--http-port", "0"],
    )?;
    let port = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    let seconds = 10;
    let load = start_wrk(&format!("http://127.0.0.1:{port}/"), seconds)?;
    restart_repeatedly(&mut child, seconds)?;
    wrk::finish(load, seconds)?.assert_clean();
    // The same port all along.
    assert_eq!(
        child
            .lines_so_far()
            .iter()
            .filter(|l| l.contains("Server Started on"))
            .count(),
        RESTARTS + 1
    );
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

/// Calls counted by the gRPC load loop.
#[derive(Debug, Default)]
struct Calls {
    ok: AtomicU64,
    failed: AtomicU64,
    /// Calls sent again because the server never saw the first attempt.
    resent: AtomicU64,
}

/// How often a call the server never saw is sent, at most.
const ATTEMPTS: usize = 3;

/// 16 tonic clients calling `grpc_hello` on `port` in a loop.
struct GrpcLoad {
    stop: Arc<AtomicBool>,
    calls: Arc<Calls>,
    loops: Vec<tokio::task::JoinHandle<Result<(), String>>>,
}

impl GrpcLoad {
    fn start(port: u16) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let calls = Arc::new(Calls::default());
        let loops = grpc_load(port, 16, Arc::clone(&stop), Arc::clone(&calls));
        Self { stop, calls, loops }
    }

    /// Stops the clients (bounded); every call they made was answered.
    async fn finish(self) -> TestResult {
        self.stop.store(true, Ordering::Relaxed);
        for job in self.loops {
            tokio::time::timeout(PATIENCE, job).await???;
        }
        let calls = &self.calls;
        let (ok, failed) = (
            calls.ok.load(Ordering::Relaxed),
            calls.failed.load(Ordering::Relaxed),
        );
        let resent = calls.resent.load(Ordering::Relaxed);
        eprintln!(
            "gRPC calls: {ok} answered, {failed} failed, {resent} sent again (never processed)"
        );
        assert!(ok > 0);
        assert_eq!(failed, 0);
        Ok(())
    }
}

/// `clients` loops, each on a channel of its own, calling the Greeter of
/// `port` until `stop`; each failure is counted and printed.
fn grpc_load(
    port: u16,
    clients: usize,
    stop: Arc<AtomicBool>,
    calls: Arc<Calls>,
) -> Vec<tokio::task::JoinHandle<Result<(), String>>> {
    (0..clients)
        .map(|_| {
            let stop = Arc::clone(&stop);
            let calls = Arc::clone(&calls);
            tokio::spawn(async move {
                let channel =
                    tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
                        .map_err(|e| e.to_string())?
                        .timeout(PATIENCE)
                        .connect_lazy();
                let mut client = GreeterClient::new(channel);
                while !stop.load(Ordering::Relaxed) {
                    let mut result = None;
                    for attempt in 1..=ATTEMPTS {
                        let call = client.say_hello(HelloRequest {
                            name: "load".into(),
                        });
                        match call.await {
                            Err(status) if attempt < ATTEMPTS && never_processed(&status) => {
                                calls.resent.fetch_add(1, Ordering::Relaxed);
                            }
                            other => {
                                result = Some(other);
                                break;
                            }
                        }
                    }
                    match result {
                        Some(Ok(reply)) if reply.get_ref().message == "Hello load!" => {
                            calls.ok.fetch_add(1, Ordering::Relaxed);
                        }
                        other => {
                            eprintln!("failed call: {other:?}");
                            calls.failed.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
                Ok(())
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_hello_restarts_under_load_without_a_failed_call() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_grpc_hello"),
        &["--grpc-host", "127.0.0.1", "--grpc-port", "0"],
    )?;
    let port = child.logged_port("GrpcTask")?;
    child.expect_line("All tasks started")?;
    let load = GrpcLoad::start(port);
    let mut child = tokio::task::spawn_blocking(move || -> Result<Example, String> {
        restart_repeatedly(&mut child, 5).map_err(|e| e.to_string())?;
        Ok(child)
    })
    .await??;
    load.finish().await?;
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

/// `bin` with `args` and `--pidfile` in `dir`, once all its tasks
/// started, and the port `task` logged.
fn start_with_pidfile(
    bin: &str,
    dir: &Path,
    task: &str,
    args: &[&str],
) -> TestResult<(Example, u16)> {
    let pidfile = dir.join("svc.pid");
    let pidfile = pidfile.to_str().ok_or("a path in UTF-8")?;
    let mut all = args.to_vec();
    all.extend(["--pidfile", pidfile]);
    let mut child = Example::spawn(bin, &all)?;
    let port = child.logged_port(task)?;
    child.expect_line("All tasks started")?;
    Ok((child, port))
}

/// The new process of an upgrade: `bin` with `args`, `--pidfile` in `dir`
/// and `--upgrade`, once it took over (and the old one exited 0).
fn upgrade(bin: &str, dir: &Path, args: &[&str], old: &mut Example) -> TestResult<Example> {
    let pidfile = dir.join("svc.pid");
    let pidfile_text = pidfile.to_str().ok_or("a path in UTF-8")?;
    let mut all = args.to_vec();
    all.extend(["--pidfile", pidfile_text, "--upgrade"]);
    let mut new = Example::spawn(bin, &all)?;
    new.expect_line("All tasks started")?;
    new.expect_line("Upgrade: took over")?;
    old.expect_line("Upgrade: the new process is ready")?;
    let status = old.wait_exit()?;
    assert_eq!(status.code(), Some(0), "the old process: {status:?}");
    let written = std::fs::read_to_string(&pidfile)?;
    assert_eq!(written.trim(), new.pid().to_string(), "the pidfile follows");
    Ok(new)
}

#[test]
fn http_hello_upgrades_under_wrk_without_an_error() -> TestResult {
    if !found("wrk") {
        return Ok(());
    }
    let bin = env!("CARGO_BIN_EXE_http_hello");
    let args = ["--http-host", "127.0.0.1", "--http-port", "0"];
    let dir = tempfile::tempdir()?;
    let (mut old, port) = start_with_pidfile(bin, dir.path(), "HttpTask", &args)?;
    let seconds = 6;
    let url = format!("http://127.0.0.1:{port}/");
    let load = start_wrk(&url, seconds)?;
    std::thread::sleep(Duration::from_secs(2));
    let mut new = upgrade(bin, dir.path(), &args, &mut old)?;
    wrk::finish(load, seconds)?.assert_clean();
    // The new process keeps serving, and can be upgraded in turn.
    assert_eq!(curl(&[&url])?, (true, "Hello, world".to_owned()));
    let mut newer = upgrade(bin, dir.path(), &args, &mut new)?;
    let status = newer.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!dir.path().join("svc.pid").exists(), "removed at exit");
    assert!(
        !dir.path().join("svc.pid.upgrade").exists(),
        "removed at exit"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn grpc_hello_upgrades_under_load_without_a_failed_call() -> TestResult {
    let bin = env!("CARGO_BIN_EXE_grpc_hello");
    let args = ["--grpc-host", "127.0.0.1", "--grpc-port", "0"];
    let dir = tempfile::tempdir()?;
    let (mut old, port) = start_with_pidfile(bin, dir.path(), "GrpcTask", &args)?;
    let load = GrpcLoad::start(port);
    let path = dir.path().to_owned();
    let mut new = tokio::task::spawn_blocking(move || -> Result<Example, String> {
        std::thread::sleep(Duration::from_secs(1));
        let new = upgrade(bin, &path, &args, &mut old).map_err(|e| e.to_string())?;
        std::thread::sleep(Duration::from_secs(1));
        Ok(new)
    })
    .await??;
    load.finish().await?;
    let status = new.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn upgrade_with_no_running_process_is_a_clear_error() -> TestResult {
    let dir = tempfile::tempdir()?;
    let pidfile = dir.path().join("svc.pid");
    let pidfile_text = pidfile.to_str().ok_or("a path in UTF-8")?;
    let (status, output) = common::run(Command::new(env!("CARGO_BIN_EXE_http_hello")).args([
        "--http-port",
        "0",
        "--pidfile",
        pidfile_text,
        "--upgrade",
    ]))?;
    assert_eq!(status.code(), Some(1), "{output}");
    assert!(output.contains("no running process"), "{output}");
    assert!(output.contains(pidfile_text), "{output}");
    assert!(!output.contains("panicked"), "{output}");
    assert!(
        !output.contains("Server Started"),
        "nothing bound: {output}"
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert!(left.is_empty(), "nothing left behind: {left:?}");
    Ok(())
}

#[test]
fn a_failed_upgrade_leaves_the_old_process_serving() -> TestResult {
    let bin = env!("CARGO_BIN_EXE_http_hello");
    let args = ["--http-host", "127.0.0.1", "--http-port", "0"];
    let dir = tempfile::tempdir()?;
    let (mut old, port) = start_with_pidfile(bin, dir.path(), "HttpTask", &args)?;
    let pidfile = dir.path().join("svc.pid");
    let pidfile_text = pidfile.to_str().ok_or("a path in UTF-8")?;
    let url = format!("http://127.0.0.1:{port}/");
    // A bad flag: refused before it even connects.
    let (status, output) = common::run(Command::new(bin).args([
        "--pidfile",
        pidfile_text,
        "--upgrade",
        "--no-such-flag",
    ]))?;
    assert_eq!(status.code(), Some(2), "{output}");
    // A task whose init fails: a unix socket in a directory that is not there.
    let (status, output) = common::run(Command::new(bin).args([
        "--http-sock",
        "/nonexistent/dir/http.sock",
        "--pidfile",
        pidfile_text,
        "--upgrade",
    ]))?;
    assert_eq!(status.code(), Some(1), "{output}");
    old.expect_line("upgrade failed, serving on")?;
    // Untouched: it serves, its pidfile names it, and it upgrades later.
    assert_eq!(curl(&[&url])?, (true, "Hello, world".to_owned()));
    assert_eq!(
        std::fs::read_to_string(&pidfile)?.trim(),
        old.pid().to_string()
    );
    let mut new = upgrade(bin, dir.path(), &args, &mut old)?;
    let status = new.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[test]
fn a_unix_socket_keeps_its_file_across_restarts_and_goes_at_exit() -> TestResult {
    let dir = tempfile::tempdir()?;
    let sock = dir.path().join("http.sock");
    let sock_text = sock.to_str().ok_or("a path in UTF-8")?;
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_http_hello"),
        &["--http-sock", sock_text],
    )?;
    child.expect_line("All tasks started")?;
    let get = || curl(&["--unix-socket", sock_text, "http://localhost/"]);
    let hello = (true, "Hello, world".to_owned());
    assert_eq!(get()?, hello);
    restart_repeatedly(&mut child, 1)?;
    assert!(sock.exists(), "the same file all along");
    assert_eq!(get()?, hello);
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    assert!(!sock.exists(), "removed at exit");
    Ok(())
}

#[tokio::test]
async fn a_restart_that_moves_the_address_binds_the_new_one() -> TestResult {
    let dir = tempfile::tempdir()?;
    let file = dir.path().join("hello.toml");
    std::fs::write(&file, "[http]\nhost = \"127.0.0.1\"\nport = 0\n")?;
    let file_arg = file.to_str().ok_or("a path in UTF-8")?;
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &["--config", file_arg])?;
    let port = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    // The same port on every interface: the kept socket on 127.0.0.1
    // closes before the new one binds, or the bind would find it in use.
    std::fs::write(
        &file,
        format!("[http]\nhost = \"0.0.0.0\"\nport = {port}\n"),
    )?;
    child.signal(Signal::SIGHUP)?;
    assert_eq!(child.logged_port("HttpTask")?, port);
    child.expect_line("All tasks started")?;
    let url = format!("http://127.0.0.1:{port}/");
    assert_eq!(
        common::client().get(&url).send().await?.text().await?,
        "Hello, world"
    );
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}
