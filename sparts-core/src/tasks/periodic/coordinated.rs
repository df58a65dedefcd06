//! A periodic task whose ticks run on one replica: it joins the lease at
//! start, waits to hold it, runs the ticks of the wall-clock grid while it
//! does, and hands it over when it stops.

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::coordination::Coordination;
use super::leader::{Claim, Hold, Leader};
use super::state::resolve;
use super::{Metrics, Periodic, PeriodicContext, PeriodicOutput, PeriodicTask, Warning};
use crate::error::BoxError;
use crate::task::TaskOptions;
use crate::tasks::periodic::PeriodicTick;

/// How a term of leadership ended.
enum Led {
    /// The task is stopping: release the lease.
    Stopped,
    /// The lease was lost or could not be renewed in time.
    SteppedDown(String),
}

impl<P: Periodic<O, R>, O: TaskOptions, R: PeriodicOutput> PeriodicTask<P, O, R> {
    /// The worker of a coordinated task: follows, leads, and follows again
    /// until the task stops.
    pub(super) async fn run_coordinated(
        &self,
        c: &Coordination,
        ctx: &PeriodicContext<O>,
        metrics: &Metrics,
    ) -> Result<(), BoxError> {
        let mut warning = Warning::default();
        let ended = loop {
            let term = tokio::select! {
                biased;
                () = ctx.stopped() => break Ok(()),
                term = c.lease.acquire() => term,
            };
            let term = match term {
                Ok(term) => term,
                Err(error) => break Err(error),
            };
            info!(
                "leads: took the lease (token {}, last tick {:?})",
                term.token, term.last_tick
            );
            c.changes.increment();
            c.set_leading(true, &self.state);
            let mut leader = Leader::new(c, term);
            let led = self.lead(&mut leader, ctx, metrics, &mut warning).await;
            c.set_leading(false, &self.state);
            match led {
                Ok(Led::SteppedDown(why)) => {
                    warn!("stepped down: {why}; no tick starts here until it leads again");
                }
                Ok(Led::Stopped) => {
                    leader.release().await;
                    break Ok(());
                }
                Err(error) => {
                    // Another replica takes over at once.
                    leader.release().await;
                    break Err(error);
                }
            }
        };
        warning.clear(ctx.service());
        ended
    }

    /// Runs the ticks due while this replica holds the lease.
    async fn lead(
        &self,
        leader: &mut Leader<'_>,
        ctx: &PeriodicContext<O>,
        metrics: &Metrics,
        warning: &mut Warning,
    ) -> Result<Led, BoxError> {
        let grid = leader.grid().clone();
        let mut next = first_tick(grid.current(), leader.last_tick());
        loop {
            match leader.hold_until(grid.due(next), ctx).await {
                Hold::Reached => {}
                Hold::Stopped => return Ok(Led::Stopped),
                Hold::Lost(why) => return Ok(Led::SteppedDown(why)),
            }
            let current = grid.current();
            if current < next {
                continue; // The wall clock stepped back: wait on.
            }
            // After an outage, the tick under way rather than a burst of late ones.
            next = next.max(current);
            match leader.claim(next).await {
                Claim::Claimed => {}
                Claim::AlreadyRan => {
                    debug!("tick {next} already ran");
                    next += 1;
                    continue;
                }
                Claim::Retry(after) => match leader.hold_until(Instant::now() + after, ctx).await {
                    Hold::Reached => continue,
                    Hold::Stopped => return Ok(Led::Stopped),
                    Hold::Lost(why) => return Ok(Led::SteppedDown(why)),
                },
                Claim::Lost(why) => return Ok(Led::SteppedDown(why)),
            }
            // Tick `next` is claimed: run it, and again after a TryLater's delay.
            loop {
                let waiters = self.state.take();
                let started = Instant::now();
                let tick = PeriodicTick::new(next, Some(leader.token()));
                let execution = tick.scope(self.inner.execute(ctx));
                let (result, lost) = leader.while_running(execution).await;
                let now = Instant::now();
                let after = match result {
                    Ok(output) => {
                        warning.clear(ctx.service());
                        metrics.ran(now - started);
                        let current = grid.current();
                        if current > next {
                            metrics.slow.increment();
                            metrics.prometheus.slow.inc();
                            debug!("tick {next} overran its interval; tick {current} at once");
                        }
                        resolve(waiters, &output);
                        next = (next + 1).max(current);
                        None
                    }
                    Err(error) => {
                        let after = self.retry_or_fail(ctx, metrics, warning, waiters, error)?;
                        if after.is_none() {
                            next = (next + 1).max(grid.current());
                        }
                        after
                    }
                };
                if let Some(why) = lost {
                    return Ok(Led::SteppedDown(why));
                }
                let Some(after) = after else { break };
                match leader.hold_until(now + after, ctx).await {
                    Hold::Reached => {}
                    Hold::Stopped => return Ok(Led::Stopped),
                    Hold::Lost(why) => return Ok(Led::SteppedDown(why)),
                }
            }
        }
    }
}

/// The first tick a new leader runs, when tick `current` is under way: the
/// current one at once if the lease says an earlier one ran last (a
/// handover between ticks), else the next one not yet run.
fn first_tick(current: u64, last_tick: Option<u64>) -> u64 {
    match last_tick {
        Some(last) if last < current => current,
        Some(last) => last.saturating_add(1),
        None => current.saturating_add(1),
    }
}

#[cfg(test)]
#[path = "coordinated_tests.rs"]
mod tests;
