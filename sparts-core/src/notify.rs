//! Service manager notifications (`sd_notify(3)`).
//!
//! The messages are formatted by the `sd-notify` crate, but sent here: that
//! crate only reads the socket from `NOTIFY_SOCKET`, which tests cannot set
//! without racing every other thread, and it does not handle abstract socket
//! names (`@name`), which systemd may hand out.

use std::ffi::{OsStr, OsString};
use std::io;
#[cfg(test)]
use std::path::PathBuf;
use std::time::Duration;

use sd_notify::NotifyState;

/// Sends state changes to systemd (or a compatible manager).
///
/// A no-op when there is no socket. Failures to send are logged at debug
/// level and otherwise ignored: notification must never break the service.
#[derive(Debug, Clone, Default)]
pub(crate) struct Notifier {
    /// `NOTIFY_SOCKET`: a path, or an abstract name starting with `@`.
    socket: Option<OsString>,
    /// Half of `WATCHDOG_USEC`, when the watchdog is meant for this process.
    watchdog: Option<Duration>,
}

impl Notifier {
    /// Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID`.
    ///
    /// The variables are left in place (removing them is not thread-safe),
    /// so processes the service spawns inherit them. After
    /// [`detach`](crate::daemon::detach()), call this in the daemon: the
    /// watchdog is only enabled for the pid named in `WATCHDOG_PID`.
    pub(crate) fn from_env() -> Self {
        let socket = std::env::var_os("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        let watchdog = watchdog_interval_from(
            std::env::var_os("WATCHDOG_USEC").as_deref(),
            std::env::var_os("WATCHDOG_PID").as_deref(),
            std::process::id(),
        );
        Self { socket, watchdog }
    }

    #[cfg(test)]
    /// Sends to `path` (or, if it starts with `@`, that abstract socket),
    /// without a watchdog.
    pub(crate) fn with_socket(path: PathBuf) -> Self {
        Self {
            socket: Some(path.into_os_string()),
            watchdog: None,
        }
    }

    /// Whether there is a socket to send to.
    pub(crate) fn is_enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// `READY=1`: startup finished.
    pub(crate) fn ready(&self) {
        self.send(&[NotifyState::Ready]);
    }

    /// `RELOADING=1` with the `MONOTONIC_USEC` systemd 253 and later require.
    pub(crate) fn reloading(&self) {
        match NotifyState::monotonic_usec_now() {
            Ok(now) => self.send(&[NotifyState::Reloading, now]),
            Err(error) => {
                tracing::debug!(%error, "no monotonic clock for RELOADING=1");
                self.send(&[NotifyState::Reloading]);
            }
        }
    }

    /// `STOPPING=1`: shutdown began.
    pub(crate) fn stopping(&self) {
        self.send(&[NotifyState::Stopping]);
    }

    /// `STATUS=...`: a one-line status for `systemctl status`.
    ///
    /// Newlines become spaces: each line of a notification is an assignment,
    /// and a status must not smuggle in `READY=1` or `MAINPID=`.
    pub(crate) fn status(&self, status: &str) {
        let status = status.replace(['\n', '\r'], " ");
        self.send(&[NotifyState::Status(&status)]);
    }

    /// `WATCHDOG=1`: the service is alive.
    pub(crate) fn watchdog(&self) {
        self.send(&[NotifyState::Watchdog]);
    }

    /// How often to call [`watchdog`](Self::watchdog): half the manager's
    /// timeout, or `None` when no watchdog is configured for this process.
    pub(crate) fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    fn send(&self, states: &[NotifyState<'_>]) {
        let Some(socket) = &self.socket else {
            return;
        };
        let message = states
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        if let Err(error) = send_datagram(socket, message.as_bytes()) {
            tracing::debug!(?socket, %error, %message, "sd_notify failed");
        }
    }
}

/// Sends one datagram from a fresh unbound socket, as `sd_notify(3)` does.
fn send_datagram(socket: &OsStr, message: &[u8]) -> io::Result<()> {
    use std::os::unix::ffi::OsStrExt;
    use std::os::unix::net::UnixDatagram;

    let sender = UnixDatagram::unbound()?;
    let sent = match socket.as_bytes().strip_prefix(b"@") {
        Some(name) => send_abstract(&sender, name, message)?,
        None => sender.send_to(message, socket)?,
    };
    if sent == message.len() {
        Ok(())
    } else {
        Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "notification truncated",
        ))
    }
}

