//! A client for a generated Thrift service: connects on first use,
//! reconnects after a broken connection, applies timeouts, and runs the
//! blocking generated code off the async runtime. Its HTTP transport is in
//! `http_client.rs`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use thrift::protocol::{
    TBinaryInputProtocol, TBinaryOutputProtocol, TCompactInputProtocol, TCompactOutputProtocol,
    TInputProtocol, TMultiplexedOutputProtocol, TOutputProtocol,
};
use thrift::transport::{
    TBufferedReadTransport, TBufferedWriteTransport, TFramedReadTransport, TFramedWriteTransport,
};
use thrift::{ApplicationErrorKind, TransportErrorKind};

use crate::error::{Error, Result};
use crate::wire::{Protocol, Transport};

/// The input protocol a [`ThriftClient`] gives the generated client.
pub type BoxInputProtocol = Box<dyn TInputProtocol + Send>;

/// The output protocol a [`ThriftClient`] gives the generated client.
pub type BoxOutputProtocol = Box<dyn TOutputProtocol + Send>;

type Make<C> = Arc<dyn Fn(BoxInputProtocol, BoxOutputProtocol) -> C + Send + Sync>;

/// The cause of the last I/O failure, as the transport saw it: the
/// generated code only passes on a `thrift::Error` built from its text.
pub(crate) type Failure = Arc<Mutex<Option<Error>>>;

/// A client of a generated Thrift service (`FooServiceSyncClient`), over TCP
/// or (with the `http` feature) HTTP.
///
/// Nothing connects until the first call. A call that fails on the
/// connection (a transport or protocol error, a timeout) drops it, and the
/// next call connects again; a connection the server has closed meanwhile
/// (a restart, its idle timeout) is noticed before a call and replaced; a
/// call that crosses such a close fails with [`Error::Reset`], which says
/// it did not run.
/// Clones share the connection, and calls on it take turns; for calls in
/// parallel, make one client per connection wanted.
///
/// `C` is the generated client over boxed protocols,
/// `FooServiceSyncClient<BoxInputProtocol, BoxOutputProtocol>`, built by
/// the generated `new` given to [`new`](Self::new) (or `http`).
///
/// ```
/// use sparts_core::VService;
/// use sparts_thrift::fb303::{FacebookServiceSyncClient, FbStatus, TFacebookServiceSyncClient};
/// use sparts_thrift::{ThriftClient, ThriftHandlerTask, ThriftServerTask};
///
/// # #[tokio::main]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let running = VService::new("Demo")
///     .with_task(ThriftHandlerTask::fb303())
///     .with_task(ThriftServerTask::new())
///     .start_with_args(["demo", "--thrift-host", "127.0.0.1"])
///     .await?;
/// let port = running.handle().require::<ThriftServerTask>()?.port().unwrap_or_default();
///
/// let client = ThriftClient::new(FacebookServiceSyncClient::new, format!("127.0.0.1:{port}"));
/// let status = client.call(|c| c.get_status()).await?;
/// assert_eq!(status, FbStatus::ALIVE);
/// # running.shutdown().await?;
/// # Ok(()) }
/// ```
pub struct ThriftClient<C> {
    shared: Arc<Shared<C>>,
}

struct Shared<C> {
    make: Make<C>,
    target: Target,
    settings: Settings,
    conn: Mutex<Option<Conn<C>>>,
}

#[derive(Debug, Clone)]
enum Target {
    Tcp(String),
    #[cfg(feature = "http")]
    Http(String),
}

