//! Child-process helpers shared by the example tests: spawn an example with
//! its log on a channel, wait (bounded) for a line or the logged port, stop
//! it with SIGTERM. Each test binary uses a part of them.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

pub(crate) const PATIENCE: Duration = Duration::from_secs(20);

pub(crate) type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A child process killed when dropped, so a failing test leaves none behind.
pub(crate) struct Guard(pub(crate) Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Spawns `bin` with its stderr (the log) sent line by line to a channel.
pub(crate) fn spawn(bin: &str, args: &[&str]) -> std::io::Result<(Guard, Receiver<String>)> {
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
pub(crate) fn line_with(rx: &Receiver<String>, want: &str) -> Result<String, String> {
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

/// The port of the first `<task> Server Started on <address> (port N)` line.
pub(crate) fn logged_port(
    rx: &Receiver<String>,
    task: &str,
) -> Result<u16, Box<dyn std::error::Error>> {
    let line = line_with(rx, &format!("{task} Server Started on "))?;
    let port = line
        .rsplit("(port ")
        .next()
        .and_then(|rest| rest.strip_suffix(')'))
        .ok_or_else(|| format!("no port in {line:?}"))?;
    Ok(port.parse()?)
}

pub(crate) fn wait_exit(guard: &mut Guard) -> Result<ExitStatus, Box<dyn std::error::Error>> {
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(status) = guard.0.try_wait()? {
            return Ok(status);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("did not exit in time".into())
}

pub(crate) fn sigterm(mut guard: Guard) -> Result<ExitStatus, Box<dyn std::error::Error>> {
    kill(Pid::from_raw(i32::try_from(guard.0.id())?), Signal::SIGTERM)?;
    wait_exit(&mut guard)
}
