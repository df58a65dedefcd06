//! QueueTask on tokio's paused clock: order, retries, backpressure,
//! priority, uniqueness, errors and panics, options, and shutdown with
//! items still queued.

mod common;

use common::Logs;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::{
    BoxError, Error, ItemContext, NoOptions, QueueSender, QueueTask, QueueWork, RunningService,
    TaskContext, TryLater, VService, VTask, task::Dependencies,
};
use tokio::sync::Semaphore;
use tokio::time::Instant;

/// What `execute` returns for (item, attempt).
type Outcome = fn(u32, u32) -> Result<u32, BoxError>;

/// A work that records what it executes and can be held at a gate.
#[derive(Clone)]
struct Probe {
    /// (item, attempt, enqueued_at) of every execution, in start order.
    executed: Arc<Mutex<Vec<(u32, u32, Instant)>>>,
    /// When set, each execution takes one permit before going on.
    gate: Option<Arc<Semaphore>>,
    delay: Duration,
    outcome: Outcome,
    running: Arc<AtomicUsize>,
    max_running: Arc<AtomicUsize>,
}

impl Probe {
    fn new() -> Self {
        Self {
            executed: Arc::default(),
            gate: None,
            delay: Duration::ZERO,
            outcome: |item, _| Ok(item),
            running: Arc::default(),
            max_running: Arc::default(),
        }
    }

    /// Executions wait for [`open`](Self::open).
    fn gated(mut self) -> Self {
        self.gate = Some(Arc::new(Semaphore::new(0)));
        self
    }

    fn with_delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }

    fn with_outcome(mut self, outcome: Outcome) -> Self {
        self.outcome = outcome;
        self
    }

    /// Lets `n` more executions through the gate.
    fn open(&self, n: usize) {
        if let Some(gate) = &self.gate {
            gate.add_permits(n);
        }
    }

    fn items(&self) -> Vec<u32> {
        self.executed
            .lock()
            .expect("lock")
            .iter()
            .map(|e| e.0)
            .collect()
    }

    fn executions(&self) -> Vec<(u32, u32, Instant)> {
        self.executed.lock().expect("lock").clone()
    }
}

impl QueueWork<NoOptions, u32> for Probe {
    type Item = u32;

    async fn execute(&self, item: &u32, ctx: &ItemContext) -> Result<u32, BoxError> {
        self.executed
            .lock()
            .expect("lock")
            .push((*item, ctx.attempt(), ctx.enqueued_at()));
        let now = self.running.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_running.fetch_max(now, Ordering::SeqCst);
        if let Some(gate) = &self.gate {
            gate.acquire().await?.forget();
        }
        if !self.delay.is_zero() {
            tokio::time::sleep(self.delay).await;
        }
        self.running.fetch_sub(1, Ordering::SeqCst);
        (self.outcome)(*item, ctx.attempt())
    }
}

async fn start(task: QueueTask<Probe, NoOptions, u32>, args: &[&str]) -> RunningService {
    VService::new("Svc")
        .with_task(task)
        .start_with_args(std::iter::once("svc").chain(args.iter().copied()))
        .await
        .expect("the service starts")
}

fn queue(running: &RunningService) -> Arc<QueueTask<Probe, NoOptions, u32>> {
    running
        .handle()
        .require::<QueueTask<Probe, NoOptions, u32>>()
        .expect("the queue task runs")
}

fn counter(running: &RunningService, name: &str) -> f64 {
    running
        .handle()
        .counter(&format!("Probe.{name}"))
        .expect("counter exists")
}

/// Lets every task run until all of them wait (the paused clock then
/// jumps forward by at most a millisecond).
async fn settle() {
    tokio::time::sleep(Duration::from_millis(1)).await;
}

fn oks(results: Vec<Result<u32, BoxError>>) -> Vec<u32> {
    results
        .into_iter()
        .map(|r| r.expect("item succeeds"))
        .collect()
}

fn queue_error(error: &BoxError) -> Option<&Error> {
    error.downcast_ref::<Error>()
}

/// Runs a test body with a bound on (virtual) time: on the paused clock a
/// body that would wait forever fails in an instant instead.
async fn bounded(body: impl std::future::Future<Output = ()>) {
    tokio::time::timeout(Duration::from_secs(3600), body)
        .await
        .expect("the test finishes within an hour of virtual time");
}

