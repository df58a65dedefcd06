//! A histogram that threads record into without meeting: one shard per
//! thread slot, each on cache lines of its own, of atomic counts summed
//! when scraped.
//!
//! prometheus-client's own histogram is one lock around one set of
//! buckets: every request of every worker thread takes that lock, and a
//! thread that finds it taken sleeps and is woken, a system call each
//! way. Here a thread adds to its own shard's atomics, which no other
//! thread writes (threads share shards only past [`MAX_SHARDS`]), and
//! nothing ever waits.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use prometheus_client::encoding::{EncodeMetric, MetricEncoder, NoLabelSet};
use prometheus_client::metrics::{MetricType, TypedMetric};

/// The most shards a histogram has: past it, threads share shards
/// (16 shards of a 14-bucket histogram are 4 KiB per series).
const MAX_SHARDS: usize = 16;

/// Spare counts after each shard's buckets: two cache lines, so that the
/// next allocation (another shard's) starts on lines of its own.
const PAD: usize = 16;

/// A cumulative histogram with fixed bucket bounds, in the Prometheus
/// sense: the count and sum of observations, and the count at or below
/// each bound. Cheap to clone; clones share the counts. What sparts'
/// latency families are made of; a family of a service's own can use it
/// too ([`Telemetry::register`](super::Telemetry::register)).
///
/// A scrape reads each bucket once and counts the observations as their
/// sum, so `_count` and the `+Inf` bucket always agree; an observation
/// made during the scrape may be in the sum and not yet in a bucket.
///
/// ```
/// use sparts_core::telemetry::Histogram;
/// use sparts_core::telemetry::prometheus_client::metrics::family::Family;
///
/// let histogram = Histogram::new([0.01, 0.1, 1.0]);
/// histogram.observe(0.05);
/// // A family of them, each series with these bounds.
/// let by_queue: Family<Vec<(String, String)>, Histogram> =
///     Family::new_with_constructor(|| Histogram::new([0.01, 0.1, 1.0]));
/// by_queue.get_or_create(&vec![("queue".into(), "mail".into())]).observe(0.2);
/// ```
#[derive(Clone)]
pub struct Histogram {
    inner: Arc<Inner>,
}

struct Inner {
    /// Finite and increasing; `+Inf` is implicit.
    bounds: Arc<[f64]>,
    /// A power of two in length.
    shards: Box<[Shard]>,
}

/// One thread slot's counts, alone on its cache lines (two, since
/// adjacent lines are fetched in pairs).
#[repr(align(128))]
struct Shard {
    /// The bits of an `f64`.
    sum: AtomicU64,
    /// One per bound, then `+Inf`; not cumulative. [`PAD`] spare at the
    /// end of the allocation.
    buckets: Vec<AtomicU64>,
}

impl Histogram {
    /// A histogram with the bucket bounds `bounds`, sorted; those that are
    /// not finite are left out (`+Inf` is always there).
    pub fn new(bounds: impl IntoIterator<Item = f64>) -> Self {
        Self::with_bounds(normalized(bounds.into_iter().collect()).into())
    }

    /// A histogram with `bounds`, already finite and increasing: shared by
    /// every series of a family.
    pub(crate) fn with_bounds(bounds: Arc<[f64]>) -> Self {
        let shards = (0..shard_count())
            .map(|_| {
                let mut buckets = Vec::with_capacity(bounds.len() + 1 + PAD);
                buckets.resize_with(bounds.len() + 1, AtomicU64::default);
                Shard {
                    sum: AtomicU64::new(0.0_f64.to_bits()),
                    buckets,
                }
            })
            .collect();
        Self {
            inner: Arc::new(Inner { bounds, shards }),
        }
    }

    /// Records one observation (NaN counts in `+Inf`, and makes the sum
    /// NaN, as in prometheus-client's own histogram).
    #[inline]
    pub fn observe(&self, value: f64) {
        let inner = &*self.inner;
        let bucket = if value.is_nan() {
            inner.bounds.len()
        } else {
            inner.bounds.partition_point(|bound| *bound < value)
        };
        let shard = &inner.shards[thread_slot() & (inner.shards.len() - 1)];
        // Relaxed: the counts order nothing else; a scrape reads each once.
        shard.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        let _ = shard
            .sum
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
                Some((f64::from_bits(bits) + value).to_bits())
            });
    }

    /// The sum of every shard: the sum, the count, and each bucket's
    /// bound with its (not cumulative) count, `+Inf` last.
    fn totals(&self) -> (f64, u64, Vec<(f64, u64)>) {
        let inner = &*self.inner;
        let mut buckets: Vec<(f64, u64)> = inner
            .bounds
            .iter()
            .copied()
            .chain(std::iter::once(f64::INFINITY))
            .map(|bound| (bound, 0))
            .collect();
        let mut sum = 0.0;
        for shard in &inner.shards {
            sum += f64::from_bits(shard.sum.load(Ordering::Relaxed));
            for (total, n) in buckets.iter_mut().zip(&shard.buckets) {
                total.1 += n.load(Ordering::Relaxed);
            }
        }
        let count = buckets.iter().map(|(_, n)| n).sum();
        (sum, count, buckets)
    }
}

impl fmt::Debug for Histogram {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (sum, count, _) = self.totals();
        f.debug_struct("Histogram")
            .field("count", &count)
            .field("sum", &sum)
            .finish_non_exhaustive()
    }
}

impl TypedMetric for Histogram {
    const TYPE: MetricType = MetricType::Histogram;
}

impl EncodeMetric for Histogram {
    fn encode(&self, mut encoder: MetricEncoder<'_>) -> Result<(), fmt::Error> {
        let (sum, count, buckets) = self.totals();
        encoder.encode_histogram::<NoLabelSet>(sum, count, &buckets, None)
    }

    fn metric_type(&self) -> MetricType {
        Self::TYPE
    }
}

/// Bucket bounds as a histogram keeps them: finite, sorted, each once.
pub(crate) fn normalized(mut bounds: Vec<f64>) -> Vec<f64> {
    bounds.retain(|bound| bound.is_finite());
    bounds.sort_by(f64::total_cmp);
    bounds.dedup();
    bounds
}

/// The shards each histogram has: the machine's threads, rounded up to a
/// power of two, at most [`MAX_SHARDS`].
fn shard_count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .clamp(1, MAX_SHARDS)
            .next_power_of_two()
    })
}

/// This thread's slot: given out in turn as threads first record, so the
/// runtime's workers, which live as long as it does, each get their own.
fn thread_slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: usize = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    SLOT.with(|slot| *slot)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn observations_from_every_thread_are_summed_into_cumulative_buckets() {
        let histogram = Histogram::new([0.1, f64::INFINITY, 0.01, 0.1]);
        std::thread::scope(|scope| {
            for _ in 0..4 {
                let histogram = histogram.clone();
                scope.spawn(move || {
                    histogram.observe(0.005);
                    histogram.observe(0.01);
                    histogram.observe(0.05);
                    histogram.observe(5.0);
                });
            }
        });
        histogram.observe(f64::NAN);
        let (sum, count, buckets) = histogram.totals();
        assert_eq!(count, 17);
        assert!(sum.is_nan(), "NaN is summed, as prometheus-client sums it");
        // A value on a bound counts in that bound's bucket (`le`).
        assert_eq!(buckets, [(0.01, 8), (0.1, 4), (f64::INFINITY, 5)]);
    }
}
