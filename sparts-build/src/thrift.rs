//! Thrift: `.thrift` files to Rust with Apache Thrift's compiler
//! (`thrift --gen rs`), made fit for `include!`.

mod includable;

use std::io;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Error, Result, cargo};

use includable::includable;

/// The environment variable that names the Thrift compiler.
const THRIFT_ENV: &str = "THRIFT";

/// Compiles `.thrift` files with the Thrift compiler into `OUT_DIR`, one
/// `<name>.rs` per file (the file's name in snake case, as the compiler
/// names it), for `include!(concat!(env!("OUT_DIR"), "/<name>.rs"))`.
///
/// Needs the compiler installed (Debian and Ubuntu: `thrift-compiler`);
/// `THRIFT` in the environment names another one. The same as
/// [`Thrift::new`] then [`Thrift::compile`].
pub fn compile_thrift(files: &[impl AsRef<Path>]) -> Result<()> {
    Thrift::new().compile(files)
}

/// How [`compile_thrift`] runs the compiler, and where its output goes.
#[derive(Debug, Clone)]
#[must_use]
pub struct Thrift {
    compiler: Option<PathBuf>,
    includes: Vec<PathBuf>,
    out_dir: Option<PathBuf>,
}

impl Default for Thrift {
    fn default() -> Self {
        Self::new()
    }
}

impl Thrift {
    /// The compiler from `THRIFT` or the `PATH`, no include directories,
    /// output to `OUT_DIR`.
    pub fn new() -> Self {
        Self {
            compiler: None,
            includes: Vec::new(),
            out_dir: None,
        }
    }

    /// The Thrift compiler to run. Default: `THRIFT` from the environment,
    /// else `thrift` on the `PATH`.
    pub fn with_compiler(mut self, program: impl Into<PathBuf>) -> Self {
        self.compiler = Some(program.into());
        self
    }

    /// A directory `include` statements are looked up in (the compiler's
    /// `-I`). Default: only the including file's directory.
    pub fn with_include(mut self, dir: impl Into<PathBuf>) -> Self {
        self.includes.push(dir.into());
        self
    }

    /// Where the generated files go. Default: the build script's `OUT_DIR`.
    pub fn with_out_dir(mut self, dir: impl Into<PathBuf>) -> Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Runs the compiler on each file and writes its output, made
    /// includable, to the output directory; asks cargo to rerun the build
    /// script when a file, an include directory or `THRIFT` changes.
    pub fn compile(self, files: &[impl AsRef<Path>]) -> Result<()> {
        let out_dir = cargo::out_dir(self.out_dir.as_deref())?;
        let program = self.program();
        cargo::rerun_if_env_changed(THRIFT_ENV);
        for dir in &self.includes {
            cargo::rerun_if_changed(dir);
        }
        for file in files {
            let file = file.as_ref();
            cargo::rerun_if_changed(file);
            self.compile_one(&program, file, &out_dir)?;
        }
        Ok(())
    }

    /// The compiler given, else `THRIFT`, else `thrift`.
    fn program(&self) -> PathBuf {
        self.compiler
            .clone()
            .or_else(|| std::env::var_os(THRIFT_ENV).map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("thrift"))
    }

    /// Compiles one file into a scratch directory, then copies what the
    /// compiler wrote, made includable, to `out_dir`: the compiler picks the
    /// output's name, so the scratch directory is how to find it.
    fn compile_one(&self, program: &Path, file: &Path, out_dir: &Path) -> Result<()> {
        let scratch = out_dir.join("sparts-build-thrift");
        remove_dir(&scratch)?;
        std::fs::create_dir_all(&scratch)
            .map_err(|e| Error::io("create directory", &scratch, e))?;
        let mut command = Command::new(program);
        command.arg("--gen").arg("rs").arg("-out").arg(&scratch);
        for dir in &self.includes {
            command.arg("-I").arg(dir);
        }
        let output = command.arg(file).output().map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::ThriftMissing {
                    program: program.to_path_buf(),
                }
            } else {
                Error::ThriftSpawn {
                    program: program.to_path_buf(),
                    source,
                }
            }
        })?;
        if !output.status.success() {
            // The compiler writes its errors to stderr in some versions and
            // to stdout in others.
            let mut message = String::from_utf8_lossy(&output.stderr).trim().to_owned();
            if message.is_empty() {
                message = String::from_utf8_lossy(&output.stdout).trim().to_owned();
            }
            if message.is_empty() {
                message = output.status.to_string();
            }
            return Err(Error::Thrift {
                file: file.to_path_buf(),
                message,
            });
        }
        for name in rust_files(&scratch)? {
            let generated = scratch.join(&name);
            let code = std::fs::read_to_string(&generated)
                .map_err(|e| Error::io("read", &generated, e))?;
            let target = out_dir.join(name);
            std::fs::write(&target, includable(&code))
                .map_err(|e| Error::io("write", &target, e))?;
        }
        remove_dir(&scratch)
    }
}

