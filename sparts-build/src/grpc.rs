//! gRPC: `.proto` files to tonic code with protox, so no `protoc` to
//! install.

use std::path::{Path, PathBuf};

use prost::Message as _;

use crate::{Error, Result, cargo};

/// Compiles `.proto` files into tonic clients, servers and prost messages in
/// `OUT_DIR`, one `<package>.rs` per protobuf package, for
/// `tonic::include_proto!("<package>")`. `includes` are the directories
/// imports are looked up in; each file must be under one of them.
///
/// The same as [`Grpc::new`] then [`Grpc::compile`].
pub fn compile_protos(protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<()> {
    Grpc::new().compile(protos, includes)
}

/// What [`compile_protos`] generates, and where.
#[derive(Debug, Clone)]
#[must_use]
pub struct Grpc {
    client: bool,
    server: bool,
    transport: bool,
    out_dir: Option<PathBuf>,
    descriptor_set: Option<PathBuf>,
}

impl Default for Grpc {
    fn default() -> Self {
        Self::new()
    }
}

impl Grpc {
    /// Clients and servers, with tonic's transport, into `OUT_DIR`, and no
    /// file descriptor set.
    pub fn new() -> Self {
        Self {
            client: true,
            server: true,
            transport: true,
            out_dir: None,
            descriptor_set: None,
        }
    }

    /// Whether to generate clients (`<service>_client`). Default: true.
    pub fn with_client(mut self, client: bool) -> Self {
        self.client = client;
        self
    }

    /// Whether to generate servers (`<service>_server`). Default: true.
    pub fn with_server(mut self, server: bool) -> Self {
        self.server = server;
        self
    }

    /// Whether clients get `connect`, which needs tonic's `channel` feature.
    /// Default: true, as in tonic-build.
    pub fn with_transport(mut self, transport: bool) -> Self {
        self.transport = transport;
        self
    }

    /// Where the generated files go. Default: the build script's `OUT_DIR`.
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Also writes the encoded `FileDescriptorSet` of the files (imports
    /// included) to `path`, relative to the output directory, for gRPC
    /// reflection: `descriptor.bin` is read back with
    /// `tonic::include_file_descriptor_set!("descriptor")`. Default: none.
    pub fn with_file_descriptor_set(mut self, path: impl Into<PathBuf>) -> Self {
        self.descriptor_set = Some(path.into());
        self
    }

    /// Compiles `protos`, looking imports up in `includes`, and asks cargo to
    /// rerun the build script when any file read changes.
    pub fn compile(self, protos: &[impl AsRef<Path>], includes: &[impl AsRef<Path>]) -> Result<()> {
        let out_dir = cargo::out_dir(self.out_dir.as_deref())?;
        let mut compiler = protox::Compiler::new(includes).map_err(|e| proto_error(&e))?;
        compiler.include_imports(true).include_source_info(true);
        let opened = compiler.open_files(protos);
        // Before the error check: a file that failed to parse is worth
        // watching too, so fixing it reruns the build.
        for proto in protos {
            cargo::rerun_if_changed(proto.as_ref());
        }
        opened.map_err(|e| proto_error(&e))?;
        for file in compiler.files() {
            if let Some(path) = file.path() {
                cargo::rerun_if_changed(path);
            }
        }
        let fds = compiler.file_descriptor_set();
        if let Some(path) = &self.descriptor_set {
            let path = out_dir.join(path);
            std::fs::write(&path, fds.encode_to_vec()).map_err(|e| Error::io("write", path, e))?;
        }
        tonic_prost_build::configure()
            .build_client(self.client)
            .build_server(self.server)
            .build_transport(self.transport)
            .out_dir(&out_dir)
            .compile_fds(fds)
            .map_err(|source| Error::Codegen {
                files: list(protos),
                source,
            })
    }
}

/// protox's error as `file:line:column: message`.
fn proto_error(error: &protox::Error) -> Error {
    use miette::Diagnostic as _;
    let mut location = error.file().unwrap_or("the protobuf files").to_owned();
    let span = error.labels().and_then(|mut labels| labels.next());
    let source = error.source_code();
    if let (Some(span), Some(source)) = (span, source)
        && let Ok(at) = source.read_span(span.inner(), 0, 0)
    {
        // miette counts lines and columns from 0; editors from 1.
        location = format!("{location}:{}:{}", at.line() + 1, at.column() + 1);
    }
    Error::Proto {
        location,
        message: error.to_string(),
    }
}

/// The files as one string for a message: `a.proto, b.proto`.
fn list(files: &[impl AsRef<Path>]) -> String {
    let names: Vec<_> = files
        .iter()
        .map(|file| file.as_ref().display().to_string())
        .collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Writes `files` (name, text) into a new directory.
    fn protos(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temporary directory");
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).expect("write a .proto file");
        }
        dir
    }

    const ECHO: &str = r#"syntax = "proto3";
package echo;
message Ping { string text = 1; }
service Echo { rpc Say(Ping) returns (Ping); }
"#;

    #[test]
    fn writes_the_package_module_and_the_descriptor_set() {
        let src = protos(&[("echo.proto", ECHO)]);
        let out = tempfile::tempdir().expect("temporary directory");
        Grpc::new()
            .with_server(false)
            .with_out_dir(out.path())
            .with_file_descriptor_set("echo.bin")
            .compile(&[src.path().join("echo.proto")], &[src.path()])
            .expect("echo.proto compiles");
        let code = std::fs::read_to_string(out.path().join("echo.rs")).expect("echo.rs");
        assert!(code.contains("pub mod echo_client"), "{code}");
        assert!(!code.contains("pub mod echo_server"), "{code}");
        let fds = std::fs::read(out.path().join("echo.bin")).expect("echo.bin");
        let fds = prost_types::FileDescriptorSet::decode(fds.as_slice()).expect("a descriptor set");
        assert_eq!(fds.file[0].package(), "echo");
    }

    #[test]
    fn a_syntax_error_names_the_file_line_and_message() {
        let src = protos(&[(
            "bad.proto",
            "syntax = \"proto3\";\nmessage Ping {\n  string = 1;\n}\n",
        )]);
        let out = tempfile::tempdir().expect("temporary directory");
        let error = Grpc::new()
            .with_out_dir(out.path())
            .compile(&[src.path().join("bad.proto")], &[src.path()])
            .expect_err("bad.proto does not compile");
        let message = error.to_string();
        assert!(message.starts_with("bad.proto:3:"), "{message}");
        assert!(message.contains("expected"), "{message}");
    }

    #[test]
    fn a_missing_import_names_the_file_and_the_import() {
        let src = protos(&[(
            "importer.proto",
            "syntax = \"proto3\";\nimport \"missing.proto\";\n",
        )]);
        let out = tempfile::tempdir().expect("temporary directory");
        let error = Grpc::new()
            .with_out_dir(out.path())
            .compile(&[src.path().join("importer.proto")], &[src.path()])
            .expect_err("the import is missing");
        let message = error.to_string();
        assert!(message.starts_with("importer.proto:2:"), "{message}");
        assert!(
            message.contains("import 'missing.proto' not found"),
            "{message}"
        );
    }

    #[test]
    fn a_file_outside_the_includes_is_an_error() {
        let src = protos(&[("echo.proto", ECHO)]);
        let elsewhere = tempfile::tempdir().expect("temporary directory");
        let error = Grpc::new()
            .with_out_dir(src.path())
            .compile(&[src.path().join("echo.proto")], &[elsewhere.path()])
            .expect_err("echo.proto is not under the include directory");
        assert!(error.to_string().contains("echo.proto"), "{error}");
    }
}
