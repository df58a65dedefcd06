//! One client connection: read requests (framed or buffered), run each on
//! the worker threads, write the replies, in order, until the shutdown
//! closes it.

use std::future::{Future as _, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Buf as _, Bytes, BytesMut};
use sparts_core::Peer;
use sparts_core::server::{ConnectionGuard, Phase, TimeLimits, Timeout};
use sparts_core::tls::TlsAcceptor;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::time::{Instant, Sleep};

use crate::busy_poll::BusyPoll;
use crate::dispatch::{Dispatcher, Outcome};
use crate::pool::Pool;
use crate::wire::{Protocol, Scan, Transport, scan};

/// What every connection of a server shares.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) dispatcher: Arc<Dispatcher>,
    pub(crate) pool: Pool,
    pub(crate) transport: Transport,
    pub(crate) protocol: Protocol,
    pub(crate) max_bytes: usize,
    pub(crate) limits: TimeLimits,
    pub(crate) tls: Option<TlsAcceptor>,
    pub(crate) busy_poll: BusyPoll,
}

/// Why a connection was closed by the server.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Closed {
    #[error("request of {0} bytes is over the max-frame-bytes limit")]
    TooLarge(usize),
    #[error("connection ended inside a request ({0} bytes of it read)")]
    Truncated(usize),
    #[error("no request for {0:?} (idle-timeout)")]
    Idle(Duration),
    #[error("a request took longer than {0:?} to arrive once begun (header-timeout)")]
    Header(Duration),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Serves one connection, open in its server's connections while `guard`
/// lives, until the client closes it, it breaks the protocol or stays idle
/// too long, or the shutdown closes it: once draining, when it waits for
/// its next request (after answering the one in flight and any already
/// arrived); once cut, at once, whatever it waits on.
pub(crate) async fn serve<S>(stream: S, peer: Peer, shared: Arc<Shared>, guard: ConnectionGuard)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut requests = pin!(serve_requests(stream, peer, &shared, &guard));
    poll_fn(|cx| {
        // The waker is registered at every poll, so a change of phase wakes
        // the connection whatever it waits on: the client, a worker
        // thread, the client reading its reply.
        if guard.poll_phase(cx) == Phase::Cut {
            return Poll::Ready(());
        }
        requests.as_mut().poll(cx)
    })
    .await;
}

