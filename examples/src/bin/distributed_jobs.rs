//! Work shared by every replica: `POST /jobs/{n}` queues job `n` (202 once
//! stored), the `Jobs` queue executes it on whichever replica is free, and
//! `Tick` runs once per wall-clock tick. Alone it needs nothing else; with
//! NATS JetStream, replicas share the queue and take turns leading `Tick`.
//!
//! ```sh
//! cargo run -p sparts-examples --bin distributed_jobs -- --http-port 8000
//! nats-server -js &   # then, in two terminals:
//! cargo run -p sparts-examples --bin distributed_jobs -- --http-port 8001 \
//!     --jobs-backend nats://127.0.0.1:4222 --tick-coordination nats://127.0.0.1:4222
//! curl -X POST localhost:8001/jobs/42
//! ```
use std::time::Duration;

use sparts::clap;

use sparts::http::HttpTask;
use sparts::http::axum::extract::{Path, State};
use sparts::http::axum::{Router, http::StatusCode, routing::post};
use sparts::nats::{NatsBackend, NatsLease};
use sparts::{
    BoxError, ItemContext, PeriodicContext, PeriodicTask, PeriodicTick, QueueTask, QueueWork,
    ServiceHandle, VService,
};

/// The jobs' own option.
#[derive(clap::Args, Debug, Clone)]
struct JobOptions {
    /// How long each job works, in milliseconds.
    #[arg(long, default_value_t = 10)]
    work_ms: u64,
}

#[derive(Clone)]
struct Jobs;

impl QueueWork<JobOptions> for Jobs {
    type Item = u64;

    async fn execute(&self, n: &u64, ctx: &ItemContext<JobOptions>) -> Result<(), BoxError> {
        tokio::time::sleep(Duration::from_millis(ctx.options().work.work_ms)).await;
        tracing::info!("job {n} done");
        Ok(())
    }
}

#[derive(Clone)]
struct Tick;

impl sparts::Periodic for Tick {
    async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
        if let Some(tick) = PeriodicTick::current() {
            tracing::info!("tick {}", tick.number);
        }
        Ok(())
    }
}

async fn submit(State(service): State<ServiceHandle>, Path(n): Path<u64>) -> (StatusCode, String) {
    let stored = async { service.queue::<u64, ()>("Jobs")?.enqueue(n).await };
    match stored.await {
        Ok(()) => (StatusCode::ACCEPTED, format!("job {n} queued\n")),
        Err(e) => (StatusCode::SERVICE_UNAVAILABLE, format!("{e}\n")),
    }
}

fn main() -> std::process::ExitCode {
    let api = HttpTask::from_fn(|ctx| {
        Router::new()
            .route("/jobs/{n}", post(submit))
            .with_state(ctx.service().clone())
    });
    VService::new("DistributedJobs")
        .with_task(api)
        .with_task(QueueTask::new(Jobs).with_backend(NatsBackend::new()))
        .with_task(PeriodicTask::new(Tick).with_coordinator(NatsLease::new()))
        .run_from_cli()
}
