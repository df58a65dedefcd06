//! A QueueTask on a shared backend, against an in-test fake broker on
//! tokio's paused clock: what the worker does with each delivery (results,
//! retries, errors, keep-alives, the stop) and what the task does with the
//! backend (choosing it, refusing what it cannot do, its depth).
//! `sparts-nats` runs the same semantics against a real NATS server.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use futures_util::future::BoxFuture;
use sparts_core::backend::{
    Delivery, NextDelivery, QueueBackend, QueueSpec, RemoteQueue, ResultSender, Settle,
};
use sparts_core::{
    BoxError, Error, ItemContext, NoOptions, QueueTask, QueueWork, TryLater, VService,
};
use tokio::sync::Notify;
use tokio::time::Instant;

/// What the broker saw, with the time on tokio's clock since the test began.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Opened {
        max_items: usize,
        ack_wait: Duration,
        max_attempts: u32,
    },
    KeepAlive(u32, Duration),
    Settled(u32, String, Duration),
    Closed,
}

/// An in-memory broker: a queue of (item, attempt), a log, and the
/// submitters' result senders.
#[derive(Default)]
struct Broker {
    state: Mutex<BrokerState>,
    arrived: Notify,
    began: Mutex<Option<Instant>>,
}

#[derive(Default)]
struct BrokerState {
    queue: VecDeque<(u32, u32, Option<ResultSender<u32>>)>,
    seen: Vec<Seen>,
    closed: bool,
    depth: usize,
}

impl Broker {
    fn state(&self) -> std::sync::MutexGuard<'_, BrokerState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn since(&self) -> Duration {
        let began = *self.began.lock().unwrap_or_else(PoisonError::into_inner);
        began.map_or(Duration::ZERO, |b| b.elapsed())
    }

    fn see(&self, seen: Seen) {
        self.state().seen.push(seen);
    }

    fn seen(&self) -> Vec<Seen> {
        self.state().seen.clone()
    }

    fn push(&self, item: u32, attempt: u32, reply: Option<ResultSender<u32>>) {
        self.state().queue.push_back((item, attempt, reply));
        self.arrived.notify_one();
    }
}

#[derive(Clone, Default)]
struct FakeBackend(Arc<Broker>);

impl QueueBackend<u32, u32> for FakeBackend {
    fn scheme(&self) -> &'static str {
        "fake"
    }

    fn open<'a>(
        &'a self,
        url: &'a str,
        spec: QueueSpec,
    ) -> BoxFuture<'a, Result<Box<dyn RemoteQueue<u32, u32>>, BoxError>> {
        Box::pin(async move {
            if url.ends_with("down") {
                return Err(format!("{}: cannot reach {url}", spec.task).into());
            }
            *self.0.began.lock().unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            self.0.see(Seen::Opened {
                max_items: spec.max_items,
                ack_wait: spec.ack_wait,
                max_attempts: spec.max_attempts,
            });
            let queue: Box<dyn RemoteQueue<u32, u32>> = Box::new(FakeQueue(Arc::clone(&self.0)));
            Ok(queue)
        })
    }
}

struct FakeQueue(Arc<Broker>);

impl RemoteQueue<u32, u32> for FakeQueue {
    fn publish(
        &self,
        item: u32,
        reply: Option<ResultSender<u32>>,
        _wait_for_room: bool,
    ) -> BoxFuture<'_, Result<(), Error>> {
        Box::pin(async move { self.try_publish(item, reply) })
    }

    fn try_publish(&self, item: u32, reply: Option<ResultSender<u32>>) -> Result<(), Error> {
        if self.0.state().closed {
            return Err(Error::TaskNotRunning("Double".into()));
        }
        self.0.push(item, 1, reply);
        Ok(())
    }

    fn next(&self) -> NextDelivery<'_, u32, u32> {
        Box::pin(async move {
            loop {
                let notified = self.0.arrived.notified();
                {
                    let mut state = self.0.state();
                    if state.closed {
                        return Ok(None);
                    }
                    if let Some((item, attempt, reply)) = state.queue.pop_front() {
                        let delivery: Box<dyn Delivery<u32, u32>> = Box::new(FakeDelivery {
                            item,
                            attempt,
                            reply: Mutex::new(reply),
                            broker: Arc::clone(&self.0),
                        });
                        return Ok(Some(delivery));
                    }
                }
                notified.await;
            }
        })
    }

    fn depth(&self) -> usize {
        self.0.state().depth
    }

    fn close(&self) {
        self.0.state().closed = true;
        self.0.see(Seen::Closed);
        self.0.arrived.notify_waiters();
    }
}

struct FakeDelivery {
    item: u32,
    attempt: u32,
    reply: Mutex<Option<ResultSender<u32>>>,
    broker: Arc<Broker>,
}

impl Delivery<u32, u32> for FakeDelivery {
    fn item(&self) -> &u32 {
        &self.item
    }

    fn attempt(&self) -> u32 {
        self.attempt
    }

    fn enqueued_at(&self) -> SystemTime {
        SystemTime::now()
    }

