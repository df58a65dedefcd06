//! Pulling items for this replica's workers.
//!
//! One task per queue keeps up to `workers + prefetch` items in hand
//! (executing, or taken ahead and waiting for a worker), asking for more as
//! slots free; it keeps the items taken ahead alive, and hands them back
//! when the queue closes.
//! Its pull requests share one inbox subscription, as a streaming pull's
//! do: a request of its own per pull would subscribe and unsubscribe each
//! time, which measured as the largest cost of a no-op item.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream::consumer::PullConsumer;
use async_nats::jetstream::consumer::pull::BatchConfig;
use async_nats::jetstream::{self, AckKind, Message};
use async_nats::{StatusCode, Subscriber};
use futures_util::StreamExt;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::time::Instant;
use tracing::{debug, warn};

use super::inner::{Inner, stopped};
use crate::error::Error;

/// How long one pull request waits for items; also how long a stop waits
/// for the requests still open (what they bring is handed back).
const PULL_WAIT: Duration = Duration::from_secs(1);
/// A request whose end the server did not report (a lost connection
/// drops it) is given up this long after it should have ended.
const LOST_AFTER: Duration = Duration::from_secs(5);
/// How long a free worker waits for a second one before asking for items
/// alone, while another request is open.
const GATHER: Duration = Duration::from_millis(1);
/// The longest pause after a failed request (it doubles from 100 ms).
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// An item pulled for a worker, with its worker's slot: the slot frees
/// when the item is settled.
pub(crate) struct Fetched {
    pub(crate) message: Message,
    pub(crate) slot: OwnedSemaphorePermit,
}

/// The items taken ahead, oldest first, for the workers to take.
#[derive(Default)]
pub(crate) struct Intake {
    ahead: std::sync::Mutex<VecDeque<Fetched>>,
    arrived: Notify,
}

impl Intake {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Fetched>> {
        self.ahead
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn push(&self, fetched: Fetched) {
        self.lock().push_back(fetched);
        self.arrived.notify_one();
    }

    /// The oldest item taken ahead, waiting for one; `None` once `closed`.
    pub(crate) async fn take(&self, closed: &mut watch::Receiver<bool>) -> Option<Fetched> {
        loop {
            let arrived = self.arrived.notified();
            tokio::pin!(arrived);
            // Registered before looking, so that a push in between wakes it.
            arrived.as_mut().enable();
            if *closed.borrow_and_update() {
                return None;
            }
            if let Some(fetched) = self.lock().pop_front() {
                return Some(fetched);
            }
            tokio::select! {
                () = arrived => {}
                () = stopped(closed) => return None,
            }
        }
    }

