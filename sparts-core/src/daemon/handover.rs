//! The words of an upgrade, on the unix socket between the running process
//! and the one replacing it: the running one sends its listening sockets
//! (and its locked pidfile) as fds with their names in one message; the new
//! one answers [`READY`] once every task started, and the old one
//! [`TAKEN`] once it let go of the upgrade socket and the pidfile.

use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd as _, BorrowedFd, FromRawFd as _, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// What the message opens with: a process of another kind (or another
/// version of these words) is refused rather than misread.
const MAGIC: &[u8] = b"sparts-upgrade 1\0";

/// The new process's word: every task started, it serves.
pub(crate) const READY: u8 = b'R';
/// The old process's answer: it stopped listening for upgrades and left
/// the pidfile to the new one, and drains now.
pub(crate) const TAKEN: u8 = b'T';

/// The name of the pidfile among the fds (no task has an empty prefix).
const PIDFILE: (&str, &str) = ("", "pidfile");

/// The most fds one message carries (Linux's SCM_MAX_FD).
const MAX_FDS: usize = 253;

/// The most bytes of names one message carries.
const MAX_NAMES: usize = 64 * 1024;

/// What the running process hands over.
#[derive(Debug, Default)]
pub(crate) struct Handed {
    /// Each listening socket, with the prefix of the task that bound it
    /// and the options it asked for.
    pub(crate) sockets: Vec<(String, String, OwnedFd)>,
    /// The pidfile, locked (the lock goes with the open file).
    pub(crate) pidfile: Option<OwnedFd>,
}

/// Sends `sockets` and `pidfile` in one message.
pub(crate) fn send(
    stream: &UnixStream,
    sockets: &[(String, String, BorrowedFd<'_>)],
    pidfile: Option<BorrowedFd<'_>>,
) -> io::Result<()> {
    let mut names = MAGIC.to_vec();
    let mut fds: Vec<RawFd> = Vec::new();
    let all = pidfile
        .map(|fd| (PIDFILE.0, PIDFILE.1, fd))
        .into_iter()
        .chain(
            sockets
                .iter()
                .map(|(p, k, fd)| (p.as_str(), k.as_str(), *fd)),
        );
    for (prefix, key, fd) in all {
        names.extend_from_slice(prefix.as_bytes());
        names.push(0);
        names.extend_from_slice(key.as_bytes());
        names.push(0);
        fds.push(fd.as_raw_fd());
    }
    if fds.len() > MAX_FDS || names.len() > MAX_NAMES {
        return Err(io::Error::other(format!(
            "{} sockets are more than one upgrade can hand over",
            fds.len()
        )));
    }
    let rights = [ControlMessage::ScmRights(&fds)];
    let sent = sendmsg::<()>(
        stream.as_raw_fd(),
        &[IoSlice::new(&names)],
        &rights,
        MsgFlags::empty(),
        None,
    )?;
    if sent != names.len() {
        return Err(io::Error::other("the message was cut short"));
    }
    Ok(())
}

/// Receives what [`send`] sent.
pub(crate) fn receive(stream: &UnixStream) -> io::Result<Handed> {
    let mut buffer = vec![0u8; MAX_NAMES];
    let mut space = nix::cmsg_space!([RawFd; MAX_FDS]);
    let mut iov = [IoSliceMut::new(&mut buffer)];
    let message = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for cmsg in message.cmsgs()? {
        if let ControlMessageOwned::ScmRights(received) = cmsg {
            // SAFETY: the kernel just installed these fds in this process
            // for us; nothing else knows of them.
            fds.extend(
                received
                    .into_iter()
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let truncated = message
        .flags
        .intersects(MsgFlags::MSG_CTRUNC | MsgFlags::MSG_TRUNC);
    let length = message.bytes;
    if length == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "the running process closed the connection without handing anything over",
        ));
    }
    let text = buffer.get(..length).unwrap_or_default();
    let Some(names) = text.strip_prefix(MAGIC) else {
        return Err(io::Error::other(
            "the process on the upgrade socket is not a sparts service",
        ));
    };
    if truncated {
        return Err(io::Error::other("the message was cut short"));
    }
    parse(names, fds)
}

/// Pairs each fd with its name.
fn parse(names: &[u8], fds: Vec<OwnedFd>) -> io::Result<Handed> {
    let mut parts = names.split(|&b| b == 0);
    let mut handed = Handed::default();
    let bad = || io::Error::other("the names of the sockets do not read");
    for fd in fds {
        let prefix = parts.next().ok_or_else(bad)?;
        let key = parts.next().ok_or_else(bad)?;
        let prefix = String::from_utf8(prefix.to_vec()).map_err(|_| bad())?;
        let key = String::from_utf8(key.to_vec()).map_err(|_| bad())?;
        if (prefix.as_str(), key.as_str()) == PIDFILE {
            handed.pidfile = Some(fd);
        } else {
            handed.sockets.push((prefix, key, fd));
        }
    }
    // What is left is the empty piece after the last terminator.
    if parts.any(|p| !p.is_empty()) {
        return Err(bad());
    }
    Ok(handed)
}

#[cfg(test)]
mod tests {
    use std::io::{Read as _, Write as _};
    use std::os::fd::AsFd as _;

    use super::*;

    #[test]
    fn sockets_and_pidfile_arrive_with_their_names() -> io::Result<()> {
        let (old, new) = UnixStream::pair()?;
        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = tcp.local_addr()?;
        let dir = tempfile::tempdir()?;
        let pidfile = std::fs::File::create(dir.path().join("svc.pid"))?;
        let sockets = [("http".to_owned(), "tcp * port 0".to_owned(), tcp.as_fd())];
        send(&old, &sockets, Some(pidfile.as_fd()))?;
        let handed = receive(&new)?;
        assert!(handed.pidfile.is_some());
        let [(prefix, key, fd)] =
            <[_; 1]>::try_from(handed.sockets).map_err(|_| io::Error::other("one socket"))?;
        assert_eq!((prefix.as_str(), key.as_str()), ("http", "tcp * port 0"));
        let listener = std::net::TcpListener::from(fd);
        assert_eq!(listener.local_addr()?, addr);

        (&new).write_all(&[READY])?;
        let mut word = [0u8];
        (&old).read_exact(&mut word)?;
        assert_eq!(word[0], READY);
        Ok(())
    }

    #[test]
    fn anything_else_is_refused() -> io::Result<()> {
        let (old, new) = UnixStream::pair()?;
        (&old).write_all(b"HTTP/1.1 400 Bad Request\r\n")?;
        let e = receive(&new).expect_err("not ours");
        assert!(e.to_string().contains("not a sparts service"), "{e}");
        drop(old);
        let e = receive(&new).expect_err("closed");
        assert_eq!(e.kind(), io::ErrorKind::UnexpectedEof);
        assert!(parse(b"http\0", Vec::new()).is_err());
        Ok(())
    }
}
