//! The HTTP examples as real processes: they log their port, answer over
//! HTTP, and exit 0 on SIGTERM; a port in use makes them exit non-zero.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(20);

type TestResult = Result<(), Box<dyn std::error::Error>>;

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

/// The port of the `HttpTask Server Started on 0.0.0.0 (port N)` line.
fn logged_port(rx: &Receiver<String>) -> Result<u16, Box<dyn std::error::Error>> {
    let line = line_with(rx, "HttpTask Server Started on 0.0.0.0 (port ")?;
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

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

#[tokio::test]
async fn http_hello_says_hello_and_exits_0_on_sigterm() -> TestResult {
    let (child, rx) = spawn(env!("CARGO_BIN_EXE_http_hello"), &["--http-port", "0"])?;
    let port = logged_port(&rx)?;
    let body = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    let ready = client()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await?;
    assert_eq!(ready.status().as_u16(), 200);
    let status = sigterm(child)?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn http_hello_exits_non_zero_when_its_port_is_taken() -> TestResult {
    let taken = std::net::TcpListener::bind("0.0.0.0:0")?;
    let port = taken.local_addr()?.port().to_string();
    let (mut child, rx) = spawn(env!("CARGO_BIN_EXE_http_hello"), &["--http-port", &port])?;
    let line = line_with(&rx, "in use")?;
    assert!(line.contains(&format!("0.0.0.0:{port}")), "{line}");
    let status = wait_exit(&mut child)?;
    assert!(!status.success(), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn http_app_stores_values_and_counts_writes() -> TestResult {
    let (child, rx) = spawn(env!("CARGO_BIN_EXE_http_app"), &["--http-port", "0"])?;
    let port = logged_port(&rx)?;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let c = client();
    assert_eq!(
        c.get(url("/kv/greeting")).send().await?.status().as_u16(),
        404
    );
    let put = c.put(url("/kv/greeting")).body("hello").send().await?;
    assert_eq!(put.status().as_u16(), 200);
    let got = c.get(url("/kv/greeting")).send().await?.text().await?;
    assert_eq!(got, r#"{"key":"greeting","value":"hello"}"#);
    let metrics = c.get(url("/metrics")).send().await?.text().await?;
    assert!(
        metrics.contains("# TYPE HttpTask_kv_writes counter\nHttpTask_kv_writes 1\n"),
        "{metrics}"
    );
    assert!(metrics.contains("HttpTask_responses_4xx 1\n"), "{metrics}");
    let status = sigterm(child)?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}
