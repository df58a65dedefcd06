//! All-time counters holding a single value.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::lock;

/// A running sum (fb303's "counter"), such as requests served.
///
/// A cheap [`Clone`] handle: clones share the same value. Updates are one
/// relaxed atomic add; the sum wraps around at `u64::MAX`.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    value: Arc<AtomicU64>,
}

impl Counter {
    /// A counter at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds one.
    #[inline]
    pub fn increment(&self) {
        self.add(1);
    }

    /// Adds `n`.
    #[inline]
    pub fn add(&self, n: u64) {
        // Relaxed: the counter orders nothing else, it is only ever read as
        // a statistic.
        self.value.fetch_add(n, Ordering::Relaxed);
    }

    /// The current sum.
    #[must_use]
    pub fn value(&self) -> u64 {
        self.value.load(Ordering::Relaxed)
    }
}

/// An f64 in an atomic that only moves in one direction (up for
/// [`Max`], down for [`Min`]).
///
/// NaN is never stored as a value (records of NaN are dropped), so any NaN
/// bit pattern can mean "nothing recorded yet".
#[derive(Debug)]
struct AtomicExtreme {
    bits: AtomicU64,
}

impl AtomicExtreme {
    fn new() -> Self {
        Self {
            bits: AtomicU64::new(f64::NAN.to_bits()),
        }
    }

    fn record(&self, value: f64, replaces: fn(new: f64, current: f64) -> bool) {
        if value.is_nan() {
            return;
        }
        // The closure refuses when the value would not change, so the common
        // case (no new extreme) is a single load.
        let _ = self
            .bits
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                let current = f64::from_bits(bits);
                (current.is_nan() || replaces(value, current)).then_some(value.to_bits())
            });
    }

    fn value(&self) -> Option<f64> {
        let value = f64::from_bits(self.bits.load(Ordering::Relaxed));
        (!value.is_nan()).then_some(value)
    }
}

/// The largest value recorded since creation.
///
/// A cheap [`Clone`] handle, lock-free. NaN records are ignored.
#[derive(Debug, Clone)]
pub struct Max {
    inner: Arc<AtomicExtreme>,
}

impl Max {
    /// A maximum with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(AtomicExtreme::new()),
        }
    }

    /// Records one value.
    pub fn record(&self, value: f64) {
        self.inner.record(value, |new, current| new > current);
    }

    /// The maximum, or `None` before the first record.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        self.inner.value()
    }
}

impl Default for Max {
    fn default() -> Self {
        Self::new()
    }
}

/// The smallest value recorded since creation.
///
/// A cheap [`Clone`] handle, lock-free. NaN records are ignored.
#[derive(Debug, Clone)]
pub struct Min {
    inner: Arc<AtomicExtreme>,
}

impl Min {
    /// A minimum with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self {
            inner: Arc::new(AtomicExtreme::new()),
        }
    }

    /// Records one value.
    pub fn record(&self, value: f64) {
        self.inner.record(value, |new, current| new < current);
    }

    /// The minimum, or `None` before the first record.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        self.inner.value()
    }
}

impl Default for Min {
    fn default() -> Self {
        Self::new()
    }
}

/// The mean of all values recorded since creation.
///
/// A cheap [`Clone`] handle. Sum and count sit behind one short lock, since
/// two separate atomics could be read half updated. NaN records are ignored.
#[derive(Debug, Clone, Default)]
pub struct Average {
    inner: Arc<Mutex<SumCount>>,
}

#[derive(Debug, Default)]
struct SumCount {
    sum: f64,
    count: u64,
}

impl Average {
    /// An average with nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Records one value.
    pub fn record(&self, value: f64) {
        if value.is_nan() {
            return;
        }
        let mut inner = lock(&self.inner);
        inner.sum += value;
        inner.count += 1;
    }

    /// The mean, or `None` before the first record.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        let inner = lock(&self.inner);
        // Counts beyond 2^53 are approximate anyway.
        (inner.count > 0).then(|| inner.sum / inner.count as f64)
    }
}

/// The number of values recorded since creation (the value itself is
/// ignored, NaN included).
///
/// Like the original sparts `Count`, it starts at 0, so [`value`](Self::value)
/// is never `None`; it returns an `Option` to match the other counters.
/// A cheap [`Clone`] handle.
#[derive(Debug, Clone, Default)]
pub struct Count {
    count: Counter,
}

