//! A periodic producer puts items on a queue worked by several consumers:
//! two closures, found by each other by the queue's name. The queue is
//! registered first, so it stops last and works off what the producer
//! queued.
//!
//! ```sh
//! cargo run -p sparts-examples --bin producer_consumer -- --consumer-workers 4 --producer-interval 0.5
//! ```
use std::sync::atomic::{AtomicU64, Ordering};

use sparts::{TaskSpec, VService};

fn main() -> std::process::ExitCode {
    let consumer = TaskSpec::queue("Consumer", |item: u64, ctx| async move {
        tracing::info!("consumed item {item} (attempt {})", ctx.attempt());
        Ok(())
    });
    let next = AtomicU64::new(0);
    let producer = TaskSpec::periodic("Producer", move |ctx| {
        let first = next.fetch_add(3, Ordering::Relaxed);
        async move {
            let queue = ctx.service().queue::<u64, ()>("Consumer")?;
            Ok(queue.enqueue_all(first..first + 3).await?)
        }
    });
    VService::new("ProducerConsumer")
        .with_task(consumer.with_default("workers", "3"))
        .with_task(producer)
        .run_from_cli()
}
