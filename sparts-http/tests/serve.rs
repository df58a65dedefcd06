//! Serving over TCP: hello world, user routes, a port in use, two tasks
//! side by side, garbage on the wire. Binding itself (IPv4 and IPv6, hosts,
//! option conflicts) is tested with the listeners, in sparts-core.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::StatusCode;
use axum::routing::get;
use common::{PATIENCE, TestResult, client, start};
use sparts_core::{IntoTaskSpec, Peer, VService, counters::Counter};
use sparts_http::HttpTask;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn default_task_says_hello_world() -> TestResult {
    let s = start(
        VService::new("Hello").with_task(HttpTask::default()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let response = client().get(s.url("/")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await?, "Hello, world");
    let missing = client().get(s.url("/nope")).send().await?;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let handle = s.running.handle().clone();
    assert_eq!(handle.counter("HttpTask.requests")?, 2.0);
    assert_eq!(handle.counter("HttpTask.responses_2xx")?, 1.0);
    assert_eq!(handle.counter("HttpTask.responses_4xx")?, 1.0);
    assert_eq!(handle.counter("HttpTask.errors")?, 0.0, "a 404 is no error");
    assert_eq!(handle.counter("HttpTask.connections")?, 2.0);
    assert_eq!(handle.counter("HttpTask.latency_ms.count.60")?, 2.0);
    assert!(handle.counter("HttpTask.latency_ms.max.600")? >= 0.0);
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn user_routes_with_state_are_served_and_counted() -> TestResult {
    let hits = Arc::new(AtomicU64::new(0));
    let router = Router::new()
        .route(
            "/hits",
            get(|State(hits): State<Arc<AtomicU64>>| async move {
                (hits.fetch_add(1, Ordering::Relaxed) + 1).to_string()
            }),
        )
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "broken") }),
        )
        .with_state(Arc::clone(&hits));
    let s = start(
        VService::new("Api").with_task(HttpTask::new(router)),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let c = client();
    assert_eq!(c.get(s.url("/hits")).send().await?.text().await?, "1");
    assert_eq!(c.get(s.url("/hits")).send().await?.text().await?, "2");
    assert_eq!(
        c.get(s.url("/fail")).send().await?.status(),
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // The user's router has no `/`: the default hello world is not added.
    assert_eq!(
        c.get(s.url("/")).send().await?.status(),
        StatusCode::NOT_FOUND
    );
    // The built-in endpoints are there beside the user's routes.
    assert_eq!(
        c.get(s.url("/healthz")).send().await?.status(),
        StatusCode::OK
    );
    let handle = s.running.handle().clone();
    assert_eq!(
        handle.counter("HttpTask.requests")?,
        4.0,
        "the probe is not user traffic"
    );
    assert_eq!(handle.counter("HttpTask.responses_2xx")?, 2.0);
    assert_eq!(handle.counter("HttpTask.responses_4xx")?, 1.0);
    assert_eq!(handle.counter("HttpTask.responses_5xx")?, 1.0);
    assert_eq!(handle.counter("HttpTask.errors")?, 1.0, "the 500");
    s.running.shutdown().await?;
    assert_eq!(hits.load(Ordering::Relaxed), 2);
    Ok(())
}

#[tokio::test]
async fn a_router_built_at_start_exports_its_own_counters() -> TestResult {
    let task = HttpTask::from_fn(|ctx| {
        let pings = ctx.counters().counter("pings");
        Router::new()
            .route(
                "/ping",
                get(|State(pings): State<Counter>| async move {
                    pings.increment();
                    "pong"
                }),
            )
            .with_state(pings)
    });
    let s = start(
        VService::new("Api").with_task(task),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    assert_eq!(
        client().get(s.url("/ping")).send().await?.text().await?,
        "pong"
    );
    assert_eq!(s.running.handle().counter("HttpTask.pings")?, 1.0);
    let metrics = client().get(s.url("/metrics")).send().await?.text().await?;
    assert!(
        metrics.contains("# TYPE pings_total counter\n")
            && metrics.contains("\npings_total{task=\"HttpTask\"} 1.0\n"),
        "{metrics}"
    );
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn connect_info_gives_handlers_the_peer() -> TestResult {
    let router = Router::new()
        .route(
            "/addr",
            get(|ConnectInfo(addr): ConnectInfo<SocketAddr>| async move { addr.ip().to_string() }),
        )
        .route(
            "/peer",
            get(|ConnectInfo(peer): ConnectInfo<Peer>| async move { peer.to_string() }),
        );
    let s = start(
        VService::new("Api").with_task(HttpTask::new(router.clone()).with_connect_info()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    assert_eq!(
        client().get(s.url("/addr")).send().await?.text().await?,
        "127.0.0.1"
    );
    assert_eq!(
        client().get(s.url("/peer")).send().await?.text().await?,
        "127.0.0.1"
    );
    s.running.shutdown().await?;

    // Off by default: the extractor refuses, as with plain axum::serve.
    let s = start(
        VService::new("Api").with_task(HttpTask::new(router)),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let status = client().get(s.url("/addr")).send().await?.status();
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn a_port_in_use_stops_the_start_naming_the_task_and_address() -> TestResult {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let err = start(
        VService::new("Hello").with_task(HttpTask::default()),
        &["--http-host", "127.0.0.1", "--http-port", &port.to_string()],
    )
    .await
    .err()
    .expect("the start fails");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("in use"),
        "{msg}"
    );
    assert!(msg.contains("HttpTask"), "names the task: {msg}");
    Ok(())
}

#[tokio::test]
async fn a_second_task_serves_admin_on_its_own_port() -> TestResult {
    let public = Router::new().route("/", get(|| async { "public" }));
    let service = VService::new("Site")
        .with_task(HttpTask::new(public).without_admin().without_metrics())
        .with_task(
            HttpTask::new(Router::new())
                .with_name("AdminHttp")
                .with_prefix("admin"),
        );
    let s = start(
        service,
        &["--http-host", "127.0.0.1", "--admin-host", "127.0.0.1"],
    )
    .await?;
    let admin = s.running.handle().require_named::<HttpTask>("AdminHttp")?;
    let admin_port = admin.port().expect("a port");
    assert_ne!(admin_port, s.port());
    let c = client();
    assert_eq!(c.get(s.url("/")).send().await?.text().await?, "public");
    assert_eq!(
        c.get(s.url("/admin/status")).send().await?.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        c.get(s.url("/metrics")).send().await?.status(),
        StatusCode::NOT_FOUND
    );
    let admin_url = |p: &str| format!("http://127.0.0.1:{admin_port}{p}");
    assert_eq!(
        c.get(admin_url("/admin/status")).send().await?.status(),
        StatusCode::OK
    );
    let metrics = c.get(admin_url("/metrics")).send().await?.text().await?;
    // One family, a series per task; the public task has no admin or
    // metrics endpoints, so those paths are its user's, unmatched.
    for want in [
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/",status="200"} 1"#,
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="unmatched",status="404"} 2"#,
        r#"sparts_server_connections_total{task="HttpTask"} 3"#,
        r#"sparts_server_connections_total{task="AdminHttp"} 2"#,
    ] {
        assert!(metrics.contains(want), "{want} in {metrics}");
    }
    assert!(
        !metrics.contains(r#"task="AdminHttp",method"#),
        "the admin task served only built-in endpoints: {metrics}"
    );
    let options = s.running.handle().options();
    assert!(options.contains_key("admin_port") && options.contains_key("http_port"));
    s.running.shutdown().await?;
    Ok(())
}

/// Bytes no HTTP parser accepts, the same every run.
fn garbage(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed;
    (0..len)
        .map(|_| {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (x >> 56) as u8
        })
        .collect()
}

#[tokio::test]
async fn garbage_on_the_wire_does_not_hurt_the_server() -> TestResult {
    let s = start(
        VService::new("Hello").with_task(HttpTask::default()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let inputs: Vec<Vec<u8>> = vec![
        garbage(4096, 1),
        garbage(100, 2),
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n".to_vec(),
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03".to_vec(),
        [
            b"GET /".as_slice(),
            &vec![b'a'; 100_000],
            b" HTTP/1.1\r\n\r\n",
        ]
        .concat(),
    ];
    for input in inputs {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", s.port())).await?;
        // The server may close before reading everything: a write error is fine.
        let _ = stream.write_all(&input).await;
        let mut reply = Vec::new();
        let read = tokio::time::timeout(PATIENCE, stream.read_to_end(&mut reply)).await;
        assert!(read.is_ok(), "the server closes a garbage connection");
        if !reply.is_empty() {
            assert!(
                reply.starts_with(b"HTTP/1.1 4"),
                "{:?}",
                String::from_utf8_lossy(&reply)
            );
        }
    }
    // A connection that sends half a request and leaves.
    let mut half = tokio::net::TcpStream::connect(("127.0.0.1", s.port())).await?;
    half.write_all(b"GET / HT").await?;
    drop(half);

    let body = client().get(s.url("/")).send().await?.text().await?;
    assert_eq!(body, "Hello, world");
    let handle = s.running.handle();
    assert!(handle.status().is_serving());
    assert_eq!(
        handle.counter("HttpTask.bad_input")?,
        5.0,
        "each garbage connection, not the half request"
    );
    assert_eq!(handle.counter("HttpTask.requests")?, 1.0);
    s.running.shutdown().await?;
    Ok(())
}
