//! The HTTP admin API of a service elsewhere, at `http://HOST:PORT` or
//! `unix:/PATH`, over one kept-alive HTTP/1.1 connection that is opened
//! again when it breaks.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{SendRequest, handshake};
use hyper::header::HOST;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::Mutex;

use crate::dashboard::{AdminSnapshot, AdminSource};
use crate::error::{Error, Result};

/// The largest answer read: a service with many counters answers tens of
/// kilobytes; a peer that sends more is not one.
const MAX_BODY: usize = 16 << 20;

/// Where a service's HTTP admin endpoints are.
///
/// ```
/// use sparts_tui::Target;
///
/// let tcp: Target = "http://127.0.0.1:8080".parse()?;
/// assert_eq!(tcp.to_string(), "http://127.0.0.1:8080");
/// let unix: Target = "unix:/run/demo/admin.sock".parse()?;
/// assert_eq!(unix.to_string(), "unix:/run/demo/admin.sock");
/// assert!("127.0.0.1:8080".parse::<Target>().is_err());
/// # Ok::<(), sparts_tui::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// `http://HOST:PORT`.
    Tcp {
        /// A name or an address (IPv6 without its brackets).
        host: String,
        /// The port.
        port: u16,
    },
    /// `unix:/PATH`: a unix socket.
    Unix(PathBuf),
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = |reason: &str| Error::InvalidTarget {
            target: s.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(invalid("no socket path"));
            }
            return Ok(Target::Unix(path.into()));
        }
        let Some(rest) = s.strip_prefix("http://") else {
            return Err(invalid(if s.starts_with("https://") {
                "https is not supported"
            } else {
                "no http:// or unix: at the start"
            }));
        };
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.contains('/') {
            return Err(invalid(
                "a path after the address (sparts-top adds the admin paths)",
            ));
        }
        let (host, port) = authority
            .rsplit_once(':')
            .ok_or_else(|| invalid("no port"))?;
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        if host.is_empty() {
            return Err(invalid("no host"));
        }
        let port = match port.parse::<u16>() {
            Ok(0) | Err(_) => return Err(invalid("the port is not a number from 1 to 65535")),
            Ok(port) => port,
        };
        Ok(Target::Tcp {
            host: host.to_owned(),
            port,
        })
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Tcp { host, port } => write!(f, "http://{}", authority(host, *port)),
            Target::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// `host:port`, an IPv6 address in brackets.
fn authority(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

type Sender = SendRequest<Full<Bytes>>;

/// A client of a service's HTTP admin API: `/admin/status`, `counters`,
/// `options` (read and set) and `exported`. Each call waits at most the
/// timeout (default 5 s).
#[derive(Debug)]
pub struct HttpAdmin {
    target: Target,
    timeout: Duration,
    conn: Mutex<Option<Sender>>,
}

/// `/admin/status` as the HTTP transport writes it.
#[derive(Deserialize)]
struct StatusBody {
    name: String,
    #[serde(default)]
    version: String,
    status: String,
    #[serde(default)]
    details: Vec<String>,
    #[serde(default)]
    uptime: i64,
    #[serde(default)]
    tasks: Vec<String>,
}

#[derive(Deserialize)]
struct OptionBody {
    value: Option<String>,
}

#[derive(Deserialize)]
struct ErrorBody {
    error: String,
}

impl HttpAdmin {
    /// A client of the service at `target`; connects at the first call.
    pub fn new(target: Target) -> Self {
        Self {
            target,
            timeout: Duration::from_secs(5),
            conn: Mutex::new(None),
        }
    }

    /// How long each call may wait for its answer. Default: 5 s.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The target.
    pub fn target(&self) -> &Target {
        &self.target
    }

    async fn connect(&self) -> std::io::Result<Sender> {
        async fn over<S>(stream: S) -> std::io::Result<Sender>
        where
            S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
        {
            let (sender, connection) = handshake(TokioIo::new(stream))
                .await
                .map_err(std::io::Error::other)?;
            // Ends when the sender is dropped or the peer closes.
            tokio::spawn(connection);
            Ok(sender)
        }
        match &self.target {
            Target::Tcp { host, port } => {
                over(TcpStream::connect((host.as_str(), *port)).await?).await
            }
            Target::Unix(path) => over(UnixStream::connect(path).await?).await,
        }
    }

    fn host_header(&self) -> String {
        match &self.target {
            Target::Tcp { host, port } => authority(host, *port),
            Target::Unix(_) => "localhost".to_owned(),
        }
    }

    /// One request and its whole answer, within the timeout.
    async fn call(&self, method: Method, path: &str, body: &str) -> Result<(StatusCode, Bytes)> {
        let unreachable = |reason: String| Error::Unreachable {
            target: self.target.to_string(),
            reason,
        };
        match tokio::time::timeout(self.timeout, self.exchange(method, path, body)).await {
            Ok(answer) => answer.map_err(unreachable),
            Err(_) => Err(unreachable(format!("no answer within {:?}", self.timeout))),
        }
    }

    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: &str,
    ) -> Result<(StatusCode, Bytes), String> {
        let mut kept = self.conn.lock().await;
        // A kept connection the service closed while idle fails at once:
        // then one more try on a fresh one.
        for _ in 0..2 {
            let reused = kept.as_ref().is_some_and(|s| !s.is_closed());
            let mut sender = match kept.take() {
                Some(sender) if reused => sender,
                _ => self.connect().await.map_err(|e| e.to_string())?,
            };
            let request = Request::builder()
                .method(method.clone())
                .uri(path)
                .header(HOST, self.host_header())
                .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
                .map_err(|e| e.to_string())?;
            let sent = match sender.ready().await {
                Ok(()) => sender.send_request(request).await,
                Err(e) => Err(e),
            };
            let response = match sent {
                Ok(response) => response,
                Err(_) if reused => continue,
                Err(e) => return Err(e.to_string()),
            };
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_BODY)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes();
            *kept = Some(sender);
            return Ok((status, body));
        }
        Err("the connection closed twice".to_owned())
    }

    fn not_admin(&self, reason: String) -> Error {
        Error::NotAdmin {
            target: self.target.to_string(),
            reason,
        }
    }

    async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T> {
        let (status, body) = self.call(Method::GET, path, "").await?;
        if status != StatusCode::OK {
            return Err(self.not_admin(format!("GET {path} answered {status}")));
        }
        serde_json::from_slice(&body).map_err(|e| {
            self.not_admin(format!(
                "GET {path} answered something other than its JSON: {e}"
            ))
        })
    }
}

