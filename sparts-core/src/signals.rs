//! The signals a service acts on: SIGINT and SIGTERM stop it, SIGHUP
//! restarts it. SIGUSR1 and SIGUSR2, whose default action would end the
//! process, are logged and otherwise ignored (SIGPIPE already is, by
//! Rust's runtime: a write to a closed socket or pipe is an error there).

use tokio::signal::unix::{Signal, SignalKind, signal};

/// What a received signal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Request {
    /// SIGINT or SIGTERM, with its number.
    Stop(i32, &'static str),
    /// SIGHUP.
    Restart,
}

/// The service's signal listeners.
#[derive(Debug)]
pub(crate) struct Signals {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    user1: Signal,
    user2: Signal,
}

impl Signals {
    /// Starts listening; must run inside the tokio runtime.
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
            user1: signal(SignalKind::user_defined1())?,
            user2: signal(SignalKind::user_defined2())?,
        })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Request {
        loop {
            let ignored = tokio::select! {
                _ = self.interrupt.recv() => return Request::Stop(libc_sig::SIGINT, "SIGINT"),
                _ = self.terminate.recv() => return Request::Stop(libc_sig::SIGTERM, "SIGTERM"),
                _ = self.hangup.recv() => return Request::Restart,
                _ = self.user1.recv() => "SIGUSR1",
                _ = self.user2.recv() => "SIGUSR2",
            };
            tracing::info!("{ignored} received: it asks nothing of a sparts service, ignored");
        }
    }
}

/// Receives from `signals` if there are any, else never completes.
pub(crate) async fn recv(signals: &mut Option<Signals>) -> Request {
    match signals {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

mod libc_sig {
    pub(super) const SIGINT: i32 = nix::sys::signal::Signal::SIGINT as i32;
    pub(super) const SIGTERM: i32 = nix::sys::signal::Signal::SIGTERM as i32;
}
