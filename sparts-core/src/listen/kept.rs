//! The listening sockets a service keeps across its restarts, so that no
//! connection attempt is refused while one generation of tasks hands over
//! to the next.
//!
//! Every socket a server task binds is recorded here as a duplicate fd,
//! under the task's prefix and the address it asked for (the listen
//! options, not the port it got: port 0 keeps the port it was given). The
//! next generation's task with the same prefix and the same options takes
//! a new duplicate instead of binding. Since this store holds its own fd,
//! the old generation closing its listener leaves the socket listening:
//! clients that connect meanwhile wait in the kernel's backlog until the
//! new generation accepts them. A socket no task asked for again by the
//! end of a start is closed then.
//!
//! A unix socket kept here has its file owned by this store rather than
//! by the listener that created it: the file stays across restarts and
//! goes with the socket (unless it was handed over to the process that
//! replaces this one with `--upgrade`).

use std::io;
use std::os::fd::{AsFd as _, BorrowedFd, OwnedFd};
use std::path::PathBuf;

use crate::listen::activation::{Family, inspect, listener_on};
use crate::listen::unix::{file_id, remove_own_file};
use crate::listen::{ListenOptions, Listener};

/// One kept listening socket.
#[derive(Debug)]
struct KeptSocket {
    socket: OwnedFd,
    family: Family,
    /// Device and inode of the unix socket file this store removes when
    /// the socket goes; `None` for TCP, or a file that is not ours.
    file_id: Option<(u64, u64)>,
}

impl Drop for KeptSocket {
    fn drop(&mut self) {
        if let Family::Unix(path) = &self.family {
            remove_own_file(path, self.file_id);
        }
    }
}

/// The sockets one server task bound for one set of listen options.
#[derive(Debug)]
struct Entry {
    prefix: String,
    key: String,
    sockets: Vec<KeptSocket>,
    /// Whether a task of the current generation took it.
    asked: bool,
}

/// The kept sockets of a service.
#[derive(Debug, Default)]
pub(crate) struct Kept {
    entries: Vec<Entry>,
    /// The unix socket files of the sockets let go of by
    /// [`let_go`](Kept::let_go), removed by [`clear`](Kept::clear).
    files: Vec<(PathBuf, (u64, u64))>,
}

/// What a task asks to listen on, as text: the unix socket and its group,
/// or the host and port as given.
pub(crate) fn key(options: &ListenOptions, sock_group: Option<&str>) -> String {
    match &options.sock {
        Some(path) => format!(
            "unix {} group {}",
            path.display(),
            sock_group.unwrap_or("-")
        ),
        None => format!(
            "tcp {} port {}",
            options.host.as_deref().unwrap_or("*"),
            options.port
        ),
    }
}

impl Kept {
    /// A new generation starts: none of its tasks asked yet.
    pub(crate) fn begin(&mut self) {
        for entry in &mut self.entries {
            entry.asked = false;
        }
    }

    /// Listeners on new fds for the sockets the task with `prefix` bound
    /// with the options `key` in an earlier generation (or that the
    /// process this one replaces handed over), if any.
    pub(crate) fn take(&mut self, prefix: &str, key: &str) -> io::Result<Option<Vec<Listener>>> {
        let Some(entry) = self
            .entries
            .iter_mut()
            .find(|e| e.prefix == prefix && e.key == key)
        else {
            return Ok(None);
        };
        entry.asked = true;
        let listeners = entry
            .sockets
            .iter()
            .map(|kept| {
                // The file stays the store's: a listener of one generation
                // never removes it.
                listener_on(kept.socket.try_clone()?, &kept.family, None)
            })
            .collect::<io::Result<Vec<_>>>()?;
        Ok(Some(listeners))
    }

