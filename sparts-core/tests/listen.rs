//! The listeners every transport binds and accepts with, on real sockets:
//! IPv4 and IPv6 on one port, hosts, a port in use, the sock option's
//! conflicts, unix sockets with their modes, the stream of connections.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use nix::unistd::{Group, getegid};
use sparts_core::listen::{
    Accepted, BoundAddr, ListenOptions, Listener, UnixSocket, bind_tcp, is_connection_error,
};
use sparts_core::server::{Connections, Incoming};
use sparts_core::{Error, Peer, clap};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpStream, UnixStream};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// The longest any single wait in a test may take.
const PATIENCE: Duration = Duration::from_secs(10);

type TestResult = Result<(), Box<dyn std::error::Error + Send + Sync>>;

fn has_ipv6() -> bool {
    std::net::TcpListener::bind("[::1]:0").is_ok()
}

fn connections() -> Connections {
    Connections::new(
        &sparts_core::counters::CounterRegistry::new(),
        &sparts_core::telemetry::Telemetry::new("Svc", None, None),
        "T",
    )
}

fn on_host(host: &str) -> ListenOptions {
    let mut options = ListenOptions::default();
    options.host = Some(host.to_owned());
    options
}

fn on_sock(path: &Path) -> ListenOptions {
    let mut options = ListenOptions::default();
    options.sock = Some(path.to_owned());
    options
}

fn tcp_addresses(listeners: &[Listener]) -> std::io::Result<Vec<SocketAddr>> {
    listeners
        .iter()
        .map(|l| Ok(l.bound_addr()?.tcp().expect("a TCP listener")))
        .collect()
}

/// Accepts one connection on `listener` while a client connects to
/// `addr`, and passes a byte each way through the accepted connection.
async fn accept_from(
    listener: &Listener,
    addr: SocketAddr,
) -> Result<Accepted, Box<dyn std::error::Error + Send + Sync>> {
    let stop = CancellationToken::new();
    let (client, accepted) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(TcpStream::connect(addr), listener.accept(&stop))
    })
    .await?;
    let mut accepted = accepted.ok_or("accepted")?;
    exchange(client?, &mut accepted).await?;
    Ok(accepted)
}

/// A byte from the client to the server and one back.
async fn exchange<C>(mut client: C, server: &mut Accepted) -> TestResult
where
    C: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    tokio::time::timeout(PATIENCE, async {
        client.write_all(b"?").await?;
        let mut byte = [0; 1];
        server.read_exact(&mut byte).await?;
        assert_eq!(&byte, b"?");
        server.write_all(b"!").await?;
        server.flush().await?;
        client.read_exact(&mut byte).await?;
        assert_eq!(&byte, b"!");
        Ok::<_, std::io::Error>(())
    })
    .await??;
    Ok(())
}

#[tokio::test]
async fn every_interface_means_ipv4_and_ipv6_on_one_port() -> TestResult {
    let listeners = ListenOptions::default().bind(None).await?;
    let addrs = tcp_addresses(&listeners)?;
    let port = addrs[0].port();
    assert_ne!(port, 0);
    assert_eq!(addrs[0], SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)));
    assert_eq!(
        listeners[0].bound_addr()?.to_string(),
        format!("0.0.0.0 (port {port})"),
        "logged the way the original did"
    );
    let accepted = accept_from(&listeners[0], SocketAddr::from(([127, 0, 0, 1], port))).await?;
    assert_eq!(accepted.peer(), Peer::Ip(IpAddr::from([127, 0, 0, 1])));
    if has_ipv6() {
        assert_eq!(
            addrs,
            [
                SocketAddr::from((Ipv4Addr::UNSPECIFIED, port)),
                SocketAddr::from((Ipv6Addr::UNSPECIFIED, port))
            ]
        );
        assert_eq!(
            listeners[1].bound_addr()?.to_string(),
            format!(":: (port {port})")
        );
        let accepted =
            accept_from(&listeners[1], SocketAddr::from((Ipv6Addr::LOCALHOST, port))).await?;
        assert_eq!(accepted.peer(), Peer::Ip(IpAddr::V6(Ipv6Addr::LOCALHOST)));
    } else {
        assert_eq!(addrs.len(), 1, "{addrs:?}");
        eprintln!("no IPv6 on this machine: only IPv4 checked");
    }
    Ok(())
}

