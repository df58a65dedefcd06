//! The baseline of `bench/edge.sh`: axum's hello world served the way a
//! hand-written server would serve it at the network edge, with nothing of
//! sparts: hyper-util's auto builder (HTTP/1.1, and HTTP/2 for a client
//! that opens with its preface or asks for `h2` by ALPN), over rustls with
//! the same configuration sparts uses (ring, ALPN `h2` and `http/1.1`)
//! when given a certificate and key. It logs its port to stderr like the
//! sparts server does.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bare_axum_edge -- 8001 [CERT KEY]
//! ```
use std::sync::Arc;

use axum::{Router, routing::get};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::service::TowerToHyperService;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// rustls with ring, ALPN h2 then http/1.1: what sparts' acceptor builds.
#[allow(deprecated)]
fn tls(cert: &str, key: &str) -> Result<tokio_rustls::TlsAcceptor, BoxError> {
    let certs = CertificateDer::pem_file_iter(cert)?.collect::<Result<Vec<_>, _>>()?;
    let key = PrivateKeyDer::from_pem_file(key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
    let tls = match (args.get(2), args.get(3)) {
        (Some(cert), Some(key)) => Some(tls(cert, key)?),
        _ => None,
    };
    let app = Router::new().route("/", get(|| async { "Hello, world" }));
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!(
        "bare axum listening on 0.0.0.0 (port {})",
        listener.local_addr()?.port()
    );
    let builder = Arc::new(auto::Builder::new(TokioExecutor::new()));
    loop {
        let (stream, _) = listener.accept().await?;
        let _ = stream.set_nodelay(true);
        let (app, builder, tls) = (app.clone(), Arc::clone(&builder), tls.clone());
        tokio::spawn(async move {
            let service = TowerToHyperService::new(app);
            let _ = match tls {
                Some(tls) => match tls.accept(stream).await {
                    Ok(stream) => {
                        builder
                            .serve_connection_with_upgrades(TokioIo::new(stream), service)
                            .await
                    }
                    Err(_) => return,
                },
                None => {
                    builder
                        .serve_connection_with_upgrades(TokioIo::new(stream), service)
                        .await
                }
            };
        });
    }
}
