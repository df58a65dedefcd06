//! The HTTP examples as real processes: they log their port, answer over
//! HTTP, and exit 0 on SIGTERM; a port in use makes them exit non-zero.

mod common;

use common::{Example, PATIENCE, TestResult};

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

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
