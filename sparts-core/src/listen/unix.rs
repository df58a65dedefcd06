//! The unix socket listener: created with its final mode and group before
//! anyone can reach it, a stale file replaced, removed when dropped.

use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::unistd::{Gid, Group};
use tokio::net::UnixListener;

use crate::error::{Error, Result};

/// A bound unix socket; dropping it removes the socket file if it is still
/// the one this listener created (one passed by systemd is left alone).
#[derive(Debug)]
pub struct UnixSocket {
    listener: UnixListener,
    path: PathBuf,
    /// Device and inode of the file created, so that a socket another
    /// process put there since is left alone; `None` for a socket this
    /// process did not create, whose file it must not remove.
    file_id: Option<(u64, u64)>,
}

impl Drop for UnixSocket {
    fn drop(&mut self) {
        remove_own_file(&self.path, self.file_id);
    }
}

/// Removes the socket file at `path` if it is still the one with `file_id`
/// (device and inode), so that a socket another process put there since
/// is left alone.
pub(crate) fn remove_own_file(path: &Path, file_id: Option<(u64, u64)>) {
    let ours = file_id
        .is_some_and(|id| fs::symlink_metadata(path).is_ok_and(|m| (m.dev(), m.ino()) == id));
    if ours && let Err(e) = fs::remove_file(path) {
        tracing::warn!("cannot remove unix socket {}: {e}", path.display());
    }
}

/// The device and inode of the file at `path`.
pub(crate) fn file_id(path: &Path) -> Option<(u64, u64)> {
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

impl UnixSocket {
    /// The listener, to accept connections from.
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Binds `path` with mode 0600, or 0660 and group `group`.
    pub fn bind(path: &Path, group: Option<&str>) -> Result<Self> {
        let gid = group.map(group_id).transpose()?;
        let mode = if gid.is_some() { 0o660 } else { 0o600 };
        let err = |source| Error::UnixSocket {
            path: path.to_owned(),
            source,
        };
        check_stale(path).map_err(err)?;
        let listener = bind_private(path, mode, gid).map_err(err)?;
        let meta = fs::symlink_metadata(path).map_err(err)?;
        listener.set_nonblocking(true).map_err(err)?;
        Ok(Self {
            listener: UnixListener::from_std(listener).map_err(err)?,
            path: path.to_owned(),
            file_id: Some((meta.dev(), meta.ino())),
        })
    }

    /// A listener on a socket this process keeps elsewhere as well (one
    /// systemd passed, one kept across restarts): its file is removed on
    /// drop only with `file_id`, the device and inode of the file it owns;
    /// without, the file is left in place, since the next start is handed
    /// the same socket.
    pub(crate) fn adopted(
        listener: UnixListener,
        path: PathBuf,
        file_id: Option<(u64, u64)>,
    ) -> Self {
        Self {
            listener,
            path,
            file_id,
        }
    }

    /// Gives up the removal of the socket's file to the caller: the device
    /// and inode of the file this listener created, if it did. The
    /// listener then leaves the file in place when it drops.
    pub(crate) fn disown_file(&mut self) -> Option<(u64, u64)> {
        self.file_id.take()
    }
}

fn group_id(name: &str) -> Result<Gid> {
    match Group::from_name(name) {
        Ok(Some(group)) => Ok(group.gid),
        Ok(None) => Err(Error::UnknownGroup(name.to_owned())),
        Err(errno) => Err(Error::UnixSocket {
            path: PathBuf::from(name),
            source: errno.into(),
        }),
    }
}

/// Fails if `path` is something other than a socket, or a socket a live
/// server answers on; a dead one is left to be replaced.
fn check_stale(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(meta) if !std::os::unix::fs::FileTypeExt::is_socket(&meta.file_type()) => Err(
            io::Error::new(io::ErrorKind::AlreadyExists, "exists and is not a socket"),
        ),
        Ok(_) => match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another server is listening on it",
            )),
            Err(_) => {
                tracing::info!("replacing stale unix socket {}", path.display());
                Ok(())
            }
        },
    }
}

/// Binds the socket inside a fresh directory only this user can enter, sets
/// its mode and group there, then renames it into place (atomically
/// replacing a stale one), so it is never reachable with looser permissions.
fn bind_private(
    path: &Path,
    mode: u32,
    gid: Option<Gid>,
) -> io::Result<std::os::unix::net::UnixListener> {
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not a file path"))?;
    let mut private = parent.join(".");
    private.as_mut_os_string().push(file);
    private
        .as_mut_os_string()
        .push(format!(".{}.d", std::process::id()));
    // A directory left by a crashed process with our pid: start afresh.
    let _ = fs::remove_dir_all(&private);
    fs::DirBuilder::new().mode(0o700).create(&private)?;
    let staged = private.join("s");
    let result = (|| {
        let listener = std::os::unix::net::UnixListener::bind(&staged)?;
        fs::set_permissions(&staged, fs::Permissions::from_mode(mode))?;
        if let Some(gid) = gid {
            nix::unistd::chown(&staged, None, Some(gid))?;
        }
        fs::rename(&staged, path)?;
        Ok(listener)
    })();
    let _ = fs::remove_dir_all(&private);
    result
}
