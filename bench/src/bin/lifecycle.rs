//! The lifecycle benchmark: how fast a sparts service starts, stops and
//! answers SIGTERM, and how much memory it takes, beside the targets and the
//! original Python sparts.
//!
//! It runs the sibling binaries built next to it (`bench_noop`,
//! `bench_empty_exit`, `bench_idle`) as child processes:
//! - `bench_empty_exit --level error`: wall time from spawn to reaping, and
//!   the child's peak RSS from `wait4`; then the same with `--config` (a
//!   small config file giving its level and shutdown timeout);
//! - `bench_idle`: time from spawn to `All tasks started`, its RSS once idle
//!   (`VmRSS`), and the time from SIGTERM to reaping.
//!
//! ```sh
//! cargo build --release -p sparts-bench && target/release/lifecycle --runs 200
//! ```
//!
//! The last line is for scripts (times in ms, memory in MB):
//! `RATIO empty_exit_ms=<median> noop_exit_ms=<median> empty_peak_rss_mb=<max>
//! noop_peak_rss_mb=<max> sigterm_exit_ms=<median> sigterm_exit_max_ms=<max>
//! config_exit_ms=<median>`.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::mem::MaybeUninit;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use clap::Parser;
use nix::libc;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The line a service logs once every task has started.
const STARTED: &str = "All tasks started";
/// The line a service logs at the end of a clean shutdown.
const SHUT_DOWN: &str = "Instance shut down gracefully";
/// How long an idle service may take to log [`STARTED`].
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// Options of the lifecycle benchmark.
#[derive(Debug, Parser)]
#[command(about = "Start, stop and SIGTERM timings and memory of a sparts service")]
struct Args {
    /// Runs of the service that exits as soon as it has started (and of the
    /// no-op floor).
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Runs of the idle service stopped by SIGTERM.
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..))]
    idle_runs: u32,
}

/// One run of a program that exits by itself.
#[derive(Debug, Clone, Copy)]
struct ExitRun {
    /// Spawn to reaping.
    wall: Duration,
    /// The child's peak resident set size in KiB.
    max_rss_kib: u64,
}

/// One run of the idle service.
#[derive(Debug, Clone, Copy)]
struct IdleRun {
    /// Spawn to the `All tasks started` line.
    ready: Duration,
    /// Resident set size in KiB once started.
    rss_kib: u64,
    /// SIGTERM to reaping.
    stop: Duration,
}

/// Runs `bin` with `args`, output discarded, and reaps it with `wait4` to
/// get its own resource usage. Fails unless it exits with status 0.
fn exit_run(bin: &Path, args: &[&str]) -> Result<ExitRun, BoxError> {
    let start = Instant::now();
    let child = Command::new(bin)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let pid = libc::pid_t::try_from(child.id())?;
    let mut status: libc::c_int = 0;
    let mut usage = MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `pid` is our child and nothing else reaps it (std's `Child` only
    // waits when asked to); `status` and `usage` are valid for writes.
    let reaped = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
    let wall = start.elapsed();
    if reaped != pid {
        return Err(format!("wait4: {}", std::io::Error::last_os_error()).into());
    }
    // SAFETY: wait4 succeeded, so it filled `usage` (which was zeroed anyway).
    let usage = unsafe { usage.assume_init() };
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        return Err(format!("{} {args:?} failed: wait status {status:#x}", bin.display()).into());
    }
    Ok(ExitRun {
        wall,
        // Linux reports ru_maxrss in KiB.
        max_rss_kib: u64::try_from(usage.ru_maxrss)?,
    })
}

/// A memory field of `/proc/<process>/status` (`VmRSS`, `VmHWM`) in KiB.
fn proc_kib(process: &str, field: &str) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{process}/status"))?;
    let line = status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .ok_or_else(|| format!("no {field} in /proc/{process}/status"))?;
    let kib = line
        .split_whitespace()
        .next()
        .ok_or_else(|| format!("malformed {field} line"))?;
    Ok(kib.parse()?)
}

