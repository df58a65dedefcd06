//! systemd socket activation: the listening sockets a `.socket` unit (or
//! `systemd-socket-activate`) hands to the process as fds 3, 4, ... with
//! `LISTEN_PID`, `LISTEN_FDS` and `LISTEN_FDNAMES`.
//!
//! The environment is read once per process; the sockets found are kept
//! here for the life of the process, so that a restart on SIGHUP serves on
//! the same sockets: each generation of tasks gets listeners on duplicates
//! ([`InheritedSocket::listener`]), never the originals. Which task takes
//! which socket is [`claims`](super::claims)' job.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd as _, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::OnceLock;

use socket2::{Domain, SockRef, Type};

use crate::error::{Error, Result, describe_fd};
use crate::listen::{Listener, UnixSocket};

/// The first fd systemd passes (after stdin, stdout and stderr).
const FIRST_FD: RawFd = 3;

/// The names systemd gives a socket no one named: `unknown`, or the
/// socket unit's own name.
fn is_default_name(name: &str) -> bool {
    name.is_empty() || name == "unknown" || name.ends_with(".socket")
}

/// Where an inherited socket listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Family {
    /// TCP, IPv4 or IPv6.
    Tcp(SocketAddr),
    /// A unix stream socket: its path, `@name` for an abstract one, or
    /// empty for an unnamed one.
    Unix(PathBuf),
}

/// A listening socket passed by systemd.
#[derive(Debug)]
pub(crate) struct InheritedSocket {
    /// The fd number it came as.
    pub(crate) fd: RawFd,
    /// Its `LISTEN_FDNAMES` entry, unless it is unnamed (none, `unknown`,
    /// or the socket unit's name).
    pub(crate) name: Option<String>,
    pub(crate) family: Family,
    socket: OwnedFd,
}

impl InheritedSocket {
    /// The socket passed as `fd`, once it proved to be a listening stream
    /// socket (set close-on-exec, so that the programs the service starts
    /// do not inherit it); or why not, with the fd handed back.
    pub(crate) fn new(
        fd: RawFd,
        name: Option<String>,
        socket: OwnedFd,
    ) -> Result<Self, (String, OwnedFd)> {
        let family = match inspect(socket.as_fd()) {
            Ok(family) => family,
            Err(reason) => return Err((reason, socket)),
        };
        if let Err(e) = SockRef::from(&socket).set_cloexec(true) {
            return Err((format!("cannot be set close-on-exec: {e}"), socket));
        }
        Ok(Self {
            fd,
            name,
            family,
            socket,
        })
    }

    /// A listener on a new fd for the same socket (close-on-exec), for one
    /// generation of tasks: dropping it leaves the original, and so the
    /// socket, open for the next generation. An inherited unix socket's
    /// file is systemd's, left in place when the listener goes.
    pub(crate) fn listener(&self) -> Result<Listener> {
        let err = |e: io::Error| {
            Error::Activation(format!(
                "{}: {e}",
                describe_fd(self.fd, self.name.as_deref())
            ))
        };
        let fd = self.socket.try_clone().map_err(err)?;
        listener_on(fd, &self.family, None).map_err(err)
    }
}

/// A listener of one generation on `fd`, a listening socket of `family`
/// (close-on-exec already). A unix socket's file is removed when the
/// listener drops only with `file_id` (see [`UnixSocket`]): a socket whose
/// file someone else owns is left in place.
pub(crate) fn listener_on(
    fd: OwnedFd,
    family: &Family,
    file_id: Option<(u64, u64)>,
) -> io::Result<Listener> {
    match family {
        Family::Tcp(_) => {
            let listener = std::net::TcpListener::from(fd);
            listener.set_nonblocking(true)?;
            Ok(Listener::Tcp(tokio::net::TcpListener::from_std(listener)?))
        }
        Family::Unix(path) => {
            let listener = std::os::unix::net::UnixListener::from(fd);
            listener.set_nonblocking(true)?;
            let listener = tokio::net::UnixListener::from_std(listener)?;
            Ok(Listener::Unix(UnixSocket::adopted(
                listener,
                path.clone(),
                file_id,
            )))
        }
    }
}

