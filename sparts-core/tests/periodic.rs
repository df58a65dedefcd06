//! `PeriodicTask` on tokio's paused clock: counts over a simulated minute,
//! absolute deadlines, overruns, `TryLater`, interval changes at run time,
//! `execute_async`, failures and workers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::{
    BoxError, Error, NoOptions, Periodic, PeriodicContext, PeriodicTask, RunningService, Status,
    TaskSpec, TryLater, VService, counters::Clock,
};
use tokio::time::{Instant, sleep, sleep_until, timeout};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SEC: Duration = Duration::from_secs(1);

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The counters' clock on tokio's (paused) time, so windows follow it exactly.
#[derive(Debug)]
struct TokioClock(Instant);

impl Clock for TokioClock {
    fn now(&self) -> Duration {
        self.0.elapsed()
    }
}

/// What one execution does.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Succeeds after this long.
    Take(Duration),
    /// Asks to be retried, after this delay if any.
    Later(Option<Duration>),
    /// Fails with this message.
    Fail(&'static str),
}

/// A periodic task that follows a script (its last step repeats) and
/// records when each execution starts, relative to `origin`.
#[derive(Clone)]
struct Scripted {
    origin: Instant,
    steps: Arc<Vec<Step>>,
    calls: Arc<AtomicUsize>,
    starts: Arc<Mutex<Vec<Duration>>>,
    workers: Arc<Mutex<Vec<String>>>,
}

impl Scripted {
    fn new(steps: impl Into<Vec<Step>>) -> Self {
        Self {
            origin: Instant::now(),
            steps: Arc::new(steps.into()),
            calls: Arc::default(),
            starts: Arc::default(),
            workers: Arc::default(),
        }
    }

    fn starts(&self) -> Vec<Duration> {
        self.starts.lock().expect("starts lock").clone()
    }
}

/// Returns the index of the execution.
impl Periodic<NoOptions, usize> for Scripted {
    async fn execute(&self, ctx: &PeriodicContext) -> Result<usize, BoxError> {
        self.starts
            .lock()
            .expect("starts lock")
            .push(self.origin.elapsed());
        self.workers
            .lock()
            .expect("workers lock")
            .push(ctx.worker_name().to_owned());
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let step = self.steps.get(call).or(self.steps.last()).copied();
        match step {
            Some(Step::Take(d)) => {
                sleep(d).await;
                Ok(call)
            }
            Some(Step::Later(Some(d))) => Err(TryLater::after(d).into()),
            Some(Step::Later(None)) => Err(TryLater::new().into()),
            Some(Step::Fail(message)) => Err(message.into()),
            None => Ok(call),
        }
    }
}

/// Starts a service with this task and interval, counters on tokio's clock.
async fn start(
    task: PeriodicTask<Scripted, NoOptions, usize>,
    interval: &str,
) -> Result<RunningService, Error> {
    VService::new("Svc")
        .with_clock(Arc::new(TokioClock(Instant::now())))
        .with_task(task)
        .start_with_args(["svc", "--scripted-interval", interval])
        .await
}