impl Target {
    fn as_str(&self) -> &str {
        match self {
            Target::Tcp(address) => address,
            #[cfg(feature = "http")]
            Target::Http(url) => url,
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Settings {
    transport: Transport,
    protocol: Protocol,
    pub(crate) connect_timeout: Duration,
    pub(crate) call_timeout: Duration,
    service: Option<String>,
}

/// An open connection and what watches it.
struct Conn<C> {
    client: C,
    /// The socket, to see whether the server closed it between calls.
    probe: Option<TcpStream>,
    failure: Failure,
}

impl<C> Clone for ThriftClient<C> {
    /// Another handle on the same connection.
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<C> fmt::Debug for ThriftClient<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThriftClient")
            .field("target", &self.shared.target)
            .field("settings", &self.shared.settings)
            .finish_non_exhaustive()
    }
}

impl<C> ThriftClient<C> {
    /// A client of the server at `address` (`host:port`), framed transport
    /// and binary protocol unless told otherwise; `make` is the generated
    /// client's `new` (`FooServiceSyncClient::new`).
    pub fn new<F>(make: F, address: impl Into<String>) -> Self
    where
        F: Fn(BoxInputProtocol, BoxOutputProtocol) -> C + Send + Sync + 'static,
    {
        Self::with_target(Arc::new(make), Target::Tcp(address.into()))
    }

    /// A client of the Thrift-over-HTTP route at `url`
    /// ([`http::post`](crate::http::post)): one POST per call, the message
    /// as the body with no frame header. Plain `http://` only. With the
    /// crate's `http` feature.
    ///
    /// ```no_run
    /// use sparts_thrift::ThriftClient;
    /// use sparts_thrift::fb303::{FacebookServiceSyncClient, TFacebookServiceSyncClient};
    ///
    /// # async fn demo() -> sparts_thrift::Result<()> {
    /// let client = ThriftClient::http(FacebookServiceSyncClient::new, "http://127.0.0.1:8080/thrift");
    /// let counters = client.call(|c| c.get_counters()).await?;
    /// assert!(counters.contains_key("HttpTask.thrift.requests"));
    /// # Ok(()) }
    /// ```
    #[cfg(feature = "http")]
    pub fn http<F>(make: F, url: impl Into<String>) -> Self
    where
        F: Fn(BoxInputProtocol, BoxOutputProtocol) -> C + Send + Sync + 'static,
    {
        Self::with_target(Arc::new(make), Target::Http(url.into()))
    }

    fn with_target(make: Make<C>, target: Target) -> Self {
        let settings = Settings {
            transport: Transport::Framed,
            protocol: Protocol::Binary,
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(30),
            service: None,
        };
        Self::with_settings(make, target, settings)
    }

    fn with_settings(make: Make<C>, target: Target, settings: Settings) -> Self {
        Self {
            shared: Arc::new(Shared {
                make,
                target,
                settings,
                conn: Mutex::new(None),
            }),
        }
    }

    /// The same target with changed settings and a connection of its own.
    fn reconfigure(self, change: impl FnOnce(&mut Settings)) -> Self {
        let mut settings = self.shared.settings.clone();
        change(&mut settings);
        Self::with_settings(
            Arc::clone(&self.shared.make),
            self.shared.target.clone(),
            settings,
        )
    }

    /// Sends messages back to back, with no frame header
    /// (`TBufferedTransport`). Default: framed. Over HTTP, bodies are never
    /// framed and this changes nothing.
    #[must_use]
    pub fn buffered(self) -> Self {
        self.reconfigure(|s| s.transport = Transport::Buffered)
    }

    /// Speaks the compact protocol. Default: binary.
    #[must_use]
    pub fn compact(self) -> Self {
        self.reconfigure(|s| s.protocol = Protocol::Compact)
    }

    /// The longest wait for a connection (zero: no limit). Default: 5 s.
    #[must_use]
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        self.reconfigure(|s| s.connect_timeout = timeout)
    }

    /// The longest wait for each read and write of a call (zero: no limit),
    /// so a server that goes silent fails the call with [`Error::Timeout`].
    /// Default: 30 s.
    #[must_use]
    pub fn call_timeout(self, timeout: Duration) -> Self {
        self.reconfigure(|s| s.call_timeout = timeout)
    }

    /// Calls the service named `service` on a multiplexed server
    /// (`TMultiplexedProtocol`): the handler task's service name. Default:
    /// not multiplexed.
    #[must_use]
    pub fn multiplexed(self, service: impl Into<String>) -> Self {
        let service = service.into();
        self.reconfigure(|s| s.service = Some(service))
    }

    /// The server's address or URL.
    #[must_use]
    pub fn target(&self) -> &str {
        self.shared.target.as_str()
    }

    /// Runs `call` with the connected generated client on tokio's blocking
    /// threads, connecting first if need be.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when no connection can be made, [`Error::Timeout`]
    /// and [`Error::Connection`] when it fails during the call,
    /// [`Error::Reset`] when the server closed the connection with the call
    /// unread (it did not run: send it again), [`Error::HttpStatus`] when
    /// an HTTP server answers anything but 200,
    /// [`Error::Application`] for an exception the server sent,
    /// [`Error::Thrift`] for one the IDL declares,
    /// [`Error::Cancelled`] when the runtime shuts down first.
    ///
    /// # Panics
    ///
    /// When `call` panics.
    pub async fn call<T, F>(&self, call: F) -> Result<T>
    where
        C: Send + 'static,
        T: Send + 'static,
        F: FnOnce(&mut C) -> thrift::Result<T> + Send + 'static,
    {
        let client = self.clone();
        match tokio::task::spawn_blocking(move || client.call_blocking(call)).await {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => Err(Error::Cancelled {
                target: self.target().to_owned(),
            }),
        }
    }

    /// [`call`](Self::call) for code that is not async: blocks the thread
    /// until the call is done. Not for use on the async runtime's threads.
    ///
    /// # Errors
    ///
    /// As [`call`](Self::call).
    pub fn call_blocking<T>(&self, call: impl FnOnce(&mut C) -> thrift::Result<T>) -> Result<T> {
        let mut slot = self.lock();
        if slot.as_ref().is_some_and(|conn| !conn.is_open()) {
            *slot = None;
        }
        let conn = match &mut *slot {
            Some(conn) => conn,
            None => slot.insert(self.connect()?),
        };
        lock(&conn.failure).take();
        let e = match call(&mut conn.client) {
            Ok(value) => return Ok(value),
            Err(e) => e,
        };
        let failure = lock(&conn.failure).take();
        if failure.is_some() || breaks_connection(&e) {
            *slot = None;
        }
        Err(failure.unwrap_or_else(|| self.classify(e)))
    }

    /// The connection; after a call that panicked, none, since the
    /// generated client may be halfway through a message.
    fn lock(&self) -> MutexGuard<'_, Option<Conn<C>>> {
        self.shared.conn.lock().unwrap_or_else(|poisoned| {
            let mut slot = poisoned.into_inner();
            *slot = None;
            self.shared.conn.clear_poison();
            slot
        })
    }

