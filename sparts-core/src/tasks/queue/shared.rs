//! The queue shared by a task's workers and its submitters: admission with
//! backpressure, taking items, retries, and failing what is left at the end.

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore, TryAcquireError};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{debug, error};

use super::store::{Entry, Reply, Store};
use crate::error::{BoxError, Error};

/// An item waiting for a delayed retry ([`TryLater::after`](crate::TryLater)).
struct Delayed<T, O> {
    due: Instant,
    entry: Entry<T, O>,
}

// Earliest due first (a min-heap out of the max-heap), then insertion order.
impl<T, O> Ord for Delayed<T, O> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .due
            .cmp(&self.due)
            .then(other.entry.seq.cmp(&self.entry.seq))
    }
}

impl<T, O> PartialOrd for Delayed<T, O> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T, O> PartialEq for Delayed<T, O> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T, O> Eq for Delayed<T, O> {}

struct State<T, O> {
    store: Box<dyn Store<T, O>>,
    delayed: BinaryHeap<Delayed<T, O>>,
    /// Accepting new items: from `init` until shutdown starts.
    open: bool,
    next_seq: u64,
}

impl<T, O> State<T, O> {
    fn next_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Moves retries that are due into the store.
    fn promote_due(&mut self, now: Instant) {
        while self.delayed.peek().is_some_and(|d| d.due <= now) {
            if let Some(delayed) = self.delayed.pop() {
                self.store.push(delayed.entry);
            }
        }
    }

    fn depth(&self) -> usize {
        self.store.len() + self.delayed.len()
    }
}

/// One start of a queue task: its items and the workers' meeting point.
pub(super) struct Shared<T, O> {
    /// The task's name, for errors and logs.
    name: String,
    state: Mutex<State<T, O>>,
    /// Told when an item arrives in an empty store (and, with several
    /// workers, by a worker that leaves items behind it).
    available: Notify,
    /// Bounded queues: one permit per item from submission until it is done.
    capacity: Option<(Semaphore, usize)>,
    tracks_items: bool,
    several_workers: bool,
    live_workers: AtomicUsize,
}

impl<T, O> Debug for Shared<T, O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("name", &self.name)
            .field("depth", &self.depth())
            .field("max_items", &self.capacity.as_ref().map(|c| c.1))
            .finish_non_exhaustive()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections only move entries between collections and flip
    // flags; user code (Debug, Hash, Ord of items) runs in a few of them,
    // and a panic there leaves the collections valid.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T, O> Shared<T, O> {
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Items queued or waiting for a retry (not those in flight).
    pub(super) fn depth(&self) -> usize {
        lock(&self.state).depth()
    }
}

impl<T: Send + Debug + 'static, O: Send + 'static> Shared<T, O> {
    /// A queue that refuses every item: the task before `init`.
    pub(super) fn closed(name: &str, store: Box<dyn Store<T, O>>) -> Self {
        let mut shared = Self::open(name, store, 0, 1);
        shared
            .state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .open = false;
        shared
    }

    /// An open queue, unbounded when `max_items` is 0.
    pub(super) fn open(
        name: &str,
        store: Box<dyn Store<T, O>>,
        max_items: usize,
        workers: usize,
    ) -> Self {
        Self {
            name: name.to_owned(),
            tracks_items: store.tracks_items(),
            state: Mutex::new(State {
                store,
                delayed: BinaryHeap::new(),
                open: true,
                next_seq: 0,
            }),
            available: Notify::new(),
            capacity: (max_items > 0).then(|| {
                let max_items = max_items.min(Semaphore::MAX_PERMITS);
                (Semaphore::new(max_items), max_items)
            }),
            several_workers: workers > 1,
            live_workers: AtomicUsize::new(0),
        }
    }

    fn not_running(&self) -> Error {
        Error::QueueNotRunning(self.name.clone())
    }

    fn duplicate(&self) -> Error {
        Error::DuplicateItem(self.name.clone())
    }

    fn refuse_duplicate(&self, item: &T) -> Result<(), Error> {
        if self.tracks_items && lock(&self.state).store.contains(item) {
            return Err(self.duplicate());
        }
        Ok(())
    }