/// The three variables, as read from the environment (`None` when unset).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct ListenEnv<'a> {
    pub(crate) pid: Option<&'a str>,
    pub(crate) fds: Option<&'a str>,
    pub(crate) names: Option<&'a str>,
}

/// The sockets of this process, read once. The error is kept as text: every
/// service of the process that asks gets the same one.
static INHERITED: OnceLock<Result<Vec<InheritedSocket>, String>> = OnceLock::new();

/// Reads the sockets passed to this process, once, then removes the three
/// variables so that the programs it starts do not see them. The sockets
/// are set close-on-exec for the same reason.
///
/// # Safety
///
/// No other thread may exist: removing an environment variable while
/// another thread reads the environment is undefined behaviour.
pub(crate) unsafe fn take_from_env() -> Result<&'static [InheritedSocket]> {
    let found = INHERITED.get_or_init(read_env);
    for name in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        // SAFETY: the caller promises that no other thread exists.
        unsafe { std::env::remove_var(name) };
    }
    as_result(found)
}

/// The sockets passed to this process: read from the environment the first
/// time, which is then left as it is (a service run inside a program that
/// has threads already must not change the environment).
pub(crate) fn inherited() -> Result<&'static [InheritedSocket]> {
    as_result(INHERITED.get_or_init(read_env))
}

fn as_result(
    found: &'static Result<Vec<InheritedSocket>, String>,
) -> Result<&'static [InheritedSocket]> {
    match found {
        Ok(sockets) => Ok(sockets),
        Err(reason) => Err(Error::Activation(reason.clone())),
    }
}

fn read_env() -> Result<Vec<InheritedSocket>, String> {
    let var = |name| {
        std::env::var_os(name).map(|v| v.into_string().unwrap_or_else(|_| "\u{fffd}".into()))
    };
    let (pid, fds, names) = (var("LISTEN_PID"), var("LISTEN_FDS"), var("LISTEN_FDNAMES"));
    let env = ListenEnv {
        pid: pid.as_deref(),
        fds: fds.as_deref(),
        names: names.as_deref(),
    };
    let names = parse(env, std::process::id())?;
    adopt(FIRST_FD, names)
}

/// The name of each fd passed, from the variables' values, or none when
/// they are not for `own_pid` (`LISTEN_PID` unset or another process's: a
/// parent's variables that leaked into its child).
pub(crate) fn parse(env: ListenEnv<'_>, own_pid: u32) -> Result<Vec<Option<String>>, String> {
    let (Some(pid), Some(fds)) = (env.pid, env.fds) else {
        return Ok(Vec::new());
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_PID is `{pid}`, not a process id"))?;
    if pid != own_pid {
        return Ok(Vec::new());
    }
    let count: usize = fds
        .trim()
        .parse()
        .map_err(|_| format!("LISTEN_FDS is `{fds}`, not a number of file descriptors"))?;
    let count_fits = i32::try_from(count).is_ok_and(|c| c.checked_add(FIRST_FD).is_some());
    if !count_fits {
        return Err(format!(
            "LISTEN_FDS is {count}, more fds than a process can have"
        ));
    }
    let names: Vec<Option<String>> = match env.names {
        // No names at all: systemd-socket-activate without --fdname.
        None => vec![None; count],
        Some("") if count == 0 => Vec::new(),
        Some(list) => list
            .split(':')
            .map(|name| (!is_default_name(name)).then(|| name.to_owned()))
            .collect(),
    };
    if names.len() != count {
        return Err(format!(
            "LISTEN_FDNAMES names {} fds (`{}`) but LISTEN_FDS is {count}",
            names.len(),
            env.names.unwrap_or_default(),
        ));
    }
    Ok(names)
}

/// Takes the fds from `first` on, one per name, after checking that each
/// is an open, listening stream socket (TCP or unix); each is set
/// close-on-exec.
fn adopt(first: RawFd, names: Vec<Option<String>>) -> Result<Vec<InheritedSocket>, String> {
    let mut sockets = Vec::with_capacity(names.len());
    for (fd, name) in (first..).zip(names) {
        let what = describe_fd(fd, name.as_deref());
        // SAFETY: F_GETFD reads the flags of an fd number, whatever it is;
        // a number that is not open is answered with EBADF.
        if unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } == -1 {
            return Err(format!("{what} is not open"));
        }
        // SAFETY: the fd is open (checked above), and nothing else in the
        // process owns it: systemd passed it for us, and the variables that
        // tell of it are read once. From here this store owns it, for the
        // life of the process.
        let socket = unsafe { OwnedFd::from_raw_fd(fd) };
        match InheritedSocket::new(fd, name, socket) {
            Ok(socket) => sockets.push(socket),
            Err(reason) => {
                // Not ours to close: whatever it is, it was not meant for us.
                let _ = std::os::fd::IntoRawFd::into_raw_fd(reason.1);
                return Err(format!("{what} {}", reason.0));
            }
        }
    }
    Ok(sockets)
}

