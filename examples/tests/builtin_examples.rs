//! The built-in task examples as real processes: each starts, does its
//! work, and exits 0 on SIGTERM.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

const PATIENCE: Duration = Duration::from_secs(20);

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A child process killed when dropped, so a failing test leaves none behind.
struct Guard(Option<Child>);

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Spawns `bin` and sends every line of `stream` (stdout or stderr) to a channel.
fn spawn(bin: &str, args: &[&str], stdout: bool) -> std::io::Result<(Guard, Receiver<String>)> {
    let mut child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(if stdout {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stderr(if stdout {
            Stdio::null()
        } else {
            Stdio::piped()
        })
        .spawn()?;
    let pipe: Box<dyn Read + Send> = match (child.stdout.take(), child.stderr.take()) {
        (Some(out), _) => Box::new(out),
        (None, Some(err)) => Box::new(err),
        (None, None) => return Err(std::io::ErrorKind::BrokenPipe.into()),
    };
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    Ok((Guard(Some(child)), rx))
}

/// The next `count` lines that satisfy `want`, within the patience.
fn lines_matching(
    rx: &Receiver<String>,
    count: usize,
    want: impl Fn(&str) -> bool,
) -> Result<Vec<String>, String> {
    let deadline = Instant::now() + PATIENCE;
    let mut found = Vec::new();
    let mut seen = Vec::new();
    while found.len() < count {
        let left = deadline
            .checked_duration_since(Instant::now())
            .ok_or_else(|| format!("only {found:?}; saw {seen:?}"))?;
        let line = rx
            .recv_timeout(left)
            .map_err(|_| format!("only {found:?}; saw {seen:?}"))?;
        if want(&line) {
            found.push(line);
        } else {
            seen.push(line);
        }
    }
    Ok(found)
}

fn stop(mut guard: Guard) -> Result<Option<i32>, Box<dyn std::error::Error>> {
    let child = guard.0.as_mut().ok_or("no child")?;
    kill(Pid::from_raw(i32::try_from(child.id())?), Signal::SIGTERM)?;
    let deadline = Instant::now() + PATIENCE;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait()? {
            return Ok(status.code());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    Err("did not exit after SIGTERM".into())
}

#[test]
fn print_clock_prints_unix_times_at_its_interval() -> TestResult {
    let (child, rx) = spawn(
        env!("CARGO_BIN_EXE_print_clock"),
        &["--print-clock-interval", "0.05"],
        true,
    )?;
    let times = lines_matching(&rx, 3, |l| l.parse::<f64>().is_ok())?;
    let times: Vec<f64> = times.iter().filter_map(|l| l.parse().ok()).collect();
    assert!(times.windows(2).all(|w| w[1] > w[0]), "{times:?}");
    assert!(times[0] > 1.7e9, "a unix time: {times:?}");
    assert_eq!(stop(child)?, Some(0));
    Ok(())
}

#[test]
fn option_example_resolves_its_host_and_reads_the_other_tasks_counters() -> TestResult {
    let (child, rx) = spawn(
        env!("CARGO_BIN_EXE_option_example"),
        &[
            "--host-check-name",
            "localhost",
            "--host-check-interval",
            "0.05",
            "--print-counters-interval",
            "0.1",
        ],
        false,
    )?;
    lines_matching(&rx, 1, |l| l.contains("LOOKUP localhost =>"))?;
    lines_matching(&rx, 1, |l| {
        l.contains("HostCheck:") && l.contains("lookups")
    })?;
    assert_eq!(stop(child)?, Some(0));
    Ok(())
}

#[test]
fn dev_watcher_logs_changes_in_its_directory() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().to_str().ok_or("utf-8 path")?;
    let (child, rx) = spawn(
        env!("CARGO_BIN_EXE_dev_watcher"),
        &["--dev-watcher-path", path],
        false,
    )?;
    // Files present before the watch is set up count as existing ones.
    lines_matching(&rx, 1, |l| l.contains("watching"))?;
    let file = dir.path().join("new-device");
    std::fs::write(&file, b"x")?;
    lines_matching(&rx, 1, |l| {
        l.contains("created") && l.contains("new-device")
    })?;
    std::fs::remove_file(&file)?;
    lines_matching(&rx, 1, |l| {
        l.contains("deleted") && l.contains("new-device")
    })?;
    assert_eq!(stop(child)?, Some(0));
    Ok(())
}

#[test]
fn producer_consumer_works_items_off_on_several_workers() -> TestResult {
    let (child, rx) = spawn(
        env!("CARGO_BIN_EXE_producer_consumer"),
        &["--producer-interval", "0.05", "--consumer-workers", "2"],
        false,
    )?;
    let consumed = lines_matching(&rx, 9, |l| l.contains("consumed item"))?;
    let mut items: Vec<u64> = consumed
        .iter()
        .filter_map(|l| {
            l.split("consumed item ")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    items.sort_unstable();
    items.dedup();
    assert_eq!(items.len(), 9, "each item once: {consumed:#?}");
    assert!(
        items.iter().all(|&i| i < 12),
        "in production order: {items:?}"
    );
    assert!(
        consumed.iter().all(|l| l.contains("task{name=Consumer-")),
        "lines name their worker: {consumed:#?}"
    );
    assert_eq!(stop(child)?, Some(0));
    Ok(())
}
