//! Helpers for a service's `build.rs`: Rust code from its IDL files, in
//! `OUT_DIR`.
//!
//! - gRPC: [`compile_protos`] compiles `.proto` files into tonic clients
//!   and servers with [protox](https://docs.rs/protox), a protobuf compiler
//!   in Rust, so there is no `protoc` to install. [`Grpc`] chooses clients,
//!   servers, and writes the file descriptor set that gRPC reflection
//!   serves.
//! - Thrift: [`compile_thrift`] runs Apache Thrift's compiler
//!   (`thrift --gen rs`) and makes its output fit for `include!`. Only this
//!   helper needs a compiler installed (Debian and Ubuntu:
//!   `apt-get install thrift-compiler`); [`Thrift`] names another compiler
//!   or include directories.
//!
//! Both tell cargo to rerun the build script when an input changes, and
//! fail with an [`Error`] that names the file and what the compiler said.
//!
//! # Example
//!
//! A `build.rs`, with `sparts-build` in `[build-dependencies]`:
//!
//! ```no_run
//! fn main() -> Result<(), sparts_build::Error> {
//!     // proto/echo.proto holds `package echo;`.
//!     sparts_build::Grpc::new()
//!         .with_client(false)
//!         .with_file_descriptor_set("echo_descriptor.bin")
//!         .compile(&["proto/echo.proto"], &["proto"])?;
//!     // idl/points.thrift: OUT_DIR/points.rs.
//!     sparts_build::compile_thrift(&["idl/points.thrift"])
//! }
//! ```
//!
//! and the crate's code includes what they wrote:
//!
//! ```ignore
//! pub mod echo {
//!     tonic::include_proto!("echo");
//!     pub const DESCRIPTOR: &[u8] = tonic::include_file_descriptor_set!("echo_descriptor");
//! }
//!
//! // The lints the Thrift compiler's own attributes silenced.
//! #[allow(unused_imports, unused_extern_crates, clippy::all, clippy::restriction, missing_docs)]
//! pub mod points {
//!     include!(concat!(env!("OUT_DIR"), "/points.rs"));
//! }
//! ```

mod cargo;
mod error;
mod grpc;
mod thrift;

pub use error::{Error, Result};
pub use grpc::{Grpc, compile_protos};
pub use thrift::{Thrift, compile_thrift};
