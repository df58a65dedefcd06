//! Telling every open connection to drain, then to close: one atomic load
//! per poll while serving, one lock per connection opened.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::task::Waker;

/// Where the connections are in the shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Phase {
    Serving = 0,
    /// Finish the request in flight, then close.
    Draining = 1,
    /// Close now.
    Cut = 2,
}

/// The phase and the wakers of every open connection.
///
/// A shared `Notify` or `CancellationToken` would take a lock shared by all
/// connections at every poll; here a poll reads one atomic.
#[derive(Debug, Default)]
pub(crate) struct Shutdown {
    phase: AtomicU8,
    next_id: AtomicU64,
    wakers: Mutex<HashMap<u64, Waker>>,
}

impl Shutdown {
    pub(crate) fn phase(&self) -> Phase {
        match self.phase.load(Ordering::Acquire) {
            0 => Phase::Serving,
            1 => Phase::Draining,
            _ => Phase::Cut,
        }
    }

    /// Moves every connection to `phase` and wakes them.
    pub(crate) fn enter(&self, phase: Phase) {
        self.phase.store(phase as u8, Ordering::Release);
        for waker in self.lock().values() {
            waker.wake_by_ref();
        }
    }

    /// Registers a connection's waker; returns its id for
    /// [`update`](Self::update) and [`remove`](Self::remove).
    pub(crate) fn register(&self, waker: &Waker) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().insert(id, waker.clone());
        id
    }

    /// Replaces a connection's waker (when its task's waker changed).
    pub(crate) fn update(&self, id: u64, waker: &Waker) {
        self.lock().insert(id, waker.clone());
    }

    pub(crate) fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Waker>> {
        // Each critical section is one map operation: never half done.
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
