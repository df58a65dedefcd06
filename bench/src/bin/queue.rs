//! QueueTask throughput against a hand-written tokio mpsc + oneshot worker
//! loop, measured in the same run.
//!
//! Method, the same for every row: the submitter (the runtime's main
//! future) submits `ITEMS` items in a loop, keeping each item's result
//! future in a `Vec`, then awaits the futures in order; the time runs from
//! the first submission to the last result. `execute` returns its item
//! (a no-op); queues are unbounded. Each row is the median of `RUNS` runs, on
//! a multi-threaded tokio runtime with one worker thread per core.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin queue
//! ```
//!
//! The last line is for scripts: `RATIO queue_items_per_s=<x>
//! queue_bare_items_per_s=<y> queue_ratio=<x/y>` (QueueTask with 1 worker
//! against the bare loop).
#![allow(clippy::print_stdout)]

use std::future::Future;
use std::time::{Duration, Instant};

use sparts::{BoxError, ItemContext, NoOptions, QueueTask, QueueWork, VService};
use tokio::sync::{mpsc, oneshot};

const ITEMS: u64 = 1_000_000;
const RUNS: usize = 3;

/// Python sparts on this kind of machine (BEHAVIOUR.md), items/s.
const PYTHON_1_WORKER: f64 = 9_800.0;
const PYTHON_4_WORKERS: f64 = 16_700.0;

#[derive(Clone)]
struct Noop;

impl QueueWork<NoOptions, u64> for Noop {
    type Item = u64;

    async fn execute(&self, item: &u64, _ctx: &ItemContext) -> Result<u64, BoxError> {
        Ok(*item)
    }
}

type Reply = oneshot::Sender<Result<u64, BoxError>>;

/// The baseline: one spawned worker receiving (item, reply) from an
/// unbounded mpsc channel and answering on a oneshot.
async fn bare_mpsc_oneshot() -> Result<Duration, BoxError> {
    let (tx, mut rx) = mpsc::unbounded_channel::<(u64, Reply)>();
    let worker = tokio::spawn(async move {
        while let Some((item, reply)) = rx.recv().await {
            let _ = reply.send(Ok(item));
        }
    });
    let started = Instant::now();
    let mut pending = Vec::with_capacity(ITEMS as usize);
    for item in 0..ITEMS {
        let (reply, result) = oneshot::channel();
        tx.send((item, reply))?;
        pending.push(result);
    }
    check(pending.into_iter().map(|rx| async move { rx.await? })).await?;
    let elapsed = started.elapsed();
    drop(tx);
    worker.await?;
    Ok(elapsed)
}

/// Awaits every result in order and checks each is its item.
async fn check<F>(results: impl Iterator<Item = F>) -> Result<(), BoxError>
where
    F: Future<Output = Result<u64, BoxError>>,
{
    for (expected, result) in results.enumerate() {
        if result.await? != expected as u64 {
            return Err(format!("item {expected} came back wrong").into());
        }
    }
    Ok(())
}

/// The same through a `QueueTask` in a started service.
async fn queue_task(
    task: QueueTask<Noop, NoOptions, u64>,
    workers: usize,
) -> Result<Duration, BoxError> {
    let running = VService::new("Bench")
        .with_task(task)
        .start_with_args(["bench", "--noop-workers", &workers.to_string()])
        .await?;
    let queue = running
        .handle()
        .require::<QueueTask<Noop, NoOptions, u64>>()?;
    let started = Instant::now();
    let mut pending = Vec::with_capacity(ITEMS as usize);
    for item in 0..ITEMS {
        pending.push(queue.submit(item).await?);
    }
    check(pending.into_iter()).await?;
    let elapsed = started.elapsed();
    let completed = running.handle().counter("Noop.n_completed")?;
    if completed != ITEMS as f64 {
        return Err(format!("{completed} items completed, expected {ITEMS}").into());
    }
    running.shutdown().await?;
    Ok(elapsed)
}

/// Items per second, the median of `RUNS` runs.
async fn median_rate<F, Fut>(mut run: F) -> Result<f64, BoxError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Duration, BoxError>>,
{
    let mut rates = Vec::with_capacity(RUNS);
    for _ in 0..RUNS {
        rates.push(ITEMS as f64 / run().await?.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[RUNS / 2])
}

fn thousands(n: f64) -> String {
    let digits = format!("{:.0}", n);
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let baseline = median_rate(bare_mpsc_oneshot).await?;
    let one_worker = median_rate(|| queue_task(QueueTask::new(Noop), 1)).await?;
    let rows = [
        ("QueueTask, 1 worker", one_worker),
        (
            "QueueTask, 4 workers",
            median_rate(|| queue_task(QueueTask::new(Noop), 4)).await?,
        ),
        (
            "QueueTask::priority, 1 worker",
            median_rate(|| queue_task(QueueTask::priority(Noop), 1)).await?,
        ),
        (
            "QueueTask::unique, 1 worker",
            median_rate(|| queue_task(QueueTask::unique(Noop), 1)).await?,
        ),
    ];

    println!(
        "{ITEMS} items, no-op execute, submitted with their futures collected then awaited; \
         median of {RUNS} runs, {} cores",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    println!();
    println!("| What | items/s | vs bare mpsc + oneshot |");
    println!("|---|---:|---:|");
    println!(
        "| bare tokio mpsc + oneshot, 1 worker (baseline) | {} | 1.00 |",
        thousands(baseline)
    );
    for (name, rate) in rows {
        println!("| {name} | {} | {:.2} |", thousands(rate), rate / baseline);
    }
    println!(
        "| Python sparts QueueTask, 1 worker (100,000 items) | {} | {:.3} |",
        thousands(PYTHON_1_WORKER),
        PYTHON_1_WORKER / baseline
    );
    println!(
        "| Python sparts QueueTask, 4 workers (100,000 items) | {} | {:.3} |",
        thousands(PYTHON_4_WORKERS),
        PYTHON_4_WORKERS / baseline
    );
    println!();
    println!(
        "RATIO queue_items_per_s={one_worker:.0} queue_bare_items_per_s={baseline:.0} queue_ratio={:.3}",
        one_worker / baseline
    );
    Ok(())
}
