//! The `route` label of the request histogram: the template a request
//! matched, whether its route was noted by the layer on the router or
//! already known to the thread (a path that is its own template), and
//! after a restart that routes the same paths elsewhere.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Path;
use axum::routing::get;
use common::{TestResult, start};
use sparts_core::VService;
use sparts_http::HttpTask;

/// `http_server_request_duration_seconds_count` of `route` and `status`
/// for GET requests of the task `HttpTask`, as `/metrics` shows it.
fn count_of(metrics: &str, route: &str, status: u16) -> Option<u64> {
    let series = format!(
        r#"http_server_request_duration_seconds_count{{task="HttpTask",method="GET",route="{route}",status="{status}"}} "#
    );
    let line = metrics.lines().find(|l| l.starts_with(&series))?;
    line[series.len()..].parse().ok()
}

/// One keep-alive connection for every request, so that they all meet
/// the same server threads again and again.
fn keep_alive_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(common::PATIENCE)
        .build()
        .expect("a client")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeated_paths_keep_their_route_labels() -> TestResult {
    let router = Router::new()
        .route("/", get(|| async { "root" }))
        .route("/items", get(|| async { "items" }))
        .route(
            "/items/{id}",
            get(|Path(id): Path<String>| async move { id }),
        );
    let s = start(
        VService::new("Api").with_task(HttpTask::new(router)),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let c = keep_alive_client();
    for round in 0..20 {
        assert_eq!(c.get(s.url("/")).send().await?.text().await?, "root");
        assert_eq!(c.get(s.url("/items")).send().await?.text().await?, "items");
        let id = format!("{}", round % 3);
        assert_eq!(
            c.get(s.url(&format!("/items/{id}")))
                .send()
                .await?
                .text()
                .await?,
            id
        );
        let missing = c.get(s.url(&format!("/missing/{round}"))).send().await?;
        assert_eq!(missing.status(), 404);
    }
    let metrics = c.get(s.url("/metrics")).send().await?.text().await?;
    assert_eq!(count_of(&metrics, "/", 200), Some(20), "{metrics}");
    assert_eq!(count_of(&metrics, "/items", 200), Some(20), "{metrics}");
    assert_eq!(
        count_of(&metrics, "/items/{id}", 200),
        Some(20),
        "{metrics}"
    );
    assert_eq!(count_of(&metrics, "unmatched", 404), Some(20), "{metrics}");
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_restart_that_routes_a_path_elsewhere_labels_it_anew() -> TestResult {
    // The first router serves `/a` as a route of its own; the routers of
    // later starts serve it through a parameter.
    let starts = Arc::new(AtomicU64::new(0));
    let task = HttpTask::from_fn(move |_ctx| {
        if starts.fetch_add(1, Ordering::SeqCst) == 0 {
            Router::new().route("/a", get(|| async { "static" }))
        } else {
            Router::new().route(
                "/{name}",
                get(|Path(name): Path<String>| async move { name }),
            )
        }
    });
    let s = start(
        VService::new("Api").with_task(task),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let c = keep_alive_client();
    for _ in 0..3 {
        assert_eq!(c.get(s.url("/a")).send().await?.text().await?, "static");
    }
    let handle = s.running.handle().clone();
    let before = handle.start_count();
    handle.request_restart();
    handle.wait_for_start(before).await?;
    let s = common::Started {
        http: handle.require::<HttpTask>()?,
        running: s.running,
    };
    // A new connection: the old one was closed with its server.
    let c = keep_alive_client();
    for _ in 0..3 {
        assert_eq!(c.get(s.url("/a")).send().await?.text().await?, "a");
    }
    let metrics = c.get(s.url("/metrics")).send().await?.text().await?;
    assert_eq!(count_of(&metrics, "/{name}", 200), Some(3), "{metrics}");
    s.running.shutdown().await?;
    Ok(())
}
