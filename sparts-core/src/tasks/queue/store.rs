//! The disciplines kept behind a lock: first in first out (for several
//! workers; a lone worker reads a channel, see `ready`), smallest first, and
//! first in first out without duplicates.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashSet, VecDeque};
use std::hash::Hash;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::error::BoxError;

/// Where an item's result goes: the submitter's [`ItemFuture`](super::ItemFuture).
pub(super) type Reply<O> = oneshot::Sender<Result<O, BoxError>>;

/// One item with what the queue knows about it.
pub(super) struct Entry<T, O> {
    pub(super) item: T,
    /// 1 for the first try.
    pub(super) attempt: u32,
    pub(super) enqueued_at: Instant,
    /// `None` for items queued with `enqueue`: nobody waits for the result.
    pub(super) reply: Option<Reply<O>>,
}

/// A discipline kept behind a lock. Trait objects, so that one
/// `QueueTask<W>` type serves every discipline and `require::<QueueTask<W>>()`
/// finds any of them; the indirect call costs nothing next to the lock.
pub(super) trait Store<T, O>: Send {
    fn push(&mut self, entry: Entry<T, O>);
    fn pop(&mut self) -> Option<Entry<T, O>>;
    fn len(&self) -> usize;
    /// Every entry, emptying the store.
    fn drain(&mut self) -> Vec<Entry<T, O>>;

    /// Whether the store remembers items until [`release`](Store::release).
    fn tracks_items(&self) -> bool {
        false
    }
    /// Whether `item` is queued or in flight (unique queues only).
    fn contains(&self, item: &T) -> bool {
        let _ = item;
        false
    }
    /// Records a new item; `false` if it is a duplicate (unique queues only).
    fn admit(&mut self, item: &T) -> bool {
        let _ = item;
        true
    }
    /// Forgets an item that is done (unique queues only).
    fn release(&mut self, item: &T) {
        let _ = item;
    }
}

/// First in, first out.
pub(super) struct Fifo<T, O>(VecDeque<Entry<T, O>>);

impl<T: Send + 'static, O: Send + 'static> Fifo<T, O> {
    pub(super) fn boxed() -> Box<dyn Store<T, O>> {
        Box::new(Self(VecDeque::new()))
    }
}

impl<T: Send, O: Send> Store<T, O> for Fifo<T, O> {
    fn push(&mut self, entry: Entry<T, O>) {
        self.0.push_back(entry);
    }
    fn pop(&mut self) -> Option<Entry<T, O>> {
        self.0.pop_front()
    }
    fn len(&self) -> usize {
        self.0.len()
    }
    fn drain(&mut self) -> Vec<Entry<T, O>> {
        self.0.drain(..).collect()
    }
}

/// Smallest item first; equal items in insertion order.
pub(super) struct Priority<T, O> {
    heap: BinaryHeap<Smallest<T, O>>,
    next_seq: u64,
}

/// Orders entries so that `BinaryHeap`, a max-heap, pops the smallest item
/// and, of equal items, the one inserted first.
struct Smallest<T, O> {
    seq: u64,
    entry: Entry<T, O>,
}

impl<T: Ord, O> Ord for Smallest<T, O> {
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .entry
            .item
            .cmp(&self.entry.item)
            .then(other.seq.cmp(&self.seq))
    }
}

impl<T: Ord, O> PartialOrd for Smallest<T, O> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl<T: Ord, O> PartialEq for Smallest<T, O> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl<T: Ord, O> Eq for Smallest<T, O> {}

impl<T: Ord + Send + 'static, O: Send + 'static> Priority<T, O> {
    pub(super) fn boxed() -> Box<dyn Store<T, O>> {
        Box::new(Self {
            heap: BinaryHeap::new(),
            next_seq: 0,
        })
    }
}

