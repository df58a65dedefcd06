//! The directory watcher benchmark: the latency from a file's creation to
//! the `on_created` callback, against the 100 ms target.
//!
//! A real service (in this process) watches a temporary directory; the
//! benchmark creates files one at a time, each after the previous one was
//! reported, and measures on the real clock from just before `creat` to the
//! callback. It does so with the system's notifications (inotify), then
//! with polling for comparison (each file is created just after the scan
//! that reported the previous one, so polling shows about one interval).
//!
//! ```sh
//! cargo build --release -p sparts-bench && target/release/watcher --files 200
//! ```
#![allow(clippy::print_stdout)]

use std::fs::Metadata;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Parser;
use sparts::{
    VService,
    tasks::{DirectoryHandler, DirectoryWatcherTask, WatchMode},
};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The issue's target for a created file, with notifications.
const TARGET: Duration = Duration::from_millis(100);
/// How long one file may take to be reported before the run is abandoned.
const PATIENCE: Duration = Duration::from_secs(10);

/// Options of the watcher benchmark.
#[derive(Debug, Parser)]
#[command(about = "Latency from a file's creation to DirectoryWatcherTask's callback")]
struct Args {
    /// Files created (one at a time) per mode.
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..))]
    files: u32,
    /// Poll interval of the polling run, in seconds; 0 skips it.
    #[arg(long, default_value_t = 0.1)]
    poll_interval: f64,
}

/// Reports each creation with the time it was seen.
struct Probe(mpsc::UnboundedSender<(PathBuf, Instant)>);

impl DirectoryHandler for Probe {
    async fn on_created(&self, path: &Path, _: &Metadata) {
        let _ = self.0.send((path.to_owned(), Instant::now()));
    }
}

/// Latencies of one mode, sorted.
struct Run {
    mode: WatchMode,
    latencies: Vec<Duration>,
}

impl Run {
    fn percentile(&self, p: f64) -> Duration {
        let n = self.latencies.len();
        let rank = ((p * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }
}

async fn measure(files: u32, extra: &[&str]) -> Result<Run, BoxError> {
    let dir = tempfile::tempdir()?;
    let (tx, mut seen) = mpsc::unbounded_channel();
    let path = dir.path().to_str().ok_or("a UTF-8 temporary directory")?;
    let mut args = vec!["watch-bench", "--probe-path", path];
    args.extend_from_slice(extra);
    let running = VService::new("WatchBench")
        .with_task(DirectoryWatcherTask::new(Probe(tx)))
        .start_with_args(args)
        .await?;
    let task = running.handle().require::<DirectoryWatcherTask<Probe>>()?;
    let mode = tokio::time::timeout(PATIENCE, task.watching()).await?;
    let mut latencies = Vec::with_capacity(files as usize);
    for i in 0..files {
        let file = dir.path().join(format!("file-{i}"));
        let created = Instant::now();
        std::fs::File::create(&file)?;
        let (reported, at) = tokio::time::timeout(PATIENCE, seen.recv())
            .await?
            .ok_or("the watcher stopped")?;
        if reported != file {
            return Err(format!("expected {}, got {}", file.display(), reported.display()).into());
        }
        latencies.push(at.duration_since(created));
    }
    running.shutdown().await?;
    latencies.sort();
    Ok(Run { mode, latencies })
}

fn ms(d: Duration) -> String {
    format!("{:.3}", d.as_secs_f64() * 1000.0)
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let mut runs = vec![measure(args.files, &[]).await?];
    if args.poll_interval > 0.0 {
        let interval = args.poll_interval.to_string();
        let extra = ["--probe-force-polling", "--probe-poll-interval", &interval];
        runs.push(measure(args.files, &extra).await?);
    }

    println!(
        "DirectoryWatcherTask: creation → on_created, {} files one at a time\n",
        args.files
    );
    println!("| Mode | median ms | p99 ms | max ms | target |");
    println!("|---|---|---|---|---|");
    for run in &runs {
        let (mode, target) = match run.mode {
            WatchMode::Notifications => ("notifications (inotify)".to_owned(), {
                let ok = run.percentile(1.0) <= TARGET;
                format!(
                    "≤ {} ms: {}",
                    TARGET.as_millis(),
                    if ok { "met" } else { "MISSED" }
                )
            }),
            _ => (
                format!("polling every {} s", args.poll_interval),
                "(for comparison)".to_owned(),
            ),
        };
        println!(
            "| {mode} | {} | {} | {} | {target} |",
            ms(run.percentile(0.5)),
            ms(run.percentile(0.99)),
            ms(run.percentile(1.0)),
        );
    }
    Ok(())
}
