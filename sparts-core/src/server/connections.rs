//! The open connections of a server and the phase of its shutdown:
//! serving, draining (finish what is in flight, then close), cut (close
//! now). A connection reads the phase with one atomic load per poll.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};

use super::limits::{ConnectionOptions, Timeout};
use crate::counters::{Counter, CounterRegistry};
use crate::task::TaskContext;
use crate::telemetry::{ConnectionMetrics, Telemetry};

/// Counter names, the same on every transport (`<Task>.connections`).
pub(crate) const CONNECTIONS: &str = "connections";
pub(crate) const OPEN_CONNECTIONS: &str = "open_connections";
pub(crate) const CUT_CONNECTIONS: &str = "cut_connections";
pub(crate) const BAD_INPUT: &str = "bad_input";
pub(crate) const LIMIT_REACHED: &str = "connection_limit_reached";

/// Where a server's connections are in its shutdown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Phase {
    /// Serving as usual.
    Serving,
    /// Finish the request in flight, then close; an idle connection closes
    /// at once.
    Draining,
    /// Close now: the shutdown budget is spent.
    Cut,
}

impl Phase {
    fn from_u8(value: u8) -> Self {
        match value {
            0 => Phase::Serving,
            1 => Phase::Draining,
            _ => Phase::Cut,
        }
    }
}

/// The open connections of one start of a server task, counted as
/// `connections` (accepted), `open_connections`, `cut_connections`, and,
/// each registered at its first, `bad_input` (closed for input that broke
/// the protocol), `header_timeouts`, `idle_timeouts` and
/// `connection_limit_reached` under the task's name, and on `/metrics` as
/// `sparts_server_connections_total`, `sparts_server_open_connections`,
/// `sparts_server_cut_connections_total`, `sparts_server_bad_input_total`,
/// `sparts_server_header_timeouts_total`,
/// `sparts_server_idle_timeouts_total` and
/// `sparts_server_connection_limit_reached_total`, labelled with the task.
/// Cheap to clone.
///
/// Each accepted connection holds a [`ConnectionGuard`] for as long as it
/// is open; [`ShutdownPlan::drain`](super::ShutdownPlan::drain) moves them
/// all to [`Phase::Draining`] and, at the end of the budget, to
/// [`Phase::Cut`].
///
/// A shared `Notify` or `CancellationToken` would take a lock shared by all
/// connections at every poll; here a poll registers its waker with the
/// connection's own [`AtomicWaker`] and reads one atomic.
#[derive(Debug, Clone)]
pub struct Connections {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    phase: AtomicU8,
    open: AtomicUsize,
    next_id: AtomicU64,
    wakers: Mutex<HashMap<u64, Arc<AtomicWaker>>>,
    /// Woken when the last connection closes.
    closed: Notify,
    counters: CounterRegistry,
    accepted: Counter,
    cut: Counter,
    bad_input: OnceLock<Counter>,
    header_timeouts: OnceLock<Counter>,
    idle_timeouts: OnceLock<Counter>,
    limit_reached: OnceLock<Counter>,
    /// A permit per connection that may be open, when there is a maximum.
    room: OnceLock<Arc<Semaphore>>,
    prometheus: ConnectionMetrics,
}

