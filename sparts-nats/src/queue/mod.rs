//! `NatsBackend`: a queue task's items in a JetStream work-queue stream,
//! shared by every replica of the service.

mod dead;
mod delivery;
mod fetch;
mod inner;
mod names;
mod remote;
mod replies;

use std::fmt::Debug;
use std::time::Duration;

use async_nats::jetstream::{consumer, stream};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sparts_core::BoxError;
use sparts_core::backend::{QueueBackend, QueueSpec, RemoteQueue};

pub use self::dead::{DeadLetter, dead_letters, delete_queue};
use self::names::{CONSUMER, Names};
use self::remote::NatsQueue;
use crate::connection::{Connection, NatsUrl};
use crate::error::Error;

/// How many tries an item gets when `--<prefix>-max-attempts` is 0.
const DEFAULT_MAX_ATTEMPTS: u32 = 10;
/// How long dead letters are kept for inspection.
const DEAD_LETTERS_KEPT: Duration = Duration::from_secs(14 * 86_400);
/// How long a publish retried after a lost answer is recognised as the same.
const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// A [`QueueTask`](sparts_core::QueueTask)'s items in NATS JetStream, for
/// `--<prefix>-backend nats://HOST:PORT`: any replica submits, any replica
/// executes, **at least once**.
///
/// - The items live in a work-queue stream `SPARTS_<Service>_<Task>` (file
///   storage) with one durable consumer, `workers`, that every replica pulls
///   from. A replica holds at most `--<prefix>-workers` items executing and
///   `--<prefix>-prefetch` (default 32) taken ahead, which it keeps alive
///   while they wait; with 0, a long item goes to whichever replica is free
///   first.
/// - An item is acknowledged only after `execute` ends. A replica that dies
///   with it (even `kill -9`) lets it go to another after
///   `--<prefix>-ack-wait`; while `execute` runs, the worker says it is
///   alive twice per ack wait, so a long execution is not cut short.
/// - [`TryLater::after`](sparts_core::TryLater::after) redelivers the item
///   after its delay; `TryLater::new()` after 1 s, doubling per attempt up
///   to 5 minutes.
/// - An error or a panic goes to the submitter's future when it still
///   waits; otherwise, like an item that failed `--<prefix>-max-attempts`
///   times (default 10), or whose replicas died with it that often, it goes
///   to the dead-letter stream `SPARTS_<Service>_<Task>_DEAD` with its error
///   (header `Sparts-Error`), kept 14 days; see [`dead_letters`](crate::dead_letters).
/// - `--<prefix>-max-items` bounds the items stored over every replica
///   (queued, waiting for a retry or executing); a unique queue refuses an
///   item already stored by any replica; a priority queue is refused at
///   start.
/// - On shutdown a replica stops taking items, hands back at once those it
///   took ahead, finishes what it runs within the shutdown
///   timeout and hands back the rest: nothing fails, nothing is lost. A
///   future still waiting then fails with "stopped"; its item is still
///   done by another replica.
/// - Counters: `n_redelivered` (deliveries after the first),
///   `n_dead_lettered`, `backend_errors`; `queue_depth` counts every
///   replica's items. The status is WARNING while the server is
///   unreachable; the client reconnects by itself.
///
/// Items and results cross the wire as JSON, so both must be serde types.
#[derive(Debug, Clone, Copy, Default)]
pub struct NatsBackend;

impl NatsBackend {
    /// The backend; chosen at run time by a `nats://` URL.
    pub fn new() -> Self {
        Self
    }
}

impl<T, O> QueueBackend<T, O> for NatsBackend
where
    T: Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    O: Serialize + DeserializeOwned + Send + 'static,
{
    fn scheme(&self) -> &'static str {
        "nats"
    }

    fn open<'a>(
        &'a self,
        url: &'a str,
        spec: QueueSpec,
    ) -> BoxFuture<'a, Result<Box<dyn RemoteQueue<T, O>>, BoxError>> {
        Box::pin(async move {
            let queue: Box<dyn RemoteQueue<T, O>> = Box::new(open::<T, O>(url, spec).await?);
            Ok(queue)
        })
    }
}

