//! One start of a queue task on NATS: storing items, taking them for this
//! replica's workers, the global depth, and the stop.

use std::fmt::Debug;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::{HeaderMap, Subject};
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sparts_core::backend::{Delivery, NextDelivery, QueueSpec, RemoteQueue, ResultSender};
use sparts_core::{BoxError, Error as CoreError};
use tokio::sync::watch;
use tracing::{error, warn};

use super::Limits;
use super::delivery::NatsDelivery;
use super::fetch::{self, Intake};
use super::inner::{Counters, Inner, REPLY_HEADER, stopped};
use super::names::Names;
use super::replies::Replies;
use crate::connection::Connection;
use crate::error::Error;

/// How often the depth over every replica is read.
const DEPTH_EVERY: Duration = Duration::from_secs(2);
/// Waits between tries to store into a full queue (doubling).
const FULL_PAUSE: (Duration, Duration) = (Duration::from_millis(10), Duration::from_millis(500));
/// A queue task's items in a JetStream stream, for one start of the task.
pub(crate) struct NatsQueue<T, O> {
    state: Arc<State<O>>,
    intake: Arc<Intake>,
    _item: PhantomData<fn(T) -> T>,
}

/// What submitting needs, shared with `try_publish`'s background stores.
struct State<O> {
    inner: Arc<Inner>,
    replies: Arc<Replies<O>>,
    max_items: usize,
    closed: watch::Sender<bool>,
    /// Where `try_publish` stores in the background: it may be called from
    /// a thread outside the runtime.
    runtime: tokio::runtime::Handle,
    /// The last store was refused for want of room and no room was seen
    /// since: `try_publish` refuses at once.
    full: AtomicBool,
    depth: AtomicUsize,
}

impl<T, O> Debug for NatsQueue<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsQueue")
            .field("stream", &self.state.inner.names.stream)
            .finish_non_exhaustive()
    }
}

impl<T, O> NatsQueue<T, O>
where
    T: Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    O: Serialize + DeserializeOwned + Send + 'static,
{
    /// Subscribes to this replica's result inbox and starts reading the depth.
    pub(crate) async fn start(
        connection: Connection,
        names: Names,
        consumer: PullConsumer,
        spec: QueueSpec,
        limits: Limits,
    ) -> Result<Self, Error> {
        let task = spec.task.clone();
        let replies = Replies::subscribe(&connection.client, &task)
            .await
            .map_err(|e| Error::Declare {
                task: task.clone(),
                what: "a subscription for results".to_owned(),
                reason: e.to_string(),
            })?;
        let counters = Counters {
            redelivered: spec.counters.counter("n_redelivered"),
            dead_lettered: spec.counters.counter("n_dead_lettered"),
            backend_errors: spec.counters.counter("backend_errors"),
        };
        let (closed, _) = watch::channel(false);
        let state = Arc::new(State {
            inner: Arc::new(Inner {
                task: task.clone(),
                connection,
                items_subject: Subject::from(names.items.as_str()),
                names,
                limits,
                ack_wait: spec.ack_wait,
                counters,
            }),
            replies,
            max_items: spec.max_items,
            closed,
            runtime: tokio::runtime::Handle::current(),
            full: AtomicBool::new(false),
            depth: AtomicUsize::new(0),
        });
        let mut closing = state.closed.subscribe();
        state
            .inner
            .connection
            .warn_while_disconnected(&spec.service, &task, async move {
                stopped(&mut closing).await;
            });
        tokio::spawn(read_depth(Arc::downgrade(&state), consumer.clone()));
        let intake = fetch::start(
            &state.runtime,
            Arc::clone(&state.inner),
            consumer,
            (spec.workers, spec.prefetch),
            state.closed.subscribe(),
        )
        .await?;
        Ok(Self {
            state,
            intake,
            _item: PhantomData,
        })
    }

    /// Takes one item for a worker; `None` once closed.
    async fn take(&self) -> Result<Option<Box<dyn Delivery<T, O>>>, BoxError> {
        let inner = &self.state.inner;
        let mut closed = self.state.closed.subscribe();
        while let Some(fetched) = self.intake.take(&mut closed).await {
            if let Some(delivery) = NatsDelivery::<T, O>::receive(inner, fetched).await {
                return Ok(Some(Box::new(delivery)));
            }
        }
        Ok(None)
    }
}

/// Why the server refused to store an item.
enum Refused {
    Full,
    Duplicate,
    Other(String),
}

fn refusal(e: &dyn std::fmt::Display) -> Refused {
    let text = e.to_string();
    if text.contains("maximum messages per subject exceeded") {
        Refused::Duplicate
    } else if text.contains("maximum messages exceeded") {
        Refused::Full
    } else {
        Refused::Other(text)
    }
}

