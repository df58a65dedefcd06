//! The signals a service acts on: SIGINT and SIGTERM stop it, SIGHUP
//! restarts it.

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
}

impl Signals {
    /// Starts listening; must run inside the tokio runtime.
    pub(crate) fn new() -> std::io::Result<Self> {
        Ok(Self {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
            hangup: signal(SignalKind::hangup())?,
        })
    }

    /// The next signal.
    pub(crate) async fn recv(&mut self) -> Request {
        tokio::select! {
            _ = self.interrupt.recv() => Request::Stop(libc_sig::SIGINT, "SIGINT"),
            _ = self.terminate.recv() => Request::Stop(libc_sig::SIGTERM, "SIGTERM"),
            _ = self.hangup.recv() => Request::Restart,
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
