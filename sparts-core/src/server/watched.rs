//! A connection's IO under its server's time limits: a request's head (or
//! an HTTP/2 preface) must arrive within the header timeout of its first
//! byte, and a connection with nothing in flight and no byte moving is
//! closed after the idle timeout. Both cuts fail the pending read, which
//! every server keeps on an open connection, so the server closes it as
//! it closes any broken connection; each is counted by kind.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use super::connections::Connections;
use super::limits::{TimeLimits, Timeout};

/// The requests of one connection, as its server sees them: a request
/// begins once its head is read and ends once it is answered. Shared by a
/// connection's [`Watched`] IO and whatever runs its requests.
#[derive(Debug, Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    started: AtomicU64,
}

impl Activity {
    /// A request's head was read: the header timeout stops, and the
    /// connection is not idle until the request [`end`](Self::end)s.
    pub fn begin(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
    }

    /// A request [`begin`](Self::begin) announced was answered (or
    /// dropped).
    pub fn end(&self) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
    }

    fn started(&self) -> u64 {
        self.started.load(Ordering::Relaxed)
    }

    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }
}

/// The client preface every HTTP/2 connection opens with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// What the connection speaks, as far as its first bytes tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Speaks {
    /// Nothing read yet.
    Unknown,
    /// HTTP/1 (or Thrift): each request's bytes before its head is read
    /// count against the header timeout.
    Requests,
    /// HTTP/2, this many bytes of its preface read: only the preface
    /// counts against the header timeout, since an HTTP/2 client sends
    /// frames (pings, settings) between requests.
    H2Preface(usize),
    /// HTTP/2 after its preface.
    H2,
}

/// `io` under `limits`: its pending read fails with `TimedOut` once the
/// head of a request (or an HTTP/2 preface) has taken longer than the
/// header limit since its first byte, or once the connection has had
/// nothing in flight and no byte read or written for the idle limit (to
/// within one more: between one and two limits after its last byte);
/// each such close is counted in its server's [`Connections`]
/// (`header_timeouts`, `idle_timeouts`).
///
/// One timer per connection, moved only when it fires early or a header
/// wait needs it sooner: moving it at every read would cost two updates
/// of the runtime's timer wheel per request.
#[derive(Debug)]
pub struct Watched<IO> {
    io: IO,
    limits: TimeLimits,
    activity: Arc<Activity>,
    connections: Connections,
    speaks: Speaks,
    /// Reads and writes that moved bytes, counted rather than timed: a
    /// clock read per read and write would cost as much as the rest of
    /// this wrapper. The timer compares the count at each of its looks.
    moved: u64,
    /// The count at the timer's last look, and since when it has not
    /// changed (to within one look: an idle connection is closed between
    /// one and two idle limits after its last byte).
    seen: (u64, Instant),
    /// When the head now awaited began to arrive, and how many requests
    /// had begun then: once another begins, the wait is over.
    head_since: Option<(Instant, u64)>,
    timer: Option<Pin<Box<Sleep>>>,
    /// Whether the timer holds this task's waker: polled once after each
    /// (re)arming, it then only needs a look at whether it fired, which
    /// is one atomic load rather than a poll of the runtime's timer.
    armed: bool,
    timed_out: bool,
}

