//! A periodic task whose ticks run on one replica: it joins the lease at
//! start, waits to hold it, runs the ticks of the wall-clock grid while it
//! does, and hands it over when it stops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::coordinate::{Coordinator, Leadership, LeaseSpec, pick};
use super::grid::{Grid, WallClock};
use super::leader::{Claim, Hold, Leader};
use super::state::resolve;
use super::{Metrics, Periodic, PeriodicContext, PeriodicOutput, PeriodicTask, Warning};
use crate::counters::Counter;
use crate::error::{BoxError, Error};
use crate::task::TaskOptions;
use crate::tasks::periodic::PeriodicTick;

/// A coordinated task's lease and schedule, for one start of the task.
pub(super) struct Coordination {
    pub(super) lease: Box<dyn Leadership>,
    /// Whether this replica holds the lease (the `is_leader` counter).
    leading: Arc<AtomicBool>,
    /// `n_leader_changes`.
    changes: Counter,
    pub(super) ttl: Duration,
    pub(super) grid: Grid,
}

impl std::fmt::Debug for Coordination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Coordination")
            .field("leading", &self.leading.load(Ordering::Relaxed))
            .field("ttl", &self.ttl)
            .field("grid", &self.grid)
            .finish_non_exhaustive()
    }
}

/// The command-line flag of one of the task's options.
fn flag(prefix: &str, option: &str) -> String {
    if prefix.is_empty() {
        format!("--{option}")
    } else {
        format!("--{prefix}-{option}")
    }
}

impl Coordination {
    /// Joins the lease `--<prefix>-coordination` names, or `None` for
    /// `none`. The interval and the TTL are read once, here: every replica
    /// must tick on the same grid.
    pub(super) async fn join<O: TaskOptions>(
        coordinators: &[Arc<dyn Coordinator>],
        ctx: &PeriodicContext<O>,
        workers: usize,
        clock: WallClock,
    ) -> Result<Option<Self>, BoxError> {
        let options = ctx.options();
        let task = ctx.name();
        let option = flag(ctx.prefix(), "coordination");
        let Some(coordinator) = pick(coordinators, task, &option, &options.coordination)? else {
            return Ok(None);
        };
        if workers > 1 {
            return Err(Error::Backend(format!(
                "{task}: {option} runs each tick on one replica, once: \
                 it cannot run {workers} workers"
            ))
            .into());
        }
        let spec = LeaseSpec {
            service: ctx.service().clone(),
            task: task.to_owned(),
            holder: holder(),
            ttl: options.lease_ttl,
            counters: ctx.counters().clone(),
        };
        let holder = spec.holder.clone();
        let lease = coordinator.join(&options.coordination, spec).await?;
        let leading = Arc::new(AtomicBool::new(false));
        let counters = ctx.counters();
        let read = Arc::clone(&leading);
        counters
            .describe(
                "is_leader",
                "1 while this replica holds the task's lease and runs its ticks.",
            )
            .callback("is_leader", move || {
                Some(f64::from(u8::from(read.load(Ordering::Relaxed))))
            });
        let changes = counters
            .describe(
                "n_leader_changes",
                "Times this replica took the task's lease.",
            )
            .counter("n_leader_changes");
        info!(
            "coordinated through {} as {holder}: every {:?} on the wall-clock grid, lease TTL {:?}",
            options.coordination, options.interval, options.lease_ttl
        );
        Ok(Some(Self {
            lease,
            leading,
            changes,
            ttl: options.lease_ttl,
            grid: Grid::new(options.interval, clock),
        }))
    }

    /// Whether `execute_async` may wait here: only on the leader.
    pub(super) fn check_leading(&self, task: &str) -> Result<(), Error> {
        if self.leading.load(Ordering::SeqCst) {
            return Ok(());
        }
        Err(Error::NotLeader(match self.lease.leader() {
            Some(holder) => format!("{task}: led by {holder}"),
            None => format!("{task}: led by no replica at the moment"),
        }))
    }

    fn set_leading<R: Clone>(&self, leading: bool, state: &super::State<R>) {
        self.leading.store(leading, Ordering::SeqCst);
        if !leading {
            // After the flag: a waiter registered from now on is refused.
            state.refuse_waiters(|task| {
                Error::NotLeader(format!("{task}: this replica stopped leading"))
            });
        }
    }
}

/// Who this replica is, for the lease: `<host>-<pid>-<random>`, unique to
/// each start, so two services in one process are told apart too.
fn holder() -> String {
    use std::hash::{BuildHasher, Hasher};
    // Seeded at random for each RandomState: no dependency for 32 bits.
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::UNIX_EPOCH
            .elapsed()
            .unwrap_or_default()
            .as_nanos(),
    );
    let random = hasher.finish() as u32;
    format!("{}-{}-{random:08x}", hostname(), std::process::id())
}

fn hostname() -> String {
    use nix::libc;
    let mut buf = [0u8; 256];
    // SAFETY: the pointer and the length describe `buf`, which outlives the
    // call; gethostname writes at most that many bytes into it.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match std::str::from_utf8(&buf[..end]) {
        Ok(name) if rc == 0 && !name.is_empty() => name.to_owned(),
        _ => "localhost".to_owned(),
    }
}

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