#[cfg(any(target_os = "linux", target_os = "android"))]
fn send_abstract(
    sender: &std::os::unix::net::UnixDatagram,
    name: &[u8],
    message: &[u8],
) -> io::Result<usize> {
    #[cfg(target_os = "android")]
    use std::os::android::net::SocketAddrExt;
    #[cfg(target_os = "linux")]
    use std::os::linux::net::SocketAddrExt;

    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
    sender.send_to_addr(message, &addr)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn send_abstract(
    _sender: &std::os::unix::net::UnixDatagram,
    _name: &[u8],
    _message: &[u8],
) -> io::Result<usize> {
    Err(io::Error::new(
        io::ErrorKind::Unsupported,
        "abstract sockets exist only on Linux",
    ))
}

/// Half of `usec`, if the watchdog is meant for `our_pid`.
///
/// Unlike `sd_watchdog_enabled(3)` a missing `WATCHDOG_PID` counts as ours:
/// some managers set only `WATCHDOG_USEC`.
fn watchdog_interval_from(
    usec: Option<&OsStr>,
    pid: Option<&OsStr>,
    our_pid: u32,
) -> Option<Duration> {
    let usec: u64 = usec?.to_str()?.trim().parse().ok().filter(|u| *u > 0)?;
    if let Some(pid) = pid {
        let pid: u32 = pid.to_str()?.trim().parse().ok()?;
        if pid != our_pid {
            return None;
        }
    }
    Some(Duration::from_micros(usec / 2))
}

#[cfg(test)]
mod tests {
    use std::os::unix::net::UnixDatagram;

    use super::*;

    fn receive(socket: &UnixDatagram) -> io::Result<String> {
        let mut buf = [0u8; 1024];
        let n = socket.recv(&mut buf)?;
        Ok(String::from_utf8_lossy(&buf[..n]).into_owned())
    }

    fn listener() -> io::Result<(tempfile::TempDir, PathBuf, UnixDatagram)> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("notify.sock");
        let socket = UnixDatagram::bind(&path)?;
        // A missing message must fail the test, not hang it.
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok((dir, path, socket))
    }

    #[test]
    fn each_notification_arrives_with_its_exact_text() -> io::Result<()> {
        let (_dir, path, socket) = listener()?;
        let notifier = Notifier::with_socket(path);
        assert!(notifier.is_enabled());

        notifier.ready();
        assert_eq!(receive(&socket)?, "READY=1");
        notifier.stopping();
        assert_eq!(receive(&socket)?, "STOPPING=1");
        notifier.status("serving 3 tasks");
        assert_eq!(receive(&socket)?, "STATUS=serving 3 tasks");
        notifier.watchdog();
        assert_eq!(receive(&socket)?, "WATCHDOG=1");
        Ok(())
    }

    #[test]
    fn reloading_carries_the_monotonic_clock() -> io::Result<()> {
        let (_dir, path, socket) = listener()?;
        Notifier::with_socket(path).reloading();

        let message = receive(&socket)?;
        let usec = message
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .and_then(|usec| usec.parse::<u64>().ok());
        assert!(usec.is_some_and(|usec| usec > 0), "{message:?}");
        Ok(())
    }

    #[test]
    fn a_status_cannot_inject_other_assignments() -> io::Result<()> {
        let (_dir, path, socket) = listener()?;
        Notifier::with_socket(path).status("bad\nREADY=1");
        assert_eq!(receive(&socket)?, "STATUS=bad READY=1");
        Ok(())
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn abstract_sockets_are_supported() -> io::Result<()> {
        use std::os::linux::net::SocketAddrExt;
        use std::os::unix::net::SocketAddr;

        let name = format!("sparts-notify-test-{}", std::process::id());
        let socket = UnixDatagram::bind_addr(&SocketAddr::from_abstract_name(&name)?)?;
        socket.set_read_timeout(Some(Duration::from_secs(5)))?;

        Notifier::with_socket(PathBuf::from(format!("@{name}"))).ready();
        assert_eq!(receive(&socket)?, "READY=1");
        Ok(())
    }

    #[test]
    fn without_a_socket_nothing_happens() {
        let notifier = Notifier::default();
        assert!(!notifier.is_enabled());
        notifier.ready();
        notifier.status("ignored");
        assert_eq!(notifier.watchdog_interval(), None);
    }

    #[test]
    fn a_missing_socket_is_ignored() -> io::Result<()> {
        let dir = tempfile::tempdir()?;
        let notifier = Notifier::with_socket(dir.path().join("nobody-listens"));
        notifier.ready();
        notifier.reloading();
        Ok(())
    }

    #[test]
    fn watchdog_interval_is_half_the_timeout_for_our_pid() {
        let usec = OsStr::new("30000000");
        let half = Some(Duration::from_secs(15));
        assert_eq!(watchdog_interval_from(Some(usec), None, 42), half);
        assert_eq!(
            watchdog_interval_from(Some(usec), Some(OsStr::new("42")), 42),
            half
        );
        assert_eq!(
            watchdog_interval_from(Some(usec), Some(OsStr::new("43")), 42),
            None
        );
        assert_eq!(
            watchdog_interval_from(Some(usec), Some(OsStr::new("x")), 42),
            None
        );
        assert_eq!(
            watchdog_interval_from(None, Some(OsStr::new("42")), 42),
            None
        );
        assert_eq!(
            watchdog_interval_from(Some(OsStr::new("0")), None, 42),
            None
        );
        assert_eq!(
            watchdog_interval_from(Some(OsStr::new("soon")), None, 42),
            None
        );
    }
}
