//! `NatsLease`: a periodic task's ticks on one replica at a time, through a
//! lease in a JetStream key-value bucket.
//!
//! One bucket per task, `SPARTS_LEASE_<Service>_<Task>`, with one key,
//! `leader`, holding `{"holder": …, "last_tick": …}`. The bucket's
//! `max_age` is the lease's TTL (nats-server 2.9 has no per-key TTL), so
//! every replica must be given the same `--<prefix>-lease-ttl`.

mod leadership;
mod record;

use std::sync::Mutex;
use std::time::Duration;

use async_nats::jetstream::{self, stream};
use futures_util::future::BoxFuture;
use sparts_core::BoxError;
use sparts_core::backend::{Coordinator, Leadership, LeaseSpec};
use tokio::sync::oneshot;

use crate::connection::{Connection, NatsUrl};
use crate::error::{Error, Result};
use leadership::NatsLeadership;

/// Runs a [`PeriodicTask`](sparts_core::PeriodicTask)'s ticks on one
/// replica at a time, holding a lease in a NATS JetStream key-value
/// bucket. Offer it with
/// [`with_coordinator`](sparts_core::PeriodicTask::with_coordinator); an
/// operator then turns it on with `--<prefix>-coordination nats://HOST:PORT`
/// (several servers separated by commas, `?replicas=N` for the bucket's
/// replicas), and sets the lease's TTL with `--<prefix>-lease-ttl`.
///
/// The bucket (`SPARTS_LEASE_<Service>_<Task>`) is created at start with
/// the TTL as its `max_age`; one that exists with another TTL refuses the
/// start. The key's revision is the fencing token
/// ([`PeriodicTick::token`](sparts_core::PeriodicTick::token)). Replicas
/// that do not lead try again every third of the TTL, and watch the key,
/// so that a leader that stops is replaced at once.
///
/// ```no_run
/// use sparts_core::{BoxError, Periodic, PeriodicContext, PeriodicTask, VService};
/// use sparts_nats::NatsLease;
///
/// #[derive(Clone)]
/// struct Cleanup;
///
/// impl Periodic for Cleanup {
///     async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
///         Ok(())
///     }
/// }
///
/// // cleaner --cleanup-coordination nats://127.0.0.1:4222 --cleanup-lease-ttl 10
/// fn main() -> std::process::ExitCode {
///     VService::new("Cleaner")
///         .with_task(PeriodicTask::new(Cleanup).with_coordinator(NatsLease::new()))
///         .run_from_cli()
/// }
/// ```
#[derive(Debug, Default, Clone)]
pub struct NatsLease {
    _private: (),
}

impl NatsLease {
    /// The coordinator; the connection is made at start, one per URL in
    /// the process.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Coordinator for NatsLease {
    fn scheme(&self) -> &'static str {
        "nats"
    }

    fn join<'a>(
        &'a self,
        url: &'a str,
        spec: LeaseSpec,
    ) -> BoxFuture<'a, std::result::Result<Box<dyn Leadership>, BoxError>> {
        Box::pin(async move {
            let lease: Box<dyn Leadership> = Box::new(join(url, spec).await?);
            Ok(lease)
        })
    }
}

/// How long one request about the lease may take: short enough that a
/// renewal can be tried again before the holder must step down.
fn request_timeout(ttl: Duration) -> Duration {
    (ttl / 6).clamp(Duration::from_millis(100), Duration::from_secs(5))
}

async fn join(url: &str, spec: LeaseSpec) -> Result<NatsLeadership> {
    let task = spec.task.as_str();
    let url = NatsUrl::parse(task, url)?;
    let connection = Connection::get(task, &url).await?;
    let bucket = record::bucket(spec.service.name(), task);
    declare(&connection.jetstream, task, &bucket, spec.ttl, url.replicas).await?;
    let mut quick = connection.jetstream.clone();
    quick.set_timeout(request_timeout(spec.ttl));
    let kv = quick
        .get_key_value(&bucket)
        .await
        .map_err(|e| declare_error(task, &bucket, e.to_string()))?;
    let (alive, gone) = oneshot::channel::<()>();
    connection.warn_while_disconnected(&spec.service, task, async move {
        let _ = gone.await;
    });
    Ok(NatsLeadership {
        task: task.to_owned(),
        holder: spec.holder,
        ttl: spec.ttl,
        kv,
        leader: Mutex::new(None),
        _alive: alive,
    })
}

fn declare_error(task: &str, bucket: &str, reason: String) -> Error {
    Error::Declare {
        task: task.to_owned(),
        what: format!("the lease bucket {bucket}"),
        reason,
    }
}

/// Creates the bucket, or checks that the one there has the same TTL.
///
/// The bucket's stream is declared as `create_key_value` would declare it:
/// that call first reads the account's information, which async-nats 0.50
/// cannot parse from nats-server 2.9 (it lacks `reserved_memory`).
async fn declare(
    js: &jetstream::Context,
    task: &str,
    bucket: &str,
    ttl: Duration,
    replicas: usize,
) -> Result<()> {
    let config = stream::Config {
        name: format!("KV_{bucket}"),
        description: Some("sparts: who runs a periodic task's ticks".to_owned()),
        subjects: vec![format!("$KV.{bucket}.>")],
        max_messages_per_subject: 1,
        max_age: ttl,
        storage: stream::StorageType::File,
        num_replicas: replicas,
        allow_rollup: true,
        deny_delete: true,
        allow_direct: true,
        discard: stream::DiscardPolicy::New,
        ..Default::default()
    };
    // Creating a stream that exists with the same settings succeeds.
    let refused = match js.create_stream(config).await {
        Ok(_) => return Ok(()),
        Err(error) => error,
    };
    if let Ok(existing) = js.get_stream(format!("KV_{bucket}")).await {
        let theirs = existing.cached_info().config.max_age;
        if theirs != ttl {
            return Err(declare_error(
                task,
                bucket,
                format!(
                    "it exists with a lease TTL (max_age) of {theirs:?}, and this replica's \
                     --<prefix>-lease-ttl is {ttl:?}: give every replica the same TTL, \
                     or delete the bucket (nats kv del {bucket})"
                ),
            ));
        }
    }
    Err(declare_error(task, bucket, refused.to_string()))
}
