//! Listeners for every sparts transport: TCP on every interface (IPv4 and
//! IPv6 on one port) or on a host, and unix sockets created with their final
//! mode before anyone can reach them. sparts-http, sparts-grpc and
//! sparts-thrift bind and accept through these, so `--<prefix>-host`,
//! `--<prefix>-port` and `--<prefix>-sock` mean the same on every transport,
//! and every accept loop skips and backs off the same way.
//!
//! A server binds in its task's `init` ([`ListenOptions::bind`]), logs each
//! [`Listener::bound_addr`], then accepts in `run`: one [`Accepted`]
//! connection at a time with [`Listener::accept`] (within the server's
//! maximum with [`accept_within_limit`](crate::server::accept_within_limit)),
//! or every listener's as a stream with
//! [`server::Incoming`](crate::server::Incoming) (for servers that take a
//! stream, such as tonic's `serve_with_incoming_shutdown`).
//!
//! Under systemd socket activation (a `.socket` unit, or
//! `systemd-socket-activate`), a server task listens on the sockets passed
//! to the process instead of binding: those named after its prefix, or a
//! lone unnamed one when the service has one server task
//! ([`ListenOptions::bind_for`]).
//!
//! Across a restart (SIGHUP) a server task keeps the sockets it bound:
//! the next generation with the same prefix and options listens on them
//! rather than binding again, so no connection attempt is refused between
//! the two.

mod accepted;
pub(crate) mod activation;
pub(crate) mod claims;
pub(crate) mod kept;
mod tcp;
mod unix;

use std::io;
use std::path::PathBuf;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::Result;

pub use accepted::Accepted;
pub use tcp::{BoundAddr, bind_tcp};
pub use unix::UnixSocket;

/// How long to wait before accepting again after an error that is not one
/// connection's (out of file descriptors, most likely).
const ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// Where a server task listens. Each transport's options flatten these in,
/// under the task's prefix: `--http-port`, `--grpc-sock`, `--thrift-host`.
#[derive(clap::Args, Debug, Clone, Default)]
#[non_exhaustive]
pub struct ListenOptions {
    /// Address or host name to listen on (default: every interface, IPv4 and IPv6).
    #[arg(long, value_name = "HOST", conflicts_with = "sock")]
    pub host: Option<String>,

    /// TCP port to listen on; 0 picks a free port (logged at start).
    #[arg(
        long,
        value_name = "PORT",
        default_value_t = 0,
        conflicts_with = "sock"
    )]
    pub port: u16,

    /// Listen on this unix socket instead of TCP (mode 0600; a stale socket file is replaced; removed at exit).
    #[arg(long, value_name = "PATH")]
    pub sock: Option<PathBuf>,
}

impl ListenOptions {
    /// Binds what the options say: the unix socket `sock` (given to
    /// `sock_group` with mode 0660 when one is named), or else TCP on `host`
    /// (every interface by default) and `port`.
    ///
    /// ```
    /// use sparts_core::listen::{BoundAddr, ListenOptions};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
    /// let mut options = ListenOptions::default();
    /// options.host = Some("127.0.0.1".into());
    /// let listeners = options.bind(None).await?;
    /// let addr = listeners[0].bound_addr()?;
    /// assert!(matches!(addr, BoundAddr::Tcp(a) if a.port() != 0));
    /// # Ok(())
    /// # }
    /// ```
    pub async fn bind(&self, sock_group: Option<&str>) -> Result<Vec<Listener>> {
        Ok(match &self.sock {
            Some(path) => vec![Listener::Unix(UnixSocket::bind(path, sock_group)?)],
            None => bind_tcp(self.host.as_deref(), self.port)
                .await?
                .into_iter()
                .map(Listener::Tcp)
                .collect(),
        })
    }
}

/// A bound listener of a server task.
#[derive(Debug)]
pub enum Listener {
    /// TCP, on one address.
    Tcp(TcpListener),
    /// A unix socket (its file goes when it is dropped).
    Unix(UnixSocket),
}

impl Listener {
    /// The address this listener is bound to.
    pub fn bound_addr(&self) -> io::Result<BoundAddr> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(BoundAddr::Tcp),
            Listener::Unix(s) => Ok(BoundAddr::Unix(s.path().to_owned())),
        }
    }

    /// The next connection, or `None` once `stop` is cancelled.
    ///
    /// A failure that concerns one connection (reset or aborted before it
    /// was accepted) is skipped; any other (out of file descriptors, most
    /// likely) is logged and retried after a second, so that connections
    /// can close meanwhile rather than the loop spinning.
    pub async fn accept(&self, stop: &CancellationToken) -> Option<Accepted> {
        loop {
            let accepted = tokio::select! {
                () = stop.cancelled() => return None,
                accepted = self.accept_once() => accepted,
            };
            match accepted {
                Ok(accepted) => return Some(accepted),
                Err(e) if is_connection_error(&e) => {}
                Err(e) => {
                    tracing::warn!("accept failed: {e}; retrying in 1 s");
                    tokio::select! {
                        () = stop.cancelled() => return None,
                        () = tokio::time::sleep(ACCEPT_BACKOFF) => {}
                    }
                }
            }
        }
    }

    async fn accept_once(&self) -> io::Result<Accepted> {
        match self {
            Listener::Tcp(l) => {
                let (stream, remote) = l.accept().await?;
                // Small replies go out at once rather than after Nagle's delay.
                let _ = stream.set_nodelay(true);
                Ok(Accepted::Tcp(stream, remote))
            }
            Listener::Unix(s) => {
                let (stream, _) = s.listener().accept().await?;
                Ok(Accepted::Unix(stream))
            }
        }
    }
}

/// Whether an accept error concerns one connection (refused, aborted or
/// reset before it was accepted) rather than the listener: the accept loop
/// goes on at once after those, and backs off after the others.
#[must_use]
pub fn is_connection_error(e: &io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::ConnectionAborted | K::ConnectionReset
    )
}
