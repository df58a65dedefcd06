//! One worker: take an item, execute it, deliver or retry, until drained.

use std::future::Future;
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt;
use tokio::time::Instant;

use super::context::ItemContext;
use super::shared::{Intake, Shared};
use super::store::Entry;
use super::{QueueOptions, QueueWork};
use crate::counters::{Counter, SampleType, Samples, SamplesConfig, Window};
use crate::error::{BoxError, panic_message};
use crate::task::{TaskContext, TaskOptions};
use crate::tasks::TryLater;
use crate::telemetry::QueueMetrics;

/// The task's counters, as Python sparts names them.
pub(super) struct Counters {
    completed: Counter,
    trylater: Counter,
    unhandled: Counter,
    execute_duration_ms: Samples,
    prometheus: QueueMetrics,
}

impl Counters {
    /// Counts an execution that returned (`ok`) or failed and took this long.
    pub(super) fn executed(&self, ok: bool, elapsed_ms: f64) {
        if ok {
            self.completed.increment();
            self.prometheus.completed.inc();
        } else {
            self.unhandled.increment();
            self.prometheus.failed.inc();
        }
        self.execute_duration_ms.add(elapsed_ms);
        self.prometheus.duration.observe(elapsed_ms / 1000.0);
    }

    /// Counts a [`TryLater`].
    pub(super) fn retried(&self) {
        self.trylater.increment();
        self.prometheus.retried.inc();
    }

    /// Registers the counters (at init, so they read 0 before any item) or
    /// returns the registered ones.
    pub(super) fn register<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> Self {
        // Prometheus has labelled families of these; fb303 keeps its names.
        let registry = ctx.counters().fb303_only();
        Self {
            prometheus: ctx.service().telemetry().queue(ctx.name()),
            completed: registry.counter("n_completed"),
            trylater: registry.counter("n_trylater"),
            unhandled: registry.counter("n_unhandled"),
            execute_duration_ms: registry.samples_with(
                "execute_duration_ms",
                SamplesConfig::default()
                    .with_types([
                        SampleType::Count,
                        SampleType::Avg,
                        SampleType::Max,
                        SampleType::Min,
                    ])
                    .with_windows([Window::Secs(60), Window::Secs(240)]),
            ),
        }
    }
}

/// The item being executed; dropped with it still inside means the worker
/// was aborted, and the item's future fails with "stopped".
struct InFlight<'a, T: Send + std::fmt::Debug + 'static, O: Send + 'static> {
    shared: &'a Shared<T, O>,
    entry: Option<Entry<T, O>>,
}

impl<T: Send + std::fmt::Debug + 'static, O: Send + 'static> Drop for InFlight<'_, T, O> {
    fn drop(&mut self) {
        if let Some(entry) = self.entry.take() {
            self.shared.abandon(entry);
        }
    }
}

/// Executes one item. A panic is the item's failure, not the worker's: it
/// comes back as the item's error, and the worker goes on.
pub(super) fn execute_caught<'a, W, O, R>(
    work: &'a W,
    item: &'a W::Item,
    ctx: &'a ItemContext<O>,
) -> impl Future<Output = Result<R, BoxError>> + Send + 'a
where
    W: QueueWork<O, R>,
    O: TaskOptions,
    R: Send + 'static,
{
    AssertUnwindSafe(work.execute(item, ctx))
        .catch_unwind()
        .map(|returned| {
            returned.unwrap_or_else(|panic| {
                Err(format!("execute {}", panic_message(panic.as_ref())).into())
            })
        })
}

/// Works items off the queue until it is closed and drained.
pub(super) async fn run<W, O, R>(
    work: &W,
    shared: &Shared<W::Item, R>,
    ctx: TaskContext<QueueOptions<O>>,
) -> Result<(), BoxError>
where
    W: QueueWork<O, R>,
    O: TaskOptions,
    R: Send + 'static,
{
    let max_attempts = ctx.options().max_attempts;
    let counters = Counters::register(&ctx);
    let token = ctx.token().clone();
    let mut intake = Intake::new(shared, &token);
    // One context per worker, updated for each item, so an item costs no
    // clone of the task's context.
    let mut item_ctx = ItemContext {
        attempt: 0,
        enqueued_at: Instant::now(),
        task: ctx,
    };
    // One clock read per item: an item that follows another without a wait
    // starts when that one ended. A clock read costs a fifth of this loop
    // for a no-op item; the queue's own work between two items (well under
    // a microsecond) then counts in the later one's duration.
    let mut last_end: Option<Instant> = None;
    while let Some(entry) = intake.next().await {
        let mut in_flight = InFlight {
            shared,
            entry: Some(entry),
        };
        let Some(entry) = in_flight.entry.as_ref() else {
            continue;
        };
        item_ctx.attempt = entry.attempt;
        item_ctx.enqueued_at = entry.enqueued_at;
        let started = match last_end.take() {
            Some(end) if !intake.waited() => end,
            _ => Instant::now(),
        };
        let outcome = execute_caught(work, &entry.item, &item_ctx).await;
        let ended = Instant::now();
        last_end = Some(ended);
        let elapsed_ms = ended.saturating_duration_since(started).as_secs_f64() * 1000.0;
        let Some(entry) = in_flight.entry.take() else {
            continue;
        };
        match outcome {
            Ok(output) => {
                counters.executed(true, elapsed_ms);
                shared.finish(entry, Ok(output));
            }
            Err(error) => match TryLater::find(&error) {
                Some(_) if max_attempts > 0 && entry.attempt >= max_attempts => {
                    counters.executed(false, elapsed_ms);
                    let given_up = format!("given up after {max_attempts} attempts: {error}");
                    shared.finish(entry, Err(given_up.into()));
                }
                Some(retry) => {
                    counters.retried();
                    shared.retry(entry, retry.after);
                }
                None => {
                    counters.executed(false, elapsed_ms);
                    shared.finish(entry, Err(error));
                }
            },
        }
    }
    Ok(())
}
