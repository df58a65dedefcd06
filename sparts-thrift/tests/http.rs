//! Thrift over HTTP: fb303 on an axum route of a real `HttpTask`, called
//! through the client helper and with raw POSTs.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use sparts_core::telemetry::Format;
use sparts_core::{RunningService, VService};
use sparts_http::HttpTask;
use sparts_thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
use sparts_thrift::http::{ThriftRoute, handler_route};
use sparts_thrift::{Error, Fb303Handler, ThriftClient, ThriftHandlerTask};
use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TInputProtocol, TMessageIdentifier, TMessageType,
    TOutputProtocol, TStructIdentifier,
};

/// The longest any single wait in a test may take.
const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A service whose `HttpTask` serves fb303 at `/thrift`, and at `/small`
/// with a 1 KiB body limit.
fn web(connect_info: bool) -> VService {
    let task = HttpTask::from_fn(|ctx| {
        let small = ThriftRoute::new(Fb303Handler::new(ctx.service()).processor())
            .with_max_body_bytes(1024);
        Router::new()
            .route("/thrift", sparts_thrift::http::fb303(ctx))
            .route("/small", small.into_method_router(ctx))
    });
    let task = if connect_info {
        task.with_connect_info()
    } else {
        task
    };
    VService::new("Web").with_task(task)
}

/// Starts `service` on 127.0.0.1, bounded in time; the service and the
/// base URL of its HTTP task.
async fn start(service: VService) -> Result<(RunningService, String), sparts_core::Error> {
    let argv = ["svc", "--http-host", "127.0.0.1", "--http-port", "0"];
    let running = tokio::time::timeout(PATIENCE, service.start_with_args(argv))
        .await
        .expect("the service starts in time")?;
    let port = running
        .handle()
        .require::<HttpTask>()?
        .port()
        .expect("a TCP port");
    Ok((running, format!("http://127.0.0.1:{port}")))
}

fn reqwest_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

/// A call of `name` with no arguments, as the binary protocol writes it.
fn message(name: &str, kind: TMessageType) -> thrift::Result<Vec<u8>> {
    let mut out = Vec::new();
    {
        let mut o = TBinaryOutputProtocol::new(&mut out, true);
        o.write_message_begin(&TMessageIdentifier::new(name, kind, 7))?;
        o.write_struct_begin(&TStructIdentifier::new("args"))?;
        o.write_field_stop()?;
        o.write_struct_end()?;
        o.write_message_end()?;
        o.flush()?;
    }
    Ok(out)
}

#[tokio::test]
async fn fb303_through_the_client() -> TestResult {
    let (running, base) = start(web(false)).await?;
    let client = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/thrift"));
    assert_eq!(client.call(|c| c.get_status()).await?, FbStatus::ALIVE);
    assert_eq!(client.call(|c| c.get_name()).await?, "Web");
    let before = client.call(|c| c.get_counters()).await?;
    let after = client.call(|c| c.get_counters()).await?;
    let requests = |counters: &std::collections::BTreeMap<String, i64>| {
        counters.get("HttpTask.thrift.requests").copied()
    };
    assert_eq!(requests(&before), Some(3), "{before:?}");
    assert_eq!(requests(&after), Some(4));
    assert!(
        after.contains_key("HttpTask.thrift.FacebookService.getStatus.latency_ms.count.60"),
        "{after:?}"
    );
    let blocking = client.clone();
    let name =
        tokio::task::spawn_blocking(move || blocking.call_blocking(|c| c.get_name())).await??;
    assert_eq!(name, "Web");

    // Exceptions the server sends are exceptions, not transport failures.
    let missing = client
        .call(|c| c.get_counter("no.such.counter".to_owned()))
        .await
        .expect_err("an unknown counter");
    assert!(matches!(missing, Error::Application { .. }), "{missing:?}");

    // A route that is not there is an HTTP error with its status.
    let lost = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/nowhere"));
    let lost = lost.call(|c| c.get_status()).await.expect_err("404");
    assert!(
        matches!(lost, Error::HttpStatus { status: 404, .. }),
        "{lost:?}"
    );
    running.shutdown().await?;

    let down = client
        .call(|c| c.get_status())
        .await
        .expect_err("no server");
    assert!(matches!(down, Error::Connect { .. }), "{down:?}");
    assert!(down.to_string().contains(&base), "{down}");
    Ok(())
}

