//! `PollerTask` on tokio's paused clock: change detection, waiting for the
//! first value, and what a stopped or failing poller does.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::{
    BoxError, Error, RunningService, TryLater, VService,
    tasks::{Poller, PollerContext, PollerTask},
};
use tokio::time::{Instant, sleep, timeout};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const SEC: Duration = Duration::from_secs(1);

/// What one fetch gives.
#[derive(Debug, Clone, Copy)]
enum Fetch {
    Value(u32),
    Later(Duration),
    Fail(&'static str),
}

/// A change as `on_value_changed` saw it: (old, new).
type Change = (Option<u32>, u32);

/// A poller that follows a script (its last step repeats) and records the
/// changes it is told about.
#[derive(Clone)]
struct Gauge {
    script: Arc<Vec<Fetch>>,
    calls: Arc<AtomicUsize>,
    changes: Arc<Mutex<Vec<Change>>>,
}

impl Gauge {
    fn new(script: impl Into<Vec<Fetch>>) -> Self {
        Self {
            script: Arc::new(script.into()),
            calls: Arc::default(),
            changes: Arc::default(),
        }
    }

    fn changes(&self) -> Vec<Change> {
        self.changes.lock().expect("changes lock").clone()
    }
}

impl Poller for Gauge {
    type Value = u32;

    async fn fetch(&self, _ctx: &PollerContext) -> Result<u32, BoxError> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        match self.script.get(call).or(self.script.last()).copied() {
            Some(Fetch::Value(v)) => Ok(v),
            Some(Fetch::Later(d)) => Err(TryLater::after(d).into()),
            Some(Fetch::Fail(message)) => Err(message.into()),
            None => Err("empty script".into()),
        }
    }

    fn on_value_changed(&self, _ctx: &PollerContext, old: Option<&u32>, new: &u32) {
        self.changes
            .lock()
            .expect("changes lock")
            .push((old.copied(), *new));
    }
}

async fn start(gauge: &Gauge) -> Result<RunningService, Error> {
    VService::new("Svc")
        .with_task(PollerTask::new(gauge.clone()))
        .start_with_args(["svc", "--gauge-interval", "1"])
        .await
}

#[tokio::test(start_paused = true)]
async fn reports_only_changes() -> TestResult {
    use Fetch::Value;
    let gauge = Gauge::new([Value(1), Value(1), Value(2), Value(2), Value(2), Value(3)]);
    let running = start(&gauge).await?;
    let handle = running.handle();
    sleep(SEC * 5 + SEC / 2).await;
    assert_eq!(gauge.changes(), [(None, 1), (Some(1), 2), (Some(2), 3)]);
    let task = handle.require::<PollerTask<Gauge>>()?;
    assert_eq!(task.current_value(), Some(3));
    assert_eq!(task.value(Duration::ZERO).await?, 3);
    assert_eq!(handle.counter("Gauge.n_iterations")?, 6.0, "one per fetch");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn value_waits_for_the_first_fetch() -> TestResult {
    let gauge = Gauge::new([Fetch::Later(SEC * 3), Fetch::Value(7)]);
    let t0 = Instant::now();
    let running = start(&gauge).await?;
    let task = running.handle().require::<PollerTask<Gauge>>()?;
    assert_eq!(task.current_value(), None);

    let err = task.value(SEC).await.expect_err("nothing fetched yet");
    assert!(
        matches!(&err, Error::NoValue { task, waited } if task == "Gauge" && *waited == SEC),
        "{err}"
    );
    assert_eq!(task.value(SEC * 10).await?, 7);
    assert_eq!(t0.elapsed(), SEC * 3, "as soon as the retry fetched it");
    assert_eq!(running.handle().counter("Gauge.n_try_later")?, 1.0);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn value_fails_when_the_poller_is_not_running() -> TestResult {
    let gauge = Gauge::new([Fetch::Later(SEC * 60)]);
    let template = PollerTask::new(gauge.clone());
    let err = timeout(Duration::ZERO, template.value(SEC * 10))
        .await?
        .expect_err("never started");
    assert!(matches!(err, Error::TaskNotRunning(_)), "{err}");

    let running = start(&gauge).await?;
    let task = running.handle().require::<PollerTask<Gauge>>()?;
    let waiting = tokio::spawn({
        let task = Arc::clone(&task);
        async move { task.value(SEC * 3600).await }
    });
    let t0 = Instant::now();
    sleep(SEC).await;
    running.shutdown().await?;
    let err = waiting.await?.expect_err("stopped before any value");
    assert!(matches!(err, Error::TaskNotRunning(_)), "{err}");
    assert_eq!(t0.elapsed(), SEC, "not after the hour-long timeout");
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn the_last_value_outlives_the_task() -> TestResult {
    let gauge = Gauge::new([Fetch::Value(5)]);
    let running = start(&gauge).await?;
    let task = running.handle().require::<PollerTask<Gauge>>()?;
    assert_eq!(task.value(SEC).await?, 5);
    running.shutdown().await?;
    assert_eq!(timeout(Duration::ZERO, task.value(SEC)).await??, 5);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_fetch_error_fails_the_service() -> TestResult {
    let gauge = Gauge::new([Fetch::Value(1), Fetch::Fail("sensor unplugged")]);
    let running = start(&gauge).await?;
    let result = timeout(SEC * 5, running.wait()).await?;
    match result {
        Err(Error::TaskFailed(failure)) => {
            assert_eq!(failure.task, "Gauge");
            assert_eq!(failure.error.to_string(), "sensor unplugged");
        }
        other => panic!("expected the poller's failure, got {other:?}"),
    }
    assert_eq!(gauge.changes(), [(None, 1)]);
    Ok(())
}
