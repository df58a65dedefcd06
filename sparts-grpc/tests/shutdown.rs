//! The shutdown sequence: calls in flight finish, the lame duck keeps
//! serving, streams still open at the end of the budget are cut.

mod common;

use std::time::Duration;

use common::{PATIENCE, TestResult, greeter_task, start, start_greeter};
use futures_util::StreamExt as _;
use sparts_core::{TaskSpec, VService};
use sparts_grpc::pb::helloworld::HelloRequest;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use tokio::time::Instant;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test]
async fn a_call_in_flight_completes_during_shutdown() -> TestResult {
    let started = start_greeter(&["--shutdown-timeout", "5"]).await?;
    let port = started.port();
    let mut greeter = GreeterClient::new(started.channel().await?);
    let call = tokio::spawn(async move {
        greeter
            .say_hello(HelloRequest {
                name: "slow:300".into(),
            })
            .await
    });
    // The call has reached the handler once it is counted.
    let handle = started.running.handle().clone();
    let deadline = Instant::now() + PATIENCE;
    while handle.counter("GrpcTask.open_streams")? < 1.0 {
        assert!(Instant::now() < deadline, "the call never arrived");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let began = Instant::now();
    started.running.shutdown().await?;
    let reply = call.await??.into_inner();
    assert_eq!(reply.message, "Hello slow:300!");
    // Drained, not cut: well before the 5 s budget.
    assert!(
        began.elapsed() < Duration::from_secs(3),
        "{:?}",
        began.elapsed()
    );
    assert!(common::channel(port).await.is_err(), "still accepting");
    Ok(())
}

#[tokio::test]
async fn the_lame_duck_accepts_new_connections_then_stops() -> TestResult {
    let started = start_greeter(&["--grpc-lameduck", "0.5", "--shutdown-timeout", "5"]).await?;
    let port = started.port();
    let handle = started.running.handle().clone();
    let began = Instant::now();
    handle.request_shutdown();
    let mut health = HealthClient::new(common::channel(port).await?);
    let status = health
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::NotServing);
    drop(health);
    tokio::time::timeout(PATIENCE, started.running.wait()).await??;
    assert!(
        began.elapsed() >= Duration::from_millis(500),
        "{:?}",
        began.elapsed()
    );
    assert!(common::channel(port).await.is_err(), "still accepting");
    Ok(())
}

#[tokio::test]
async fn streams_still_open_at_the_end_of_the_budget_are_cut() -> TestResult {
    let started = start_greeter(&["--shutdown-timeout", "1"]).await?;
    let handle = started.running.handle().clone();
    let mut watch = serving_watch(&started).await?;

    let began = Instant::now();
    handle.request_shutdown();
    let next = tokio::time::timeout(PATIENCE, watch.next())
        .await?
        .expect("an update")?;
    assert_eq!(next.status(), ServingStatus::NotServing);
    tokio::time::timeout(PATIENCE, started.running.wait()).await??;
    let took = began.elapsed();
    // Held until shortly before the 1 s budget ran out, then cut by the
    // task itself (counted), with a clean exit. No upper bound on the wall
    // clock: on a busy machine it says more about the machine than about
    // the cut, which the counter shows.
    assert!(took >= Duration::from_millis(800), "{took:?}");
    assert_eq!(handle.counter("GrpcTask.cut_connections")?, 1.0);
    // The stream ends with an error rather than hanging.
    let end = tokio::time::timeout(PATIENCE, watch.next()).await?;
    assert!(!matches!(end, Some(Ok(_))), "{end:?}");
    Ok(())
}

#[tokio::test]
async fn the_cut_counts_from_the_moment_shutdown_began() -> TestResult {
    let service = VService::new("Svc")
        .with_task(greeter_task())
        .with_task(TaskSpec::task("SlowToStop", |ctx| async move {
            // Stopped before the server, it takes most of the budget to end:
            // the server's own stop comes late.
            ctx.stopped().await;
            tokio::time::sleep(Duration::from_millis(1500)).await;
            Ok(())
        }));
    let started = start(service, &["--shutdown-timeout", "2"]).await?;
    let handle = started.running.handle().clone();
    // Held open: the stream the shutdown has to cut.
    let _watch = serving_watch(&started).await?;

    let began = Instant::now();
    tokio::time::timeout(PATIENCE, started.running.shutdown()).await??;
    let took = began.elapsed();
    // Counted from its own stop (1.5 s in), the task would cut at 3.3 s
    // and be aborted at 2 s with nothing counted; counted from the moment
    // shutdown began, it cuts at 1.8 s and exits cleanly.
    assert!(took >= Duration::from_millis(1800), "{took:?}");
    assert_eq!(handle.counter("GrpcTask.cut_connections")?, 1.0);
    assert_eq!(handle.counter("GrpcTask.open_connections")?, 0.0);
    Ok(())
}

/// A health watch on the whole server, a stream that stays open, once its
/// first update said SERVING.
async fn serving_watch(
    started: &common::Started,
) -> Result<
    tonic::Streaming<tonic_health::pb::HealthCheckResponse>,
    Box<dyn std::error::Error + Send + Sync>,
> {
    let mut watch = HealthClient::new(started.channel().await?)
        .watch(HealthCheckRequest {
            service: String::new(),
        })
        .await?
        .into_inner();
    let first = tokio::time::timeout(PATIENCE, watch.next())
        .await?
        .expect("an update")?;
    assert_eq!(first.status(), ServingStatus::Serving);
    Ok(watch)
}
