//! Running as a daemon: pidfile, detaching from the terminal (unix only).
//!
//! The command line drives these before any runtime exists: `status` and
//! `stop` look at the pidfile, `start --daemon` locks it, detaches, and
//! hands the daemon a [`ReadyPipe`] to report its startup through;
//! `--upgrade` takes over from the running process ([`upgrade`]).

mod detach;
mod handover;
mod pidfile;
pub(crate) mod upgrade;

pub(crate) use detach::{Detached, detach};
pub(crate) use pidfile::{DaemonStatus, KillOutcome, Pidfile, daemon_status, kill_daemon};
