//! Readiness holds over real sockets: gRPC health turns NOT_SERVING (and
//! `Watch` sees it) while a hold is active, the admin service's status
//! stays ALIVE with the reason in its details.

mod common;

use common::{PATIENCE, TestResult, start_greeter};
use futures_util::StreamExt as _;
use sparts_grpc::pb::admin::admin_client::AdminClient;
use sparts_grpc::pb::admin::{GetStatusRequest, Status};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

#[tokio::test]
async fn a_hold_turns_health_not_serving_until_released() -> TestResult {
    let started = start_greeter(&[]).await?;
    let handle = started.running.handle();
    let channel = started.channel().await?;
    let mut health = HealthClient::new(channel.clone());
    let mut watch = health.watch(check("")).await?.into_inner();
    let mut next = async || -> Result<ServingStatus, Box<dyn std::error::Error + Send + Sync>> {
        let update = tokio::time::timeout(PATIENCE, watch.next())
            .await?
            .expect("an update")?;
        Ok(update.status())
    };
    assert_eq!(next().await?, ServingStatus::Serving);

    let database = handle.hold_not_ready("database down");
    assert_eq!(next().await?, ServingStatus::NotServing);
    for name in ["", "helloworld.Greeter", "sparts.admin.v1.Admin"] {
        let status = health.check(check(name)).await?.into_inner().status();
        assert_eq!(status, ServingStatus::NotServing, "{name:?}");
    }
    let mut admin = AdminClient::new(channel);
    let status = admin.get_status(GetStatusRequest {}).await?.into_inner();
    assert_eq!(status.status(), Status::Alive, "held is not a warning");
    assert_eq!(status.details, "not ready: database down");

    // A second hold, and a new reason, change nothing for health; the
    // service serves again only once both are gone.
    let cache = handle.hold_not_ready("cache warming");
    database.set_reason("database reconnecting");
    drop(database);
    let status = admin.get_status(GetStatusRequest {}).await?.into_inner();
    assert_eq!(status.details, "not ready: cache warming");
    let still = health.check(check("")).await?.into_inner().status();
    assert_eq!(still, ServingStatus::NotServing);
    cache.release();
    assert_eq!(next().await?, ServingStatus::Serving);

    // An open Watch would keep its connection busy through the drain.
    drop((watch, health, admin));
    started.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn shutdown_still_turns_health_not_serving_with_no_hold() -> TestResult {
    let started = start_greeter(&["--grpc-lameduck", "5", "--shutdown-timeout", "8"]).await?;
    let handle = started.running.handle();
    let mut health = HealthClient::new(started.channel().await?);
    let hold = handle.hold_not_ready("warming");
    handle.request_shutdown();
    drop(hold);
    // Released during the lame duck: the service stays NOT_SERVING.
    let status = health.check(check("")).await?.into_inner().status();
    assert_eq!(status, ServingStatus::NotServing);
    assert!(!handle.is_ready());
    Ok(())
}
