//! The HTTP half of [`ThriftClient`](crate::ThriftClient): one POST per
//! call to a Thrift-over-HTTP route ([`post`](crate::http::post)), over
//! ureq, blocking as the generated code is.

use std::io::{self, Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sparts_core::BoxError;

use crate::client::{Failure, Settings, limit, lock};
use crate::error::{Error, Result};

/// Largest reply read over HTTP: the server's default request limit.
const MAX_HTTP_REPLY_BYTES: u64 = 16 * 1024 * 1024;

/// How much of an HTTP error body an [`Error::HttpStatus`] keeps.
const MAX_ERROR_BODY_CHARS: usize = 512;

/// One HTTP exchange per call: the request's bytes go out when the
/// generated client flushes them, the reply waits for it to read.
struct Exchange {
    agent: ureq::Agent,
    url: String,
    after: Duration,
    reply: Mutex<io::Cursor<Vec<u8>>>,
    failure: Failure,
}

impl Exchange {
    fn new(url: &str, settings: &Settings, failure: Failure) -> Self {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(limit(settings.connect_timeout))
            .timeout_per_read(limit(settings.call_timeout))
            .timeout_per_write(limit(settings.call_timeout))
            .build();
        Self {
            agent: ureq::Agent::new_with_config(config),
            url: url.to_owned(),
            after: settings.call_timeout,
            reply: Mutex::new(io::Cursor::new(Vec::new())),
            failure,
        }
    }

    fn post(&self, body: &[u8]) -> Result<Vec<u8>> {
        let mut response = self
            .agent
            .post(&self.url)
            .content_type(crate::http::CONTENT_TYPE)
            .send(body)
            .map_err(|e| self.failed(e))?;
        let status = response.status();
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_HTTP_REPLY_BYTES);
        if status != ureq::http::StatusCode::OK {
            let text = body.read_to_string().unwrap_or_default();
            return Err(Error::HttpStatus {
                url: self.url.clone(),
                status: status.as_u16(),
                body: text.trim().chars().take(MAX_ERROR_BODY_CHARS).collect(),
            });
        }
        body.read_to_vec().map_err(|e| self.failed(e))
    }

    fn failed(&self, e: ureq::Error) -> Error {
        let target = self.url.clone();
        match e {
            ureq::Error::Timeout(ureq::Timeout::Resolve | ureq::Timeout::Connect) => {
                Error::Connect {
                    target,
                    source: io::Error::new(io::ErrorKind::TimedOut, e.to_string()),
                }
            }
            ureq::Error::Timeout(_) => Error::Timeout {
                target,
                after: self.after,
            },
            ureq::Error::Io(io) if is_connect_failure(&io) => Error::Connect { target, source: io },
            ureq::Error::ConnectionFailed | ureq::Error::HostNotFound => Error::Connect {
                target,
                source: e.into_io(),
            },
            e => Error::Connection {
                target,
                source: Box::new(e) as BoxError,
            },
        }
    }
}

/// Whether an I/O error says no connection was made (rather than one broke).
fn is_connect_failure(e: &io::Error) -> bool {
    use io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable
    )
}

/// The two halves of an HTTP client connection: the reply to read, the
/// request to write (posted when the generated client flushes it).
pub(crate) fn halves(url: &str, settings: &Settings, failure: Failure) -> (HttpReply, HttpRequest) {
    let exchange = Arc::new(Exchange::new(url, settings, failure));
    let request = HttpRequest {
        exchange: Arc::clone(&exchange),
        body: Vec::new(),
    };
    (HttpReply(exchange), request)
}

/// The request half: collects a message, posts it on flush.
pub(crate) struct HttpRequest {
    exchange: Arc<Exchange>,
    body: Vec<u8>,
}

impl Write for HttpRequest {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.body.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.body.is_empty() {
            return Ok(());
        }
        let body = std::mem::take(&mut self.body);
        match self.exchange.post(&body) {
            Ok(reply) => {
                *lock(&self.exchange.reply) = io::Cursor::new(reply);
                Ok(())
            }
            Err(e) => {
                let message = e.to_string();
                let kind = match e {
                    Error::Timeout { .. } => io::ErrorKind::TimedOut,
                    _ => io::ErrorKind::Other,
                };
                *lock(&self.exchange.failure) = Some(e);
                Err(io::Error::new(kind, message))
            }
        }
    }
}

/// The reply half: reads the last reply.
pub(crate) struct HttpReply(Arc<Exchange>);

impl Read for HttpReply {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        lock(&self.0.reply).read(buf)
    }
}
