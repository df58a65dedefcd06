//! Writing the supervisor's files: each atomically (a temporary file in
//! the same directory, then a rename), none over a different one unless
//! forced.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A file to write.
#[derive(Debug)]
pub(super) struct File {
    pub(super) path: PathBuf,
    pub(super) content: String,
    /// Its permission bits (`0o755` for scripts).
    pub(super) mode: u32,
}

/// Writes `files`, creating their directories. A file that exists with
/// other content is an error unless `force`, and then, as every check comes
/// first, nothing is written.
pub(super) fn write_all(files: &[File], force: bool) -> Result<()> {
    check(files, force)?;
    write(files)
}

/// Refuses, before anything is written, a file that exists with other
/// content, unless `force`.
pub(super) fn check(files: &[File], force: bool) -> Result<()> {
    for file in files {
        match fs::read(&file.path) {
            Ok(existing) if existing == file.content.as_bytes() || force => {}
            Ok(_) => {
                return Err(Error::File {
                    path: file.path.clone(),
                    source: io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "exists with other content; --force replaces it",
                    ),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(Error::File {
                    path: file.path.clone(),
                    source,
                });
            }
        }
    }
    Ok(())
}

/// Writes `files` (checked already), creating their directories.
pub(super) fn write(files: &[File]) -> Result<()> {
    for file in files {
        write_one(file).map_err(|source| Error::File {
            path: file.path.clone(),
            source,
        })?;
    }
    Ok(())
}

fn write_one(file: &File) -> io::Result<()> {
    let dir = file.path.parent().unwrap_or(Path::new("/"));
    fs::create_dir_all(dir)?;
    let Some(base) = file.path.file_name() else {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no file name"));
    };
    // Hidden, so runsvdir and systemd never take it for a service or a
    // unit while it is written.
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(base);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = dir.join(temp_name);
    let written = (|| {
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(file.mode)
            .open(&temp)?;
        out.write_all(file.content.as_bytes())?;
        // The umask may have taken bits the mode asked for.
        out.set_permissions(fs::Permissions::from_mode(file.mode))?;
        out.sync_all()?;
        fs::rename(&temp, &file.path)
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_content_is_fine_other_content_needs_force() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("sub/run");
        let file = |content: &str| File {
            path: path.clone(),
            content: content.to_owned(),
            mode: 0o755,
        };
        write_all(&[file("a")], false)?;
        assert_eq!(fs::metadata(&path)?.permissions().mode() & 0o777, 0o755);
        write_all(&[file("a")], false)?;
        let refused = write_all(&[file("b")], false);
        assert!(
            refused
                .as_ref()
                .is_err_and(|e| e.to_string().contains("--force")),
            "{refused:?}"
        );
        assert_eq!(fs::read_to_string(&path)?, "a");
        write_all(&[file("b")], true)?;
        assert_eq!(fs::read_to_string(&path)?, "b");
        assert_eq!(
            fs::read_dir(dir.path().join("sub"))?.count(),
            1,
            "no temporary left"
        );
        Ok(())
    }
}
