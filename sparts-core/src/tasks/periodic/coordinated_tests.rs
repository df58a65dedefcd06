//! The coordinated loop on tokio's paused clock, with replicas sharing a
//! fake lease in memory: each tick runs once, a leader that cannot renew
//! steps down before its lease expires, a stopping one hands over at once,
//! and a new leader skips the ticks already run.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};

use super::super::grid::WallClock;
use crate::backend::{Coordinator, Leadership, LeaseError, LeaseSpec, Term};
use crate::error::{BoxError, Error};
use crate::service::{RunningService, VService};
use crate::task::NoOptions;
use crate::tasks::{Periodic, PeriodicContext, PeriodicTask, PeriodicTick, TryLater};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SEC: Duration = Duration::from_secs(1);
/// The wall clock at the start of each test: half way through tick `T0`.
const START: Duration = Duration::from_millis(1_000_000_500);
const T0: u64 = 1_000_000;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The lease as the store keeps it.
#[derive(Debug, Clone)]
struct Record {
    holder: Option<String>,
    last_tick: Option<u64>,
    revision: u64,
    written: Instant,
}

/// The store every fake replica shares: one record, gone `ttl` after its
/// last write, on tokio's clock.
#[derive(Debug, Default)]
struct Lease {
    record: Option<Record>,
    revision: u64,
}

impl Lease {
    fn live(&self, ttl: Duration, now: Instant) -> Option<&Record> {
        self.record.as_ref().filter(|r| r.written + ttl > now)
    }
}

#[derive(Debug)]
struct Store(watch::Sender<Lease>);

impl Store {
    fn new() -> Arc<Self> {
        Arc::new(Self(watch::Sender::new(Lease::default())))
    }

    /// A store whose lease was released after tick `last_tick` ran.
    fn released_after(last_tick: u64) -> Arc<Self> {
        let store = Self::new();
        store.0.send_modify(|lease| {
            lease.revision = 7;
            lease.record = Some(Record {
                holder: None,
                last_tick: Some(last_tick),
                revision: 7,
                written: Instant::now(),
            });
        });
        store
    }
}

/// One replica's way to the store, which a test can cut.
#[derive(Clone)]
struct FakeCoordinator {
    store: Arc<Store>,
    down: Arc<AtomicBool>,
}

impl Coordinator for FakeCoordinator {
    fn scheme(&self) -> &'static str {
        "fake"
    }

    fn join<'a>(
        &'a self,
        _url: &'a str,
        spec: LeaseSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Leadership>, BoxError>> {
        Box::pin(async move {
            let lease: Box<dyn Leadership> = Box::new(FakeLeadership {
                store: Arc::clone(&self.store),
                down: Arc::clone(&self.down),
                holder: spec.holder,
                ttl: spec.ttl,
            });
            Ok(lease)
        })
    }
}

struct FakeLeadership {
    store: Arc<Store>,
    down: Arc<AtomicBool>,
    holder: String,
    ttl: Duration,
}

impl FakeLeadership {
    /// A compare-and-set write: `expected` is the live record's revision
    /// (0: none).
    fn write(
        &self,
        expected: u64,
        holder: Option<&str>,
        last_tick: Option<u64>,
    ) -> Result<u64, LeaseError> {
        if self.down.load(Ordering::SeqCst) {
            return Err(LeaseError::Unavailable("the store is down".into()));
        }
        let now = Instant::now();
        let mut result = Err(LeaseError::Lost { holder: None });
        self.store.0.send_if_modified(|lease| {
            let live = lease.live(self.ttl, now);
            if live.map_or(0, |r| r.revision) != expected {
                let holder = live.and_then(|r| r.holder.clone());
                result = Err(LeaseError::Lost { holder });
                return false;
            }
            lease.revision += 1;
            lease.record = Some(Record {
                holder: holder.map(str::to_owned),
                last_tick,
                revision: lease.revision,
                written: now,
            });
            result = Ok(lease.revision);
            true
        });
        result
    }

    /// Takes the lease if free; else when to try again.
    fn try_acquire(&self) -> Result<Term, Instant> {
        let now = Instant::now();
        let retry = now + self.ttl / 3;
        if self.down.load(Ordering::SeqCst) {
            return Err(retry);
        }
        let (expected, last_tick) = {
            let lease = self.store.0.borrow();
            match lease.live(self.ttl, now) {
                None => (0, None),
                Some(r) if r.holder.is_none() || r.holder.as_deref() == Some(&self.holder) => {
                    (r.revision, r.last_tick)
                }
                Some(r) => return Err(r.written + self.ttl),
            }
        };
        match self.write(expected, Some(&self.holder), last_tick) {
            Ok(token) => Ok(Term { token, last_tick }),
            Err(_) => Err(retry),
        }
    }
}

