//! A pidfile guarded by an exclusive `flock(2)`.
//!
//! The lock, not the file's existence, says whether a daemon runs: a crash
//! leaves the file behind but the kernel drops the lock, so [`daemon_status`]
//! can tell a stale pidfile from a live one and clean it up.
//!
//! `flock` locks belong to the open file description, which `fork(2)` shares
//! with the child. A [`Pidfile`] acquired before [`detach`](super::detach())
//! therefore stays locked in the daemon, and the lock is released only when
//! the last process holding a copy of the descriptor closes it (or calls
//! [`Pidfile::release`]).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::fd::{AsFd as _, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{self, Signal};
use nix::unistd::Pid;

use crate::error::{Error, Result};

/// How often [`kill_daemon`] checks whether the daemon is gone.
const POLL_INTERVAL: Duration = Duration::from_millis(10);

/// How long [`daemon_status`] waits for a freshly locked pidfile to get its pid.
const PID_WRITE_GRACE: Duration = Duration::from_secs(1);

/// Attempts at locking when another process keeps replacing the file.
const LOCK_ATTEMPTS: usize = 5;

/// An exclusively locked pidfile, held for as long as the daemon runs.
///
/// Dropping it closes this process's descriptor without unlocking, so a
/// `Pidfile` dropped in the foreground parent after a fork leaves the
/// daemon's lock intact, and a crashed daemon leaves a stale file for
/// [`daemon_status`] to remove. Call [`release`](Self::release) on a clean
/// shutdown.
#[derive(Debug)]
pub(crate) struct Pidfile {
    /// Absolute, so that removing the file still works after `chdir("/")`.
    path: PathBuf,
    /// Always `Some` until `release` or `drop` takes it.
    lock: Option<Flock<File>>,
}

impl Pidfile {
    /// Creates (mode 0644) or opens `path` and locks it without blocking.
    ///
    /// The parent directory must exist. Fails with [`Error::AlreadyRunning`]
    /// when another process holds the lock, naming the pid it wrote.
    pub(crate) fn acquire(path: &Path) -> Result<Self> {
        let path = std::path::absolute(path).map_err(|source| Error::File {
            path: path.to_path_buf(),
            source,
        })?;
        for _ in 0..LOCK_ATTEMPTS {
            let file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o644)
                .open(&path)
                .map_err(|source| open_error(&path, source))?;
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => lock,
                Err((mut file, Errno::EWOULDBLOCK)) => {
                    return Err(Error::AlreadyRunning {
                        pid: read_pid(&mut file),
                        path,
                    });
                }
                Err((_, errno)) => return Err(file_error(&path, errno.into())),
            };
            // A previous holder may have removed the file between our open and
            // our lock; a lock on an unlinked inode would guard nothing.
            if is_current(&path, &lock)? {
                return Ok(Self {
                    path,
                    lock: Some(lock),
                });
            }
        }
        Err(Error::Daemon(format!(
            "pidfile {} kept being replaced while locking it",
            path.display()
        )))
    }

    /// The pidfile at `path` the process this one replaces handed over
    /// (`--upgrade`), already locked: the lock belongs to the open file,
    /// which both processes share, so it is held without a gap.
    pub(crate) fn adopt(path: &Path, fd: OwnedFd) -> Result<Self> {
        let path = std::path::absolute(path).map_err(|source| file_error(path, source))?;
        // Locking again an open file that holds the lock keeps it.
        let lock = Flock::lock(File::from(fd), FlockArg::LockExclusiveNonblock)
            .map_err(|(_, errno)| file_error(&path, errno.into()))?;
        Ok(Self {
            path,
            lock: Some(lock),
        })
    }

    /// A duplicate of the locked file's descriptor, to hand over to the
    /// process that replaces this one.
    pub(crate) fn duplicate(&self) -> Result<OwnedFd> {
        let Some(file) = self.lock.as_deref() else {
            return Err(Error::Daemon("pidfile already released".into()));
        };
        file.as_fd()
            .try_clone_to_owned()
            .map_err(|source| file_error(&self.path, source))
    }

    /// The pidfile's absolute path.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Replaces the file's contents with `"<pid>\n"` and syncs it to disk.
    pub(crate) fn write_pid(&mut self, pid: u32) -> Result<()> {
        let path = &self.path;
        let Some(file) = self.lock.as_deref_mut() else {
            return Err(Error::Daemon("pidfile already released".into()));
        };
        let write = |file: &mut File| -> io::Result<()> {
            file.set_len(0)?;
            file.seek(SeekFrom::Start(0))?;
            file.write_all(format!("{pid}\n").as_bytes())?;
            file.sync_all()
        };
        write(file).map_err(|source| file_error(path, source))
    }

    /// Removes the file, then unlocks it.
    ///
    /// Removing first means a starting process finds either our locked file
    /// or no file at all; one that opened our file just before the removal
    /// notices, once it gets the lock, that the file is gone and starts over.
    pub(crate) fn release(mut self) -> Result<()> {
        let removed = match fs::remove_file(&self.path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(file_error(&self.path, source)),
        };
        if let Some(lock) = self.lock.take() {
            // Unlock explicitly rather than by closing: a forked child may
            // still hold a copy of the descriptor and would keep the lock.
            if let Err((_, errno)) = lock.unlock() {
                tracing::debug!(path = %self.path.display(), %errno, "unlocking pidfile failed");
            }
        }
        removed
    }
}

