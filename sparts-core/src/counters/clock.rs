//! Time sources for windowed counters.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A monotonic time source: time elapsed since an arbitrary fixed origin.
///
/// [`Samples`](crate::counters::Samples) reads it once per `add`, so implementations
/// must be cheap. Values must never go backwards; a clock that does makes
/// windowed counters forget recent values early.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Time elapsed since this clock's origin.
    fn now(&self) -> Duration;
}

/// A clock shared between a registry and the counters it creates.
pub type SharedClock = Arc<dyn Clock>;

/// The real clock: the system's monotonic clock as of its last tick, its
/// origin the moment it was created.
///
/// Windows are whole seconds long, so a clock that moves once per kernel
/// tick (1 to 4 ms) is precise enough, and on Linux it is read from the
/// vDSO page alone (`CLOCK_MONOTONIC_COARSE`, a few ns), without the cycle
/// counter that [`Instant::now`] reads: [`Samples`](crate::counters::Samples)
/// reads it on every `add`, on every request of a server. Elsewhere it is
/// [`Instant`].
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    origin: Duration,
}

impl MonotonicClock {
    /// A clock whose origin is now.
    #[must_use]
    pub fn new() -> Self {
        Self {
            origin: coarse_now(),
        }
    }
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for MonotonicClock {
    fn now(&self) -> Duration {
        coarse_now().saturating_sub(self.origin)
    }
}

/// The monotonic clock as of its last tick, from a fixed origin.
#[cfg(target_os = "linux")]
fn coarse_now() -> Duration {
    use nix::time::{ClockId, clock_gettime};
    // Every Linux since 2.6.32 has it; the one source, once chosen, stays
    // for the life of the process, so that times are never mixed.
    static HAS_COARSE: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if *HAS_COARSE.get_or_init(|| clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE).is_ok())
        && let Ok(now) = clock_gettime(ClockId::CLOCK_MONOTONIC_COARSE)
    {
        // Never negative: the monotonic clock counts from boot.
        return Duration::new(
            u64::try_from(now.tv_sec()).unwrap_or(0),
            u32::try_from(now.tv_nsec()).unwrap_or(0),
        );
    }
    fine_now()
}

#[cfg(not(target_os = "linux"))]
fn coarse_now() -> Duration {
    fine_now()
}

/// [`Instant`] as a duration from a fixed origin of this process, where
/// the coarse clock cannot be read.
fn fine_now() -> Duration {
    static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    ORIGIN.get_or_init(Instant::now).elapsed()
}

/// A clock that only moves when told to, for tests.
///
/// Clones share the same time, so a test keeps one clone and hands the other
/// (as a [`SharedClock`]) to the code under test. Time is kept in whole
/// nanoseconds and saturates at `u64::MAX` nanoseconds (about 584 years).
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves the clock forward by `by`.
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        // fetch_update so concurrent advances neither get lost nor wrap.
        let _ = self
            .nanos
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |now| {
                Some(now.saturating_add(by))
            });
    }

    /// Sets the clock to `to`; going backwards is allowed but breaks the
    /// [`Clock`] contract, so only tests of that case should do it.
    pub fn set(&self, to: Duration) {
        self.nanos.store(duration_to_nanos(to), Ordering::SeqCst);
    }

    /// A [`SharedClock`] reading this clock.
    #[must_use]
    pub fn shared(&self) -> SharedClock {
        Arc::new(self.clone())
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::SeqCst))
    }
}

/// Whole nanoseconds, saturating: u64 nanoseconds cover 584 years of uptime.
pub(crate) fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new();
        let shared = clock.shared();
        assert_eq!(shared.now(), Duration::ZERO);
        clock.advance(Duration::from_millis(1500));
        assert_eq!(shared.now(), Duration::from_millis(1500));
        clock.set(Duration::from_secs(10));
        assert_eq!(shared.now(), Duration::from_secs(10));
    }

    #[test]
    fn manual_clock_saturates() {
        let clock = ManualClock::new();
        clock.set(Duration::MAX);
        clock.advance(Duration::from_secs(1));
        assert_eq!(clock.now(), Duration::from_nanos(u64::MAX));
    }

    #[test]
    fn monotonic_clock_does_not_go_backwards() {
        let clock = MonotonicClock::new();
        let a = clock.now();
        let b = clock.now();
        assert!(b >= a);
    }
}
