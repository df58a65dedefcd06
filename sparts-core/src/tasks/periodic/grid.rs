//! The wall-clock tick grid that every replica agrees on: tick `k` is due
//! `k` intervals after the Unix epoch.
//!
//! Replicas share no clock but the wall clock, so a tick's number comes
//! from it. Waiting goes through tokio's timer, with the wall-clock time
//! left turned into a monotonic deadline, and is checked again on waking,
//! so a wall clock that steps only moves the wait.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tokio::time::Instant;

/// The time since the Unix epoch: the system's, or one a test gives.
#[derive(Clone, Default)]
pub(super) struct WallClock(Option<Arc<dyn Fn() -> Duration + Send + Sync>>);

impl std::fmt::Debug for WallClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "Fixed" } else { "System" })
    }
}

impl WallClock {
    /// A clock that reads `start` now and then follows tokio's clock, so
    /// that it moves with a paused test clock.
    #[cfg(test)]
    pub(super) fn following_tokio(start: Duration) -> Self {
        let origin = Instant::now();
        Self(Some(Arc::new(move || start + origin.elapsed())))
    }

    /// The time since the Unix epoch.
    pub(super) fn now(&self) -> Duration {
        match &self.0 {
            Some(now) => now(),
            // Before the epoch: only a badly wrong clock; tick 0 then.
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default(),
        }
    }

    /// The number of the tick under way now.
    pub(super) fn tick(&self, interval: Duration) -> u64 {
        tick_at(self.now(), interval)
    }
}

/// The tick under way at `since_epoch`.
fn tick_at(since_epoch: Duration, interval: Duration) -> u64 {
    let n = since_epoch.as_nanos() / interval.as_nanos().max(1);
    u64::try_from(n).unwrap_or(u64::MAX)
}

/// The ticks of one interval on one clock.
#[derive(Debug, Clone)]
pub(super) struct Grid {
    interval: Duration,
    clock: WallClock,
}

impl Grid {
    /// Ticks every `interval` on `clock`.
    pub(super) fn new(interval: Duration, clock: WallClock) -> Self {
        Self { interval, clock }
    }

    /// The tick under way now.
    pub(super) fn current(&self) -> u64 {
        self.clock.tick(self.interval)
    }

    /// When tick `k` is due, on tokio's clock (now or earlier when due).
    pub(super) fn due(&self, k: u64) -> Instant {
        let at = u128::from(k).saturating_mul(self.interval.as_nanos());
        let now = Instant::now();
        let left = at.saturating_sub(self.clock.now().as_nanos());
        let left = Duration::from_nanos(u64::try_from(left).unwrap_or(u64::MAX));
        now.checked_add(left)
            .unwrap_or_else(|| now + Duration::from_secs(30 * 365 * 86_400))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn ticks_count_intervals_since_the_epoch() {
        assert_eq!(tick_at(SEC * 10, SEC), 10);
        assert_eq!(tick_at(SEC * 10 - Duration::from_nanos(1), SEC), 9);
        assert_eq!(tick_at(SEC * 10, SEC / 4), 40);
        assert_eq!(tick_at(Duration::MAX, Duration::from_nanos(1)), u64::MAX);
    }

    #[tokio::test(start_paused = true)]
    async fn a_tick_is_due_when_the_wall_clock_reaches_it() {
        let grid = Grid::new(SEC / 2, WallClock::following_tokio(SEC * 100 + SEC / 10));
        assert_eq!(grid.current(), 200);
        let due = grid.due(201);
        assert_eq!(due - Instant::now(), SEC * 4 / 10);
        assert!(grid.due(200) <= Instant::now(), "already due");
        tokio::time::sleep_until(due).await;
        assert_eq!(grid.current(), 201);
    }
}
