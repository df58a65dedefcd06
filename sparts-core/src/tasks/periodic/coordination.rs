//! A coordinated task's lease for one start: joining it at start, who
//! holds it, and the `is_leader` and `n_leader_changes` counters.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::info;

use super::PeriodicContext;
use super::coordinate::{Coordinator, Leadership, LeaseSpec, pick};
use super::grid::{Grid, WallClock};
use crate::counters::Counter;
use crate::error::{BoxError, Error};
use crate::options::prefixed;
use crate::task::TaskOptions;

/// A coordinated task's lease and schedule, for one start of the task.
pub(super) struct Coordination {
    pub(super) lease: Box<dyn Leadership>,
    /// Whether this replica holds the lease (the `is_leader` counter).
    leading: Arc<AtomicBool>,
    /// `n_leader_changes`.
    pub(super) changes: Counter,
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
        let option = format!("--{}", prefixed(ctx.prefix(), "coordination"));
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

    pub(super) fn set_leading<R: Clone>(&self, leading: bool, state: &super::State<R>) {
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
