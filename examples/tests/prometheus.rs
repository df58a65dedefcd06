//! A real Prometheus server (Debian's `prometheus`) scrapes the `demo`
//! example on loopback: the p99 of HTTP requests comes out of
//! `histogram_quantile`, and the count of gRPC calls by status code matches
//! the calls this test made. Skipped where the `prometheus` binary is
//! missing; `.ci/run` installs it.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{Example, PATIENCE, TestResult};
use sparts::grpc::pb::admin::GetCounterRequest;
use sparts::grpc::pb::admin::admin_client::AdminClient;
use sparts::grpc::pb::helloworld::HelloRequest;
use sparts::grpc::pb::helloworld::greeter_client::GreeterClient;

/// How often the test's Prometheus scrapes.
const SCRAPE: Duration = Duration::from_secs(1);

/// A port nobody listens on now.
fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// The query API's answer: the samples of an instant vector, by one label.
async fn query(
    web: &reqwest::Client,
    prometheus: u16,
    expr: &str,
    by: &str,
) -> TestResult<Vec<(String, f64)>> {
    let encoded: String = expr
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    let text = web
        .get(format!(
            "http://127.0.0.1:{prometheus}/api/v1/query?query={encoded}"
        ))
        .send()
        .await?
        .text()
        .await?;
    let body: serde_json::Value = serde_json::from_str(&text)?;
    let result = body["data"]["result"]
        .as_array()
        .ok_or_else(|| format!("no result in {body}"))?;
    Ok(result
        .iter()
        .filter_map(|sample| {
            let label = sample["metric"][by].as_str().unwrap_or_default().to_owned();
            let value = sample["value"][1].as_str()?.parse().ok()?;
            Some((label, value))
        })
        .collect())
}

/// Asks `expr` again (bounded) until `done` accepts its answer.
async fn poll(
    web: &reqwest::Client,
    prometheus: u16,
    expr: &str,
    by: &str,
    done: impl Fn(&[(String, f64)]) -> bool,
) -> TestResult<Vec<(String, f64)>> {
    let mut last = Vec::new();
    for _ in 0..60 {
        if let Ok(answer) = query(web, prometheus, expr, by).await {
            if done(&answer) {
                return Ok(answer);
            }
            last = answer;
        }
        tokio::time::sleep(SCRAPE / 2).await;
    }
    Err(format!("{expr}: still {last:?}").into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_demo_and_computes_p99_and_calls_by_code() -> TestResult {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipping: no prometheus binary (apt-get install prometheus)");
        return Ok(());
    }
    let bus_name = format!("org.sparts.PrometheusTest{}", std::process::id());
    let mut demo = Example::spawn_command(&mut common::demo_command(&bus_name, &[]))?;
    let (http, grpc, _) = demo.demo_ports()?;

    let dir = tempfile::tempdir()?;
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: demo\n    static_configs:\n      - targets: ['127.0.0.1:{http}']\n"
        ),
    )?;
    let prometheus = free_port()?;
    let config_flag = format!("--config.file={}", config.display());
    let storage_flag = format!("--storage.tsdb.path={}", dir.path().join("data").display());
    let listen_flag = format!("--web.listen-address=127.0.0.1:{prometheus}");
    let _server = Example::spawn("prometheus", &[&config_flag, &storage_flag, &listen_flag])?;
    let web = reqwest::Client::builder().timeout(PATIENCE).build()?;

    // A request before the series is scraped, then the rest: a rate needs
    // the series to be seen before the traffic it measures.
    let hello = |name: &str| format!("http://127.0.0.1:{http}/hello/{name}");
    assert!(web.get(hello("first")).send().await?.status().is_success());
    poll(
        &web,
        prometheus,
        "sum(http_server_request_duration_seconds_count)",
        "le",
        |seen| seen.iter().any(|(_, v)| *v >= 1.0),
    )
    .await?;
    for name in ["ann", "bob", "cy", "di", "ed", "flo", "gus", "hal"] {
        assert!(web.get(hello(name)).send().await?.status().is_success());
    }
    let channel = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{grpc}"))?
        .timeout(PATIENCE)
        .connect()
        .await?;
    let mut greeter = GreeterClient::new(channel.clone());
    for _ in 0..5 {
        greeter
            .say_hello(HelloRequest {
                name: "prometheus".to_owned(),
            })
            .await?;
    }
    let mut admin = AdminClient::new(channel);
    for _ in 0..3 {
        let missing = admin
            .get_counter(GetCounterRequest {
                name: "No.such.counter".to_owned(),
            })
            .await;
        assert_eq!(
            missing.map(|_| ()).map_err(|s| s.code()),
            Err(tonic::Code::NotFound)
        );
    }

    let p99 = poll(
        &web,
        prometheus,
        "histogram_quantile(0.99, sum by (le) (rate(http_server_request_duration_seconds_bucket[1m])))",
        "le",
        |answer| answer.iter().any(|(_, v)| v.is_finite() && *v > 0.0),
    )
    .await?;
    assert!(p99[0].1 < 10.0, "a p99 in seconds: {p99:?}");

    let by_code = poll(
        &web,
        prometheus,
        r#"sum by (code) (rpc_server_call_duration_seconds_count{system="grpc",method=~"SayHello|GetCounter"})"#,
        "code",
        |answer| answer.len() == 2,
    )
    .await?;
    let count = |code: &str| by_code.iter().find(|(c, _)| c == code).map(|(_, v)| *v);
    assert_eq!(count("OK"), Some(5.0), "{by_code:?}");
    assert_eq!(count("NOT_FOUND"), Some(3.0), "{by_code:?}");
    Ok(())
}
