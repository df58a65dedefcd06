//! sparts: write long-running services with as little code as possible.
//!
//! This is the facade crate: it re-exports [`sparts-core`](sparts_core)
//! (services, tasks, options, counters, status, the admin model, daemon
//! mode, built-in tasks). Each transport is a Cargo feature. The two heavy
//! parts of core, the CPU profiler and the directory watcher, are default
//! features: `default-features = false` leaves them out for a smaller build.
//!
//! | feature | module | what it adds |
//! |---|---|---|
//! | (none) | the crate root | `VService`, `VTask`, options, counters, status, admin model, daemon, `PeriodicTask`, `QueueTask`, `PollerTask`, `CommandTask` |
//! | `cpu-profile` (default) | the crate root | `Admin::cpu_profile` (fb303 `getCpuProfile`) samples with pprof; without it the call answers `Error::ProfilingUnavailable` |
//! | `watcher` (default) | the crate root | `DirectoryWatcherTask` (notify: inotify, polling as the fallback) |
//! | `http` | `sparts::http` | `HttpTask` (axum): your router plus health, Prometheus and admin endpoints |
//! | `grpc` | `sparts::grpc` | `GrpcTask` (tonic): your services plus health, reflection and `sparts.admin.v1.Admin`; with `http`, an axum router on the same port |
//! | `thrift` | `sparts::thrift` | `ThriftServerTask`, `ThriftHandlerTask` (tokio + the `thrift` crate): fb303, multiplexing, `ThriftClient`; with `http`, Thrift over HTTP |
//! | `nats` | `sparts::nats` | `NatsBackend`, `NatsLease` (async-nats): a queue's items and a periodic task's ticks shared by every replica |
//! | `dbus` | `sparts::dbus` | `DBusServiceTask` (zbus): `org.sparts.Service` and fb303 on the bus, plus your interfaces |
//! | `otel` | the crate root | OpenTelemetry traces: a server span per HTTP request, gRPC call and Thrift call, exported over OTLP once an endpoint is configured (`--otel-endpoint`, `OTEL_EXPORTER_OTLP_ENDPOINT`) |
//! | `full` | every transport | |
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
//! use sparts::{BoxError, TaskContext, VService, VTask};
//!
//! #[derive(Clone)]
//! struct Hello;
//!
//! impl VTask for Hello {
//!     async fn run(&self, ctx: TaskContext) -> Result<(), BoxError> {
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

/// The Thrift tasks ([`thrift::ThriftServerTask`] serving
/// [`thrift::ThriftHandlerTask`]s, fb303 built in), on tokio with the
/// `thrift` crate's protocols. Needs the `thrift` feature; code generated by
/// `thrift --gen rs` also needs the `thrift` crate as a direct dependency.
///
/// ```
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use sparts::VService;
/// use sparts::thrift::{ThriftHandlerTask, ThriftServerTask};
///
/// let running = VService::new("Api")
///     .with_task(ThriftHandlerTask::fb303())
///     .with_task(ThriftServerTask::new())
///     .start_with_args(["api", "--thrift-host", "127.0.0.1"])
///     .await?;
/// let thrift = running.handle().require::<ThriftServerTask>()?;
/// assert!(thrift.port().is_some_and(|p| p != 0));
/// running.shutdown().await?;
/// # Ok(())
/// # }
/// ```
#[cfg(feature = "thrift")]
pub use sparts_thrift as thrift;

/// Terminal UIs ([`tui::TuiTask`]): a full-screen ratatui app as a task,
/// whose closing shuts the service down, and the built-in dashboard of the
/// service ([`tui::TuiTask::dashboard`]). The crate also ships `sparts-top`,
/// the same dashboard for a service running elsewhere. Needs the `tui`
/// feature.
///
/// ```no_run
/// use sparts::VService;
/// use sparts::tui::TuiTask;
///
/// fn main() -> std::process::ExitCode {
///     VService::new("Watched").with_task(TuiTask::dashboard()).run_from_cli()
/// }
/// ```
#[cfg(feature = "tui")]
pub use sparts_tui as tui;

/// Queue and periodic tasks shared by every replica of a service, on NATS
/// JetStream: a queue's items with `--<prefix>-backend nats://HOST:PORT`,
/// a periodic task's ticks on one replica with `--<prefix>-coordination
/// nats://HOST:PORT`.
///
/// ```no_run
/// use sparts::nats::NatsBackend;
/// use sparts::{TaskSpec, VService, QueueTask};
/// # use sparts::{BoxError, ItemContext, QueueWork};
/// # #[derive(Clone)]
/// # struct Resize;
/// # impl QueueWork for Resize {
/// #     type Item = String;
/// #     async fn execute(&self, _: &String, _: &ItemContext) -> Result<(), BoxError> { Ok(()) }
/// # }
///
/// fn main() -> std::process::ExitCode {
///     VService::new("Images")
///         .with_task(QueueTask::new(Resize).with_backend(NatsBackend::new()))
///         .run_from_cli()
/// }
/// ```
#[cfg(feature = "nats")]
pub use sparts_nats as nats;

/// The README's examples, compiled as doctests.
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