impl Drop for Pidfile {
    fn drop(&mut self) {
        let Some(lock) = self.lock.take() else {
            return;
        };
        // `Flock`'s own drop would LOCK_UN the open file description, which a
        // forked daemon shares with us: the foreground parent dropping its
        // copy would unlock the daemon's pidfile. Closing just our descriptor
        // leaves the lock to whoever still holds the description.
        let fd = lock.as_raw_fd();
        std::mem::forget(lock);
        // SAFETY: `fd` was owned by the `File` inside the forgotten `Flock`,
        // whose destructor will never run, so this `OwnedFd` is its only owner.
        drop(unsafe { OwnedFd::from_raw_fd(fd) });
    }
}

/// Whether a daemon holds the pidfile's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DaemonStatus {
    /// The pidfile is locked; this is the pid written in it.
    Running(i32),
    /// No pidfile, or a stale one (which has been removed).
    NotRunning,
}

/// What [`kill_daemon`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KillOutcome {
    /// There was no daemon to stop.
    NotRunning,
    /// The daemon with this pid got SIGTERM and is gone.
    Stopped(i32),
}

/// Reports whether a daemon holds `path`, removing a stale pidfile.
///
/// A pidfile that is locked but holds no valid pid (its daemon is between
/// locking and writing) is re-read for up to a second before giving up with
/// [`Error::Daemon`].
/// A pidfile that is not there: no daemon, unless its very directory is
/// gone too, when a daemon may run whose pidfile was removed with it, and
/// nothing here can tell.
fn missing(path: &Path) -> Result<DaemonStatus> {
    match path.parent().filter(|dir| !dir.as_os_str().is_empty()) {
        Some(dir) if !dir.exists() => Err(Error::Daemon(format!(
            "no pidfile {}: its directory {} is gone, so whether a daemon runs cannot be told \
             (find it with `pgrep`, or stop it with SIGTERM)",
            path.display(),
            dir.display()
        ))),
        _ => Ok(DaemonStatus::NotRunning),
    }
}

pub(crate) fn daemon_status(path: &Path) -> Result<DaemonStatus> {
    let deadline = Instant::now() + PID_WRITE_GRACE;
    for _ in 0..LOCK_ATTEMPTS {
        let file = match File::open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return missing(path),
            Err(source) => return Err(file_error(path, source)),
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => {
                if !is_current(path, &lock)? {
                    continue;
                }
                // Holding the lock while removing keeps a starting daemon from
                // locking the inode we are about to unlink.
                match fs::remove_file(path) {
                    Ok(()) => tracing::info!(path = %path.display(), "removed stale pidfile"),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(source) => return Err(file_error(path, source)),
                }
                return Ok(DaemonStatus::NotRunning);
            }
            Err((mut file, Errno::EWOULDBLOCK)) => loop {
                if let Some(pid) = read_pid(&mut file) {
                    return Ok(DaemonStatus::Running(pid));
                }
                if Instant::now() >= deadline {
                    return Err(Error::Daemon(format!(
                        "pidfile {} is locked but holds no valid pid",
                        path.display()
                    )));
                }
                thread::sleep(POLL_INTERVAL);
            },
            Err((_, errno)) => return Err(file_error(path, errno.into())),
        }
    }
    Err(Error::Daemon(format!(
        "pidfile {} kept being replaced while checking it",
        path.display()
    )))
}

