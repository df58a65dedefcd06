//! Shutdown: readiness turns at once, the lame duck period keeps serving,
//! requests in flight finish, and what outlives the budget is cut.

mod common;

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use common::{PATIENCE, TestResult, client, start};
use http_body::Frame;
use sparts_core::{RunningService, ServiceHandle, TaskSpec, VService};
use sparts_http::HttpTask;
use tokio::sync::{Notify, mpsc};

/// Whether a new TCP connection to the port is refused (the listener is
/// closed), tried every few milliseconds within the patience.
async fn refused_soon(port: u16) -> bool {
    for _ in 0..2000 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    false
}

#[tokio::test]
async fn readiness_turns_at_once_while_the_lame_duck_still_serves() -> TestResult {
    let s = start(
        VService::new("Hello").with_task(HttpTask::default()),
        &["--http-host", "127.0.0.1", "--http-lameduck", "1"],
    )
    .await?;
    let c = client();
    assert_eq!(
        c.get(s.url("/readyz")).send().await?.status(),
        StatusCode::OK
    );

    let asked = Instant::now();
    s.running.handle().request_shutdown();
    let ready = c.get(s.url("/readyz")).send().await?;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready.text().await?, "STOPPING\n");
    // New connections are still accepted and served during the lame duck.
    let hello = c.get(s.url("/")).send().await?;
    assert_eq!(hello.status(), StatusCode::OK);
    assert_eq!(
        c.get(s.url("/healthz")).send().await?.status(),
        StatusCode::OK
    );
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "checked within the lame duck"
    );

    let port = s.port();
    tokio::time::timeout(PATIENCE, s.running.wait()).await??;
    assert!(
        asked.elapsed() >= Duration::from_secs(1),
        "served the whole lame duck"
    );
    assert!(refused_soon(port).await, "closed after it");
    Ok(())
}

/// A handler that tells the test it started, then waits to be released.
#[derive(Clone)]
struct Gate {
    entered: mpsc::UnboundedSender<()>,
    release: Arc<Notify>,
}

async fn slow(State(gate): State<Gate>) -> &'static str {
    let _ = gate.entered.send(());
    gate.release.notified().await;
    "finished"
}

#[tokio::test]
async fn a_request_in_flight_completes_during_shutdown() -> TestResult {
    let (entered, mut started) = mpsc::unbounded_channel();
    let release = Arc::new(Notify::new());
    let gate = Gate {
        entered,
        release: Arc::clone(&release),
    };
    let router = Router::new().route("/slow", get(slow)).with_state(gate);
    let s = start(
        VService::new("Slow").with_task(HttpTask::new(router)),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let handle = s.running.handle().clone();
    let port = s.port();
    let request = tokio::spawn(client().get(s.url("/slow")).send());
    tokio::time::timeout(PATIENCE, started.recv()).await?;

    let service = tokio::spawn(s.running.shutdown());
    assert!(refused_soon(port).await, "stops accepting");
    assert!(!service.is_finished(), "waits for the request in flight");
    release.notify_one();
    let response = tokio::time::timeout(PATIENCE, request).await???;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await?, "finished");
    tokio::time::timeout(PATIENCE, service).await???;
    assert_eq!(handle.counter("HttpTask.cut_connections")?, 0.0);
    Ok(())
}

/// A response body that sends one chunk, then nothing, forever.
struct Endless {
    sent: bool,
}

impl http_body::Body for Endless {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.sent {
            Poll::Pending
        } else {
            self.sent = true;
            Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"tick\n")))))
        }
    }
}

#[tokio::test]
async fn what_outlives_the_budget_is_cut_before_it_ends() -> TestResult {
    let router = Router::new()
        .route("/never", get(std::future::pending::<&'static str>))
        .route(
            "/stream",
            get(|| async { Body::new(Endless { sent: false }) }),
        );
    let s = start(
        VService::new("Stuck").with_task(HttpTask::new(router)),
        &["--http-host", "127.0.0.1", "--shutdown-timeout", "2"],
    )
    .await?;
    let handle = s.running.handle().clone();
    let c = client();
    let never = tokio::spawn(c.get(s.url("/never")).send());
    let mut stream = c.get(s.url("/stream")).send().await?;
    assert_eq!(stream.chunk().await?.as_deref(), Some(b"tick\n".as_slice()));
    // Both connections are open before the shutdown begins.
    wait_for_open_connections(&handle, 2.0).await?;

    // Cut a tenth of the budget before its end, so the core never has to
    // abort the task.
    shut_down_cutting(s.running, 2.0).await?;
    let never = tokio::time::timeout(PATIENCE, never).await??;
    assert!(
        never.is_err(),
        "no response to a request that never finished"
    );
    assert!(
        tokio::time::timeout(PATIENCE, stream.chunk())
            .await?
            .is_err(),
        "the stream ends with an error, not a clean end"
    );
    Ok(())
}

#[tokio::test]
async fn the_cut_counts_from_the_moment_shutdown_began() -> TestResult {
    let router = Router::new().route("/never", get(std::future::pending::<&'static str>));
    let s = start(
        VService::new("Stuck")
            .with_task(HttpTask::new(router))
            .with_task(TaskSpec::task("SlowToStop", |ctx| async move {
                // Stopped before the server, it takes most of the budget to end:
                // the server's own stop comes late.
                ctx.stopped().await;
                tokio::time::sleep(Duration::from_millis(1500)).await;
                Ok(())
            })),
        &["--http-host", "127.0.0.1", "--shutdown-timeout", "2"],
    )
    .await?;
    let handle = s.running.handle().clone();
    let never = tokio::spawn(client().get(s.url("/never")).send());
    wait_for_open_connections(&handle, 1.0).await?;

    // Counted from its own stop (1.5 s in), the server would cut at 3.3 s
    // and be aborted at 2 s with nothing counted; counted from the moment
    // shutdown began, it cuts at 1.8 s and exits cleanly before 2 s.
    shut_down_cutting(s.running, 1.0).await?;
    let never = tokio::time::timeout(PATIENCE, never).await??;
    assert!(never.is_err(), "cut, not answered");
    Ok(())
}

/// Shuts down a service whose `--shutdown-timeout` is 2 s, and checks that
/// the HTTP task cut `cut` connections at 1.8 s, a tenth of the budget
/// before its end, and closed them all before the budget ran out.
async fn shut_down_cutting(running: RunningService, cut: f64) -> TestResult {
    let handle = running.handle().clone();
    let asked = Instant::now();
    tokio::time::timeout(PATIENCE, running.shutdown()).await??;
    let took = asked.elapsed();
    assert!(
        took >= Duration::from_millis(1800) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert_eq!(handle.counter("HttpTask.cut_connections")?, cut);
    assert_eq!(handle.counter("HttpTask.open_connections")?, 0.0);
    Ok(())
}

/// Waits (bounded) until the HTTP task counts `open` open connections.
async fn wait_for_open_connections(handle: &ServiceHandle, open: f64) -> TestResult {
    for _ in 0..2000 {
        if handle.counter("HttpTask.open_connections")? == open {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(handle.counter("HttpTask.open_connections")?, open);
    Ok(())
}