impl<IO> Watched<IO> {
    /// Watches `io`, a connection of `connections`, under `limits`, its
    /// requests announced in `activity` (or never, for a server that
    /// cannot tell: then only bytes keep it from being idle).
    pub fn new(
        io: IO,
        limits: TimeLimits,
        activity: Arc<Activity>,
        connections: &Connections,
    ) -> Self {
        Self {
            io,
            limits,
            activity,
            connections: connections.clone(),
            speaks: Speaks::Unknown,
            moved: 0,
            seen: (0, Instant::now()),
            head_since: None,
            timer: None,
            armed: false,
            timed_out: false,
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// Notes `bytes` read now.
    fn note_read(&mut self, bytes: &[u8]) {
        self.moved = self.moved.wrapping_add(1);
        if self.limits.header.is_none() {
            return;
        }
        if self.speaks == Speaks::Unknown {
            let n = bytes.len().min(H2_PREFACE.len());
            self.speaks = if bytes[..n] == H2_PREFACE[..n] {
                Speaks::H2Preface(0)
            } else {
                Speaks::Requests
            };
        }
        let started = self.activity.started();
        match self.speaks {
            Speaks::H2Preface(read) => {
                let read = read + bytes.len();
                if read >= H2_PREFACE.len() {
                    self.speaks = Speaks::H2;
                    self.head_since = None;
                    return;
                }
                self.speaks = Speaks::H2Preface(read);
                if self.head_since.is_none() {
                    self.awaiting_head(started);
                }
            }
            Speaks::Requests if self.activity.idle() => {
                let waiting = self.head_since.is_some_and(|(_, then)| then == started);
                if !waiting {
                    self.awaiting_head(started);
                }
            }
            _ => {}
        }
    }

    /// A head began to arrive now: the timer must fire by its limit. The
    /// one clock read of a request.
    fn awaiting_head(&mut self, started: u64) {
        let now = Instant::now();
        self.head_since = Some((now, started));
        let Some(limit) = self.limits.header else {
            return;
        };
        if let Some(timer) = &mut self.timer
            && timer.deadline() > now + limit
        {
            timer.as_mut().reset(now + limit);
            self.armed = false;
        }
    }

    /// The limit passed, if one did; else the timer is set to fire by the
    /// next deadline, and this task woken then.
    fn poll_limits(&mut self, cx: &mut Context<'_>) -> Option<Timeout> {
        loop {
            let timer = match &mut self.timer {
                Some(timer) => timer,
                None => {
                    let deadline = self.next_deadline()?;
                    self.timer
                        .insert(Box::pin(tokio::time::sleep_until(deadline)))
                }
            };
            // The connection stays on its task, so the waker the timer
            // holds wakes the right one until it fires or is reset.
            if self.armed && !timer.is_elapsed() {
                return None;
            }
            if timer.as_mut().poll(cx).is_pending() {
                self.armed = true;
                return None;
            }
            self.armed = false;
            let now = Instant::now();
            if self.head_awaited().is_none() {
                // A request began since: that wait is over.
                self.head_since = None;
            }
            if let (Some(since), Some(limit)) = (self.head_awaited(), self.limits.header)
                && now >= since + limit
            {
                return Some(Timeout::Header);
            }
            if self.moved != self.seen.0 {
                self.seen = (self.moved, now);
            }
            if self.activity.idle()
                && self
                    .limits
                    .idle
                    .is_some_and(|limit| now >= self.seen.1 + limit)
            {
                return Some(Timeout::Idle);
            }
            // Fired for a wait that is over: set it by the current one.
            let deadline = self.next_deadline()?;
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(deadline),
                None => return None,
            }
            self.armed = false;
        }
    }

    /// When the head awaited now began to arrive, if one is: no request
    /// has begun since its first byte (on HTTP/2: the preface is not whole).
    fn head_awaited(&self) -> Option<Instant> {
        let (since, started) = self.head_since?;
        let awaited = match self.speaks {
            Speaks::H2Preface(_) => true,
            _ => started == self.activity.started() && self.activity.idle(),
        };
        awaited.then_some(since)
    }

    /// When a limit could next pass, as things stand; `None` without
    /// limits.
    fn next_deadline(&self) -> Option<Instant> {
        let header = self
            .limits
            .header
            .zip(self.head_awaited())
            .map(|(limit, since)| since + limit);
        // With a request in flight the connection is not idle: look again
        // one idle limit from now.
        let idle = self.limits.idle.map(|limit| {
            if self.activity.idle() {
                self.seen.1 + limit
            } else {
                Instant::now() + limit
            }
        });
        match (header, idle) {
            (Some(h), Some(i)) => Some(h.min(i)),
            (h, i) => h.or(i),
        }
    }
}

fn timed_out_error(timeout: Timeout) -> io::Error {
    let what = match timeout {
        Timeout::Header => "a request's head took longer than the header timeout",
        Timeout::Idle => "idle for longer than the idle timeout",
    };
    io::Error::new(io::ErrorKind::TimedOut, what)
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.io).poll_read(cx, buf);
        match polled {
            Poll::Ready(Ok(())) if buf.filled().len() > before => {
                this.note_read(&buf.filled()[before..]);
            }
            // The limits are looked at only when the read waits: a read
            // that waits is what every connection ends a burst with, and
            // where the timer's wake-up comes back to.
            Poll::Pending if !this.timed_out => {
                if let Some(timeout) = this.poll_limits(cx) {
                    this.timed_out = true;
                    this.connections.timed_out(timeout);
                    tracing::debug!("closing a connection: {}", timed_out_error(timeout));
                    return Poll::Ready(Err(timed_out_error(timeout)));
                }
            }
            _ => {}
        }
        polled
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.moved = self.moved.wrapping_add(1);
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled
            && n > 0
        {
            self.moved = self.moved.wrapping_add(1);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _, DuplexStream};

    use super::*;
    use crate::counters::CounterRegistry;
    use crate::telemetry::Telemetry;

    const HEADER: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(300);

    fn watched() -> (
        Watched<DuplexStream>,
        DuplexStream,
        Arc<Activity>,
        CounterRegistry,
    ) {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let (ours, theirs) = tokio::io::duplex(1024);
        let activity = Arc::new(Activity::default());
        let conn = Watched::new(
            ours,
            TimeLimits::new(Some(HEADER), Some(IDLE)),
            Arc::clone(&activity),
            &connections,
        );
        (conn, theirs, activity, counters)
    }