impl Leadership for FakeLeadership {
    fn acquire(&self) -> BoxFuture<'_, Result<Term, BoxError>> {
        Box::pin(async move {
            let mut changes = self.store.0.subscribe();
            loop {
                changes.borrow_and_update();
                let retry = match self.try_acquire() {
                    Ok(term) => return Ok(term),
                    Err(retry) => retry,
                };
                tokio::select! {
                    _ = changes.changed() => {}
                    () = sleep_until(retry) => {}
                }
            }
        })
    }

    fn claim_tick<'a>(
        &'a self,
        term: &'a mut Term,
        tick: u64,
    ) -> BoxFuture<'a, Result<bool, LeaseError>> {
        Box::pin(async move {
            if term.last_tick >= Some(tick) {
                return Ok(false);
            }
            term.token = self.write(term.token, Some(&self.holder), Some(tick))?;
            term.last_tick = Some(tick);
            Ok(true)
        })
    }

    fn renew<'a>(&'a self, term: &'a mut Term) -> BoxFuture<'a, Result<(), LeaseError>> {
        Box::pin(async move {
            term.token = self.write(term.token, Some(&self.holder), term.last_tick)?;
            Ok(())
        })
    }

    fn release(&self, term: Term) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let _ = self.write(term.token, None, term.last_tick);
        })
    }

    fn leader(&self) -> Option<String> {
        let lease = self.store.0.borrow();
        lease
            .live(self.ttl, Instant::now())
            .and_then(|r| r.holder.clone())
    }
}

/// One execution, as the replicas saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    replica: usize,
    tick: u64,
    token: Option<u64>,
    at: Duration,
}

/// What every replica's executions are written to.
#[derive(Clone)]
struct Log {
    origin: Instant,
    runs: Arc<Mutex<Vec<Run>>>,
}

impl Log {
    fn new() -> Self {
        Self {
            origin: Instant::now(),
            runs: Arc::default(),
        }
    }

    fn runs(&self) -> Vec<Run> {
        self.runs.lock().expect("runs lock").clone()
    }

    /// Tick numbers relative to `T0`, in the order they ran.
    fn ticks(&self) -> Vec<u64> {
        self.runs().iter().map(|r| r.tick - T0).collect()
    }

    fn by(&self, replica: usize) -> Vec<u64> {
        let runs = self.runs();
        runs.iter()
            .filter(|r| r.replica == replica)
            .map(|r| r.tick - T0)
            .collect()
    }
}

/// Records each execution; the first one may ask to be tried later, or
/// fail.
#[derive(Clone)]
struct Recorder {
    replica: usize,
    log: Log,
    later_first: Option<Duration>,
    fail_first: bool,
    calls: Arc<AtomicUsize>,
}

impl Periodic<NoOptions, u64> for Recorder {
    async fn execute(&self, _ctx: &PeriodicContext) -> Result<u64, BoxError> {
        let tick = PeriodicTick::current().ok_or("no tick")?;
        self.log.runs.lock().expect("runs lock").push(Run {
            replica: self.replica,
            tick: tick.number,
            token: tick.token,
            at: self.log.origin.elapsed(),
        });
        let first = self.calls.fetch_add(1, Ordering::SeqCst) == 0;
        match self.later_first {
            _ if first && self.fail_first => Err("broken".into()),
            Some(after) if first => Err(TryLater::after(after).into()),
            _ => Ok(tick.number),
        }
    }
}

type Task = PeriodicTask<Recorder, NoOptions, u64>;

/// One replica of a service of one coordinated task.
struct Replica {
    running: RunningService,
    down: Arc<AtomicBool>,
}

impl Replica {
    fn counter(&self, name: &str) -> f64 {
        let name = format!("Recorder.{name}");
        self.running.handle().counter(&name).unwrap_or(f64::NAN)
    }

    fn task(&self) -> Arc<Task> {
        self.running.handle().require::<Task>().expect("the task")
    }
}

struct Setup {
    store: Arc<Store>,
    log: Log,
    wall: WallClock,
    later_first: Option<Duration>,
    /// The replica whose first execution fails.
    fails: Option<usize>,
}

impl Setup {
    fn new(store: Arc<Store>) -> Self {
        Self {
            store,
            log: Log::new(),
            wall: WallClock::following_tokio(START),
            later_first: None,
            fails: None,
        }
    }

    fn task(&self, replica: usize) -> (Task, Arc<AtomicBool>) {
        let down = Arc::new(AtomicBool::new(false));
        let coordinator = FakeCoordinator {
            store: Arc::clone(&self.store),
            down: Arc::clone(&down),
        };
        let recorder = Recorder {
            replica,
            log: self.log.clone(),
            later_first: self.later_first,
            fail_first: self.fails == Some(replica),
            calls: Arc::default(),
        };
        let task = PeriodicTask::new(recorder)
            .with_coordinator(coordinator)
            .with_wall_clock(self.wall.clone());
        (task, down)
    }

