//! The network edge of the example servers, with real sockets: slow and
//! idle clients are cut after their timeouts (and counted), a thousand of
//! them never keep a fresh client from an answer, a maximum of connections
//! holds new ones in the backlog until one closes, HTTP/2 with prior
//! knowledge shares HttpTask's port with HTTP/1.1, and a body over the
//! limit is answered 413.

mod common;

use std::time::Duration;

use common::{Example, PATIENCE, TestResult, client, curl, found, get_json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

/// Starts `bin` with `args`, ready to serve; the port its `task` logged.
fn start(bin: &str, task: &str, args: &[&str]) -> TestResult<(Example, u16)> {
    let mut child = Example::spawn(bin, args)?;
    let port = child.logged_port(task)?;
    child.expect_line("All tasks started")?;
    Ok((child, port))
}

/// Reads until the server closes the connection (or resets it); fails if
/// that takes longer than the patience.
async fn closed_by_server(conn: &mut TcpStream) -> TestResult {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(PATIENCE, async {
        loop {
            match conn.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .map_err(|_| "the server kept the connection open")?;
    Ok(())
}

/// The counter `name` of the service whose HTTP task listens on `port`.
async fn counter(port: u16, name: &str) -> TestResult<Option<f64>> {
    let counters = get_json(port, "/admin/counters").await?;
    Ok(counters.get(name).and_then(serde_json::Value::as_f64))
}

#[tokio::test]
async fn half_a_request_is_closed_after_the_header_timeout_and_counted() -> TestResult {
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_hello"),
        "HttpTask",
        &["--http-port", "0", "--http-header-timeout", "1"],
    )?;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await?;
    slow.write_all(b"GET / HTTP/1.1\r\nHost: x").await?;
    closed_by_server(&mut slow).await?;
    assert_eq!(counter(port, "HttpTask.header_timeouts").await?, Some(1.0));
    Ok(())
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_idle_timeout() -> TestResult {
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_hello"),
        "HttpTask",
        &["--http-port", "0", "--http-idle-timeout", "1"],
    )?;
    let mut conn = TcpStream::connect(("127.0.0.1", port)).await?;
    conn.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await?;
    let mut buf = [0u8; 1024];
    let n = tokio::time::timeout(PATIENCE, conn.read(&mut buf)).await??;
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with("Hello, world"), "{answer}");
    closed_by_server(&mut conn).await?;
    assert_eq!(counter(port, "HttpTask.idle_timeouts").await?, Some(1.0));
    assert_eq!(counter(port, "HttpTask.header_timeouts").await?, None);
    Ok(())
}

/// Raises this process's soft open-file limit to its hard limit, for the
/// thousand clients.
fn raise_open_files() -> TestResult {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    setrlimit(Resource::RLIMIT_NOFILE, hard, hard)?;
    Ok(())
}

#[tokio::test]
async fn a_thousand_slow_clients_do_not_keep_a_fresh_one_from_an_answer() -> TestResult {
    raise_open_files()?;
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_hello"),
        "HttpTask",
        &["--http-port", "0"],
    )?;
    let mut slow = Vec::with_capacity(1000);
    for _ in 0..1000 {
        let mut conn = TcpStream::connect(("127.0.0.1", port)).await?;
        conn.write_all(b"GET / HTTP/1.1\r\nHo").await?;
        slow.push(conn);
    }
    let open = counter(port, "HttpTask.open_connections").await?;
    assert!(open >= Some(1000.0), "{open:?}");
    let body = client()
        .get(format!("http://127.0.0.1:{port}/"))
        .send()
        .await?
        .text()
        .await?;
    assert_eq!(body, "Hello, world");
    Ok(())
}

#[tokio::test]
async fn past_the_maximum_a_client_waits_until_a_connection_closes() -> TestResult {
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_hello"),
        "HttpTask",
        &["--http-port", "0", "--http-max-connections", "2"],
    )?;
    let first = TcpStream::connect(("127.0.0.1", port)).await?;
    let _second = TcpStream::connect(("127.0.0.1", port)).await?;
    let url = format!("http://127.0.0.1:{port}/");
    let third = tokio::spawn(async move { client().get(url).send().await?.text().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !third.is_finished(),
        "two connections are open, the maximum"
    );
    drop(first);
    let body = tokio::time::timeout(PATIENCE, third).await???;
    assert_eq!(body, "Hello, world");
    let reached = counter(port, "HttpTask.connection_limit_reached").await?;
    assert!(reached >= Some(1.0), "{reached:?}");
    Ok(())
}

#[tokio::test]
async fn http2_with_prior_knowledge_and_http1_share_the_port() -> TestResult {
    if !found("curl") {
        return Ok(());
    }
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_hello"),
        "HttpTask",
        &["--http-port", "0"],
    )?;
    let url = format!("http://127.0.0.1:{port}/");
    let version = "%{http_version} %{http_code} ";
    let (ok, h2) = curl(&[
        "--http2-prior-knowledge",
        "-w",
        version,
        "-o",
        "/dev/null",
        &url,
    ])?;
    assert!(ok, "{h2}");
    assert_eq!(h2, "2 200 ");
    let (ok, body) = curl(&["--http2-prior-knowledge", &url])?;
    assert!(ok, "{body}");
    assert_eq!(body, "Hello, world");
    let (ok, h1) = curl(&["--http1.1", "-w", version, "-o", "/dev/null", &url])?;
    assert!(ok, "{h1}");
    assert_eq!(h1, "1.1 200 ");
    Ok(())
}

