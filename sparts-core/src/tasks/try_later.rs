//! `TryLater`: the error a task's work returns to be retried.

use std::time::Duration;

use crate::error::BoxError;

/// Returned (as an error) from a built-in task's `execute` to retry it later
/// instead of failing: a periodic task runs again (after `after`, or at its
/// next tick), a queue task puts the item back (after `after`, or at once).
///
/// With a reason ([`because`](Self::because): a database refusing
/// connections), a periodic task (and a poller) registers a warning, the
/// service's status is `WARNING` with the reason in its details, until an
/// execution succeeds again.
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
#[error(
    "try later{}{}",
    .after.map(|d| format!(" (after {d:?})")).unwrap_or_default(),
    .reason.as_ref().map(|r| format!(": {r}")).unwrap_or_default()
)]
#[non_exhaustive]
pub struct TryLater {
    /// How long to wait before the retry; `None`: the task's own pace.
    pub after: Option<Duration>,
    /// What failed, when it is worth a warning until it works again.
    pub reason: Option<String>,
}

impl TryLater {
    /// Retry at the task's own pace.
    pub fn new() -> Self {
        Self::default()
    }

    /// Retry after this delay.
    pub fn after(delay: Duration) -> Self {
        Self {
            after: Some(delay),
            reason: None,
        }
    }

    /// Says what failed: a periodic task warns with it until it succeeds
    /// again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use sparts_core::TryLater;
    ///
    /// let later = TryLater::after(Duration::from_secs(1)).because("db:5432 refused the connection");
    /// assert_eq!(later.to_string(), "try later (after 1s): db:5432 refused the connection");
    /// ```
    #[must_use]
    pub fn because(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The `TryLater` inside an error, if it is one.
    pub fn find(error: &BoxError) -> Option<&TryLater> {
        error.downcast_ref::<TryLater>()
    }
}
