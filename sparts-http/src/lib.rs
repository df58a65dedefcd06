//! sparts-http: an HTTP server task for sparts services, built on [axum].
//!
//! [`HttpTask`] serves the user's [`axum::Router`] (every extractor, layer
//! and middleware of axum stays available) plus what platforms expect of a
//! service: `/livez`, `/readyz`, `/metrics` for Prometheus (OpenMetrics or
//! the classic text format, gzip when asked), and an admin API (status,
//! counters, options, reinitialize, shutdown) with writes limited to trusted
//! peers. It listens on TCP (IPv4 and IPv6) or a unix socket, records the
//! user's requests (by route template and status) and latency, and on shutdown
//! turns unready, serves a lame-duck period, drains, then cuts what is left
//! within the service's shutdown budget.
//!
//! With no routes of the user's, `/` answers `Hello, world`:
//!
//! ```no_run
//! use sparts_core::VService;
//! use sparts_http::HttpTask;
//!
//! fn main() -> std::process::ExitCode {
//!     VService::new("Hello").with_task(HttpTask::default()).run_from_cli()
//! }
//! ```
//!
//! Run it with `--http-port 8000`, then `curl localhost:8000`.
//!
//! A router with state, and a second task on an admin port:
//!
//! ```
//! use std::sync::Arc;
//! use std::sync::atomic::{AtomicU64, Ordering};
//!
//! use axum::{Router, extract::State, routing::get};
//! use sparts_core::{TaskSpec, VService};
//! use sparts_http::HttpTask;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let visits = Arc::new(AtomicU64::new(0));
//! let public = Router::new()
//!     .route("/", get(|State(n): State<Arc<AtomicU64>>| async move {
//!         format!("visit {}\n", n.fetch_add(1, Ordering::Relaxed) + 1)
//!     }))
//!     .with_state(visits);
//! let service = VService::new("Site")
//!     .with_task(HttpTask::new(public).without_admin())
//!     .with_task(
//!         TaskSpec::new(HttpTask::new(Router::new()))
//!             .with_name("AdminHttp")
//!             .with_prefix("admin"),
//!     );
//! let running = service
//!     .start_with_args(["site", "--http-host", "127.0.0.1", "--admin-host", "127.0.0.1"])
//!     .await?;
//! let admin = running.handle().require_named::<HttpTask>("AdminHttp")?;
//! assert!(admin.port().is_some());
//! running.shutdown().await?;
//! # Ok(())
//! # }
//! ```

mod admin;
mod app;
mod connection;
mod drain;
mod endpoints;
mod error;
mod options;
mod pprof;
mod route;
mod scrape;
mod serve;
mod task;

pub use error::{Error, Result};
pub use options::HttpOptions;
pub use sparts_core::listen::BoundAddr;
pub use sparts_core::server::Bound;
pub use task::HttpTask;

/// Re-exported so that users write routers without a direct dependency on
/// axum (their own `axum` of the same version works as well).
pub use axum;