    /// The replies of the items waiting, to keep them alive.
    fn waiting(&self) -> Vec<Message> {
        self.lock().iter().map(|f| f.message.clone()).collect()
    }
}

/// A pull request the server has not ended yet: the slots of the items it
/// has still to bring, and when it must have ended.
struct Open {
    slots: OwnedSemaphorePermit,
    ends: Instant,
}

/// Subscribes to this replica's pull inbox and starts pulling for
/// `workers` workers and `prefetch` items ahead until `closed` turns true.
pub(crate) async fn start(
    runtime: &tokio::runtime::Handle,
    inner: Arc<Inner>,
    consumer: PullConsumer,
    (workers, prefetch): (usize, usize),
    closed: watch::Receiver<bool>,
) -> Result<Arc<Intake>, Error> {
    let client = &inner.connection.client;
    let inbox = client.new_inbox();
    let subscription = client
        .subscribe(inbox.clone())
        .await
        .map_err(|e| Error::Declare {
            task: inner.task.clone(),
            what: "a subscription for items".to_owned(),
            reason: e.to_string(),
        })?;
    let in_hand = workers
        .max(1)
        .saturating_add(prefetch)
        .min(Semaphore::MAX_PERMITS);
    let intake = Arc::new(Intake::default());
    let puller = Puller {
        slots: Arc::new(Semaphore::new(in_hand)),
        half: u32::try_from(in_hand / 2).unwrap_or(u32::MAX).max(1),
        open: VecDeque::new(),
        inner,
        consumer,
        inbox,
        intake: Arc::clone(&intake),
    };
    runtime.spawn(puller.run(subscription, closed));
    Ok(intake)
}

struct Puller {
    inner: Arc<Inner>,
    consumer: PullConsumer,
    inbox: String,
    slots: Arc<Semaphore>,
    /// Once a request is open and items flow, the next one waits for this
    /// many free workers: fewer, larger requests, as a streaming pull makes.
    half: u32,
    /// Oldest first: the server fills and ends requests in that order.
    open: VecDeque<Open>,
    intake: Arc<Intake>,
}

impl Puller {
    async fn run(mut self, mut items: Subscriber, closed: watch::Receiver<bool>) {
        let mut stop = closed.clone();
        // Items taken ahead wait without a worker to say they are alive.
        let every = (self.inner.ack_wait / 2).max(Duration::from_millis(10));
        let mut keep_alive = tokio::time::interval_at(Instant::now() + every, every);
        let mut stopping = *closed.borrow();
        let mut backoff = Duration::ZERO;
        while !(stopping && self.open.is_empty()) {
            let lost_at = self.open.front().map(|open| open.ends);
            let slots = Arc::clone(&self.slots);
            let (half, idle) = (self.half, self.open.is_empty());
            // Half the workers free, or any one of them a moment later (at
            // once when no request is open): larger requests under load,
            // no idle worker waiting for long.
            let free = async move {
                tokio::select! {
                    held = Arc::clone(&slots).acquire_many_owned(half) => held,
                    held = async {
                        if !idle {
                            tokio::time::sleep(GATHER).await;
                        }
                        Arc::clone(&slots).acquire_owned().await
                    } => held,
                }
            };
            tokio::select! {
                held = free, if !stopping => {
                    let Ok(held) = held else { break };
                    match self.request(held).await {
                        Ok(()) => backoff = Duration::ZERO,
                        Err(e) => {
                            backoff = (backoff * 2).clamp(Duration::from_millis(100), MAX_BACKOFF);
                            self.inner.counters.backend_errors.increment();
                            warn!("{}: cannot ask for items: {e}; again in {backoff:?}", self.inner.task);
                            tokio::select! {
                                () = tokio::time::sleep(backoff) => {}
                                () = stopped(&mut stop) => stopping = true,
                            }
                        }
                    }
                }
                message = items.next() => {
                    let Some(message) = message else { break };
                    let closing = *closed.borrow();
                    self.receive(message, closing).await;
                }
                () = sleep_until(lost_at), if lost_at.is_some() => {
                    debug!("{}: a pull request ended unseen", self.inner.task);
                    self.open.pop_front();
                }
                _ = keep_alive.tick() => {
                    for message in self.intake.waiting() {
                        if let Err(e) = message.ack_with(AckKind::Progress).await {
                            self.inner.counters.backend_errors.increment();
                            debug!("{}: cannot keep an item taken ahead alive: {e}", self.inner.task);
                        }
                    }
                }
                () = stopped(&mut stop), if !stopping => stopping = true,
            }
        }
        // Every request has ended: what no worker took goes back at once.
        let left: Vec<Fetched> = self.intake.lock().drain(..).collect();
        for fetched in left {
            hand_back(&self.inner, &fetched.message).await;
        }
    }

    /// Asks for as many items as there are free workers (at least `held`).
    async fn request(&mut self, mut held: OwnedSemaphorePermit) -> Result<(), async_nats::Error> {
        while let Ok(more) = Arc::clone(&self.slots).try_acquire_owned() {
            held.merge(more);
        }
        let batch = BatchConfig {
            batch: held.num_permits(),
            expires: Some(PULL_WAIT),
            ..Default::default()
        };
        self.consumer
            .request_batch(batch, self.inbox.clone().into())
            .await?;
        self.open.push_back(Open {
            slots: held,
            ends: Instant::now() + PULL_WAIT + LOST_AFTER,
        });
        Ok(())
    }

    /// An item for the oldest open request, or the end of that request.
    async fn receive(&mut self, message: async_nats::Message, stopping: bool) {
        match message.status {
            None | Some(StatusCode::OK) => {
                let slot = self.open.front_mut().and_then(|open| open.slots.split(1));
                if self
                    .open
                    .front()
                    .is_some_and(|open| open.slots.num_permits() == 0)
                {
                    // Filled: the server ends it without a word.
                    self.open.pop_front();
                }
                let message = jetstream::Message {
                    message,
                    context: self.inner.connection.jetstream.clone(),
                };
                match slot {
                    Some(slot) if !stopping => self.intake.push(Fetched { message, slot }),
                    _ => hand_back(&self.inner, &message).await,
                }
            }
            Some(StatusCode::IDLE_HEARTBEAT) => {}
            Some(status) => {
                // 408: the request's wait ended; 404/409: it was refused
                // or cut (a consumer deleted, too many waiting).
                if status != StatusCode::TIMEOUT {
                    debug!(
                        "{}: a pull request ended with {status}: {}",
                        self.inner.task,
                        message.description.as_deref().unwrap_or("")
                    );
                }
                self.open.pop_front();
            }
        }
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// Gives an item this replica will not start back to the stream at once.
pub(crate) async fn hand_back(inner: &Inner, message: &Message) {
    if let Err(e) = message.ack_with(AckKind::Nak(None)).await {
        inner.counters.backend_errors.increment();
        warn!(
            "{}: cannot hand an item back (it comes back after the ack wait): {e}",
            inner.task
        );
    }
}
