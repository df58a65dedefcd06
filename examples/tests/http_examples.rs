//! The HTTP examples as real processes: they log their port, answer over
//! HTTP, and exit 0 on SIGTERM; a port in use makes them exit non-zero.

mod common;

use common::{Example, TestResult, client};

#[tokio::test]
async fn http_hello_says_hello_and_exits_0_on_sigterm() -> TestResult {
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &["--http-port", "0"])?;
    let port = child.logged_port("HttpTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let body = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    let ready = client()
        .get(format!("http://127.0.0.1:{port}/readyz"))
        .send()
        .await?;
    assert_eq!(ready.status().as_u16(), 200);
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn http_hello_exits_non_zero_when_its_port_is_taken() -> TestResult {
    let taken = std::net::TcpListener::bind("0.0.0.0:0")?;
    let port = taken.local_addr()?.port().to_string();
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_hello"), &["--http-port", &port])?;
    let line = child.expect_line("in use")?;
    assert!(line.contains(&format!("0.0.0.0:{port}")), "{line}");
    let status = child.wait_exit()?;
    assert!(!status.success(), "{status:?}");
    Ok(())
}

#[tokio::test]
async fn http_app_stores_values_and_counts_writes() -> TestResult {
    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_app"), &["--http-port", "0"])?;
    let port = child.logged_port("HttpTask")?;
    // Ready: ports are logged in init, the status is ALIVE only after.
    child.expect_line("All tasks started")?;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let c = client();
    assert_eq!(
        c.get(url("/kv/greeting")).send().await?.status().as_u16(),
        404
    );
    let put = c.put(url("/kv/greeting")).body("hello").send().await?;
    assert_eq!(put.status().as_u16(), 200);
    let got = c.get(url("/kv/greeting")).send().await?.text().await?;
    assert_eq!(got, r#"{"key":"greeting","value":"hello"}"#);
    let metrics = c.get(url("/metrics")).send().await?.text().await?;
    for want in [
        "# HELP kv_writes_total Keys written.\n",
        "\nkv_writes_total{task=\"HttpTask\"} 1.0\n",
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="GET",route="/kv/{key}",status="404"} 1"#,
        r#"http_server_request_duration_seconds_count{task="HttpTask",method="PUT",route="/kv/{key}",status="200"} 1"#,
    ] {
        assert!(metrics.contains(want), "{want} in {metrics}");
    }
    assert!(!metrics.contains("greeting"), "no raw path: {metrics}");
    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}

/// The value of the series `name` (no labels) in a scrape.
fn sample(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn http_app_counts_reads_through_the_metrics_facade() -> TestResult {
    use std::io::Read as _;

    let mut child = Example::spawn(env!("CARGO_BIN_EXE_http_app"), &["--http-port", "0"])?;
    let port = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    let url = |path: &str| format!("http://127.0.0.1:{port}{path}");
    let c = client();
    c.get(url("/kv/color")).send().await?;
    c.put(url("/kv/color")).body("blue").send().await?;
    c.get(url("/kv/color")).send().await?;

    // `metrics::counter!` on /metrics, with its description...
    let text = c.get(url("/metrics")).send().await?.text().await?;
    assert!(
        text.contains("# HELP kv_reads_total Keys read, found or not.\n"),
        "{text}"
    );
    assert_eq!(sample(&text, "kv_reads_total"), Some(2.0), "{text}");
    // ... and in fb303's getCounters, which /admin/counters answers.
    let counters: std::collections::BTreeMap<String, f64> =
        serde_json::from_str(&c.get(url("/admin/counters")).send().await?.text().await?)?;
    assert_eq!(counters.get("kv_reads"), Some(&2.0), "{counters:?}");

    let open = c
        .get(url("/metrics"))
        .header("accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await?;
    assert!(
        open.headers()["content-type"]
            .to_str()?
            .starts_with("application/openmetrics-text"),
    );
    let text = open.text().await?;
    assert!(text.ends_with("# EOF\n"), "{text}");

    let zipped = c
        .get(url("/metrics"))
        .header("accept-encoding", "gzip")
        .send()
        .await?;
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let bytes = zipped.bytes().await?;
    let mut text = String::new();
    flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text)?;
    assert_eq!(sample(&text, "kv_reads_total"), Some(2.0), "{text}");

    let status = child.sigterm()?;
    assert_eq!(status.code(), Some(0), "{status:?}");
    Ok(())
}
