//! What a build script tells cargo, and what cargo tells it.

use std::path::{Path, PathBuf};

use crate::{Error, Result};

/// The directory generated code goes to: the one given, else the build
/// script's `OUT_DIR`.
pub(crate) fn out_dir(given: Option<&Path>) -> Result<PathBuf> {
    match given {
        Some(dir) => Ok(dir.to_path_buf()),
        None => std::env::var_os("OUT_DIR")
            .map(PathBuf::from)
            .ok_or(Error::OutDir),
    }
}

/// Asks cargo to run the build script again when `path` (a file, or any
/// file under a directory) changes.
pub(crate) fn rerun_if_changed(path: &Path) {
    // A build script talks to cargo on its standard output.
    #[allow(clippy::print_stdout)]
    {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// Asks cargo to run the build script again when the environment variable
/// `name` changes.
pub(crate) fn rerun_if_env_changed(name: &str) {
    #[allow(clippy::print_stdout)]
    {
        println!("cargo:rerun-if-env-changed={name}");
    }
}
