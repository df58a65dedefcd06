//! The server kit's shutdown plan inside a running service: its budget
//! counts from the moment the runner began to stop the tasks, for a
//! shutdown and for a restart, even when the server is stopped last.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::server::ShutdownPlan;
use sparts_core::{BoxError, TaskSpec, VService};
use tokio::time::Instant;

type TestResult = Result<(), BoxError>;

/// A server stand-in that records when its plan says the stop began and
/// when it must cut.
fn server(plans: &Arc<Mutex<Vec<(Instant, Instant)>>>) -> TaskSpec {
    let plans = Arc::clone(plans);
    TaskSpec::task("Server", move |ctx| {
        let plans = Arc::clone(&plans);
        async move {
            let plan = ShutdownPlan::wait(&ctx).await;
            plans
                .lock()
                .expect("lock")
                .push((plan.began(), plan.cut_at()));
            ctx.stopped().await;
            Ok(())
        }
    })
}

#[tokio::test(start_paused = true)]
async fn a_restart_plans_from_the_moment_the_runner_began_to_stop() -> TestResult {
    let plans = Arc::new(Mutex::new(Vec::new()));
    let running = VService::new("Svc")
        .with_task(server(&plans))
        .with_task(TaskSpec::task("SlowToStop", |ctx| async move {
            // Stopped before the server, it takes most of the budget to end:
            // the server's own stop comes late.
            ctx.stopped().await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            Ok(())
        }))
        .start_with_args(["svc", "--shutdown-timeout", "4"])
        .await?;
    let handle = running.handle().clone();
    let before = handle.start_count();
    let asked = Instant::now();
    handle.request_restart();
    handle.wait_for_start(before).await?;
    {
        let plans = plans.lock().expect("lock");
        let (began, cut_at) = plans[0];
        // The server was stopped a second after the restart began, but
        // its budget counts from the restart, as the runner's does.
        assert!(
            began - asked < Duration::from_millis(10),
            "{:?}",
            began - asked
        );
        assert_eq!(cut_at - began, Duration::from_millis(3750));
    }
    let asked = Instant::now();
    running.shutdown().await?;
    let plans = plans.lock().expect("lock");
    assert_eq!(plans.len(), 2);
    assert_eq!(plans[1].0, asked, "a shutdown plans from STOPPING");
    Ok(())
}
