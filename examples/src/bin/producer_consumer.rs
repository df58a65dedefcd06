//! A periodic producer puts items on a queue worked by several consumers.
//! The queue is registered first, so it stops last and works off what the
//! producer queued.
//!
//! ```sh
//! cargo run -p sparts-examples --bin producer_consumer -- --consumer-workers 4 --producer-interval 0.5
//! ```
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sparts::{BoxError, ItemContext, Periodic, PeriodicContext, PeriodicTask};
use sparts::{QueueTask, QueueWork, VService};

#[derive(Clone)]
struct Consumer;

impl QueueWork for Consumer {
    type Item = u64;
    const WORKERS: usize = 3;

    async fn execute(&self, item: &u64, ctx: &ItemContext) -> Result<(), BoxError> {
        tracing::info!("consumed item {item} (attempt {})", ctx.attempt());
        Ok(())
    }
}

#[derive(Clone, Default)]
struct Producer(Arc<AtomicU64>);

impl Periodic for Producer {
    async fn execute(&self, ctx: &PeriodicContext) -> Result<(), BoxError> {
        let queue = ctx.service().require::<QueueTask<Consumer>>()?;
        for _ in 0..3 {
            queue
                .enqueue(self.0.fetch_add(1, Ordering::Relaxed))
                .await?;
        }
        Ok(())
    }
}

fn main() -> std::process::ExitCode {
    VService::new("ProducerConsumer")
        .with_task(QueueTask::new(Consumer))
        .with_task(PeriodicTask::new(Producer::default()))
        .run_from_cli()
}