/// Sends SIGTERM to the daemon holding `path` and waits up to `timeout` for it.
///
/// The daemon counts as stopped once its pidfile is no longer locked or its
/// pid no longer exists, whichever comes first. This blocks the calling
/// thread, polling every 10 ms: it is meant for the command line, before any
/// runtime exists.
pub(crate) fn kill_daemon(path: &Path, timeout: Duration) -> Result<KillOutcome> {
    let pid = match daemon_status(path)? {
        DaemonStatus::NotRunning => return Ok(KillOutcome::NotRunning),
        DaemonStatus::Running(pid) => pid,
    };
    if u32::try_from(pid).is_ok_and(|pid| pid == std::process::id()) {
        return Err(Error::Daemon(format!(
            "pidfile {} names this very process (pid {pid})",
            path.display()
        )));
    }
    let target = Pid::from_raw(pid);
    match signal::kill(target, Signal::SIGTERM) {
        // Already gone: the lock is held by someone else (a forked child),
        // which the polling below sorts out.
        Ok(()) | Err(Errno::ESRCH) => {}
        Err(errno) => {
            return Err(Error::Daemon(format!(
                "cannot send SIGTERM to pid {pid}: {errno}"
            )));
        }
    }
    tracing::info!(pid, "sent SIGTERM to daemon");

    let deadline = Instant::now() + timeout;
    loop {
        if signal::kill(target, None) == Err(Errno::ESRCH) || lock_is_free(path)? {
            return Ok(KillOutcome::Stopped(pid));
        }
        let now = Instant::now();
        if now >= deadline {
            return Err(Error::Daemon(format!(
                "pid {pid} did not exit within {timeout:?}"
            )));
        }
        thread::sleep(POLL_INTERVAL.min(deadline - now));
    }
}

/// Whether nobody holds the lock on `path` (a missing file counts as free).
fn lock_is_free(path: &Path) -> Result<bool> {
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(true),
        Err(source) => return Err(file_error(path, source)),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_lock) => Ok(true),
        Err((_, Errno::EWOULDBLOCK)) => Ok(false),
        Err((_, errno)) => Err(file_error(path, errno.into())),
    }
}

/// Whether `path` still names the inode `lock` is held on.
fn is_current(path: &Path, lock: &Flock<File>) -> Result<bool> {
    let held = lock.metadata().map_err(|source| file_error(path, source))?;
    match fs::metadata(path) {
        Ok(named) => Ok(named.dev() == held.dev() && named.ino() == held.ino()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(source) => Err(file_error(path, source)),
    }
}

/// The positive pid written in `file`, if there is one.
///
/// Zero and negative numbers are refused: `kill(2)` reads them as process
/// groups, and a corrupt pidfile must never make us signal a whole group.
fn read_pid(file: &mut File) -> Option<i32> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    // A pid needs a dozen bytes; anything longer is not a pidfile.
    file.take(64).read_to_string(&mut text).ok()?;
    text.trim().parse().ok().filter(|pid| *pid > 0)
}

fn file_error(path: &Path, source: io::Error) -> Error {
    Error::File {
        path: path.to_path_buf(),
        source,
    }
}

/// Spells out the usual cause of `NotFound` when creating the pidfile.
fn open_error(path: &Path, source: io::Error) -> Error {
    let source = match path.parent() {
        Some(dir) if source.kind() == io::ErrorKind::NotFound && !dir.is_dir() => io::Error::new(
            io::ErrorKind::NotFound,
            format!("directory {} does not exist", dir.display()),
        ),
        _ => source,
    };
    file_error(path, source)
}

#[cfg(test)]
mod tests {
    use std::io::BufRead;
    use std::process::{Command, Stdio};

    use super::*;

    fn pid_of(status: DaemonStatus) -> Option<i32> {
        match status {
            DaemonStatus::Running(pid) => Some(pid),
            DaemonStatus::NotRunning => None,
        }
    }

    #[test]
    fn acquire_creates_the_file_with_mode_0644_and_writes_the_pid() -> Result<()> {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(4242)?;
        pidfile.write_pid(17)?;

        assert_eq!(fs::read_to_string(&path)?, "17\n");
        // The process umask can only clear bits; never more than 0644.
        assert_eq!(
            fs::metadata(&path)?.permissions().mode() & 0o7777 & !0o644,
            0
        );
        assert_eq!(pidfile.path(), path);
        Ok(())
    }

    #[test]
    fn second_acquire_fails_with_already_running_and_the_pid() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut first = Pidfile::acquire(&path)?;
        first.write_pid(4242)?;

        match Pidfile::acquire(&path) {
            Err(Error::AlreadyRunning { path: p, pid }) => {
                assert_eq!(p, path);
                assert_eq!(pid, Some(4242));
            }
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        // The failed attempt must not have touched the holder's contents.
        assert_eq!(fs::read_to_string(&path)?, "4242\n");
        Ok(())
    }

    #[test]
    fn already_running_without_a_valid_pid_reports_none() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let _first = Pidfile::acquire(&path)?;
        fs::write(&path, "-1\n")?;

