//! Which tick an execution runs for, readable inside `execute`.

use std::future::Future;

tokio::task_local! {
    /// Set around each call of `execute`.
    static TICK: PeriodicTick;
}

/// The tick an execution of a [`Periodic`](super::Periodic) runs for, from
/// [`PeriodicTick::current`] inside
/// [`execute`](super::Periodic::execute).
///
/// Ticks are numbered on a wall-clock grid: tick `k` is due `k` intervals
/// after the Unix epoch. With coordination (`--<prefix>-coordination`) that
/// grid is the schedule, and every replica agrees on the numbers; without,
/// the number is the one in which the execution started.
///
/// ```
/// use sparts_core::{BoxError, Periodic, PeriodicContext, PeriodicTick};
///
/// struct Report;
///
/// impl Periodic for Report {
///     async fn execute(&self, _ctx: &PeriodicContext) -> Result<(), BoxError> {
///         let tick = PeriodicTick::current().ok_or("called outside a tick")?;
///         tracing::info!("tick {}", tick.number);
///         Ok(())
///     }
/// }
///
/// assert_eq!(PeriodicTick::current(), None, "outside an execution");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct PeriodicTick {
    /// The tick's number: the Unix time divided by the interval, rounded
    /// down.
    pub number: u64,
    /// With coordination, the lease's fencing token as this replica claimed
    /// the tick: it grows with every claim by any replica, so a store
    /// that refuses a token lower than one it has seen refuses a former
    /// leader's late write. `None` without coordination.
    pub token: Option<u64>,
}

impl PeriodicTick {
    /// The tick of the execution this is called from: `None` outside
    /// `execute` (in a task it spawned, for one).
    pub fn current() -> Option<Self> {
        TICK.try_with(|tick| *tick).ok()
    }

    /// A tick of this number with this fencing token.
    pub(super) fn new(number: u64, token: Option<u64>) -> Self {
        Self { number, token }
    }

    /// Runs `execution` as this tick's.
    pub(super) fn scope<F: Future>(self, execution: F) -> impl Future<Output = F::Output> {
        TICK.scope(self, execution)
    }
}
