//! Detaching from the terminal with the classic double fork.
//!
//! The foreground process forks a child that starts a new session and forks
//! again, so the daemon (the grandchild) is no session leader and can never
//! acquire a controlling terminal. A close-on-exec pipe runs from the daemon
//! back to the foreground process, which waits on it: the daemon reports
//! "ready" or an error message once it has started, and the foreground
//! process turns that into the command's exit code. Nothing here exits the
//! foreground process; only the two forked children end themselves.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::OwnedFd;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, FdFlag, fcntl};
use nix::sys::stat::{Mode, umask};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{self, ForkResult, Pid};

use crate::error::{Error, Result};

/// The byte [`ReadyPipe::ready`] sends.
const READY: u8 = 1;
/// The byte [`ReadyPipe::fail`] sends before its message.
const FAILED: u8 = 0;

/// What the foreground parent reports when the pipe closes without a word.
const EXITED_EARLY: &str = "the daemon exited before it was ready";

/// The daemon's umask: no write access for the group, nothing for others.
/// This is what Python sparts got from the `daemonize` package.
const DAEMON_UMASK: u16 = 0o027;

/// Which side of [`detach`] this process is on.
#[derive(Debug)]
pub(crate) enum Detached {
    /// The original, foreground process, after the daemon reported back.
    ///
    /// `Ok` when the daemon called [`ReadyPipe::ready`]; otherwise the
    /// daemon's message (or why there is none), to print before exiting with
    /// a failure code.
    Parent(std::result::Result<(), String>),
    /// The daemon, with stdio on `/dev/null`, in `/`, in its own session.
    /// It must report through the pipe once it has started (or failed to).
    Child(ReadyPipe),
}

/// The daemon's end of the pipe the foreground parent waits on.
///
/// Dropping it without calling [`ready`](Self::ready) or
/// [`fail`](Self::fail) makes the parent report that the daemon exited
/// before it was ready.
pub(crate) struct ReadyPipe {
    file: File,
}

impl fmt::Debug for ReadyPipe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadyPipe").finish_non_exhaustive()
    }
}

impl ReadyPipe {
    /// Tells the foreground parent that the daemon started; it exits with 0.
    pub(crate) fn ready(self) {
        self.send(&[READY]);
    }

    /// Tells the foreground parent that the daemon failed, and why.
    pub(crate) fn fail(self, message: &str) {
        let mut bytes = Vec::with_capacity(1 + message.len());
        bytes.push(FAILED);
        bytes.extend_from_slice(message.as_bytes());
        self.send(&bytes);
    }

    fn send(mut self, bytes: &[u8]) {
        // The parent may be gone (killed from the terminal); the daemon must
        // carry on regardless, and Rust ignores SIGPIPE, so this is just EPIPE.
        if let Err(error) = self.file.write_all(bytes) {
            tracing::debug!(%error, "could not report to the foreground process");
        }
    }
}

/// Forks the daemon off and waits, in the original process, for its report.
///
/// Returns [`Detached::Parent`] in the original process once the daemon
/// reported (or died), and [`Detached::Child`] in the daemon. The
/// intermediate child never returns. Errors are returned only for failures
/// before the first fork; later ones reach the parent's outcome as text.
///
/// Paths given relative to the working directory must be resolved before,
/// since the daemon runs in `/`. Output written to stderr (a `tracing`
/// subscriber set up earlier, say) goes to `/dev/null` in the daemon.
///
/// # Safety
///
/// The process must be single-threaded: call this before building a tokio
/// runtime or spawning any thread. After `fork` in a multi-threaded process
/// the child may only call async-signal-safe functions, yet the daemon goes
/// on to run arbitrary code (allocating, for one) that could deadlock on or
/// corrupt state another thread held at the time of the fork. On Linux the
/// thread count is checked and an error returned instead; elsewhere the
/// precondition is the caller's to keep.
pub(crate) unsafe fn detach() -> Result<Detached> {
    if let Some(threads) = thread_count().filter(|n| *n > 1) {
        return Err(Error::Daemon(format!(
            "cannot detach a process that already runs {threads} threads"
        )));
    }
    // Anything still buffered would otherwise be written twice: by the parent
    // and by whichever child flushes on its way out. An unwritable stdout is
    // no reason not to detach; the daemon drops it anyway.
    let _ = io::stdout().flush();

    let (read_end, write_end) = cloexec_pipe()?;

    // SAFETY: the caller guarantees the process is single-threaded, so the
    // child inherits no lock held by another thread and may run any code.
    match unsafe { unistd::fork() }.map_err(|e| nix_error("fork", e))? {
        ForkResult::Parent { child } => {
            drop(write_end);
            Ok(Detached::Parent(wait_for_daemon(read_end, child)))
        }
        ForkResult::Child => {
            drop(read_end);
            let pipe = ReadyPipe {
                file: File::from(write_end),
            };
            // SAFETY: still single-threaded: we are the only thread of the
            // fresh child.
            match unsafe { become_daemon() } {
                Ok(()) => Ok(Detached::Child(pipe)),
                Err(message) => {
                    pipe.fail(&message);
                    exit_now(1)
                }
            }
        }
    }
}

