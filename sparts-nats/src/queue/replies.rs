//! Results back to the replica that submitted: one inbox subscription per
//! queue and replica, and the senders of the futures still waiting.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sparts_core::BoxError;
use sparts_core::backend::ResultSender;
use tracing::debug;

/// What a replica that executed an item sends to the submitter's inbox.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Outcome<O> {
    /// `execute` returned this.
    Ok(O),
    /// It failed (or was given up): the error's text.
    Err(String),
}

/// The answer to a result: whether a future received it. Without one
/// (the submitter is gone), a failure goes to the dead letters.
pub(crate) const RECEIVED: &[u8] = b"1";
/// See [`RECEIVED`].
pub(crate) const NOBODY_WAITS: &[u8] = b"0";

/// The futures of this replica's submitted items, by number.
pub(crate) struct Replies<O> {
    inbox: String,
    next: AtomicU64,
    waiting: Mutex<HashMap<u64, ResultSender<O>>>,
}

impl<O> std::fmt::Debug for Replies<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replies")
            .field("inbox", &self.inbox)
            .finish_non_exhaustive()
    }
}

impl<O> Replies<O> {
    /// Keeps `sender` until its result comes; returns the subject the
    /// executing replica sends it to.
    pub(crate) fn register(&self, sender: ResultSender<O>) -> (u64, String) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, sender);
        (id, format!("{}.{id}", self.inbox))
    }

    /// Forgets a sender whose item was never stored.
    pub(crate) fn forget(&self, id: u64) -> Option<ResultSender<O>> {
        self.lock().remove(&id)
    }

    /// Fails every future still waiting (this start of the task is over;
    /// their items stay in the stream and are done by some replica).
    pub(crate) fn drop_all(&self) -> Vec<ResultSender<O>> {
        self.lock().drain().map(|(_, sender)| sender).collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<u64, ResultSender<O>>> {
        self.waiting.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<O: DeserializeOwned + Send + 'static> Replies<O> {
    /// Subscribes to a fresh inbox and routes what arrives there until the
    /// client goes away or the subscription is dropped with `Replies`.
    pub(crate) async fn subscribe(
        client: &async_nats::Client,
        task: &str,
    ) -> Result<Arc<Self>, async_nats::SubscribeError> {
        let inbox = format!("{}.sparts", client.new_inbox());
        let mut subscription = client.subscribe(format!("{inbox}.*")).await?;
        let replies = Arc::new(Self {
            inbox,
            next: AtomicU64::new(0),
            waiting: Mutex::new(HashMap::new()),
        });
        let weak = Arc::downgrade(&replies);
        let client = client.clone();
        let task = task.to_owned();
        tokio::spawn(async move {
            while let Some(message) = subscription.next().await {
                let Some(replies) = weak.upgrade() else { break };
                let received = replies.deliver(&task, &message.subject, &message.payload);
                drop(replies);
                if let Some(reply) = message.reply {
                    let answer = if received { RECEIVED } else { NOBODY_WAITS };
                    let _ = client.publish(reply, Bytes::from_static(answer)).await;
                }
            }
        });
        Ok(replies)
    }

    /// Hands one result to its future; whether a future took it.
    fn deliver(&self, task: &str, subject: &str, payload: &[u8]) -> bool {
        let Some(id) = subject
            .rsplit('.')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
        else {
            return false;
        };
        let Some(sender) = self.lock().remove(&id) else {
            return false;
        };
        let result: Result<O, BoxError> = match serde_json::from_slice::<Outcome<O>>(payload) {
            Ok(Outcome::Ok(output)) => Ok(output),
            Ok(Outcome::Err(text)) => Err(text.into()),
            Err(e) => Err(format!("{task}: cannot decode an item's result: {e}").into()),
        };
        let taken = sender.send(result).is_ok();
        if !taken {
            debug!("{task}: result {id} came after its future was dropped");
        }
        taken
    }
}