/// The requests of one connection, answered in order until it closes or,
/// once the shutdown drains, waits for another.
async fn serve_requests<S>(mut stream: S, peer: Peer, shared: &Shared, guard: &ConnectionGuard)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut reader = Reader::new(shared);
    let mut idle = shared.limits.idle.map(IdleLimit::new);
    let mut poller = shared.busy_poll.poller();
    // Whether the last call was answered on this task.
    let mut inline = false;
    let reserve = match shared.transport {
        Transport::Framed => 4,
        Transport::Buffered => 0,
    };
    loop {
        let next = {
            let mut read = pin!(reader.next(&mut stream));
            if let Some(idle) = &mut idle {
                idle.restart();
            }
            poller.begin(inline);
            let next = poll_fn(|cx| {
                if let Poll::Ready(read) = read.as_mut().poll(cx) {
                    return Poll::Ready(Some(read));
                }
                // Draining: a request already here is answered (closing
                // would reset the connection under it); with none, close.
                // One load: `serve` registered the waker for this poll.
                if guard.phase() != Phase::Serving {
                    return Poll::Ready(None);
                }
                if poller.poll_again(cx) {
                    return Poll::Pending;
                }
                match &mut idle {
                    Some(idle) => idle
                        .poll_expired(cx)
                        .map(|limit| Some(Err(Closed::Idle(limit)))),
                    None => Poll::Pending,
                }
            })
            .await;
            poller.end();
            next
        };
        let request = match next {
            // Draining: no request is in flight, close.
            None | Some(Ok(None)) => return,
            Some(Ok(Some(request))) => request,
            Some(Err(Closed::Io(e))) => {
                tracing::debug!("Thrift connection from {peer} failed: {e}");
                return;
            }
            Some(Err(e @ Closed::Idle(_))) => {
                guard.timed_out(Timeout::Idle);
                tracing::debug!("closing Thrift connection from {peer}: {e}");
                return;
            }
            Some(Err(e @ Closed::Header(_))) => {
                guard.timed_out(Timeout::Header);
                tracing::info!("closing Thrift connection from {peer}: {e}");
                return;
            }
            Some(Err(e)) => {
                guard.bad_input();
                tracing::info!("closing Thrift connection from {peer}: {e}");
                return;
            }
        };
        let dispatcher = &shared.dispatcher;
        // A request that is no message is answered here too: it only
        // closes the connection.
        let answered = match dispatcher.header(&request) {
            Ok(header) if !dispatcher.runs_inline(&header) => None,
            header => Some(dispatcher.call_read(&request, header, peer, reserve)),
        };
        inline = answered.is_some();
        let outcome = match answered {
            Some(outcome) => Some(outcome),
            None => {
                let dispatcher = Arc::clone(dispatcher);
                shared
                    .pool
                    .run(move || dispatcher.call(&request, peer, reserve))
                    .await
            }
        };
        let mut reply = match outcome {
            Some(Outcome::Reply(reply)) => reply,
            Some(Outcome::Malformed(reason)) => {
                guard.bad_input();
                tracing::info!("closing Thrift connection from {peer}: {reason}");
                return;
            }
            None => return,
        };
        if reply.len() == reserve {
            continue; // oneway
        }
        if reserve == 4 {
            let Ok(len) = u32::try_from(reply.len() - 4) else {
                tracing::error!("Thrift reply to {peer} is too large to frame");
                return;
            };
            reply[..4].copy_from_slice(&len.to_be_bytes());
        }
        if let Err(e) = stream.write_all(&reply).await {
            tracing::debug!("cannot reply to Thrift client {peer}: {e}");
            return;
        }
    }
}

/// How long a connection may wait for its next request. One timer per
/// connection, armed once and moved only when it fires early: a timer set
/// anew for every request would update the runtime's timer wheel twice a
/// call, as much work as the rest of a small call's way through the server.
struct IdleLimit {
    limit: Duration,
    /// When the wait for the current request began.
    since: Instant,
    /// Fires at or before `since + limit`.
    timer: Pin<Box<Sleep>>,
}

impl IdleLimit {
    fn new(limit: Duration) -> Self {
        let since = Instant::now();
        Self {
            limit,
            since,
            timer: Box::pin(tokio::time::sleep_until(since + limit)),
        }
    }

    /// A new wait begins: the limit counts from now.
    fn restart(&mut self) {
        self.since = Instant::now();
    }

    /// Ready with the limit once the current wait has lasted that long.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<Duration> {
        let this = self;
        loop {
            if this.timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let deadline = this.since + this.limit;
            if deadline <= this.timer.deadline() {
                return Poll::Ready(this.limit);
            }
            // Fired for an earlier wait: count this one from its start.
            this.timer.as_mut().reset(deadline);
        }
    }
}

/// Splits a connection's bytes into request messages.
pub(crate) struct Reader {
    buf: BytesMut,
    transport: Transport,
    protocol: Protocol,
    max_bytes: usize,
    /// Buffered transport: the scan cannot succeed before this many bytes.
    need: usize,
    /// How long a request may take to arrive once its first byte has.
    header_limit: Option<Duration>,
    /// When the first byte of the request in the buffer arrived.
    first_byte: Instant,
}

/// Read this much at a time; a frame's claimed length is not trusted for
/// allocation, only bytes that really arrive are.
const READ_CHUNK: usize = 64 * 1024;

/// What an idle connection's buffer holds room for.
const IDLE_CHUNK: usize = 4 * 1024;

impl Reader {
    fn new(shared: &Shared) -> Self {
        let mut reader = Self::with(shared.transport, shared.protocol, shared.max_bytes);
        reader.header_limit = shared.limits.header;
        reader
    }