/// Starts the idle service, waits for it to log [`STARTED`], reads its RSS,
/// then times SIGTERM to exit. Fails unless it shuts down cleanly.
fn idle_run(bin: &Path) -> Result<IdleRun, BoxError> {
    let start = Instant::now();
    let mut child = Command::new(bin)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", bin.display()))?;
    let stderr = child.stderr.take().ok_or("the child has no stderr pipe")?;
    // A thread drains stderr to the end, so the service never blocks on a
    // full pipe, and says when it saw the start line.
    let (started_tx, started_rx) = mpsc::channel();
    let reader = thread::spawn(move || {
        let mut lines = Vec::new();
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line.contains(STARTED) {
                let _ = started_tx.send(());
            }
            lines.push(line);
        }
        lines
    });
    let collect = |reader: thread::JoinHandle<Vec<String>>| {
        reader.join().map_or_else(
            |_| "(the stderr reader panicked)".to_owned(),
            |l| l.join("\n"),
        )
    };

    if started_rx.recv_timeout(START_TIMEOUT).is_err() {
        // Either it did not start in time or it exited: reap it either way.
        let _ = child.kill();
        let status = child.wait()?;
        return Err(format!(
            "{} did not log {STARTED:?} within {START_TIMEOUT:?} ({status}); stderr:\n{}",
            bin.display(),
            collect(reader)
        )
        .into());
    }
    let ready = start.elapsed();
    let rss = proc_kib(&child.id().to_string(), "VmRSS");
    let pid = Pid::from_raw(i32::try_from(child.id())?);
    let stop_start = Instant::now();
    if let Err(e) = kill(pid, Signal::SIGTERM) {
        let _ = child.kill();
        let _ = child.wait();
        return Err(format!("cannot send SIGTERM to {pid}: {e}").into());
    }
    let status = child.wait()?;
    let stop = stop_start.elapsed();
    let stderr = collect(reader);
    if !status.success() || !stderr.contains(SHUT_DOWN) {
        return Err(format!(
            "{} did not shut down cleanly ({status}); stderr:\n{stderr}",
            bin.display()
        )
        .into());
    }
    Ok(IdleRun {
        ready,
        rss_kib: rss?,
        stop,
    })
}

/// Min, median, 90th percentile (nearest rank) and max of some values.
#[derive(Debug, Clone, Copy)]
struct Summary {
    min: f64,
    median: f64,
    p90: f64,
    max: f64,
}

impl Summary {
    fn of(mut values: Vec<f64>) -> Self {
        values.sort_by(f64::total_cmp);
        let n = values.len();
        let at = |i: usize| {
            values
                .get(i.min(n.saturating_sub(1)))
                .copied()
                .unwrap_or(f64::NAN)
        };
        Self {
            min: at(0),
            median: if n % 2 == 1 || n == 0 {
                at(n / 2)
            } else {
                (at(n / 2 - 1) + at(n / 2)) / 2.0
            },
            p90: at((n * 9).div_ceil(10).saturating_sub(1)),
            max: at(n.saturating_sub(1)),
        }
    }

    fn row(&self, name: &str, digits: usize) -> String {
        format!(
            "| {name} | {:.digits$} | {:.digits$} | {:.digits$} | {:.digits$} |",
            self.min, self.median, self.p90, self.max
        )
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// KiB to (decimal) megabytes, the unit of the targets.
fn mb(kib: u64) -> f64 {
    // Exact for any RSS a machine can have (below 2^53 KiB).
    kib as f64 * 1024.0 / 1e6
}

fn met(ok: bool) -> &'static str {
    if ok { "yes" } else { "**no**" }
}

fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let exe = std::env::current_exe()?;
    let dir: PathBuf = exe
        .parent()
        .ok_or("the benchmark's executable has no parent directory")?
        .to_owned();
    let sibling = |name: &str| -> Result<PathBuf, BoxError> {
        let path = dir.join(name);
        if path.is_file() {
            Ok(path)
        } else {
            Err(format!(
                "{} not found: build it with `cargo build --release -p sparts-bench`",
                path.display()
            )
            .into())
        }
    };
    let noop_bin = sibling("bench_noop")?;
    let empty_bin = sibling("bench_empty_exit")?;
    let idle_bin = sibling("bench_idle")?;
    let cpus = thread::available_parallelism().map_or(0, usize::from);

    // Warm the page cache and the dynamic loader's caches first.
    for _ in 0..5 {
        exit_run(&noop_bin, &[])?;
        exit_run(&empty_bin, &["--level", "error"])?;
    }
    let noop: Vec<ExitRun> = (0..args.runs)
        .map(|_| exit_run(&noop_bin, &[]))
        .collect::<Result<_, _>>()?;
    let empty: Vec<ExitRun> = (0..args.runs)
        .map(|_| exit_run(&empty_bin, &["--level", "error"]))
        .collect::<Result<_, _>>()?;
    let config_dir = tempfile::tempdir()?;
    let config_file = config_dir.path().join("empty.toml");
    std::fs::write(&config_file, "level = \"error\"\nshutdown_timeout = 10\n")?;
    let config_file = config_file.display().to_string();
    let configured: Vec<ExitRun> = (0..args.runs)
        .map(|_| exit_run(&empty_bin, &["--config", &config_file]))
        .collect::<Result<_, _>>()?;
    // Linux carries the spawning process's peak RSS over exec into the
    // child's `ru_maxrss`, so ours is the smallest value it can report.
    let floor = mb(proc_kib("self", "VmHWM")?);
    let idle: Vec<IdleRun> = (0..args.idle_runs)
        .map(|_| idle_run(&idle_bin))
        .collect::<Result<_, _>>()?;