#[tokio::test]
async fn a_body_over_the_limit_is_answered_413() -> TestResult {
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_http_app"),
        "HttpTask",
        &["--http-port", "0", "--http-max-body-bytes", "1000"],
    )?;
    let url = format!("http://127.0.0.1:{port}/kv/big");
    let c = client();
    let over = c.put(&url).body(vec![b'x'; 1001]).send().await?;
    assert_eq!(over.status().as_u16(), 413);
    let within = c.put(&url).body(vec![b'x'; 1000]).send().await?;
    assert_eq!(within.status().as_u16(), 200);
    Ok(())
}

#[tokio::test]
async fn half_a_thrift_frame_is_closed_after_the_header_timeout() -> TestResult {
    let mut child = Example::spawn(
        env!("CARGO_BIN_EXE_thrift_fb303"),
        &[
            "--thrift-port",
            "0",
            "--http-port",
            "0",
            "--thrift-header-timeout",
            "1",
        ],
    )?;
    let thrift = child.logged_port("ThriftServerTask")?;
    let http = child.logged_port("HttpTask")?;
    child.expect_line("All tasks started")?;
    let mut slow = TcpStream::connect(("127.0.0.1", thrift)).await?;
    // A frame of 100 bytes, 10 of them sent.
    slow.write_all(&[0, 0, 0, 100, 0x80, 1, 0, 1, 0, 0, 0, 9, b'g', b'e'])
        .await?;
    closed_by_server(&mut slow).await?;
    assert_eq!(
        counter(http, "ThriftServerTask.header_timeouts").await?,
        Some(1.0)
    );
    assert_eq!(counter(http, "ThriftServerTask.bad_input").await?, None);
    Ok(())
}

#[tokio::test]
async fn half_an_http2_preface_is_closed_after_the_header_timeout() -> TestResult {
    let (_child, port) = start(
        env!("CARGO_BIN_EXE_grpc_hello"),
        "GrpcTask",
        &["--grpc-port", "0", "--grpc-header-timeout", "1"],
    )?;
    let mut slow = TcpStream::connect(("127.0.0.1", port)).await?;
    slow.write_all(b"PRI * HTTP/2.0\r\n").await?;
    closed_by_server(&mut slow).await?;
    Ok(())
}
