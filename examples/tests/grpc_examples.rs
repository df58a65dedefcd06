//! The gRPC example as a real process: it logs its port, answers the
//! Greeter, health and admin calls of a tonic client, and exits 0 on SIGTERM.

mod common;

use common::{Example, PATIENCE, TestResult};
use sparts::grpc::pb::admin::GetStatusRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts::grpc::tonic_health::pb::HealthCheckRequest;
use sparts::grpc::tonic_health::pb::health_check_response::ServingStatus;
use sparts::grpc::tonic_health::pb::health_client::HealthClient;

// Multi-threaded: the client's connection must answer the server's
// shutdown PING while the test thread blocks waiting for the exit.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_hello_greets_reports_health_and_exits_0_on_sigterm() -> TestResult {
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_grpc_hello"), &["--grpc-port", "0"])?;
    let port = child.logged_port("GrpcTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel.clone())
        .say_hello(HelloRequest { name: "you".into() })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello you!");
    let health = HealthClient::new(channel.clone())
        .check(HealthCheckRequest {
            service: "helloworld.Greeter".into(),
        })
        .await?
        .into_inner();
    assert_eq!(health.status(), ServingStatus::Serving);
    let status = AdminClient::new(channel)
        .get_status(GetStatusRequest {})
        .await?
        .into_inner();
    assert_eq!(status.name, "ALIVE");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grpc_http_serves_both_protocols_on_one_port() -> TestResult {
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_grpc_http"), &["--grpc-port", "0"])?;
    let port = child.logged_port("GrpcTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let body = reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()?
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let reply = GreeterClient::new(channel)
        .say_hello(HelloRequest { name: "you".into() })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello you!");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}