    /// Queues a new item, waiting for room in a bounded queue.
    pub(super) async fn submit(&self, item: T, reply: Option<Reply<O>>) -> Result<(), Error> {
        if let Some((semaphore, _)) = &self.capacity {
            match semaphore.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(TryAcquireError::Closed) => return Err(self.not_running()),
                Err(TryAcquireError::NoPermits) => {
                    // A duplicate is refused at once, not after waiting for room.
                    self.refuse_duplicate(&item)?;
                    match semaphore.acquire().await {
                        Ok(permit) => permit.forget(),
                        Err(_) => return Err(self.not_running()),
                    }
                }
            }
        }
        self.push_new(item, reply)
    }

    /// Queues a new item, or fails at once when a bounded queue is full.
    pub(super) fn try_submit(&self, item: T, reply: Option<Reply<O>>) -> Result<(), Error> {
        if let Some((semaphore, max_items)) = &self.capacity {
            match semaphore.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(TryAcquireError::Closed) => return Err(self.not_running()),
                Err(TryAcquireError::NoPermits) => {
                    self.refuse_duplicate(&item)?;
                    return Err(Error::QueueFull {
                        task: self.name.clone(),
                        capacity: *max_items,
                    });
                }
            }
        }
        self.push_new(item, reply)
    }

    /// Queues an item whose permit (if bounded) is held.
    fn push_new(&self, item: T, reply: Option<Reply<O>>) -> Result<(), Error> {
        let enqueued_at = Instant::now();
        let mut state = lock(&self.state);
        let refusal = if !state.open {
            Some(self.not_running())
        } else if !state.store.admit(&item) {
            Some(self.duplicate())
        } else {
            None
        };
        if let Some(refusal) = refusal {
            drop(state);
            self.release_permit();
            return Err(refusal);
        }
        let was_empty = state.store.len() == 0;
        let seq = state.next_seq();
        state.store.push(Entry {
            item,
            attempt: 1,
            seq,
            enqueued_at,
            reply,
        });
        drop(state);
        // A worker sleeps only after seeing the store empty under the lock,
        // so only the push that fills an empty store needs to wake one.
        if was_empty {
            self.available.notify_one();
        }
        Ok(())
    }

    fn release_permit(&self) {
        if let Some((semaphore, _)) = &self.capacity {
            semaphore.add_permits(1);
        }
    }

    /// The next item to execute; `None` once the queue is closed and
    /// nothing is left to do (retries included).
    pub(super) async fn take(&self, token: &CancellationToken) -> Option<Entry<T, O>> {
        loop {
            let stopping = token.is_cancelled();
            let next_retry = {
                let mut state = lock(&self.state);
                if !state.delayed.is_empty() {
                    state.promote_due(Instant::now());
                }
                if let Some(entry) = state.store.pop() {
                    let more = state.store.len() > 0;
                    drop(state);
                    // Pushes wake one worker per empty-to-non-empty change;
                    // this passes the wake-up on to another idle worker.
                    if more && self.several_workers {
                        self.available.notify_one();
                    }
                    return Some(entry);
                }
                if stopping && state.open {
                    // Closed here rather than left to the stop hook, whose
                    // wake-up this worker could miss.
                    drop(state);
                    self.close();
                    continue;
                }
                if !state.open && state.delayed.is_empty() {
                    return None;
                }
                state.delayed.peek().map(|d| d.due)
            };
            tokio::select! {
                () = self.available.notified() => {}
                // Once cancelled, the loop drains: the token no longer wakes it.
                () = token.cancelled(), if !stopping => self.close(),
                () = sleep_until(next_retry) => {}
            }
        }
    }

    /// Puts an item back for another attempt, at once or after a delay. A
    /// retry keeps its permit: capacity counts items until they are done.
    pub(super) fn retry(&self, mut entry: Entry<T, O>, after: Option<Duration>) {
        entry.attempt = entry.attempt.saturating_add(1);
        let mut state = lock(&self.state);
        entry.seq = state.next_seq();
        match after.filter(|d| !d.is_zero()) {
            Some(delay) => {
                let due = Instant::now() + delay;
                let earliest = state.delayed.peek().is_none_or(|d| due < d.due);
                state.delayed.push(Delayed { due, entry });
                drop(state);
                // Idle workers sleep without this deadline; one of them must
                // learn it, as this worker may be busy when it comes.
                if earliest && self.several_workers {
                    self.available.notify_one();
                }
            }
            None => {
                let was_empty = state.store.len() == 0;
                state.store.push(entry);
                drop(state);
                if was_empty {
                    self.available.notify_one();
                }
            }
        }
    }

    /// Delivers a finished item's result: to its future, or to the log when
    /// nobody can receive an error.
    pub(super) fn finish(&self, entry: Entry<T, O>, result: Result<O, BoxError>) {
        // Forgotten before the reply is sent, so a submitter that resubmits
        // as soon as it has the result is not told it is a duplicate.
        if self.tracks_items {
            lock(&self.state).store.release(&entry.item);
        }
        self.release_permit();
        let unreceived = match entry.reply {
            Some(reply) => reply.send(result).err(),
            None => Some(result),
        };
        if let Some(Err(e)) = unreceived {
            error!("{}: item {:?} failed: {e}", self.name, entry.item);
        }
    }

    /// Refuses new items from now on; workers drain what is queued.
    pub(super) fn close(&self) {
        lock(&self.state).open = false;
        if let Some((semaphore, _)) = &self.capacity {
            // Wakes submitters waiting for room: they are refused.
            semaphore.close();
        }
        self.available.notify_waiters();
    }

    /// Fails an item that will not be executed with a "stopped" error.
    fn fail_stopped(&self, entry: Entry<T, O>) {
        debug!(
            "{}: item {:?} dropped: the task stopped",
            self.name, entry.item
        );
        if let Some(reply) = entry.reply {
            let _ = reply.send(Err(Error::QueueStopped(self.name.clone()).into()));
        }
    }

    /// An item in flight when its worker was aborted (shutdown timeout).
    pub(super) fn abandon(&self, entry: Entry<T, O>) {
        error!(
            "{}: item {:?} was still executing when the task was aborted",
            self.name, entry.item
        );
        self.fail_stopped(entry);
    }

    /// Closes the queue and fails every item left in it; how many there were.
    fn fail_remaining(&self) -> usize {
        let entries = {
            let mut state = lock(&self.state);
            state.open = false;
            let mut entries = state.store.drain();
            entries.extend(state.delayed.drain().map(|d| d.entry));
            entries
        };
        self.close();
        let count = entries.len();
        for entry in entries {
            self.fail_stopped(entry);
        }
        count
    }

    /// Counts a worker in; the last one out fails whatever is left.
    pub(super) fn worker_started(&self) {
        self.live_workers.fetch_add(1, AtomicOrdering::AcqRel);
    }

    /// Counts a worker out (finished, or aborted at the shutdown timeout).
    pub(super) fn worker_ended(&self) {
        if self.live_workers.fetch_sub(1, AtomicOrdering::AcqRel) == 1 {
            let left = self.fail_remaining();
            if left > 0 {
                error!(
                    "{}: {left} queued items were not executed before the task stopped; \
                     their futures fail with a \"stopped\" error",
                    self.name
                );
            }
        }
    }
}

