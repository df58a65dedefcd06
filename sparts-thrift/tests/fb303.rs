//! fb303 over a real Thrift connection: every method, answered by the admin model.

mod common;

use std::time::Duration;

use common::{FRAMED_BINARY, app_error, blocking, client, port};
use sparts_core::telemetry::Format;
use sparts_core::{Status, VService};
use sparts_thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::{BoxInputProtocol, BoxOutputProtocol, ThriftClient};
use sparts_thrift::{ThriftHandlerTask, ThriftServerTask};
use thrift::ApplicationErrorKind;

type Fb303Client = ThriftClient<FacebookServiceSyncClient<BoxInputProtocol, BoxOutputProtocol>>;

/// The crate's client on 127.0.0.1:`port`.
fn fb303_client(port: u16) -> Fb303Client {
    ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"))
        .call_timeout(Duration::from_secs(10))
}

/// The exception a refused call got: its kind and message.
fn refusal<T: std::fmt::Debug>(result: sparts_thrift::Result<T>) -> (ApplicationErrorKind, String) {
    match result {
        Err(sparts_thrift::Error::Application { exception, .. }) => {
            (exception.kind, exception.message)
        }
        other => panic!("expected an application exception, got {other:?}"),
    }
}

fn service() -> VService {
    VService::new("Fb303Test")
        .with_version("1.2.3")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(ThriftServerTask::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_read_method_answers_from_the_admin_model() -> Result<(), Box<dyn std::error::Error>>
{
    let running = service()
        .start_with_args(["fb303", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    let alive_since = running.handle().alive_since();
    blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert_eq!(c.get_name().expect("getName"), "Fb303Test");
        assert_eq!(c.get_version().expect("getVersion"), "1.2.3");
        assert_eq!(c.get_status().expect("getStatus"), FbStatus::ALIVE);
        assert_eq!(c.get_status_details().expect("getStatusDetails"), "");
        assert_eq!(c.alive_since().expect("aliveSince"), alive_since);
        // Counters include the server's own, counting the calls so far.
        let counters = c.get_counters().expect("getCounters");
        assert!(counters["ThriftServerTask.requests"] >= 5, "{counters:?}");
        assert_eq!(
            c.get_counter("ThriftServerTask.connections".into())
                .expect("getCounter"),
            1
        );
        // Unknown names are exceptions with the reason; the connection lives on.
        assert!(app_error(c.get_counter("No.such".into())).contains("No.such"));
        assert!(app_error(c.get_option("no_such".into())).contains("no_such"));
        assert_eq!(
            c.get_option("thrift_transport".into()).expect("getOption"),
            "framed"
        );
        let options = c.get_options().expect("getOptions");
        assert_eq!(options["thrift_host"], "127.0.0.1");
        assert_eq!(options["shutdown_timeout"], "10");
        assert_eq!(options["thrift_lameduck"], "0");
        assert_eq!(c.get_status().expect("still connected"), FbStatus::ALIVE);
    })
    .await;
    let handle = running.handle();
    assert!(handle.counter("ThriftServerTask.fb303.getStatus.latency_ms.count.60")? >= 2.0);
    assert!(handle.counter("ThriftServerTask.errors")? >= 2.0);
    // The names every server shares.
    assert!(handle.counter("ThriftServerTask.latency_ms.count.60")? >= 5.0);
    assert_eq!(handle.counter("ThriftServerTask.cut_connections")?, 0.0);
    // The same calls on `/metrics`, labelled; an exception of no more
    // specific kind is an APPLICATION_ERROR.
    let text = handle.telemetry().render(Format::Prometheus)?;
    let calls = |method: &str, code: &str| {
        format!(
            r#"rpc_server_call_duration_seconds_count{{task="ThriftServerTask",system="thrift",service="fb303",method="{method}",code="{code}"}} "#
        )
    };
    for want in [
        calls("getCounter", "OK") + "1",
        calls("getCounter", "APPLICATION_ERROR") + "1",
        calls("getOption", "APPLICATION_ERROR") + "1",
        calls("getStatus", "OK") + "2",
        r#"sparts_server_connections_total{task="ThriftServerTask"} 1"#.to_owned(),
    ] {
        assert!(text.contains(&want), "{want} in {text}");
    }
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_option_checks_the_value_and_applies_it() -> Result<(), Box<dyn std::error::Error>> {
    let running = service()
        .start_with_args(["fb303", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        c.set_option("shutdown_timeout".into(), "2.5".into())
            .expect("setOption");
        assert_eq!(
            c.get_option("shutdown_timeout".into()).expect("getOption"),
            "2.5"
        );
        let bad = app_error(c.set_option("shutdown_timeout".into(), "never".into()));
        assert!(bad.contains("shutdown_timeout"), "{bad}");
        let unknown = app_error(c.set_option("no_such".into(), "1".into()));
        assert!(unknown.contains("no_such"), "{unknown}");
        assert_eq!(
            c.get_option("shutdown_timeout".into()).expect("unchanged"),
            "2.5"
        );
    })
    .await;
    running.shutdown().await?;
    Ok(())
}

/// The same mistakes as in the HTTP, gRPC and D-Bus tests: an exception
/// whose message starts with the name of the error's kind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_errors_name_their_kind() -> Result<(), Box<dyn std::error::Error>> {
    let running = service()
        .start_with_args(["fb303", "--thrift-host", "127.0.0.1"])
        .await?;
    // A ratio of nothing to nothing: a counter fb303's integers cannot carry.
    running
        .handle()
        .counters()
        .callback("Test.ratio", || Some(f64::NAN));
    let client = fb303_client(port(running.handle()));
    let no_value = client.call(|c| c.get_counter("Test.ratio".into())).await;
    let unknown_counter = client.call(|c| c.get_counter("No.such".into())).await;
    let unknown_option = client.call(|c| c.get_option("no_such".into())).await;
    let set_unknown = client
        .call(|c| c.set_option("no_such".into(), "1".into()))
        .await;
    let bad_value = client
        .call(|c| c.set_option("shutdown_timeout".into(), "never".into()))
        .await;
    let read_only = client
        .call(|c| c.set_option("pidfile".into(), "/tmp/other.pid".into()))
        .await;
    let negative = client.call(|c| c.get_cpu_profile(-1)).await;
    let cases = [
        (refusal(unknown_counter), "NOT_FOUND: ", "No.such"),
        (refusal(unknown_option), "NOT_FOUND: ", "no_such"),
        (refusal(set_unknown), "NOT_FOUND: ", "no_such"),
        (refusal(bad_value), "INVALID_ARGUMENT: ", "shutdown_timeout"),
        (
            refusal(read_only),
            "FAILED_PRECONDITION: ",
            "cannot be changed at run time",
        ),
        (refusal(negative), "INVALID_ARGUMENT: ", "negative"),
        (refusal(no_value), "UNAVAILABLE: ", "no value yet"),
    ];
    for ((kind, message), prefix, says) in cases {
        assert_eq!(kind, ApplicationErrorKind::Unknown, "{message}");
        assert!(
            message.starts_with(prefix) && message.contains(says),
            "{message}"
        );
    }
    // The connection lived on through every refusal.
    assert_eq!(client.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert_eq!(
        running.handle().counter("ThriftServerTask.connections")?,
        1.0
    );
    assert_eq!(running.handle().option("pidfile")?, None);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn untrusted_peers_cannot_mutate() -> Result<(), Box<dyn std::error::Error>> {
    let running = service()
        .start_with_args([
            "fb303",
            "--thrift-host",
            "127.0.0.1",
            "--admin-trusted",
            "10.0.0.0/8",
        ])
        .await?;
    let port = port(running.handle());
    blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        let refused = app_error(c.set_option("shutdown_timeout".into(), "1".into()));
        assert!(
            refused.starts_with("PERMISSION_DENIED: ") && refused.contains("127.0.0.1"),
            "{refused}"
        );
        // Oneway: nothing comes back, and nothing happens.
        c.shutdown().expect("oneway sent");
        c.reinitialize().expect("oneway sent");
        assert_eq!(c.get_status().expect("still serving"), FbStatus::ALIVE);
        assert_eq!(
            c.get_option("shutdown_timeout".into()).expect("getOption"),
            "10"
        );
    })
    .await;
    assert_eq!(running.handle().status(), Status::Alive);
    running.shutdown().await?;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reinitialize_restarts_and_oneway_shutdown_stops() -> Result<(), Box<dyn std::error::Error>>
{
    let running = service()
        .start_with_args(["fb303", "--thrift-host", "127.0.0.1"])
        .await?;
    let handle = running.handle().clone();
    let first = handle.require::<ThriftServerTask>()?;
    let port = first.port().expect("bound");
    let before = handle.start_count();
    blocking(move || {
        client(port, FRAMED_BINARY, None)
            .reinitialize()
            .expect("oneway sent")
    })
    .await;
    // A restart builds a new server task, bound again.
    let starts = tokio::time::timeout(Duration::from_secs(10), handle.wait_for_start(before))
        .await
        .expect("restarts in time")?;
    assert_eq!(starts, before + 1);
    assert_eq!(handle.status(), Status::Alive);
    let restarted = handle.require::<ThriftServerTask>()?;
    assert!(!std::sync::Arc::ptr_eq(&restarted, &first));
    let port = restarted.port().expect("bound again");
    blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert_eq!(c.get_status().expect("alive again"), FbStatus::ALIVE);
        c.shutdown().expect("oneway sent");
    })
    .await;
    tokio::time::timeout(Duration::from_secs(10), running.wait())
        .await
        .expect("stops in time")?;
    Ok(())
}

#[inline(never)]
fn burn_cpu_for_thrift_profile(stop: &std::sync::atomic::AtomicBool) -> u64 {
    let mut x = 1u64;
    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
        x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
    }
    x
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_cpu_profile_returns_folded_stacks() -> Result<(), Box<dyn std::error::Error>> {
    let running = service()
        .start_with_args(["fb303", "--thrift-host", "127.0.0.1"])
        .await?;
    let port = port(running.handle());
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let burner = {
        let stop = std::sync::Arc::clone(&stop);
        std::thread::Builder::new()
            .name("thrift-burner".into())
            .spawn(move || burn_cpu_for_thrift_profile(&stop))?
    };
    let profile = blocking(move || {
        let mut c = client(port, FRAMED_BINARY, None);
        assert!(app_error(c.get_cpu_profile(-1)).contains("negative"));
        assert!(app_error(c.get_cpu_profile(0)).contains("300"));
        c.get_cpu_profile(1).expect("getCpuProfile")
    })
    .await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = burner.join();
    assert!(
        profile
            .lines()
            .any(|l| l.starts_with("thrift-burner;") && l.contains("burn_cpu_for_thrift_profile")),
        "{profile}"
    );
    assert!(profile.lines().all(|l| {
        l.rsplit(' ')
            .next()
            .and_then(|n| n.parse::<u64>().ok())
            .is_some_and(|n| n > 0)
    }));
    running.shutdown().await?;
    Ok(())
}
