//! The built-in endpoints: health, readiness, Prometheus metrics and the
//! admin API, with its trust rule.

mod common;

use std::collections::BTreeMap;

use axum::http::StatusCode;
use common::{TestResult, client, has_ipv6, start};
use serde_json::Value;
use sparts_core::VService;
use sparts_http::HttpTask;

async fn hello(args: &[&str]) -> Result<common::Started, sparts_core::Error> {
    let mut all = vec!["--http-host", "127.0.0.1"];
    all.extend_from_slice(args);
    start(
        VService::new("Hello")
            .with_version("1.2.3")
            .with_task(HttpTask::default()),
        &all,
    )
    .await
}

#[tokio::test]
async fn health_and_readiness_while_serving() -> TestResult {
    let s = hello(&[]).await?;
    for path in ["/healthz", "/readyz"] {
        let response = client().get(s.url(path)).send().await?;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.text().await?, "ALIVE\n");
    }
    let warning = s.running.handle().register_warning("disk almost full");
    let response = client().get(s.url("/readyz")).send().await?;
    assert_eq!(response.status(), StatusCode::OK, "WARNING still serves");
    assert_eq!(response.text().await?, "WARNING\n");
    s.running.handle().clear_warning(warning);
    s.running.shutdown().await?;
    Ok(())
}

/// Checks what every family of a scrape must have (a HELP and a TYPE line,
/// `_total` on counters' samples, no task or method baked into a name) and
/// returns the samples, line by line.
fn families(text: &str) -> Vec<&str> {
    let mut samples = Vec::new();
    let mut kinds = BTreeMap::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("name and kind");
            assert!(
                text.contains(&format!("# HELP {name} ")),
                "no HELP for {name}"
            );
            kinds.insert(name, kind);
        } else if !line.starts_with('#') {
            samples.push(line);
        }
    }
    for sample in &samples {
        let name = sample
            .split(['{', ' '])
            .next()
            .expect("a sample has a name");
        assert!(!name.contains("HttpTask"), "{sample}");
        let family = kinds
            .iter()
            .filter(|(family, _)| name.starts_with(*family))
            .max_by_key(|(family, _)| family.len())
            .unwrap_or_else(|| panic!("no TYPE for {sample}"));
        if *family.1 == "counter" {
            assert!(name.ends_with("_total"), "{sample}");
        }
    }
    samples
}

