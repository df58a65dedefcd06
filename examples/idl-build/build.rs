//! Generates the example's gRPC and Thrift code with sparts-build.

// A build script talks to cargo on its standard output.
#![allow(clippy::print_stdout)]

use sparts_build::Error;

fn main() -> Result<(), Error> {
    // With protox: no protoc is installed in CI, and none is needed.
    sparts_build::Grpc::new()
        .with_file_descriptor_set("echo_descriptor.bin")
        .compile(&["proto/echo.proto"], &["proto"])?;
    println!("cargo::rustc-check-cfg=cfg(no_thrift_compiler)");
    match sparts_build::compile_thrift(&["idl/points.thrift"]) {
        // The workspace still builds without thrift-compiler (CI installs
        // it): the Thrift half is left out and its test says why.
        Err(error @ Error::ThriftMissing { .. }) => {
            println!("cargo::warning=the Thrift half is left out: {error}");
            println!("cargo::rustc-cfg=no_thrift_compiler");
            Ok(())
        }
        other => other,
    }
}