    fn keep_alive_every(&self) -> Duration {
        Duration::from_secs(1)
    }

    fn keep_alive(&self) -> BoxFuture<'_, Result<(), BoxError>> {
        self.broker
            .see(Seen::KeepAlive(self.item, self.broker.since()));
        Box::pin(async { Ok(()) })
    }

    fn settle(self: Box<Self>, how: Settle<u32>) -> BoxFuture<'static, Result<(), BoxError>> {
        let broker = Arc::clone(&self.broker);
        let text = match &how {
            Settle::Done(Ok(n)) => format!("done {n}"),
            Settle::Done(Err(e)) => format!("failed: {e}"),
            Settle::Retry { after, error } => format!("retry {after:?}: {error}"),
            _ => how.kind().to_owned(),
        };
        broker.see(Seen::Settled(self.item, text, broker.since()));
        let reply = self
            .reply
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        match how {
            Settle::Done(result) => {
                if let Some(reply) = reply {
                    let _ = reply.send(result);
                }
            }
            Settle::Retry { .. } => broker.push(self.item, self.attempt + 1, reply),
            _ => {}
        }
        Box::pin(async { Ok(()) })
    }
}

/// Doubles; 0 fails, 1 panics, 7 asks for a retry after 5 s on its first
/// attempt, 8 asks for one at the backend's pace, 100+ works that many
/// seconds.
#[derive(Clone)]
struct Double;

impl QueueWork<NoOptions, u32> for Double {
    type Item = u32;

    async fn execute(&self, item: &u32, ctx: &ItemContext) -> Result<u32, BoxError> {
        match *item {
            0 => Err("zero".into()),
            1 => panic!("one is too odd"),
            7 if ctx.attempt() == 1 => Err(TryLater::after(Duration::from_secs(5)).into()),
            8 if ctx.attempt() == 1 => Err(TryLater::new().into()),
            n if n >= 100 => {
                tokio::time::sleep(Duration::from_secs(u64::from(n))).await;
                Ok(n * 2)
            }
            n => Ok(n * 2 + ctx.attempt() - 1),
        }
    }
}

async fn start(backend: &FakeBackend, args: &[&str]) -> Result<sparts_core::RunningService, Error> {
    let mut argv = vec!["svc"];
    argv.extend_from_slice(args);
    VService::new("Svc")
        .with_task(QueueTask::new(Double).with_backend(backend.clone()))
        .start_with_args(argv)
        .await
}