/// The value of `series` (name and labels) among `samples`.
fn sample(samples: &[&str], series: &str) -> Option<f64> {
    samples
        .iter()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn metrics_are_labelled_families_for_prometheus() -> TestResult {
    let s = hello(&[]).await?;
    s.running
        .handle()
        .counters()
        .counter("service.level-counter")
        .add(7);
    let c = client();
    c.get(s.url("/")).send().await?;
    c.get(s.url("/no/such/path")).send().await?;
    c.get(s.url("/healthz")).send().await?;
    let response = c.get(s.url("/metrics")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    assert!(response.headers().get("content-encoding").is_none());
    let text = response.text().await?;
    let samples = families(&text);
    for (series, value) in [
        (
            r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/",status="200"}"#,
            1.0,
        ),
        (
            r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="unmatched",status="404"}"#,
            1.0,
        ),
        (r#"sparts_server_connections_total{task="HttpTask"}"#, 4.0),
        (r#"sparts_server_open_connections{task="HttpTask"}"#, 1.0),
        (r#"sparts_build_info{service="Hello",version="1.2.3"}"#, 1.0),
        ("service_level_counter_total", 7.0),
        ("sparts_status", 2.0),
    ] {
        assert_eq!(sample(&samples, series), Some(value), "{series} in {text}");
    }
    assert!(
        !text.contains("/no/such/path") && !text.contains("/healthz"),
        "no raw paths, no built-in endpoints: {text}"
    );
    assert!(
        !text.contains("latency_ms") && !text.contains("responses_2xx"),
        "fb303's own view stays off: {text}"
    );
    let handle = s.running.handle();
    assert_eq!(
        handle.counter("HttpTask.requests")?,
        2.0,
        "the probe and the scrape are not user traffic"
    );
    assert_eq!(handle.counter("HttpTask.responses_4xx")?, 1.0);
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn metrics_speak_openmetrics_and_gzip_when_asked() -> TestResult {
    use std::io::Read as _;

    let s = hello(&[]).await?;
    let c = client();
    c.get(s.url("/")).send().await?;
    let open = c
        .get(s.url("/metrics"))
        .header(
            "accept",
            "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5",
        )
        .send()
        .await?;
    assert_eq!(
        open.headers()["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = open.text().await?;
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(
        text.contains(r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/",status="200"} 1"#),
        "{text}"
    );

    let zipped = c
        .get(s.url("/metrics"))
        .header("accept-encoding", "br;q=1.0, gzip;q=0.8")
        .send()
        .await?;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    assert_eq!(
        zipped.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let bytes = zipped.bytes().await?;
    assert_eq!(bytes.get(..2), Some(&[0x1f, 0x8b][..]), "the gzip magic");
    let mut unzipped = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut unzipped)?;
    assert!(
        unzipped.contains("# TYPE http_server_request_duration_seconds histogram"),
        "{unzipped}"
    );
    let refused = c
        .get(s.url("/metrics"))
        .header("accept-encoding", "gzip;q=0")
        .send()
        .await?;
    assert!(refused.headers().get("content-encoding").is_none());
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn admin_reads_status_counters_options_and_exported_values() -> TestResult {
    let s = hello(&[]).await?;
    let handle = s.running.handle().clone();
    handle.set_exported("build", Some("abc123"));
    handle.register_warning("slow upstream");
    let c = client();

    let status: Value = c.get(s.url("/admin/status")).send().await?.json().await?;
    assert_eq!(status["name"], "Hello");
    assert_eq!(status["version"], "1.2.3");
    assert_eq!(status["status"], "WARNING");
    assert_eq!(status["details"], serde_json::json!(["slow upstream"]));
    assert_eq!(status["alive_since"], handle.alive_since());

    c.get(s.url("/")).send().await?;
    let counters: BTreeMap<String, Value> =
        c.get(s.url("/admin/counters")).send().await?.json().await?;
    assert_eq!(
        counters["HttpTask.responses_2xx"], 1.0,
        "the admin calls are not user traffic"
    );
    let filtered: BTreeMap<String, Value> = c
        .get(s.url("/admin/counters?filter=%5EHttpTask%5C.responses_"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(filtered.len(), 5, "{filtered:?}");
    let bad = c.get(s.url("/admin/counters?filter=(")).send().await?;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let reason: Value = bad.json().await?;
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|e| e.contains("invalid pattern"))
    );

    let options: BTreeMap<String, Value> =
        c.get(s.url("/admin/options")).send().await?.json().await?;
    assert_eq!(options["http_host"], "127.0.0.1");
    assert_eq!(options["http_sock"], Value::Null);
    assert_eq!(options["http_lameduck"], "0");
    let one: Value = c
        .get(s.url("/admin/options/http_host"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        one,
        serde_json::json!({"name": "http_host", "value": "127.0.0.1"})
    );
    let unknown = c.get(s.url("/admin/options/nope")).send().await?;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);

    let exported: BTreeMap<String, String> =
        c.get(s.url("/admin/exported")).send().await?.json().await?;
    assert_eq!(exported["build"], "abc123");
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn admin_sets_options_from_a_trusted_peer() -> TestResult {
    let s = hello(&[]).await?;
    let c = client();
    let response = c
        .put(s.url("/admin/options/http_lameduck"))
        .body("2.5\n")
        .send()
        .await?;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await?;
    assert_eq!(
        body,
        serde_json::json!({"name": "http_lameduck", "value": "2.5"})
    );
    assert_eq!(
        s.running.handle().option("http_lameduck")?.as_deref(),
        Some("2.5")
    );
    // Where each value came from.
    let sourced: Value = c
        .get(s.url("/admin/options?source=true"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        sourced["http_lameduck"],
        serde_json::json!({"value": "2.5", "source": "run_time"})
    );
    assert_eq!(
        sourced["http_host"],
        serde_json::json!({"value": "127.0.0.1", "source": "command_line"})
    );
    assert_eq!(sourced["dryrun"]["source"], "default");

    let bad = c
        .put(s.url("/admin/options/http_lameduck"))
        .body("soon")
        .send()
        .await?;
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    let reason: Value = bad.json().await?;
    assert!(
        reason["error"].as_str().is_some_and(|e| e.contains("soon")),
        "{reason}"
    );
    let unknown = c.put(s.url("/admin/options/nope")).body("1").send().await?;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    // A body longer than any option value is refused unread.
    let huge = c
        .put(s.url("/admin/options/level"))
        .body("x".repeat(1 << 20))
        .send()
        .await?;
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // One the body limit lets through but the admin model does not.
    let long = c
        .put(s.url("/admin/options/level"))
        .body("x".repeat(sparts_core::Admin::MAX_OPTION_VALUE + 1))
        .send()
        .await?;
    assert_eq!(long.status(), StatusCode::BAD_REQUEST);
    let reason: Value = long.json().await?;
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|e| e.contains("at most 65536 are accepted")),
        "{reason}"
    );
    assert_eq!(
        s.running.handle().option("http_lameduck")?.as_deref(),
        Some("2.5"),
        "a refused value changes nothing"
    );
    // The lame duck period is read when shutdown begins: back to none.
    let reset = c
        .put(s.url("/admin/options/http_lameduck"))
        .body("0")
        .send()
        .await?;
    assert_eq!(reset.status(), StatusCode::OK);
    s.running.shutdown().await?;
    Ok(())
}

/// The same mistakes as in the gRPC, Thrift and D-Bus tests, each answered
/// with the status of its `AdminErrorKind` and the reason in the body.
#[tokio::test]
async fn admin_errors_have_the_status_of_their_kind() -> TestResult {
    let s = hello(&[]).await?;
    let c = client();
    let one: Value = c
        .get(s.url("/admin/counters/HttpTask.requests"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        one,
        serde_json::json!({"name": "HttpTask.requests", "value": 0.0}),
        "admin calls are not user traffic"
    );
    let cases = [
        (
            "GET",
            "/admin/counters/No.such",
            "",
            StatusCode::NOT_FOUND,
            "No.such",
        ),
        (
            "GET",
            "/admin/options/no_such",
            "",
            StatusCode::NOT_FOUND,
            "no_such",
        ),
        (
            "PUT",
            "/admin/options/no_such",
            "1",
            StatusCode::NOT_FOUND,
            "no_such",
        ),
        (
            "PUT",
            "/admin/options/http_lameduck",
            "soon",
            StatusCode::BAD_REQUEST,
            "http_lameduck",
        ),
        (
            "GET",
            "/admin/counters?filter=(",
            "",
            StatusCode::BAD_REQUEST,
            "invalid pattern",
        ),
        (
            "PUT",
            "/admin/options/pidfile",
            "/tmp/other.pid",
            StatusCode::CONFLICT,
            "cannot be changed at run time",
        ),
    ];
    for (method, path, body, status, says) in cases {
        let method = reqwest::Method::from_bytes(method.as_bytes())?;
        let response = c
            .request(method.clone(), s.url(path))
            .body(body)
            .send()
            .await?;
        assert_eq!(response.status(), status, "{method} {path}");
        let reason: Value = response.json().await?;
        assert!(
            reason["error"].as_str().is_some_and(|e| e.contains(says)),
            "{method} {path}: {reason}"
        );
    }
    assert_eq!(s.running.handle().option("pidfile")?, None, "unchanged");
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn admin_writes_from_an_untrusted_peer_are_forbidden() -> TestResult {
    // Listen everywhere but trust only IPv6 loopback: 127.0.0.1 is a stranger.
    let s = start(
        VService::new("Hello").with_task(HttpTask::default()),
        &["--admin-trusted", "::1/128"],
    )
    .await?;
    let port = s.port();
    let c = client();
    let v4 = |p: &str| format!("http://127.0.0.1:{port}{p}");
    let refused = c
        .put(v4("/admin/options/level"))
        .body("debug")
        .send()
        .await?;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let reason: Value = refused.json().await?;
    assert!(
        reason["error"]
            .as_str()
            .is_some_and(|e| e.contains("127.0.0.1")),
        "{reason}"
    );
    for path in ["/admin/reinitialize", "/admin/shutdown"] {
        let response = c.post(v4(path)).send().await?;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // Reads stay open.
    assert_eq!(
        c.get(v4("/admin/status")).send().await?.status(),
        StatusCode::OK
    );
    assert_eq!(s.running.handle().option("level")?.as_deref(), Some("info"));
    assert!(s.running.handle().status().is_serving());

    if has_ipv6() {
        let v6 = format!("http://[::1]:{port}/admin/options/level");
        let allowed = c.put(v6).body("debug").send().await?;
        assert_eq!(allowed.status(), StatusCode::OK);
        assert_eq!(
            s.running.handle().option("level")?.as_deref(),
            Some("debug")
        );
    }
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn admin_shutdown_stops_the_service() -> TestResult {
    let s = hello(&[]).await?;
    let response = client().post(s.url("/admin/shutdown")).send().await?;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    tokio::time::timeout(common::PATIENCE, s.running.wait()).await??;
    Ok(())
}

#[tokio::test]
async fn built_in_endpoints_can_be_turned_off() -> TestResult {
    let s = start(
        VService::new("Hello").with_task(
            HttpTask::default()
                .without_health()
                .without_metrics()
                .without_admin(),
        ),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    for path in ["/healthz", "/readyz", "/metrics", "/admin/status"] {
        let status = client().get(s.url(path)).send().await?.status();
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    s.running.shutdown().await?;
    Ok(())
}
