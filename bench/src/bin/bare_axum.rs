//! The baseline of `bench/http.sh`: axum's own hello world, as its README
//! writes it (`axum::serve` on a multi-threaded runtime), with nothing of
//! sparts. It logs its port to stderr like the sparts server does.
//!
//! ```sh
//! cargo run --release -p sparts-bench --bin bare_axum -- 8001
//! ```
use axum::{Router, routing::get};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    let app = Router::new().route("/", get(|| async { "Hello, world" }));
    let listener = tokio::net::TcpListener::bind(("0.0.0.0", port)).await?;
    eprintln!(
        "bare axum listening on 0.0.0.0 (port {})",
        listener.local_addr()?.port()
    );
    axum::serve(listener, app).await
}
