//! Items waiting for a delayed retry ([`TryLater::after`](crate::TryLater)).

use std::cmp::Ordering;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicUsize, Ordering as AtomicOrdering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::time::Instant;

use super::store::Entry;

/// Retries waiting for their time, earliest first. Rarely used, so the
/// hot path only reads an atomic count.
pub(super) struct Delays<T, O> {
    heap: Mutex<Heap<T, O>>,
    len: AtomicUsize,
    /// Told of a new earliest retry.
    earlier: Notify,
}

struct Heap<T, O> {
    items: BinaryHeap<Delayed<T, O>>,
    next_seq: u64,
}

struct Delayed<T, O> {
    due: Instant,
    seq: u64,
    entry: Entry<T, O>,
}

// Earliest due first (a min-heap out of the max-heap), then insertion order.
impl<T, O> Ord for Delayed<T, O> {
    fn cmp(&self, other: &Self) -> Ordering {
        other.due.cmp(&self.due).then(other.seq.cmp(&self.seq))
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

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections only move entries in and out of the heap.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T, O> Delays<T, O> {
    pub(super) fn new() -> Self {
        Self {
            heap: Mutex::new(Heap {
                items: BinaryHeap::new(),
                next_seq: 0,
            }),
            len: AtomicUsize::new(0),
            earlier: Notify::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.len.load(AtomicOrdering::Relaxed)
    }

    /// Keeps `entry` until `due`; `tell` wakes one waiter of
    /// [`earlier`](Self::earlier) when it is the earliest.
    pub(super) fn push(&self, entry: Entry<T, O>, due: Instant, tell: bool) {
        let mut heap = lock(&self.heap);
        let earliest = heap.items.peek().is_none_or(|d| due < d.due);
        let seq = heap.next_seq;
        heap.next_seq += 1;
        heap.items.push(Delayed { due, seq, entry });
        self.len.fetch_add(1, AtomicOrdering::Relaxed);
        drop(heap);
        if earliest && tell {
            self.earlier.notify_one();
        }
    }

    /// The entries due by `now`, earliest first, and when the next one is due.
    pub(super) fn take_due(&self, now: Instant) -> (Vec<Entry<T, O>>, Option<Instant>) {
        let mut heap = lock(&self.heap);
        let mut due = Vec::new();
        while heap.items.peek().is_some_and(|d| d.due <= now) {
            due.extend(heap.items.pop().map(|d| d.entry));
        }
        self.len.fetch_sub(due.len(), AtomicOrdering::Relaxed);
        (due, heap.items.peek().map(|d| d.due))
    }

    /// Every entry, emptying the heap.
    pub(super) fn drain(&self) -> Vec<Entry<T, O>> {
        let mut heap = lock(&self.heap);
        self.len.store(0, AtomicOrdering::Relaxed);
        heap.items.drain().map(|d| d.entry).collect()
    }

    /// Completes when a retry earlier than all others was pushed with `tell`.
    pub(super) async fn earlier(&self) {
        self.earlier.notified().await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn entry(item: u32) -> Entry<u32, ()> {
        Entry {
            item,
            attempt: 1,
            enqueued_at: Instant::now(),
            reply: None,
        }
    }

    #[test]
    fn due_entries_come_out_earliest_first_then_in_insertion_order() {
        let delays = Delays::new();
        let now = Instant::now();
        let secs = |s| now + Duration::from_secs(s);
        for (item, due) in [(1, 3), (2, 1), (3, 3), (4, 9)] {
            delays.push(entry(item), secs(due), false);
        }
        assert_eq!(delays.len(), 4);
        let (due, next) = delays.take_due(secs(3));
        let items: Vec<u32> = due.into_iter().map(|e| e.item).collect();
        assert_eq!(items, [2, 1, 3]);
        assert_eq!(next, Some(secs(9)));
        assert_eq!(delays.len(), 1);
        assert_eq!(delays.drain().len(), 1);
        assert_eq!(delays.take_due(secs(9)).1, None);
    }
}