    /// Starts replica `replica`: interval 1 s, lease TTL 3 s.
    async fn start(&self, replica: usize) -> Result<Replica, Error> {
        let (task, down) = self.task(replica);
        let running = VService::new("Svc")
            .with_task(task)
            .start_with_args(ARGS)
            .await?;
        Ok(Replica { running, down })
    }
}

const ARGS: [&str; 7] = [
    "svc",
    "--recorder-coordination",
    "fake://lease",
    "--recorder-interval",
    "1",
    "--recorder-lease-ttl",
    "3",
];

fn consecutive(from: u64, to: u64) -> Vec<u64> {
    (from..=to).collect()
}

#[tokio::test(start_paused = true)]
async fn the_leader_runs_each_tick_once_on_the_wall_clock_grid() -> TestResult {
    let setup = Setup::new(Store::new());
    let a = setup.start(0).await?;
    assert_eq!(a.counter("is_leader"), 1.0);
    assert_eq!(a.counter("n_leader_changes"), 1.0);
    let next = a.task().execute_async();

    sleep(SEC * 10 + ms(100)).await;
    assert_eq!(next.await?, T0 + 1, "the next tick, not one at start");
    assert_eq!(setup.log.ticks(), consecutive(1, 10));
    let runs = setup.log.runs();
    let at: Vec<Duration> = runs.iter().map(|r| r.at).collect();
    let grid: Vec<Duration> = (0..10).map(|k| ms(500) + SEC * k).collect();
    assert_eq!(at, grid, "due at whole seconds of the wall clock");
    let tokens: Vec<u64> = runs.iter().filter_map(|r| r.token).collect();
    assert_eq!(tokens.len(), 10);
    assert!(tokens.windows(2).all(|w| w[0] < w[1]), "{tokens:?}");
    assert_eq!(a.counter("n_iterations"), 10.0);
    assert_eq!(a.counter("n_leader_changes"), 1.0);
    a.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn two_replicas_sharing_a_lease_never_both_run_a_tick() -> TestResult {
    let setup = Setup::new(Store::new());
    let a = setup.start(0).await?;
    let b = setup.start(1).await?;

    sleep(SEC * 10 + ms(100)).await;
    assert_eq!(setup.log.ticks(), consecutive(1, 10));
    assert_eq!(
        setup.log.by(0),
        consecutive(1, 10),
        "the first to start leads"
    );
    assert_eq!((a.counter("is_leader"), b.counter("is_leader")), (1.0, 0.0));
    assert_eq!(b.counter("n_leader_changes"), 0.0, "exported at 0");
    assert_eq!(b.counter("n_iterations"), 0.0);

    let refused = b.task().execute_async().await.expect_err("not the leader");
    assert!(matches!(refused, Error::NotLeader(_)), "{refused}");
    let text = refused.to_string();
    let holder = a
        .task()
        .coordination
        .as_ref()
        .and_then(|c| c.lease.leader());
    let holder = holder.ok_or("a leads")?;
    assert_eq!(text, format!("Recorder: led by {holder}"));
    a.running.shutdown().await?;
    b.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_leader_that_cannot_renew_steps_down_before_its_lease_expires() -> TestResult {
    let setup = Setup::new(Store::new());
    let a = setup.start(0).await?;
    let b = setup.start(1).await?;
    // Tick 3 ran at 2.5 s, its claim the last write to go through: the
    // lease expires at 5.5 s; A must stop starting ticks by 4.5 s.
    sleep(ms(3200)).await;
    a.down.store(true, Ordering::SeqCst);
    let waiter = a.task().execute_async();

    sleep_until(setup.log.origin + ms(4510)).await;
    assert_eq!(a.counter("is_leader"), 0.0, "stepped down at 4.5 s");
    assert_eq!(b.counter("is_leader"), 0.0, "the lease has not expired yet");
    let refused = waiter.await.expect_err("A stopped leading");
    assert!(matches!(refused, Error::NotLeader(_)), "{refused}");

    sleep_until(setup.log.origin + ms(5510)).await;
    assert_eq!(b.counter("is_leader"), 1.0, "took the expired lease");
    sleep_until(setup.log.origin + ms(9600)).await;
    a.down.store(false, Ordering::SeqCst);
    assert_eq!(setup.log.by(0), consecutive(1, 3));
    // B took it at 5.5 s, as tick 6 began: it runs from the next one, the
    // expired lease having kept no record.
    assert_eq!(setup.log.by(1), consecutive(7, 10));
    assert_eq!(a.counter("n_leader_changes"), 1.0);
    assert_eq!(b.counter("n_leader_changes"), 1.0);
    a.running.shutdown().await?;
    b.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_stopping_leader_hands_over_at_once() -> TestResult {
    let setup = Setup::new(Store::new());
    let a = setup.start(0).await?;
    let b = setup.start(1).await?;
    sleep(ms(3200)).await;
    a.running.shutdown().await?;
    sleep(ms(1)).await;
    assert_eq!(
        b.counter("is_leader"),
        1.0,
        "at once, not when the TTL ends"
    );

    sleep_until(setup.log.origin + ms(6600)).await;
    assert_eq!(
        setup.log.ticks(),
        consecutive(1, 7),
        "none twice, none missed"
    );
    assert_eq!(setup.log.by(1), consecutive(4, 7));
    b.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_new_leader_skips_ticks_already_run_and_runs_one_missed_at_once() -> TestResult {
    // Tick T0 is under way; the lease was released after each of these.
    for (last, first, at) in [
        (T0 - 1, T0, Duration::ZERO),
        (T0, T0 + 1, ms(500)),
        (T0 + 2, T0 + 3, ms(2500)),
    ] {
        let setup = Setup::new(Store::released_after(last));
        let a = setup.start(0).await?;
        sleep(ms(2600)).await;
        let runs = setup.log.runs();
        let run = runs.first().ok_or("a tick ran")?;
        assert_eq!((run.tick, run.at), (first, at), "after {last}");
        assert!(runs.iter().all(|r| r.tick > last), "{runs:?}");
        a.running.shutdown().await?;
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn try_later_retries_the_same_tick() -> TestResult {
    let mut setup = Setup::new(Store::new());
    setup.later_first = Some(ms(200));
    let a = setup.start(0).await?;
    sleep(ms(2600)).await;
    let runs: Vec<(u64, Duration)> = setup
        .log
        .runs()
        .iter()
        .map(|r| (r.tick - T0, r.at))
        .collect();
    assert_eq!(
        runs,
        [(1, ms(500)), (1, ms(700)), (2, ms(1500)), (3, ms(2500))]
    );
    assert_eq!(a.counter("n_try_later"), 1.0);
    assert_eq!(a.counter("n_iterations"), 3.0);
    a.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_leader_whose_execution_fails_hands_over_at_once() -> TestResult {
    let mut setup = Setup::new(Store::new());
    setup.fails = Some(0);
    let a = setup.start(0).await?;
    let b = setup.start(1).await?;
    sleep(ms(600)).await;
    assert!(!a.task().is_running(), "failed");
    assert_eq!(b.counter("is_leader"), 1.0, "at once");
    sleep_until(setup.log.origin + ms(2600)).await;
    assert_eq!(setup.log.by(0), [1], "failed");
    assert_eq!(
        setup.log.by(1),
        consecutive(2, 3),
        "tick 1 is not run again"
    );
    assert!(a.running.shutdown().await.is_err(), "the failure");
    b.running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn without_coordination_execute_still_learns_its_tick() -> TestResult {
    let setup = Setup::new(Store::new());
    let (task, _) = setup.task(0);
    let running = VService::new("Svc")
        .with_task(task)
        .start_with_args(["svc", "--recorder-interval", "0.25"])
        .await?;
    sleep(ms(600)).await;
    let runs: Vec<(u64, Option<u64>)> =
        setup.log.runs().iter().map(|r| (r.tick, r.token)).collect();
    // At 0, 0.25 and 0.5 s of the start: 1_000_000.5 s on the wall clock.
    let quarter = T0 * 4 + 2;
    assert_eq!(
        runs,
        [(quarter, None), (quarter + 1, None), (quarter + 2, None)]
    );
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn unknown_coordination_and_workers_are_refused_at_start() -> TestResult {
    let setup = Setup::new(Store::new());
    let (task, _) = setup.task(0);
    let started = VService::new("Svc")
        .with_task(task)
        .start_with_args(["svc", "--recorder-coordination", "etcd://x:2379"])
        .await;
    let error = format!("{:#}", started.err().ok_or("refused")?);
    assert!(
        error.contains(
            "Recorder: --recorder-coordination \"etcd://x:2379\": unknown coordination (known: none, fake)"
        ),
        "{error}"
    );

    let (task, _) = setup.task(0);
    let started = VService::new("Svc")
        .with_task(task.with_workers(2))
        .start_with_args(ARGS)
        .await;
    let error = format!("{:#}", started.err().ok_or("refused")?);
    assert!(error.contains("cannot run 2 workers"), "{error}");
    Ok(())
}
