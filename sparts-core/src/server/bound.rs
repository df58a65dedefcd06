//! Binding a server task's listeners in its `init`, and the addresses it got.

use std::net::SocketAddr;
use std::path::Path;

use crate::error::{Result, describe_fd};
use crate::handle::lock;
use crate::listen::activation;
use crate::listen::kept;
use crate::listen::{BoundAddr, ListenOptions, Listener};
use crate::task::TaskContext;

/// The addresses a server task listens on, known once its `init` bound
/// them: TCP addresses with their real ports (port 0 picks one), or a unix
/// socket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Bound(Vec<BoundAddr>);

impl Bound {
    /// Every address.
    pub fn addresses(&self) -> &[BoundAddr] {
        &self.0
    }

    /// The TCP port (`None` on a unix socket, or before `init`).
    pub fn port(&self) -> Option<u16> {
        self.tcp().next().map(|a| a.port())
    }

    /// The TCP addresses.
    pub fn tcp(&self) -> impl Iterator<Item = SocketAddr> + '_ {
        self.0.iter().filter_map(BoundAddr::tcp)
    }

    /// The unix socket's path, when the task listens on one.
    pub fn unix_path(&self) -> Option<&Path> {
        self.0.iter().find_map(BoundAddr::unix)
    }
}

impl ListenOptions {
    /// Binds for the task of `ctx` (see [`bind`](Self::bind)) and logs each
    /// address as every server does: `HttpTask Server Started on 0.0.0.0
    /// (port 8000)`. A port in use, a host that does not resolve, or a
    /// socket that cannot be made is an error naming it, which stops the
    /// service's start.
    ///
    /// Under systemd socket activation the task listens on the sockets
    /// passed to the process instead, whatever the options say: those
    /// named after the task's prefix (`FileDescriptorName=http`,
    /// `systemd-socket-activate --fdname=http`), or else the unnamed ones,
    /// which only one server task of the service may take (a second one
    /// asking is an error). Each start, and each restart, gets new fds on
    /// the same sockets.
    ///
    /// Otherwise the sockets bound are kept across restarts: the task's
    /// next generation (same prefix, same options) listens on them rather
    /// than binding again, so that clients connecting while the service
    /// restarts wait in the backlog instead of being refused. A unix
    /// socket's file stays in place meanwhile.
    pub async fn bind_for<O: Send + Sync + 'static>(
        &self,
        ctx: &TaskContext<O>,
        sock_group: Option<&str>,
    ) -> Result<(Vec<Listener>, Bound)> {
        let inherited = activation::inherited()?;
        let taken = lock(&ctx.service().shared.activation).take(inherited, ctx.prefix())?;
        let listeners = if taken.is_empty() {
            self.bind_kept(ctx, sock_group).await?
        } else {
            for socket in &taken {
                let what = describe_fd(socket.fd, socket.name.as_deref());
                tracing::info!(
                    "{} listens on the socket systemd passed as {what}",
                    ctx.name()
                );
            }
            taken
                .iter()
                .map(|socket| socket.listener())
                .collect::<Result<Vec<_>>>()?
        };
        let addresses = listeners
            .iter()
            .map(Listener::bound_addr)
            .collect::<std::io::Result<Vec<_>>>()?;
        for addr in &addresses {
            tracing::info!("{} Server Started on {addr}", ctx.name());
        }
        Ok((listeners, Bound(addresses)))
    }
}

impl ListenOptions {
    /// The sockets the task of `ctx` kept from its last generation (or
    /// was handed by the process this one replaces), or else new ones,
    /// kept from now on.
    async fn bind_kept<O: Send + Sync + 'static>(
        &self,
        ctx: &TaskContext<O>,
        sock_group: Option<&str>,
    ) -> Result<Vec<Listener>> {
        let key = kept::key(self, sock_group);
        let store = &ctx.service().shared.kept;
        if let Some(listeners) = lock(store).take(ctx.prefix(), &key)? {
            tracing::debug!("{} keeps its listening sockets", ctx.name());
            return Ok(listeners);
        }
        lock(store).forget(ctx.prefix());
        let mut listeners = self.bind(sock_group).await?;
        lock(store).keep(ctx.prefix(), &key, &mut listeners)?;
        Ok(listeners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_and_path_come_from_the_addresses() {
        let tcp = Bound(vec![
            BoundAddr::Tcp("0.0.0.0:8080".parse().expect("addr")),
            BoundAddr::Tcp("[::]:8080".parse().expect("addr")),
        ]);
        assert_eq!(tcp.port(), Some(8080));
        assert_eq!(tcp.tcp().count(), 2);
        assert_eq!(tcp.unix_path(), None);
        let unix = Bound(vec![BoundAddr::Unix("/run/svc.sock".into())]);
        assert_eq!(unix.port(), None);
        assert_eq!(unix.unix_path(), Some(Path::new("/run/svc.sock")));
        assert_eq!(Bound::default().addresses(), []);
    }
}
