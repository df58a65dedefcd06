//! `sparts.admin.v1.Admin` over real sockets: every method, the status
//! codes for bad input, trusted and untrusted peers.

mod common;

use common::{PATIENCE, TestResult, start_greeter};
use sparts_grpc::pb::admin::admin_client::AdminClient;
use sparts_grpc::pb::admin::*;
use tonic::Code;

#[tokio::test]
async fn reads_answer_from_the_admin_model() -> TestResult {
    let started = start_greeter(&[]).await?;
    let handle = started.running.handle();
    handle.set_exported("build", Some("abc123"));
    let mut admin = AdminClient::new(started.channel().await?);

    let status = admin.get_status(GetStatusRequest {}).await?.into_inner();
    assert_eq!(status.status(), Status::Alive);
    assert_eq!(status.name, "ALIVE");
    assert_eq!(status.details, handle.status_details());

    let all = admin
        .get_counters(GetCountersRequest { filter: None })
        .await?
        .into_inner()
        .counters;
    assert!(all.contains_key("GrpcTask.requests"), "{all:?}");
    let some = admin
        .get_counters(GetCountersRequest {
            filter: Some("^GrpcTask\\.requests$".into()),
        })
        .await?
        .into_inner()
        .counters;
    assert_eq!(some.keys().collect::<Vec<_>>(), ["GrpcTask.requests"]);
    // The calls before this one: GetStatus and two GetCounters.
    assert_eq!(some["GrpcTask.requests"], 3.0);

    let one = admin
        .get_counter(GetCounterRequest {
            name: "GrpcTask.requests".into(),
        })
        .await?
        .into_inner();
    assert_eq!(one.value, 4.0);

    let port = admin
        .get_option(GetOptionRequest {
            name: "grpc_host".into(),
        })
        .await?
        .into_inner();
    assert_eq!(port.value.as_deref(), Some("127.0.0.1"));

    let options = admin
        .list_options(ListOptionsRequest {})
        .await?
        .into_inner();
    assert_eq!(options.options["grpc_lameduck"], "0");
    assert!(
        options.unset.contains(&"grpc_sock".to_owned()),
        "{options:?}"
    );
    assert_eq!(options.sources["grpc_host"], "command_line");
    assert_eq!(options.sources["grpc_lameduck"], "default");

    let exported = admin
        .get_exported_values(GetExportedValuesRequest {})
        .await?
        .into_inner();
    assert_eq!(exported.values["build"], "abc123");

    let since = admin.alive_since(AliveSinceRequest {}).await?.into_inner();
    assert_eq!(since.seconds, handle.alive_since());
    started.running.shutdown().await?;
    Ok(())
}

/// The same mistakes as in the HTTP, Thrift and D-Bus tests, each answered
/// with the code of its `AdminErrorKind`.
#[tokio::test]
async fn bad_input_gets_the_right_status_code() -> TestResult {
    let started = start_greeter(&[]).await?;
    let mut admin = AdminClient::new(started.channel().await?);

    let err = admin
        .get_counter(GetCounterRequest {
            name: "nope".into(),
        })
        .await
        .expect_err("unknown counter");
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("nope"), "{}", err.message());

    let err = admin
        .get_option(GetOptionRequest {
            name: "nope".into(),
        })
        .await
        .expect_err("unknown option");
    assert_eq!(err.code(), Code::NotFound);

    let err = admin
        .set_option(SetOptionRequest {
            name: "nope".into(),
            value: "1".into(),
        })
        .await
        .expect_err("unknown option");
    assert_eq!(err.code(), Code::NotFound);

    let err = admin
        .set_option(SetOptionRequest {
            name: "grpc_lameduck".into(),
            value: "soon".into(),
        })
        .await
        .expect_err("a bad value");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("grpc_lameduck"), "{}", err.message());

    let err = admin
        .get_counters(GetCountersRequest {
            filter: Some("(".into()),
        })
        .await
        .expect_err("a bad pattern");
    assert_eq!(err.code(), Code::InvalidArgument);

    let err = admin
        .set_option(SetOptionRequest {
            name: "pidfile".into(),
            value: "/tmp/other.pid".into(),
        })
        .await
        .expect_err("a read-only option");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        err.message().contains("cannot be changed at run time"),
        "{}",
        err.message()
    );
    assert_eq!(started.running.handle().option("pidfile")?, None);
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn trusted_peers_set_options_reinitialize_and_shut_down() -> TestResult {
    let started = start_greeter(&[]).await?;
    let handle = started.running.handle();
    let mut admin = AdminClient::new(started.channel().await?);

    admin
        .set_option(SetOptionRequest {
            name: "grpc_lameduck".into(),
            value: "0.5".into(),
        })
        .await?;
    assert_eq!(handle.option("grpc_lameduck")?.as_deref(), Some("0.5"));

    let before = handle.require::<sparts_grpc::GrpcTask>()?;
    let starts = handle.start_count();
    admin.reinitialize(ReinitializeRequest {}).await?;
    tokio::time::timeout(PATIENCE, handle.wait_for_start(starts)).await??;
    // The restart gives a new task instance, bound again.
    let after = handle.require::<sparts_grpc::GrpcTask>()?;
    assert!(!std::sync::Arc::ptr_eq(&after, &before), "a new instance");
    let mut admin = AdminClient::new(common::channel(after.port().expect("a port")).await?);
    admin.shutdown(ShutdownRequest {}).await?;
    tokio::time::timeout(PATIENCE, started.running.wait()).await??;
    Ok(())
}

#[tokio::test]
async fn untrusted_peers_are_refused_mutating_calls_only() -> TestResult {
    let started = start_greeter(&["--admin-trusted", "192.0.2.0/24"]).await?;
    let handle = started.running.handle();
    let mut admin = AdminClient::new(started.channel().await?);

    let err = admin
        .set_option(SetOptionRequest {
            name: "grpc_lameduck".into(),
            value: "1".into(),
        })
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(handle.option("grpc_lameduck")?.as_deref(), Some("0"));
    let err = admin
        .reinitialize(ReinitializeRequest {})
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = admin
        .shutdown(ShutdownRequest {})
        .await
        .expect_err("refused");
    assert_eq!(err.code(), Code::PermissionDenied);
    assert_eq!(handle.status(), sparts_core::Status::Alive);

    // Reads stay open.
    admin.get_status(GetStatusRequest {}).await?;
    started.running.shutdown().await?;
    Ok(())
}
