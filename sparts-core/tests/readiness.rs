//! Readiness holds: a task holds the service not ready with a reason,
//! which the status details show without a warning, until the hold is
//! released or the task ends.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use sparts_core::{Result, Status, TaskContext, TaskSpec, VService};

const WARM_STEP: Duration = Duration::from_secs(30);

/// Waits until readiness is `want`, which must come with no virtual time
/// passing (the bound is a second of it).
async fn at_once(ready: &mut watch::Receiver<bool>, want: bool) {
    tokio::time::timeout(Duration::from_secs(1), ready.wait_for(|r| *r == want))
        .await
        .unwrap_or_else(|_| panic!("readiness {want} at once"))
        .expect("open");
}

/// A task that holds the service not ready while its cache warms in
/// two steps of 30 s, then serves until stopped.
fn warmer() -> TaskSpec {
    TaskSpec::task("Warmer", |ctx: TaskContext| async move {
        let warming = ctx.service().hold_not_ready("cache warming: 0 of 2");
        if !ctx.sleep(WARM_STEP).await {
            return Ok(());
        }
        warming.set_reason("cache warming: 1 of 2");
        if !ctx.sleep(WARM_STEP).await {
            return Ok(());
        }
        warming.release();
        ctx.stopped().await;
        Ok(())
    })
}

#[tokio::test(start_paused = true)]
async fn the_service_is_ready_when_the_last_hold_is_released() -> Result<()> {
    let running = VService::new("Cache")
        .with_task(warmer())
        .start_with_args(["cache"])
        .await?;
    let handle = running.handle().clone();
    let mut ready = handle.watch_ready();
    // The warmer takes its hold when its run begins, which may come
    // just after the start returns; no virtual time passes meanwhile.
    at_once(&mut ready, false).await;
    let started = Instant::now();
    assert_eq!(handle.status(), Status::Alive, "held is not a warning");
    assert_eq!(handle.status_details(), "not ready: cache warming: 0 of 2");

    // A second hold of the test's own, for longer than the warm-up.
    let database = handle.hold_not_ready("database down\nsince 12:00");
    tokio::time::sleep(WARM_STEP + Duration::from_secs(1)).await;
    assert_eq!(
        handle.readiness().holds,
        ["cache warming: 1 of 2", "database down since 12:00"],
        "the warmer's reason changed in place; line breaks are spaces"
    );
    assert!(!ready.has_changed().expect("open"), "still not ready");

    tokio::time::sleep(WARM_STEP).await;
    assert_eq!(
        handle.readiness().holds,
        ["database down since 12:00"],
        "the warmer released its hold"
    );
    assert!(!handle.is_ready());
    database.set_reason("database reconnecting");
    assert_eq!(handle.status_details(), "not ready: database reconnecting");

    tokio::time::sleep(Duration::from_secs(10)).await;
    let released_at = Instant::now();
    drop(database);
    at_once(&mut ready, true).await;
    assert_eq!(
        released_at - started,
        2 * WARM_STEP + Duration::from_secs(11)
    );
    assert_eq!(handle.status_details(), "");
    assert_eq!(handle.status(), Status::Alive);

    // Shutdown turns readiness off; a hold taken meanwhile changes
    // nothing, and one that outlives the service drops quietly.
    let late = handle.hold_not_ready("late");
    handle.request_shutdown();
    ready.wait_for(|r| !*r).await.expect("open");
    running.wait().await?;
    assert!(!handle.is_ready());
    drop(late);
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_hold_held_by_a_task_ends_with_the_task() -> Result<()> {
    let running = VService::new("Held")
        .with_task(TaskSpec::task("Migrator", |ctx: TaskContext| async move {
            let _migrating = ctx.service().hold_not_ready("migrating");
            ctx.stopped().await;
            Ok(())
        }))
        .start_with_args(["held"])
        .await?;
    let handle = running.handle().clone();
    let mut ready = handle.watch_ready();
    at_once(&mut ready, false).await;
    assert_eq!(handle.readiness().holds, ["migrating"]);
    running.shutdown().await?;
    assert!(
        handle.readiness().holds.is_empty(),
        "released as the task stopped"
    );
    Ok(())
}
