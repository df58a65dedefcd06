//! gRPC and HTTP on one port: gRPC calls reach the Greeter, other requests
//! the axum router, over HTTP/1.1.

mod common;

use axum::{Router, routing::get};
use common::{PATIENCE, TestResult, start};
use sparts_core::VService;
use sparts_grpc::pb::helloworld::HelloRequest;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_port_serves_both_protocols() -> TestResult {
    let web = Router::new().route("/", get(|| async { "Hello, world" }));
    let task = common::greeter_task().with_http_router(web);
    let started = start(VService::new("Svc").with_task(task), &[]).await?;
    let port = started.port();

    let channel = started.channel().await?;
    let reply = GreeterClient::new(channel.clone())
        .say_hello(HelloRequest {
            name: "both".into(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello both!");
    let health = HealthClient::new(channel)
        .check(HealthCheckRequest::default())
        .await?
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);

    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()?;
    let response = client
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?;
    assert_eq!(response.version(), reqwest::Version::HTTP_11);
    assert_eq!(response.text().await?, "Hello, world");
    let missing = client
        .get(format!("http://127.0.0.1:{port}/nope"))
        .send()
        .await?;
    assert_eq!(missing.status().as_u16(), 404);

    // Only the gRPC calls are counted.
    assert_eq!(started.running.handle().counter("GrpcTask.requests")?, 2.0);
    started.running.shutdown().await?;
    Ok(())
}