impl<T, O> Drop for Shared<T, O> {
    fn drop(&mut self) {
        // A queue dropped with items (its task never ran its workers: another
        // task failed to start) still fails their futures with "stopped".
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let mut entries = state.store.drain();
        entries.extend(state.delayed.drain().map(|d| d.entry));
        if entries.is_empty() {
            return;
        }
        error!(
            "{}: {} queued items were not executed: the task never ran",
            self.name,
            entries.len()
        );
        for entry in entries {
            if let Some(reply) = entry.reply {
                let _ = reply.send(Err(Error::QueueStopped(self.name.clone()).into()));
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::super::store::Fifo;
    use super::*;

    fn queue(max_items: usize) -> Shared<u32, u32> {
        Shared::open("Q", Fifo::boxed(), max_items, 1)
    }

    fn stopped_task(result: Result<Result<u32, BoxError>, oneshot::error::RecvError>) -> String {
        match result {
            Ok(Err(e)) => match e.downcast_ref::<Error>() {
                Some(Error::QueueStopped(task)) => task.clone(),
                _ => format!("another error: {e}"),
            },
            other => format!("not an error: {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn retries_come_back_in_due_order() {
        let shared = queue(0);
        let token = CancellationToken::new();
        for item in [1, 2, 3] {
            shared.try_submit(item, None).expect("open");
        }
        let mut entries = Vec::new();
        for _ in 0..3 {
            entries.push(shared.take(&token).await.expect("queued"));
        }
        let started = Instant::now();
        let delays = [3, 1, 2].map(Duration::from_secs);
        for (entry, delay) in entries.into_iter().zip(delays) {
            shared.retry(entry, Some(delay));
        }
        assert_eq!(shared.depth(), 3);
        let mut order = Vec::new();
        for _ in 0..3 {
            let entry = shared.take(&token).await.expect("retried");
            order.push((entry.item, entry.attempt, started.elapsed().as_secs()));
        }
        assert_eq!(order, [(2, 2, 1), (3, 2, 2), (1, 2, 3)]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_worker_drains_then_ends() {
        let shared = queue(0);
        let token = CancellationToken::new();
        shared.try_submit(1, None).expect("open");
        token.cancel();
        assert_eq!(shared.take(&token).await.map(|e| e.item), Some(1));
        assert!(shared.take(&token).await.is_none());
        assert!(matches!(shared.try_submit(2, None), Err(Error::QueueNotRunning(t)) if t == "Q"));
    }

    #[tokio::test]
    async fn items_left_when_the_last_worker_ends_fail_with_stopped() {
        let shared = queue(4);
        let (tx, rx) = oneshot::channel();
        shared.try_submit(1, Some(tx)).expect("open");
        shared.worker_started();
        shared.worker_ended();
        assert_eq!(stopped_task(rx.await), "Q");
        assert!(matches!(
            shared.try_submit(2, None),
            Err(Error::QueueNotRunning(_))
        ));
    }

    #[tokio::test]
    async fn a_queue_dropped_with_items_fails_them_with_stopped() {
        let shared = queue(0);
        let (tx, rx) = oneshot::channel();
        shared.try_submit(1, Some(tx)).expect("open");
        drop(shared);
        assert_eq!(stopped_task(rx.await), "Q");
    }

    #[test]
    fn a_huge_limit_is_clamped() {
        let shared = queue(usize::MAX);
        assert_eq!(
            shared.capacity.as_ref().map(|c| c.1),
            Some(Semaphore::MAX_PERMITS)
        );
    }
}
