//! Tasks from closures, named where they are registered: a plain task, a
//! periodic task, a queue worker and a poller, found by name; their failures
//! named in the service's error; registration defaults; waiting for starts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::time::Duration;

use sparts_core::{Error, TaskSpec, TryLater, VService};

type TestResult = Result<(), sparts_core::BoxError>;

#[tokio::test(start_paused = true)]
async fn a_closure_task_runs_under_its_registration_name() -> TestResult {
    let service = VService::new("Svc").with_task(TaskSpec::task("Greeter", |ctx| async move {
        ctx.counters().counter("greetings").increment();
        ctx.stopped().await;
        Ok(())
    }));
    let running = service.start_with_args(["svc"]).await?;
    let handle = running.handle();
    assert_eq!(handle.task_names(), ["Greeter"]);
    tokio::time::sleep(Duration::from_millis(1)).await;
    assert_eq!(handle.counter("Greeter.greetings")?, 1.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_periodic_closure_runs_at_the_interval_set_at_registration() -> TestResult {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&runs);
    let tick = TaskSpec::periodic("Tick", move |_ctx| {
        counted.fetch_add(1, Ordering::Relaxed);
        async { Ok(()) }
    })
    .with_default("interval", "0.25");
    let running = VService::new("Svc")
        .with_task(tick)
        .start_with_args(["svc"])
        .await?;
    assert_eq!(
        running.handle().option("tick_interval")?.as_deref(),
        Some("0.25")
    );
    // At 0, 0.25, ..., 2.5 s: eleven executions in 2.6 s.
    tokio::time::sleep(Duration::from_millis(2600)).await;
    assert_eq!(runs.load(Ordering::Relaxed), 11);
    assert_eq!(running.handle().counter("Tick.n_iterations")?, 11.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_periodic_closure_can_be_retried_later_and_the_command_line_wins() -> TestResult {
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let flaky = TaskSpec::periodic("Flaky", move |_ctx| {
        let call = counted.fetch_add(1, Ordering::Relaxed);
        async move {
            if call == 0 {
                return Err(TryLater::after(Duration::from_millis(100)).into());
            }
            Ok(())
        }
    })
    .with_default("interval", "10");
    let running = VService::new("Svc")
        .with_task(flaky)
        .start_with_args(["svc", "--flaky-interval", "60"])
        .await?;
    tokio::time::sleep(Duration::from_millis(150)).await;
    let handle = running.handle();
    assert_eq!(handle.option("flaky_interval")?.as_deref(), Some("60"));
    assert_eq!(handle.counter("Flaky.n_try_later")?, 1.0);
    assert_eq!(handle.counter("Flaky.n_iterations")?, 1.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_queue_closure_is_found_by_its_name_and_retries_items() -> TestResult {
    let lengths = TaskSpec::queue("Lengths", |word: String, ctx| async move {
        if word == "busy" && ctx.attempt() == 1 {
            return Err(TryLater::new().into());
        }
        Ok(word.len() * 10 + ctx.attempt() as usize)
    })
    .with_default("workers", "3");
    let running = VService::new("Svc")
        .with_task(lengths)
        .start_with_args(["svc"])
        .await?;
    let handle = running.handle();
    assert_eq!(handle.option("lengths_workers")?.as_deref(), Some("3"));
    let queue = handle.queue::<String, usize>("Lengths")?;
    assert_eq!(queue.task_name(), "Lengths");
    let results = queue.map(["four".to_owned(), "busy".to_owned()]).await;
    let results: Vec<usize> = results.into_iter().collect::<Result<_, _>>()?;
    assert_eq!(results, [41, 42]);
    assert_eq!(handle.counter("Lengths.n_trylater")?, 1.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_queue_looked_up_with_other_types_or_names_is_a_clear_error() -> TestResult {
    let running = VService::new("Svc")
        .with_task(TaskSpec::queue("Jobs", |_job: u64, _ctx| async { Ok(()) }))
        .with_task(TaskSpec::task("Idle", |ctx| async move {
            ctx.stopped().await;
            Ok(())
        }))
        .start_with_args(["svc"])
        .await?;
    let handle = running.handle();
    match handle.queue::<String, ()>("Jobs") {
        Err(Error::WrongTaskType { task, expected }) => {
            assert_eq!(task, "Jobs");
            assert!(
                expected.contains("a queue of alloc::string::String"),
                "{expected}"
            );
        }
        other => panic!("expected WrongTaskType, got {other:?}"),
    }
    assert!(matches!(
        handle.queue::<u64, ()>("Idle"),
        Err(Error::WrongTaskType { .. })
    ));
    assert!(matches!(
        handle.queue::<u64, ()>("Nobody"),
        Err(Error::TaskNotFound(name)) if name == "Nobody"
    ));
    handle.queue::<u64, ()>("Jobs")?.enqueue(7).await?;
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_poller_closure_value_is_read_by_name() -> TestResult {
    let fetches = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&fetches);
    let poller = TaskSpec::poller("Generation", move |_ctx| {
        let n = counted.fetch_add(1, Ordering::Relaxed);
        async move { Ok(n / 2) }
    });
    let running = VService::new("Svc")
        .with_task(poller)
        .start_with_args(["svc", "--generation-interval", "1"])
        .await?;
    let handle = running.handle();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    // Fetched at 0, 1 and 2 s: values 0, 0, 1.
    assert_eq!(handle.poller_value::<u32>("Generation")?, Some(1));
    assert!(matches!(
        handle.poller_value::<String>("Generation"),
        Err(Error::WrongTaskType { .. })
    ));
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_closure_task_that_fails_is_named_and_stops_the_service() -> TestResult {
    let running = VService::new("Svc")
        .with_task(TaskSpec::task("Doomed", |_ctx| async {
            Err("the disk is full".into())
        }))
        .start_with_args(["svc"])
        .await?;
    let error = running
        .wait()
        .await
        .expect_err("the failure ends the service");
    let text = error.to_string();
    assert!(
        text.contains("task Doomed failed in run: the disk is full"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn a_periodic_closure_that_panics_is_named_and_stops_the_service() -> TestResult {
    let running = VService::new("Svc")
        .with_task(TaskSpec::periodic("Crasher", |_ctx| async {
            if true {
                panic!("out of cheese");
            }
            Ok(())
        }))
        .start_with_args(["svc"])
        .await?;
    let error = running
        .wait()
        .await
        .expect_err("the panic ends the service");
    let text = error.to_string();
    assert!(text.contains("task Crasher failed in run"), "{text}");
    assert!(text.contains("out of cheese"), "{text}");
    Ok(())
}

#[tokio::test]
async fn closures_are_renamed_and_reprefixed_at_registration() -> TestResult {
    let spec = TaskSpec::periodic("Tick", |_ctx| async { Ok(()) })
        .with_prefix("t")
        .with_default("interval", "2");
    let running = VService::new("Svc")
        .with_task(spec)
        .start_with_args(["svc", "--t-interval", "3"])
        .await?;
    assert_eq!(running.handle().option("t_interval")?.as_deref(), Some("3"));
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn an_unknown_default_at_registration_is_a_usage_error() {
    let spec = TaskSpec::queue("Jobs", |_job: u64, _ctx| async { Ok(()) })
        .with_default("no_such_option", "1");
    let error = VService::new("Svc")
        .with_task(spec)
        .start_with_args(["svc"])
        .await
        .expect_err("an unknown option id is refused");
    assert!(matches!(error, Error::Usage(_)), "{error}");
    assert!(error.to_string().contains("no_such_option"), "{error}");
}

#[tokio::test]
async fn the_first_start_hook_runs_once_and_restarts_are_awaited() -> TestResult {
    let first = Arc::new(AtomicU32::new(0));
    let every = Arc::new(AtomicU32::new(0));
    let (f, e) = (Arc::clone(&first), Arc::clone(&every));
    let running = VService::new("Svc")
        .on_first_started(move |_| {
            f.fetch_add(1, Ordering::Relaxed);
        })
        .on_started(move |_| {
            e.fetch_add(1, Ordering::Relaxed);
        })
        .start_with_args(["svc"])
        .await?;
    let handle = running.handle().clone();
    assert_eq!(handle.start_count(), 1);
    assert_eq!(handle.wait_for_start(0).await?, 1, "already started once");
    for restart in 1..=2 {
        let before = handle.start_count();
        handle.request_restart();
        let after =
            tokio::time::timeout(Duration::from_secs(10), handle.wait_for_start(before)).await??;
        assert_eq!(after, before + 1, "restart {restart}");
    }
    assert_eq!(first.load(Ordering::Relaxed), 1);
    assert_eq!(every.load(Ordering::Relaxed), 3);
    running.shutdown().await?;
    assert!(matches!(
        handle.wait_for_start(3).await,
        Err(Error::ServiceStopped)
    ));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_shutdown_budget_counts_from_the_moment_shutdown_began() -> TestResult {
    let service = VService::new("Svc").with_task(TaskSpec::task("Stubborn", |_ctx| async {
        // Ignores its token: only the budget ends it.
        std::future::pending::<()>().await;
        Ok(())
    }));
    let running = service
        .start_with_args(["svc", "--shutdown-timeout", "2"])
        .await?;
    let handle = running.handle().clone();
    assert_eq!(handle.shutdown_began(), None);
    let asked = tokio::time::Instant::now();
    handle.request_shutdown();
    assert_eq!(handle.shutdown_began(), Some(asked));
    running.wait().await?;
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_millis(2100),
        "{took:?}"
    );
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_batch_is_enqueued_in_order_and_refused_once_stopped() -> TestResult {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let recorded = Arc::clone(&seen);
    let queue = TaskSpec::queue("Log", move |n: u32, _ctx| {
        recorded.lock().expect("lock").push(n);
        async { Ok(()) }
    });
    let running = VService::new("Svc")
        .with_task(queue)
        .start_with_args(["svc"])
        .await?;
    let sender = running.handle().queue::<u32, ()>("Log")?;
    sender.enqueue_all(1..=5).await?;
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(*seen.lock().expect("lock"), [1, 2, 3, 4, 5]);
    running.shutdown().await?;
    assert!(matches!(
        sender.enqueue_all([6, 7]).await,
        Err(Error::TaskNotRunning(task)) if task == "Log"
    ));
    assert_eq!(seen.lock().expect("lock").len(), 5);
    Ok(())
}
