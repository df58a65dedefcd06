//! The queue shared by a task's workers and its submitters: admission with
//! backpressure, taking items, retries, and failing what is left at the end.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::time::Duration;

use tokio::sync::{Semaphore, TryAcquireError};
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tracing::{debug, error};

use super::backend::RemoteQueue;
use super::delays::Delays;
use super::ready::{Ready, Refusal, Taken};
use super::store::{Entry, Reply};
use crate::error::{BoxError, Error};

/// One start of a queue task: its items and the workers' meeting point.
pub(super) struct Shared<T, O> {
    /// The task's name, for errors and logs.
    name: String,
    ready: Ready<T, O>,
    delays: Delays<T, O>,
    /// Bounded queues: one permit per item from submission until it is done.
    capacity: Option<(Semaphore, usize)>,
    /// Items workers took in a batch and have not started: still queued.
    taken_ahead: AtomicUsize,
    tracks_items: bool,
    several_workers: bool,
    live_workers: AtomicUsize,
    /// Items live in a backend instead (`--<prefix>-backend`): submitting
    /// goes there, and `ready`, `delays` and `capacity` stay unused.
    remote: Option<Box<dyn RemoteQueue<T, O>>>,
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

impl<T, O> Shared<T, O> {
    pub(super) fn name(&self) -> &str {
        &self.name
    }

    /// Items queued or waiting for a retry (not those in flight).
    pub(super) fn depth(&self) -> usize {
        if let Some(remote) = &self.remote {
            return remote.depth();
        }
        self.ready.len() + self.taken_ahead.load(AtomicOrdering::Relaxed) + self.delays.len()
    }
}

impl<T: Send + Debug + 'static, O: Send + 'static> Shared<T, O> {
    /// A queue that refuses every item: the task before `init`.
    pub(super) fn closed(name: &str, ready: Ready<T, O>) -> Self {
        let shared = Self::open(name, ready, 0, 1);
        shared.ready.close();
        shared
    }

    /// An open queue, unbounded when `max_items` is 0.
    pub(super) fn open(name: &str, ready: Ready<T, O>, max_items: usize, workers: usize) -> Self {
        Self {
            name: name.to_owned(),
            tracks_items: ready.tracks_items(),
            ready,
            delays: Delays::new(),
            capacity: (max_items > 0).then(|| {
                let max_items = max_items.min(Semaphore::MAX_PERMITS);
                (Semaphore::new(max_items), max_items)
            }),
            taken_ahead: AtomicUsize::new(0),
            several_workers: workers > 1,
            live_workers: AtomicUsize::new(0),
            remote: None,
        }
    }

    /// A queue whose items live in a backend.
    pub(super) fn remote(
        name: &str,
        ready: Ready<T, O>,
        remote: Box<dyn RemoteQueue<T, O>>,
    ) -> Self {
        let mut shared = Self::open(name, ready, 0, 1);
        shared.remote = Some(remote);
        shared
    }

    /// The backend holding the items, if not this process.
    pub(super) fn remote_queue(&self) -> Option<&dyn RemoteQueue<T, O>> {
        self.remote.as_deref()
    }

    fn not_running(&self) -> Error {
        Error::TaskNotRunning(self.name.clone())
    }

    fn duplicate(&self) -> Error {
        Error::DuplicateItem(self.name.clone())
    }

    fn refuse_duplicate(&self, item: &T) -> Result<(), Error> {
        if self.tracks_items && self.ready.contains(item) {
            return Err(self.duplicate());
        }
        Ok(())
    }

