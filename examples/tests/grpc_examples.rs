//! The gRPC example as a real process: it logs its port, answers the
//! Greeter, health and admin calls of a tonic client, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(20);

type TestResult = Result<(), Box<dyn std::error::Error>>;

use sparts::grpc::pb::admin::GetStatusRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::grpc::tonic_health::pb::HealthCheckRequest;
use sparts::grpc::tonic_health::pb::health_check_response::ServingStatus;
use sparts::grpc::tonic_health::pb::health_client::HealthClient;

/// A child process killed when dropped, so a failing test leaves none behind.
struct Guard(Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `bin` with its stderr (the log) sent line by line to a channel.
fn spawn(bin: &str, args: &[&str]) -> std::io::Result<(Guard, Receiver<String>)> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((Guard(child), rx))
}

/// The first line containing `want`, within the patience.
fn line_with(rx: &Receiver<String>, want: &str) -> Result<String, String> {
    let deadline = Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("no {want:?}; saw {seen:?}"))?;
        let line = rx
            .recv_timeout(left)
            .map_err(|_| format!("no {want:?}; saw {seen:?}"))?;
        if line.contains(want) {
            return Ok(line);
        }
        seen.push(line);
    }
}

/// The port of the `GrpcTask Server Started on 0.0.0.0 (port N)` line.
fn logged_port(rx: &Receiver<String>) -> Result<u16, Box<dyn std::error::Error>> {
    let line = line_with(rx, "GrpcTask Server Started on 0.0.0.0 (port ")?;
    let port = line
        .rsplit("(port ")
        .next()
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("no port in {line:?}"))?;
    Ok(port.parse()?)
}

fn wait_exit(guard: &mut Guard) -> Result<ExitStatus, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(status) = guard.0.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("did not exit in time".into())
}

fn sigterm(mut guard: Guard) -> Result<ExitStatus, Box<dyn std::error::Error>> {
    kill(Pid::from_raw(i32::try_from(guard.0.id())?), Signal::SIGTERM)?;
    wait_exit(&mut guard)
}

// Multi-threaded: the client's connection must answer the server's
// shutdown PING while the test thread blocks waiting for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_hello_greets_reports_health_and_exits_0_on_sigterm() -> TestResult {
    let (child, rx) = spawn(env!("CARGO_BIN_EXE_grpc_hello"), &["--grpc-port", "0"])?;
    let port = logged_port(&rx)?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel.clone())
        .say_hello(HelloRequest { name: "you".into() })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello you!");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "helloworld.Greeter".into(),
        })
        .await?
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);
    let status = AdminClient::new(channel)
        .get_status(GetStatusRequest {})
        .await?
        .into_inner();
    assert_eq!(status.name, "ALIVE");
    let status = sigterm(child)?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_http_serves_both_protocols_on_one_port() -> TestResult {
    let (child, rx) = spawn(env!("CARGO_BIN_EXE_grpc_http"), &["--grpc-port", "0"])?;
    let port = logged_port(&rx)?;
    let body = reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()?
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "you".into() })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello you!");
    let status = sigterm(child)?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}
