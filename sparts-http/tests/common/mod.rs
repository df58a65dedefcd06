//! Helpers shared by the HTTP tests: start a service on port 0, talk to it
//! with a real client over TCP or a unix socket.
#![allow(dead_code, unreachable_pub)]

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use sparts_core::{RunningService, VService};
use sparts_http::HttpTask;
use tokio::net::UnixStream;

/// The longest any single wait in a test may take.
pub const PATIENCE: Duration = Duration::from_secs(10);

pub type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// A started service and its HTTP task.
pub struct Started {
    pub running: RunningService,
    pub http: Arc<HttpTask>,
}

impl Started {
    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port())
    }

    pub fn port(&self) -> u16 {
        self.http.port().expect("a TCP port")
    }
}

/// Starts `service` with `args` after the program name, bounded in time.
pub async fn start(service: VService, args: &[&str]) -> Result<Started, sparts_core::Error> {
    let argv = std::iter::once("svc").chain(args.iter().copied());
    let running = tokio::time::timeout(PATIENCE, service.start_with_args(argv))
        .await
        .expect("the service starts in time")?;
    let http = running.handle().require::<HttpTask>()?;
    Ok(Started { running, http })
}

/// A client that opens a new connection for every request (so it sees the
/// listener's state), ignores proxies, and gives up after [`PATIENCE`].
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .pool_max_idle_per_host(0)
        .timeout(PATIENCE)
        .build()
        .expect("a client")
}

/// Status and body of one request over a unix socket.
pub async fn unix_request(
    path: &Path,
    method: &str,
    uri: &str,
    body: &str,
) -> Result<(u16, String), Box<dyn std::error::Error + Send + Sync>> {
    let work = async {
        let stream = UnixStream::connect(path).await?;
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        let request = hyper::Request::builder()
            .method(method)
            .uri(uri)
            .header("host", "localhost")
            .body(Full::new(Bytes::from(body.to_owned())))?;
        let response = sender.send_request(request).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((
            status,
            String::from_utf8_lossy(&bytes).into_owned(),
        ))
    };
    tokio::time::timeout(PATIENCE, work).await?
}

/// Whether IPv6 loopback works on this machine.
pub fn has_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}