#[tokio::test]
async fn an_ipv6_host_listens_on_ipv6_only() -> TestResult {
    if !has_ipv6() {
        eprintln!("no IPv6 on this machine: skipped");
        return Ok(());
    }
    for host in ["::1", "[::1]"] {
        let listeners = on_host(host).bind(None).await?;
        let addrs = tcp_addresses(&listeners)?;
        let port = addrs[0].port();
        assert_eq!(addrs, [SocketAddr::from((Ipv6Addr::LOCALHOST, port))]);
        accept_from(&listeners[0], addrs[0]).await?;
        let v4 = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).await;
        assert!(v4.is_err(), "{host}: not listening on IPv4");
    }
    Ok(())
}

#[tokio::test]
async fn a_host_name_listens_on_each_of_its_addresses_on_one_port() -> TestResult {
    let listeners = on_host("localhost").bind(None).await?;
    let addrs = tcp_addresses(&listeners)?;
    let port = addrs[0].port();
    assert!(
        addrs.contains(&SocketAddr::from((Ipv4Addr::LOCALHOST, port))),
        "{addrs:?}"
    );
    assert!(
        addrs
            .iter()
            .all(|a| a.port() == port && a.ip().is_loopback()),
        "{addrs:?}"
    );
    assert!(addrs[0].is_ipv4(), "IPv4 first: {addrs:?}");
    accept_from(&listeners[0], addrs[0]).await?;
    Ok(())
}

#[tokio::test]
async fn a_port_in_use_is_refused_naming_the_address() -> TestResult {
    let taken = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = taken.local_addr()?.port();
    let mut options = on_host("127.0.0.1");
    options.port = port;
    let err = options.bind(None).await.expect_err("refused");
    let msg = err.to_string();
    assert!(matches!(err, Error::Bind { .. }), "{err:?}");
    assert!(
        msg.contains(&format!("127.0.0.1:{port}")) && msg.contains("in use"),
        "{msg}"
    );
    // The same through bind_tcp, which the options call.
    let err = bind_tcp(Some("127.0.0.1"), port)
        .await
        .expect_err("refused");
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    Ok(())
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_refused_naming_it() -> TestResult {
    let options = on_host("no-such-host.invalid");
    let err = tokio::time::timeout(PATIENCE, options.bind(None))
        .await?
        .expect_err("refused");
    assert!(matches!(err, Error::Resolve { .. }), "{err:?}");
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
    Ok(())
}

#[test]
fn host_or_port_with_sock_is_a_usage_error() {
    #[derive(clap::Parser, Debug)]
    struct Cli {
        #[command(flatten)]
        listen: ListenOptions,
    }
    for (flag, value) in [("--host", "127.0.0.1"), ("--port", "8000")] {
        let err = <Cli as clap::Parser>::try_parse_from(["svc", flag, value, "--sock", "/s"])
            .expect_err("conflict");
        assert_eq!(err.kind(), clap::error::ErrorKind::ArgumentConflict);
        let msg = err.to_string();
        assert!(msg.contains(flag) && msg.contains("--sock"), "{msg}");
    }
    let cli = <Cli as clap::Parser>::try_parse_from(["svc", "--sock", "/s"]).expect("parses");
    assert_eq!(cli.listen.sock.as_deref(), Some(Path::new("/s")));
    assert_eq!((cli.listen.host, cli.listen.port), (None, 0));
}

#[tokio::test]
async fn a_unix_socket_has_mode_0600_and_is_removed_when_dropped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("app.sock");
    let listeners = on_sock(&path).bind(None).await?;
    assert_eq!(listeners.len(), 1);
    assert_eq!(listeners[0].bound_addr()?, BoundAddr::Unix(path.clone()));
    assert_eq!(
        listeners[0].bound_addr()?.to_string(),
        format!("unix socket {}", path.display())
    );
    let meta = std::fs::symlink_metadata(&path)?;
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    let stop = CancellationToken::new();
    let (client, accepted) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(UnixStream::connect(&path), listeners[0].accept(&stop))
    })
    .await?;
    let mut accepted = accepted.ok_or("accepted")?;
    assert_eq!(accepted.peer(), Peer::Unix);
    assert_eq!(accepted.remote_addr(), None);
    exchange(client?, &mut accepted).await?;

    drop(listeners);
    assert!(!path.exists(), "the socket file goes with its listener");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())?.collect();
    assert!(
        leftovers.is_empty(),
        "no staging directory left: {leftovers:?}"
    );
    Ok(())
}

