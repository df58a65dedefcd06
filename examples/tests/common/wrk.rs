//! `wrk` as the example tests drive it: started against a running example,
//! waited for (bounded), its report read into counts.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{PATIENCE, TestResult};

/// What `wrk` counted.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct WrkCounts {
    pub(crate) requests: u64,
    /// Connect, read, write and timeout errors, summed.
    pub(crate) socket_errors: u64,
    pub(crate) non_2xx: u64,
}

/// Reads `wrk`'s report: `N requests in ...`, and the `Socket errors:` and
/// `Non-2xx or 3xx responses:` lines, which it prints only when there are
/// some.
pub(crate) fn parse(report: &str) -> Result<WrkCounts, String> {
    let mut counts = WrkCounts::default();
    let mut saw_requests = false;
    for line in report.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("Socket errors:") {
            // `connect 0, read 3, write 0, timeout 0`
            for part in rest.split(',') {
                let number = part.split_whitespace().last().unwrap_or("");
                counts.socket_errors += number
                    .parse::<u64>()
                    .map_err(|_| format!("a bad wrk line: {line:?}"))?;
            }
        } else if let Some(rest) = line.strip_prefix("Non-2xx or 3xx responses:") {
            counts.non_2xx = rest
                .trim()
                .parse()
                .map_err(|_| format!("a bad wrk line: {line:?}"))?;
        } else if line.contains(" requests in ") {
            let number = line.split_whitespace().next().unwrap_or("");
            counts.requests = number
                .parse()
                .map_err(|_| format!("a bad wrk line: {line:?}"))?;
            saw_requests = true;
        }
    }
    if saw_requests {
        Ok(counts)
    } else {
        Err(format!("no request count in wrk's report:\n{report}"))
    }
}

impl WrkCounts {
    /// Asserts that requests were served, and none failed.
    pub(crate) fn assert_clean(&self) {
        assert!(self.requests > 0, "{self:?}");
        assert_eq!((self.socket_errors, self.non_2xx), (0, 0), "{self:?}");
    }
}

/// `wrk` with `args` (its flags and the URL), started now; callers check
/// first that it is installed (`found("wrk")`).
pub(crate) fn start(args: &[&str]) -> TestResult<Child> {
    Ok(Command::new("wrk")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?)
}

/// What `wrk` counted, once it ended (bounded: its `seconds` and the
/// patience); an error if it failed.
pub(crate) fn finish(mut wrk: Child, seconds: u64) -> TestResult<WrkCounts> {
    let deadline = Instant::now() + Duration::from_secs(seconds) + PATIENCE;
    while wrk.try_wait()?.is_none() {
        if Instant::now() > deadline {
            let _ = wrk.kill();
            return Err("wrk did not end in time".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = wrk.wait_with_output()?;
    let report = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        return Err(format!(
            "wrk failed ({}): {report}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        )
        .into());
    }
    let counts = parse(&report)?;
    eprintln!("wrk: {counts:?}\n{report}");
    Ok(counts)
}
