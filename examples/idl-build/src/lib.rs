//! A crate whose `build.rs` generates its gRPC and Thrift code with
//! sparts-build: `echo` from `proto/echo.proto` (with protox, no `protoc`),
//! `points` from `idl/points.thrift` (with `thrift --gen rs`; left out,
//! with a build warning, where thrift-compiler is not installed). Its tests
//! call both.
//!
//! ```
//! use sparts_build_example::echo::SayRequest;
//!
//! let request = SayRequest { text: "hi".to_owned(), times: 2 };
//! assert_eq!(request.times, 2);
//! ```

/// The `echo` protobuf package: messages, client and server.
pub mod echo {
    tonic::include_proto!("echo");

    /// The encoded file descriptor set of `proto/echo.proto`, for gRPC
    /// reflection.
    pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("echo_descriptor");
}

/// The `points` Thrift IDL: `Point` and the `Mirror` service.
#[cfg(not(no_thrift_compiler))]
// The lints the Thrift compiler's own inner attributes silenced (include!
// cannot take them), and those of our workspace its code does not meet.
#[allow(
    unused_imports,
    unused_extern_crates,
    clippy::all,
    clippy::pedantic,
    clippy::restriction,
    missing_docs,
    unreachable_pub,
    missing_debug_implementations,
    rust_2018_idioms
)]
pub mod points {
    include!(concat!(env!("OUT_DIR"), "/points.rs"));
}

mod services;

pub use services::EchoService;
#[cfg(not(no_thrift_compiler))]
pub use services::MirrorHandler;
