//! The user's service, health, reflection and counters over real sockets
//! with tonic clients.

mod common;

use common::{PATIENCE, TestResult, start, start_greeter};
use futures_util::StreamExt as _;
use sparts_core::VService;
use sparts_core::telemetry::Format;
use sparts_grpc::GrpcTask;
use sparts_grpc::pb::helloworld::HelloRequest;
use sparts_grpc::pb::helloworld::greeter_client::GreeterClient;
use sparts_grpc::pb::helloworld::greeter_server::GreeterServer;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn greeter_answers_and_is_counted() -> TestResult {
    let started = start_greeter(&[]).await?;
    let mut greeter = GreeterClient::new(started.channel().await?);
    let reply = greeter
        .say_hello(HelloRequest {
            name: "sparts".into(),
        })
        .await?
        .into_inner();
    assert_eq!(reply.message, "Hello sparts!");
    let err = greeter
        .say_hello(HelloRequest {
            name: "fail".into(),
        })
        .await
        .expect_err("an error");
    assert_eq!(err.code(), tonic::Code::InvalidArgument);

    let handle = started.running.handle();
    assert_eq!(handle.counter("GrpcTask.requests")?, 2.0);
    assert_eq!(handle.counter("GrpcTask.errors")?, 1.0);
    assert_eq!(handle.counter("GrpcTask.errors.INVALID_ARGUMENT")?, 1.0);
    assert_eq!(
        handle.counter("GrpcTask.helloworld.Greeter.SayHello.latency_ms.count.60")?,
        2.0
    );
    assert_eq!(handle.counter("GrpcTask.open_streams")?, 0.0);
    let text = handle.telemetry().render(Format::Prometheus)?;
    for code in ["OK", "INVALID_ARGUMENT"] {
        let want = format!(
            r#"rpc_server_call_duration_seconds_count{{task="GrpcTask",system="grpc",service="helloworld.Greeter",method="SayHello",code="{code}"}} 1"#
        );
        assert!(text.contains(&want), "{want} in {text}");
    }
    assert!(
        text.contains(r#"open_streams{task="GrpcTask"} 0"#),
        "{text}"
    );
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn unknown_method_is_unimplemented_and_not_a_method_counter() -> TestResult {
    let started = start_greeter(&[]).await?;
    let mut client = tonic::client::Grpc::new(started.channel().await?);
    let codec = tonic_prost::ProstCodec::<HelloRequest, HelloRequest>::default();
    // An unknown service, and an unknown method of a hosted one.
    for path in ["/nope.Nope/Nothing", "/helloworld.Greeter/Nothing"] {
        let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
        client.ready().await?;
        let err = client
            .unary(
                tonic::Request::new(HelloRequest::default()),
                path,
                codec.clone(),
            )
            .await
            .expect_err("unimplemented");
        assert_eq!(err.code(), tonic::Code::Unimplemented);
    }
    let handle = started.running.handle();
    assert_eq!(handle.counter("GrpcTask.errors.UNIMPLEMENTED")?, 2.0);
    for method in ["nope.Nope.Nothing", "helloworld.Greeter.Nothing"] {
        let name = format!("GrpcTask.{method}.latency_ms.count.60");
        assert!(handle.counter(&name).is_err(), "{name}");
    }
    let text = handle.telemetry().render(Format::Prometheus)?;
    assert!(
        !text.contains("Nothing") && !text.contains("UNIMPLEMENTED"),
        "{text}"
    );
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn health_serves_every_hosted_service_and_knows_no_others() -> TestResult {
    let started = start_greeter(&[]).await?;
    let mut health = HealthClient::new(started.channel().await?);
    for name in ["", "helloworld.Greeter", "sparts.admin.v1.Admin"] {
        let status = health.check(check(name)).await?.into_inner().status();
        assert_eq!(status, ServingStatus::Serving, "{name:?}");
    }
    let err = health.check(check("no.Such")).await.expect_err("unknown");
    assert_eq!(err.code(), tonic::Code::NotFound);
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn health_watch_turns_not_serving_as_soon_as_shutdown_begins() -> TestResult {
    let started = start_greeter(&["--grpc-lameduck", "5", "--shutdown-timeout", "8"]).await?;
    let channel = started.channel().await?;
    let mut health = HealthClient::new(channel.clone());
    let mut watch = health.watch(check("")).await?.into_inner();
    let first = tokio::time::timeout(PATIENCE, watch.next())
        .await?
        .expect("an update")?;
    assert_eq!(first.status(), ServingStatus::Serving);

    started.running.handle().request_shutdown();
    let next = tokio::time::timeout(PATIENCE, watch.next())
        .await?
        .expect("an update")?;
    assert_eq!(next.status(), ServingStatus::NotServing);
    // Lame duck: still answering, NOT_SERVING, and the user's calls work.
    let status = health
        .check(check("helloworld.Greeter"))
        .await?
        .into_inner()
        .status();
    assert_eq!(status, ServingStatus::NotServing);
    let mut greeter = GreeterClient::new(channel);
    greeter
        .say_hello(HelloRequest {
            name: "late".into(),
        })
        .await?;
    Ok(())
}

#[tokio::test]
async fn a_service_added_twice_stops_the_start_naming_it() -> TestResult {
    let twice = common::greeter_task().with_service(GreeterServer::new(common::Hello));
    let err = start(VService::new("Svc").with_task(twice), &[])
        .await
        .err()
        .expect("refused");
    let msg = err.to_string();
    assert!(
        msg.contains("`helloworld.Greeter` is added twice") && msg.contains("GrpcTask"),
        "{msg}"
    );

    // A service of a built-in's name, with the built-in on.
    let (_, health) = tonic_health::server::health_reporter();
    let clash = GrpcTask::new().with_service(health);
    let err = start(VService::new("Svc").with_task(clash), &[])
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("grpc.health.v1.Health"), "{err}");
    Ok(())
}

#[tokio::test]
async fn health_can_be_left_out() -> TestResult {
    let task = common::greeter_task()
        .without_health()
        .without_reflection()
        .without_admin();
    let started = start(VService::new("Svc").with_task(task), &[]).await?;
    let mut health = HealthClient::new(started.channel().await?);
    let err = health.check(check("")).await.expect_err("no health");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert_eq!(started.grpc.service_names(), ["helloworld.Greeter"]);
    started.running.shutdown().await?;
    Ok(())
}

/// Every service reflection lists, through the v1 protocol.
async fn list_v1(port: u16) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(common::channel(port).await?);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.next().await.expect("a reply")?;
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            Ok(names)
        }
        other => Err(format!("unexpected reply {other:?}").into()),
    }
}