impl Count {
    /// A count at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts one record; `value` is ignored.
    #[inline]
    pub fn record(&self, _value: f64) {
        self.count.increment();
    }

    /// The number of records so far.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        // Exact up to 2^53 records.
        Some(self.count.value() as f64)
    }
}

/// The closure behind a [`CallbackCounter`].
pub type CounterCallback = Arc<dyn Fn() -> Option<f64> + Send + Sync>;

/// A counter whose value is computed when a snapshot is taken, such as a
/// queue length or the number of open connections.
///
/// `None` means "no value now" and is left out of snapshots. A cheap
/// [`Clone`] handle.
#[derive(Clone)]
pub struct CallbackCounter {
    callback: CounterCallback,
}

impl CallbackCounter {
    /// A counter that calls `callback` for its value.
    pub fn new(callback: impl Fn() -> Option<f64> + Send + Sync + 'static) -> Self {
        Self {
            callback: Arc::new(callback),
        }
    }

    /// Wraps an already shared callback.
    #[must_use]
    pub fn from_arc(callback: CounterCallback) -> Self {
        Self { callback }
    }

    /// Calls the callback.
    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.callback)()
    }
}

impl fmt::Debug for CallbackCounter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackCounter").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_sums_exactly_across_threads() {
        const THREADS: u64 = 8;
        const PER_THREAD: u64 = 100_000;
        let counter = Counter::new();
        std::thread::scope(|s| {
            for _ in 0..THREADS {
                let counter = counter.clone();
                s.spawn(move || {
                    for i in 0..PER_THREAD {
                        // Mix both entry points so both are covered.
                        if i % 2 == 0 {
                            counter.increment();
                        } else {
                            counter.add(1);
                        }
                    }
                });
            }
        });
        assert_eq!(counter.value(), THREADS * PER_THREAD);
    }

    #[test]
    fn counter_add() {
        let counter = Counter::new();
        assert_eq!(counter.value(), 0);
        counter.add(10);
        counter.increment();
        assert_eq!(counter.value(), 11);
    }

    #[test]
    fn max_and_min() {
        let max = Max::new();
        let min = Min::new();
        assert_eq!(max.value(), None);
        assert_eq!(min.value(), None);
        for v in [3.0, -7.5, 12.25, f64::NAN, 0.0] {
            max.record(v);
            min.record(v);
        }
        assert_eq!(max.value(), Some(12.25));
        assert_eq!(min.value(), Some(-7.5));
    }

    #[test]
    fn max_keeps_infinities_and_first_negative() {
        let max = Max::new();
        max.record(f64::NEG_INFINITY);
        assert_eq!(max.value(), Some(f64::NEG_INFINITY));
        max.record(-1.0);
        assert_eq!(max.value(), Some(-1.0));
    }

    #[test]
    fn max_across_threads() {
        let max = Max::new();
        std::thread::scope(|s| {
            for t in 0..4_u32 {
                let max = max.clone();
                s.spawn(move || {
                    for i in 0..10_000_u32 {
                        max.record(f64::from(i * 4 + t));
                    }
                });
            }
        });
        assert_eq!(max.value(), Some(39_999.0));
    }

    #[test]
    fn average() {
        let avg = Average::new();
        assert_eq!(avg.value(), None);
        avg.record(1.0);
        avg.record(2.0);
        avg.record(f64::NAN);
        avg.record(6.0);
        assert_eq!(avg.value(), Some(3.0));
    }

    #[test]
    fn count_counts_records() {
        let count = Count::new();
        assert_eq!(count.value(), Some(0.0));
        count.record(100.0);
        count.record(-3.0);
        count.clone().record(f64::NAN);
        assert_eq!(count.value(), Some(3.0));
    }

    #[test]
    fn callback_is_evaluated_on_read() {
        let source = Counter::new();
        let seen = source.clone();
        let cb = CallbackCounter::new(move || {
            let v = seen.value();
            (v > 0).then_some(v as f64 * 2.0)
        });
        assert_eq!(cb.value(), None);
        source.add(21);
        assert_eq!(cb.value(), Some(42.0));
    }
}