/// A pipe whose ends are closed on exec.
///
/// Anything the daemon spawns must not inherit the write end, or the parent
/// would wait for that process too. `pipe2` would set the flag atomically but
/// is missing on macOS; the race it closes needs a second thread, which
/// [`detach`] rules out anyway.
fn cloexec_pipe() -> Result<(OwnedFd, OwnedFd)> {
    let (read_end, write_end) = unistd::pipe().map_err(|e| nix_error("pipe", e))?;
    for fd in [&read_end, &write_end] {
        fcntl(fd, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC)).map_err(|e| nix_error("fcntl", e))?;
    }
    Ok((read_end, write_end))
}

/// In the first child: new session, second fork, daemon environment.
/// Returns only in the grandchild (the daemon).
///
/// # Safety
///
/// As for [`detach`]: the process must be single-threaded.
unsafe fn become_daemon() -> std::result::Result<(), String> {
    unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    // SAFETY: the caller guarantees the process is single-threaded.
    match unsafe { unistd::fork() }.map_err(|e| format!("second fork: {e}"))? {
        ForkResult::Parent { .. } => exit_now(0),
        ForkResult::Child => {}
    }
    // Keep no directory busy, so the file system it is on can be unmounted.
    unistd::chdir("/").map_err(|e| format!("chdir /: {e}"))?;
    umask(Mode::from_bits_truncate(DAEMON_UMASK.into()));
    let null = OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("/dev/null: {e}"))?;
    unistd::dup2_stdin(&null).map_err(|e| format!("redirecting stdin: {e}"))?;
    unistd::dup2_stdout(&null).map_err(|e| format!("redirecting stdout: {e}"))?;
    unistd::dup2_stderr(&null).map_err(|e| format!("redirecting stderr: {e}"))?;
    Ok(())
}

/// In the original process: reaps the first child, then reads the daemon's
/// report.
fn wait_for_daemon(read_end: OwnedFd, first_child: Pid) -> std::result::Result<(), String> {
    let first_status = loop {
        match waitpid(first_child, None) {
            Err(Errno::EINTR) => continue,
            other => break other,
        }
    };
    let mut pipe = File::from(read_end);
    // Stop at the ready byte rather than at end of file: a stray copy of the
    // write end must not keep us waiting once the daemon is up.
    let mut first = [0u8; 1];
    let n = loop {
        match pipe.read(&mut first) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => break other,
        }
    }
    .map_err(|e| format!("reading the daemon's report: {e}"))?;
    match (n, first[0]) {
        // A first child that did not exit cleanly is the likelier culprit.
        (0, _) => Err(match first_status {
            Ok(WaitStatus::Exited(_, 0)) | Err(_) => EXITED_EARLY.to_string(),
            Ok(status) => format!("{EXITED_EARLY} (intermediate child: {status:?})"),
        }),
        (_, READY) => Ok(()),
        (_, FAILED) => {
            let mut message = Vec::new();
            let _ = pipe.read_to_end(&mut message);
            let message = String::from_utf8_lossy(&message).trim().to_string();
            if message.is_empty() {
                Err("the daemon failed before it was ready".to_string())
            } else {
                Err(message)
            }
        }
        (_, byte) => Err(format!("the daemon sent an unexpected byte {byte:#04x}")),
    }
}

/// Ends a forked child at once.
///
/// `_exit` rather than `std::process::exit`: the child shares stdio buffers,
/// at-exit handlers and temporary files with the parent, and running those
/// twice is the parent's business, not ours.
fn exit_now(code: i32) -> ! {
    // SAFETY: `_exit` takes no pointers, is async-signal-safe and never
    // returns; skipping destructors is the point.
    unsafe { nix::libc::_exit(code) }
}