#[tokio::test(start_paused = true)]
async fn fifo_executes_in_submission_order() {
    bounded(async {
        let probe = Probe::new();
        let running = start(QueueTask::new(probe.clone()), &[]).await;
        let queue = queue(&running);

        let first = queue.submit(5).await.expect("submitted");
        queue.enqueue(3).await.expect("enqueued");
        let rest = queue.map([9, 1, 4]).await;

        assert_eq!(first.await.expect("done"), 5);
        assert_eq!(oks(rest), [9, 1, 4]);
        assert_eq!(probe.items(), [5, 3, 9, 1, 4]);
        assert_eq!(counter(&running, "n_completed"), 5.0);
        assert_eq!(counter(&running, "queue_depth"), 0.0);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn an_item_failing_ten_times_is_retried_exactly_ten_times() {
    bounded(async {
        let probe = Probe::new().with_outcome(|item, attempt| {
            if attempt <= 10 {
                return Err(TryLater::after(Duration::from_secs(1)).into());
            }
            Ok(item + attempt)
        });
        let running = start(QueueTask::new(probe.clone()), &[]).await;
        let started = Instant::now();

        let result = queue(&running).submit(100).await.expect("submitted").await;

        assert_eq!(result.expect("succeeds on the 11th attempt"), 111);
        // Ten delays of one second each, on the paused clock.
        let elapsed = started.elapsed();
        assert!(
            elapsed >= Duration::from_secs(10) && elapsed < Duration::from_millis(10_100),
            "{elapsed:?}"
        );
        let executions = probe.executions();
        let attempts: Vec<u32> = executions.iter().map(|e| e.1).collect();
        assert_eq!(attempts, (1..=11).collect::<Vec<_>>());
        assert!(
            executions.iter().all(|e| e.2 == executions[0].2),
            "enqueued_at is the first submission's"
        );
        assert_eq!(counter(&running, "n_trylater"), 10.0);
        assert_eq!(counter(&running, "n_completed"), 1.0);
        assert_eq!(counter(&running, "n_unhandled"), 0.0);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn try_later_without_delay_goes_to_the_back_of_the_queue() {
    bounded(async {
        let probe = Probe::new().with_outcome(|item, attempt| {
            if item == 1 && attempt == 1 {
                return Err(TryLater::new().into());
            }
            Ok(item)
        });
        let running = start(QueueTask::new(probe.clone()), &[]).await;

        let results = queue(&running).map([1, 2, 3]).await;

        assert_eq!(oks(results), [1, 2, 3]);
        assert_eq!(probe.items(), [1, 2, 3, 1]);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_full_bounded_queue_makes_submit_wait_and_try_submit_fail() {
    bounded(async {
        let probe = Probe::new().gated();
        let running = start(QueueTask::new(probe.clone()), &["--probe-max-items", "2"]).await;
        let queue = queue(&running);

        // One executing, one queued: both count against the limit.
        let first = queue.submit(1).await.expect("room");
        let second = queue.submit(2).await.expect("room");
        settle().await;
        assert_eq!(counter(&running, "queue_depth"), 1.0);
        match queue.try_submit(3) {
            Err(Error::QueueFull { task, capacity }) => {
                assert_eq!((task.as_str(), capacity), ("Probe", 2));
            }
            other => panic!("expected QueueFull, got {other:?}"),
        }
        assert!(matches!(queue.try_enqueue(3), Err(Error::QueueFull { .. })));

        let sender = queue.sender();
        let third = tokio::spawn(async move { sender.submit(3).await });
        settle().await;
        assert!(!third.is_finished(), "submit waits while the queue is full");

        probe.open(1);
        assert_eq!(first.await.expect("done"), 1);
        let third = third
            .await
            .expect("joined")
            .expect("room after one is done");
        probe.open(2);
        assert_eq!(second.await.expect("done"), 2);
        assert_eq!(third.await.expect("done"), 3);
        assert_eq!(probe.items(), [1, 2, 3]);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn submitters_waiting_for_room_are_refused_at_shutdown() {
    bounded(async {
        let probe = Probe::new().gated();
        let args = ["--probe-max-items", "1", "--shutdown-timeout", "1"];
        let running = start(QueueTask::new(probe), &args).await;
        let queue = queue(&running);
        let first = queue.submit(1).await.expect("room");
        let sender = queue.sender();
        let waiting = tokio::spawn(async move { sender.submit(2).await.map(drop) });
        settle().await;
        assert!(!waiting.is_finished(), "waits for room");
        drop(queue);

        running.shutdown().await.expect("clean shutdown");

        let refused = waiting.await.expect("joined");
        assert!(
            matches!(refused, Err(Error::TaskNotRunning(_))),
            "{refused:?}"
        );
        // Still held at the gate when the shutdown timeout aborted it.
        let stopped = first.await.expect_err("aborted");
        assert!(matches!(
            queue_error(&stopped),
            Some(Error::QueueStopped(_))
        ));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn priority_queue_executes_the_smallest_item_first() {
    bounded(async {
        let probe = Probe::new().gated();
        let running = start(QueueTask::priority(probe.clone()), &[]).await;
        let queue = queue(&running);

        let blocker = queue.submit(50).await.expect("submitted");
        settle().await;
        let mut futures = Vec::new();
        for item in [5, 3, 9, 1, 7, 3] {
            futures.push(queue.submit(item).await.expect("submitted"));
        }
        probe.open(7);

        assert_eq!(blocker.await.expect("done"), 50);
        for future in futures {
            future.await.expect("done");
        }
        assert_eq!(probe.items(), [50, 1, 3, 3, 5, 7, 9]);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unique_queue_refuses_items_queued_executing_or_retrying() {
    bounded(async {
        let probe = Probe::new().gated().with_outcome(|item, attempt| {
            if item == 3 && attempt == 1 {
                return Err(TryLater::after(Duration::from_secs(5)).into());
            }
            Ok(item)
        });
        let running = start(QueueTask::unique(probe.clone()), &[]).await;
        let queue = queue(&running);
        let is_duplicate =
            |r: Result<_, Error>| matches!(r, Err(Error::DuplicateItem(t)) if t == "Probe");

        let one = queue.submit(1).await.expect("new item");
        settle().await;
        assert!(is_duplicate(queue.submit(1).await.map(drop)), "executing");
        let two = queue.submit(2).await.expect("new item");
        assert!(is_duplicate(queue.try_submit(2).map(drop)), "queued");
        assert!(is_duplicate(queue.enqueue(2).await), "queued");
        let three = queue.submit(3).await.expect("new item");

        probe.open(3);
        assert_eq!(one.await.expect("done"), 1);
        assert_eq!(two.await.expect("done"), 2);
        settle().await;
        assert_eq!(counter(&running, "n_trylater"), 1.0);
        assert!(
            is_duplicate(queue.submit(3).await.map(drop)),
            "waiting for a retry"
        );
        // Done items can come again.
        let again = queue.submit(1).await.expect("1 is done");

        probe.open(3);
        assert_eq!(three.await.expect("done"), 3);
        assert_eq!(again.await.expect("done"), 1);
        let results = queue.map([4, 4]).await;
        assert_eq!(results[0].as_ref().ok(), Some(&4));
        assert!(matches!(
            results[1].as_ref().map_err(queue_error),
            Err(Some(Error::DuplicateItem(_)))
        ));
        assert_eq!(probe.items(), [1, 2, 3, 1, 3, 4]);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn errors_and_panics_go_to_the_item_and_the_task_goes_on() {
    bounded(async {
        let probe = Probe::new().with_outcome(|item, _| match item {
            13 => Err("unlucky".into()),
            66 => panic!("devilish"),
            _ => Ok(item),
        });
        let running = start(QueueTask::new(probe), &[]).await;
        let queue = queue(&running);

        let results = queue.map([13, 66, 7]).await;

        let texts: Vec<String> = results
            .into_iter()
            .map(|r| r.map_or_else(|e| e.to_string(), |n| n.to_string()))
            .collect();
        assert_eq!(texts, ["unlucky", "execute panicked: devilish", "7"]);
        assert_eq!(counter(&running, "n_unhandled"), 2.0);
        assert_eq!(counter(&running, "n_completed"), 1.0);
        assert_eq!(
            running.handle().status(),
            sparts_core::Status::Alive,
            "no task died"
        );
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn errors_nobody_receives_are_logged_with_the_item() {
    bounded(async {
        let (logs, _guard) = Logs::capture();
        let probe = Probe::new().with_outcome(|item, _| match item {
            13 | 14 => Err(format!("cannot do {item}").into()),
            _ => Ok(item),
        });
        let running = start(QueueTask::new(probe), &[]).await;
        let queue = queue(&running);

        queue.enqueue(13).await.expect("enqueued");
        drop(queue.submit(14).await.expect("submitted"));
        assert_eq!(
            queue.submit(1).await.expect("submitted").await.expect("ok"),
            1
        );

        let text = logs.text();
        assert!(
            text.contains("Probe: item 13 failed: cannot do 13"),
            "{text}"
        );
        assert!(
            text.contains("Probe: item 14 failed: cannot do 14"),
            "{text}"
        );
        assert_eq!(counter(&running, "n_unhandled"), 2.0);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_works_off_the_queue_then_fails_what_is_left() {
    bounded(async {
        let (logs, _guard) = Logs::capture();
        let probe = Probe::new().with_delay(Duration::from_secs(1));
        let running = start(
            QueueTask::new(probe.clone()),
            &["--shutdown-timeout", "2.5"],
        )
        .await;
        let queue = queue(&running);
        let sender = queue.sender();
        let mut futures = Vec::new();
        for item in 0..10 {
            futures.push(queue.submit(item).await.expect("submitted"));
        }
        queue.enqueue(10).await.expect("enqueued");
        drop(queue);

        let shutdown = tokio::spawn(running.shutdown());
        settle().await;
        assert!(matches!(sender.try_submit(99), Err(Error::TaskNotRunning(t)) if t == "Probe"));
        assert!(matches!(
            sender.enqueue(99).await,
            Err(Error::TaskNotRunning(_))
        ));
        shutdown.await.expect("joined").expect("shutdown is clean");

        // Items 0 and 1 finished within 2.5 s, 2 was executing, 3..=10 queued.
        let mut done = Vec::new();
        let mut stopped = 0;
        for future in futures {
            match future.await {
                Ok(item) => done.push(item),
                Err(e) => {
                    assert!(
                        matches!(queue_error(&e), Some(Error::QueueStopped(t)) if t == "Probe")
                    );
                    assert_eq!(
                        e.to_string(),
                        "queue task `Probe` stopped before the item was done"
                    );
                    stopped += 1;
                }
            }
        }
        assert_eq!(done, [0, 1]);
        assert_eq!(stopped, 8);
        assert_eq!(probe.items(), [0, 1, 2]);
        let text = logs.text();
        assert!(text.contains("item 2 was still executing"), "{text}");
        assert!(text.contains("8 queued items were not executed"), "{text}");
        assert!(matches!(
            sender.try_submit(1),
            Err(Error::TaskNotRunning(_))
        ));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn shutdown_drains_the_queue_when_time_allows() {
    bounded(async {
        let probe = Probe::new()
            .with_delay(Duration::from_millis(100))
            .with_outcome(|item, attempt| {
                if item == 0 && attempt == 1 {
                    return Err(TryLater::after(Duration::from_secs(3)).into());
                }
                Ok(item)
            });
        let running = start(QueueTask::new(probe.clone()), &["--probe-workers", "2"]).await;
        let queue = queue(&running);
        let mut futures = Vec::new();
        for item in 0..20 {
            futures.push(queue.submit(item).await.expect("submitted"));
        }
        drop(queue);
        let started = Instant::now();

        running.shutdown().await.expect("clean shutdown");

        // Waited for the delayed retry of item 0 too.
        assert!(started.elapsed() >= Duration::from_secs(3));
        for (expected, future) in futures.into_iter().enumerate() {
            assert_eq!(future.await.expect("worked off"), expected as u32);
        }
        assert_eq!(probe.items().len(), 21);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_task_that_is_not_running_refuses_items() {
    bounded(async {
        let template = QueueTask::new(Probe::new());
        assert!(matches!(template.try_submit(1), Err(Error::TaskNotRunning(t)) if t == "Probe"));
        assert!(matches!(
            template.submit(1).await,
            Err(Error::TaskNotRunning(_))
        ));
        assert!(matches!(
            template.sender().enqueue(1).await,
            Err(Error::TaskNotRunning(_))
        ));
        let results = template.map([1, 2]).await;
        assert!(results.iter().all(|r| matches!(
            r.as_ref().map_err(queue_error),
            Err(Some(Error::TaskNotRunning(_)))
        )));

        let running = start(template.clone(), &[]).await;
        let before = queue(&running);
        let old_sender = before.sender();
        assert_eq!(
            old_sender
                .submit(1)
                .await
                .expect("submitted")
                .await
                .expect("done"),
            1
        );

        running.handle().request_restart();
        let mut after = None;
        for _ in 0..100 {
            settle().await;
            if let Some(task) = running.handle().get::<QueueTask<Probe, NoOptions, u32>>()
                && !Arc::ptr_eq(&task, &before)
            {
                after = Some(task);
                break;
            }
        }
        let after = after.expect("the task restarted");
        assert!(matches!(
            old_sender.try_submit(2),
            Err(Error::TaskNotRunning(_))
        ));
        assert_eq!(
            after
                .submit(2)
                .await
                .expect("submitted")
                .await
                .expect("done"),
            2
        );
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn workers_option_sets_how_many_items_execute_at_once() {
    bounded(async {
        let probe = Probe::new().gated();
        let running = start(QueueTask::new(probe.clone()), &["--probe-workers", "3"]).await;
        let queue = queue(&running);
        let mut futures = Vec::new();
        for item in 0..6 {
            futures.push(queue.submit(item).await.expect("submitted"));
        }
        settle().await;
        assert_eq!(probe.running.load(Ordering::SeqCst), 3);
        assert_eq!(counter(&running, "queue_depth"), 3.0);

        probe.open(6);
        for future in futures {
            future.await.expect("done");
        }
        assert_eq!(probe.max_running.load(Ordering::SeqCst), 3);
        running.shutdown().await.expect("clean shutdown");

        let refused = VService::new("Svc")
            .with_task(QueueTask::new(Probe::new()))
            .start_with_args(["svc", "--probe-workers", "0"])
            .await;
        match refused {
            Err(Error::Usage(text)) => assert!(text.contains("at least 1 worker"), "{text}"),
            other => panic!("expected a usage error, got {:?}", other.map(|_| ())),
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn execute_duration_is_sampled() {
    bounded(async {
        let probe = Probe::new().with_delay(Duration::from_millis(250));
        let running = start(QueueTask::new(probe), &[]).await;
        let results = queue(&running).map([1, 2]).await;
        assert_eq!(oks(results), [1, 2]);
        assert_eq!(counter(&running, "execute_duration_ms.count.60"), 2.0);
        let avg = counter(&running, "execute_duration_ms.avg.240");
        assert!((avg - 250.0).abs() < 1.0, "{avg}");
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

/// Options of [`Greeter`]: `--greeter-greeting`.
#[derive(clap::Args, Debug, Clone)]
struct GreeterOptions {
    /// How to greet.
    #[arg(long, default_value = "hello")]
    greeting: String,
}

/// A work with its own options and constants.
#[derive(Clone)]
struct Greeter;

impl QueueWork<GreeterOptions, String> for Greeter {
    type Item = String;
    const WORKERS: usize = 2;
    const MAX_ITEMS: usize = 7;

    async fn execute(
        &self,
        item: &String,
        ctx: &ItemContext<GreeterOptions>,
    ) -> Result<String, BoxError> {
        Ok(format!("{} {item}", ctx.task().options().work.greeting))
    }
}

#[tokio::test(start_paused = true)]
async fn constants_set_defaults_and_own_options_are_read_live() {
    bounded(async {
        let running = VService::new("Svc")
            .with_task(QueueTask::new(Greeter))
            .start_with_args(["svc", "--greeter-greeting", "hi"])
            .await
            .expect("starts");
        let handle = running.handle();
        assert_eq!(
            handle.option("greeter_workers").expect("option").as_deref(),
            Some("2")
        );
        assert_eq!(
            handle
                .option("greeter_max_items")
                .expect("option")
                .as_deref(),
            Some("7")
        );
        let greeter = handle
            .require::<QueueTask<Greeter, GreeterOptions, String>>()
            .expect("runs");
        let hi = greeter.submit("ann".to_owned()).await.expect("submitted");
        assert_eq!(hi.await.expect("done"), "hi ann");

        handle.set_option("greeter_greeting", "hey").expect("set");
        let hey = greeter.submit("bob".to_owned()).await.expect("submitted");
        assert_eq!(hey.await.expect("done"), "hey bob");
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn help_lists_the_queue_options() {
    bounded(async {
        let help = VService::new("Svc")
            .with_task(QueueTask::new(Greeter))
            .start_with_args(["svc", "--help"])
            .await
            .map(|_| ());
        let Err(Error::Usage(text)) = help else {
            panic!("expected the help text, got {help:?}");
        };
        for flag in [
            "--greeter-workers",
            "--greeter-max-items",
            "--greeter-greeting",
        ] {
            assert!(text.contains(flag), "{flag} missing from {text}");
        }
    })
    .await;
}

#[derive(Clone, Default)]
struct Doubler;

impl QueueWork<NoOptions, u32> for Doubler {
    type Item = u32;

    async fn execute(&self, item: &u32, _ctx: &ItemContext) -> Result<u32, BoxError> {
        Ok(item * 2)
    }
}

/// Feeds the queue from another task, which is how services use it.
#[derive(Clone, Default)]
struct Producer {
    sender: Option<QueueSender<u32, u32>>,
    results: Arc<Mutex<Vec<u32>>>,
}

impl VTask for Producer {
    fn dependencies(deps: &mut Dependencies) {
        deps.add(QueueTask::new(Doubler));
    }

    async fn init(&mut self, ctx: &TaskContext) -> Result<(), BoxError> {
        self.sender = Some(ctx.service().queue::<u32, u32>("Doubler")?);
        Ok(())
    }

    async fn run(&self, _ctx: TaskContext) -> Result<(), BoxError> {
        let sender = self.sender.as_ref().ok_or("init sets the sender")?;
        for result in sender.map(1..=3).await {
            self.results.lock().expect("lock").push(result?);
        }
        Ok(())
    }
}

#[tokio::test(start_paused = true)]
async fn another_task_feeds_the_queue_it_depends_on() {
    bounded(async {
        let producer = Producer::default();
        let results = Arc::clone(&producer.results);
        let running = VService::new("Svc")
            .with_task(producer)
            .start_with_args(["svc"])
            .await
            .expect("starts");
        assert_eq!(running.handle().task_names(), ["Doubler", "Producer"]);
        for _ in 0..100 {
            if results.lock().expect("lock").len() == 3 {
                break;
            }
            settle().await;
        }
        assert_eq!(*results.lock().expect("lock"), [2, 4, 6]);
        running.shutdown().await.expect("clean shutdown");
    })
    .await;
}

/// Many items through every discipline on real threads, with one worker
/// and several: no item is lost or answered twice, and no worker sleeps
/// through work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_items_through_the_queue_on_threads() {
    const ITEMS: u32 = 20_000;
    let outcome = tokio::time::timeout(Duration::from_secs(60), async {
        let cases = [
            (QueueTask::new(Doubler), "fifo", "1", "0"),
            (QueueTask::new(Doubler), "fifo", "1", "64"),
            (QueueTask::new(Doubler), "fifo", "4", "64"),
            (QueueTask::priority(Doubler), "priority", "4", "64"),
            (QueueTask::unique(Doubler), "unique", "1", "0"),
            (QueueTask::unique(Doubler), "unique", "4", "64"),
        ];
        for (task, discipline, workers, max_items) in cases {
            let args = [
                "svc",
                "--doubler-workers",
                workers,
                "--doubler-max-items",
                max_items,
            ];
            let running = VService::new("Svc")
                .with_task(task)
                .start_with_args(args)
                .await
                .expect("starts");
            let queue = running
                .handle()
                .require::<QueueTask<Doubler, NoOptions, u32>>()
                .expect("runs");
            let results = queue.map(0..ITEMS).await;
            for (item, result) in (0..ITEMS).zip(results) {
                assert_eq!(result.expect("done"), item * 2, "{discipline} {workers}");
            }
            let completed = running.handle().counter("Doubler.n_completed");
            let completed = completed.expect("counter");
            assert_eq!(completed, f64::from(ITEMS), "{discipline} {workers}");
            running.shutdown().await.expect("clean shutdown");
        }
    })
    .await;
    outcome.expect("finishes within a minute");
}