    /// Queues a new item, waiting for room in a bounded queue.
    pub(super) async fn submit(&self, item: T, reply: Option<Reply<O>>) -> Result<(), Error> {
        if let Some(remote) = &self.remote {
            return remote.publish(item, reply, true).await;
        }
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
        if let Some(remote) = &self.remote {
            return remote.try_publish(item, reply);
        }
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
        let entry = Entry {
            item,
            attempt: 1,
            enqueued_at: Instant::now(),
            reply,
        };
        self.ready.push_new(entry).map_err(|refusal| {
            self.release_permit();
            match refusal {
                Refusal::Closed => self.not_running(),
                Refusal::Duplicate => self.duplicate(),
            }
        })
    }

    fn release_permit(&self) {
        if let Some((semaphore, _)) = &self.capacity {
            semaphore.add_permits(1);
        }
    }

    /// Puts an item back for another attempt, at once (at the back of the
    /// queue) or after a delay. A retry keeps its permit: capacity counts
    /// items until they are done.
    pub(super) fn retry(&self, mut entry: Entry<T, O>, after: Option<Duration>) {
        entry.attempt = entry.attempt.saturating_add(1);
        let now = Instant::now();
        match after.filter(|d| !d.is_zero()) {
            // Idle workers sleep without this deadline; one of them must
            // learn it, as the worker that retried may be busy when it comes.
            Some(delay) => self.delays.push(entry, now + delay, self.several_workers),
            None => self.ready.push_back([entry]),
        }
    }

    /// Moves retries that are due to the back of the queue; returns when the
    /// next one is due.
    fn promote_due(&self) -> Option<Instant> {
        if self.delays.len() == 0 {
            return None;
        }
        let (due, next) = self.delays.take_due(Instant::now());
        if !due.is_empty() {
            self.ready.push_back(due);
        }
        next
    }

