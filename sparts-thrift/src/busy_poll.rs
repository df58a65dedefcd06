//! Waiting for a connection's next request awake for a moment before
//! sleeping.
//!
//! A client calling in a loop sends its next request tens of microseconds
//! after reading a reply. A worker thread that goes to sleep meanwhile is
//! woken by an interrupt from the client's CPU, and waking an idle CPU is
//! dear: on the 2-core virtual machines the benchmarks run on, the two such
//! wake-ups of a round trip (the server's and the client's) take more than
//! half of a `getStatus` call. Polling the connection for a few
//! microseconds before sleeping takes the server's wake-up out of the
//! round trip, as Go's scheduler does by spinning before it parks.
//!
//! Polling burns CPU, so it is kept to where it pays:
//! - only for a connection alone at work: when another connection's
//!   request came during its last round trip, the runtime has other work
//!   and the CPU is wanted (by 8 busy connections, the polling measurably
//!   slowed the others);
//! - at most one connection of a server at a time;
//! - only after a call answered on the connection's own task: a call run on
//!   a worker thread needs that thread's CPU more;
//! - only while the connection's client is quick: a wait that lasted longer
//!   than the budget turns polling off for the next wait, and a short one
//!   turns it back on.
//!
//! Each round of polling yields to the runtime ([`tokio::task::yield_now`]),
//! which runs every other ready task and looks for I/O without sleeping
//! before coming back, so a polling connection holds no other one up.

use std::future::Future as _;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

/// A server's budget for polling, and what its connections tell each other.
#[derive(Debug)]
pub(crate) struct BusyPoll {
    budget: Duration,
    /// Whether one of the server's connections is polling.
    taken: AtomicBool,
    /// Requests arrived on all the server's connections (counted only with
    /// a budget).
    arrivals: AtomicU64,
}

impl BusyPoll {
    /// Polling for at most `budget` per wait; zero turns it off.
    pub(crate) fn new(budget: Duration) -> Self {
        Self {
            budget,
            taken: AtomicBool::new(false),
            arrivals: AtomicU64::new(0),
        }
    }

    /// One connection's polling.
    pub(crate) fn poller(&self) -> Poller<'_> {
        Poller {
            server: self,
            quick: false,
            last_arrival: None,
            alone: false,
            began: None,
            polling: false,
        }
    }
}

/// The polling of one connection, wait after wait.
#[derive(Debug)]
pub(crate) struct Poller<'a> {
    server: &'a BusyPoll,
    /// Whether the last wait was within the budget.
    quick: bool,
    /// The server's count of arrivals when this connection's last request
    /// came.
    last_arrival: Option<u64>,
    /// Whether no other connection's request came between its last two.
    alone: bool,
    /// When the current wait began (only timed while polling is on).
    began: Option<Instant>,
    /// Polling in this wait, holding the server's turn, until the budget
    /// from `began` is spent.
    polling: bool,
}

impl Poller<'_> {
    /// A wait for the next request begins; `inline`: the call before was
    /// answered on the connection's task.
    pub(crate) fn begin(&mut self, inline: bool) {
        if self.server.budget.is_zero() {
            return;
        }
        self.release();
        self.began = Some(Instant::now());
        self.polling = inline
            && self.quick
            && self.alone
            && self
                .server
                .taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok();
    }

    /// The wait's read is pending: true when the task should be polled
    /// again soon (it has yielded to the runtime, which wakes it), false
    /// when it should sleep until the connection wakes it.
    pub(crate) fn poll_again(&mut self, cx: &mut Context<'_>) -> bool {
        if !self.polling {
            return false;
        }
        if self
            .began
            .is_none_or(|began| began.elapsed() >= self.server.budget)
        {
            self.release();
            return false;
        }
        // The first poll of `yield_now` asks the runtime to wake the task
        // once it has run the others and looked for I/O; it is done with
        // after that.
        let _ = pin!(tokio::task::yield_now()).poll(cx);
        true
    }

    /// The wait is over: a request came, or the connection closes.
    pub(crate) fn end(&mut self) {
        self.release();
        if let Some(began) = self.began.take() {
            self.quick = began.elapsed() <= self.server.budget;
            let arrival = self.server.arrivals.fetch_add(1, Ordering::Relaxed);
            self.alone = self.last_arrival.is_some_and(|last| arrival == last + 1);
            self.last_arrival = Some(arrival);
        }
    }

    fn release(&mut self) {
        if std::mem::take(&mut self.polling) {
            self.server.taken.store(false, Ordering::Release);
        }
    }
}

