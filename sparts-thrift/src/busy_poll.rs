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
//! - at most one connection of a server polls at a time, and only when no
//!   other one is in a call: then the runtime has work, and the CPU is
//!   wanted;
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::Context;
use std::time::{Duration, Instant};

/// A server's budget for polling, and whether a connection polls now.
#[derive(Debug)]
pub(crate) struct BusyPoll {
    budget: Duration,
    /// Whether one of the server's connections is polling.
    taken: AtomicBool,
    /// Connections between a request's arrival and their next wait.
    in_call: AtomicUsize,
}

impl BusyPoll {
    /// Polling for at most `budget` per wait; zero turns it off.
    pub(crate) fn new(budget: Duration) -> Self {
        Self {
            budget,
            taken: AtomicBool::new(false),
            in_call: AtomicUsize::new(0),
        }
    }

    /// One connection's polling.
    pub(crate) fn poller(&self) -> Poller<'_> {
        Poller {
            server: self,
            quick: true,
            began: None,
            until: None,
            in_call: false,
        }
    }
}

/// The polling of one connection, wait after wait.
#[derive(Debug)]
pub(crate) struct Poller<'a> {
    server: &'a BusyPoll,
    /// Whether the last wait was within the budget.
    quick: bool,
    /// When the current wait began (only timed while polling is on).
    began: Option<Instant>,
    /// Polling until then, holding the server's turn.
    until: Option<Instant>,
    /// Counted in the server's `in_call`.
    in_call: bool,
}

impl Poller<'_> {
    /// A wait for the next request begins; `inline`: the call before was
    /// answered on the connection's task.
    pub(crate) fn begin(&mut self, inline: bool) {
        if self.server.budget.is_zero() {
            return;
        }
        self.leave_call();
        let now = Instant::now();
        self.began = Some(now);
        if inline
            && self.quick
            && self.server.in_call.load(Ordering::Relaxed) == 0
            && self
                .server
                .taken
                .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            self.until = Some(now + self.server.budget);
        }
    }

    /// The wait's read is pending: true when the task should be polled
    /// again soon (it has yielded to the runtime, which wakes it), false
    /// when it should sleep until the connection wakes it.
    pub(crate) fn poll_again(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(until) = self.until else {
            return false;
        };
        if Instant::now() >= until {
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
            self.server.in_call.fetch_add(1, Ordering::Relaxed);
            self.in_call = true;
        }
    }

    fn leave_call(&mut self) {
        if std::mem::take(&mut self.in_call) {
            self.server.in_call.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn release(&mut self) {
        if self.until.take().is_some() {
            self.server.taken.store(false, Ordering::Release);
        }
    }
}

impl Drop for Poller<'_> {
    fn drop(&mut self) {
        self.release();
        self.leave_call();
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;
    use std::task::Poll;

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

    #[tokio::test]
    async fn a_quick_connection_polls_for_the_budget_then_sleeps() {
        let server = BusyPoll::new(Duration::from_micros(300));
        let mut poller = server.poller();
        let began = Instant::now();
        poller.begin(true);
        assert!(rounds(&mut poller).await > 0);
        assert!(began.elapsed() >= Duration::from_micros(300));
        // Its turn is given back once the budget is spent.
        assert!(!server.taken.load(Ordering::Relaxed));
    }

    #[tokio::test]
    async fn one_connection_polls_at_a_time() {
        let server = BusyPoll::new(Duration::from_secs(60));
        let (mut first, mut second) = (server.poller(), server.poller());
        first.begin(true);
        second.begin(true);
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(first.poll_again(&mut cx));
        assert!(!second.poll_again(&mut cx));
        // A request came for the first, which waits again after a call on
        // a worker: the second may poll its next wait.
        first.end();
        first.begin(false);
        second.end();
        second.begin(true);
        assert!(second.poll_again(&mut cx));
        drop(second);
        assert!(!server.taken.load(Ordering::Relaxed));
    }

    #[test]
    fn no_polling_while_another_connection_is_in_a_call() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let server = BusyPoll::new(Duration::from_secs(60));
        let (mut busy, mut idle) = (server.poller(), server.poller());
        busy.begin(false);
        busy.end(); // a request came: `busy` is in a call
        idle.begin(true);
        assert!(!idle.poll_again(&mut cx));
        idle.end();
        drop(busy); // the connection closed in its call
        idle.begin(true);
        assert!(idle.poll_again(&mut cx));
    }

    #[test]
    fn no_polling_after_a_call_on_a_worker_or_when_turned_off() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let server = BusyPoll::new(Duration::from_secs(60));
        let mut poller = server.poller();
        poller.begin(false);
        assert!(!poller.poll_again(&mut cx));
        let off = BusyPoll::new(Duration::ZERO);
        let mut poller = off.poller();
        poller.begin(true);
        assert!(!poller.poll_again(&mut cx));
    }

    #[test]
    fn a_slow_client_turns_polling_off_until_it_is_quick_again() {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let server = BusyPoll::new(Duration::from_millis(20));
        let mut poller = server.poller();
        poller.begin(true);
        std::thread::sleep(Duration::from_millis(30));
        poller.end();
        // The last wait was longer than the budget: this one sleeps.
        poller.begin(true);
        assert!(!poller.poll_again(&mut cx));
        poller.end();
        // ... and was short: the next one polls again.
        poller.begin(true);
        assert!(poller.poll_again(&mut cx));
    }
}