/// The family and address of a listening stream socket, or why `fd` is not
/// one (the reason reads after the fd: `is not a socket`).
pub(crate) fn inspect(fd: BorrowedFd<'_>) -> Result<Family, String> {
    let socket = SockRef::from(&fd);
    let kind = socket.r#type().map_err(|e| match e.raw_os_error() {
        Some(nix::libc::ENOTSOCK) => "is not a socket".to_owned(),
        _ => format!("cannot be inspected: {e}"),
    })?;
    if kind != Type::STREAM {
        return Err("is not a stream socket (only TCP and unix stream sockets are served)".into());
    }
    let listening = socket
        .is_listener()
        .map_err(|e| format!("cannot be inspected: {e}"))?;
    if !listening {
        return Err("is a socket that is not listening (Accept=yes is not supported)".into());
    }
    let addr = socket
        .local_addr()
        .map_err(|e| format!("has no address: {e}"))?;
    if let Some(addr) = addr.as_socket() {
        return Ok(Family::Tcp(addr));
    }
    if addr.domain() != Domain::UNIX {
        return Err("is neither a TCP nor a unix socket".into());
    }
    let path = match (addr.as_pathname(), addr.as_abstract_namespace()) {
        (Some(path), _) => path.to_owned(),
        (None, Some(name)) => format!("@{}", String::from_utf8_lossy(name)).into(),
        (None, None) => PathBuf::new(),
    };
    Ok(Family::Unix(path))
}

#[cfg(test)]
mod tests {
    use std::os::fd::AsFd as _;

    use super::*;

    const PID: u32 = 4242;

