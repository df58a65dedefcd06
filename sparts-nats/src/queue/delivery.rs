//! One item handed to a worker: keeping it alive, settling it, and the
//! dead letters.

use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_nats::HeaderMap;
use async_nats::jetstream::{AckKind, Message};
use bytes::Bytes;
use futures_util::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use sparts_core::BoxError;
use sparts_core::backend::{Delivery, Settle};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{error, warn};

use super::fetch::Fetched;
use super::inner::{Inner, REPLY_HEADER, system_time};
use super::replies::{Outcome, RECEIVED};

/// How long the executing replica waits for the submitter to take a result.
const REPLY_WAIT: Duration = Duration::from_secs(5);
/// The pace of `TryLater::new()`: 1 s, doubling per attempt, at most this.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(300);
/// Dead-letter headers.
pub(crate) const ERROR_HEADER: &str = "Sparts-Error";
pub(crate) const ATTEMPTS_HEADER: &str = "Sparts-Attempts";

/// An item delivered to this replica, until settled.
pub(crate) struct NatsDelivery<T, O> {
    item: T,
    message: Message,
    /// This replica's worker slot, free again once the item is settled.
    _slot: OwnedSemaphorePermit,
    attempt: u32,
    stored_at: SystemTime,
    inner: Arc<Inner>,
    _output: PhantomData<fn(O)>,
}

impl<T, O> NatsDelivery<T, O>
where
    T: DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    O: Serialize + Send + 'static,
{
    /// Reads a delivery; `None` when it was settled here instead (an item
    /// that does not decode, or one out of attempts: to the dead letters).
    pub(crate) async fn receive(inner: &Arc<Inner>, fetched: Fetched) -> Option<Self> {
        let Fetched { message, slot } = fetched;
        let (attempt, stored_at) = match message.info() {
            Ok(info) => (
                u32::try_from(info.delivered).unwrap_or(u32::MAX).max(1),
                system_time(info.published),
            ),
            Err(e) => {
                warn!("{}: a delivery without its metadata: {e}", inner.task);
                (1, SystemTime::now())
            }
        };
        if attempt > 1 {
            inner.counters.redelivered.increment();
        }
        let item = match serde_json::from_slice::<T>(&message.payload) {
            Ok(item) => item,
            Err(e) => {
                let why = format!("cannot decode the item: {e}");
                give_up(inner, &message, attempt, &why).await;
                return None;
            }
        };
        if attempt > inner.limits.max_attempts {
            // The spare delivery: every attempt was taken by a replica that
            // died or stopped with the item.
            let why = format!(
                "given up after {} attempts: no replica finished it",
                inner.limits.max_attempts
            );
            give_up(inner, &message, attempt, &why).await;
            send_result(inner, addressed(&message, &Outcome::<O>::Err(why))).await;
            return None;
        }
        Some(Self {
            item,
            message,
            _slot: slot,
            attempt,
            stored_at,
            inner: Arc::clone(inner),
            _output: PhantomData,
        })
    }
}

/// Moves an item to the dead letters, then takes it off the queue.
async fn give_up(inner: &Inner, message: &Message, attempts: u32, why: &str) {
    error!(
        "{}: item {} goes to the dead letters: {why}",
        inner.task,
        String::from_utf8_lossy(&message.payload)
    );
    if !store_dead_letter(inner, message, attempts, why).await {
        // Left on the queue: the next delivery tries again.
        return;
    }
    if let Err(e) = message.ack().await {
        inner.counters.backend_errors.increment();
        warn!("{}: cannot take a dead item off the queue: {e}", inner.task);
    }
}

/// Stores a copy of the item with why it died; whether it was stored.
async fn store_dead_letter(inner: &Inner, message: &Message, attempts: u32, why: &str) -> bool {
    let mut headers = HeaderMap::new();
    // A header value holds one line.
    let one_line: String = why
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    headers.insert(ERROR_HEADER, one_line.as_str());
    headers.insert(ATTEMPTS_HEADER, attempts.to_string().as_str());
    if let Ok(info) = message.info() {
        // A retry of this step after a lost answer is not stored twice.
        let id = format!("{}:{}", info.stream, info.stream_sequence);
        headers.insert("Nats-Msg-Id", id.as_str());
    }
    let stored = async {
        inner
            .connection
            .jetstream
            .publish_with_headers(inner.names.dead.clone(), headers, message.payload.clone())
            .await?
            .await?;
        Ok::<_, BoxError>(())
    };
    match stored.await {
        Ok(()) => {
            inner.counters.dead_lettered.increment();
            true
        }
        Err(e) => {
            inner.counters.backend_errors.increment();
            error!("{}: cannot store a dead letter: {e}", inner.task);
            false
        }
    }
}

