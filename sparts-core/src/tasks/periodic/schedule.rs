//! When a periodic task runs next.
//!
//! Deadlines are absolute (`last deadline + interval`), so the time spent
//! executing or waking up does not push the schedule back: no drift. A run
//! that overruns its interval is followed by the next one at once, and the
//! schedule restarts from there: no burst of catch-up runs.

use std::time::Duration;

use tokio::time::Instant;

/// Far enough to mean "never" for an interval too large to add to an instant.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 86_400);

/// Why the next run is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Due {
    /// The regular tick: follows interval changes.
    Tick,
    /// A retry asked for by `TryLater::after`: keeps its delay.
    Retry,
}

/// The deadlines of one worker.
#[derive(Debug, Clone)]
pub(super) struct Schedule {
    /// The deadline of the run in progress, or of the last one.
    last: Instant,
    /// The deadline of the next run.
    next: Instant,
    due: Due,
}

fn add(t: Instant, d: Duration) -> Instant {
    t.checked_add(d).unwrap_or_else(|| t + FAR_FUTURE)
}

impl Schedule {
    /// A schedule whose first run is due at `now`.
    pub(super) fn starting_at(now: Instant) -> Self {
        Self {
            last: now,
            next: now,
            due: Due::Tick,
        }
    }

    /// When the next run is due.
    pub(super) fn next(&self) -> Instant {
        self.next
    }

    /// The run due at [`next`](Self::next) starts.
    pub(super) fn start(&mut self) {
        self.last = self.next;
    }

    /// The run finished at `now`: the next is due one `interval` after this
    /// one's deadline, or at once when that is already past. Returns whether
    /// the run overran (a slow iteration).
    pub(super) fn finished(&mut self, now: Instant, interval: Duration) -> bool {
        self.due = Due::Tick;
        let due = add(self.last, interval);
        let overran = now >= due;
        self.next = if overran { now } else { due };
        overran
    }

    /// The run asked to be retried at `now`: after `after`, or at the next
    /// regular tick.
    pub(super) fn retry(&mut self, now: Instant, after: Option<Duration>, interval: Duration) {
        match after {
            Some(after) => {
                self.due = Due::Retry;
                self.next = add(now, after);
            }
            None => {
                self.due = Due::Tick;
                self.next = add(self.last, interval).max(now);
            }
        }
    }

    /// The interval changed at `now`, while waiting: a regular tick moves to
    /// one new interval after the last deadline, or to `now` if that is past
    /// (the schedule then restarts from `now`); a retry keeps its delay.
    pub(super) fn interval_changed(&mut self, now: Instant, interval: Duration) {
        if self.due == Due::Tick {
            self.next = add(self.last, interval).max(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEC: Duration = Duration::from_secs(1);

    #[test]
    fn deadlines_ignore_execution_time() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        assert_eq!(s.next(), t0);
        for k in 1..=5 {
            s.start();
            let overran = s.finished(s.next() + SEC / 3, SEC);
            assert!(!overran);
            assert_eq!(s.next(), t0 + SEC * k);
        }
    }

    #[test]
    fn an_overrun_runs_next_at_once_without_catching_up() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        s.start();
        let end = t0 + SEC * 3 + SEC / 2;
        assert!(s.finished(end, SEC), "3.5 s for a 1 s interval is slow");
        assert_eq!(s.next(), end, "at once");
        s.start();
        assert!(!s.finished(end, SEC));
        assert_eq!(s.next(), end + SEC, "one interval later, not a burst");
    }

    #[test]
    fn a_run_that_ends_exactly_at_the_next_deadline_is_slow() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        s.start();
        assert!(s.finished(t0 + SEC, SEC));
        assert_eq!(s.next(), t0 + SEC);
    }

    #[test]
    fn retries_wait_their_delay_or_the_next_tick() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        s.start();
        s.retry(t0 + SEC / 10, Some(SEC / 5), SEC);
        assert_eq!(s.next(), t0 + SEC / 10 + SEC / 5);
        s.interval_changed(t0 + SEC / 10, SEC / 100);
        assert_eq!(s.next(), t0 + SEC / 10 + SEC / 5, "a retry keeps its delay");
        s.start();
        s.retry(t0 + SEC / 2, None, SEC);
        assert_eq!(s.next(), t0 + SEC / 10 + SEC / 5 + SEC, "the next tick");
    }

    #[test]
    fn an_interval_change_moves_the_pending_tick() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        s.start();
        s.finished(t0, SEC * 10);
        assert_eq!(s.next(), t0 + SEC * 10);
        s.interval_changed(t0 + SEC / 4, SEC / 2);
        assert_eq!(s.next(), t0 + SEC / 2);
        s.interval_changed(t0 + SEC / 4, SEC * 20);
        assert_eq!(s.next(), t0 + SEC * 20);
        s.interval_changed(t0 + SEC, SEC / 2);
        assert_eq!(s.next(), t0 + SEC, "past: at once, from now");
        s.start();
        assert!(!s.finished(t0 + SEC, SEC / 2), "not slow");
        assert_eq!(s.next(), t0 + SEC + SEC / 2);
    }

    #[test]
    fn a_huge_interval_does_not_overflow() {
        let t0 = Instant::now();
        let mut s = Schedule::starting_at(t0);
        s.start();
        s.finished(t0, Duration::MAX);
        assert!(s.next() > t0 + SEC * 86_400 * 365);
    }
}