    /// Reads until the read fails, or `within` passes (then `None`).
    async fn failure_within(
        conn: &mut Watched<DuplexStream>,
        within: Duration,
    ) -> Option<io::Error> {
        let mut buf = [0u8; 256];
        tokio::time::timeout(within, async {
            loop {
                if let Err(e) = conn.read(&mut buf).await {
                    return e;
                }
            }
        })
        .await
        .ok()
    }

    #[tokio::test(start_paused = true)]
    async fn half_a_request_is_cut_at_the_header_timeout() {
        let (mut conn, mut client, _activity, counters) = watched();
        client.write_all(b"GET / HT").await.expect("write");
        let started = Instant::now();
        let e = failure_within(&mut conn, HEADER * 2).await.expect("cut");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), HEADER);
        assert_eq!(counters.snapshot().get("header_timeouts"), Some(1.0));
        assert_eq!(counters.snapshot().get("idle_timeouts"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_is_read_stops_the_header_timeout() {
        let (mut conn, mut client, activity, counters) = watched();
        client
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .expect("write");
        let mut buf = [0u8; 64];
        let _ = conn.read(&mut buf).await.expect("read");
        activity.begin();
        // A slow handler: in flight, nothing moves, never cut.
        assert!(failure_within(&mut conn, IDLE * 2).await.is_none());
        activity.end();
        // Answered; now idle from the last byte.
        let started = Instant::now();
        let e = failure_within(&mut conn, IDLE * 2).await.expect("cut");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        // Within one more limit: bytes are counted, not timed.
        assert!(started.elapsed() <= IDLE * 2, "{:?}", started.elapsed());
        let snapshot = counters.snapshot();
        assert_eq!(snapshot.get("idle_timeouts"), Some(1.0));
        assert_eq!(snapshot.get("header_timeouts"), None);
    }

    #[tokio::test(start_paused = true)]
    async fn each_request_gets_its_own_header_timeout() {
        let (mut conn, mut client, activity, counters) = watched();
        let mut buf = [0u8; 64];
        // Requests 20 s apart, each head whole at once: never cut, though
        // the first byte of the first was read long ago.
        for _ in 0..5 {
            client
                .write_all(b"GET / HTTP/1.1\r\n\r\n")
                .await
                .expect("write");
            let _ = conn.read(&mut buf).await.expect("read");
            activity.begin();
            activity.end();
            assert!(
                failure_within(&mut conn, Duration::from_secs(20))
                    .await
                    .is_none()
            );
        }
        // The next one stops half way.
        client.write_all(b"GET /").await.expect("write");
        let _ = conn.read(&mut buf).await.expect("read");
        let started = Instant::now();
        let e = failure_within(&mut conn, HEADER * 2).await.expect("cut");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), HEADER);
        assert_eq!(counters.snapshot().get("header_timeouts"), Some(1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn an_http2_connection_is_held_to_its_preface_only() {
        let (mut conn, mut client, _activity, counters) = watched();
        let mut buf = [0u8; 64];
        client.write_all(&H2_PREFACE[..10]).await.expect("write");
        let _ = conn.read(&mut buf).await.expect("read");
        client.write_all(&H2_PREFACE[10..]).await.expect("write");
        let _ = conn.read(&mut buf).await.expect("read");
        // Frames between requests (pings) every 20 s: no head awaited.
        for _ in 0..3 {
            assert!(
                failure_within(&mut conn, Duration::from_secs(20))
                    .await
                    .is_none()
            );
            client
                .write_all(b"\0\0\x08\x06\0\0\0\0\0")
                .await
                .expect("write");
        }
        assert_eq!(counters.snapshot().get("header_timeouts"), None);

        let (mut slow, mut client, _activity, counters) = watched();
        client.write_all(&H2_PREFACE[..10]).await.expect("write");
        let e = failure_within(&mut slow, HEADER * 2).await.expect("cut");
        assert_eq!(e.kind(), io::ErrorKind::TimedOut);
        assert_eq!(counters.snapshot().get("header_timeouts"), Some(1.0));
    }

    #[tokio::test(start_paused = true)]
    async fn without_limits_nothing_is_cut() {
        let counters = CounterRegistry::new();
        let connections = Connections::new(&counters, &Telemetry::new("Svc", None, None), "T");
        let (ours, mut client) = tokio::io::duplex(64);
        let mut conn = Watched::new(
            ours,
            TimeLimits::default(),
            Arc::new(Activity::default()),
            &connections,
        );
        client.write_all(b"GET").await.expect("write");
        assert!(failure_within(&mut conn, IDLE * 10).await.is_none());
    }
}
