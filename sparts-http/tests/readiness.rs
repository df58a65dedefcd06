//! Liveness and readiness over real HTTP: `/livez` and `/healthz` answer
//! while the process runs, `/readyz` follows readiness holds with their
//! reasons, and the status stays ALIVE meanwhile.

mod common;

use axum::http::StatusCode;
use common::{TestResult, client, start};
use serde_json::Value;
use sparts_core::VService;
use sparts_http::HttpTask;

/// Status and body of `GET path`.
async fn get(s: &common::Started, path: &str) -> Result<(StatusCode, String), reqwest::Error> {
    let response = client().get(s.url(path)).send().await?;
    Ok((response.status(), response.text().await?))
}

#[tokio::test]
async fn readyz_answers_503_with_the_reasons_while_held() -> TestResult {
    let s = start(
        VService::new("Held").with_task(HttpTask::default()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    let handle = s.running.handle();
    for path in ["/livez", "/healthz", "/readyz"] {
        assert_eq!(get(&s, path).await?, (StatusCode::OK, "ALIVE\n".into()));
    }

    let database = handle.hold_not_ready("database down");
    let cache = handle.hold_not_ready("cache warming");
    assert_eq!(
        get(&s, "/readyz").await?,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ALIVE\nnot ready: database down\nnot ready: cache warming\n".into()
        )
    );
    for path in ["/livez", "/healthz"] {
        let alive = get(&s, path).await?;
        assert_eq!(alive, (StatusCode::OK, "ALIVE\n".into()), "held is alive");
    }
    let status: Value = client()
        .get(s.url("/admin/status"))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(status["status"], "ALIVE", "held is not a warning");
    assert_eq!(
        status["details"],
        serde_json::json!(["not ready: database down", "not ready: cache warming"])
    );

    database.set_reason("database reconnecting");
    drop(cache);
    assert_eq!(
        get(&s, "/readyz").await?,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ALIVE\nnot ready: database reconnecting\n".into()
        )
    );
    // A warning beside a hold: both in the body, still unready.
    let warning = handle.register_warning("slow upstream");
    assert_eq!(
        get(&s, "/readyz").await?,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "WARNING\nnot ready: database reconnecting\n".into()
        )
    );
    database.release();
    assert_eq!(
        get(&s, "/readyz").await?,
        (StatusCode::OK, "WARNING\n".into())
    );
    handle.clear_warning(warning);
    assert_eq!(
        get(&s, "/readyz").await?,
        (StatusCode::OK, "ALIVE\n".into())
    );
    s.running.shutdown().await?;
    Ok(())
}

#[tokio::test]
async fn livez_stays_up_and_readyz_turns_down_when_shutdown_begins() -> TestResult {
    let s = start(
        VService::new("Lame").with_task(HttpTask::default()),
        &[
            "--http-host",
            "127.0.0.1",
            "--http-lameduck",
            "5",
            "--shutdown-timeout",
            "8",
        ],
    )
    .await?;
    let handle = s.running.handle();
    let hold = handle.hold_not_ready("warming");
    handle.request_shutdown();
    drop(hold);
    // The lame duck: still answering, alive, not ready though no hold is left.
    assert_eq!(
        get(&s, "/readyz").await?,
        (StatusCode::SERVICE_UNAVAILABLE, "STOPPING\n".into())
    );
    for path in ["/livez", "/healthz"] {
        assert_eq!(get(&s, path).await?, (StatusCode::OK, "STOPPING\n".into()));
    }
    Ok(())
}

#[tokio::test]
async fn without_health_leaves_out_livez_too() -> TestResult {
    let s = start(
        VService::new("Quiet").with_task(HttpTask::default().without_health()),
        &["--http-host", "127.0.0.1"],
    )
    .await?;
    for path in ["/livez", "/healthz", "/readyz"] {
        assert_eq!(get(&s, path).await?.0, StatusCode::NOT_FOUND, "{path}");
    }
    s.running.shutdown().await?;
    Ok(())
}
