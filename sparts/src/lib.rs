//! sparts: write long-running services with as little code as possible.
//!
//! This is the facade crate: it re-exports [`sparts-core`](sparts_core)
//! (services, tasks, options, counters, status, the admin model, daemon
//! mode). Transports are turned on by Cargo features: `http` gives
//! [`http::HttpTask`] (axum, with health, Prometheus and admin endpoints),
//! `dbus` gives [`dbus::DBusServiceTask`] (zbus, the original's
//! `org.sparts.Service` and fb303 objects plus the user's interfaces),
//! `grpc` gives [`grpc::GrpcTask`] (tonic, with health, reflection and the
//! `sparts.admin.v1.Admin` service).
//!
//! A whole program:
//!
//! ```no_run
//! fn main() -> std::process::ExitCode {
//!     sparts::VService::new("EmptyService").run_from_cli()
//! }
//! ```
//!
//! A service with a task of its own, started inside a program:
//!
//! ```
//! use sparts::{BoxError, NoOptions, TaskContext, VService, VTask};
//!
//! #[derive(Clone)]
//! struct Hello;
//!
//! impl VTask for Hello {
//!     type Options = NoOptions;
//!
//!     async fn run(&self, ctx: TaskContext<NoOptions>) -> Result<(), BoxError> {
//!         ctx.counters().counter("greetings").increment();
//!         ctx.stopped().await;
//!         Ok(())
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> sparts::Result<()> {
//! let running = VService::new("Hello").with_task(Hello).start_with_args(["hello"]).await?;
//! assert_eq!(running.handle().task_names(), ["Hello"]);
//! running.shutdown().await
//! # }
//! ```

pub use sparts_core::*;

/// The HTTP task ([`http::HttpTask`]): axum with health, metrics and admin
/// endpoints. Needs the `http` feature.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sparts::VService;
/// use sparts::http::HttpTask;
/// use sparts::http::axum::{Router, routing::get};
///
/// let api = Router::new().route("/ping", get(|| async { "pong" }));
/// let running = VService::new("Api")
///     .with_task(HttpTask::new(api))
///     .start_with_args(["api", "--http-host", "127.0.0.1"])
///     .await?;
/// let http = running.handle().require::<HttpTask>()?;
/// assert!(http.port().is_some_and(|p| p != 0));
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "http")]
pub use sparts_http as http;

/// The D-Bus task ([`dbus::DBusServiceTask`]): the service on the session
/// or system bus, wire-compatible with the original sparts, plus the user's
/// own `#[zbus::interface]` objects. Needs the `dbus` feature.
///
/// ```no_run
/// use sparts::VService;
/// use sparts::dbus::DBusServiceTask;
///
/// fn main() -> std::process::ExitCode {
///     // Run with `--dbus-bus-name org.example.Demo`.
///     VService::new("Demo").with_task(DBusServiceTask::new()).run_from_cli()
/// }
/// ```
#[cfg(feature = "dbus")]
pub use sparts_dbus as dbus;

/// The gRPC task ([`grpc::GrpcTask`]): the user's tonic services plus
/// health wired to the service's status, reflection and the admin service.
/// Needs the `grpc` feature.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sparts::VService;
/// use sparts::grpc::GrpcTask;
///
/// let running = VService::new("Api")
///     .with_task(GrpcTask::new())
///     .start_with_args(["api", "--grpc-host", "127.0.0.1"])
///     .await?;
/// let grpc = running.handle().require::<GrpcTask>()?;
/// assert!(grpc.port().is_some_and(|p| p != 0));
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "grpc")]
pub use sparts_grpc as grpc;

/// The README's examples, compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