/// The submitter's inbox, when it waits for the result.
fn reply_inbox(message: &Message) -> Option<&str> {
    message
        .headers
        .as_ref()
        .and_then(|h| h.get(REPLY_HEADER))
        .map(|v| v.as_str())
}

/// A result addressed to the submitter's inbox; `None`, with nothing
/// encoded, when nobody waits for it.
fn addressed<O: Serialize>(message: &Message, outcome: &Outcome<O>) -> Option<(String, Bytes)> {
    let inbox = reply_inbox(message)?.to_owned();
    let body = match serde_json::to_vec(outcome) {
        Ok(body) => Bytes::from(body),
        Err(e) => {
            let text = format!("cannot encode the result: {e}");
            Bytes::from(serde_json::to_vec(&Outcome::<()>::Err(text)).unwrap_or_default())
        }
    };
    Some((inbox, body))
}

/// Sends an [`addressed`] result; whether a future took it.
async fn send_result(inner: &Inner, addressed: Option<(String, Bytes)>) -> bool {
    let Some((inbox, body)) = addressed else {
        return false;
    };
    let answer =
        tokio::time::timeout(REPLY_WAIT, inner.connection.client.request(inbox, body)).await;
    matches!(answer, Ok(Ok(reply)) if reply.payload.as_ref() == RECEIVED)
}

/// `TryLater::new()`'s delay before attempt `attempt + 1`.
fn retry_delay(attempt: u32) -> Duration {
    let doublings = attempt.saturating_sub(1).min(16);
    (Duration::from_secs(1) * 2u32.pow(doublings)).min(MAX_RETRY_DELAY)
}

impl<T, O> Delivery<T, O> for NatsDelivery<T, O>
where
    T: DeserializeOwned + std::fmt::Debug + Send + Sync + 'static,
    O: Serialize + Send + 'static,
{
    fn item(&self) -> &T {
        &self.item
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn enqueued_at(&self) -> SystemTime {
        self.stored_at
    }

    fn keep_alive_every(&self) -> Duration {
        self.inner.ack_wait / 2
    }

    fn keep_alive(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        Box::pin(async move {
            self.message
                .ack_with(AckKind::Progress)
                .await
                .inspect_err(|_| self.inner.counters.backend_errors.increment())
        })
    }

    fn settle(self: Box<Self>, how: Settle<O>) -> BoxFuture<'static, Result<(), BoxError>> {
        Box::pin(async move {
            let inner = &self.inner;
            let message = &self.message;
            let settled = match how {
                Settle::Done(result) => {
                    // Settled before the result goes, and confirmed when a
                    // submitter waits: a result implies the item is off
                    // the queue. Without one, a plain ack saves a round
                    // trip; a lost one means a duplicate, as at least once
                    // allows.
                    let acked = if reply_inbox(message).is_some() {
                        message.double_ack().await
                    } else {
                        message.ack().await
                    };
                    acked.inspect_err(|_| inner.counters.backend_errors.increment())?;
                    let outcome = match result {
                        Ok(output) => Outcome::Ok(output),
                        Err(e) => Outcome::Err(e.to_string()),
                    };
                    let received = send_result(inner, addressed(message, &outcome)).await;
                    if let (Outcome::Err(why), false) = (&outcome, received) {
                        // Nobody to tell: kept where it can be inspected.
                        // The item is already off the queue, so no second
                        // dead letter can come of it.
                        error!(
                            "{}: item {:?} failed with nobody waiting: {why}",
                            inner.task, self.item
                        );
                        store_dead_letter(inner, message, self.attempt, why).await;
                    }
                    Ok(())
                }
                Settle::Retry { error, .. } if self.attempt >= inner.limits.max_attempts => {
                    let why = format!("given up after {} attempts: {error}", self.attempt);
                    give_up(inner, message, self.attempt, &why).await;
                    send_result(inner, addressed(message, &Outcome::<O>::Err(why))).await;
                    Ok(())
                }
                Settle::Retry { after, .. } => {
                    let delay = after.unwrap_or_else(|| retry_delay(self.attempt));
                    message.ack_with(AckKind::Nak(Some(delay))).await
                }
                Settle::HandBack => message.ack_with(AckKind::Nak(None)).await,
                _ => message.ack_with(AckKind::Nak(None)).await,
            };
            settled.inspect_err(|_| inner.counters.backend_errors.increment())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_slow_down_to_five_minutes() {
        assert_eq!(retry_delay(1), Duration::from_secs(1));
        assert_eq!(retry_delay(2), Duration::from_secs(2));
        assert_eq!(retry_delay(4), Duration::from_secs(8));
        assert_eq!(retry_delay(30), MAX_RETRY_DELAY);
    }
}