impl Connections {
    /// The connections of the task whose context this is, counted in its
    /// counters and the service's telemetry.
    pub fn register<O: Send + Sync + 'static>(ctx: &TaskContext<O>) -> Self {
        Self::new(ctx.counters(), ctx.service().telemetry(), ctx.name())
    }

    /// The connections of the server task whose context this is, at most
    /// `options.max_connections` open at once (see [`limit`](Self::limit)).
    pub fn register_limited<O: Send + Sync + 'static>(
        ctx: &TaskContext<O>,
        options: &ConnectionOptions,
    ) -> Self {
        let connections = Self::register(ctx);
        connections.limit(options.max_connections);
        connections
    }

    /// The connections of task `task`, counted in `counters` and in
    /// `telemetry`.
    pub fn new(counters: &CounterRegistry, telemetry: &Telemetry, task: &str) -> Self {
        // `/metrics` shows them as the labelled `sparts_server_*` families.
        let counters = counters.fb303_only();
        let prometheus = telemetry.connections(task);
        let inner = Arc::new(Inner {
            phase: AtomicU8::new(Phase::Serving as u8),
            open: AtomicUsize::new(0),
            next_id: AtomicU64::new(0),
            wakers: Mutex::new(HashMap::new()),
            closed: Notify::new(),
            accepted: counters.counter(CONNECTIONS),
            cut: counters.counter(CUT_CONNECTIONS),
            bad_input: OnceLock::new(),
            header_timeouts: OnceLock::new(),
            idle_timeouts: OnceLock::new(),
            limit_reached: OnceLock::new(),
            room: OnceLock::new(),
            counters,
            prometheus,
        });
        // usize to f64 is exact for any number of connections a process
        // holds. Once this start of the server is over (its `Connections`
        // dropped), none of its connections is open: the gauge reads 0
        // rather than disappearing.
        let open = {
            let weak = Arc::downgrade(&inner);
            move || {
                Some(
                    weak.upgrade()
                        .map_or(0.0, |inner| inner.open.load(Ordering::Relaxed) as f64),
                )
            }
        };
        inner.counters.callback(OPEN_CONNECTIONS, open.clone());
        inner.prometheus.track_open(open);
        Self { inner }
    }

    /// Allows at most `max` connections open at once (0: no maximum), from
    /// the next [`room`](Self::room) on. Set once, before the first
    /// connection; a second call changes nothing.
    pub fn limit(&self, max: usize) {
        if max > 0 {
            let _ = self.inner.room.set(Arc::new(Semaphore::new(max)));
        }
    }

    /// Completes once a connection may be opened: at once below the
    /// maximum, else when one closes, each such wait counted in
    /// `connection_limit_reached`. An accept loop waits here before it
    /// accepts, so that connections past the maximum wait in the listen
    /// backlog rather than in the server.
    pub async fn room(&self) {
        let Some(room) = self.inner.room.get() else {
            return;
        };
        if room.available_permits() == 0 {
            self.inner.limit_reached();
        }
        // Only waits: the permit is taken by `open_admitted`, once a
        // connection is there to hold it.
        let _ = room.acquire().await;
    }

    /// Opens an accepted connection within the maximum: at once after
    /// [`room`](Self::room), unless another listener's connection took the
    /// last place meanwhile, in which case this one waits (accepted, not
    /// served) until a place frees.
    pub async fn open_admitted(&self) -> ConnectionGuard {
        let permit = match self.inner.room.get() {
            // The semaphore is never closed.
            Some(room) => Arc::clone(room).acquire_owned().await.ok(),
            None => None,
        };
        let mut guard = self.open_connection();
        guard.permit = permit;
        guard
    }

    /// Counts a new connection, open until the guard drops, whatever the
    /// maximum.
    pub fn open_connection(&self) -> ConnectionGuard {
        let inner = &self.inner;
        inner.accepted.increment();
        inner.prometheus.accepted();
        inner.open.fetch_add(1, Ordering::AcqRel);
        let id = inner.next_id.fetch_add(1, Ordering::Relaxed);
        let waker = Arc::new(AtomicWaker::new());
        inner.lock().insert(id, Arc::clone(&waker));
        ConnectionGuard {
            inner: Arc::clone(inner),
            id,
            waker,
            permit: None,
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.inner.open.load(Ordering::Acquire)
    }

    /// The phase every connection is in.
    pub fn phase(&self) -> Phase {
        self.inner.phase()
    }

    /// Moves every connection to `phase` (never back) and wakes them.
    pub fn enter(&self, phase: Phase) {
        self.inner.phase.fetch_max(phase as u8, Ordering::AcqRel);
        for waker in self.inner.lock().values() {
            waker.wake();
        }
    }

    /// Cuts every open connection, counting them in `cut_connections`;
    /// returns how many were open.
    pub fn cut(&self) -> usize {
        let open = self.open();
        self.inner.cut.add(open as u64);
        self.inner.prometheus.cut(open as u64);
        self.enter(Phase::Cut);
        open
    }

    /// Counts a connection closed for `timeout`, as
    /// [`ConnectionGuard::timed_out`] does, for the IO wrappers that hold
    /// no guard.
    pub fn timed_out(&self, timeout: Timeout) {
        self.inner.timed_out(timeout);
    }

    /// Completes once no connection is open.
    pub async fn closed(&self) {
        loop {
            let notified = self.inner.closed.notified();
            tokio::pin!(notified);
            // Registered before the count is read, so a last close in
            // between still wakes this waiter.
            notified.as_mut().enable();
            if self.open() == 0 {
                return;
            }
            notified.await;
        }
    }
}

