//! `PeriodicTask` on the real clock: a task every 10 ms for 5 s inside a
//! real service, beside a bare tokio loop sleeping until the same absolute
//! deadlines, and the original Python sparts.
//!
//! Each execution records the `Instant` it starts. With `t0` the start of
//! the first run and `I` the interval:
//! - runs: executions that started within `[t0, t0 + 5 s - I/2)`, that is
//!   the runs due in the window (expected 500);
//! - lateness of run k: `start_k - (t0 + k·I)`; max, mean and p99 over k ≥ 1;
//! - end lag: the lateness of the last run in the window, `start_(n-1) -
//!   (t0 + (n-1)·I)`: the drift accumulated over the whole window (the
//!   original's "drift": 488 runs where 500 were due put its last run
//!   about 120 ms behind);
//! - spacing error: `|start_k - start_(k-1) - I|`, max over k ≥ 1: how
//!   regular the runs are, whatever their phase against `t0`.
//!
//! tokio's timer has a resolution of 1 ms: a sleep ends on the first
//! millisecond tick at or after its deadline. `PeriodicTask` sends its first
//! run through the timer too, so every run starts on the same tick phase and
//! lateness against `t0` stays near the wake-up latency. The bare loop runs
//! its first iteration at once, off the tick grid, so its later runs read up
//! to about 1 ms late against it: a constant offset, not drift.
//!
//! ```sh
//! cargo build --release -p sparts-bench && target/release/periodic --repeat 3
//! ```
#![allow(clippy::print_stdout)]

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use clap::Parser;
use sparts::{BoxError, Periodic, PeriodicContext, PeriodicTask, VService};
use tokio::time::{Instant, sleep, sleep_until};

/// Options of the periodic benchmark.
#[derive(Debug, Parser)]
#[command(about = "Runs and drift of a PeriodicTask on the real clock")]
struct Args {
    /// Interval of the task, in milliseconds.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    interval_ms: u64,
    /// Length of the measured window, in seconds.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    seconds: u64,
    /// How many times to measure each contender.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    repeat: u32,
}

/// The start instants of every execution.
type Starts = Arc<Mutex<Vec<Instant>>>;

fn record(starts: &Starts) {
    let now = Instant::now();
    starts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(now);
}

fn taken(starts: &Starts) -> Vec<Instant> {
    std::mem::take(&mut *starts.lock().unwrap_or_else(PoisonError::into_inner))
}

/// The measured task: records when it starts, nothing else.
#[derive(Clone)]
struct Probe(Starts);

impl Periodic for Probe {
    async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
        record(&self.0);
        Ok(())
    }
}

/// How a contender kept its schedule over one window; times in ms.
struct Stats {
    runs: usize,
    expected: usize,
    max_late: f64,
    mean_late: f64,
    p99_late: f64,
    end_lag: f64,
    max_spacing_error: f64,
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn stats(starts: &[Instant], interval: Duration, window: Duration) -> Result<Stats, BoxError> {
    let t0 = *starts.first().ok_or("no execution at all")?;
    // Runs due before the end of the window; half an interval of slack so a
    // run due at the very end, and a hair early against t0, is not counted.
    let end = t0 + window - interval / 2;
    let in_window: Vec<Instant> = starts.iter().copied().take_while(|s| *s < end).collect();
    // Signed: t0 is when the first run recorded itself, a few µs after its
    // deadline, so a later run that woke right on time reads slightly early.
    let mut late: Vec<f64> = (1u32..)
        .zip(&in_window[1..])
        .map(|(k, s)| ms(s.duration_since(t0)) - ms(interval * k))
        .collect();
    let end_lag = late.last().copied().unwrap_or_default();
    let max_spacing_error = in_window
        .windows(2)
        .map(|w| ms((w[1] - w[0]).abs_diff(interval)))
        .fold(0.0, f64::max);
    let mean_late = late.iter().sum::<f64>() / late.len().max(1) as f64;
    late.sort_by(f64::total_cmp);
    let max_late = late.last().copied().unwrap_or_default();
    let p99_late = late
        .get((late.len() * 99).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default();
    Ok(Stats {
        runs: in_window.len(),
        expected: usize::try_from(window.as_nanos() / interval.as_nanos())?,
        max_late,
        mean_late,
        p99_late,
        end_lag,
        max_spacing_error,
    })
}

fn row(name: &str, s: &Stats) {
    println!(
        "| {name} | {} of {} | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms | {:.3} ms |",
        s.runs, s.expected, s.max_late, s.mean_late, s.p99_late, s.end_lag, s.max_spacing_error,
    );
}

/// A real service with the probe task, for the window and a little more.
async fn sparts_run(interval: Duration, window: Duration) -> Result<Vec<Instant>, BoxError> {
    let starts = Starts::default();
    starts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .reserve(1024);
    let interval_arg = interval.as_secs_f64().to_string();
    let running = VService::new("PeriodicBench")
        .with_task(PeriodicTask::new(Probe(Arc::clone(&starts))))
        .start_with_args([
            "bench",
            "--level",
            "warn",
            "--probe-interval",
            &interval_arg,
        ])
        .await?;
    sleep(window + interval * 5).await;
    running.shutdown().await?;
    Ok(taken(&starts))
}

/// The floor: a bare tokio task sleeping until the same absolute deadlines.
async fn bare_run(interval: Duration, window: Duration) -> Result<Vec<Instant>, BoxError> {
    let starts = Starts::default();
    let recorder = Arc::clone(&starts);
    let until = Instant::now() + window + interval * 5;
    tokio::spawn(async move {
        let mut next = Instant::now();
        while next < until {
            record(&recorder);
            next += interval;
            sleep_until(next).await;
        }
    })
    .await?;
    Ok(taken(&starts))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args = Args::parse();
    let interval = Duration::from_millis(args.interval_ms);
    let window = Duration::from_secs(args.seconds);
    println!(
        "PeriodicTask every {interval:?} for {window:?}, real clock, {} run(s) each",
        args.repeat
    );
    println!();
    println!(
        "| contender | runs | max lateness | mean lateness | p99 lateness | end lag | max spacing error |"
    );
    println!("|---|---|---|---|---|---|---|");
    for i in 1..=args.repeat {
        let starts = sparts_run(interval, window).await?;
        row(
            &format!("sparts-rs PeriodicTask #{i}"),
            &stats(&starts, interval, window)?,
        );
    }
    for i in 1..=args.repeat {
        let starts = bare_run(interval, window).await?;
        row(
            &format!("bare tokio sleep_until loop #{i}"),
            &stats(&starts, interval, window)?,
        );
    }
    println!("| Python sparts (10 ms, 5 s) | 488 of 500 | | | | about 120 ms | |");
    Ok(())
}
