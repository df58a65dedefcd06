//! One replica's side of a lease in a JetStream key-value bucket: every
//! write is a compare-and-set on the key's revision, which is also the
//! fencing token.

use std::hash::{BuildHasher, Hasher};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use async_nats::jetstream::kv::{self, Operation, UpdateErrorKind};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use sparts_core::BoxError;
use sparts_core::backend::{Leadership, LeaseError, Term};
use tokio::sync::oneshot;
use tokio::time::{Instant, sleep_until};
use tracing::{debug, warn};

use super::record::{KEY, Record};

/// A lease this replica may hold.
pub(super) struct NatsLeadership {
    pub(super) task: String,
    pub(super) holder: String,
    pub(super) ttl: Duration,
    /// The bucket, on a context whose requests time out soon enough for a
    /// renewal to be tried again before the lease could expire.
    pub(super) kv: kv::Store,
    /// The holder last seen.
    pub(super) leader: Mutex<Option<String>>,
    /// Dropped with the lease: ends the warning while disconnected.
    pub(super) _alive: oneshot::Sender<()>,
}

impl std::fmt::Debug for NatsLeadership {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsLeadership")
            .field("bucket", &self.kv.name)
            .field("holder", &self.holder)
            .finish_non_exhaustive()
    }
}

/// What one attempt to take the lease found.
enum Attempt {
    Took(Term),
    /// Someone else holds it, as of this revision.
    Held {
        revision: u64,
    },
    /// Someone else wrote first.
    Raced,
}

/// `d`, 20 % more or less at random, so that followers do not all ask at
/// once.
fn jittered(d: Duration) -> Duration {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    let unit = hasher.finish() as f64 / u64::MAX as f64;
    d.mul_f64(0.8 + 0.4 * unit)
}

impl NatsLeadership {
    fn note_leader(&self, holder: Option<&str>) {
        *self.leader.lock().unwrap_or_else(PoisonError::into_inner) = holder.map(str::to_owned);
    }

    /// Reads the lease and takes it if it is free (never written, expired,
    /// released, or this replica's from an earlier term).
    async fn try_acquire(&self) -> Result<Attempt, BoxError> {
        let entry = self.kv.entry(KEY).await?;
        let (revision, last_tick) = match entry {
            None => (None, None),
            Some(entry) if entry.operation != Operation::Put => (Some(entry.revision), None),
            Some(entry) => match Record::decode(&entry.value) {
                Ok(Record {
                    holder: Some(holder),
                    ..
                }) if holder != self.holder => {
                    self.note_leader(Some(&holder));
                    return Ok(Attempt::Held {
                        revision: entry.revision,
                    });
                }
                Ok(record) => (Some(entry.revision), record.last_tick),
                Err(error) => {
                    // Not ours to overwrite: wait for it to expire.
                    warn!(
                        "{}: the lease in bucket {} is unreadable ({error}); waiting for it to expire",
                        self.task, self.kv.name
                    );
                    self.note_leader(None);
                    return Ok(Attempt::Held {
                        revision: entry.revision,
                    });
                }
            },
        };
        let value = Record::held(&self.holder, last_tick).encode();
        let written = match revision {
            None => self.kv.create(KEY, value).await.map_err(|e| {
                (
                    e.kind() == kv::CreateErrorKind::AlreadyExists,
                    BoxError::from(e),
                )
            }),
            Some(revision) => self.kv.update(KEY, value, revision).await.map_err(|e| {
                (
                    e.kind() == UpdateErrorKind::WrongLastRevision,
                    BoxError::from(e),
                )
            }),
        };
        match written {
            Ok(token) => {
                self.note_leader(Some(&self.holder));
                Ok(Attempt::Took(Term { token, last_tick }))
            }
            Err((true, _)) => Ok(Attempt::Raced),
            Err((false, error)) => Err(error),
        }
    }

