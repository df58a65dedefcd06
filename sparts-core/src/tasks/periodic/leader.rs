//! Keeping the lease while leading: renewals every third of the TTL, and
//! stepping down when none went through for two thirds of it, before the
//! store could let the lease expire (the local monotonic clock is the
//! only one trusted for that).

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use tokio::time::{Instant, sleep_until, timeout, timeout_at};
use tracing::debug;

use super::PeriodicContext;
use super::coordinate::{LeaseError, Term};
use super::coordination::Coordination;
use super::grid::Grid;
use crate::task::TaskOptions;

/// How waiting while holding the lease ended.
pub(super) enum Hold {
    /// The time waited for came.
    Reached,
    /// The task is stopping.
    Stopped,
    /// The lease is lost, or could not be renewed in time: why.
    Lost(String),
}

/// How claiming a tick ended.
pub(super) enum Claim {
    /// This replica runs it.
    Claimed,
    /// The lease says it ran already.
    AlreadyRan,
    /// The store did not answer: try again after this long.
    Retry(Duration),
    /// The lease is lost, or could not be renewed in time: why.
    Lost(String),
}

/// One term of leadership.
pub(super) struct Leader<'a> {
    c: &'a Coordination,
    term: Term,
    /// When the last write that went through was sent: the store's TTL
    /// runs from a moment after it.
    renewed: Instant,
    /// When to renew next.
    renew_at: Instant,
}

impl<'a> Leader<'a> {
    /// A term that began now.
    pub(super) fn new(c: &'a Coordination, term: Term) -> Self {
        let now = Instant::now();
        Self {
            c,
            term,
            renewed: now,
            renew_at: now + c.ttl / 3,
        }
    }

    /// The tick grid.
    pub(super) fn grid(&self) -> &Grid {
        &self.c.grid
    }

    /// The last tick the lease records.
    pub(super) fn last_tick(&self) -> Option<u64> {
        self.term.last_tick
    }

    /// The fencing token.
    pub(super) fn token(&self) -> u64 {
        self.term.token
    }

    /// Past this, the lease may have expired: no tick starts.
    fn deadline(&self) -> Instant {
        self.renewed + self.c.ttl * 2 / 3
    }

    /// How long to wait before writing again after the store did not answer.
    fn retry_delay(&self) -> Duration {
        self.c.ttl / 10
    }

    fn late(&self) -> String {
        format!(
            "no write to the lease went through for {:?} (2/3 of its TTL)",
            self.c.ttl * 2 / 3
        )
    }

    /// A write went through: it was sent at `sent`.
    fn renewed_at(&mut self, sent: Instant) {
        self.renewed = sent;
        self.renew_at = sent + self.c.ttl / 3;
    }

    /// Waits until `until`, renewing the lease on the way.
    pub(super) async fn hold_until<O: TaskOptions>(
        &mut self,
        until: Instant,
        ctx: &PeriodicContext<O>,
    ) -> Hold {
        loop {
            if ctx.is_stopping() {
                return Hold::Stopped;
            }
            let now = Instant::now();
            if now >= self.deadline() {
                return Hold::Lost(self.late());
            }
            if now >= until {
                return Hold::Reached;
            }
            if now >= self.renew_at {
                if let Err(why) = self.renew().await {
                    return Hold::Lost(why);
                }
                continue;
            }
            let wake = until.min(self.renew_at).min(self.deadline());
            tokio::select! {
                biased;
                () = ctx.stopped() => return Hold::Stopped,
                () = sleep_until(wake) => {}
            }
        }
    }

    /// Renews the lease once; an error says why it is lost.
    async fn renew(&mut self) -> Result<(), String> {
        let sent = Instant::now();
        let deadline = self.deadline();
        match timeout_at(deadline, self.c.lease.renew(&mut self.term)).await {
            Ok(Ok(())) => {
                self.renewed_at(sent);
                Ok(())
            }
            Ok(Err(lost @ LeaseError::Lost { .. })) => Err(lost.to_string()),
            Ok(Err(error)) => {
                debug!("{error}; trying again");
                self.renew_at = Instant::now() + self.retry_delay();
                Ok(())
            }
            Err(_) => Err(self.late()),
        }
    }

    /// Claims `tick`, which also renews the lease.
    pub(super) async fn claim(&mut self, tick: u64) -> Claim {
        let sent = Instant::now();
        let deadline = self.deadline();
        match timeout_at(deadline, self.c.lease.claim_tick(&mut self.term, tick)).await {
            Ok(Ok(true)) => {
                self.renewed_at(sent);
                Claim::Claimed
            }
            Ok(Ok(false)) => Claim::AlreadyRan,
            Ok(Err(lost @ LeaseError::Lost { .. })) => Claim::Lost(lost.to_string()),
            Ok(Err(error)) => {
                debug!("tick {tick}: {error}; trying again");
                Claim::Retry(self.retry_delay())
            }
            Err(_) => Claim::Lost(self.late()),
        }
    }

    /// Runs `execution` to its end while renewing the lease. Also returns
    /// why the lease was lost meanwhile, if it was: the execution still
    /// finishes, but no other tick starts.
    pub(super) async fn while_running<F: Future>(
        &mut self,
        execution: F,
    ) -> (F::Output, Option<String>) {
        let mut execution = pin!(execution);
        loop {
            let wake = self.renew_at.min(self.deadline());
            tokio::select! {
                biased;
                output = &mut execution => return (output, None),
                () = sleep_until(wake) => {}
            }
            if Instant::now() >= self.deadline() {
                return (execution.await, Some(self.late()));
            }
            // The execution goes on while the renewal waits for the store,
            // and a renewal is never dropped half way.
            let mut output = None;
            let renewed = {
                let mut renewal = pin!(self.renew());
                loop {
                    tokio::select! {
                        renewed = &mut renewal => break renewed,
                        done = &mut execution, if output.is_none() => output = Some(done),
                    }
                }
            };
            match (output, renewed) {
                (Some(output), renewed) => return (output, renewed.err()),
                (None, Ok(())) => {}
                (None, Err(why)) => return (execution.await, Some(why)),
            }
        }
    }

    /// Gives the lease up (the task is stopping), waiting at most one TTL:
    /// by then it would have expired anyway.
    pub(super) async fn release(self) {
        let ttl = self.c.ttl;
        if timeout(ttl, self.c.lease.release(self.term)).await.is_err() {
            debug!("releasing the lease took over {ttl:?}; it expires by itself");
        }
    }
}