/// The same through v1alpha, which many tools still speak.
async fn list_v1alpha(port: u16) -> Result<Vec<String>, Box<dyn std::error::Error + Send + Sync>> {
    use tonic_reflection::pb::v1alpha::ServerReflectionRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1alpha::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1alpha::server_reflection_response::MessageResponse;

    let mut client = ServerReflectionClient::new(common::channel(port).await?);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut replies = client
        .server_reflection_info(tokio_stream::iter([request]))
        .await?
        .into_inner();
    let reply = replies.next().await.expect("a reply")?;
    match reply.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => {
            let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
            names.sort();
            Ok(names)
        }
        other => Err(format!("unexpected reply {other:?}").into()),
    }
}

#[tokio::test]
async fn reflection_lists_every_hosted_service_in_v1_and_v1alpha() -> TestResult {
    let started = start_greeter(&[]).await?;
    let v1 = list_v1(started.port()).await?;
    assert_eq!(
        v1,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "helloworld.Greeter",
            "sparts.admin.v1.Admin",
        ]
    );
    let v1alpha = list_v1alpha(started.port()).await?;
    assert_eq!(
        v1alpha,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1alpha.ServerReflection",
            "helloworld.Greeter",
            "sparts.admin.v1.Admin",
        ]
    );
    let mut hosted = started.grpc.service_names().to_vec();
    hosted.sort();
    assert_eq!(
        hosted,
        [
            "grpc.health.v1.Health",
            "grpc.reflection.v1.ServerReflection",
            "grpc.reflection.v1alpha.ServerReflection",
            "helloworld.Greeter",
            "sparts.admin.v1.Admin",
        ]
    );
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn two_tasks_run_side_by_side_with_their_prefixes() -> TestResult {
    let service = VService::new("Svc")
        .with_task(common::greeter_task())
        .with_task(
            sparts_core::TaskSpec::new(sparts_grpc::GrpcTask::new())
                .with_name("AdminGrpc")
                .with_prefix("admin"),
        );
    let started = start(service, &["--admin-host", "127.0.0.1"]).await?;
    let admin = started
        .running
        .handle()
        .require_named::<sparts_grpc::GrpcTask>("AdminGrpc")?;
    let admin_port = admin.port().expect("a port");
    assert_ne!(admin_port, started.port());
    let mut health = HealthClient::new(common::channel(admin_port).await?);
    let status = health.check(check("")).await?.into_inner().status();
    assert_eq!(status, ServingStatus::Serving);
    started.running.shutdown().await?;
    Ok(())
}
