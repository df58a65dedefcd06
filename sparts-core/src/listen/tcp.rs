//! Binding the TCP listeners: every interface (IPv4 and IPv6 on one port)
//! or the addresses of a host.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::TcpListener;

use crate::error::{Error, Result};

/// How many connections may wait to be accepted.
const BACKLOG: i32 = 1024;

/// With port 0, how often to retry when the port the IPv4 socket got is
/// taken on IPv6.
const PORT_ATTEMPTS: usize = 8;

/// An address a transport task listens on.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BoundAddr {
    /// A TCP address, with the port actually bound (never 0).
    Tcp(SocketAddr),
    /// A unix socket.
    Unix(PathBuf),
}

impl BoundAddr {
    /// The unix socket's path, if this is one.
    #[must_use]
    pub fn unix(&self) -> Option<&std::path::Path> {
        match self {
            BoundAddr::Unix(path) => Some(path),
            BoundAddr::Tcp(_) => None,
        }
    }

    /// The TCP address, if this is one.
    #[must_use]
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            BoundAddr::Tcp(addr) => Some(*addr),
            BoundAddr::Unix(_) => None,
        }
    }
}

impl fmt::Display for BoundAddr {
    /// The original's wording: `0.0.0.0 (port 8000)`, `:: (port 8000)`,
    /// `unix socket /run/app.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoundAddr::Tcp(addr) => write!(f, "{} (port {})", addr.ip(), addr.port()),
            BoundAddr::Unix(path) => write!(f, "unix socket {}", path.display()),
        }
    }
}

/// Binds `host` (or every interface) on `port` (0: a free one, the same on
/// every address).
pub async fn bind_tcp(host: Option<&str>, port: u16) -> Result<Vec<TcpListener>> {
    // IPv6 may be missing when the addresses were not asked for one by one.
    let (ips, optional_v6) = match host {
        Some(host) => match literal(host) {
            Some(ip) => (vec![ip], false),
            None => (resolve(host).await?, true),
        },
        None => (
            vec![
                IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                IpAddr::V6(Ipv6Addr::UNSPECIFIED),
            ],
            true,
        ),
    };
    let mut attempts = 0;
    loop {
        attempts += 1;
        match bind_all(&ips, port, optional_v6) {
            // Port 0 gave the first address a port someone holds on another:
            // another free port will do.
            Err(Error::Bind { source, .. })
                if port == 0
                    && source.kind() == io::ErrorKind::AddrInUse
                    && attempts < PORT_ATTEMPTS => {}
            other => return other,
        }
    }
}

/// An IP address written as such, IPv6 in brackets or not.
fn literal(host: &str) -> Option<IpAddr> {
    host.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()
}

/// The unique addresses of a host name, IPv4 first.
async fn resolve(host: &str) -> Result<Vec<IpAddr>> {
    let found = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|source| Error::Resolve {
            host: host.to_owned(),
            source,
        })?;
    let mut ips: Vec<IpAddr> = Vec::new();
    for addr in found {
        if !ips.contains(&addr.ip()) {
            ips.push(addr.ip());
        }
    }
    ips.sort_by_key(IpAddr::is_ipv6);
    if ips.is_empty() {
        return Err(Error::Resolve {
            host: host.to_owned(),
            source: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
        });
    }
    Ok(ips)
}

/// Binds every address on one port. With `optional_v6`, an IPv6 address the
/// system cannot bind at all (no IPv6) is logged and left out.
fn bind_all(ips: &[IpAddr], port: u16, optional_v6: bool) -> Result<Vec<TcpListener>> {
    let mut listeners: Vec<TcpListener> = Vec::with_capacity(ips.len());
    let mut port = port;
    for ip in ips {
        let addr = SocketAddr::new(*ip, port);
        match bind_one(addr) {
            Ok(listener) => {
                port = listener.local_addr().map_or(port, |a| a.port());
                listeners.push(listener);
            }
            Err(source) if optional_v6 && ip.is_ipv6() && ipv6_missing(&source) => {
                tracing::info!("IPv6 is not available ({source}); listening on IPv4 only");
            }
            Err(source) => {
                return Err(Error::Bind {
                    addr: addr.to_string(),
                    source,
                });
            }
        }
    }
    Ok(listeners)
}

fn ipv6_missing(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::AddrNotAvailable | io::ErrorKind::Unsupported
    ) || e.raw_os_error() == Some(nix::libc::EAFNOSUPPORT)
}

fn bind_one(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if addr.is_ipv6() {
        // `::` must not take the IPv4 port too: 0.0.0.0 has its own socket.
        socket.set_only_v6(true)?;
    }
    // Rebinding at restart must not wait for TIME_WAIT; Linux still refuses
    // a second listener on the port.
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(BACKLOG)?;
    TcpListener::from_std(socket.into())
}