/// What a start of the task settled on, beside the spec.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_attempts: u32,
    pub(crate) unique: bool,
}

async fn open<T, O>(url: &str, spec: QueueSpec) -> Result<NatsQueue<T, O>, Error>
where
    T: Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    O: Serialize + DeserializeOwned + Send + 'static,
{
    let task = spec.task.clone();
    let nats_url = NatsUrl::parse(&task, url)?;
    let connection = Connection::get(&task, &nats_url).await?;
    let names = Names::new(spec.service.name(), &task);
    let limits = Limits {
        max_attempts: match spec.max_attempts {
            0 => DEFAULT_MAX_ATTEMPTS,
            n => n,
        },
        unique: spec.discipline == "unique",
    };
    let declare = |what: &str, e: &dyn std::fmt::Display| Error::Declare {
        task: task.clone(),
        what: what.to_owned(),
        reason: e.to_string(),
    };
    let stream = connection
        .jetstream
        .create_stream(stream::Config {
            name: names.stream.clone(),
            subjects: vec![names.items.clone(), format!("{}.*", names.items)],
            retention: stream::RetentionPolicy::WorkQueue,
            storage: stream::StorageType::File,
            discard: stream::DiscardPolicy::New,
            max_messages: if spec.max_items == 0 {
                -1
            } else {
                spec.max_items as i64
            },
            max_messages_per_subject: if limits.unique { 1 } else { -1 },
            discard_new_per_subject: limits.unique,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: nats_url.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| {
            declare(
                &format!(
                    "stream {} (it may exist with other settings: another --max-items, \
                     discipline or replicas; delete it or use the same)",
                    names.stream
                ),
                &e,
            )
        })?;
    connection
        .jetstream
        .create_stream(stream::Config {
            name: names.dead_stream.clone(),
            subjects: vec![names.dead.clone()],
            storage: stream::StorageType::File,
            max_age: DEAD_LETTERS_KEPT,
            duplicate_window: DUPLICATE_WINDOW,
            num_replicas: nats_url.replicas,
            ..Default::default()
        })
        .await
        .map_err(|e| declare(&format!("stream {}", names.dead_stream), &e))?;
    let consumer = declare_consumer(&stream, &task, &names, &spec, limits).await?;
    NatsQueue::start(connection, names, consumer, spec, limits).await
}

/// Opens the queue's one durable consumer, creating it the first time.
/// One that exists with another ack wait or attempt limit is refused
/// rather than changed: the server would change it for every replica, and
/// those that keep their own ack wait would say they are alive too rarely.
async fn declare_consumer(
    stream: &stream::Stream,
    task: &str,
    names: &Names,
    spec: &QueueSpec,
    limits: Limits,
) -> Result<consumer::PullConsumer, Error> {
    // One delivery more than the attempts: the spare one moves the item to
    // the dead letters without executing it.
    let max_deliver = i64::from(limits.max_attempts) + 1;
    let declare = |reason: String| Error::Declare {
        task: task.to_owned(),
        what: format!("consumer {CONSUMER} of stream {}", names.stream),
        reason,
    };
    match stream
        .get_consumer::<consumer::pull::Config>(CONSUMER)
        .await
    {
        Ok(existing) => {
            let config = &existing.cached_info().config;
            if config.ack_wait != spec.ack_wait || config.max_deliver != max_deliver {
                return Err(declare(format!(
                    "it exists with an ack wait of {:?} and {} attempts, and this replica \
                     asks for {:?} and {}: every replica must use the same \
                     --ack-wait and --max-attempts (sparts_nats::delete_queue removes the queue)",
                    config.ack_wait,
                    config.max_deliver - 1,
                    spec.ack_wait,
                    limits.max_attempts
                )));
            }
            Ok(existing)
        }
        Err(e) if e.to_string().contains("not found") => stream
            .create_consumer(consumer::pull::Config {
                durable_name: Some(CONSUMER.to_owned()),
                ack_policy: consumer::AckPolicy::Explicit,
                ack_wait: spec.ack_wait,
                max_deliver,
                max_ack_pending: 10_000,
                ..Default::default()
            })
            .await
            .map_err(|e| declare(e.to_string())),
        Err(e) => Err(declare(e.to_string())),
    }
}