impl Inner {
    fn phase(&self) -> Phase {
        Phase::from_u8(self.phase.load(Ordering::Acquire))
    }

    fn bad_input(&self) {
        self.bad_input
            .get_or_init(|| self.counters.counter(BAD_INPUT))
            .increment();
        self.prometheus.bad_input();
    }

    fn timed_out(&self, timeout: Timeout) {
        let counter = match timeout {
            Timeout::Header => {
                self.prometheus.header_timed_out();
                &self.header_timeouts
            }
            Timeout::Idle => {
                self.prometheus.idle_timed_out();
                &self.idle_timeouts
            }
        };
        counter
            .get_or_init(|| self.counters.counter(timeout.counter()))
            .increment();
    }

    fn limit_reached(&self) {
        self.limit_reached
            .get_or_init(|| self.counters.counter(LIMIT_REACHED))
            .increment();
        self.prometheus.limit_reached();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Arc<AtomicWaker>>> {
        // Each critical section is one map operation: never half done.
        self.wakers.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One open connection of a [`Connections`]: it sees the shutdown's phase
/// and counts as open until dropped.
#[derive(Debug)]
pub struct ConnectionGuard {
    inner: Arc<Inner>,
    id: u64,
    waker: Arc<AtomicWaker>,
    /// Its place under the maximum, given back when it closes.
    permit: Option<OwnedSemaphorePermit>,
}

impl ConnectionGuard {
    /// The phase now.
    pub fn phase(&self) -> Phase {
        self.inner.phase()
    }

    /// The phase now, and a wake-up of this task when it changes.
    pub fn poll_phase(&self, cx: &mut Context<'_>) -> Phase {
        // Registered before the phase is read, so a change in between
        // still wakes this task.
        self.waker.register(cx.waker());
        self.inner.phase()
    }

    /// Counts this connection as closed for input that broke the protocol
    /// (`bad_input`); the caller closes it.
    pub fn bad_input(&self) {
        self.inner.bad_input();
    }

    /// Counts this connection as closed for `timeout`
    /// (`header_timeouts`, `idle_timeouts`); the caller closes it.
    pub fn timed_out(&self, timeout: Timeout) {
        self.inner.timed_out(timeout);
    }

    /// Completes once the shutdown has reached `phase` (at once if it has).
    pub fn reached(&self, phase: Phase) -> impl Future<Output = ()> + Send + '_ {
        std::future::poll_fn(move |cx| {
            if self.poll_phase(cx) >= phase {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
    }
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.inner.lock().remove(&self.id);
        if self.inner.open.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.closed.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn guards_count_open_connections_and_the_last_close_is_seen() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let first = connections.open_connection();
        let second = connections.open_connection();
        assert_eq!(connections.open(), 2);
        assert_eq!(counters.snapshot().get(OPEN_CONNECTIONS), Some(2.0));
        let waiter = tokio::spawn({
            let connections = connections.clone();
            async move { connections.closed().await }
        });
        drop(first);
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!waiter.is_finished(), "one connection is still open");
        drop(second);
        tokio::time::timeout(Duration::from_secs(1), waiter)
            .await
            .expect("the last close wakes the waiter")
            .expect("no panic");
        assert_eq!(counters.snapshot().get(CONNECTIONS), Some(2.0));
        drop(connections);
        assert_eq!(
            counters.snapshot().get(OPEN_CONNECTIONS),
            Some(0.0),
            "a server that stopped has nothing open"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_phase_change_wakes_the_connections_waiting_for_it() {
        let connections = Connections::new(
            &CounterRegistry::new(),
            &Telemetry::new("Svc", None, None),
            "T",
        );
        let guard = connections.open_connection();
        let draining = tokio::spawn(async move {
            guard.reached(Phase::Draining).await;
            guard.phase()
        });
        tokio::time::sleep(Duration::from_millis(1)).await;
        assert!(!draining.is_finished());
        connections.enter(Phase::Draining);
        let seen = tokio::time::timeout(Duration::from_secs(1), draining)
            .await
            .expect("woken")
            .expect("no panic");
        assert_eq!(seen, Phase::Draining);
        // The phase never goes back.
        connections.enter(Phase::Serving);
        assert_eq!(connections.phase(), Phase::Draining);
    }

    #[tokio::test]
    async fn a_cut_counts_the_connections_it_closes() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let _a = connections.open_connection();
        let _b = connections.open_connection();
        assert_eq!(connections.cut(), 2);
        assert_eq!(connections.phase(), Phase::Cut);
        assert_eq!(counters.snapshot().get(CUT_CONNECTIONS), Some(2.0));
    }

    #[tokio::test(start_paused = true)]
    async fn past_the_maximum_a_new_connection_waits_for_one_to_close() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        connections.limit(2);
        connections.room().await;
        let first = connections.open_admitted().await;
        connections.room().await;
        let _second = connections.open_admitted().await;
        assert_eq!(counters.snapshot().get(LIMIT_REACHED), None);
        let third = tokio::spawn({
            let connections = connections.clone();
            async move {
                connections.room().await;
                connections.open_admitted().await
            }
        });
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!third.is_finished(), "two are open, the maximum");
        assert_eq!(counters.snapshot().get(LIMIT_REACHED), Some(1.0));
        drop(first);
        let third = tokio::time::timeout(Duration::from_secs(1), third)
            .await
            .expect("a close makes room")
            .expect("no panic");
        assert_eq!(connections.open(), 2);
        drop(third);
        assert_eq!(connections.open(), 1);
    }

    #[test]
    fn timeouts_are_counted_by_kind_in_both_views() {
        let counters = CounterRegistry::new();
        let telemetry = Telemetry::new("Svc", None, None);
        let connections = Connections::new(&counters, &telemetry, "HttpTask");
        let guard = connections.open_connection();
        guard.timed_out(Timeout::Header);
        guard.timed_out(Timeout::Idle);
        guard.timed_out(Timeout::Idle);
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.get("header_timeouts"), Some(1.0));
        assert_eq!(snapshot.get("idle_timeouts"), Some(2.0));
        let text = telemetry
            .render(crate::telemetry::Format::Prometheus)
            .expect("encodes");
        for line in [
            r#"sparts_server_header_timeouts_total{task="HttpTask"} 1"#,
            r#"sparts_server_idle_timeouts_total{task="HttpTask"} 2"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }

    #[test]
    fn both_views_count_the_same_connections_once_each() {
        let counters = CounterRegistry::new();
        let telemetry = Telemetry::new("Svc", None, None);
        let connections = Connections::new(&counters, &telemetry, "ThriftServerTask");
        assert_eq!(
            counters.snapshot().get(BAD_INPUT),
            None,
            "registered at the first bad input"
        );
        let bad = connections.open_connection();
        let _open = connections.open_connection();
        bad.bad_input();
        drop(bad);
        connections.cut();
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.get(CONNECTIONS), Some(2.0));
        assert_eq!(snapshot.get(BAD_INPUT), Some(1.0));
        assert_eq!(snapshot.get(CUT_CONNECTIONS), Some(1.0));
        assert!(counters.exported().is_empty(), "not on /metrics twice");
        let text = telemetry
            .render(crate::telemetry::Format::Prometheus)
            .expect("encodes");
        for line in [
            r#"sparts_server_connections_total{task="ThriftServerTask"} 2"#,
            r#"sparts_server_bad_input_total{task="ThriftServerTask"} 1"#,
            r#"sparts_server_cut_connections_total{task="ThriftServerTask"} 1"#,
            r#"sparts_server_open_connections{task="ThriftServerTask"} 1"#,
        ] {
            assert!(text.contains(line), "{line} in {text}");
        }
    }
}