/// The names of the `.rs` files directly in `dir`.
fn rust_files(dir: &Path) -> Result<Vec<std::ffi::OsString>> {
    let entries = std::fs::read_dir(dir).map_err(|e| Error::io("read directory", dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let name = entry
            .map_err(|e| Error::io("read directory", dir, e))?
            .file_name();
        if Path::new(&name).extension().is_some_and(|ext| ext == "rs") {
            files.push(name);
        }
    }
    Ok(files)
}

/// Removes `dir` and what is in it, if it is there.
fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("remove directory", dir, e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POINTS: &str = "namespace rs points\nstruct Point { 1: i32 x, 2: i32 y }\n";

    /// A directory holding `points.thrift`, and the file.
    fn idl() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("points.thrift");
        std::fs::write(&file, POINTS).expect("write points.thrift");
        (dir, file)
    }

    #[test]
    fn a_missing_compiler_names_the_package_and_the_alternative() {
        let (dir, file) = idl();
        let error = Thrift::new()
            .with_compiler(dir.path().join("no-such-thrift"))
            .with_out_dir(dir.path())
            .compile(&[&file])
            .expect_err("there is no compiler");
        assert!(matches!(error, Error::ThriftMissing { .. }), "{error:?}");
        let message = error.to_string();
        assert!(message.contains("no-such-thrift"), "{message}");
        assert!(
            message.contains("apt-get install thrift-compiler"),
            "{message}"
        );
        assert!(message.contains("check the generated file in"), "{message}");
    }

    #[cfg(unix)]
    #[test]
    fn a_failing_compiler_gives_the_file_and_its_message() {
        use std::os::unix::fs::PermissionsExt as _;
        let (dir, file) = idl();
        let fake = dir.path().join("thrift");
        std::fs::write(
            &fake,
            "#!/bin/sh\necho '[ERROR] syntax error' >&2\nexit 1\n",
        )
        .expect("write the fake compiler");
        std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755))
            .expect("make it executable");
        let error = Thrift::new()
            .with_compiler(&fake)
            .with_out_dir(dir.path())
            .compile(&[&file])
            .expect_err("the compiler fails");
        let message = error.to_string();
        assert!(message.contains("points.thrift"), "{message}");
        assert!(message.contains("[ERROR] syntax error"), "{message}");
    }

    /// Whether Apache Thrift's compiler is installed: the tests that run it
    /// skip themselves without it, as CI's other Thrift checks do.
    fn thrift_installed() -> bool {
        let installed = Command::new("thrift").arg("--version").output().is_ok();
        if !installed {
            eprintln!("skipped: no thrift compiler (apt-get install thrift-compiler)");
        }
        installed
    }

    #[test]
    fn the_real_compiler_output_is_includable() {
        if !thrift_installed() {
            return;
        }
        let (dir, file) = idl();
        let out = tempfile::tempdir().expect("temporary directory");
        Thrift::new()
            .with_compiler("thrift")
            .with_out_dir(out.path())
            .compile(&[&file])
            .expect("points.thrift compiles");
        let code = std::fs::read_to_string(out.path().join("points.rs")).expect("points.rs");
        assert!(code.contains("pub struct Point"), "{code}");
        assert!(!code.contains("#!["), "{code}");
        assert!(!out.path().join("sparts-build-thrift").exists());
        drop(dir);
    }

    #[test]
    fn a_syntax_error_from_the_real_compiler_names_the_file() {
        if !thrift_installed() {
            return;
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("bad.thrift");
        std::fs::write(&file, "struct {\n").expect("write bad.thrift");
        let error = Thrift::new()
            .with_compiler("thrift")
            .with_out_dir(dir.path())
            .compile(&[&file])
            .expect_err("bad.thrift does not compile");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!("{}: ", file.display())),
            "{message}"
        );
        assert!(message.contains("syntax error"), "{message}");
    }
}