    let noop_wall = Summary::of(noop.iter().map(|r| ms(r.wall)).collect());
    let noop_rss = Summary::of(noop.iter().map(|r| mb(r.max_rss_kib)).collect());
    let empty_wall = Summary::of(empty.iter().map(|r| ms(r.wall)).collect());
    let empty_rss = Summary::of(empty.iter().map(|r| mb(r.max_rss_kib)).collect());
    let config_wall = Summary::of(configured.iter().map(|r| ms(r.wall)).collect());
    let ready = Summary::of(idle.iter().map(|r| ms(r.ready)).collect());
    let idle_rss = Summary::of(idle.iter().map(|r| mb(r.rss_kib)).collect());
    let stop = Summary::of(idle.iter().map(|r| ms(r.stop)).collect());

    println!("## sparts-rs lifecycle benchmark ({cpus} CPUs)");
    println!();
    println!(
        "`bench_empty_exit --level error` and the `bench_noop` floor: {} runs each, spawn → reaped; \
         peak RSS is the child's `ru_maxrss` (MB = 10^6 bytes).",
        args.runs
    );
    println!();
    println!("| measure | min | median | p90 | max |");
    println!("|---|---:|---:|---:|---:|");
    println!(
        "{}",
        noop_wall.row("no-op Rust program, spawn → exit (ms)", 2)
    );
    println!("{}", empty_wall.row("empty service, spawn → exit (ms)", 2));
    println!(
        "{}",
        config_wall.row("the same with `--config`, spawn → exit (ms)", 2)
    );
    println!("{}", noop_rss.row("no-op Rust program, peak RSS (MB)", 2));
    println!("{}", empty_rss.row("empty service, peak RSS (MB)", 2));
    println!();
    println!(
        "`ru_maxrss` cannot report less than the spawning process's own peak RSS, which Linux \
         carries over exec: {floor:.2} MB here. Values at that floor are upper bounds \
         (`/usr/bin/time -f %M target/release/bench_noop` gives the no-op's own figure)."
    );
    println!();
    println!(
        "`bench_idle`: {} runs; RSS read from /proc once `{STARTED}` was logged.",
        args.idle_runs
    );
    println!();
    println!("| measure | min | median | p90 | max |");
    println!("|---|---:|---:|---:|---:|");
    println!("{}", ready.row("spawn → `All tasks started` (ms)", 2));
    println!("{}", idle_rss.row("idle RSS (MB)", 2));
    println!("{}", stop.row("SIGTERM → exit (ms)", 2));
    println!();
    println!("### Against the targets");
    println!();
    println!("| measure | sparts-rs | target | original sparts | met |");
    println!("|---|---:|---:|---:|:---:|");
    println!(
        "| empty service start→exit (median) | {:.2} ms | ≤ 5 ms | 130 ms (Python) | {} |",
        empty_wall.median,
        met(empty_wall.median <= 5.0)
    );
    println!(
        "| empty service peak RSS (max of runs) | {:.2} MB | ≤ 5 MB | 15.3 MB (Python) | {} |",
        empty_rss.max,
        met(empty_rss.max <= 5.0)
    );
    println!(
        "| idle service SIGTERM→exit (median) | {:.2} ms | ≤ 20 ms | — | {} |",
        stop.median,
        met(stop.median <= 20.0)
    );
    println!(
        "| idle service SIGTERM→exit (max) | {:.2} ms | ≤ 20 ms | — | {} |",
        stop.max,
        met(stop.max <= 20.0)
    );
    println!();
    println!(
        "RATIO empty_exit_ms={:.2} noop_exit_ms={:.2} empty_peak_rss_mb={:.2} noop_peak_rss_mb={:.2} \
         sigterm_exit_ms={:.2} sigterm_exit_max_ms={:.2} config_exit_ms={:.2}",
        empty_wall.median,
        noop_wall.median,
        empty_rss.max,
        noop_rss.max,
        stop.median,
        stop.max,
        config_wall.median
    );
    Ok(())
}
