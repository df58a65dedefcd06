//! The service's health, with fb303's names and numbers.

use std::collections::BTreeMap;
use std::fmt;

/// A service's status, as fb303 defines it (`fb_status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The service failed to start, or ended because of a failure.
    Dead = 0,
    /// Tasks are being initialized (at start and during a restart).
    Starting = 1,
    /// Every task runs and nothing is wrong.
    Alive = 2,
    /// Shutdown was requested; tasks are being stopped.
    Stopping = 3,
    /// The service stopped cleanly.
    Stopped = 4,
    /// Running, but a task died or a warning is registered.
    Warning = 5,
}

impl Status {
    /// The fb303 name: `ALIVE`, `WARNING`, ...
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Dead => "DEAD",
            Status::Starting => "STARTING",
            Status::Alive => "ALIVE",
            Status::Stopping => "STOPPING",
            Status::Stopped => "STOPPED",
            Status::Warning => "WARNING",
        }
    }

    /// The fb303 `fb_status` number.
    pub fn fb303_value(self) -> i32 {
        self as i32
    }

    /// Whether the service serves traffic: `ALIVE` or `WARNING`.
    pub fn is_serving(self) -> bool {
        matches!(self, Status::Alive | Status::Warning)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the service is in its lifecycle; the status adds warnings on top.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Starting,
    Running,
    Stopping,
    Stopped,
    Dead,
}

/// An id returned by [`ServiceHandle::register_warning`](crate::ServiceHandle::register_warning).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WarningId(pub(crate) u64);

/// The mutable part of the status.
#[derive(Debug)]
pub(crate) struct StatusState {
    pub(crate) phase: Phase,
    warnings: BTreeMap<WarningId, String>,
    next_warning: u64,
    /// Tasks that died while the service ran, with why.
    deaths: Vec<String>,
}

impl StatusState {
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::Starting,
            warnings: BTreeMap::new(),
            next_warning: 1,
            deaths: Vec::new(),
        }
    }

    pub(crate) fn status(&self) -> Status {
        match self.phase {
            Phase::Starting => Status::Starting,
            Phase::Stopping => Status::Stopping,
            Phase::Stopped => Status::Stopped,
            Phase::Dead => Status::Dead,
            Phase::Running if self.deaths.is_empty() && self.warnings.is_empty() => Status::Alive,
            Phase::Running => Status::Warning,
        }
    }

    /// The reasons behind the status, one per line.
    pub(crate) fn details(&self) -> String {
        self.deaths
            .iter()
            .chain(self.warnings.values())
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    }

    pub(crate) fn register_warning(&mut self, message: String) -> WarningId {
        let id = WarningId(self.next_warning);
        self.next_warning += 1;
        self.warnings.insert(id, message);
        id
    }

    pub(crate) fn clear_warning(&mut self, id: WarningId) -> bool {
        self.warnings.remove(&id).is_some()
    }

    pub(crate) fn clear_warnings(&mut self) {
        self.warnings.clear();
    }

    pub(crate) fn record_death(&mut self, reason: String) {
        self.deaths.push(reason);
    }

    /// A restart rebuilds the tasks, so earlier deaths no longer apply.
    pub(crate) fn clear_deaths(&mut self) {
        self.deaths.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_and_deaths_turn_alive_into_warning() {
        let mut s = StatusState::new();
        assert_eq!(s.status(), Status::Starting);
        s.phase = Phase::Running;
        assert_eq!(s.status(), Status::Alive);
        let a = s.register_warning("disk almost full".into());
        let b = s.register_warning("slow upstream".into());
        assert_eq!(s.status(), Status::Warning);
        assert_eq!(s.details(), "disk almost full\nslow upstream");
        assert!(s.clear_warning(a));
        assert!(!s.clear_warning(a), "clearing twice reports false");
        assert_eq!(s.details(), "slow upstream");
        s.clear_warnings();
        assert_eq!(s.status(), Status::Alive);
        assert!(!s.clear_warning(b));
        s.record_death("task Worker died: boom".into());
        assert_eq!(s.status(), Status::Warning);
        s.phase = Phase::Stopping;
        assert_eq!(s.status(), Status::Stopping, "stopping wins over warnings");
        assert_eq!(s.details(), "task Worker died: boom");
    }

    #[test]
    fn fb303_numbers() {
        assert_eq!(Status::Dead.fb303_value(), 0);
        assert_eq!(Status::Warning.fb303_value(), 5);
        assert_eq!(Status::Alive.to_string(), "ALIVE");
    }
}
