//! The one error type of sparts-build.

use std::io;
use std::path::PathBuf;

/// Why generating code failed. Each message names the file and, where a
/// compiler failed, what the compiler said, so a build script can return it
/// as is.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// No output directory: not in a build script and none was given.
    #[error("OUT_DIR is not set: call this from a build script or give an output directory")]
    OutDir,
    /// A `.proto` file did not compile: a syntax error, a missing import, an
    /// unknown type.
    #[error("{location}: {message}")]
    Proto {
        /// The file, with the line and column when known
        /// (`proto/echo.proto:3:5`).
        location: String,
        /// protox's message.
        message: String,
    },
    /// The `.proto` files compiled but no Rust could be generated from them.
    #[error("cannot generate Rust code from {files}")]
    Codegen {
        /// The `.proto` files given.
        files: String,
        /// tonic-prost-build's error.
        #[source]
        source: io::Error,
    },
    /// The Thrift compiler is not installed (or not where it was said to be).
    #[error(
        "the Thrift compiler `{program}` was not found: install it (Debian and Ubuntu: \
         `apt-get install thrift-compiler`), set THRIFT to its path, or run \
         `thrift --gen rs` once and check the generated file in (as sparts-rs does \
         with scripts/thrift-codegen.sh)"
    )]
    ThriftMissing {
        /// The program that was looked for.
        program: PathBuf,
    },
    /// The Thrift compiler could not be started for another reason.
    #[error("cannot run the Thrift compiler `{program}`")]
    ThriftSpawn {
        /// The program that was run.
        program: PathBuf,
        /// Why it did not start.
        #[source]
        source: io::Error,
    },
    /// The Thrift compiler rejected a file.
    #[error("{file}: the Thrift compiler failed: {message}")]
    Thrift {
        /// The `.thrift` file it was given.
        file: PathBuf,
        /// What it printed (its standard error, else its standard output).
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("cannot {action} {path}")]
    Io {
        /// What was being done (`write`, `read`, `create directory`).
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The result of this crate's functions.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An `Io` error with its action and path.
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.into(),
            source,
        }
    }
}
