//! `NatsBackend` against a real `nats-server -js`: replicas are services in
//! this process sharing one server (the example's tests run them as
//! processes, and kill them).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use sparts_nats::dead_letters;

use sparts_core::{
    BoxError, Error, ItemContext, NoOptions, QueueTask, QueueWork, TryLater, VService,
};
use sparts_nats::NatsBackend;

/// Doubles numbers; 0 fails, 1000+ waits that many milliseconds first,
/// 7 asks to be retried after 300 ms once, 9 always asks to be retried.
#[derive(Clone, Default)]
struct Double {
    executed: Arc<AtomicU32>,
}

impl QueueWork<NoOptions, u64> for Double {
    type Item = u64;
    const WORKERS: usize = 2;

    async fn execute(&self, item: &u64, ctx: &ItemContext) -> Result<u64, BoxError> {
        self.executed.fetch_add(1, Ordering::Relaxed);
        match *item {
            0 => Err("zero has no double".into()),
            7 if ctx.attempt() == 1 => Err(TryLater::after(Duration::from_millis(300)).into()),
            9 => Err(TryLater::after(Duration::from_millis(10)).into()),
            n if n >= 1000 => {
                tokio::time::sleep(Duration::from_millis(n)).await;
                Ok(n * 2)
            }
            n => Ok(n * 2),
        }
    }
}

