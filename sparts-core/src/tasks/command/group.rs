//! The process group a command leads: signalled as a whole, so that what the
//! command started goes with it.

use nix::errno::Errno;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

/// A command's process group (its id is the command's pid). Dropping it
/// kills the whole group: even a task aborted in the middle of a shutdown
/// leaves no process behind.
#[derive(Debug)]
pub(super) struct Group {
    pgid: Option<Pid>,
}

impl Group {
    /// The group led by the process `pid` (spawned with `process_group(0)`).
    pub(super) fn led_by(pid: Option<u32>) -> Self {
        let pgid = pid
            .and_then(|pid| i32::try_from(pid).ok())
            .map(Pid::from_raw);
        Self { pgid }
    }

    /// Sends `signal` to every process of the group.
    pub(super) fn signal(&self, signal: Signal) {
        if let Some(pgid) = self.pgid {
            match killpg(pgid, signal) {
                // Nobody left: nothing to do.
                Ok(()) | Err(Errno::ESRCH) => {}
                Err(e) => tracing::warn!("cannot send {signal} to process group {pgid}: {e}"),
            }
        }
    }

    /// Kills what is left of the group once its leader has been reaped, and
    /// forgets it: from then on its id may be reused.
    pub(super) fn kill_rest(mut self) {
        self.signal(Signal::SIGKILL);
        self.pgid = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        self.signal(Signal::SIGKILL);
    }
}
