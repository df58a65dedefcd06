//! A gRPC task for sparts services, built on [tonic]: the user's services
//! in one call each, plus `grpc.health.v1.Health` wired to the service's
//! readiness, reflection (v1 and v1alpha), the admin service
//! `sparts.admin.v1.Admin`, per-method counters and a drain on shutdown.
//!
//! ```no_run
//! use sparts_core::VService;
//! use sparts_grpc::GrpcTask;
//!
//! fn main() -> std::process::ExitCode {
//!     // Health, reflection and admin on --grpc-port.
//!     VService::new("Demo").with_task(GrpcTask::new()).run_from_cli()
//! }
//! ```
//!
//! # Your own `.proto` files, without `protoc`
//!
//! Compile them in `build.rs` with `protox` (a protobuf compiler in Rust)
//! and `tonic-prost-build`, as `scripts/grpc-codegen.sh` does for this
//! crate. In `Cargo.toml`: `[build-dependencies] protox = "0.9"`,
//! `tonic-prost-build = "0.14"`; `[dependencies] prost = "0.14"`,
//! `tonic-prost = "0.14"` (and `prost-types` if the protos use well-known
//! types). Then `build.rs`:
//!
//! ```ignore
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let fds = protox::compile(["greeter.proto"], ["proto"])?;
//!     let out = std::path::PathBuf::from(std::env::var("OUT_DIR")?);
//!     std::fs::write(out.join("greeter.bin"), prost::Message::encode_to_vec(&fds))?;
//!     tonic_prost_build::configure().build_transport(false).compile_fds(fds)?;
//!     Ok(())
//! }
//! ```
//!
//! and in the code `tonic::include_proto!("greeter")`, with
//! `include_bytes!(concat!(env!("OUT_DIR"), "/greeter.bin"))` given to
//! [`GrpcTask::with_file_descriptor_set`] for reflection.

mod admin;
mod connection;
mod error;
mod health;
mod metrics;
#[cfg(feature = "http")]
mod one_port;
mod options;
pub mod pb;
mod router;
mod serve;
mod task;
mod unprocessed;

pub use error::{Error, Result};
pub use options::GrpcOptions;
pub use sparts_core::listen::BoundAddr;
pub use sparts_core::server::Bound;
pub use task::GrpcTask;
pub use unprocessed::never_processed;

pub use tonic;
pub use tonic_health;