    /// A reader of `transport` framing `protocol` messages of at most
    /// `max_bytes`.
    pub(crate) fn with(transport: Transport, protocol: Protocol, max_bytes: usize) -> Self {
        Self {
            buf: BytesMut::new(),
            transport,
            protocol,
            max_bytes,
            need: 0,
            header_limit: None,
            first_byte: Instant::now(),
        }
    }

    /// Adds bytes as a read from the connection would.
    #[cfg(feature = "fuzzing")]
    pub(crate) fn feed(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    async fn next<S: AsyncRead + Unpin>(
        &mut self,
        stream: &mut S,
    ) -> Result<Option<Bytes>, Closed> {
        loop {
            if let Some(request) = self.take()? {
                if !self.buf.is_empty() && self.header_limit.is_some() {
                    // The next request began in the same read.
                    self.first_byte = Instant::now();
                }
                return Ok(Some(request));
            }
            if self.buf.is_empty() && self.buf.capacity() > READ_CHUNK {
                // A big request is done with: idle connections stay small.
                self.buf = BytesMut::new();
            }
            // Small while idle (thousands of idle connections are the
            // normal case), doubling while a large request arrives.
            let room = self.buf.len().clamp(IDLE_CHUNK, READ_CHUNK);
            self.buf.reserve(room);
            let begun = !self.buf.is_empty();
            let read = match self.header_limit {
                // Part of a request is here: the rest must follow in time.
                // A whole small request comes in one read, so this timer is
                // only set for requests that arrive in pieces.
                Some(limit) if begun => {
                    tokio::time::timeout_at(self.first_byte + limit, stream.read_buf(&mut self.buf))
                        .await
                        .map_err(|_| Closed::Header(limit))??
                }
                _ => stream.read_buf(&mut self.buf).await?,
            };
            if !begun && read > 0 && self.header_limit.is_some() {
                self.first_byte = Instant::now();
            }
            if read == 0 {
                return if self.buf.is_empty() {
                    Ok(None)
                } else {
                    Err(Closed::Truncated(self.buf.len()))
                };
            }
        }
    }

    /// The next whole request in the buffer, if there is one.
    pub(crate) fn take(&mut self) -> Result<Option<Bytes>, Closed> {
        match self.transport {
            Transport::Framed => {
                let Some(header) = self.buf.get(..4) else {
                    return Ok(None);
                };
                let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]);
                let len = usize::try_from(len).unwrap_or(usize::MAX);
                if len > self.max_bytes {
                    return Err(Closed::TooLarge(len));
                }
                if self.buf.len() - 4 < len {
                    return Ok(None);
                }
                self.buf.advance(4);
                Ok(Some(self.buf.split_to(len).freeze()))
            }
            Transport::Buffered => {
                if self.buf.is_empty() || self.buf.len() < self.need {
                    return Ok(None);
                }
                match scan(self.protocol, &self.buf) {
                    Scan::Complete(len) => {
                        self.need = 0;
                        Ok(Some(self.buf.split_to(len).freeze()))
                    }
                    Scan::Incomplete { need } if need > self.max_bytes => {
                        Err(Closed::TooLarge(need))
                    }
                    Scan::Incomplete { need } => {
                        self.need = need;
                        Ok(None)
                    }
                    Scan::Invalid(reason) => Err(Closed::Invalid(reason)),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn expired_within(idle: &mut IdleLimit, wait: Duration) -> Option<Duration> {
        tokio::time::timeout(wait, poll_fn(|cx| idle.poll_expired(cx)))
            .await
            .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn the_idle_limit_counts_from_the_start_of_each_wait() {
        let limit = Duration::from_secs(10);
        let mut idle = IdleLimit::new(limit);
        // Requests every 6 s, each past the timer's first deadline: the
        // connection is never idle for 10 s, so it never expires.
        for _ in 0..5 {
            idle.restart();
            assert_eq!(
                expired_within(&mut idle, Duration::from_secs(6)).await,
                None
            );
        }
        idle.restart();
        let waited = Instant::now();
        assert_eq!(expired_within(&mut idle, limit * 2).await, Some(limit));
        let took = waited.elapsed();
        assert!(
            took >= limit && took <= limit + Duration::from_millis(1),
            "{took:?}"
        );
    }
}