    fn classify(&self, e: thrift::Error) -> Error {
        let target = self.target().to_owned();
        match e {
            thrift::Error::Transport(t) if t.kind == TransportErrorKind::TimedOut => {
                Error::Timeout {
                    target,
                    after: self.shared.settings.call_timeout,
                }
            }
            thrift::Error::Transport(_) | thrift::Error::Protocol(_) => Error::Connection {
                target,
                source: Box::new(e),
            },
            thrift::Error::Application(exception) => Error::Application { target, exception },
            e => Error::Thrift(e),
        }
    }

    fn connect(&self) -> Result<Conn<C>> {
        let settings = &self.shared.settings;
        let failure = Failure::default();
        let (input, output, probe): (BoxInputProtocol, BoxOutputProtocol, _) =
            match &self.shared.target {
                Target::Tcp(address) => {
                    let stream = connect_tcp(address, settings)?;
                    let replying = Arc::new(AtomicBool::new(false));
                    let socket = |stream| Socket {
                        stream,
                        target: address.clone(),
                        after: settings.call_timeout,
                        failure: Arc::clone(&failure),
                        replying: Arc::clone(&replying),
                    };
                    let cloned = |stream: &TcpStream| {
                        stream.try_clone().map_err(|source| Error::Connect {
                            target: address.clone(),
                            source,
                        })
                    };
                    let (read, write) = (socket(cloned(&stream)?), socket(cloned(&stream)?));
                    let (read, write): (Box<dyn Read + Send>, Box<dyn Write + Send>) =
                        match settings.transport {
                            Transport::Framed => (
                                Box::new(TFramedReadTransport::new(read)),
                                Box::new(TFramedWriteTransport::new(write)),
                            ),
                            Transport::Buffered => (
                                Box::new(TBufferedReadTransport::new(read)),
                                Box::new(TBufferedWriteTransport::new(write)),
                            ),
                        };
                    let (input, output) = protocols(settings, read, write);
                    (input, output, Some(stream))
                }
                #[cfg(feature = "http")]
                Target::Http(url) => {
                    let (read, write) =
                        crate::http_client::halves(url, settings, Arc::clone(&failure));
                    let (input, output) = protocols(settings, read, write);
                    (input, output, None)
                }
            };
        Ok(Conn {
            client: (self.shared.make)(input, output),
            probe,
            failure,
        })
    }
}

