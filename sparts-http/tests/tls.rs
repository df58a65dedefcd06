//! Mutual TLS: the certificate a client proved it holds reaches the
//! handlers as a request extension. (curl and the other clients, ALPN,
//! rotation and bad files are tested on the examples.)

mod common;

use std::process::Command;

use axum::Router;
use axum::extract::Extension;
use axum::routing::get;
use common::{TestResult, start};
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use sparts_core::VService;
use sparts_core::tls::ClientIdentity;
use sparts_http::HttpTask;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../examples/tests/fixtures/tls/"
);

fn fixture(name: &str) -> String {
    format!("{FIXTURES}{name}")
}

#[tokio::test]
async fn the_verified_client_certificate_reaches_the_handler() -> TestResult {
    if Command::new("curl").arg("--version").output().is_err() {
        eprintln!("curl is missing: skipped (CI installs it)");
        return Ok(());
    }
    let router = Router::new().route(
        "/whoami",
        get(
            |Extension(identity): Extension<ClientIdentity>| async move {
                identity.certificate().to_vec()
            },
        ),
    );
    let (cert, key, ca) = (
        fixture("server.pem"),
        fixture("server.key"),
        fixture("ca.pem"),
    );
    let s = start(
        VService::new("Mtls").with_task(HttpTask::new(router)),
        &[
            "--http-host",
            "127.0.0.1",
            "--http-tls-cert",
            &cert,
            "--http-tls-key",
            &key,
            "--http-tls-client-ca",
            &ca,
        ],
    )
    .await?;
    let port = s.port();
    let url = format!("https://localhost:{port}/whoami");
    let resolve = format!("localhost:{port}:127.0.0.1");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("curl")
            .args(["-sS", "--noproxy", "*", "--max-time", "20", "--cacert", &ca])
            .args([
                "--cert",
                &fixture("client.pem"),
                "--key",
                &fixture("client.key"),
            ])
            .args(["--resolve", &resolve, &url])
            .output()
    })
    .await??;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let client = CertificateDer::from_pem_file(fixture("client.pem"))?;
    assert_eq!(
        out.stdout,
        client.as_ref(),
        "the client's own certificate, DER"
    );
    s.running.shutdown().await?;
    Ok(())
}