impl<T: Ord + Send, O: Send> Store<T, O> for Priority<T, O> {
    fn push(&mut self, entry: Entry<T, O>) {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Smallest { seq, entry });
    }
    fn pop(&mut self) -> Option<Entry<T, O>> {
        self.heap.pop().map(|s| s.entry)
    }
    fn len(&self) -> usize {
        self.heap.len()
    }
    fn drain(&mut self) -> Vec<Entry<T, O>> {
        self.heap.drain().map(|s| s.entry).collect()
    }
}

/// First in, first out; an item already queued or in flight is refused.
pub(super) struct Unique<T, O> {
    queue: VecDeque<Entry<T, O>>,
    /// Items queued, in flight or waiting for a retry.
    present: HashSet<T>,
}

impl<T: Eq + Hash + Clone + Send + 'static, O: Send + 'static> Unique<T, O> {
    pub(super) fn boxed() -> Box<dyn Store<T, O>> {
        Box::new(Self {
            queue: VecDeque::new(),
            present: HashSet::new(),
        })
    }
}

impl<T: Eq + Hash + Clone + Send, O: Send> Store<T, O> for Unique<T, O> {
    fn push(&mut self, entry: Entry<T, O>) {
        self.queue.push_back(entry);
    }
    fn pop(&mut self) -> Option<Entry<T, O>> {
        self.queue.pop_front()
    }
    fn len(&self) -> usize {
        self.queue.len()
    }
    fn drain(&mut self) -> Vec<Entry<T, O>> {
        self.present.clear();
        self.queue.drain(..).collect()
    }
    fn tracks_items(&self) -> bool {
        true
    }
    fn contains(&self, item: &T) -> bool {
        self.present.contains(item)
    }
    fn admit(&mut self, item: &T) -> bool {
        // Looked up before cloning: a duplicate costs no clone.
        if self.present.contains(item) {
            return false;
        }
        self.present.insert(item.clone())
    }
    fn release(&mut self, item: &T) {
        self.present.remove(item);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An entry whose attempt number tells entries apart in tests.
    fn entry(item: u32, tag: u32) -> Entry<u32, ()> {
        Entry {
            item,
            attempt: tag,
            enqueued_at: Instant::now(),
            reply: None,
        }
    }

    fn pop_all(store: &mut dyn Store<u32, ()>) -> Vec<(u32, u32)> {
        std::iter::from_fn(|| store.pop().map(|e| (e.item, e.attempt))).collect()
    }

    #[test]
    fn fifo_keeps_insertion_order() {
        let mut store = Fifo::boxed();
        for (tag, item) in (0..).zip([3, 1, 2]) {
            store.push(entry(item, tag));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(pop_all(store.as_mut()), [(3, 0), (1, 1), (2, 2)]);
    }

    #[test]
    fn priority_pops_smallest_and_keeps_order_among_equals() {
        let mut store = Priority::boxed();
        for (tag, item) in (0..).zip([5, 1, 5, 3, 1]) {
            store.push(entry(item, tag));
        }
        assert_eq!(
            pop_all(store.as_mut()),
            [(1, 1), (1, 4), (3, 3), (5, 0), (5, 2)]
        );
    }

    #[test]
    fn unique_refuses_present_items_until_released() {
        let mut store = Unique::boxed();
        assert!(store.admit(&7));
        assert!(!store.admit(&7));
        assert!(store.contains(&7));
        store.push(entry(7, 0));
        let popped = store.pop().map(|e| e.item);
        assert_eq!(popped, Some(7));
        // Popped is in flight: still a duplicate.
        assert!(!store.admit(&7));
        store.release(&7);
        assert!(!store.contains(&7));
        assert!(store.admit(&7));
    }

    #[test]
    fn drain_empties_every_store() {
        for mut store in [Fifo::boxed(), Priority::boxed(), Unique::boxed()] {
            assert!(store.admit(&1));
            store.push(entry(1, 0));
            store.push(entry(2, 1));
            assert_eq!(store.drain().len(), 2);
            assert_eq!(store.len(), 0);
            assert!(!store.contains(&1));
        }
    }
}