fn secs(values: &[f64]) -> Vec<Duration> {
    values.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

#[tokio::test(start_paused = true)]
async fn counts_a_simulated_minute() -> TestResult {
    // 100 ms, 300 ms, 100 ms, ...: 31 of 100 ms and 30 of 300 ms in a minute.
    let steps: Vec<Step> = (0..62)
        .map(|k| Step::Take(ms(if k % 2 == 0 { 100 } else { 300 })))
        .collect();
    let script = Scripted::new(steps);
    let running = start(PeriodicTask::new(script), "1").await?;
    let handle = running.handle().clone();
    assert_eq!(
        handle.counter("Scripted.n_iterations")?,
        0.0,
        "exported at 0"
    );

    sleep(SEC * 60 + ms(500)).await;
    let counters = handle.counters_snapshot();
    let get = |name: &str| counters.get(&format!("Scripted.{name}"));
    assert_eq!(get("n_iterations"), Some(61.0), "at 0, 1, ..., 60 s");
    assert_eq!(get("n_slow_iterations"), Some(0.0));
    assert_eq!(get("n_try_later"), Some(0.0));
    assert_eq!(get("execute_duration_ms.max.60"), Some(300.0));
    assert_eq!(get("execute_duration_ms.min.60"), Some(100.0));
    assert_eq!(get("execute_duration_ms.max.240"), Some(300.0));
    let avg = get("execute_duration_ms.avg.240").ok_or("no avg.240")?;
    let expected = (31.0 * 100.0 + 30.0 * 300.0) / 61.0;
    assert!(
        (avg - expected).abs() < 1e-9,
        "avg {avg}, expected {expected}"
    );
    assert!(get("execute_duration_ms.avg.60").is_some());
    assert_eq!(
        get("execute_duration_ms.count.60"),
        None,
        "only avg, max, min"
    );
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn deadlines_are_absolute_so_execution_time_does_not_drift() -> TestResult {
    let script = Scripted::new([Step::Take(ms(300))]);
    let running = start(PeriodicTask::new(script.clone()), "1").await?;
    sleep(SEC * 10 + ms(500)).await;
    let expected: Vec<Duration> = (0..=10).map(|k| SEC * k).collect();
    assert_eq!(script.starts(), expected, "not 0, 1.3, 2.6, ...");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_overrun_runs_the_next_at_once_without_a_burst() -> TestResult {
    let script = Scripted::new([
        Step::Take(ms(2500)),
        Step::Take(ms(2500)),
        Step::Take(Duration::ZERO),
    ]);
    let running = start(PeriodicTask::new(script.clone()), "1").await?;
    sleep(SEC * 7 + ms(500)).await;
    assert_eq!(script.starts(), secs(&[0.0, 2.5, 5.0, 6.0, 7.0]));
    let handle = running.handle();
    assert_eq!(handle.counter("Scripted.n_slow_iterations")?, 2.0);
    assert_eq!(handle.counter("Scripted.n_iterations")?, 5.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn try_later_retries_after_its_delay_or_at_the_next_tick() -> TestResult {
    let script = Scripted::new([
        Step::Later(Some(ms(200))),
        Step::Later(Some(ms(200))),
        Step::Take(Duration::ZERO),
        Step::Later(None),
        Step::Take(Duration::ZERO),
    ]);
    let running = start(PeriodicTask::new(script.clone()), "1").await?;
    let task = running
        .handle()
        .require::<PeriodicTask<Scripted, NoOptions, usize>>()?;

    sleep(ms(100)).await;
    let waiting = task.execute_async();
    let result = timeout(SEC, waiting).await?;
    assert_eq!(result?, 2, "the retries are skipped; the success at 0.4 s");
    assert_eq!(script.origin.elapsed(), ms(400));

    sleep_until(script.origin + SEC * 3 + ms(500)).await;
    assert_eq!(script.starts(), secs(&[0.0, 0.2, 0.4, 1.4, 2.4, 3.4]));
    let handle = running.handle();
    assert_eq!(handle.counter("Scripted.n_try_later")?, 3.0);
    assert_eq!(handle.counter("Scripted.n_iterations")?, 3.0);
    assert_eq!(handle.counter("Scripted.n_slow_iterations")?, 0.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_interval_change_applies_from_the_next_tick() -> TestResult {
    let script = Scripted::new([Step::Take(Duration::ZERO)]);
    let running = start(PeriodicTask::new(script.clone()), "10").await?;
    let handle = running.handle();
    assert_eq!(handle.option("scripted_interval")?.as_deref(), Some("10"));

    sleep_until(script.origin + SEC).await;
    // Shorter: the tick due at 10 s moves to 0.5 s, already past: at once.
    handle.set_option("scripted_interval", "0.5")?;
    sleep_until(script.origin + ms(2200)).await;
    // Longer: the tick due at 2.5 s moves to 2 + 2 = 4 s.
    handle.set_option("scripted_interval", "2")?;
    assert!(
        handle.set_option("scripted_interval", "0").is_err(),
        "a zero interval is refused"
    );
    sleep_until(script.origin + ms(6500)).await;
    assert_eq!(script.starts(), secs(&[0.0, 1.0, 1.5, 2.0, 4.0, 6.0]));
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn execute_async_resolves_with_the_next_execution() -> TestResult {
    let script = Scripted::new([Step::Take(ms(300))]);
    let running = start(PeriodicTask::new(script.clone()), "1").await?;
    let task = running
        .handle()
        .require::<PeriodicTask<Scripted, NoOptions, usize>>()?;
    assert!(task.is_running());

    sleep_until(script.origin + ms(500)).await;
    let first = task.execute_async();
    let second = task.execute_async();
    // Registered by the call: polled only after that execution ended.
    sleep_until(script.origin + ms(1600)).await;
    assert_eq!(timeout(Duration::ZERO, first).await??, 1);
    assert_eq!(timeout(Duration::ZERO, second).await??, 1);

    // During the execution that started at 2 s: waits for the one at 3 s.
    sleep_until(script.origin + ms(2100)).await;
    let during = task.execute_async();
    assert_eq!(timeout(SEC * 5, during).await??, 3);
    assert_eq!(script.origin.elapsed(), ms(3300), "when that one ended");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn execute_async_fails_at_once_when_not_running() -> TestResult {
    let template = PeriodicTask::new(Scripted::new([Step::Take(Duration::ZERO)]));
    assert!(!template.is_running());
    let err = timeout(Duration::ZERO, template.execute_async())
        .await?
        .expect_err("never started");
    assert!(
        matches!(&err, Error::TaskNotRunning(name) if name == "Scripted"),
        "{err}"
    );

    let running = start(template.clone(), "10").await?;
    let task = running
        .handle()
        .require::<PeriodicTask<Scripted, NoOptions, usize>>()?;
    sleep(SEC).await;
    let pending = task.execute_async();
    running.shutdown().await?;
    let err = timeout(Duration::ZERO, pending)
        .await?
        .expect_err("the task stopped first");
    assert!(matches!(err, Error::TaskNotRunning(_)), "{err}");
    assert!(!task.is_running());
    let err = timeout(Duration::ZERO, task.execute_async())
        .await?
        .expect_err("stopped");
    assert!(matches!(err, Error::TaskNotRunning(_)), "{err}");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn an_execute_error_fails_the_service() -> TestResult {
    let script = Scripted::new([
        Step::Take(Duration::ZERO),
        Step::Take(Duration::ZERO),
        Step::Fail("the disk is gone"),
    ]);
    let running = start(PeriodicTask::new(script.clone()), "1").await?;
    let task = running
        .handle()
        .require::<PeriodicTask<Scripted, NoOptions, usize>>()?;
    sleep(ms(500)).await;
    let waiters = [task.execute_async(), task.execute_async()];

    let result = timeout(SEC * 5, running.wait()).await?;
    match result {
        Err(Error::TaskFailed(failure)) => {
            assert_eq!(failure.task, "Scripted");
            assert_eq!(failure.error.to_string(), "the disk is gone");
        }
        other => panic!("expected the task's failure, got {other:?}"),
    }
    assert_eq!(script.starts(), secs(&[0.0, 1.0, 2.0]));
    // The waiters got the result of the execution at 1 s.
    for waiter in waiters {
        assert_eq!(timeout(Duration::ZERO, waiter).await??, 1);
    }
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn pending_waiters_get_the_execution_error() -> TestResult {
    let script = Scripted::new([Step::Take(Duration::ZERO), Step::Fail("the disk is gone")]);
    let running = start(PeriodicTask::new(script), "1").await?;
    let task = running
        .handle()
        .require::<PeriodicTask<Scripted, NoOptions, usize>>()?;
    sleep(ms(500)).await;
    let waiter = task.execute_async();
    let err = timeout(SEC * 5, waiter)
        .await?
        .expect_err("the execution at 1 s fails");
    match &err {
        Error::ExecutionFailed { task, error } => {
            assert_eq!(task, "Scripted");
            assert_eq!(error.to_string(), "the disk is gone");
        }
        other => panic!("expected ExecutionFailed, got {other:?}"),
    }
    assert!(
        timeout(Duration::ZERO, task.execute_async())
            .await?
            .is_err(),
        "a failed task is not running"
    );
    assert!(running.wait().await.is_err(), "the service fails");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn workers_run_copies_of_the_schedule() -> TestResult {
    let script = Scripted::new([Step::Take(ms(100))]);
    let running = start(PeriodicTask::new(script.clone()).with_workers(3), "1").await?;
    sleep(SEC * 2 + ms(500)).await;
    assert_eq!(running.handle().counter("Scripted.n_iterations")?, 9.0);
    let mut workers = script.workers.lock().expect("workers lock").clone();
    workers.sort();
    workers.dedup();
    assert_eq!(workers, ["Scripted-0", "Scripted-1", "Scripted-2"]);
    running.shutdown().await?;
    Ok(())
}

/// Options of its own besides the interval.
#[derive(sparts_core::clap::Args, Debug, Clone)]
struct GreeterOptions {
    /// Whom to greet.
    #[arg(long, default_value = "world")]
    name: String,
}

#[derive(Clone)]
struct Greeter;

impl Periodic<GreeterOptions, String> for Greeter {
    const INTERVAL: Duration = Duration::from_millis(250);

    async fn execute(&self, ctx: &PeriodicContext<GreeterOptions>) -> Result<String, BoxError> {
        Ok(format!("hello {}", ctx.options().name))
    }
}

#[tokio::test(start_paused = true)]
async fn a_task_has_options_of_its_own_and_a_default_interval() -> TestResult {
    let running = VService::new("Svc")
        .with_task(PeriodicTask::new(Greeter))
        .start_with_args(["svc", "--greeter-name", "you"])
        .await?;
    let handle = running.handle();
    assert_eq!(handle.option("greeter_interval")?.as_deref(), Some("0.25"));
    let task = handle.require::<PeriodicTask<Greeter, GreeterOptions, String>>()?;
    assert_eq!(task.execute_async().await?, "hello you");
    handle.set_option("greeter_name", "everyone")?;
    assert_eq!(task.execute_async().await?, "hello everyone");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_restart_builds_a_fresh_instance() -> TestResult {
    let script = Scripted::new([Step::Take(Duration::ZERO)]);
    let running = start(PeriodicTask::new(script), "1").await?;
    let handle = running.handle().clone();
    let before = handle.require::<PeriodicTask<Scripted, NoOptions, usize>>()?;
    handle.request_restart();
    let mut after = None;
    for _ in 0..100 {
        sleep(ms(10)).await;
        if let Some(task) = handle.get::<PeriodicTask<Scripted, NoOptions, usize>>()
            && !Arc::ptr_eq(&task, &before)
        {
            after = Some(task);
            break;
        }
    }
    let after = after.ok_or("no new instance after the restart")?;
    assert!(!before.is_running());
    assert!(matches!(
        before.execute_async().await,
        Err(Error::TaskNotRunning(_))
    ));
    assert!(after.is_running());
    timeout(SEC * 2, after.execute_async()).await??;
    running.shutdown().await?;
    Ok(())
}

/// Polls `ready` every 10 ms for at most 5 s of real time.
async fn eventually(what: &str, ready: impl Fn() -> bool) {
    for _ in 0..500 {
        if ready() {
            return;
        }
        sleep(Duration::from_millis(10)).await;
    }
    panic!("not {what} within 5 s");
}

#[tokio::test]
async fn an_upstream_refusing_connections_is_a_warning_until_it_answers() {
    // A port nothing listens on, for now.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let fetch = TaskSpec::periodic("Fetch", move |_ctx| async move {
        match tokio::net::TcpStream::connect(("127.0.0.1", port)).await {
            Ok(_) => Ok(()),
            Err(e) => Err(TryLater::after(Duration::from_millis(20))
                .because(format!("upstream 127.0.0.1:{port}: {e}"))
                .into()),
        }
    });
    let running = VService::new("Upstream")
        .with_logging(false)
        .with_task(fetch.with_default("interval", "0.02"))
        .start_with_args(["upstream"])
        .await
        .expect("starts");
    let handle = running.handle().clone();
    eventually("WARNING", || handle.status() == Status::Warning).await;
    let details = handle.status_details();
    assert!(
        details.contains(&format!(
            "Fetch: upstream 127.0.0.1:{port}: Connection refused"
        )),
        "{details}"
    );
    let _upstream = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the port is still free");
    eventually("ALIVE again", || handle.status() == Status::Alive).await;
    assert!(
        !handle.status_details().contains("upstream"),
        "{}",
        handle.status_details()
    );
    running.shutdown().await.expect("clean stop");
}