    /// Writes the lease over revision `term.token`.
    async fn write(&self, term: &mut Term, record: Record) -> Result<(), LeaseError> {
        match self.kv.update(KEY, record.encode(), term.token).await {
            Ok(token) => {
                term.token = token;
                term.last_tick = record.last_tick;
                Ok(())
            }
            Err(error) if error.kind() == UpdateErrorKind::WrongLastRevision => {
                match self.current().await {
                    // An earlier write of this term went through, its
                    // answer lost on the way: nobody wrote since.
                    Some((revision, now)) if now == record => {
                        term.token = revision;
                        term.last_tick = record.last_tick;
                        Ok(())
                    }
                    now => {
                        let holder = now.and_then(|(_, record)| record.holder);
                        self.note_leader(holder.as_deref());
                        Err(LeaseError::Lost { holder })
                    }
                }
            }
            Err(error) => Err(LeaseError::Unavailable(error.into())),
        }
    }

    /// The lease as it is now, with its revision, if it can be read.
    async fn current(&self) -> Option<(u64, Record)> {
        let entry = self.kv.entry(KEY).await.ok()??;
        let record = (entry.operation == Operation::Put)
            .then(|| Record::decode(&entry.value).ok())
            .flatten()?;
        Some((entry.revision, record))
    }
}

/// The next change the watch sees; never, without a watch.
async fn next_change(watch: &mut Option<kv::Watch>) -> Option<kv::Entry> {
    match watch {
        Some(changes) => match changes.next().await {
            Some(Ok(entry)) => Some(entry),
            // Ended or broken: made anew on the next round.
            _ => {
                *watch = None;
                None
            }
        },
        None => std::future::pending().await,
    }
}

impl Leadership for NatsLeadership {
    fn acquire(&self) -> BoxFuture<'_, Result<Term, BoxError>> {
        Box::pin(async move {
            let mut watch: Option<kv::Watch> = None;
            // The revision last seen held by someone else, and the latest
            // it can expire: one TTL after it was first seen.
            let mut held: Option<(u64, Instant)> = None;
            let mut failing = false;
            loop {
                if watch.is_none() {
                    // Before reading, so that no change falls in between.
                    watch = self.kv.watch(KEY).await.ok();
                }
                match self.try_acquire().await {
                    Ok(Attempt::Took(term)) => return Ok(term),
                    Ok(Attempt::Held { revision }) => {
                        if held.is_none_or(|(seen, _)| seen != revision) {
                            held = Some((revision, Instant::now() + self.ttl));
                        }
                    }
                    Ok(Attempt::Raced) => {}
                    Err(error) if !failing => {
                        warn!(
                            "{}: cannot read the lease: {error}; trying again",
                            self.task
                        );
                        failing = true;
                    }
                    Err(error) => debug!("{}: cannot read the lease: {error}", self.task),
                }
                let now = Instant::now();
                let mut wake = now + jittered(self.ttl / 3);
                if let Some((_, expiry)) = held.filter(|(_, expiry)| *expiry > now) {
                    wake = wake.min(expiry);
                }
                // A change wakes at once only when it may have freed the
                // lease: the holder's renewals just push its expiry.
                loop {
                    tokio::select! {
                        change = next_change(&mut watch) => {
                            let Some(entry) = change else { break };
                            let holder = (entry.operation == Operation::Put)
                                .then(|| Record::decode(&entry.value).ok()?.holder)
                                .flatten();
                            match holder {
                                Some(holder) if holder != self.holder => {
                                    held = Some((entry.revision, Instant::now() + self.ttl));
                                    wake = wake.min(Instant::now() + self.ttl);
                                }
                                _ => break,
                            }
                        }
                        () = sleep_until(wake) => break,
                    }
                }
            }
        })
    }

    fn claim_tick<'a>(
        &'a self,
        term: &'a mut Term,
        tick: u64,
    ) -> BoxFuture<'a, Result<bool, LeaseError>> {
        Box::pin(async move {
            if term.last_tick >= Some(tick) {
                return Ok(false);
            }
            self.write(term, Record::held(&self.holder, Some(tick)))
                .await?;
            Ok(true)
        })
    }

    fn renew<'a>(&'a self, term: &'a mut Term) -> BoxFuture<'a, Result<(), LeaseError>> {
        Box::pin(async move {
            let record = Record::held(&self.holder, term.last_tick);
            self.write(term, record).await
        })
    }

    fn release(&self, mut term: Term) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let record = Record::released(term.last_tick);
            match self.write(&mut term, record).await {
                Ok(()) => self.note_leader(None),
                Err(error) => debug!("{}: releasing the lease: {error}", self.task),
            }
        })
    }

    fn leader(&self) -> Option<String> {
        self.leader
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}