/// How many threads this process runs, when the platform tells us cheaply.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn thread_count() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// How many threads this process runs, when the platform tells us cheaply.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn thread_count() -> Option<usize> {
    None
}

fn nix_error(call: &str, errno: Errno) -> Error {
    Error::Daemon(format!("{call}: {errno}"))
}

#[cfg(test)]
mod tests {
    // `detach` itself forks, which the multi-threaded test harness must not
    // do; the service's integration tests run it in a real binary. The pipe
    // protocol and the thread guard are tested here.
    use std::thread;

    use super::*;

    fn pipe_pair() -> Result<(OwnedFd, ReadyPipe)> {
        let (read_end, write_end) = cloexec_pipe()?;
        Ok((
            read_end,
            ReadyPipe {
                file: File::from(write_end),
            },
        ))
    }

    /// A pid that is certainly not our child, so `waitpid` fails at once.
    fn no_child() -> Pid {
        Pid::from_raw(i32::MAX)
    }

    #[test]
    fn ready_is_reported_as_success() -> Result<()> {
        let (read_end, pipe) = pipe_pair()?;
        pipe.ready();
        assert_eq!(wait_for_daemon(read_end, no_child()), Ok(()));
        Ok(())
    }

    #[test]
    fn fail_carries_the_message() -> Result<()> {
        let (read_end, pipe) = pipe_pair()?;
        pipe.fail("Unable to start service (1 task start errors): boom");
        assert_eq!(
            wait_for_daemon(read_end, no_child()),
            Err("Unable to start service (1 task start errors): boom".to_string())
        );
        Ok(())
    }

    #[test]
    fn dropping_the_pipe_means_the_daemon_exited_early() -> Result<()> {
        let (read_end, pipe) = pipe_pair()?;
        drop(pipe);
        assert_eq!(
            wait_for_daemon(read_end, no_child()),
            Err(EXITED_EARLY.to_string())
        );
        Ok(())
    }

    #[test]
    fn the_parent_waits_for_a_report_sent_later() -> Result<()> {
        let (read_end, pipe) = pipe_pair()?;
        let writer = thread::spawn(move || {
            thread::sleep(std::time::Duration::from_millis(50));
            pipe.ready();
        });
        assert_eq!(wait_for_daemon(read_end, no_child()), Ok(()));
        writer
            .join()
            .map_err(|_| Error::Daemon("writer panicked".into()))?;
        Ok(())
    }

    #[test]
    fn a_failed_first_child_is_named_when_nothing_was_sent() -> Result<()> {
        let (read_end, pipe) = pipe_pair()?;
        drop(pipe);
        let child = std::process::Command::new("false").spawn()?;
        let pid = i32::try_from(child.id()).map_err(|e| Error::Daemon(e.to_string()))?;
        let message = wait_for_daemon(read_end, Pid::from_raw(pid))
            .err()
            .unwrap_or_default();
        assert_eq!(
            message,
            format!("{EXITED_EARLY} (intermediate child: Exited(Pid({pid}), 1))")
        );
        Ok(())
    }

    #[cfg(any(target_os = "linux", target_os = "android"))]
    #[test]
    fn thread_count_sees_a_spawned_thread() -> Result<()> {
        let (stop_tx, stop_rx) = std::sync::mpsc::channel::<()>();
        let before = thread_count();
        let handle = thread::spawn(move || stop_rx.recv());
        let during = thread_count();
        drop(stop_tx);
        let _ = handle.join();

        let (Some(before), Some(during)) = (before, during) else {
            panic!("/proc/self/status has no thread count");
        };
        // Other tests run concurrently, so only a lower bound is certain.
        assert!(before >= 1);
        assert!(during >= 2);
        Ok(())
    }

    #[test]
    fn both_pipe_ends_are_closed_on_exec() -> Result<()> {
        let (read_end, write_end) = cloexec_pipe()?;
        for fd in [&read_end, &write_end] {
            let flags = fcntl(fd, FcntlArg::F_GETFD).map_err(|e| nix_error("fcntl", e))?;
            assert!(FdFlag::from_bits_truncate(flags).contains(FdFlag::FD_CLOEXEC));
        }
        Ok(())
    }
}