#[tokio::test(start_paused = true)]
async fn memory_stays_the_default_and_the_backend_gets_the_options() {
    let backend = FakeBackend::default();
    let alone = start(&backend, &[]).await.expect("starts");
    assert!(backend.0.seen().is_empty(), "memory needs no backend");
    alone.shutdown().await.expect("stops");

    let shared = start(
        &backend,
        &[
            "--double-backend",
            "fake://here",
            "--double-max-items",
            "9",
            "--double-ack-wait",
            "2.5",
            "--double-max-attempts",
            "4",
        ],
    )
    .await
    .expect("starts");
    assert_eq!(
        backend.0.seen()[0],
        Seen::Opened {
            max_items: 9,
            ack_wait: Duration::from_millis(2500),
            max_attempts: 4
        }
    );
    backend.0.state().depth = 42;
    assert_eq!(
        shared
            .handle()
            .counter("Double.queue_depth")
            .expect("counter"),
        42.0
    );
    assert_eq!(
        shared
            .handle()
            .queue::<u32, u32>("Double")
            .expect("queue")
            .len(),
        42
    );
    shared.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_backend_that_cannot_serve_refuses_the_start() {
    let backend = FakeBackend::default();
    let error =
        |r: Result<sparts_core::RunningService, Error>| format!("{:#}", r.expect_err("refused"));
    let unknown = error(start(&backend, &["--double-backend", "kafka://k:1"]).await);
    assert!(
        unknown
            .contains("Double: --backend \"kafka://k:1\": unknown backend (known: memory, fake)"),
        "{unknown}"
    );
    let down = error(start(&backend, &["--double-backend", "fake://down"]).await);
    assert!(down.contains("Double: cannot reach fake://down"), "{down}");
    let bad_wait = error(start(&backend, &["--double-ack-wait", "0"]).await);
    assert!(bad_wait.contains("--double-ack-wait"), "{bad_wait}");
    let priority = VService::new("Svc")
        .with_task(QueueTask::priority(Double).with_backend(backend.clone()))
        .start_with_args(["svc", "--double-backend", "fake://here"])
        .await;
    assert!(error(priority).contains("Double: a priority queue needs the memory backend"));
}

#[tokio::test(start_paused = true)]
async fn each_outcome_settles_the_delivery_its_way() {
    let backend = FakeBackend::default();
    let running = start(&backend, &["--double-backend", "fake://here"])
        .await
        .expect("starts");
    let queue = running.handle().queue::<u32, u32>("Double").expect("queue");
    assert_eq!(
        queue.submit(5).await.expect("stored").await.expect("done"),
        10
    );
    let zero = queue
        .submit(0)
        .await
        .expect("stored")
        .await
        .expect_err("fails");
    assert_eq!(zero.to_string(), "zero");
    let one = queue
        .submit(1)
        .await
        .expect("stored")
        .await
        .expect_err("panics");
    assert!(one.to_string().contains("one is too odd"), "{one}");
    let began = Instant::now();
    // attempt() is the delivery's: 7 comes back as attempt 2 (7*2 + 1).
    assert_eq!(
        queue.submit(7).await.expect("stored").await.expect("done"),
        15
    );
    assert_eq!(
        began.elapsed(),
        Duration::ZERO,
        "the delay is the backend's to keep"
    );
    assert_eq!(
        queue.submit(8).await.expect("stored").await.expect("done"),
        17
    );

    let settled: Vec<(u32, String)> = backend
        .0
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::Settled(item, how, _) => Some((item, how)),
            _ => None,
        })
        .collect();
    let expected = [
        (5, "done 10".to_owned()),
        (0, "failed: zero".to_owned()),
        (1, "failed: execute panicked: one is too odd".to_owned()),
        (7, "retry Some(5s): try later (after 5s)".to_owned()),
        (7, "done 15".to_owned()),
        (8, "retry None: try later".to_owned()),
        (8, "done 17".to_owned()),
    ];
    assert_eq!(settled, expected);
    let handle = running.handle();
    assert_eq!(handle.counter("Double.n_completed").expect("counter"), 3.0);
    assert_eq!(handle.counter("Double.n_unhandled").expect("counter"), 2.0);
    assert_eq!(handle.counter("Double.n_trylater").expect("counter"), 2.0);
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_long_execution_keeps_its_item_alive() {
    let backend = FakeBackend::default();
    let running = start(&backend, &["--double-backend", "fake://here"])
        .await
        .expect("starts");
    let queue = running.handle().queue::<u32, u32>("Double").expect("queue");
    assert_eq!(
        queue
            .submit(105)
            .await
            .expect("stored")
            .await
            .expect("done"),
        210
    );
    let beats: Vec<Duration> = backend
        .0
        .seen()
        .into_iter()
        .filter_map(|s| match s {
            Seen::KeepAlive(105, at) => Some(at),
            _ => None,
        })
        .collect();
    // One a second (keep_alive_every) while the 105 s execution runs.
    assert_eq!(beats.len(), 104, "{beats:?}");
    assert!(
        beats
            .windows(2)
            .all(|w| w[1] - w[0] == Duration::from_secs(1))
    );
    running.shutdown().await.expect("stops");
}

#[tokio::test(start_paused = true)]
async fn a_stop_hands_back_what_runs_past_the_timeout_and_takes_nothing_new() {
    let backend = FakeBackend::default();
    let running = start(
        &backend,
        &[
            "--double-backend",
            "fake://here",
            "--shutdown-timeout",
            "10",
        ],
    )
    .await
    .expect("starts");
    let queue = running.handle().queue::<u32, u32>("Double").expect("queue");
    queue.enqueue(100).await.expect("stored");
    queue.enqueue(2).await.expect("stored");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let stopping = Instant::now();
    running.shutdown().await.expect("stops");
    // Cut short a tenth of the timeout (at most 1 s) before the abort.
    assert_eq!(stopping.elapsed(), Duration::from_secs(9));
    let seen = backend.0.seen();
    let settled: Vec<&Seen> = seen
        .iter()
        .filter(|s| matches!(s, Seen::Settled(..)))
        .collect();
    assert_eq!(
        settled,
        [&Seen::Settled(
            100,
            "hand back".into(),
            Duration::from_secs(10)
        )]
    );
    assert!(seen.contains(&Seen::Closed));
    assert_eq!(
        backend.0.state().queue.len(),
        1,
        "item 2 stays in the backend"
    );
    assert!(matches!(
        queue.try_enqueue(3),
        Err(Error::TaskNotRunning(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn in_memory_max_attempts_gives_an_item_up() {
    let running = VService::new("Svc")
        .with_task(QueueTask::new(Double))
        .start_with_args(["svc", "--double-max-attempts", "1"])
        .await
        .expect("starts");
    let queue = running.handle().queue::<u32, u32>("Double").expect("queue");
    let error = queue
        .submit(7)
        .await
        .expect("queued")
        .await
        .expect_err("given up");
    assert_eq!(
        error.to_string(),
        "given up after 1 attempts: try later (after 5s)"
    );
    // Without a limit (the default), it comes back.
    running.shutdown().await.expect("stops");
    let running = VService::new("Svc")
        .with_task(QueueTask::new(Double))
        .start_with_args(["svc"])
        .await
        .expect("starts");
    let queue = running.handle().queue::<u32, u32>("Double").expect("queue");
    assert_eq!(
        queue.submit(7).await.expect("queued").await.expect("done"),
        15
    );
    running.shutdown().await.expect("stops");
}