async fn replica(
    url: &str,
    work: Double,
    extra: &[&str],
) -> Result<sparts_core::RunningService, Error> {
    let mut args = vec!["svc", "--double-backend", url, "--shutdown-timeout", "5"];
    args.extend_from_slice(extra);
    VService::new("Svc")
        .with_task(QueueTask::new(work).with_backend(NatsBackend::new()))
        .start_with_args(args)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_submitted_on_one_replica_are_done_by_both() {
    if !common::available("items_submitted_on_one_replica_are_done_by_both") {
        return;
    }
    let server = common::NatsServer::start();
    let (a_work, b_work) = (Double::default(), Double::default());
    let a = replica(&server.url(), a_work.clone(), &[])
        .await
        .expect("a starts");
    let b = replica(&server.url(), b_work.clone(), &[])
        .await
        .expect("b starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let mut futures = Vec::new();
    for n in 1..=200u64 {
        futures.push(queue.submit(n + 10).await.expect("stored"));
    }
    for (n, future) in (1..=200u64).zip(futures) {
        let doubled = tokio::time::timeout(Duration::from_secs(30), future)
            .await
            .expect("a result within 30 s")
            .expect("no error");
        assert_eq!(doubled, (n + 10) * 2);
    }
    // From a thread outside the runtime too.
    let from_thread = queue.clone();
    let stored = std::thread::spawn(move || from_thread.try_submit(5));
    let future = stored.join().expect("the thread").expect("accepted");
    assert_eq!(within("from a thread", future).await.expect("done"), 10);
    let (on_a, on_b) = (
        a_work.executed.load(Ordering::Relaxed),
        b_work.executed.load(Ordering::Relaxed),
    );
    assert_eq!(on_a + on_b, 201);
    assert!(on_b > 0, "replica b took none of the items");
    let completed = a.handle().counter("Double.n_completed").expect("counter")
        + b.handle().counter("Double.n_completed").expect("counter");
    assert_eq!(completed, 201.0);
    a.shutdown().await.expect("a stops");
    b.shutdown().await.expect("b stops");
}

async fn within<T>(what: &str, future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("{what}: no answer within 30 s"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delayed_try_later_comes_back_after_its_delay() {
    if !common::available("a_delayed_try_later_comes_back_after_its_delay") {
        return;
    }
    let server = common::NatsServer::start();
    let work = Double::default();
    let a = replica(&server.url(), work.clone(), &[])
        .await
        .expect("starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let started = Instant::now();
    let future = queue.submit(7).await.expect("stored");
    assert_eq!(within("item 7", future).await.expect("done"), 14);
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "redelivered before its delay"
    );
    assert_eq!(work.executed.load(Ordering::Relaxed), 2);
    assert_eq!(
        a.handle().counter("Double.n_trylater").expect("counter"),
        1.0
    );
    assert_eq!(
        a.handle().counter("Double.n_redelivered").expect("counter"),
        1.0
    );
    a.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_go_to_the_waiting_future_or_to_the_dead_letters() {
    if !common::available("failures_go_to_the_waiting_future_or_to_the_dead_letters") {
        return;
    }
    let server = common::NatsServer::start();
    let a = replica(
        &server.url(),
        Double::default(),
        &["--double-max-attempts", "3"],
    )
    .await
    .expect("starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");

    // A waiting future gets the error; nothing is dead.
    let error = within("item 0", queue.submit(0).await.expect("stored"))
        .await
        .expect_err("fails");
    assert_eq!(error.to_string(), "zero has no double");

    // Out of attempts: the future hears it, and the item is kept.
    let error = within("item 9", queue.submit(9).await.expect("stored"))
        .await
        .expect_err("gives up");
    assert!(
        error
            .to_string()
            .starts_with("given up after 3 attempts: try later"),
        "{error}"
    );

    // Nobody waits: kept with its error.
    queue.enqueue(0).await.expect("stored");
    let deadline = Instant::now() + Duration::from_secs(30);
    let letters = loop {
        let letters = dead_letters(&server.url(), "Svc", "Double", 10)
            .await
            .expect("readable");
        if letters.len() == 2 || Instant::now() > deadline {
            break letters;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let summary: Vec<(&str, u32, bool)> = letters
        .iter()
        .map(|l| {
            (
                l.item.as_str(),
                l.attempts,
                l.error.contains("given up") || l.error == "zero has no double",
            )
        })
        .collect();
    assert_eq!(summary, [("9", 3, true), ("0", 1, true)], "{letters:?}");
    assert_eq!(
        a.handle()
            .counter("Double.n_dead_lettered")
            .expect("counter"),
        2.0
    );
    assert_eq!(
        a.handle().counter("Double.n_unhandled").expect("counter"),
        2.0
    );
    a.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_unique_queue_refuses_an_item_another_replica_holds() {
    if !common::available("a_unique_queue_refuses_an_item_another_replica_holds") {
        return;
    }
    let server = common::NatsServer::start();
    let url = server.url();
    let start = |work| {
        let url = url.clone();
        async move {
            VService::new("Svc")
                .with_task(QueueTask::unique(work).with_backend(NatsBackend::new()))
                .start_with_args(["svc", "--double-backend", &url])
                .await
                .expect("starts")
        }
    };
    let (a, b) = (
        start(Double::default()).await,
        start(Double::default()).await,
    );
    let on_a = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let on_b = b.handle().queue::<u64, u64>("Double").expect("the queue");
    // Executing for 1.5 s somewhere: still held.
    let slow = on_a.submit(1500).await.expect("stored");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(matches!(on_b.submit(1500).await, Err(Error::DuplicateItem(t)) if t == "Double"));
    assert!(matches!(
        on_a.submit(1500).await,
        Err(Error::DuplicateItem(_))
    ));
    assert_eq!(within("item 1500", slow).await.expect("done"), 3000);
    // Done: welcome again, from either.
    assert_eq!(
        within("again", on_b.submit(1500).await.expect("stored"))
            .await
            .expect("done"),
        3000
    );
    a.shutdown().await.expect("stops");
    b.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_items_counts_every_replica_and_submit_waits_for_room() {
    if !common::available("max_items_counts_every_replica_and_submit_waits_for_room") {
        return;
    }
    let server = common::NatsServer::start();
    let a = replica(
        &server.url(),
        Double::default(),
        &["--double-max-items", "2", "--double-workers", "1"],
    )
    .await
    .expect("starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let first = queue.submit(1000).await.expect("stored");
    let second = queue.submit(1001).await.expect("stored");
    // try_submit: refused at once or through its future.
    let refused = match queue.try_submit(3) {
        Err(e) => e.to_string(),
        Ok(future) => within("try_submit", future)
            .await
            .expect_err("full")
            .to_string(),
    };
    assert_eq!(refused, "queue task `Double` is full (2 items)");
    // submit waits until the first is done.
    let started = Instant::now();
    let third = within("submit", queue.submit(3))
        .await
        .expect("stored once there is room");
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "stored while full"
    );
    assert_eq!(within("first", first).await.expect("done"), 2000);
    assert_eq!(within("second", second).await.expect("done"), 2002);
    assert_eq!(within("third", third).await.expect("done"), 6);
    a.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopping_replica_finishes_its_item_and_leaves_the_rest_for_others() {
    if !common::available("a_stopping_replica_finishes_its_item_and_leaves_the_rest_for_others") {
        return;
    }
    let server = common::NatsServer::start();
    let a_work = Double::default();
    let a = replica(&server.url(), a_work.clone(), &["--double-workers", "1"])
        .await
        .expect("starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    for n in 1000..1005 {
        queue.enqueue(n).await.expect("stored");
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let stopped = Instant::now();
    within("shutdown", a.shutdown()).await.expect("stops");
    assert!(
        stopped.elapsed() < Duration::from_secs(4),
        "waited for more than its one item"
    );
    assert_eq!(
        a_work.executed.load(Ordering::Relaxed),
        1,
        "started one item only"
    );

    let b_work = Double::default();
    let b = replica(&server.url(), b_work.clone(), &["--double-workers", "4"])
        .await
        .expect("starts");
    let deadline = Instant::now() + Duration::from_secs(30);
    while b.handle().counter("Double.n_completed").expect("counter") < 4.0
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        b.handle().counter("Double.n_completed").expect("counter"),
        4.0,
        "the other four"
    );
    assert_eq!(b_work.executed.load(Ordering::Relaxed), 4);
    b.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_errors_name_the_queue() {
    if !common::available("start_errors_name_the_queue") {
        return;
    }
    let server = common::NatsServer::start();
    let error =
        |r: Result<sparts_core::RunningService, Error>| format!("{:#}", r.expect_err("refused"));

    let bad = error(replica("nats://127.0.0.1", Double::default(), &[]).await);
    assert!(
        bad.contains("Double: \"nats://127.0.0.1\" is not a NATS URL"),
        "{bad}"
    );
    let gone = error(replica("nats://127.0.0.1:1", Double::default(), &[]).await);
    assert!(
        gone.contains("Double: cannot reach the NATS server at nats://127.0.0.1:1"),
        "{gone}"
    );
    let unknown = error(replica("kafka://127.0.0.1:1", Double::default(), &[]).await);
    assert!(
        unknown.contains("unknown backend (known: memory, nats)"),
        "{unknown}"
    );
    let priority = VService::new("Svc")
        .with_task(QueueTask::priority(Double::default()).with_backend(NatsBackend::new()))
        .start_with_args(["svc", "--double-backend", &server.url()])
        .await;
    assert!(error(priority).contains("a priority queue needs the memory backend"));

    let first = replica(
        &server.url(),
        Double::default(),
        &["--double-max-items", "5"],
    )
    .await
    .expect("starts");
    first.shutdown().await.expect("stops");
    let other = error(
        replica(
            &server.url(),
            Double::default(),
            &["--double-max-items", "6"],
        )
        .await,
    );
    assert!(
        other.contains("Double: NATS JetStream refused stream SPARTS_Svc_Double"),
        "{other}"
    );
    sparts_nats::delete_queue(&server.url(), "Svc", "Double")
        .await
        .expect("deleted");
    let again = replica(
        &server.url(),
        Double::default(),
        &["--double-max-items", "6"],
    )
    .await
    .expect("starts");
    again.shutdown().await.expect("stops");
    let other_wait = replica(
        &server.url(),
        Double::default(),
        &["--double-max-items", "6", "--double-ack-wait", "7"],
    )
    .await;
    let other_wait = error(other_wait);
    assert!(
        other_wait.contains("Double: NATS JetStream refused consumer workers of stream SPARTS_Svc_Double: it exists with an ack wait of 30s and 10 attempts, and this replica asks for 7s and 10"),
        "{other_wait}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_taken_ahead_are_kept_alive_while_they_wait() {
    if !common::available("items_taken_ahead_are_kept_alive_while_they_wait") {
        return;
    }
    let server = common::NatsServer::start();
    let (a_work, b_work) = (Double::default(), Double::default());
    // a takes items ahead of its one worker; b, with none ahead, is free as
    // soon as its first item is done. Items of 1.2 s with a 1 s ack wait:
    // those waiting on a would go to b as well if a did not keep them alive.
    let ahead = [
        "--double-workers",
        "1",
        "--double-ack-wait",
        "1",
        "--double-prefetch",
        "4",
    ];
    let a = replica(&server.url(), a_work.clone(), &ahead)
        .await
        .expect("a starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let mut futures = Vec::new();
    for n in [1200, 1201, 1202, 1203] {
        futures.push(queue.submit(n).await.expect("stored"));
    }
    let alone = [
        "--double-workers",
        "1",
        "--double-ack-wait",
        "1",
        "--double-prefetch",
        "0",
    ];
    let b = replica(&server.url(), b_work.clone(), &alone)
        .await
        .expect("b starts");
    for future in futures {
        within("a slow item", future).await.expect("done");
    }
    let executed =
        a_work.executed.load(Ordering::Relaxed) + b_work.executed.load(Ordering::Relaxed);
    assert_eq!(executed, 4, "an item ran twice");
    for replica in [&a, &b] {
        assert_eq!(
            replica
                .handle()
                .counter("Double.n_redelivered")
                .expect("counter"),
            0.0
        );
    }
    a.shutdown().await.expect("stops");
    b.shutdown().await.expect("stops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_prefetch_a_long_item_goes_to_the_free_replica() {
    if !common::available("without_prefetch_a_long_item_goes_to_the_free_replica") {
        return;
    }
    let server = common::NatsServer::start();
    let args = ["--double-workers", "1", "--double-prefetch", "0"];
    let (a_work, b_work) = (Double::default(), Double::default());
    let a = replica(&server.url(), a_work.clone(), &args)
        .await
        .expect("a starts");
    let b = replica(&server.url(), b_work.clone(), &args)
        .await
        .expect("b starts");
    let queue = a.handle().queue::<u64, u64>("Double").expect("the queue");
    let started = Instant::now();
    let first = queue.submit(1500).await.expect("stored");
    let second = queue.submit(1501).await.expect("stored");
    within("first", first).await.expect("done");
    within("second", second).await.expect("done");
    // Side by side, one each, not one after the other on one replica.
    assert_eq!(a_work.executed.load(Ordering::Relaxed), 1);
    assert_eq!(b_work.executed.load(Ordering::Relaxed), 1);
    assert!(
        started.elapsed() < Duration::from_millis(2900),
        "{:?}",
        started.elapsed()
    );
    a.shutdown().await.expect("stops");
    b.shutdown().await.expect("stops");
}