        let err = Pidfile::acquire(&path).err();
        assert!(
            matches!(err, Some(Error::AlreadyRunning { pid: None, .. })),
            "{err:?}"
        );
        Ok(())
    }

    #[test]
    fn acquire_in_a_missing_directory_names_the_directory() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("missing").join("svc.pid");
        let err = Pidfile::acquire(&path).err().map(|e| e.to_string());
        let message = err.unwrap_or_default();
        assert!(message.contains("does not exist"), "{message}");
        assert!(!path.exists());
        Ok(())
    }

    #[test]
    fn release_removes_the_file_and_frees_the_lock() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(1)?;
        pidfile.release()?;

        assert!(!path.exists());
        Pidfile::acquire(&path)?.release()?;
        Ok(())
    }

    #[test]
    fn drop_keeps_the_file_but_frees_the_lock() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(4242)?;
        drop(pidfile);

        assert_eq!(fs::read_to_string(&path)?, "4242\n");
        assert!(lock_is_free(&path)?);
        Ok(())
    }

    #[test]
    fn status_of_a_missing_pidfile_is_not_running() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let status = daemon_status(&dir.path().join("svc.pid"))?;
        assert_eq!(status, DaemonStatus::NotRunning);
        Ok(())
    }

    #[test]
    fn status_removes_a_stale_pidfile() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        fs::write(&path, "4242\n")?;

        assert_eq!(daemon_status(&path)?, DaemonStatus::NotRunning);
        assert!(!path.exists());
        Ok(())
    }

    #[test]
    fn status_of_a_locked_pidfile_is_running_with_its_pid() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(4242)?;

        assert_eq!(daemon_status(&path)?, DaemonStatus::Running(4242));
        assert!(path.exists());
        Ok(())
    }

    #[test]
    fn status_of_a_locked_pidfile_without_pid_gives_up() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let _pidfile = Pidfile::acquire(&path)?;

        let started = Instant::now();
        let err = daemon_status(&path).err();
        assert!(matches!(err, Some(Error::Daemon(_))), "{err:?}");
        assert!(started.elapsed() >= PID_WRITE_GRACE);
        Ok(())
    }

    #[test]
    fn kill_without_a_daemon_is_not_running() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let outcome = kill_daemon(&dir.path().join("svc.pid"), Duration::from_secs(1))?;
        assert_eq!(outcome, KillOutcome::NotRunning);
        Ok(())
    }

    #[test]
    fn kill_terminates_the_process_named_in_a_locked_pidfile() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut child = Command::new("sleep")
            .arg("30")
            .stdin(Stdio::null())
            .spawn()?;
        let child_pid = child.id();
        // The test holds the lock, so only the pid disappearing ends the wait;
        // reaping keeps the killed child from lingering as a zombie.
        let reaper = thread::spawn(move || child.wait());
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(child_pid)?;

        let outcome = kill_daemon(&path, Duration::from_secs(10))?;

        let pid = i32::try_from(child_pid).ok();
        assert_eq!(Some(outcome), pid.map(KillOutcome::Stopped));
        let status = reaper
            .join()
            .map_err(|_| Error::Daemon("reaper panicked".into()))??;
        assert!(!status.success());
        drop(pidfile);
        Ok(())
    }

    #[test]
    fn kill_times_out_when_the_daemon_survives_sigterm() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        // `exec` keeps the pid, and an ignored disposition survives exec, so
        // `sleep` ignores SIGTERM too. The echo says the trap is in place.
        let mut child = Command::new("sh")
            .args(["-c", "trap '' TERM; echo trapped; exec sleep 30"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()?;
        let child_pid = child.id();
        let mut line = String::new();
        if let Some(stdout) = child.stdout.as_mut() {
            io::BufReader::new(stdout).read_line(&mut line)?;
        }
        assert_eq!(line, "trapped\n");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(child_pid)?;

        let started = Instant::now();
        let result = kill_daemon(&path, Duration::from_millis(300));
        let elapsed = started.elapsed();
        child.kill()?;
        child.wait()?;

        let message = result.err().map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            format!("daemon: pid {child_pid} did not exit within 300ms")
        );
        assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
        assert!(elapsed < Duration::from_secs(5), "{elapsed:?}");
        assert_eq!(pid_of(daemon_status(&path)?), i32::try_from(child_pid).ok());
        Ok(())
    }

    #[test]
    fn kill_refuses_to_signal_this_process() -> Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("svc.pid");
        let mut pidfile = Pidfile::acquire(&path)?;
        pidfile.write_pid(std::process::id())?;

        let err = kill_daemon(&path, Duration::from_secs(1)).err();
        assert!(matches!(err, Some(Error::Daemon(_))), "{err:?}");
        Ok(())
    }
}