/// `name` as one path segment.
fn segment(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for byte in name.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

impl AdminSource for HttpAdmin {
    fn describe(&self) -> String {
        self.target.to_string()
    }

    async fn snapshot(&self) -> Result<AdminSnapshot> {
        let status: StatusBody = self.get("/admin/status").await?;
        let counters: BTreeMap<String, Option<f64>> = self.get("/admin/counters").await?;
        let options = self.get("/admin/options").await?;
        let exported = self.get("/admin/exported").await?;
        Ok(AdminSnapshot {
            name: status.name,
            version: status.version,
            status: status.status,
            details: status.details,
            uptime: status.uptime,
            tasks: status.tasks,
            counters: counters
                .into_iter()
                .map(|(name, value)| (name, value.unwrap_or(f64::NAN)))
                .collect(),
            options,
            exported,
            log: None,
        })
    }

    async fn set_option(&self, name: &str, value: &str) -> Result<Option<String>> {
        let path = format!("/admin/options/{}", segment(name));
        let (status, body) = self.call(Method::PUT, &path, value).await?;
        if status == StatusCode::OK {
            let answer: OptionBody = serde_json::from_slice(&body).map_err(|e| {
                self.not_admin(format!(
                    "PUT {path} answered something other than its JSON: {e}"
                ))
            })?;
            return Ok(answer.value);
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(refusal) => Err(Error::Refused {
                status: status.as_u16(),
                message: refusal.error,
            }),
            Err(_) => Err(self.not_admin(format!("PUT {path} answered {status}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_or_say_what_is_wrong() {
        let ok = [
            ("http://localhost:80", "http://localhost:80"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080"),
            ("http://[::1]:9", "http://[::1]:9"),
            ("unix:relative.sock", "unix:relative.sock"),
        ];
        for (text, shown) in ok {
            let target: Target = text.parse().expect(text);
            assert_eq!(target.to_string(), shown);
        }
        let bad = [
            ("localhost:80", "no http://"),
            ("https://localhost:443", "https is not supported"),
            ("http://localhost", "no port"),
            ("http://:80", "no host"),
            ("http://localhost:0", "from 1 to 65535"),
            ("http://localhost:99999", "from 1 to 65535"),
            ("http://localhost:80/admin", "a path after"),
            ("unix:", "no socket path"),
        ];
        for (text, reason) in bad {
            let error = text.parse::<Target>().expect_err(text).to_string();
            assert!(
                error.contains(reason) && error.contains(text),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn names_are_one_path_segment() {
        assert_eq!(segment("http_port"), "http_port");
        assert_eq!(segment("a/b c"), "a%2Fb%20c");
    }
}
