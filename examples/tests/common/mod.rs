//! The child-process harness of the example tests: start an example's
//! binary with its output on a channel, wait (bounded) for a line or the
//! logged port, signal it, wait (bounded) for its exit. Each test binary
//! uses a part of it.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

#[path = "../../../sparts-nats/tests/common/mod.rs"]
pub(crate) mod nats;
pub(crate) mod tmux;
pub(crate) mod wrk;

/// The bound on every wait for a child: generous, since the machine may be
/// busy, and reached only when a test fails.
pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) type TestResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

/// A running example binary. Its stdout and stderr arrive line by line on
/// one channel (the log is on stderr, what an example prints on stdout). It
/// is killed when dropped, so a failing test leaves no process behind.
pub(crate) struct Example {
    child: Child,
    lines: Receiver<String>,
    /// Every line read so far, for the error messages.
    seen: Vec<String>,
}

impl Example {
    /// Starts `bin` with `args`.
    pub(crate) fn spawn(bin: &str, args: &[&str]) -> std::io::Result<Self> {
        Self::spawn_command(Command::new(bin).args(args))
    }

    /// Starts `command` (for an environment of its own), with no stdin.
    pub(crate) fn spawn_command(command: &mut Command) -> std::io::Result<Self> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let (tx, lines) = channel();
        let stdout = child.stdout.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        let stderr = child.stderr.take().ok_or(std::io::ErrorKind::BrokenPipe)?;
        forward(stdout, tx.clone());
        forward(stderr, tx);
        Ok(Self {
            child,
            lines,
            seen: Vec::new(),
        })
    }

    /// The child's process id.
    pub(crate) fn pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    /// The next line containing `text`, within the patience.
    pub(crate) fn expect_line(&mut self, text: &str) -> Result<String, String> {
        let mut found = self.expect_lines(1, |line| line.contains(text))?;
        found.pop().ok_or_else(|| format!("no line with {text:?}"))
    }

    /// The next `count` lines that satisfy `want`, within the patience.
    pub(crate) fn expect_lines(
        &mut self,
        count: usize,
        want: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + PATIENCE;
        let mut found = Vec::new();
        while found.len() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.lines.recv_timeout(left) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => {
                    return Err(self.missing(&found, &format!("within {PATIENCE:?}")));
                }
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.missing(&found, "before the output ended"));
                }
            };
            self.seen.push(line.clone());
            if want(&line) {
                found.push(line);
            }
        }
        Ok(found)
    }

    /// The `count` lines that satisfy `want` among those read already and
    /// the next ones: for a child's stdout, which arrives on its own
    /// thread and may come before or after the stderr lines waited for.
    pub(crate) fn seen_or_next(
        &mut self,
        count: usize,
        want: impl Fn(&str) -> bool,
    ) -> Result<Vec<String>, String> {
        let mut found: Vec<String> = self.seen.iter().filter(|l| want(l)).cloned().collect();
        if found.len() < count {
            found.extend(self.expect_lines(count - found.len(), want)?);
        }
        Ok(found)
    }

    /// Every line read so far, after reading what has arrived, without
    /// waiting.
    pub(crate) fn lines_so_far(&mut self) -> &[String] {
        while let Ok(line) = self.lines.try_recv() {
            self.seen.push(line);
        }
        &self.seen
    }

    fn missing(&self, found: &[String], when: &str) -> String {
        format!(
            "only {found:?} of the lines expected {when}; saw {:#?}",
            self.seen
        )
    }

    /// The HTTP, gRPC and Thrift ports of a demo started by
    /// [`demo_command`], once all its tasks have started.
    pub(crate) fn demo_ports(&mut self) -> TestResult<(u16, u16, u16)> {
        let http = self.logged_port("HttpTask")?;
        let grpc = self.logged_port("GrpcTask")?;
        let thrift = self.logged_port("ThriftServerTask")?;
        self.expect_line("All tasks started")?;
        Ok((http, grpc, thrift))
    }

    /// The port of the next `<task> Server Started on <address> (port N)`
    /// line.
    pub(crate) fn logged_port(&mut self, task: &str) -> TestResult<u16> {
        let line = self.expect_line(&format!("{task} Server Started on "))?;
        let port = line
            .rsplit("(port ")
            .next()
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| format!("no port in {line:?}"))?;
        Ok(port.parse()?)
    }

    /// Sends `signal` to the child.
    pub(crate) fn signal(&self, signal: Signal) -> nix::Result<()> {
        kill(self.pid(), signal)
    }

    /// Sends SIGTERM and waits for the exit.
    pub(crate) fn sigterm(&mut self) -> TestResult<ExitStatus> {
        self.signal(Signal::SIGTERM)?;
        Ok(self.wait_exit()?)
    }

    /// Waits for the child to exit, within the patience.
    pub(crate) fn wait_exit(&mut self) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().map_err(|e| e.to_string())? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Err(format!("did not exit within {PATIENCE:?}"))
    }

    /// Everything the child wrote (stdout and stderr, one line each, in the
    /// order read) once both streams have ended, within the patience.
    pub(crate) fn output(&mut self) -> Result<String, String> {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(RecvTimeoutError::Disconnected) => return Ok(self.seen.join("\n")),
                Err(RecvTimeoutError::Timeout) => {
                    return Err(format!("the output did not end within {PATIENCE:?}"));
                }
            }
        }
    }
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends each line of `stream` to `tx`, from a thread of its own.
fn forward(stream: impl Read + Send + 'static, tx: Sender<String>) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
}

/// Runs `command` to its end (bounded) and returns its exit status and
/// everything it wrote.
pub(crate) fn run(command: &mut Command) -> TestResult<(ExitStatus, String)> {
    let mut example = Example::spawn_command(command)?;
    let status = example.wait_exit()?;
    Ok((status, example.output()?))
}

/// The demo with its HTTP, gRPC and Thrift ports chosen by the system, the
/// D-Bus name `bus_name` (tests run side by side on one session bus), and
/// its producer quiet for the length of a test; then `args`.
pub(crate) fn demo_command(bus_name: &str, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    command
        .args([
            "--http-port",
            "0",
            "--grpc-port",
            "0",
            "--thrift-port",
            "0",
            "--producer-interval",
            "3600",
            "--dbus-bus-name",
            bus_name,
        ])
        .args(args);
    command
}

/// Waits (bounded) until the file at `path` holds `text`.
pub(crate) fn wait_for_file_line(path: &std::path::Path, text: &str) -> Result<(), String> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if std::fs::read_to_string(path).is_ok_and(|s| s.contains(text)) {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(format!("{} never said {text:?}", path.display()))
}

/// An HTTP client for the examples' servers: no proxy, and it gives up
/// after the patience.
/// The JSON `GET http://127.0.0.1:<port><path>` answers.
pub(crate) async fn get_json(port: u16, path: &str) -> TestResult<serde_json::Value> {
    let body = client()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .send()
        .await?
        .text()
        .await?;
    Ok(serde_json::from_str(&body)?)
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

/// curl with `args` (no proxy, at most 20 s): whether it succeeded, and
/// what it printed (stdout, then stderr).
pub(crate) fn curl(args: &[&str]) -> TestResult<(bool, String)> {
    let out = Command::new("curl")
        .args(["-sS", "--noproxy", "*", "--max-time", "20"])
        .args(args)
        .output()?;
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    Ok((out.status.success(), text))
}

/// Whether `program` runs here; when not, says that the test skips.
pub(crate) fn found(program: &str) -> bool {
    let found = Command::new(program).arg("--version").output().is_ok();
    if !found {
        eprintln!("{program} is missing: skipped (CI installs it)");
    }
    found
}