/// The protocols over a connection's two halves.
fn protocols<R, W>(settings: &Settings, read: R, write: W) -> (BoxInputProtocol, BoxOutputProtocol)
where
    R: Read + Send + 'static,
    W: Write + Send + 'static,
{
    let (input, output): (BoxInputProtocol, BoxOutputProtocol) = match settings.protocol {
        Protocol::Binary => (
            Box::new(TBinaryInputProtocol::new(read, true)),
            Box::new(TBinaryOutputProtocol::new(write, true)),
        ),
        Protocol::Compact => (
            Box::new(TCompactInputProtocol::new(read)),
            Box::new(TCompactOutputProtocol::new(write)),
        ),
    };
    match &settings.service {
        Some(service) => (
            input,
            Box::new(TMultiplexedOutputProtocol::new(service, output)),
        ),
        None => (input, output),
    }
}

/// Whether the connection is of no more use after `e`: bytes may be left
/// half read or half written, or the replies are out of step.
fn breaks_connection(e: &thrift::Error) -> bool {
    match e {
        thrift::Error::Transport(_) | thrift::Error::Protocol(_) => true,
        thrift::Error::Application(e) => matches!(
            e.kind,
            ApplicationErrorKind::BadSequenceId
                | ApplicationErrorKind::WrongMethodName
                | ApplicationErrorKind::InvalidMessageType
        ),
        _ => false,
    }
}

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Zero means no limit, as the socket options cannot say.
pub(crate) fn limit(timeout: Duration) -> Option<Duration> {
    (!timeout.is_zero()).then_some(timeout)
}

impl<C> Conn<C> {
    /// Whether the server has not closed the connection (nor sent bytes
    /// nobody asked for) since the last call.
    fn is_open(&self) -> bool {
        let Some(stream) = &self.probe else {
            return true;
        };
        if stream.set_nonblocking(true).is_err() {
            return false;
        }
        let idle =
            matches!(stream.peek(&mut [0; 1]), Err(e) if e.kind() == io::ErrorKind::WouldBlock);
        stream.set_nonblocking(false).is_ok() && idle
    }
}

fn connect_tcp(address: &str, settings: &Settings) -> Result<TcpStream> {
    let failed = |source| Error::Connect {
        target: address.to_owned(),
        source,
    };
    let mut last = None;
    for addr in address.to_socket_addrs().map_err(failed)? {
        let connected = match limit(settings.connect_timeout) {
            Some(timeout) => TcpStream::connect_timeout(&addr, timeout),
            None => TcpStream::connect(addr),
        };
        match connected {
            Ok(stream) => {
                let call = limit(settings.call_timeout);
                stream.set_read_timeout(call).map_err(failed)?;
                stream.set_write_timeout(call).map_err(failed)?;
                // Calls are small request-reply exchanges: send each at once.
                stream.set_nodelay(true).map_err(failed)?;
                return Ok(stream);
            }
            Err(e) => last = Some(e),
        }
    }
    Err(failed(last.unwrap_or_else(|| {
        io::Error::new(io::ErrorKind::NotFound, "the address resolves to nothing")
    })))
}

/// One half of a TCP connection, which records why it failed.
struct Socket {
    stream: TcpStream,
    target: String,
    after: Duration,
    failure: Failure,
    /// Whether a byte of the reply to the last request came; shared by the
    /// two halves.
    replying: Arc<AtomicBool>,
}

impl Socket {
    fn fail(&self, e: io::Error) -> io::Error {
        let error = match e.kind() {
            // Retried by the reader: not a failure.
            io::ErrorKind::Interrupted => return e,
            // A reset means the server closed its end with our bytes
            // unread: before the reply began, the request was never read.
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
                if !self.replying.load(Ordering::Relaxed) =>
            {
                Error::Reset {
                    target: self.target.clone(),
                }
            }
            // A socket timeout reads as WouldBlock on unix, TimedOut on Windows.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => Error::Timeout {
                target: self.target.clone(),
                after: self.after,
            },
            _ => Error::Connection {
                target: self.target.clone(),
                source: Box::new(io::Error::new(e.kind(), e.to_string())),
            },
        };
        *lock(&self.failure) = Some(error);
        e
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.stream.read(buf) {
            Ok(0) if !buf.is_empty() => {
                *lock(&self.failure) = Some(Error::Connection {
                    target: self.target.clone(),
                    source: "the server closed the connection".into(),
                });
                Ok(0)
            }
            Ok(n) => {
                self.replying.store(true, Ordering::Relaxed);
                Ok(n)
            }
            Err(e) => Err(self.fail(e)),
        }
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.replying.store(false, Ordering::Relaxed);
        self.stream.write(buf).map_err(|e| self.fail(e))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush().map_err(|e| self.fail(e))
    }
}