    /// Keeps duplicates of `listeners`, just bound by the task with
    /// `prefix` for the options `key`. A unix socket's file becomes the
    /// store's to remove.
    pub(crate) fn keep(
        &mut self,
        prefix: &str,
        key: &str,
        listeners: &mut [Listener],
    ) -> io::Result<()> {
        let mut sockets = Vec::with_capacity(listeners.len());
        for listener in listeners.iter() {
            let (socket, family) = match listener {
                Listener::Tcp(l) => (
                    l.as_fd().try_clone_to_owned()?,
                    Family::Tcp(l.local_addr()?),
                ),
                Listener::Unix(s) => (
                    s.listener().as_fd().try_clone_to_owned()?,
                    Family::Unix(s.path().to_owned()),
                ),
            };
            sockets.push(KeptSocket {
                socket,
                family,
                file_id: None,
            });
        }
        // Only once every duplicate was made: a failure leaves the file
        // with the listener, which removes it as before.
        for (listener, kept) in listeners.iter_mut().zip(&mut sockets) {
            if let Listener::Unix(s) = listener {
                kept.file_id = s.disown_file();
            }
        }
        self.entries
            .retain(|e| !(e.prefix == prefix && e.key == key));
        self.entries.push(Entry {
            prefix: prefix.to_owned(),
            key: key.to_owned(),
            sockets,
            asked: true,
        });
        Ok(())
    }

    /// The task with `prefix` asks for other options than it did: its old
    /// sockets close now rather than at the end of the start, so that it
    /// can bind the same port on another host (or the same path with
    /// another group).
    pub(crate) fn forget(&mut self, prefix: &str) {
        self.entries.retain(|e| e.prefix != prefix || e.asked);
    }

    /// Every task of the generation has bound: the sockets none asked for
    /// again are closed (and their files removed).
    pub(crate) fn finish(&mut self) {
        self.entries.retain(|e| e.asked);
    }

    /// The service stops for good: the store closes its fds, so that each
    /// socket closes once its server stops accepting (new clients are then
    /// refused rather than left waiting in a backlog no one accepts from).
    /// A unix socket's file stays until [`clear`](Self::clear): clients
    /// still reach the server through it during its lame duck period.
    pub(crate) fn let_go(&mut self) {
        for mut socket in self.entries.drain(..).flat_map(|e| e.sockets) {
            if let (Family::Unix(path), Some(id)) = (&socket.family, socket.file_id.take()) {
                self.files.push((path.clone(), id));
            }
        }
    }

    /// The service ended: every socket is closed and its file removed.
    pub(crate) fn clear(&mut self) {
        self.entries.clear();
        for (path, id) in self.files.drain(..) {
            remove_own_file(&path, Some(id));
        }
    }

    /// Every kept socket with its name (`prefix` and `key`), to hand over
    /// to the process that replaces this one.
    pub(crate) fn sockets(&self) -> Vec<(String, String, BorrowedFd<'_>)> {
        self.entries
            .iter()
            .flat_map(|e| {
                e.sockets
                    .iter()
                    .map(|s| (e.prefix.clone(), e.key.clone(), s.socket.as_fd()))
            })
            .collect()
    }

    /// The sockets were handed over to the process that replaces this one:
    /// their files are now its to remove.
    pub(crate) fn disown_files(&mut self) {
        for socket in self.entries.iter_mut().flat_map(|e| &mut e.sockets) {
            socket.file_id = None;
        }
        self.files.clear();
    }

    /// Adds a socket handed over by the process this one replaces, for the
    /// task with `prefix` and the options `key`; a unix socket's file
    /// becomes this store's to remove. Fails when `socket` is not a
    /// listening stream socket.
    pub(crate) fn adopt(&mut self, prefix: &str, key: &str, socket: OwnedFd) -> Result<(), String> {
        let family = inspect(socket.as_fd())?;
        socket2::SockRef::from(&socket)
            .set_cloexec(true)
            .map_err(|e| format!("cannot be set close-on-exec: {e}"))?;
        let file_id = match &family {
            Family::Unix(path) => file_id(path),
            Family::Tcp(_) => None,
        };
        let kept = KeptSocket {
            socket,
            family,
            file_id,
        };
        match self
            .entries
            .iter_mut()
            .find(|e| e.prefix == prefix && e.key == key)
        {
            Some(entry) => entry.sockets.push(kept),
            None => self.entries.push(Entry {
                prefix: prefix.to_owned(),
                key: key.to_owned(),
                sockets: vec![kept],
                asked: false,
            }),
        }
        Ok(())
    }

