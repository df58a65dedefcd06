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

/// The id of a readiness hold ([`NotReady`](crate::NotReady)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct HoldId(u64);

/// Whether the service should get traffic now, and what holds it back.
///
/// Ready means serving (`ALIVE` or `WARNING`) with no
/// [`NotReady`](crate::NotReady) hold. A hold keeps the service out of
/// rotation without calling it unhealthy: its status stays what it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Readiness {
    /// The status at the same moment.
    pub status: Status,
    /// The reason of every active hold, oldest first.
    pub holds: Vec<String>,
}

impl Readiness {
    /// Whether the service should get traffic: serving and not held.
    #[must_use]
    pub fn is_ready(&self) -> bool {
        self.status.is_serving() && self.holds.is_empty()
    }
}

/// The mutable part of the status.
#[derive(Debug)]
pub(crate) struct StatusState {
    pub(crate) phase: Phase,
    warnings: BTreeMap<WarningId, String>,
    /// Readiness holds: the service is not ready while one is here.
    holds: BTreeMap<HoldId, String>,
    /// The next warning's or hold's id.
    next_id: u64,
    /// Tasks that died while the service ran, with why.
    deaths: Vec<String>,
}

impl StatusState {
    pub(crate) fn new() -> Self {
        Self {
            phase: Phase::Starting,
            warnings: BTreeMap::new(),
            holds: BTreeMap::new(),
            next_id: 1,
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

    /// The status and the readiness holds, read together.
    pub(crate) fn readiness(&self) -> Readiness {
        Readiness {
            status: self.status(),
            holds: self.holds.values().cloned().collect(),
        }
    }

    /// [`Readiness::is_ready`] without copying the reasons.
    pub(crate) fn is_ready(&self) -> bool {
        self.status().is_serving() && self.holds.is_empty()
    }

    /// The reasons behind the status, one per line: dead tasks, warnings,
    /// then readiness holds as `not ready: <reason>`.
    pub(crate) fn details(&self) -> String {
        self.deaths
            .iter()
            .chain(self.warnings.values())
            .cloned()
            .chain(
                self.holds
                    .values()
                    .map(|reason| format!("not ready: {reason}")),
            )
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub(crate) fn register_warning(&mut self, message: String) -> WarningId {
        let id = WarningId(self.next_id());
        self.warnings.insert(id, message);
        id
    }

    pub(crate) fn hold(&mut self, reason: String) -> HoldId {
        let id = HoldId(self.next_id());
        self.holds.insert(id, reason);
        id
    }

    /// Gives an active hold a new reason and returns the old one; `None`
    /// (and nothing changes) if the hold was released.
    pub(crate) fn update_hold(&mut self, id: HoldId, reason: String) -> Option<String> {
        self.holds
            .get_mut(&id)
            .map(|r| std::mem::replace(r, reason))
    }

    /// Releases a hold, returning its reason.
    pub(crate) fn release(&mut self, id: HoldId) -> Option<String> {
        self.holds.remove(&id)
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
    fn holds_make_the_service_unready_without_a_warning() {
        let mut s = StatusState::new();
        let early = s.hold("cache warming".into());
        assert!(!s.readiness().is_ready(), "starting, and held");
        s.phase = Phase::Running;
        assert_eq!(s.status(), Status::Alive, "a hold is no warning");
        let db = s.hold("database down".into());
        assert_eq!(
            s.readiness(),
            Readiness {
                status: Status::Alive,
                holds: vec!["cache warming".into(), "database down".into()],
            }
        );
        let old = s.update_hold(db, "database reconnecting".into());
        assert_eq!(old.as_deref(), Some("database down"));
        s.register_warning("slow upstream".into());
        assert_eq!(
            s.details(),
            "slow upstream\nnot ready: cache warming\nnot ready: database reconnecting"
        );
        assert_eq!(s.release(early).as_deref(), Some("cache warming"));
        assert_eq!(s.release(early), None, "released once");
        assert!(!s.readiness().is_ready());
        assert_eq!(s.release(db).as_deref(), Some("database reconnecting"));
        assert_eq!(s.update_hold(db, "gone".into()), None, "released for good");
        assert!(s.is_ready());
        assert!(s.readiness().is_ready(), "WARNING and no hold is ready");
        s.phase = Phase::Stopping;
        assert!(
            !s.readiness().is_ready(),
            "never ready once shutdown begins"
        );
        assert!(!s.is_ready());
    }

    #[test]
    fn fb303_numbers() {
        assert_eq!(Status::Dead.fb303_value(), 0);
        assert_eq!(Status::Warning.fb303_value(), 5);
        assert_eq!(Status::Alive.to_string(), "ALIVE");
    }
}