#[tokio::test]
async fn a_group_gives_mode_0660_and_that_group() -> TestResult {
    let gid = getegid();
    let group = Group::from_gid(gid)?.ok_or("the test's group has a name")?;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("group.sock");
    let socket = UnixSocket::bind(&path, Some(&group.name))?;
    assert_eq!(socket.path(), path);
    let meta = std::fs::symlink_metadata(&path)?;
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);
    assert_eq!(meta.gid(), gid.as_raw());
    Ok(())
}

#[tokio::test]
async fn an_unknown_group_is_refused_naming_it() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("x.sock");
    let err = on_sock(&path)
        .bind(Some("no-such-group-for-sparts"))
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::UnknownGroup(_)), "{err:?}");
    assert!(
        err.to_string().contains("no-such-group-for-sparts"),
        "{err}"
    );
    assert!(!path.exists());
    Ok(())
}

#[tokio::test]
async fn a_stale_socket_is_replaced() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("stale.sock");
    // A socket file nobody listens on, as a crashed server leaves behind.
    drop(std::os::unix::net::UnixListener::bind(&path)?);
    assert!(path.exists());
    let listeners = on_sock(&path).bind(None).await?;
    let stop = CancellationToken::new();
    let (client, accepted) = tokio::time::timeout(PATIENCE, async {
        tokio::join!(UnixStream::connect(&path), listeners[0].accept(&stop))
    })
    .await?;
    exchange(client?, &mut accepted.ok_or("accepted")?).await?;
    Ok(())
}

#[tokio::test]
async fn a_live_socket_or_another_file_is_left_alone() -> TestResult {
    let dir = tempfile::tempdir()?;
    let live = dir.path().join("live.sock");
    let _other_server = std::os::unix::net::UnixListener::bind(&live)?;
    let err = on_sock(&live).bind(None).await.expect_err("refused");
    assert!(matches!(err, Error::UnixSocket { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("live.sock") && msg.contains("listening"),
        "{msg}"
    );
    assert!(live.exists(), "the other server's socket stays");

    let file = dir.path().join("data.txt");
    std::fs::write(&file, "precious")?;
    let err = on_sock(&file).bind(None).await.expect_err("refused");
    assert!(err.to_string().contains("not a socket"), "{err}");
    assert_eq!(std::fs::read_to_string(&file)?, "precious");
    Ok(())
}

#[tokio::test]
async fn accept_turns_off_nagle_and_ends_once_stopped() -> TestResult {
    let listeners = on_host("127.0.0.1").bind(None).await?;
    let addr = tcp_addresses(&listeners)?[0];
    let accepted = accept_from(&listeners[0], addr).await?;
    let Accepted::Tcp(stream, remote) = &accepted else {
        return Err("a TCP connection".into());
    };
    assert!(stream.nodelay()?, "small replies go out at once");
    assert_eq!(accepted.remote_addr(), Some(*remote));
    assert_eq!(remote.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));

    let stop = CancellationToken::new();
    stop.cancel();
    let next = tokio::time::timeout(PATIENCE, listeners[0].accept(&stop)).await?;
    assert!(next.is_none());
    Ok(())
}

#[tokio::test]
async fn incoming_gives_every_listeners_connections_until_stopped() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("both.sock");
    let mut listeners = on_host("127.0.0.1").bind(None).await?;
    let addr = tcp_addresses(&listeners)?[0];
    listeners.extend(on_sock(&path).bind(None).await?);
    let stop = CancellationToken::new();
    let connections = connections();
    let mut incoming = Incoming::new(listeners, &connections, stop.clone());

    let tcp_client = TcpStream::connect(addr).await?;
    let (mut first, _open) = tokio::time::timeout(PATIENCE, incoming.next())
        .await?
        .ok_or("a TCP connection")?;
    assert_eq!(first.peer(), Peer::Ip(addr.ip()));
    exchange(tcp_client, &mut first).await?;

    let unix_client = UnixStream::connect(&path).await?;
    let (mut second, _open) = tokio::time::timeout(PATIENCE, incoming.next())
        .await?
        .ok_or("a unix connection")?;
    assert_eq!(
        connections.open(),
        2,
        "each opened in the server's connections"
    );
    assert_eq!(second.peer(), Peer::Unix);
    exchange(unix_client, &mut second).await?;

    stop.cancel();
    let end = tokio::time::timeout(PATIENCE, incoming.next()).await?;
    assert!(end.is_none(), "the stream ends once stopped");
    drop(incoming);
    assert!(!path.exists(), "the listeners go with the stream");
    Ok(())
}

