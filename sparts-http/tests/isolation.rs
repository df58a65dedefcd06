//! A task that spins on CPU on a runtime of its own leaves the service's
//! runtime free: the HTTP admin endpoints keep answering promptly.
//! (Loosely bounded here; `bench/isolation.sh` measures it.)

mod common;

use std::time::{Duration, Instant};

use common::{TestResult, start};
use sparts_core::{TaskSpec, VService};
use sparts_http::HttpTask;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spinning_task_on_its_own_runtime_does_not_slow_the_admin_endpoints() -> TestResult {
    let spin = TaskSpec::runtime("Spin", |ctx| async move {
        // Never yields while it computes: on the service's runtime this
        // would hold a worker thread for as long as it runs.
        while !ctx.is_stopping() {
            let until = Instant::now() + Duration::from_millis(50);
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            tokio::task::yield_now().await;
        }
        Ok(())
    });
    let s = start(
        VService::new("Busy")
            .with_task(HttpTask::default())
            .with_task(spin),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(common::PATIENCE)
        .build()?;
    let mut latencies = Vec::new();
    for _ in 0..200 {
        let sent = Instant::now();
        let status = client.get(s.url("/healthz")).send().await?.status();
        latencies.push(sent.elapsed());
        assert_eq!(status, 200);
    }
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100 - 1];
    // 10 ms is the aim on a quiet machine; a loaded test machine gets room.
    assert!(p99 < Duration::from_millis(100), "p99 {p99:?}");
    s.running.shutdown().await?;
    Ok(())
}