    /// The paths of the kept unix sockets, for tests.
    #[cfg(test)]
    fn unix_paths(&self) -> Vec<PathBuf> {
        self.entries
            .iter()
            .flat_map(|e| &e.sockets)
            .filter_map(|s| match &s.family {
                Family::Unix(path) => Some(path.clone()),
                Family::Tcp(_) => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::listen::BoundAddr;

    fn loopback() -> ListenOptions {
        ListenOptions {
            host: Some("127.0.0.1".into()),
            ..ListenOptions::default()
        }
    }

    fn addr(listeners: &[Listener]) -> io::Result<BoundAddr> {
        listeners
            .first()
            .ok_or_else(|| io::Error::other("no listener"))?
            .bound_addr()
    }

    #[tokio::test]
    async fn a_socket_outlives_its_generation_and_waits_in_the_backlog() -> crate::Result<()> {
        let options = loopback();
        let key = key(&options, None);
        let mut kept = Kept::default();
        kept.begin();
        assert!(kept.take("http", &key)?.is_none());
        let mut first = options.bind(None).await?;
        kept.keep("http", &key, &mut first)?;
        kept.finish();
        let BoundAddr::Tcp(bound) = addr(&first)? else {
            return Err(io::Error::other("not TCP").into());
        };
        drop(first);

        // Between generations: the connection is not refused.
        let client = tokio::net::TcpStream::connect(bound).await?;
        kept.begin();
        let second = kept.take("http", &key)?.ok_or(io::Error::other("kept"))?;
        kept.finish();
        assert_eq!(
            addr(&second)?,
            BoundAddr::Tcp(bound),
            "port 0 keeps its port"
        );
        let Some(Listener::Tcp(listener)) = second.first() else {
            return Err(io::Error::other("not TCP").into());
        };
        let (_, remote) = listener.accept().await?;
        assert_eq!(remote, client.local_addr()?);
        Ok(())
    }

    #[tokio::test]
    async fn a_socket_no_generation_asks_for_again_is_closed() -> crate::Result<()> {
        let options = loopback();
        let mut kept = Kept::default();
        let mut first = options.bind(None).await?;
        kept.keep("http", &key(&options, None), &mut first)?;
        let bound = addr(&first)?.tcp().ok_or(io::Error::other("not TCP"))?;
        drop(first);
        kept.begin();
        // Another port now: the old socket goes.
        let mut moved = options.clone();
        moved.port = 1;
        assert!(kept.take("http", &key(&moved, None))?.is_none());
        assert!(kept.take("grpc", &key(&options, None))?.is_none());
        kept.finish();
        let refused = tokio::net::TcpStream::connect(bound).await;
        assert!(refused.is_err(), "closed");

        // The same port on another host: the old socket goes first.
        let mut first = options.bind(None).await?;
        kept.keep("http", &key(&options, None), &mut first)?;
        let port = addr(&first)?
            .tcp()
            .ok_or(io::Error::other("not TCP"))?
            .port();
        drop(first);
        kept.begin();
        let elsewhere = ListenOptions {
            host: Some("0.0.0.0".into()),
            port,
            ..ListenOptions::default()
        };
        assert!(kept.take("http", &key(&elsewhere, None))?.is_none());
        kept.forget("http");
        let rebound = elsewhere.bind(None).await?;
        assert_eq!(addr(&rebound)?.tcp().map(|a| a.port()), Some(port));
        Ok(())
    }

    #[tokio::test]
    async fn a_kept_unix_socket_keeps_its_file_until_it_goes() -> crate::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("s.sock");
        let options = ListenOptions {
            sock: Some(path.clone()),
            ..ListenOptions::default()
        };
        let key = key(&options, None);
        let mut kept = Kept::default();
        let mut first = options.bind(None).await?;
        kept.keep("http", &key, &mut first)?;
        drop(first);
        assert!(path.exists(), "the store owns the file now");
        kept.begin();
        let second = kept.take("http", &key)?.ok_or(io::Error::other("kept"))?;
        drop(second);
        assert!(path.exists());
        let _client = tokio::net::UnixStream::connect(&path).await?;
        assert_eq!(kept.unix_paths(), std::slice::from_ref(&path));
        kept.let_go();
        assert!(path.exists(), "the file stays while the server stops");
        kept.clear();
        assert!(!path.exists(), "the service ended: the file goes");

        let mut again = Kept::default();
        let socket = std::os::unix::net::UnixListener::bind(dir.path().join("t.sock"))?;
        again
            .adopt("http", &key, socket.into())
            .map_err(io::Error::other)?;
        assert!(again.take("http", &key)?.is_some());
        again.disown_files();
        again.clear();
        assert!(
            dir.path().join("t.sock").exists(),
            "handed over: the file is another's"
        );

        Ok(())
    }
}
