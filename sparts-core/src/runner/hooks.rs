//! What the service asks of its lifecycle besides the tasks: hooks at init
//! and once started, and what a task failure does.

use crate::error::BoxError;
use crate::handle::ServiceHandle;

type InitHook = Box<dyn Fn(&ServiceHandle) -> Result<(), BoxError> + Send + Sync>;
type StartedHook = Box<dyn Fn(&ServiceHandle) + Send + Sync>;

/// Service-level hooks.
#[derive(Default)]
pub(crate) struct Hooks {
    /// Before the tasks' `init`, at every start.
    pub(crate) on_init: Option<InitHook>,
    /// Once every task started, at every start.
    pub(crate) on_started: Option<StartedHook>,
    /// Once every task started, at the first start only.
    pub(crate) on_first_started: Option<StartedHook>,
}

impl Hooks {
    /// Runs the started hooks for start number `count` (1 for the first).
    pub(crate) fn started(&self, handle: &ServiceHandle, count: u64) {
        if count == 1
            && let Some(hook) = &self.on_first_started
        {
            hook(handle);
        }
        if let Some(hook) = &self.on_started {
            hook(handle);
        }
    }
}

/// What the service does when a task's `run` returns an error or panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum TaskFailurePolicy {
    /// Shut the whole service down and exit non-zero (the original's rule:
    /// no zombies). The default.
    #[default]
    Shutdown,
    /// Keep running with status `WARNING` and the death in the status details.
    Warn,
}
