//! `TryLater`: the error a task's work returns to be retried.

use std::time::Duration;

use crate::error::BoxError;

/// Returned (as an error) from a built-in task's `execute` to retry it later
/// instead of failing: a periodic task runs again (after `after`, or at its
/// next tick), a queue task puts the item back (after `after`, or at once).
///
/// ```
/// use std::time::Duration;
/// use sparts_core::{BoxError, TryLater};
///
/// fn fetch(ready: bool) -> Result<u32, BoxError> {
///     if !ready {
///         return Err(TryLater::after(Duration::from_millis(250)).into());
///     }
///     Ok(42)
/// }
/// assert!(TryLater::find(&fetch(false).unwrap_err()).is_some());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, thiserror::Error)]
#[error("try later{}", .after.map(|d| format!(" (after {d:?})")).unwrap_or_default())]
pub struct TryLater {
    /// How long to wait before the retry; `None`: the task's own pace.
    pub after: Option<Duration>,
}

impl TryLater {
    /// Retry at the task's own pace.
    pub fn new() -> Self {
        Self { after: None }
    }

    /// Retry after this delay.
    pub fn after(delay: Duration) -> Self {
        Self { after: Some(delay) }
    }

    /// The `TryLater` inside an error, if it is one.
    pub fn find(error: &BoxError) -> Option<&TryLater> {
        error.downcast_ref::<TryLater>()
    }
}