    /// Delivers a finished item's result: to its future, or to the log when
    /// nobody can receive an error.
    pub(super) fn finish(&self, entry: Entry<T, O>, result: Result<O, BoxError>) {
        // Forgotten before the reply is sent, so a submitter that resubmits
        // as soon as it has the result is not told it is a duplicate.
        if self.tracks_items {
            self.ready.release(&entry.item);
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
        if let Some(remote) = &self.remote {
            remote.close();
        }
        self.ready.close();
        if let Some((semaphore, _)) = &self.capacity {
            // Wakes submitters waiting for room: they are refused.
            semaphore.close();
        }
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

    /// Every item queued or waiting for a retry, emptying the queue.
    fn drain(&self) -> Vec<Entry<T, O>> {
        let mut entries = self.ready.drain();
        entries.extend(self.delays.drain());
        entries
    }

    /// Counts a worker out (finished, or aborted at the shutdown timeout);
    /// the last one out closes the queue and fails whatever is left.
    fn worker_ended(&self) {
        if self.live_workers.fetch_sub(1, AtomicOrdering::AcqRel) != 1 {
            return;
        }
        self.close();
        let left = self.drain();
        if left.is_empty() {
            return;
        }
        error!(
            "{}: {} queued items were not executed before the task stopped; \
             their futures fail with a \"stopped\" error",
            self.name,
            left.len()
        );
        for entry in left {
            self.fail_stopped(entry);
        }
    }
}

/// A worker's end of the queue: counts the worker in, and out when dropped
/// (whether it returned or was aborted), and holds the items it took ahead.
pub(super) struct Intake<'a, T: Send + Debug + 'static, O: Send + 'static> {
    shared: &'a Shared<T, O>,
    ahead: VecDeque<Entry<T, O>>,
    /// Whether the last `next` had to wait for its item.
    waited: bool,
    token: CancellationToken,
    /// Registered once: a fresh `cancelled()` on every wait would take the
    /// token's lock each time the queue runs dry.
    cancelled: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl<'a, T: Send + Debug + 'static, O: Send + 'static> Intake<'a, T, O> {
    pub(super) fn new(shared: &'a Shared<T, O>, token: &CancellationToken) -> Self {
        shared.live_workers.fetch_add(1, AtomicOrdering::AcqRel);
        Self {
            shared,
            ahead: VecDeque::new(),
            waited: false,
            token: token.clone(),
            cancelled: Box::pin(token.clone().cancelled_owned()),
        }
    }

    /// Whether the last [`next`](Self::next) had to wait for its item.
    pub(super) fn waited(&self) -> bool {
        self.waited
    }

    /// The next item to execute; `None` once the queue is closed and
    /// nothing is left to do (retries included).
    pub(super) async fn next(&mut self) -> Option<Entry<T, O>> {
        let shared = self.shared;
        self.waited = false;
        if let Some(entry) = self.ahead.pop_front() {
            shared.taken_ahead.fetch_sub(1, AtomicOrdering::Relaxed);
            return Some(entry);
        }
        loop {
            let next_due = shared.promote_due();
            match shared
                .ready
                .try_take(shared.several_workers, &mut self.ahead)
            {
                Taken::Item(entry) => {
                    if !self.ahead.is_empty() {
                        shared
                            .taken_ahead
                            .fetch_add(self.ahead.len(), AtomicOrdering::Relaxed);
                    }
                    return Some(entry);
                }
                Taken::Empty => {}
                Taken::Finished if shared.delays.len() == 0 => {
                    return None;
                }
                Taken::Finished => {}
            }
            // Only checked before waiting (the token's check takes a lock):
            // a busy worker drains anyway, and the stop hook closes the queue.
            let stopping = self.token.is_cancelled();
            if stopping && shared.ready.is_open() {
                // Closed here as well as in the stop hook: draining must not
                // depend on the order the two run in.
                shared.close();
                continue;
            }
            self.waited = true;
            tokio::select! {
                () = shared.ready.wait() => {}
                () = shared.delays.earlier(), if shared.several_workers => {}
                // Once cancelled, the loop drains: the token no longer wakes it.
                () = self.cancelled.as_mut(), if !stopping => shared.close(),
                () = sleep_until(next_due) => {}
            }
        }
    }
}

impl<T: Send + Debug + 'static, O: Send + 'static> Drop for Intake<'_, T, O> {
    fn drop(&mut self) {
        if !self.ahead.is_empty() {
            self.shared
                .taken_ahead
                .fetch_sub(self.ahead.len(), AtomicOrdering::Relaxed);
            self.shared.ready.push_back(self.ahead.drain(..));
        }
        self.shared.worker_ended();
    }
}

impl<T, O> Drop for Shared<T, O> {
    fn drop(&mut self) {
        // A queue dropped with items (its task never ran its workers: another
        // task failed to start) still fails their futures with "stopped".
        let mut entries = self.ready.drain();
        entries.extend(self.delays.drain());
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

    use super::*;

    fn queue(ready: Ready<u32, u32>, max_items: usize) -> Shared<u32, u32> {
        Shared::open("Q", ready, max_items, 1)
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
        for ready in [
            Ready::fifo(1),
            Ready::fifo(2),
            Ready::priority(1),
            Ready::unique(1),
        ] {
            let shared = queue(ready, 0);
            let token = CancellationToken::new();
            let mut intake = Intake::new(&shared, &token);
            for item in [1, 2, 3] {
                shared.try_submit(item, None).expect("open");
            }
            let mut entries = Vec::new();
            for _ in 0..3 {
                entries.push(intake.next().await.expect("queued"));
            }
            let started = Instant::now();
            let delays = [3, 1, 2].map(Duration::from_secs);
            for (entry, delay) in entries.into_iter().zip(delays) {
                shared.retry(entry, Some(delay));
            }
            assert_eq!(shared.depth(), 3);
            let mut order = Vec::new();
            for _ in 0..3 {
                let entry = intake.next().await.expect("retried");
                order.push((entry.item, entry.attempt, started.elapsed().as_secs()));
            }
            assert_eq!(order, [(2, 2, 1), (3, 2, 2), (1, 2, 3)]);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_cancelled_worker_drains_retries_included_then_ends() {
        // (queue, order of items 1 and 2 after 1 is retried once)
        let cases = [
            (Ready::fifo(1), [(2, 1), (1, 2)]),
            (Ready::fifo(2), [(2, 1), (1, 2)]),
            (Ready::unique(1), [(2, 1), (1, 2)]),
            (Ready::priority(1), [(1, 2), (2, 1)]),
        ];
        for (ready, after_retry) in cases {
            let shared = queue(ready, 0);
            let token = CancellationToken::new();
            let mut intake = Intake::new(&shared, &token);
            shared.try_submit(1, None).expect("open");
            shared.try_submit(2, None).expect("open");
            // What the service does on shutdown: cancel, then the stop hook.
            token.cancel();
            shared.close();
            let first = intake.next().await.expect("queued");
            assert_eq!(first.item, 1);
            let refused = shared.try_submit(3, None);
            assert!(matches!(refused, Err(Error::TaskNotRunning(t)) if t == "Q"));

            shared.retry(first, None);
            let mut order = Vec::new();
            for _ in 0..2 {
                let entry = intake.next().await.expect("queued or retried");
                order.push((entry.item, entry.attempt));
                if entry.attempt == 2 {
                    shared.retry(entry, Some(Duration::from_secs(1)));
                }
            }
            assert_eq!(order, after_retry);
            assert_eq!(intake.next().await.map(|e| e.attempt), Some(3));
            assert!(intake.next().await.is_none());
        }
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_worker_closes_the_queue_when_cancelled() {
        let shared = queue(Ready::fifo(1), 0);
        let token = CancellationToken::new();
        let mut intake = Intake::new(&shared, &token);
        let idle = tokio::time::timeout(Duration::from_secs(1), intake.next()).await;
        assert!(idle.is_err(), "waits while the queue is empty");
        token.cancel();
        assert!(intake.next().await.is_none());
        assert!(matches!(
            shared.try_submit(1, None),
            Err(Error::TaskNotRunning(_))
        ));
    }

    #[tokio::test]
    async fn a_worker_batch_goes_back_when_the_worker_ends() {
        let shared = queue(Ready::fifo(1), 0);
        let token = CancellationToken::new();
        for item in 0..10 {
            shared.try_submit(item, None).expect("open");
        }
        let mut first = Intake::new(&shared, &token);
        // Another worker keeps the queue alive when the first one ends.
        let _second = Intake::new(&shared, &token);
        assert_eq!(first.next().await.map(|e| e.item), Some(0));
        assert_eq!(shared.depth(), 9, "items taken ahead still count as queued");
        drop(first);
        assert_eq!(shared.depth(), 9);
        let rest: Vec<u32> = shared.ready.drain().into_iter().map(|e| e.item).collect();
        assert_eq!(rest, (1..10).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn items_left_when_the_last_worker_ends_fail_with_stopped() {
        let shared = queue(Ready::fifo(1), 4);
        let (tx, rx) = oneshot::channel();
        shared.try_submit(1, Some(tx)).expect("open");
        drop(Intake::new(&shared, &CancellationToken::new()));
        assert_eq!(stopped_task(rx.await), "Q");
        assert!(matches!(
            shared.try_submit(2, None),
            Err(Error::TaskNotRunning(_))
        ));
    }

    #[tokio::test]
    async fn a_queue_dropped_with_items_fails_them_with_stopped() {
        let shared = queue(Ready::unique(1), 0);
        let (tx, rx) = oneshot::channel();
        shared.try_submit(1, Some(tx)).expect("open");
        drop(shared);
        assert_eq!(stopped_task(rx.await), "Q");
    }

    #[test]
    fn a_huge_limit_is_clamped() {
        let shared = queue(Ready::fifo(1), usize::MAX);
        assert_eq!(
            shared.capacity.as_ref().map(|c| c.1),
            Some(Semaphore::MAX_PERMITS)
        );
    }
}
