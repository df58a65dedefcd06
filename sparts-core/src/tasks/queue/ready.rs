//! Where items wait for a worker: a store of one discipline behind a lock,
//! and the wake-ups of idle workers.

use std::collections::VecDeque;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;

use super::store::{Entry, Fifo, Priority, Store, Unique};

/// Most items a lone worker takes with one lock. Submitters take the lock
/// for every item; a worker that took it as often would double the traffic
/// of its cache line between cores (and the waits for it), which measured
/// as the largest cost of a no-op item.
const BATCH: usize = 64;

/// Why a new item was refused.
pub(super) enum Refusal {
    Closed,
    Duplicate,
}

/// What a worker found when taking an item.
pub(super) enum Taken<T, O> {
    Item(Entry<T, O>),
    /// Nothing now; more may come.
    Empty,
    /// Closed and empty: only retries can still come.
    Finished,
}

/// Builds an empty queue of one discipline for this many workers; one per
/// start of the task.
pub(super) type MakeReady<T, O> = fn(usize) -> Ready<T, O>;

pub(super) struct Ready<T, O> {
    state: Mutex<State<T, O>>,
    /// Told when an item arrives in an empty store, and by a worker that
    /// leaves items behind it for another idle one.
    available: Notify,
    /// How many items a worker takes at once: more than one only for a lone
    /// worker of a discipline where no later item can have to go first.
    batch: usize,
}

struct State<T, O> {
    store: Box<dyn Store<T, O>>,
    /// Accepting new items (retries are always taken back).
    open: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections only move entries between collections and flip a
    // flag; user code runs in them only through an item's Hash, Eq or Ord,
    // and a panic there leaves the collections valid.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Send + 'static, O: Send + 'static> Ready<T, O> {
    /// First in, first out.
    pub(super) fn fifo(workers: usize) -> Self {
        Self::new(Fifo::boxed(), if workers == 1 { BATCH } else { 1 })
    }

    /// Smallest item first; equal items in insertion order.
    pub(super) fn priority(_workers: usize) -> Self
    where
        T: Ord,
    {
        // A batch would hold back a smaller item submitted meanwhile.
        Self::new(Priority::boxed(), 1)
    }

    /// First in, first out, refusing items already present.
    pub(super) fn unique(workers: usize) -> Self
    where
        T: Eq + Hash + Clone,
    {
        Self::new(Unique::boxed(), if workers == 1 { BATCH } else { 1 })
    }

    fn new(store: Box<dyn Store<T, O>>, batch: usize) -> Self {
        Self {
            state: Mutex::new(State { store, open: true }),
            available: Notify::new(),
            batch,
        }
    }
}

impl<T, O> Ready<T, O> {
    /// Adds a new item at the back (in its place, for a priority queue).
    pub(super) fn push_new(&self, entry: Entry<T, O>) -> Result<(), Refusal> {
        let mut state = lock(&self.state);
        if !state.open {
            return Err(Refusal::Closed);
        }
        if !state.store.admit(&entry.item) {
            return Err(Refusal::Duplicate);
        }
        let was_empty = state.store.len() == 0;
        state.store.push(entry);
        drop(state);
        // A worker waits only after seeing the store empty under the lock,
        // so only the push that fills it needs to wake one.
        if was_empty {
            self.available.notify_one();
        }
        Ok(())
    }

    /// Puts items back at the back: retries, and a worker's batch when it
    /// ends. Taken even once closed, as they were admitted before.
    pub(super) fn push_back(&self, entries: impl IntoIterator<Item = Entry<T, O>>) {
        let mut state = lock(&self.state);
        let was_empty = state.store.len() == 0;
        for entry in entries {
            state.store.push(entry);
        }
        let pushed = state.store.len() > 0;
        drop(state);
        if was_empty && pushed {
            self.available.notify_one();
        }
    }

    /// The next item, if one is there, and up to a batch more into `ahead`
    /// (which must be empty). `pass_on` wakes another idle worker when items
    /// are left behind: pushes wake one worker per empty-to-non-empty change.
    pub(super) fn try_take(&self, pass_on: bool, ahead: &mut VecDeque<Entry<T, O>>) -> Taken<T, O> {
        let mut state = lock(&self.state);
        let Some(entry) = state.store.pop() else {
            return if state.open {
                Taken::Empty
            } else {
                Taken::Finished
            };
        };
        let extra = (self.batch - 1).min(state.store.len());
        ahead.extend(std::iter::from_fn(|| state.store.pop()).take(extra));
        let more = state.store.len() > 0;
        drop(state);
        if more && pass_on {
            self.available.notify_one();
        }
        Taken::Item(entry)
    }

    /// Completes when an item may have arrived.
    pub(super) async fn wait(&self) {
        self.available.notified().await;
    }

    /// Refuses new items from now on; what is queued stays.
    pub(super) fn close(&self) {
        lock(&self.state).open = false;
        self.available.notify_waiters();
    }

    pub(super) fn is_open(&self) -> bool {
        lock(&self.state).open
    }

    pub(super) fn len(&self) -> usize {
        lock(&self.state).store.len()
    }

    /// Every queued item, emptying the queue.
    pub(super) fn drain(&self) -> Vec<Entry<T, O>> {
        lock(&self.state).store.drain()
    }

    /// Whether items are remembered until [`release`](Self::release).
    pub(super) fn tracks_items(&self) -> bool {
        lock(&self.state).store.tracks_items()
    }

    /// Whether `item` is queued, waiting for a retry or executing.
    pub(super) fn contains(&self, item: &T) -> bool {
        lock(&self.state).store.contains(item)
    }

    /// Forgets an item that is done.
    pub(super) fn release(&self, item: &T) {
        lock(&self.state).store.release(item);
    }
}