    fn env<'a>(pid: &'a str, fds: &'a str, names: Option<&'a str>) -> ListenEnv<'a> {
        ListenEnv {
            pid: Some(pid),
            fds: Some(fds),
            names,
        }
    }

    #[test]
    fn nothing_is_passed_without_the_variables() {
        assert_eq!(parse(ListenEnv::default(), PID), Ok(Vec::new()));
        let no_pid = ListenEnv {
            fds: Some("1"),
            ..ListenEnv::default()
        };
        assert_eq!(parse(no_pid, PID), Ok(Vec::new()));
    }

    #[test]
    fn another_process_s_variables_are_ignored() {
        assert_eq!(parse(env("4243", "2", Some("a:b")), PID), Ok(Vec::new()));
        // Even a bad count: they are not ours to judge.
        assert_eq!(parse(env("1", "abc", None), PID), Ok(Vec::new()));
    }

    #[test]
    fn a_count_that_is_not_a_number_is_an_error() {
        let e = parse(env("4242", "abc", None), PID).expect_err("a bad count");
        assert_eq!(e, "LISTEN_FDS is `abc`, not a number of file descriptors");
        for bad in ["-1", "", "1.5", "99999999999999999999"] {
            assert!(parse(env("4242", bad, None), PID).is_err(), "{bad}");
        }
        let e = parse(env("4242", "4294967295", None), PID).expect_err("too many");
        assert!(e.contains("more fds than a process can have"), "{e}");
        let e = parse(env("self", "1", None), PID).expect_err("a bad pid");
        assert!(e.contains("LISTEN_PID is `self`"), "{e}");
    }

    #[test]
    fn names_must_be_one_per_fd() {
        let e = parse(env("4242", "2", Some("http")), PID).expect_err("a mismatch");
        assert_eq!(e, "LISTEN_FDNAMES names 1 fds (`http`) but LISTEN_FDS is 2");
        let e = parse(env("4242", "0", Some("http")), PID).expect_err("a mismatch");
        assert!(e.contains("LISTEN_FDS is 0"), "{e}");
        assert_eq!(parse(env("4242", "0", Some("")), PID), Ok(Vec::new()));
        assert_eq!(parse(env("4242", "0", None), PID), Ok(Vec::new()));
    }

    #[test]
    fn default_names_are_unnamed() {
        let names = parse(env("4242", "4", Some("http:unknown:app.socket:")), PID);
        assert_eq!(names, Ok(vec![Some("http".to_owned()), None, None, None]));
        assert_eq!(parse(env("4242", "1", None), PID), Ok(vec![None]));
    }

    #[test]
    fn listening_stream_sockets_are_recognized() -> std::io::Result<()> {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = tcp.local_addr()?;
        assert_eq!(inspect(tcp.as_fd()), Ok(Family::Tcp(addr)));

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sock");
        let unix = std::os::unix::net::UnixListener::bind(&path)?;
        assert_eq!(inspect(unix.as_fd()), Ok(Family::Unix(path)));
        Ok(())
    }

    #[test]
    fn other_fds_are_refused_with_a_reason() -> std::io::Result<()> {
        let udp = std::net::UdpSocket::bind("127.0.0.1:0")?;
        let e = inspect(udp.as_fd()).expect_err("a datagram socket");
        assert!(e.contains("not a stream socket"), "{e}");

        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let client = std::net::TcpStream::connect(tcp.local_addr()?)?;
        let e = inspect(client.as_fd()).expect_err("a connected socket");
        assert!(e.contains("not listening"), "{e}");

        let file = std::fs::File::open("/dev/null")?;
        let e = inspect(file.as_fd()).expect_err("a file");
        assert_eq!(e, "is not a socket");
        Ok(())
    }

    #[test]
    fn an_fd_that_is_not_open_is_refused() {
        // The highest fd number can be open in no process.
        let e = adopt(i32::MAX - 1, vec![Some("http".into())]).expect_err("not open");
        assert_eq!(e, format!("fd {} (named `http`) is not open", i32::MAX - 1));
    }

    #[tokio::test]
    async fn each_listener_is_a_duplicate_the_socket_outlives() -> std::io::Result<()> {
        let tcp = std::net::TcpListener::bind("127.0.0.1:0")?;
        let addr = tcp.local_addr()?;
        let socket =
            InheritedSocket::new(3, None, tcp.into()).map_err(|(e, _)| io::Error::other(e))?;
        for _generation in 0..2 {
            let listener = socket.listener().map_err(io::Error::other)?;
            let _client = tokio::net::TcpStream::connect(addr).await?;
            let Listener::Tcp(listener) = listener else {
                return Err(io::Error::other("not a TCP listener"));
            };
            listener.accept().await?;
        }

        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sock");
        let unix = std::os::unix::net::UnixListener::bind(&path)?;
        let socket = InheritedSocket::new(4, Some("http".into()), unix.into())
            .map_err(|(e, _)| io::Error::other(e))?;
        let listener = socket.listener().map_err(io::Error::other)?;
        assert_eq!(
            listener.bound_addr()?,
            crate::listen::BoundAddr::Unix(path.clone())
        );
        drop(listener);
        assert!(path.exists(), "the file systemd made stays");
        let _client = tokio::net::UnixStream::connect(&path).await?;
        Ok(())
    }
}