impl Drop for Poller<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::{Poll, Waker};

    use super::*;

    /// Polls `poller` as a pending read would, until it says to sleep;
    /// the rounds it polled.
    async fn rounds(poller: &mut Poller<'_>) -> usize {
        let mut rounds = 0;
        poll_fn(|cx| {
            if poller.poll_again(cx) {
                rounds += 1;
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        rounds
    }

    /// A connection whose client has made two quick calls in a row.
    fn warmed(server: &BusyPoll) -> Poller<'_> {
        let mut poller = server.poller();
        for _ in 0..2 {
            poller.begin(true);
            poller.end();
        }
        poller
    }

    #[tokio::test]
    async fn a_quick_connection_alone_polls_for_the_budget_then_sleeps() {
        let server = BusyPoll::new(Duration::from_micros(300));
        let mut poller = warmed(&server);
        let began = Instant::now();
        poller.begin(true);
        assert!(rounds(&mut poller).await > 0);
        assert!(began.elapsed() >= Duration::from_micros(300));
        // Its turn is given back once the budget is spent.
        assert!(!server.taken.load(Ordering::Relaxed));
    }

    /// Begins a wait (after a call on the connection's task if `inline`):
    /// whether it polls.
    fn polls(poller: &mut Poller<'_>, inline: bool) -> bool {
        poller.begin(inline);
        poller.poll_again(&mut Context::from_waker(Waker::noop()))
    }

    #[test]
    fn a_new_connection_does_not_poll_before_its_second_call() {
        let server = BusyPoll::new(Duration::from_secs(60));
        let mut poller = server.poller();
        for _ in 0..2 {
            assert!(!polls(&mut poller, true));
            poller.end();
        }
        assert!(polls(&mut poller, true));
    }

    #[test]
    fn one_connection_polls_at_a_time() {
        let server = BusyPoll::new(Duration::from_secs(60));
        // Each made its two calls with none of the other's between.
        let mut first = warmed(&server);
        let mut second = warmed(&server);
        assert!(polls(&mut first, true));
        assert!(!polls(&mut second, true), "the first holds the turn");
        first.end();
        assert!(!server.taken.load(Ordering::Relaxed));
    }

    #[test]
    fn no_polling_after_another_connection_had_a_request() {
        let server = BusyPoll::new(Duration::from_secs(60));
        let mut busy = warmed(&server);
        let mut other = server.poller();
        busy.begin(true);
        busy.end();
        other.begin(true);
        other.end(); // between two of `busy`'s requests
        busy.begin(true);
        busy.end();
        assert!(!polls(&mut busy, true));
        // A round trip alone again: it polls.
        busy.end();
        assert!(polls(&mut busy, true));
    }

    #[test]
    fn no_polling_after_a_call_on_a_worker_or_when_turned_off() {
        let server = BusyPoll::new(Duration::from_secs(60));
        assert!(!polls(&mut warmed(&server), false));
        let off = BusyPoll::new(Duration::ZERO);
        assert!(!polls(&mut warmed(&off), true));
    }

    #[test]
    fn a_slow_client_turns_polling_off_until_it_is_quick_again() {
        let server = BusyPoll::new(Duration::from_millis(20));
        let mut poller = warmed(&server);
        poller.begin(false);
        std::thread::sleep(Duration::from_millis(30));
        poller.end();
        // The last wait was longer than the budget: this one sleeps.
        assert!(!polls(&mut poller, true));
        poller.end();
        // ... and was short: the next one polls again.
        assert!(polls(&mut poller, true));
    }
}
