//! Upgrading to a new binary without refusing a connection: the running
//! process listens on a unix socket named after its pidfile
//! (`<pidfile>.upgrade`, mode 0600, so only its user can take its
//! sockets); a new process started with the same command line plus
//! `--upgrade` connects, receives the listening sockets and the locked
//! pidfile ([`handover`](super::handover)), starts its tasks on those
//! sockets, and says it is ready. The old process then lets go of the
//! upgrade socket and the pidfile, and shuts down as on SIGTERM (lame duck,
//! drain, exit 0), while the new one accepts on the same sockets.
//!
//! A new process that fails before it is ready (a task's `init` failing,
//! a crash) closes the connection instead: the old one keeps serving as
//! if nothing happened.

use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd as _, OwnedFd};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tracing::{info, warn};

use super::handover::{self, Handed, READY, TAKEN};
use crate::error::{Error, Result};
use crate::handle::{ServiceHandle, lock};
use crate::listen::UnixSocket;

/// How long the new process waits for the old one's sockets, and then for
/// its answer to ready: both come at once from a live process.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// How long the running process waits before accepting again after an
/// accept error.
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The upgrade socket of the service with `pidfile`.
pub(crate) fn socket_path(pidfile: &Path) -> PathBuf {
    let mut path = pidfile.as_os_str().to_owned();
    path.push(".upgrade");
    path.into()
}

/// The running process's side: listens on the upgrade socket of `pidfile`
/// (mode 0600; removed when dropped).
pub(crate) fn listen(pidfile: &Path) -> Result<UnixSocket> {
    UnixSocket::bind(&socket_path(pidfile), None)
}

/// Serves upgrades on `socket`, one at a time, until one succeeds: the
/// sockets kept by `handle`'s service and the pidfile (`pidfile`, a
/// duplicate of its locked fd) go to the new process; once it is ready,
/// `handed_over` is set (the pidfile is the new process's now, not to be
/// removed), the socket closes and the service shuts down.
pub(crate) async fn serve(
    socket: UnixSocket,
    handle: ServiceHandle,
    pidfile: Option<OwnedFd>,
    handed_over: Arc<AtomicBool>,
) {
    let pidfile = pidfile.map(Arc::new);
    loop {
        let stream = match socket.listener().accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                warn!("upgrade socket: accept failed: {e}; retrying in 1 s");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let handle2 = handle.clone();
        let pidfile2 = pidfile.clone();
        let offered = tokio::task::spawn_blocking(move || {
            let stream = stream.into_std()?;
            stream.set_nonblocking(false)?;
            offer(&stream, &handle2, pidfile2.as_deref())?;
            Ok::<_, io::Error>(stream)
        })
        .await;
        let stream = match offered {
            Ok(Ok(stream)) => stream,
            Ok(Err(e)) => {
                warn!("upgrade failed, serving on: {e}");
                continue;
            }
            Err(e) => {
                warn!("upgrade failed, serving on: {e}");
                continue;
            }
        };
        // From here the new process serves: the files are its to remove.
        handed_over.store(true, Ordering::SeqCst);
        lock(&handle.shared.kept).disown_files();
        // Before the answer, so that the new process can listen there.
        drop(socket);
        if let Err(e) = (&stream).write_all(&[TAKEN]) {
            warn!("upgrade: the new process did not hear that it took over: {e}");
        }
        info!("Upgrade: the new process is ready and serves; draining and exiting");
        handle.request_shutdown();
        return;
    }
}

/// Hands the kept sockets and the pidfile over on `stream` and waits for
/// the new process to be ready; an error when it closed the connection
/// instead (it failed to start).
fn offer(stream: &UnixStream, handle: &ServiceHandle, pidfile: Option<&OwnedFd>) -> io::Result<()> {
    {
        let kept = lock(&handle.shared.kept);
        let sockets = kept.sockets();
        info!(
            "Upgrade: a new process asks for the listening sockets; handing over {}",
            sockets.len()
        );
        handover::send(stream, &sockets, pidfile.map(OwnedFd::as_fd))?;
    }
    let mut word = [0u8];
    match (&*stream).read(&mut word)? {
        0 => Err(io::Error::other(
            "the new process ended before it was ready",
        )),
        _ if word[0] == READY => Ok(()),
        _ => Err(io::Error::other(format!(
            "the new process sent {:#04x}, not ready",
            word[0]
        ))),
    }
}

/// The new process's side of an upgrade, between taking the sockets and
/// saying it is ready.
#[derive(Debug)]
pub(crate) struct Takeover {
    stream: UnixStream,
}

/// Connects to the running process of `pidfile` and takes its sockets and
/// pidfile. An error naming the pidfile when nothing runs there.
pub(crate) fn take_over(pidfile: &Path) -> Result<(Takeover, Handed)> {
    let path = socket_path(pidfile);
    let stream = UnixStream::connect(&path).map_err(|e| {
        Error::Daemon(format!(
            "--upgrade: no running process to take over from pidfile {}: cannot connect to its upgrade socket {}: {e}",
            pidfile.display(),
            path.display()
        ))
    })?;
    let failed = |e: io::Error| {
        Error::Daemon(format!(
            "--upgrade: the running process of pidfile {} handed nothing over: {e}",
            pidfile.display()
        ))
    };
    stream
        .set_read_timeout(Some(ANSWER_TIMEOUT))
        .map_err(failed)?;
    let handed = handover::receive(&stream).map_err(failed)?;
    Ok((Takeover { stream }, handed))
}

impl Takeover {
    /// Tells the old process that every task started, and waits (at most
    /// ten seconds) for it to let go of the upgrade socket and the
    /// pidfile.
    pub(crate) fn ready(self) -> Result<()> {
        let failed = |e: io::Error| Error::Daemon(format!("--upgrade: {e}"));
        (&self.stream).write_all(&[READY]).map_err(failed)?;
        let mut word = [0u8];
        match (&self.stream).read(&mut word).map_err(failed)? {
            1 if word[0] == TAKEN => Ok(()),
            _ => Err(failed(io::Error::other(
                "the old process did not confirm the hand-over",
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_socket_is_named_after_the_pidfile() {
        assert_eq!(
            socket_path(Path::new("/run/svc.pid")),
            Path::new("/run/svc.pid.upgrade")
        );
    }

    #[test]
    fn no_running_process_is_an_error_naming_the_pidfile() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let pidfile = dir.path().join("svc.pid");
        let e = take_over(&pidfile).expect_err("nothing runs");
        let text = e.to_string();
        assert!(text.contains("no running process"), "{text}");
        assert!(text.contains(&pidfile.display().to_string()), "{text}");
        Ok(())
    }
}