#[test]
fn only_errors_of_one_connection_are_connection_errors() {
    use std::io::{Error as IoError, ErrorKind};
    for kind in [
        ErrorKind::ConnectionRefused,
        ErrorKind::ConnectionAborted,
        ErrorKind::ConnectionReset,
    ] {
        assert!(is_connection_error(&IoError::from(kind)), "{kind:?}");
    }
    // Out of file descriptors: the listener's problem, backed off.
    let emfile = IoError::from_raw_os_error(nix::libc::EMFILE);
    assert!(!is_connection_error(&emfile));
    assert!(!is_connection_error(&IoError::from(
        ErrorKind::PermissionDenied
    )));
}

/// Log lines, collected for the test's thread.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.lines().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn lines(&self) -> std::sync::MutexGuard<'_, Vec<u8>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Collects this thread's logs until the guard is dropped.
    fn capture(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn count(&self, text: &str) -> usize {
        String::from_utf8_lossy(&self.lines()).matches(text).count()
    }
}

/// A listener whose every accept fails, as when the process is out of file
/// descriptors: shut down for reading, it answers EINVAL.
fn broken(listener: &Listener) -> TestResult {
    let Listener::Tcp(tcp) = listener else {
        return Err("a TCP listener".into());
    };
    socket2::SockRef::from(tcp).shutdown(std::net::Shutdown::Read)?;
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn a_failing_accept_is_logged_and_retried_once_a_second() -> TestResult {
    let logs = Logs::default();
    let _capture = logs.capture();
    let listeners = on_host("127.0.0.1").bind(None).await?;
    broken(&listeners[0])?;
    let stop = CancellationToken::new();
    let waited = tokio::time::timeout(Duration::from_millis(10_500), listeners[0].accept(&stop));
    assert!(
        waited.await.is_err(),
        "no connection from a broken listener"
    );
    // Tried at 0, 1, ..., 10 s: no spinning, no giving up.
    assert_eq!(logs.count("accept failed"), 11);
    assert_eq!(logs.count("retrying in 1 s"), 11);

    // A stop during the back-off ends the wait at once.
    let began = Instant::now();
    let (accepted, ()) = tokio::join!(listeners[0].accept(&stop), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        stop.cancel();
    });
    assert!(accepted.is_none());
    assert_eq!(began.elapsed(), Duration::from_millis(300));
    Ok(())
}

#[tokio::test(start_paused = true)]
async fn incoming_backs_off_a_failing_listener_and_serves_the_others() -> TestResult {
    let logs = Logs::default();
    let _capture = logs.capture();
    let mut listeners = on_host("127.0.0.1").bind(None).await?;
    listeners.extend(on_host("127.0.0.1").bind(None).await?);
    broken(&listeners[0])?;
    let good = tcp_addresses(&listeners)?[1];
    let stop = CancellationToken::new();
    let mut incoming = Incoming::new(listeners, &connections(), stop.clone());

    let waited = tokio::time::timeout(Duration::from_millis(3_500), incoming.next());
    assert!(waited.await.is_err(), "no connection yet");
    assert_eq!(logs.count("accept failed"), 4, "at 0, 1, 2 and 3 s");

    let client = TcpStream::connect(good).await?;
    let (mut accepted, _open) = tokio::time::timeout(PATIENCE, incoming.next())
        .await?
        .ok_or("the good listener's connection")?;
    exchange(client, &mut accepted).await?;

    stop.cancel();
    let end = tokio::time::timeout(PATIENCE, incoming.next()).await?;
    assert!(end.is_none(), "both listeners stop, the broken one too");
    Ok(())
}
