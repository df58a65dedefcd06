//! The built-in endpoints: health, readiness, Prometheus metrics and the
//! admin API, with its trust rule.

mod common;

use std::collections::{BTreeMap, HashSet};

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

/// A strict reader of the Prometheus text format (0.0.4) as sparts writes
/// it: only `# TYPE` lines and samples; each sample right after its own TYPE
/// line; valid, unique names; values Go's ParseFloat accepts. Returns name
/// to value.
fn parse_prometheus(text: &str) -> BTreeMap<String, f64> {
    let valid_name = |n: &str| {
        let mut chars = n.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    };
    assert!(text.ends_with('\n'), "a final newline");
    let mut typed: Option<String> = None;
    let mut names = HashSet::new();
    let mut samples = BTreeMap::new();
    for line in text.lines() {
        assert!(!line.is_empty() && !line.ends_with(' '), "{line:?}");
        if let Some(rest) = line.strip_prefix('#') {
            let parts: Vec<&str> = rest.trim_start().split(' ').collect();
            assert!(
                parts.len() == 3 && parts[0] == "TYPE",
                "only TYPE comments: {line:?}"
            );
            assert!(valid_name(parts[1]), "{line:?}");
            assert!(matches!(parts[2], "counter" | "gauge"), "{line:?}");
            assert!(names.insert(parts[1].to_owned()), "duplicate {line:?}");
            assert!(
                typed.replace(parts[1].to_owned()).is_none(),
                "TYPE without sample"
            );
            continue;
        }
        let (name, value) = line.split_once(' ').expect("name value");
        assert!(valid_name(name), "{line:?}");
        assert_eq!(typed.take().as_deref(), Some(name), "sample after its TYPE");
        let value = match value {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|e| panic!("{line:?}: {e}")),
        };
        samples.insert(name.to_owned(), value);
    }
    assert!(typed.is_none(), "TYPE without sample at the end");
    samples
}

#[tokio::test]
async fn metrics_are_valid_prometheus_text() -> TestResult {
    let s = hello(&[]).await?;
    s.running
        .handle()
        .counters()
        .counter("service.level-counter")
        .add(7);
    let c = client();
    c.get(s.url("/")).send().await?;
    let response = c.get(s.url("/metrics")).send().await?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let samples = parse_prometheus(&response.text().await?);
    assert_eq!(samples["HttpTask_requests"], 2.0, "/ and /metrics itself");
    assert_eq!(
        samples["HttpTask_responses_2xx"], 1.0,
        "/metrics not answered yet"
    );
    assert_eq!(samples["service_level_counter"], 7.0, "names sanitized");
    assert_eq!(samples["HttpTask_open_connections"], 1.0);
    for name in ["HttpTask_latency_ms_avg_60", "HttpTask_latency_ms_max_600"] {
        assert!(samples.contains_key(name), "{name}");
    }
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
    assert_eq!(counters["HttpTask.responses_2xx"], 2.0);
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
        serde_json::json!({"name": "HttpTask.requests", "value": 1.0})
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
