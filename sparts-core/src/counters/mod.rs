//! Counters: the numbers a service exports about itself (fb303 style).
//!
//! - [`Counter`]: a running sum, one relaxed atomic add per increment.
//! - [`Max`], [`Min`], [`Average`], [`Count`]: all-time single values.
//! - [`CallbackCounter`]: a value computed when a snapshot is taken.
//! - [`Samples`]: count, sum, avg, max and min over sliding windows (by
//!   default the last 60 and 3600 seconds), in constant memory.
//!
//! A [`CounterRegistry`] names them and takes [`CountersSnapshot`]s, which
//! render as the Prometheus text format. Time comes from a [`Clock`], so
//! tests drive windows with a [`ManualClock`] instead of sleeping.
//!
//! Every handle is a cheap `Clone` sharing one value: get it once (at task
//! init) and keep it, rather than looking the name up on each event.

mod clock;
mod counter;
mod prometheus;
mod registry;
mod samples;

use std::sync::{Mutex, MutexGuard, PoisonError};

pub use clock::{Clock, ManualClock, MonotonicClock, SharedClock};
pub use counter::{Average, CallbackCounter, Count, Counter, CounterCallback, Max, Min};
pub use registry::{CounterKind, CounterRegistry, CounterValue, CountersSnapshot, ExportedCounter};
pub use samples::{SampleType, Samples, SamplesConfig, Window};

/// Locks, ignoring poisoning: every critical section in this module leaves
/// the data consistent at each step (plain numeric updates, map inserts), so
/// a panic elsewhere while holding the lock cannot leave it half written.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