impl<O: Serialize + DeserializeOwned + Send + 'static> State<O> {
    fn not_running(&self) -> CoreError {
        CoreError::TaskNotRunning(self.inner.task.clone())
    }

    /// Stores an item; on a refusal, gives back the reply's sender.
    async fn store<T: Serialize + Debug>(
        &self,
        item: T,
        reply: Option<ResultSender<O>>,
        wait_for_room: bool,
    ) -> Result<(), (CoreError, Option<ResultSender<O>>)> {
        let inner = &self.inner;
        let payload = match serde_json::to_vec(&item) {
            Ok(payload) => bytes::Bytes::from(payload),
            Err(e) => {
                let error =
                    CoreError::Backend(format!("{}: cannot encode item {item:?}: {e}", inner.task));
                return Err((error, reply));
            }
        };
        let subject = if inner.limits.unique {
            Subject::from(inner.names.unique_item(&payload))
        } else {
            inner.items_subject.clone()
        };
        // A store retried after a lost answer is recognised by its id.
        let id = inner.connection.client.new_inbox();
        let waiting = reply.map(|sender| self.replies.register(sender));
        let headers = || {
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", id.as_str());
            if let Some((_, inbox)) = &waiting {
                headers.insert(REPLY_HEADER, inbox.as_str());
            }
            headers
        };
        let give_back = |error: CoreError| {
            (
                error,
                waiting
                    .as_ref()
                    .and_then(|(id, _)| self.replies.forget(*id)),
            )
        };
        let mut pause = FULL_PAUSE.0;
        loop {
            if *self.closed.borrow() {
                return Err(give_back(self.not_running()));
            }
            let stored = match inner
                .connection
                .jetstream
                .publish_with_headers(subject.clone(), headers(), payload.clone())
                .await
            {
                Ok(ack) => ack.await.map(|_| ()).map_err(|e| refusal(&e)),
                Err(e) => Err(refusal(&e)),
            };
            match stored {
                Ok(()) => {
                    self.full.store(false, Ordering::Relaxed);
                    return Ok(());
                }
                Err(Refused::Duplicate) => {
                    return Err(give_back(CoreError::DuplicateItem(inner.task.clone())));
                }
                Err(Refused::Full) if !wait_for_room => {
                    self.full.store(true, Ordering::Relaxed);
                    return Err(give_back(CoreError::QueueFull {
                        task: inner.task.clone(),
                        capacity: self.max_items,
                    }));
                }
                Err(Refused::Full) => {
                    self.full.store(true, Ordering::Relaxed);
                    let mut closed = self.closed.subscribe();
                    tokio::select! {
                        () = tokio::time::sleep(pause) => {}
                        () = stopped(&mut closed) => {}
                    }
                    pause = (pause * 2).min(FULL_PAUSE.1);
                }
                Err(Refused::Other(reason)) => {
                    inner.counters.backend_errors.increment();
                    return Err(give_back(CoreError::Backend(format!(
                        "{}: cannot store item {item:?} in NATS: {reason}",
                        inner.task
                    ))));
                }
            }
        }
    }
}

impl<T, O> RemoteQueue<T, O> for NatsQueue<T, O>
where
    T: Serialize + DeserializeOwned + Debug + Send + Sync + 'static,
    O: Serialize + DeserializeOwned + Send + 'static,
{
    fn publish(
        &self,
        item: T,
        reply: Option<ResultSender<O>>,
        wait_for_room: bool,
    ) -> BoxFuture<'_, Result<(), CoreError>> {
        Box::pin(async move {
            self.state
                .store(item, reply, wait_for_room)
                .await
                .map_err(|(error, _)| error)
        })
    }

    fn try_publish(&self, item: T, reply: Option<ResultSender<O>>) -> Result<(), CoreError> {
        let state = &self.state;
        if *state.closed.borrow() {
            return Err(state.not_running());
        }
        if state.full.load(Ordering::Relaxed) {
            return Err(CoreError::QueueFull {
                task: state.inner.task.clone(),
                capacity: state.max_items,
            });
        }
        let state = Arc::clone(state);
        let runtime = state.runtime.clone();
        runtime.spawn(async move {
            if let Err((error, reply)) = state.store(item, reply, false).await {
                match reply {
                    Some(reply) => {
                        let _ = reply.send(Err(error.into()));
                    }
                    None => error!("{}: an item was refused: {error}", state.inner.task),
                }
            }
        });
        Ok(())
    }

    fn next(&self) -> NextDelivery<'_, T, O> {
        Box::pin(self.take())
    }

    fn depth(&self) -> usize {
        self.state.depth.load(Ordering::Relaxed)
    }

    fn close(&self) {
        self.state.closed.send_replace(true);
    }
}

impl<T, O> Drop for NatsQueue<T, O> {
    fn drop(&mut self) {
        self.state.closed.send_replace(true);
        let left = self.state.replies.drop_all();
        if !left.is_empty() {
            warn!(
                "{}: {} submitted items were not done when the task stopped; \
                 their futures fail with \"stopped\", and another replica does them",
                self.state.inner.task,
                left.len()
            );
        }
        for sender in left {
            let _ = sender.send(Err(
                CoreError::QueueStopped(self.state.inner.task.clone()).into()
            ));
        }
    }
}

/// Reads the depth over every replica until the queue is closed or gone.
async fn read_depth<O>(state: std::sync::Weak<State<O>>, mut consumer: PullConsumer) {
    let mut closed = match state.upgrade() {
        Some(state) => state.closed.subscribe(),
        None => return,
    };
    loop {
        let info = consumer
            .info()
            .await
            .map(|i| i.num_pending as usize + i.num_ack_pending);
        let Some(state) = state.upgrade() else { return };
        match info {
            Ok(depth) => {
                state.depth.store(depth, Ordering::Relaxed);
                if state.max_items > 0 && depth < state.max_items {
                    state.full.store(false, Ordering::Relaxed);
                }
            }
            Err(e) => {
                state.inner.counters.backend_errors.increment();
                tracing::debug!("{}: cannot read the queue's depth: {e}", state.inner.task);
            }
        }
        drop(state);
        tokio::select! {
            () = tokio::time::sleep(DEPTH_EVERY) => {}
            () = stopped(&mut closed) => return,
        }
    }
}