#[tokio::test]
async fn raw_posts() -> TestResult {
    let (running, base) = start(web(false)).await?;
    let http = reqwest_client();
    let url = format!("{base}/thrift");

    let reply = http
        .post(&url)
        .body(message("getStatus", TMessageType::Call)?)
        .send()
        .await?;
    assert_eq!(reply.status(), StatusCode::OK);
    assert_eq!(
        reply.headers()[header::CONTENT_TYPE],
        sparts_thrift::http::CONTENT_TYPE
    );
    let bytes = reply.bytes().await?;
    let mut input = TBinaryInputProtocol::new(&bytes[..], true);
    let ident = input.read_message_begin()?;
    assert_eq!(
        (
            ident.name.as_str(),
            ident.message_type,
            ident.sequence_number
        ),
        ("getStatus", TMessageType::Reply, 7)
    );

    // An unknown method is the client's problem in Thrift terms: an exception reply.
    let unknown = http
        .post(&url)
        .body(message("noSuchMethod", TMessageType::Call)?)
        .send()
        .await?;
    assert_eq!(unknown.status(), StatusCode::OK);
    let bytes = unknown.bytes().await?;
    let mut input = TBinaryInputProtocol::new(&bytes[..], true);
    assert_eq!(
        input.read_message_begin()?.message_type,
        TMessageType::Exception
    );

    let garbage = http.post(&url).body("not thrift at all").send().await?;
    assert_eq!(garbage.status(), StatusCode::BAD_REQUEST);
    let reason = garbage.text().await?;
    assert!(reason.contains("not a Thrift message"), "{reason}");

    let small = format!("{base}/small");
    let fits = http
        .post(&small)
        .body(message("getName", TMessageType::Call)?)
        .send()
        .await?;
    assert_eq!(fits.status(), StatusCode::OK);
    let large = http.post(&small).body(vec![0u8; 2048]).send().await?;
    assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let get = http.get(&url).send().await?;
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);

    let counters = running.handle().counters_snapshot();
    assert_eq!(counters.get("HttpTask.thrift.requests"), Some(4.0));
    assert_eq!(counters.get("HttpTask.thrift.bad_input"), Some(1.0));
    assert_eq!(counters.get("HttpTask.thrift.errors"), Some(2.0));
    // On `/metrics`: the calls of known methods, the malformed body as the
    // task's bad input, and every POST as an HTTP request of its route.
    let text = running.handle().telemetry().render(Format::Prometheus)?;
    for want in [
        r#"rpc_server_call_duration_seconds_count{task="HttpTask",system="thrift",service="FacebookService",method="getStatus",code="OK"} 1"#,
        r#"sparts_server_bad_input_total{task="HttpTask"} 1"#,
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="POST",route="/thrift",status="400"} 1"#,
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="POST",route="/small",status="413"} 1"#,
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/thrift",status="405"} 1"#,
    ] {
        assert!(text.contains(want), "{want} in {text}");
    }
    assert!(!text.contains("noSuchMethod"), "{text}");
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn set_option_needs_a_known_trusted_peer() -> TestResult {
    // No connect info: the peer is unknown, so not trusted.
    let (running, base) = start(web(false)).await?;
    let client = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/thrift"));
    let refused = client
        .call(|c| c.set_option("shutdown_timeout".to_owned(), "9".to_owned()))
        .await
        .expect_err("an unknown peer");
    assert!(matches!(refused, Error::Application { .. }), "{refused:?}");
    assert!(refused.to_string().contains("not trusted"), "{refused}");
    assert_eq!(
        running.handle().option("shutdown_timeout")?.as_deref(),
        Some("10")
    );
    running.shutdown().await?;

    // With it, 127.0.0.1 is in the default --admin-trusted.
    let (running, base) = start(web(true)).await?;
    let client = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/thrift"));
    client
        .call(|c| c.set_option("shutdown_timeout".to_owned(), "9".to_owned()))
        .await?;
    assert_eq!(
        client
            .call(|c| c.get_option("shutdown_timeout".to_owned()))
            .await?,
        "9"
    );
    running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn oneway_shutdown_gets_an_empty_reply() -> TestResult {
    let (running, base) = start(web(true)).await?;
    let reply = reqwest_client()
        .post(format!("{base}/thrift"))
        .body(message("shutdown", TMessageType::OneWay)?)
        .send()
        .await?;
    assert_eq!(reply.status(), StatusCode::OK);
    assert!(reply.bytes().await?.is_empty());
    tokio::time::timeout(PATIENCE, running.wait())
        .await
        .expect("the service stops")?;
    Ok(())
}

#[tokio::test]
async fn a_handler_task_by_name() -> TestResult {
    let problem = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&problem);
    let service = VService::new("Named")
        .with_task(ThriftHandlerTask::fb303())
        .with_task(HttpTask::from_fn(move |ctx| {
            if let Err(e) = ThriftRoute::from_handler(ctx, "nope") {
                *seen.lock().expect("lock") = Some(e.to_string());
            }
            let fb303 = handler_route(ctx, "fb303").expect("the fb303 handler task");
            Router::new().route("/fb303", fb303)
        }));
    let (running, base) = start(service).await?;
    let problem = problem.lock().expect("lock").take().expect("an error");
    assert!(
        problem.contains("no handler named nope") && problem.contains("fb303 (service fb303)"),
        "{problem}"
    );
    let client = ThriftClient::http(FacebookServiceSyncClient::new, format!("{base}/fb303"));
    assert_eq!(client.call(|c| c.get_name()).await?, "Named");
    let counters = running.handle().counters_snapshot();
    assert!(
        counters
            .get("HttpTask.thrift.fb303.getName.latency_ms.count.60")
            .is_some(),
        "{counters:?}"
    );
    running.shutdown().await?;
    Ok(())
}
