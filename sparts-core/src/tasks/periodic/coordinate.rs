//! The seam for a periodic task whose ticks run on one replica at a time:
//! a lease kept in a store that every replica of the service reaches.
//!
//! Without coordination (`--<prefix>-coordination none`, the default) a
//! periodic task does not go through these traits. A crate such as
//! `sparts-nats` implements them, a [`PeriodicTask`](super::PeriodicTask)
//! offers it with [`with_coordinator`](super::PeriodicTask::with_coordinator),
//! and an operator picks it with `--<prefix>-coordination <scheme>://…`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::counters::CounterRegistry;
use crate::error::{BoxError, Error};
use crate::handle::ServiceHandle;
use crate::tasks::scheme::Choice;

/// A store where the replicas of a service agree on which one runs a
/// periodic task's ticks, chosen at run time by the scheme of
/// `--<prefix>-coordination` (`nats` for `nats://…`).
pub trait Coordinator: Send + Sync + 'static {
    /// The URL scheme this coordinator answers to, such as `"nats"`.
    fn scheme(&self) -> &'static str;

    /// Connects to `url` and declares the lease described by `spec`.
    /// Called from the task's `init`: an error refuses the start, and
    /// should name the task and the URL.
    fn join<'a>(
        &'a self,
        url: &'a str,
        spec: LeaseSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Leadership>, BoxError>>;
}

/// What a coordinator needs to know to declare one task's lease.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct LeaseSpec {
    /// The service: its name (with the task's, it names the lease) and its
    /// status, for a warning while the store is unreachable.
    pub service: ServiceHandle,
    /// The periodic task's name (`Cleanup`).
    pub task: String,
    /// Who this replica is, unique to this start of the task
    /// (`<host>-<pid>-<random>`): what the lease records as its holder.
    pub holder: String,
    /// `--<prefix>-lease-ttl`: how long the lease outlives its holder's
    /// last write. The holder renews it three times as often, and stops
    /// starting ticks when it could not for two thirds of it.
    pub ttl: Duration,
    /// The task's counters, where the coordinator may register its own.
    pub counters: CounterRegistry,
}

/// One replica's hold on the lease, from [`Leadership::acquire`] until it
/// is released or lost. Every write goes through it, so that a write made
/// with a term someone else has since replaced fails.
#[derive(Debug, PartialEq, Eq)]
pub struct Term {
    /// The fencing token: the version of the lease as this replica last
    /// wrote it. It grows with every write by any replica, so a store that
    /// refuses tokens lower than one it has seen refuses a former leader.
    pub token: u64,
    /// The last tick claimed by any holder, as the lease records it:
    /// ticks up to this one have run (or started) and are not run again.
    pub last_tick: Option<u64>,
}

/// Why a write to the lease did not go through.
#[derive(Debug)]
#[non_exhaustive]
pub enum LeaseError {
    /// Another replica holds the lease, or it expired: this term is over.
    Lost {
        /// Who holds it now, when known.
        holder: Option<String>,
    },
    /// The store did not answer: the term may still hold, and the write
    /// can be tried again until the lease could have expired.
    Unavailable(BoxError),
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lost {
                holder: Some(holder),
            } => write!(f, "the lease was taken by {holder}"),
            Self::Lost { holder: None } => f.write_str("the lease expired"),
            Self::Unavailable(error) => write!(f, "the lease could not be written: {error}"),
        }
    }
}

impl std::error::Error for LeaseError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Lost { .. } => None,
            Self::Unavailable(error) => Some(error.as_ref()),
        }
    }
}

/// One task's lease as one replica sees it: joined at start, then taken,
/// kept, lost and taken again until the task stops.
///
/// The task calls these from one worker, one at a time. A future it stops
/// polling (the task is stopping, or a write took so long that the lease
/// could have expired) is dropped: the write it made may or may not have
/// reached the store, and the next write with the same term tells.
pub trait Leadership: Send + Sync {
    /// Resolves once this replica holds the lease: at once when it is free
    /// (never taken, expired, or released), else when it becomes free.
    /// Errors the store may recover from are retried here; an error
    /// returned fails the task.
    fn acquire(&self) -> BoxFuture<'_, Result<Term, BoxError>>;

    /// Claims `tick` before it runs: records it as the last tick, which
    /// also renews the lease. `false` (without a write) when the lease
    /// records that tick or a later one: it already ran.
    fn claim_tick<'a>(
        &'a self,
        term: &'a mut Term,
        tick: u64,
    ) -> BoxFuture<'a, Result<bool, LeaseError>>;

    /// Renews the lease, so that it does not expire while this replica
    /// holds it.
    fn renew<'a>(&'a self, term: &'a mut Term) -> BoxFuture<'a, Result<(), LeaseError>>;

    /// Gives the lease up at once (the task is stopping), keeping its last
    /// tick, so that another replica takes over without waiting for the
    /// lease to expire and does not run that tick again. Best effort.
    fn release(&self, term: Term) -> BoxFuture<'_, ()>;

    /// The holder last seen in the lease, this replica's included; `None`
    /// when it was free or has not been read.
    fn leader(&self) -> Option<String>;
}

impl fmt::Debug for dyn Leadership {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Leadership")
            .field("leader", &self.leader())
            .finish_non_exhaustive()
    }
}

/// Chooses the coordinator named by `--<prefix>-coordination` (`flag`):
/// `None` for `none`.
pub(super) fn pick<'a>(
    coordinators: &'a [Arc<dyn Coordinator>],
    task: &str,
    flag: &str,
    url: &str,
) -> Result<Option<&'a dyn Coordinator>, Error> {
    let choice = Choice {
        task,
        flag,
        what: "coordination",
        local: "none",
    };
    choice.pick(coordinators, |c| c.scheme(), url)
}
